"""Which strategy scores the other spaces fastest on this machine: per-cell, eager or batched, per proxy group.

    python bench/bench_space_strategies.py [--cells 6] [--spaces nb301,tnb101_micro,nas_bench_macro]
        [--groups synflow,paper] [--timeout 900] [--force]

Each (space, proxy group, strategy) is one fresh ``python -m zcjax.score --space S --sample K --seed 0`` process
with the compile cache off, as a new user's first run meets it; the rows are timed as they arrive on stdout. Groups:
``synflow`` is synflow with its SSNR, params and flops (the SSNR table's set, data-free); ``paper`` is the zero-cost paper's
proxies and their SSNR, data ones included. Spaces whose tasks have no image dataset (TransNAS-Bench-101) get a
batch file of 16 Gaussian images of the network's input shape (timing only). The ``batched`` row is run where the
space has an arch-as-data network. Each strategy's values are compared with per-cell's (largest relative
difference over every proxy and cell). Writes the ``space_strategies`` section of bench/RESULTS.md; the raw
timings go to ``bench/space_strategies.json``: a rerun skips what is there, including runs that stopped (timed out,
killed: an op-by-op NB301 run with the paper's proxies grew to 22.5 GB) unless ``--force``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

from _report import HERE, machine, write_section

GROUPS = {"synflow": "synflow,synflow_ssnr,synflow_ssnr_layerwise,params,flops", "paper": "paper"}
TASKS = {"tnb101_micro": "class_scene", "tnb101_macro": "class_scene"}
RAW = os.path.join(HERE, "space_strategies.json")
FOOTER = """What `--strategy auto` takes from it (`Space.cpu_strategies`, zcjax/space_scoring.py): on a CPU,
NAS-Bench-Macro batched for both groups (the data proxies too: 19.6 s a later cell against 51.5 per-cell), NB301 and
TransNAS-Bench-101 micro eager for data-free runs (NB301 16.4 s a later cell against 52.9), and per-cell wherever a
proxy reads the minibatch outside an arch-as-data program: op by op, the gradient and Hessian passes keep every
layer's residuals at the minibatch's size (NB301 with the paper's proxies was killed at 22.5 GB; TransNAS-Bench-101
held 8 GB at 16 images) and were no faster. Eager agrees with per-cell to rounding except synflow_bn on NB301 and
TransNAS-Bench-101 (2-4%, float64 both), where it is rounding itself: BatchNorm with batch statistics on synflow's
one all-ones image subtracts the mean of nearly constant maps, so little but rounding remains (a TransNAS-Bench-101
class_scene cell: synflow_bn 2.34e-13 compiled, 2.26e-13 op by op, synflow 2.9e38 both ways); synflow without
BatchNorm agrees to 4e-16."""


def _batch_file(space: str, task: str, folder: str) -> str | None:
    from zcjax import spaces

    sp = spaces.get(space)
    if sp.dataset(task) is not None:
        return None
    net = sp.network(sp.sample(0, 1)[0], task)
    h, w, c = net.input_shape
    rng = np.random.default_rng(0)
    path = os.path.join(folder, f"{space}_{task}.npz")
    np.savez(path, x=rng.normal(size=(16, c, h, w)).astype(np.float32),
             y=rng.integers(0, net.num_classes, 16).astype(np.int64))
    return path


def run_one(space: str, task: str, proxies: str, strategy: str, cells: int, timeout: float,
            batch_file: str | None) -> dict:
    """One fresh scoring process; the seconds since its start at which each row arrived, and the rows.

    The process is killed at ``timeout`` seconds, rows or not (stdout is read by a thread; stderr goes to a file,
    so that neither pipe can fill and stall it).
    """
    cmd = [sys.executable, "-m", "zcjax.score", "--space", space, "--task", task, "--sample", str(cells), "--seed", "0",
           "--proxies", proxies, "--strategy", strategy, "--output", "-", "--no-progress"]
    if batch_file:
        cmd += ["--batch-file", batch_file]
    env = {**os.environ, "ZCJAX_COMPILE_CACHE": "off"}
    lines: queue.Queue = queue.Queue()
    with tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True, env=env)
        reader = threading.Thread(target=lambda: [lines.put((time.perf_counter() - start, line)) for line in proc.stdout],
                                  daemon=True)
        reader.start()
        arrivals, rows, timed_out = [], [], False
        while reader.is_alive() or not lines.empty():
            try:
                at, line = lines.get(timeout=min(5.0, max(0.1, timeout - (time.perf_counter() - start))))
            except queue.Empty:
                if time.perf_counter() - start > timeout:
                    timed_out = True
                    proc.kill()
                    break
                continue
            if line.strip().startswith("{"):
                arrivals.append(at)
                rows.append(json.loads(line))
        proc.wait()
        total = time.perf_counter() - start
        err.seek(0)
        error = err.read().strip().splitlines()[-1:] if proc.returncode != 0 and not timed_out else []
    return {"space": space, "task": task, "proxies": proxies, "strategy": strategy, "process_s": total,
            "arrivals": arrivals, "rows": rows, "complete": len(rows) == cells, "error": error,
            "returncode": proc.returncode, "timed_out": timed_out}


def _stopped(r: dict) -> str:
    """Why a process gave fewer rows than asked."""
    if r.get("timed_out"):
        why = "stopped at --timeout"
    elif r.get("returncode") == -9:
        why = "killed by SIGKILL (the OOM killer, if the kernel log says so)"
    else:
        why = f"failed ({' '.join(r.get('error') or []) or 'exit ' + str(r.get('returncode'))})"
    return f"{why}: {len(r['arrivals'])} rows"


def _max_rel(a: list[dict], b: list[dict]) -> tuple[float, str]:
    """The largest relative difference between the rows of two runs (same arch), and the proxy where it is."""
    worst, where = 0.0, ""
    by_arch = {r["arch"]: r for r in b}
    for row in a:
        other = by_arch.get(row["arch"])
        if other is None:
            continue
        for k, v in row.items():
            if k in ("index", "arch") or not isinstance(v, (int, float)) or not isinstance(other.get(k), (int, float)):
                continue
            u = other[k]
            if math.isnan(v) and math.isnan(u):
                continue
            rel = abs(v - u) / max(abs(u), 1e-30)
            if rel > worst:
                worst, where = rel, k
    return worst, where


def table(results: list[dict], cells: int, timeout: float) -> str:
    lines = [f"Machine: {machine()}. Measured {time.strftime('%Y-%m-%d')} with "
             f"`python bench/bench_space_strategies.py --cells {cells} --timeout {timeout:.0f}`: one fresh "
             f"`python -m zcjax.score --space S --sample {cells} --seed 0 --strategy X` process a row, compile cache "
             "off; rows timed as they arrive.", "",
             "| space, task | proxies | strategy | process s | first row s | later rows, median s a cell | "
             f"{cells} cells s a cell | values vs per-cell |",
             "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    for r in results:
        base = next((b for b in results if b["space"] == r["space"] and b["proxies"] == r["proxies"]
                     and b["strategy"] == "per-cell"), None)
        a = r["arrivals"]
        later = statistics.median(np.diff(a)) if len(a) > 1 else math.nan
        done = f"{r['process_s'] / len(a):.1f}" if r["complete"] else _stopped(r)
        diff = ""
        if r["strategy"] != "per-cell" and base is not None:
            worst, where = _max_rel(r["rows"], base["rows"])
            diff = f"{worst:.1e} ({where})" if where else ""
        group = next((g for g, p in GROUPS.items() if p == r["proxies"]), r["proxies"])
        lines.append(f"| {r['space']}, {r['task']} | {group} | {r['strategy']} | {r['process_s']:.1f} | "
                     f"{a[0] if a else math.nan:.1f} | {later:.1f} | {done} | {diff} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=6)
    parser.add_argument("--spaces", default="nb301,tnb101_micro,nas_bench_macro")
    parser.add_argument("--groups", default="synflow,paper")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds a process may run")
    parser.add_argument("--force", action="store_true", help="run again what stopped before (timed out, killed)")
    args = parser.parse_args()
    from zcjax import registry, spaces

    done = json.load(open(RAW)) if os.path.isfile(RAW) else []
    with tempfile.TemporaryDirectory() as folder:
        for space in args.spaces.split(","):
            task = TASKS.get(space, spaces.get(space).tasks[0])
            for group in args.groups.split(","):
                proxies = GROUPS[group]
                strategies = ["per-cell", "eager"]
                if spaces.get(space).arch_as_data and not registry.reads_relus(registry.resolve(proxies, "model")):
                    strategies.append("batched")
                for strategy in strategies:
                    previous = next((r for r in done if (r["space"], r["proxies"], r["strategy"])
                                     == (space, proxies, strategy)), None)
                    if previous is not None and (len(previous["rows"]) == args.cells if previous["complete"]
                                                 else not args.force):
                        continue
                    needs = any(registry.PROXIES[registry.base_proxy(n)].needs_data
                                for n in registry.resolve(proxies, "model"))
                    batch = _batch_file(space, task, folder) if needs else None
                    result = run_one(space, task, proxies, strategy, args.cells, args.timeout, batch)
                    print(f"{space} {group} {strategy}: {result['process_s']:.1f} s, rows at "
                          f"{', '.join(f'{t:.1f}' for t in result['arrivals'])} {' '.join(result['error'])}", flush=True)
                    done = [r for r in done if r is not previous] + [result]
                    with open(RAW, "w") as f:
                        json.dump(done, f, indent=1)
    text = table(done, args.cells, args.timeout)
    print(text)
    write_section("space_strategies", "## Strategies for the other spaces (bench/bench_space_strategies.py)\n\n" + text
                  + "\n\n" + FOOTER)


if __name__ == "__main__":
    main()
