"""Seconds per cell for the whole proxy set, per strategy, against the PyTorch reference.

Scores the 10 golden NAS-Bench-201 cells (the reference's own wall time for its
8 measures on a 2-core CPU is stored with them) on the golden minibatch of 64,
with every proxy and SSNR value:

* per-cell, cold: first call for a cell (its compilation included);
* per-cell, warm: the same cell again (compiled program reused);
* batched, warm: the one arch-as-data program with chunks of 1 (on one CPU
  device: the unbatched program, what ``auto`` runs on CPU for runs of tens
  to a few thousand cells;
  compiled once, time shown apart).

Also the data-free proxies (synflow, synflow_bn, their SSNR, l2_norm, params,
flops) with the batched program, in cells per second.

    python bench/bench_cells.py            # prints a table, writes the 'cells' section of bench/RESULTS.md
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time

import numpy as np

import zcjax
from zcjax import ScoreConfig, Scorer

from _report import HERE, machine, write_section

GOLDEN = os.path.join(HERE, "..", "tests", "data", "golden_nb201")


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def main() -> None:
    gold = json.load(open(os.path.join(GOLDEN, "golden.json")))["archs"]
    batch = np.load(os.path.join(GOLDEN, "batch.npz"))
    x, y = batch["x"], batch["y"]
    cells = [(zcjax.spaces.nb201.index_of(g["arch"]), g["arch"]) for g in gold]
    reference = [g["seconds_all_measures"] for g in gold]

    per_cell = Scorer(ScoreConfig(strategy="per-cell"), x, y)
    cold, warm = [], []
    for cell in cells:
        cold.append(timed(lambda: list(per_cell.score([cell])))[1])
        warm.append(timed(lambda: list(per_cell.score([cell])))[1])
        print(f"per-cell {cell[1]}: cold {cold[-1]:.2f} s, warm {warm[-1]:.2f} s", file=sys.stderr)

    batched = Scorer(ScoreConfig(strategy="batched", chunk_size=1), x, y)
    compile_s = timed(lambda: list(batched.score(cells[:1])))[1]
    batched_warm = [timed(lambda: list(batched.score([cell])))[1] for cell in cells]

    free = Scorer(ScoreConfig(proxies="data-free", strategy="batched", chunk_size=8))
    sample = [(i, zcjax.spaces.nb201.arch_at(i)) for i in range(0, 15625, 15625 // 64)][:64]
    free_compile = timed(lambda: list(free.score(sample[:8])))[1]
    free_s = timed(lambda: list(free.score(sample)))[1]

    lines = [
        "# Benchmarks", "",
        f"Machine: {machine()}.", f"Measured {time.strftime('%Y-%m-%d')} with `python bench/bench_cells.py`.", "",
        "## Whole proxy set, seconds per cell (golden cells, minibatch of 64)", "",
        "All 11 proxies and 12 SSNR values. Reference: the PyTorch reference's wall time for its 8 measures "
        "on a 2-core CPU, stored with the golden values (cell 0 includes its warm-up).", "",
        "| cell | reference s | per-cell cold s | per-cell warm s | batched warm s | reference / per-cell cold | reference / batched |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for k, (cell, r, c, w, b) in enumerate(zip(cells, reference, cold, warm, batched_warm)):
        lines.append(f"| {k} `{cell[1]}` | {r:.2f} | {c:.2f} | {w:.2f} | {b:.2f} | {r / c:.2f} | {r / b:.2f} |")
    med = statistics.median
    lines += [
        f"| **median** | {med(reference):.2f} | {med(cold):.2f} | {med(warm):.2f} | {med(batched_warm):.2f} | "
        f"{med(reference) / med(cold):.2f} | {med(reference) / med(batched_warm):.2f} |", "",
        f"Batched program: compiled once in {compile_s:.1f} s (first call, included in no row above).", "",
        "## Data-free proxies (synflow, synflow_bn and their SSNR, l2_norm, params, flops), batched", "",
        f"64 cells spread over the space, chunks of 8: {free_s:.1f} s, {64 / free_s:.2f} cells/s "
        f"(compiled once in {free_compile:.1f} s beforehand); projected full space (15,625 cells): "
        f"{15625 / (64 / free_s) / 60:.0f} min.", "",
    ]
    text = "\n".join(lines[2:])  # the '# Benchmarks' title belongs to RESULTS.md
    print(text)
    write_section("cells", text)


if __name__ == "__main__":
    main()
