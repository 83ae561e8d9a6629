"""Results files that never lie: recorded settings, resume checks, one writer at a time, file errors."""

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
import time
import warnings
from unittest import mock

import filelock
import pytest

from zcjax import provenance, score
from zcjax.results import (OutputBusy, OutputError, RowWriter, SettingsMismatch, find_results_file, is_finished,
                           read_rows, read_settings)
from zcjax.search import cli as search_cli

SETTINGS = {"dataset": "cifar10", "proxies": ["params"], "init": {"seed": 0, "weight_init": "pytorch"}}
COLUMNS = ["index", "arch", "params"]


def _cli(*args, cwd, timeout=300):
    """``python -m zcjax.score ARGS`` in a process of its own (for what needs one: a second writer)."""
    env = {**os.environ, "ZCJAX_COMPILE_CACHE": "off", "JAX_PLATFORMS": "cpu"}
    return subprocess.run([sys.executable, "-m", "zcjax.score", *args, "--no-progress"], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


def _in_process(main, *args, cwd):
    """A command's ``main(ARGS)`` in this process, from ``cwd``: its exit status and stderr, as :func:`_cli`'s.

    The file checks need no process of their own (the second-writer test keeps one); starting one
    costs seconds of imports each. test_score_cli runs the real entry point as a process.
    """
    err = io.StringIO()
    before = os.getcwd()
    # As _cli: no persistent compile cache (it would stay on for the rest of the session).
    with mock.patch.dict(os.environ, {"ZCJAX_COMPILE_CACHE": "off"}):
        try:
            os.chdir(cwd)  # (contextlib.chdir is Python 3.11+; we support 3.10)
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                code = main([*args, "--no-progress"])
        finally:
            os.chdir(before)
    return subprocess.CompletedProcess(args, code, "", err.getvalue())


def _score(*args, cwd):
    return _in_process(score.main, *args, cwd=cwd)


def _one_line_error(proc, *fragments):
    """The process failed with status 2 and one line on stderr naming every fragment (no traceback)."""
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("python -m zcjax.score: error: "), proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    assert "Traceback" not in proc.stderr


def _write(path, rows, settings=SETTINGS, resume=False, **kw):
    with RowWriter(str(path), COLUMNS, resume=resume, settings=settings, **kw) as w:
        w.write_all(rows)
        return w.done


def test_settings_recorded_beside_the_file(tmp_path):
    path = tmp_path / "s.jsonl"
    _write(path, [{"index": 1, "arch": "a", "params": 2.0}], info={"strategy": "eager"})
    record = provenance.read_record(path)
    assert record.kind == "scores" and list(record.columns) == COLUMNS
    assert read_settings(path) == SETTINGS
    assert record.runs[0]["strategy"] == "eager" and record.runs[0]["pid"] == os.getpid()
    # The data file itself stays plain JSON lines: one row, nothing else.
    assert [json.loads(line) for line in path.read_text().splitlines()] == [{"index": 1, "arch": "a", "params": 2.0}]
    # A gzipped copy shares the record (its name without .gz).
    assert provenance.sidecar_path(str(path) + ".gz") == str(path) + ".settings.json"


def test_a_run_stopped_part_way_reads_from_its_partial_gz(tmp_path):
    import gzip

    path = tmp_path / "s.jsonl"
    _write(path, [{"index": 1, "arch": "a", "params": 2.0}])
    partial = tmp_path / "s.jsonl.partial.gz"
    with gzip.open(partial, "wt") as f:
        f.write(path.read_text() + '{"index": 2, "ar')  # a cut-off last line, as a killed run leaves it
    os.remove(path)
    assert provenance.sidecar_path(partial) == str(path) + ".settings.json"
    assert read_settings(partial) == SETTINGS
    assert read_rows(partial) == [{"index": 1, "arch": "a", "params": 2.0}]
    # Found under its results name; a file being written, then a finished one, take precedence.
    assert find_results_file(path) == str(partial) and not is_finished(partial)
    path.write_text("")
    assert find_results_file(str(path) + ".gz") == str(path) and not is_finished(path)
    finished = tmp_path / "s.jsonl.gz"
    finished.write_bytes(b"")
    assert find_results_file(path) == str(finished) and is_finished(finished)
    assert find_results_file(tmp_path / "none.jsonl") is None


def test_resume_appends_only_with_the_same_settings(tmp_path):
    path = tmp_path / "s.csv"
    _write(path, [{"index": 1, "arch": "a", "params": 2.0}])
    with open(path, "a") as f:
        f.write("2,b,")  # a cut-off last line
    assert _write(path, [{"index": 3, "arch": "c", "params": 4.0}], resume=True) == {1, 3}
    assert [r["index"] for r in read_rows(path)] == [1, 3]
    assert len(provenance.read_record(path).runs) == 2
    other = {**SETTINGS, "init": {"seed": 1, "weight_init": "pytorch"}}
    with pytest.raises(SettingsMismatch, match=r"init\.seed: file 0, this run 1"):
        _write(path, [], settings=other, resume=True)
    with pytest.raises(SettingsMismatch, match=r"proxies: file params, this run params,flops"):
        _write(path, [], settings={**SETTINGS, "proxies": ["params", "flops"]}, resume=True)
    with pytest.raises(SettingsMismatch, match="holds scores rows, not search-trace"):
        _write(path, [], resume=True, kind="search-trace")
    with pytest.raises(SettingsMismatch, match=r"columns differ .*missing: flops"):
        with RowWriter(str(path), [*COLUMNS, "flops"], resume=True, settings=SETTINGS):
            pass
    assert [r["index"] for r in read_rows(path)] == [1, 3]  # nothing was appended or cut
    # Without --resume the file starts anew, with this run's settings.
    _write(path, [], settings=other)
    assert read_rows(path) == [] and read_settings(path) == other


def test_a_revised_proxy_is_recorded_and_a_file_of_its_earlier_definition_is_not_resumed(tmp_path, monkeypatch):
    import dataclasses

    from zcjax import ScoreConfig, registry
    from zcjax.score import run_settings

    # Files of unrevised proxies keep the settings they always had (they resume as before).
    assert not registry.revisions(registry.all_names())
    assert "revisions" not in run_settings(ScoreConfig(proxies="params,synflow_ssnr,az_expressivity"))
    # A definition change that changes values raises the proxy's revision (here: as if it had).
    for name in ("az_expressivity", "az_progressivity"):
        monkeypatch.setitem(registry.PROXIES, name, dataclasses.replace(registry.PROXIES[name], revision=2))
    revised = run_settings(ScoreConfig(proxies="flops,az_expressivity,az_progressivity"))
    assert revised["revisions"] == {"az_expressivity": 2, "az_progressivity": 2}
    assert registry.revisions(["snip_ssnr", "az_progressivity"]) == {"az_progressivity": 2}
    columns = ["index", "arch", "flops", "az_expressivity", "az_progressivity"]
    row = {"index": 1, "arch": "a", "flops": 2.0, "az_expressivity": None, "az_progressivity": None}
    path = tmp_path / "az.jsonl"
    earlier = {k: v for k, v in revised.items() if k != "revisions"}  # written before the revision
    with RowWriter(str(path), columns, settings=earlier) as w:
        w.write(row)
    with pytest.raises(SettingsMismatch, match="revisions"):
        RowWriter(str(path), columns, resume=True, settings=revised)
    assert [r["index"] for r in read_rows(path)] == [1]


def test_reg_swap_constants_are_settings(tmp_path):
    from zcjax import ScoreConfig
    from zcjax.score import run_settings

    assert "constants" not in run_settings(ScoreConfig(proxies="swap,params"))  # earlier files resume as before
    first = run_settings(ScoreConfig(proxies="swap,reg_swap", reg_swap=(1500, 2e5)))
    assert first["constants"] == {"reg_swap": {"mu": 1500.0, "sigma": 200000.0}}
    columns = ["index", "arch", "swap", "reg_swap"]
    path = tmp_path / "r.jsonl"
    with RowWriter(str(path), columns, settings=first) as w:
        w.write({"index": 1, "arch": "a", "swap": 2.0, "reg_swap": 1.0})
    other = run_settings(ScoreConfig(proxies="swap,reg_swap", reg_swap=(1000, 2e5)))
    with pytest.raises(SettingsMismatch, match=r"constants\.reg_swap\.mu: file 1500\.0, this run 1000\.0"):
        RowWriter(str(path), columns, resume=True, settings=other)


def test_the_precision_record_names_each_float64_part_and_the_old_words_still_resume(tmp_path):
    from zcjax import ScoreConfig, provenance, registry
    from zcjax.scoring import FLOAT64_PROXIES
    from zcjax.score import run_settings

    # Every proxy with a float64 stage is named in the record, and only the run's own.
    settings = run_settings(ScoreConfig(proxies="snip,synflow_ssnr,nwot,te_ntk,epe_nas,jacob_cov,nwot_randn"))
    assert settings["precision"] == "float32; float64 parts: jacob_cov, synflow, nwot, nwot_randn, te_ntk, epe_nas"
    assert set(FLOAT64_PROXIES) == {"synflow", "synflow_bn", "jacob_cov", "epe_nas", "nwot", "nwot_randn", "te_ntk"}
    assert all(registry.PROXIES[p].float64 for p in FLOAT64_PROXIES)
    assert run_settings(ScoreConfig(proxies="snip,params"))["precision"] == "float32"
    assert run_settings(ScoreConfig(proxies="snip", precision="float64"))["precision"] == "float64: every proxy"
    # A file recorded with the old words (the same arithmetic) resumes, and its record takes the new words.
    columns = ["index", "arch", "snip", "nwot"]
    path = tmp_path / "old_words.jsonl"
    now = run_settings(ScoreConfig(proxies="snip,nwot"))
    old = {**now, "precision": provenance.LEGACY_FLOAT32_PRECISIONS[0]}
    with RowWriter(str(path), columns, settings=old) as w:
        w.write({"index": 1, "arch": "a", "snip": 1.0, "nwot": 2.0})
    with RowWriter(str(path), columns, resume=True, settings=now) as w:
        w.write({"index": 2, "arch": "b", "snip": 1.0, "nwot": 2.0})
    assert [r["index"] for r in read_rows(path)] == [1, 2] and read_settings(path)["precision"] == now["precision"]
    # Either old spelling, and nested as a search trace holds its score file's settings.
    macro = {"proxies": ["synflow", "params"], "precision": provenance.LEGACY_FLOAT32_PRECISIONS[1]}
    trace = {"run": 0, "scores": {"settings": macro}}
    assert provenance.differences(trace, {"run": 0, "scores": {"settings": {
        **macro, "precision": registry.precision_setting(macro["proxies"])}}}) == []
    # The old words never stood for the float64 precision, nor for other proxies' words; other differences refuse.
    f64 = run_settings(ScoreConfig(proxies="snip,nwot", precision="float64"))
    [diff] = provenance.differences(old, f64)
    assert diff.startswith("precision: file \"float32; synflow") and diff.endswith("this run \"float64: every proxy\"")
    assert provenance.differences(old, {**now, "precision": "float32; float64 parts: synflow"})
    assert provenance.differences(old, {**now, "dataset": "cifar100"}) == [
        "dataset: file \"cifar10\", this run \"cifar100\""]


def test_resume_refuses_a_file_without_a_record(tmp_path):
    path = tmp_path / "old.jsonl"
    path.write_text('{"index": 1, "arch": "a", "params": 2.0}\n')
    with pytest.raises(SettingsMismatch, match="no settings record"):
        _write(path, [], resume=True)
    assert read_settings(path) is None


def test_one_writer_at_a_time(tmp_path):
    path = tmp_path / "s.jsonl"
    with RowWriter(str(path), COLUMNS, settings=SETTINGS):
        with pytest.raises(OutputBusy, match=rf"being written by another run \(pid {os.getpid()} on "):
            RowWriter(str(path), COLUMNS, settings=SETTINGS, resume=True)
    _write(path, [], resume=True)  # released on close


def test_a_busy_file_does_not_name_a_finished_run_as_its_writer(tmp_path):
    path = tmp_path / "s.jsonl"
    _write(path, [])
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    record = json.loads((tmp_path / "s.jsonl.settings.json").read_text())
    record["runs"][-1]["pid"] = int(gone.stdout)  # the last recorded run has ended
    (tmp_path / "s.jsonl.settings.json").write_text(json.dumps(record))
    with filelock.FileLock(str(path) + ".lock"):  # held by something that writes no record
        with pytest.raises(OutputBusy) as busy:
            RowWriter(str(path), COLUMNS, settings=SETTINGS, resume=True)
    assert "being written by another run: wait" in str(busy.value) and gone.stdout.strip() not in str(busy.value)


def test_file_system_errors_are_one_line(tmp_path):
    (tmp_path / "d.jsonl").mkdir()
    with pytest.raises(OutputError, match="d.jsonl: it is a directory"):
        RowWriter(str(tmp_path / "d.jsonl"), COLUMNS)
    full = tmp_path / "full.jsonl"
    full.symlink_to("/dev/full")
    with RowWriter(str(full), COLUMNS) as w, pytest.raises(OutputError, match="No space left on device"):
        w.write({"index": 1, "arch": "a", "params": 2.0})


@pytest.fixture
def tiny_fs(tmp_path):
    """Mounts a 64 KiB tmpfs (needs root); yields (path, remount) where remount('ro') makes it read-only."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")

    def remount(mode):
        subprocess.run(["mount", "-o", f"remount,{mode}", str(mnt)], check=True, capture_output=True)

    try:
        yield mnt, remount
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def test_cli_file_errors_exit_2_with_one_line(tmp_path, tiny_fs):
    mnt, remount = tiny_fs
    (mnt / "big.bin").write_bytes(b"\0" * (60 << 10))  # leave the tmpfs almost full
    (tmp_path / "adir.jsonl").mkdir()
    procs = {name: _score("--indices", "0-3", "--proxies", "params", "--output", out, cwd=tmp_path) for name, out in
             [("dir", "adir.jsonl"), ("full", str(mnt / "s.jsonl"))]}
    _one_line_error(procs["dir"], "adir.jsonl: it is a directory")
    _one_line_error(procs["full"], "No space left on device")
    os.remove(mnt / "big.bin")
    remount("ro")
    _one_line_error(_score("--indices", "0", "--proxies", "params", "--output", str(mnt / "r.jsonl"), cwd=tmp_path),
                    "Read-only file system")
    # The search writes its traces and tables under the same rules.
    scores = os.path.join(os.path.dirname(__file__), "..", "results", "nb201", "cifar100_data_free.jsonl.gz")
    search = _in_process(search_cli.main, "--algo", "rand", "--budget", "5", "--runs", "1", "--dataset", "cifar100",
                         "--scores", scores, "--output", str(mnt / "s"), "--no-plot", cwd=tmp_path)
    assert search.returncode == 2 and "Traceback" not in search.stderr, search.stderr
    assert search.stderr.strip().count("\n") == 0 and "Read-only file system" in search.stderr


def test_cli_second_writer_stops_at_once(tmp_path):
    """A real second process on a file another process is writing exits 2 at once; the file is untouched."""
    out = tmp_path / "s.jsonl"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from zcjax.results import RowWriter\n"
         f"w = RowWriter({str(out)!r}, ['index', 'arch', 'params'], settings={{}})\n"
         "w.write({'index': 7, 'arch': 'x', 'params': 1.0}); print('ready', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        before = out.read_bytes()
        for resume in ([], ["--resume"]):
            start = time.monotonic()
            proc = _cli("--indices", "0-3", "--proxies", "params", "--output", "s.jsonl", *resume, cwd=tmp_path)
            _one_line_error(proc, "s.jsonl is being written by another run", f"pid {holder.pid} on ")
            assert out.read_bytes() == before
        assert time.monotonic() - start < 60
    finally:
        holder.communicate("", timeout=60)
    assert holder.returncode == 0


def test_cli_resume_refuses_other_settings(tmp_path):
    """Resuming with another dataset, proxy set, init seed or scheme names the setting and writes nothing."""
    first = _score("--indices", "0-1", "--proxies", "params", "--output", "s.csv", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    before = (tmp_path / "s.csv").read_bytes()
    changes = [(["--dataset", "cifar100"], "dataset: file \"cifar10\", this run \"cifar100\""),
               (["--proxies", "params,flops"], "proxies: file params, this run params,flops"),
               (["--init-seed", "3"], "init.seed: file 0, this run 3"),
               (["--weight-init", "kaiming"], "init.weight_init: file \"pytorch\", this run \"kaiming\"")]
    for extra, message in changes:
        args = ["--indices", "0-1", "--proxies", "params", *extra, "--output", "s.csv", "--resume"]
        _one_line_error(_score(*args, cwd=tmp_path), "cannot resume s.csv", message)
    assert (tmp_path / "s.csv").read_bytes() == before


def test_a_run_never_rewrites_the_record_of_a_compressed_file_of_the_same_name(tmp_path):
    path = tmp_path / "s.jsonl"
    _write(path, [{"index": 1, "arch": "a", "params": 2.0}])
    record = (tmp_path / "s.jsonl.settings.json").read_text()
    subprocess.run(["gzip", "-k", str(path)], check=True)
    os.rename(str(path) + ".gz", str(path) + ".partial.gz")
    os.remove(path)
    for resume in (False, True):  # starting anew beside a partial file, or "resuming" a file that is not there
        with pytest.raises(OutputError, match=r"s.jsonl.partial.gz exists .*gunzip -c"):
            _write(path, [], settings={**SETTINGS, "init": {"seed": 7}}, resume=resume)
    assert (tmp_path / "s.jsonl.settings.json").read_text() == record
    subprocess.run(["gunzip", "-k", str(path) + ".partial.gz"], check=True)
    os.rename(str(path) + ".partial", path)
    _write(path, [{"index": 2, "arch": "b", "params": 3.0}], resume=True)  # the run scripts' way: resumes
    os.rename(str(path) + ".partial.gz", str(path) + ".gz")
    with pytest.raises(OutputError, match="s.jsonl.gz exists"):
        _write(path, [], resume=True)


def test_a_link_to_a_file_being_written_shares_its_lock(tmp_path):
    (tmp_path / "sub").mkdir()
    target, link = tmp_path / "sub" / "s.jsonl", tmp_path / "l.jsonl"
    link.symlink_to(target)
    with RowWriter(str(target), COLUMNS, settings=SETTINGS) as w:
        w.write({"index": 1, "arch": "a", "params": 2.0})
        with pytest.raises(OutputBusy, match="l.jsonl is being written by another run"):
            RowWriter(str(link), COLUMNS, settings=SETTINGS)
    assert len(read_rows(target)) == 1


def test_resume_refuses_a_file_with_a_row_twice(tmp_path):
    path = tmp_path / "s.jsonl"
    row = {"index": 9, "arch": "a", "params": 2.0}
    _write(path, [row])
    with open(path, "a") as f:
        f.write(json.dumps(row) + "\n")
    with pytest.raises(SettingsMismatch, match=r"holds rows of the same index twice \(9\)"):
        _write(path, [], resume=True)


def test_damaged_records_and_gzip_files_are_one_line_errors(tmp_path):
    path = tmp_path / "s.jsonl"
    _write(path, [{"index": 1, "arch": "a", "params": 2.0}])
    side = tmp_path / "s.jsonl.settings.json"
    for damaged in ({"format": "zcjax-results/1"}, {**json.loads(side.read_text()), "settings": None}):
        side.write_text(json.dumps(damaged))
        with pytest.raises(ValueError, match="damaged settings record"):
            read_settings(path)
    subprocess.run(["gzip", str(path)], check=True)
    data = (tmp_path / "s.jsonl.gz").read_bytes()
    (tmp_path / "s.jsonl.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="damaged gzip file"):
        read_rows(tmp_path / "s.jsonl.gz")


def test_resuming_on_another_platform_warns(tmp_path):
    path = tmp_path / "s.jsonl"
    _write(path, [{"index": 1, "arch": "a", "params": 2.0}], info={"platform": "gpu"})
    with pytest.warns(UserWarning, match="scored so far on gpu, on cpu"):
        _write(path, [], resume=True, info={"platform": "cpu"})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _write(path, [], resume=True, info={"platform": "cpu"})  # the last run's platform: no warning
    assert [r["platform"] for r in provenance.read_record(path).runs] == ["gpu", "cpu", "cpu"]


def test_each_run_records_the_source_commit_when_run_from_a_checkout(tmp_path):
    root = os.path.dirname(os.path.dirname(os.path.abspath(provenance.__file__)))
    checkout = os.path.exists(os.path.join(root, ".git")) and shutil.which("git") is not None
    head = subprocess.run(["git", "-C", root, "rev-parse", "HEAD"], capture_output=True, text=True) if checkout else None
    path = tmp_path / "s.jsonl"
    _write(path, [])
    entry = provenance.read_record(path).runs[-1]
    if head is None or head.returncode != 0:  # an installed copy, not a checkout: nothing to record
        assert "commit" not in entry
    else:
        assert entry["commit"].split("+")[0] == head.stdout.strip()
