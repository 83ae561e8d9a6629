"""zcjax.search on a registered space other than NAS-Bench-201 (NAS-Bench-Macro, tabular)."""

from __future__ import annotations

import numpy as np
import pytest

import zcjax.spaces as spaces
from zcjax import space_scoring as ss
from zcjax.results import RowWriter, read_rows, read_settings
from zcjax.search.cli import main
from zcjax.search.experiment import Experiment, default_target
from zcjax.search.space import search_table


def test_the_macro_table_maps_codes_to_the_space():
    table = search_table("macro")
    space = spaces.get("macro")
    assert table.coded.size == space.size == 6561 and table.coded.num_neighbours == 16
    # The code of a cell is its digits in base 3, which is NAS-Bench-Macro's index order.
    np.testing.assert_array_equal(table.code_to_index, np.arange(6561))
    truth = space.ground_truth("cifar10")
    assert table.val[space.index("11111221")] == pytest.approx(truth[space.parse("11111221")])
    # The search's neighbours are the space's.
    import jax.numpy as jnp

    code = space.index("02012100")
    found = sorted(int(c) for c in table.coded.neighbours(jnp.int32(code)))
    assert found == sorted(space.index(a) for a in space.neighbours("02012100"))
    assert default_target("nas_bench_macro", "cifar10") <= max(truth.values())
    with pytest.raises(ValueError, match="bp's graph network is built for nb201"):
        Experiment(algo="bp", space="macro")
    with pytest.raises(ValueError, match="larger than the space"):
        Experiment(algo="rand", space="macro", warmup=15000)


def _macro_scores(path, proxy="flops"):
    space = spaces.get("macro")
    value = space.ground_truth("cifar10", metric=proxy)
    config = ss.SpaceScoreConfig(space="macro", proxies=proxy)
    with RowWriter(str(path), ["index", "arch", proxy], settings=ss.space_settings(config)) as w:
        w.write_all({"index": i, "arch": space.format(a), proxy: float(value[a])} for i, a in enumerate(space.enumerate()))


def test_cli_searches_macro_tabular(tmp_path, capsys):
    scores = tmp_path / "macro_flops.jsonl"
    _macro_scores(scores)
    out = tmp_path / "ae"
    argv = ["--space", "macro", "--algo", "ae", "--warmup", "200", "--proxy", "flops", "--scores", str(scores),
            "--runs", "2", "--budget", "80", "--no-plot", "--no-progress", "--output", str(out)]
    assert main(argv) == 0
    assert "ae-w200-m0" in capsys.readouterr().out
    trace = read_rows(out / "traces" / "run_000.jsonl")
    assert len(trace) == 80 and all(0 <= r["index"] < 6561 for r in trace)
    truth = spaces.get("macro").ground_truth("cifar10")
    arch = spaces.get("macro").arch_at(trace[0]["index"])
    assert trace[0]["test"] == pytest.approx(truth[arch], abs=1e-4)
    settings = read_settings(out / "traces" / "run_000.jsonl")
    assert settings["space"] == "nas_bench_macro" and settings["experiment"]["space"] == "nas_bench_macro"
    # The warm-up trains the cells of most flops first.
    flops = spaces.get("macro").ground_truth("cifar10", metric="flops")
    assert flops[arch] >= np.quantile(list(flops.values()), 0.9)
    assert main(argv) == 0  # resumes: nothing to run
    # A file of one space never drives a search of another.
    nb201 = tmp_path / "nb201.jsonl"
    with RowWriter(str(nb201), ["index", "arch", "flops"], settings={"space": "nb201", "dataset": "cifar10"}) as w:
        w.write({"index": 0, "arch": "x", "flops": 1.0})
    capsys.readouterr()
    assert main([*argv[:-1], str(tmp_path / "other"), "--scores", str(nb201)]) == 2
    err = capsys.readouterr().err
    assert "holds nb201 scores, not nas_bench_macro" in err and err.count("\n") == 1
    assert main([*argv[:2], "--algo", "ae", "--live", "--runs", "1", "--budget", "64", "--output",
                 str(tmp_path / "l")]) == 2
    assert "--live scores nb201 cells" in capsys.readouterr().err
