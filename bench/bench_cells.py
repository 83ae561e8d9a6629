"""Seconds per cell for the whole proxy set, per strategy, against the PyTorch reference.

Scores the 10 golden NAS-Bench-201 cells (the reference's own wall time for its
8 measures on a 2-core CPU is stored with them) on the golden minibatch of 64,
with every proxy and SSNR value:

* eager, first pass: the cells in order from a fresh process, each layer
  program compiled when first met (cell 0 pays most of it);
* eager, second pass: the same cells again. Nothing is kept per cell between
  passes, so this is what any new cell costs once the layers are compiled;
  checked on 20 other cells spread over the space;
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

    # Eager first: in a fresh process its first pass pays the layers' compilation.
    eager = Scorer(ScoreConfig(strategy="eager"), x, y)
    eager_first = [timed(lambda: list(eager.score([cell])))[1] for cell in cells]
    eager_second = [timed(lambda: list(eager.score([cell])))[1] for cell in cells]
    spread = [(i, zcjax.spaces.nb201.arch_at(i)) for i in range(397, 15625, 15625 // 20)][:20]
    eager_spread = [timed(lambda: list(eager.score([cell])))[1] for cell in spread]
    print(f"eager: first pass {eager_first}, second {eager_second}, spread {eager_spread}", file=sys.stderr)

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
        "| cell | reference s | eager, first pass s | eager, second pass s | per-cell cold s | per-cell warm s "
        "| batched warm s | reference / eager (2nd) | reference / per-cell cold | reference / batched |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    columns = (reference, eager_first, eager_second, cold, warm, batched_warm)
    for k, (cell, r, e1, e2, c, w, b) in enumerate(zip(cells, *columns)):
        lines.append(f"| {k} `{cell[1]}` | {r:.2f} | {e1:.2f} | {e2:.2f} | {c:.2f} | {w:.2f} | {b:.2f} "
                     f"| {r / e2:.2f} | {r / c:.2f} | {r / b:.2f} |")
    med = statistics.median
    r, e1, e2, c, w, b = (med(v) for v in columns)
    lines += [
        f"| **median** | {r:.2f} | {e1:.2f} | {e2:.2f} | {c:.2f} | {w:.2f} | {b:.2f} | {r / e2:.2f} | {r / c:.2f} "
        f"| {r / b:.2f} |",
        f"| **total** | {sum(reference):.1f} | {sum(eager_first):.1f} | {sum(eager_second):.1f} | {sum(cold):.1f} "
        f"| {sum(warm):.1f} | {sum(batched_warm):.1f} | {sum(reference) / sum(eager_second):.2f} "
        f"| {sum(reference) / sum(cold):.2f} | {sum(reference) / sum(batched_warm):.2f} |", "",
        f"Eager on 20 other cells spread over the space (indices 397, 1178, ...), after the two passes: "
        f"median {med(eager_spread):.2f} s, mean {statistics.mean(eager_spread):.2f} s, "
        f"max {max(eager_spread):.2f} s per cell.", "",
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
