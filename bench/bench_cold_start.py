"""Cold start against the live PyTorch reference, side by side in one run (issue 16).

Each run is a fresh process, timed from its start by this script, which stamps
every output row as it arrives (the first cell's time includes process start,
imports, data loading and every compile):

* the PyTorch reference (``bench/reference_cells.py``, every measure it has:
  the paper's 8), when ``--reference`` names its code and ``--torch-python`` a
  Python with PyTorch;
* ``python -m zcjax.score`` with a new, empty compile cache, then the same
  command again with the cache it filled (warm cache).

Configurations: the 10 golden cells with the paper's 8 measures (the golden
minibatch for both), and the README's first command (4 cells, ``--proxies
paper``, the shipped images; the reference scores the same 4 cells on the
golden minibatch, the same shape). Without the reference the table keeps the
stored reference times of the golden cells (``seconds_all_measures``, another
machine) in a column of their own.

    python bench/bench_cold_start.py [--reference DIR --torch-python PY] [--no-write]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

from _report import machine, write_section

HERE = os.path.dirname(os.path.abspath(__file__))
GOLDEN = os.path.join(HERE, "..", "tests", "data", "golden_nb201")
BATCH = os.path.join(GOLDEN, "batch.npz")
PAPER_8 = "grad_norm,snip,grasp,fisher,jacob_cov,plain,synflow,synflow_bn"


def timed_rows(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, list[float], list[str]]:
    """Runs ``cmd``; returns its wall time, each JSON stdout row's arrival time since start, and the rows."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    stamps, rows = [], []
    for line in proc.stdout:
        if line.startswith("{"):
            stamps.append(time.perf_counter() - start)
            rows.append(line)
    err = proc.stderr.read()
    if proc.wait() != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{err[-2000:]}")
    return time.perf_counter() - start, stamps, rows


def zcjax_cmd(archs: list[str] | None, extra: list[str]) -> list[str]:
    cells = [a for arch in archs for a in ("--arch", arch)] if archs else []
    return [sys.executable, "-m", "zcjax.score", *cells, *extra, "--output", "-", "--no-progress"]


def reference_times(python: str, reference: str, archs: list[str]) -> tuple[float, list[float]]:
    wall, stamps, rows = timed_rows([python, os.path.join(HERE, "reference_cells.py"), "--reference", reference,
                                     "--batch-file", BATCH, *archs])
    cells = [s for s, r in zip(stamps, rows) if '"arch"' in r]
    return wall, cells


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reference", help="folder with the PyTorch reference's foresight package")
    p.add_argument("--torch-python", default=sys.executable, help="a Python with PyTorch (default: this one)")
    p.add_argument("--no-write", action="store_true", help="print the table only")
    args = p.parse_args()

    gold = json.load(open(os.path.join(GOLDEN, "golden.json")))["archs"]
    golden, stored = [g["arch"] for g in gold], [g["seconds_all_measures"] for g in gold]
    configs = [
        ("10 golden cells, the paper's 8 measures (eager)", golden,
         ["--proxies", PAPER_8, "--batch-file", BATCH, "--strategy", "eager"]),
        ("README command 1: `--sample 4 --seed 0 --proxies paper` (auto)", None,
         ["--sample", "4", "--seed", "0", "--proxies", "paper"]),
    ]
    lines = []
    for title, archs, extra in configs:
        runs = {}
        with tempfile.TemporaryDirectory() as cache:
            env = {**os.environ, "ZCJAX_COMPILE_CACHE": cache}
            for name in ("empty cache", "warm cache"):
                wall, stamps, rows = timed_rows(zcjax_cmd(archs, extra), env)
                runs[f"zcjax, {name}"] = (wall, stamps)
                print(f"{title}: zcjax {name}: {wall:.1f} s, first cell {stamps[0]:.1f} s", flush=True)
        cell_archs = archs or [json.loads(r)["arch"] for r in rows]
        if args.reference:
            wall, stamps = reference_times(args.torch_python, args.reference, cell_archs)
            runs["PyTorch reference"] = (wall, stamps)
            print(f"{title}: reference: {wall:.1f} s, first cell {stamps[0]:.1f} s", flush=True)
        ref = runs.get("PyTorch reference")
        lines += [f"### {title}", "",
                  "| run | process s | first cell s (since start) | cells | reference / this (process) |",
                  "| --- | ---: | ---: | ---: | ---: |"]
        for name, (wall, stamps) in runs.items():
            ratio = f"{ref[0] / wall:.2f}" if ref and name != "PyTorch reference" else ""
            lines.append(f"| {name} | {wall:.1f} | {stamps[0]:.1f} | {len(stamps)} | {ratio} |")
        if archs == golden:
            lines.append(f"| stored reference time (golden.json, another machine; measures only) | "
                         f"{sum(stored):.1f} | {stored[0]:.1f} | {len(stored)} | |")
        lines.append("")
    head = [f"Machine: {machine()}. Measured {time.strftime('%Y-%m-%d')} with `python bench/bench_cold_start.py"
            + (" --reference DIR --torch-python PY`." if args.reference else "`."), "",
            "Fresh processes, timed from their start by the bench (imports, data, compiles included); "
            "the compile cache is a new folder for the empty run, the same folder for the warm one. "
            + ("The reference runs live in the same session." if args.reference else
               "The live reference was not run (no --reference)."), ""]
    text = "\n".join(head + lines)
    print(text)
    if not args.no_write:
        write_section("cold_start", "## Cold start against the live reference (bench/bench_cold_start.py)\n\n" + text)


if __name__ == "__main__":
    main()
