"""End-to-end tests of `python -m zcjax.score`."""

import csv
import gzip
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from conftest import GOLDEN_DIR
from zcjax.data import save_batch_file
from zcjax.results import read_rows
from zcjax.score import main
from zcjax.spaces import nb201

ALL_NONE = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
# Small networks: the CLI's plumbing is the point here, parity is tested in test_parity.
TINY = ["--option", "channels=4", "--option", "cells_per_stage=1"]
FREE = ["--proxies", "params,flops,l2_norm,synflow", "--no-progress", *TINY, "--strategy", "per-cell"]


def read_jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f]


def test_data_free_jsonl_and_csv(tmp_path):
    out = tmp_path / "s.jsonl"
    assert main(["--indices", "0-2", *FREE, "--output", str(out)]) == 0
    rows = read_jsonl(out)
    assert [r["index"] for r in rows] == [0, 1, 2]
    assert list(rows[0]) == ["index", "arch", "synflow", "l2_norm", "params", "flops",
                             "cifar10_valid_train", "cifar10_valid_val", "cifar10_valid_test"]
    for r in rows:
        assert r["arch"] == nb201.arch_at(r["index"])
        assert r["cifar10_valid_val"] == pytest.approx(nb201.accuracy(r["index"], "cifar10"))
    eager = tmp_path / "eager.jsonl"
    assert main(["--indices", "0-2", *FREE[:-1], "eager", "--output", str(eager)]) == 0
    for r, e in zip(rows, read_jsonl(eager), strict=True):
        assert list(e) == list(r) and e["arch"] == r["arch"]
        # l2_norm is a float32 sum over layers, added up in another order eagerly.
        for k in r:
            if k != "arch":
                assert e[k] == pytest.approx(r[k], rel=1e-6 if k == "l2_norm" else 1e-9), k
    out_csv = tmp_path / "s.csv"  # eager again: the layers are compiled, the run costs no compile
    assert main(["--indices", "0-2", *FREE[:-1], "eager", "--output", str(out_csv)]) == 0
    with open(out_csv) as f:
        table = list(csv.DictReader(f))
    assert [float(t["synflow"]) for t in table] == pytest.approx([e["synflow"] for e in read_jsonl(eager)], rel=1e-12)
    for path in (out, out_csv):  # compressed result files read back the same
        with open(path, "rb") as f, gzip.open(f"{path}.gz", "wb") as g:
            g.write(f.read())
        assert read_rows(f"{path}.gz") == read_rows(path)


def test_torch_weights_and_batch_file_reproduce_golden(tmp_path, golden):
    ref = golden[0]
    out = tmp_path / "g.jsonl"
    argv = ["--arch", ref["arch"], "--proxies", "snip,grad_norm", "--torch-weights",
            os.path.join(GOLDEN_DIR, "weights_0.npz"), "--batch-file", os.path.join(GOLDEN_DIR, "batch.npz"),
            "--output", str(out), "--no-progress"]
    assert main(argv) == 0
    row = read_jsonl(out)[0]
    for name in ("snip", "grad_norm"):
        assert row[name] == pytest.approx(ref["measures"][name], rel=2e-3)


def test_nan_is_null_with_a_warning(tmp_path):
    out = tmp_path / "n.jsonl"
    proc = subprocess.run([sys.executable, "-m", "zcjax.score", "--arch", ALL_NONE, "--proxies", "jacob_cov,params",
                           "--batch-size", "8", "--output", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    # On a line of its own, not appended to the progress bar's.
    assert re.search(r"(^|[\r\n])warning: jacob_cov not finite", proc.stderr), proc.stderr
    row = read_jsonl(out)[0]
    assert row["jacob_cov"] is None and row["params"] > 0


_COUNT_CACHE_HITS = """
import sys, jax
hits = []
jax.monitoring.register_event_listener(lambda event, **_: hits.append(event))
from zcjax.score import main
status = main(sys.argv[1:])
print("cache hits:", hits.count("/jax/compilation_cache/cache_hits"), file=sys.stderr)
sys.exit(status)
"""


def test_second_run_loads_its_programs_from_the_compile_cache(tmp_path):
    cache = tmp_path / "xla"
    hits, rows = [], []
    for run in ("first", "second"):
        out = tmp_path / f"{run}.jsonl"
        proc = subprocess.run([sys.executable, "-c", _COUNT_CACHE_HITS, "--arch", ALL_NONE, *FREE,
                               "--compile-cache", str(cache), "--output", str(out)],
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        hits.append(int(proc.stderr.rsplit("cache hits:", 1)[1]))
        rows.append(read_jsonl(out))
    assert hits[0] == 0 and hits[1] > 0
    assert any(cache.glob("jit_stage*")), sorted(p.name for p in cache.iterdir())
    assert rows[0] == rows[1]


def test_compile_cache_off_and_unwritable(tmp_path, monkeypatch):
    from zcjax import compile_cache

    monkeypatch.setenv("ZCJAX_COMPILE_CACHE", "off")
    assert compile_cache.default_dir() is None and compile_cache.enable("off") is None
    monkeypatch.delenv("ZCJAX_COMPILE_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert compile_cache.default_dir() == str(tmp_path / "zcjax" / "xla")
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.warns(UserWarning, match="compilation cache disabled: cannot create"):
        assert compile_cache.enable(blocker / "xla") is None


def test_resume_gives_the_uninterrupted_file(tmp_path):
    # Eager: its layer programs are compiled once for the process, so the three runs share them (per-cell
    # programs would be compiled again by each run's scorer).
    eager = [*FREE[:-1], "eager"]
    full, part = tmp_path / "full.jsonl", tmp_path / "part.jsonl"
    assert main(["--indices", "10-15", *eager, "--output", str(full)]) == 0
    assert main(["--indices", "10-12", *eager, "--output", str(part)]) == 0
    with open(part, "a") as f:
        f.write('{"index": 13, "arch": "|nor_co')  # a crash in the middle of a row
    assert main(["--indices", "10-15", *eager, "--output", str(part), "--resume"]) == 0
    assert read_jsonl(part) == read_jsonl(full)


@pytest.mark.parametrize("argv, message", [
    (["--arch", "|bad~0|+|none~0|none~1|+|none~0|none~1|none~2|"], "unknown op 'bad'"),
    (["--indices", "1", "--proxies", "snip,bogus"], "unknown proxy name"),
    (["--arch", ALL_NONE, "--indices", "3", "--torch-weights", "w.npz"], "--torch-weights needs exactly one --arch"),
    (["--archs-file", "missing.txt"], "no such archs file"),
    (["--indices", "1", "--proxies", "snip", "--batch-file", "missing.npz"], "missing.npz"),
    (["--indices", "1", "--proxies", "snip", "--data-dir", "/nonexistent/dir"], "/nonexistent/dir"),
    (["--indices", "1", "--dataset", "mnist"], "mnist"),
    (["--indices", "1", "--resume"], "--resume needs an --output file"),
    ([], "no cells selected"),
    (["--indices", "1", "--output", "out.txt"], "must end in .jsonl or .csv"),
    (["--indices", "1", "--output", "out.jsonl.gz"], "compress it afterwards"),
    (["--indices", "1", "--num-processes", "2", "--process-id", "0"], "need --coordinator"),
    (["--indices", "99999"], "99999"),
])
def test_bad_input_is_one_line_exit_2(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err
    assert err.startswith("python -m zcjax.score: error:") and message in err, err


def test_batch_file_with_wrong_image_size(tmp_path, capsys):
    path = tmp_path / "b.npz"
    save_batch_file(path, np.zeros((4, 3, 16, 16), np.float32), np.zeros(4, np.int64))
    assert main(["--indices", "1", "--proxies", "snip", "--batch-file", str(path)]) == 2
    assert "16" in capsys.readouterr().err


def test_version(capsys):
    import zcjax

    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out.strip() == f"zcjax {zcjax.__version__}"
