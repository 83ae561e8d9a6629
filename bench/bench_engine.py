"""Cells per second of the scoring engine: per proxy group, per strategy and chunk size, per device count.

Measures on this machine, with the golden minibatch of 64 (CIFAR-10):

* each proxy group alone and the whole set, with the single-cell arch-as-data
  program (``--strategy batched --chunk-size 1``, what ``auto`` runs on CPU for
  runs of tens to a few thousand cells): compile time, cells/s, CPU
  utilisation, and the ratio to the PyTorch reference's median seconds per
  cell on the same machine;
* the data-free set, for chunk sizes 1 and 8 (vmap over cells) and for 1, 2 and
  4 virtual CPU devices (shard_map; each its own process);
* how time grows with the population (the same program on 8, 32 and 128 cells).

    python bench/bench_engine.py            # writes the 'engine' section of bench/RESULTS.md
    python bench/bench_engine.py --quick    # fewer cells and groups
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

from _report import HERE, Timer, machine, write_section

GOLDEN = os.path.join(HERE, "..", "tests", "data", "golden_nb201")
GROUPS = {
    "whole set (11 proxies + 12 SSNR)": "paper",
    "grad_norm, snip, plain (+SSNR)": "grad_norm,snip,plain,snip_ssnr,snip_ssnr_layerwise,plain_ssnr,plain_ssnr_layerwise",
    "fisher (+SSNR)": "fisher,fisher_ssnr,fisher_ssnr_layerwise",
    "grasp (+SSNR)": "grasp,grasp_ssnr,grasp_ssnr_layerwise",
    "jacob_cov": "jacob_cov",
    "synflow (+SSNR)": "synflow,synflow_ssnr,synflow_ssnr_layerwise",
    "synflow_bn (+SSNR)": "synflow_bn,synflow_bn_ssnr,synflow_bn_ssnr_layerwise",
    "params, flops, l2_norm": "params,flops,l2_norm",
}
QUICK_GROUPS = ("whole set (11 proxies + 12 SSNR)", "grad_norm, snip, plain (+SSNR)", "grasp (+SSNR)",
                "synflow (+SSNR)", "params, flops, l2_norm")
FREE = "synflow,synflow_ssnr,synflow_ssnr_layerwise,params,flops,l2_norm"

def sample_cells(n: int) -> list[tuple[int, str]]:
    import zcjax

    rng = np.random.default_rng(1)
    return [(int(i), zcjax.spaces.nb201.arch_at(int(i))) for i in rng.choice(15625, n, replace=False)]


def run_in_process(proxies: str, cells, x, y, chunk: int, strategy: str = "batched") -> dict:
    """Scores ``cells[:chunk]`` (the compile), then ``cells`` again with the same Scorer (the run)."""
    from zcjax import ScoreConfig, Scorer

    scorer = Scorer(ScoreConfig(proxies=proxies, strategy=strategy, chunk_size=chunk), x, y)
    with Timer() as compile_t:
        list(scorer.score(cells[:chunk]))
    with Timer() as run_t:
        list(scorer.score(cells))
    return {"compile_s": compile_t.seconds, "run_s": run_t.seconds, "cells": len(cells),
            "utilisation": run_t.utilisation}


def run_devices(devices: int, n_cells: int, chunk: int, proxies: str) -> dict:
    """run_in_process in a child process with ``devices`` virtual CPU devices (set before JAX starts)."""
    from zcjax.distributed import virtual_cpu_env

    out = subprocess.run([sys.executable, __file__, "--child", str(n_cells), str(chunk), proxies],
                         env=virtual_cpu_env(devices),
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer groups, cells and device counts")
    parser.add_argument("--child", nargs=3, metavar=("CELLS", "CHUNK", "PROXIES"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:  # one row of the device table, in its own process (see run_devices)
        n, chunk, proxies = args.child
        print(json.dumps(run_in_process(proxies, sample_cells(int(n)), None, None, int(chunk))))
        return

    gold = json.load(open(os.path.join(GOLDEN, "golden.json")))["archs"]
    reference_s = statistics.median(g["seconds_all_measures"] for g in gold)
    batch = np.load(os.path.join(GOLDEN, "batch.npz"))
    x, y = batch["x"], batch["y"]
    n_cells = 4 if args.quick else 8
    cells = sample_cells(n_cells)

    lines = [f"Machine: {machine()}. Measured {time.strftime('%Y-%m-%d')} with "
             f"`python bench/bench_engine.py{' --quick' if args.quick else ''}`.", "",
             f"### Per proxy group: single-cell arch-as-data program, {n_cells} random cells, minibatch 64", "",
             f"Reference: the PyTorch reference's median {reference_s:.2f} s per cell for its 8 measures, "
             "same machine. CPU = CPU seconds / wall seconds / cores while scoring (compile apart).", "",
             "| proxies | compile s | s per cell | cells/s | CPU | reference s / ours |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for label in (QUICK_GROUPS if args.quick else GROUPS):
        r = run_in_process(GROUPS[label], cells, x, y, 1)
        per_cell = r["run_s"] / r["cells"]
        lines.append(f"| {label} | {r['compile_s']:.0f} | {per_cell:.2f} | {1 / per_cell:.2f} | "
                     f"{r['utilisation']:.0%} | {reference_s / per_cell:.2f} |")
        print(lines[-1], file=sys.stderr, flush=True)

    lines += ["", "### Data-free set (synflow + SSNR, params, flops, l2_norm): chunk size and device count", "",
              "Virtual CPU devices share the same cores; each row is its own process.", "",
              "| devices | chunk | cells | compile s | s per cell | cells/s | CPU |", "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    settings = [(1, 1), (1, 8), (2, 2)] if args.quick else [(1, 1), (1, 8), (2, 2), (4, 4), (4, 16)]
    for devices, chunk in settings:
        r = run_devices(devices, 32, chunk, FREE)
        per_cell = r["run_s"] / r["cells"]
        lines.append(f"| {devices} | {chunk} | {r['cells']} | {r['compile_s']:.0f} | {per_cell:.3f} | "
                     f"{1 / per_cell:.2f} | {r['utilisation']:.0%} |")
        print(lines[-1], file=sys.stderr, flush=True)

    lines += ["", "### Population size (data-free set, single-cell program, 1 device)", "",
              "| cells | s | s per cell |", "| ---: | ---: | ---: |"]
    from zcjax import ScoreConfig, Scorer

    scorer = Scorer(ScoreConfig(proxies=FREE, strategy="batched", chunk_size=1))
    list(scorer.score(sample_cells(1)))
    for n in ((8, 32) if args.quick else (8, 32, 128)):
        with Timer() as t:
            list(scorer.score(sample_cells(n)))
        lines.append(f"| {n} | {t.seconds:.1f} | {t.seconds / n:.3f} |")
        print(lines[-1], file=sys.stderr, flush=True)

    text = "## Engine: proxies, strategies, chunk sizes, devices\n\n" + "\n".join(lines)
    print(text)
    write_section("engine", text)


if __name__ == "__main__":
    main()
