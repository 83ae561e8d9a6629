"""Scoring and evaluating any registered search space (zcjax.space_scoring, `zcjax.score --space`, evaluate)."""

from __future__ import annotations

import warnings

import chex
import jax
import numpy as np
import pytest

import zcjax.spaces as spaces
from zcjax import evaluate as ev
from zcjax import space_scoring as ss
from zcjax.data import get_minibatch, save_batch_file
from zcjax.neighbourhood import neighbour_indices, neighbourhood_stats
from zcjax.results import RowWriter, read_rows, read_settings
from zcjax.score import main

# A small NAS-Bench-Macro network (8 searchable layers as in the benchmark, few channels).
TINY = {"stem_channels": 4, "head_channels": 8}
TINY_ARGS = ["--option", "stem_channels=4", "--option", "head_channels=8"]
ARCHS = ["02012100", "11111221"]


def one_line_error(capsys, argv, match):
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err, err
    assert match in err, err


@pytest.mark.parametrize("strategy, proxies", [
    # counts only (the CLI's plumbing is the point; synflow through --space: test_space_nb101/nb301/tnb101):
    # synflow's float64 program takes ~20 s an architecture to compile here (session 20)
    ("per-cell", "params,flops"),
    # the mixed network's gradient compiles for ~40 s on the shared 2-core machine
    pytest.param("batched", "synflow,snip,params,flops", marks=pytest.mark.slow)])
def test_cli_scores_a_space_writes_its_truth_and_resumes(tmp_path, capsys, strategy, proxies):
    out = tmp_path / "macro.jsonl"
    argv = ["--space", "macro", *(a for s in ARCHS for a in ("--arch", s)), "--proxies", proxies,
            *TINY_ARGS, "--strategy", strategy, "--batch-size", "8", "--no-progress", "-o", str(out)]
    assert main(argv) == 0
    rows = read_rows(out)
    truth = spaces.get("macro").ground_truth("cifar10")
    assert [r["arch"] for r in rows] == ARCHS
    names = proxies.split(",")
    assert list(rows[0]) == ["index", "arch", *(n for n in ("snip", "synflow", "params", "flops") if n in names),
                             "accuracy"]
    for r in rows:
        arch = spaces.get("macro").parse(r["arch"])
        assert r["index"] == spaces.get("macro").index(arch)
        assert r["accuracy"] == pytest.approx(truth[arch])
        assert r.get("synflow", 1) > 0 and r.get("snip", 1) > 0 and isinstance(r["params"], int)
    settings = read_settings(out)
    assert settings["space"] == "nas_bench_macro" and settings["dataset"] == "cifar10"
    assert settings["network"] == TINY
    assert (settings["minibatch"] or {}).get("size") == (8 if "snip" in names else None)

    # Resuming with one more architecture scores only that one; other settings are refused.
    assert main([*argv, "--arch", "00011110", "--resume"]) == 0
    assert [r["arch"] for r in read_rows(out)] == [*ARCHS, "00011110"]
    one_line_error(capsys, [*argv, "--option", "stem_channels=8", "--resume"], "network.stem_channels")

    # The evaluation reads the space and task from the file and the truth from the space.
    assert ev.main([str(out), "--bootstrap", "0", "--proxies", "params"]) == 0
    assert "| params | 3 |" in capsys.readouterr().out


@pytest.mark.parametrize("strategy,proxies", [
    # data-free: the weights are the point (the slow CLI test runs snip through the batched program)
    # (~35 s: in CI's slow run for the README command's budget)
    pytest.param("batched", "synflow,l2_norm,params,flops", marks=pytest.mark.slow),
    # op by op, the minibatch proxies too; each op compiles on its first call: ~100 s on the 2-core machine
    pytest.param("eager", "synflow,snip,params,flops", marks=pytest.mark.slow)])
def test_strategies_score_what_per_cell_scores(strategy, proxies):
    x, y = get_minibatch("cifar10", 8)
    rows = {}
    for run in ("per-cell", strategy):
        config = ss.SpaceScoreConfig(space="macro", proxies=proxies, strategy=run, options=TINY)
        rows[run] = ss.SpaceScorer(config, x, y).score_one(ARCHS[1])
        assert rows[run].pop("arch") == ARCHS[1]
    assert list(rows[strategy]) == list(rows["per-cell"])
    chex.assert_trees_all_close(rows[strategy], rows["per-cell"], rtol=2e-5)
    assert all(v > 0 for v in rows[strategy].values())


def test_auto_on_a_cpu_follows_the_space_and_runs_minibatch_proxies_eagerly_nowhere(monkeypatch):
    for name in spaces.names():
        space = spaces.get(name)
        assert set(space.cpu_strategies) <= {"per-cell", "eager", "batched"}, name
        assert "batched" not in space.cpu_strategies or space.arch_as_data, name
    with pytest.raises(TypeError, match="cpu_strategies"):
        type("Bad", (spaces.Space,), {"cpu_strategies": ("batched",)})
    device = lambda platform: lambda: [type("Device", (), {"platform": platform})()]  # noqa: E731
    monkeypatch.setattr(ss.jax, "local_devices", device("cpu"))

    def auto(space, proxies):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the ReLU readers of a group left out of a batched run
            config = ss.SpaceScoreConfig(space=space, proxies=proxies)
        return config.resolved_strategy(), config.proxies

    assert auto("nb301", "synflow,synflow_ssnr,params")[0] == "eager" and auto("tnb101_micro", "synflow")[0] == "eager"
    assert auto("nb301", "data-free")[0] == "eager" and auto("nb101", "synflow")[0] == "per-cell"
    for space in ("nb301", "tnb101_micro", "nb101"):  # the minibatch proxies: never eager
        assert auto(space, "synflow,snip")[0] == "per-cell" and auto(space, "all")[0] == "per-cell", space
    # NAS-Bench-Macro: batched, the minibatch proxies too; a group's ReLU readers are left out as on an
    # accelerator, named ones make the run per-cell.
    assert auto("macro", "synflow,flops")[0] == "batched" and auto("macro", "synflow,snip")[0] == "batched"
    for group in ("data-free", "all"):
        strategy, proxies = auto("macro", group)
        assert strategy == "batched" and "synflow" in proxies and "nwot_randn" not in proxies, group
    assert auto("macro", "synflow,nwot_randn")[0] == "per-cell" and auto("macro", "snip,nwot")[0] == "per-cell"
    assert ss.SpaceScoreConfig(space="nb301", proxies="synflow", strategy="per-cell").resolved_strategy() == "per-cell"
    with pytest.warns(UserWarning, match="eager keeps every layer's residuals"):
        ss.SpaceScoreConfig(space="nb301", proxies="snip", strategy="eager")
    # On an accelerator: batched where the space allows it, else per-cell.
    monkeypatch.setattr(ss.jax, "local_devices", device("gpu"))
    assert auto("macro", "synflow,snip")[0] == "batched" and auto("nb301", "synflow")[0] == "per-cell"


def test_weights_do_not_depend_on_the_run():
    space = spaces.get("macro")
    data = lambda key: np.asarray(jax.random.key_data(key))  # noqa: E731
    key = data(ss.arch_key(3, space, "02012100"))
    assert ss.weight_tag(space, "02012100") == space.index("02012100")
    np.testing.assert_array_equal(data(ss.arch_key(3, "macro", (0, 2, 0, 1, 2, 1, 0, 0))), key)
    assert not np.array_equal(data(ss.arch_key(4, space, "02012100")), key)


def test_select_archs():
    space = spaces.get("macro")
    assert ss.select_archs(space, arch=["02012100", "02012100"], indices="0-1") == [
        space.parse("02012100"), space.arch_at(0), space.arch_at(1)]
    assert ss.select_archs(space, sample=5, seed=1) == space.sample(1, 5)
    assert len(ss.select_archs(space, "cifar10", trained=True)) == 6561
    assert len(ss.select_archs(space, all_archs=True)) == 6561
    with pytest.raises(ValueError, match="out of range 0..6560"):
        ss.select_archs(space, indices="6561")
    with pytest.raises(ValueError, match="no architectures selected"):
        ss.select_archs(space)
    assert ss.parse_options(["a=3", "b=[1,2]", "c=x"]) == {"a": 3, "b": (1, 2), "c": "x"}
    with pytest.raises(ValueError, match="NAME=VALUE"):
        ss.parse_options(["stem_channels"])


def test_bad_input_is_one_line(tmp_path, capsys):
    base = ["--no-progress", "-o", str(tmp_path / "o.jsonl")]
    one_line_error(capsys, ["--space", "nb999", "--sample", "1", *base], "unknown search space 'nb999'")
    one_line_error(capsys, ["--space", "macro", "--arch", "|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|",
                            "--proxies", "synflow", *base], "invalid NAS-Bench-Macro arch")
    one_line_error(capsys, ["--space", "tnb101_micro", "--sample", "1", "--strategy", "batched", *base],
                   "space tnb101_micro has no arch-as-data network")
    one_line_error(capsys, ["--space", "macro", "--sample", "1", "--precision", "float64", *base],
                   "--precision is for nb201 only")
    one_line_error(capsys, ["--space", "macro", "--sample", "1", "--torch-weights", "w.npz", *base],
                   "--torch-weights is for nb201 only")
    one_line_error(capsys, ["--space", "macro", "--sample", "1", "--task", "cifar100", *base],
                   "unknown task 'cifar100' for space nas_bench_macro")
    one_line_error(capsys, ["--sample", "1", "--option", "width=3", *base], "unknown nb201 --option 'width'")
    x, y = get_minibatch("cifar10", 4)
    small = tmp_path / "small.npz"
    save_batch_file(small, x[:, :, :16, :16], y)
    one_line_error(capsys, ["--space", "macro", "--sample", "1", "--proxies", "snip", "--batch-file", str(small),
                            *TINY_ARGS, *base], "do not fit the network's input (32, 32, 3)")


def test_evaluate_a_space_with_its_neighbourhoods(tmp_path):
    space = spaces.get("macro")
    truth = space.ground_truth("cifar10")
    archs = list(space.enumerate())
    acc = np.array([truth[a] for a in archs])
    rng = np.random.default_rng(0)
    path = tmp_path / "synthetic.jsonl"
    config = ss.SpaceScoreConfig(space="macro", proxies="params")
    with RowWriter(str(path), ["index", "arch", "good", "noise", "accuracy"], settings=ss.space_settings(config)) as w:
        for i, (a, t) in enumerate(zip(archs, acc)):
            w.write({"index": i, "arch": space.format(a), "good": float(t), "noise": float(rng.normal()),
                     "accuracy": 0.0})  # the file's accuracy column is ignored
    rows = {r["proxy"]: r for r in ev.evaluate(path, n_bootstrap=0)}
    assert rows["good"]["spearman"] == pytest.approx(1.0) and rows["good"]["split"] == "benchmark"
    assert rows["good"]["neigh_clusters"] == 6561 and rows["good"]["neigh_best_pct"] == pytest.approx(100.0, abs=1)
    assert abs(rows["noise"]["spearman"]) < 0.05 and rows["noise"]["neigh_clusters"] == 6561
    with pytest.raises(ValueError, match="drop --split"):
        ev.evaluate(path, split="test")
    with pytest.raises(ValueError, match="holds nas_bench_macro scores, not nb201"):
        ev.evaluate(path, space="nb201")


def test_neighbourhood_with_explicit_neighbours_equals_nb201s():
    rng = np.random.default_rng(1)
    idx = np.arange(15625)
    score, acc = rng.normal(size=idx.size), rng.normal(size=idx.size)
    score[rng.choice(idx.size, 500, replace=False)] = np.nan
    explicit = neighbourhood_stats(idx, score, acc, neighbour_indices(idx).tolist())
    assert explicit == neighbourhood_stats(idx, score, acc)
    assert explicit["clusters"] > 1000
