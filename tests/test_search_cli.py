"""python -m zcjax.search: outputs, resuming, bad inputs (one line, exit 2), live scores reused."""

import json
import os

import numpy as np
import pytest

from zcjax.results import RowWriter, read_rows
from zcjax.search import MemoScorer, nb201_index_to_code
from zcjax.search.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
C100 = os.path.join(ROOT, "results", "nb201", "cifar100_data_free.jsonl.gz")
SAMPLE = os.path.join(ROOT, "results", "nb201", "cifar10_sample1000_all.jsonl.gz")


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_tabular_run_writes_traces_summary_tables_and_resumes(tmp_path, capsys):
    out = str(tmp_path / "ae")
    argv = ["--algo", "ae", "--dataset", "cifar100", "--proxy", "synflow", "--warmup", "200", "--move", "1",
            "--budget", "80", "--runs", "3", "--seed", "5", "--scores", C100, "--output", out, "--no-progress"]
    code, stdout, err = _run(capsys, *argv)
    assert code == 0, err
    for name in ("summary.jsonl", "table.md", "table.csv", "curves.png", "traces/run_002.jsonl"):
        assert os.path.isfile(os.path.join(out, name)), name
    rows = read_rows(os.path.join(out, "traces", "run_000.jsonl"))
    assert [r["trained"] for r in rows] == list(range(1, 81))
    assert rows[0]["proxy_evals"] == 200 and rows[-1]["proxy_evals"] > 200
    assert all(b["best_val"] >= a["best_val"] for a, b in zip(rows, rows[1:]))
    summary = read_rows(os.path.join(out, "summary.jsonl"))[0]
    assert summary["runs"] == 3 and summary["experiment"] == "ae-w200-m1"
    # Killed halfway: the cut trace is completed with the same rows, the complete ones are kept.
    path = os.path.join(out, "traces", "run_001.jsonl")
    before = open(path).read()
    with open(path, "w") as f:
        f.write("".join(before.splitlines(keepends=True)[:30]) + '{"trained": 31, "ind')
    code, _, err = _run(capsys, *argv)
    assert code == 0, err

    def no_time(p):
        return [{k: v for k, v in r.items() if k != "wall_s"} for r in read_rows(p)]
    after = open(path).read()
    assert after.splitlines()[:30] == before.splitlines()[:30]   # kept as they were
    assert no_time(path) == [{k: v for k, v in r.items() if k != "wall_s"}
                             for r in (json.loads(line) for line in before.splitlines())]
    # The same folder with other settings is refused, not mixed.
    code, _, err = _run(capsys, *[a if a != "200" else "300" for a in argv])
    assert code == 2 and err.count("\n") == 1 and "settings" in err


def test_rand_baseline_and_rl_run(tmp_path, capsys):
    for algo, extra in (("rand", []), ("rl", ["--move", "2"])):
        code, stdout, err = _run(capsys, "--algo", algo, "--dataset", "cifar100", "--budget", "60", "--runs", "2",
                                 "--scores", C100, "--output", str(tmp_path / algo), "--no-progress", "--no-plot",
                                 *extra)
        assert code == 0, err
        assert "test accuracy after 50 trained cells" in stdout


@pytest.mark.parametrize("argv, message", [
    (["--algo", "foo"], "unknown algorithm"),
    (["--algo", "ae", "--proxy", "nope"], "unknown proxy"),
    (["--algo", "rand", "--warmup", "20000"], "larger than the space"),
    (["--algo", "ae", "--budget", "10"], "smaller than the pool"),
    (["--algo", "rand", "--move", "3"], "not defined for rand"),
    (["--algo", "ae", "--scores", SAMPLE, "--dataset", "cifar10"], "lacks 14625 of the 15625 cells"),
    (["--algo", "ae", "--proxy", "snip"], "lacks the proxy snip"),
    (["--algo", "ae", "--dataset", "cifar10"], "made for cifar100"),
    (["--algo", "ae", "--live", "--proxy", "vote"], "vote ranks a set of cells"),
])
def test_bad_input_is_one_line_exit_2(tmp_path, capsys, argv, message):
    base = {"--scores": C100, "--output": str(tmp_path / "o"), "--budget": "100", "--runs": "2"}
    args = list(argv)
    for k, v in base.items():
        if k not in args and not (k == "--scores" and "--live" in args):
            args += [k, v]
    code, _, err = _run(capsys, *args, "--no-progress")
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("python -m zcjax.search: error: ") and message in err, err


def test_score_file_of_another_init_seed_is_refused(tmp_path, capsys):
    path = str(tmp_path / "s.jsonl")
    settings = {"space": "nb201", "dataset": "cifar100", "proxies": ["params"],
                "init": {"seed": 1, "weight_init": "pytorch", "bias_init": "pytorch"}}
    with RowWriter(path, ["index", "arch", "params"], settings=settings) as w:
        w.write({"index": 0, "arch": "x", "params": 1.0})
    code, _, err = _run(capsys, "--algo", "rand", "--scores", path, "--output", str(tmp_path / "o"))
    assert code == 2 and "init seed 1, not 0" in err
    code, _, err = _run(capsys, "--algo", "rand", "--scores", path, "--dataset", "cifar10",
                        "--output", str(tmp_path / "o"))
    assert code == 2 and "made for cifar100, not cifar10" in err


def test_memo_scorer_scores_each_cell_once_and_saves_a_score_file(tmp_path):
    path = str(tmp_path / "scores.jsonl")
    codes = nb201_index_to_code()[[3, 5, 3, 7]]
    with MemoScorer("params", "cifar100", 0, path) as memo:
        first = memo(codes)
        assert memo.computed == 3
        again = memo(codes[:2])
        assert memo.computed == 3
    np.testing.assert_array_equal(first[:2], again)
    reference = {r["index"]: r["params"] for r in read_rows(C100)}
    np.testing.assert_allclose(first, [reference[i] for i in (3, 5, 3, 7)])
    rows = read_rows(path)
    assert sorted(r["index"] for r in rows) == [3, 5, 7] and "cifar100_val" in rows[0]
    settings = json.load(open(path + ".settings.json"))["settings"]
    assert settings["dataset"] == "cifar100" and settings["init"]["seed"] == 0
    assert memo.settings == settings  # what a live search's traces record of their scores
    with MemoScorer("params", "cifar100", 0, path) as memo:  # a later run reuses the file
        memo(codes)
        assert memo.computed == 0


def test_many_runs_raise_the_open_file_limit_or_say_why_not(monkeypatch):
    import resource

    from zcjax.search import experiment

    calls = []
    monkeypatch.setattr(resource, "setrlimit", lambda which, limits: calls.append(limits))
    monkeypatch.setattr(resource, "getrlimit", lambda which: (1024, 4096))
    experiment._allow_open_files(1064)
    assert calls == [(1064, 4096)]
    experiment._allow_open_files(512)  # under the soft limit: nothing to do
    assert len(calls) == 1
    with pytest.raises(ValueError, match="need 5000 open files, over this system's limit of 4096"):
        experiment._allow_open_files(5000)
