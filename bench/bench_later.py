"""Seconds per cell of the proxies published after the paper, beside the paper's set, in one run.

Each group runs the single-cell arch-as-data program (``--strategy batched
--chunk-size 1``, what ``auto`` picks on CPU for runs of tens to thousands of
cells), full-size NAS-Bench-201 networks, the golden minibatch of 64 (CIFAR-10),
on the same random cells: compile time, then seconds per cell. The
ensembles (``rank:...``, ``az_nas``, ``te_nas``) cost nothing per cell beyond
their members: they rank a finished population.

    python bench/bench_later.py            # writes the 'later' section of bench/RESULTS.md
    python bench/bench_later.py --cells 2  # fewer cells
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np

from _report import HERE, machine, write_section
from bench_engine import run_in_process, sample_cells

GOLDEN = os.path.join(HERE, "..", "tests", "data", "golden_nb201")
GROUPS = {
    "the paper's set (11 proxies + 12 SSNR)": "paper",
    "nwot": "nwot",
    "swap": "swap",
    "meco": "meco",
    "meco_opt": "meco_opt",
    "meco_randn": "meco_randn",
    "zico": "zico",
    "epe_nas": "epe_nas",
    "zen": "zen",
    "AZ-NAS (3 scores)": "az_expressivity,az_progressivity,az_trainability",
    "te_ntk": "te_ntk",
    "te_linear_regions": "te_linear_regions",
    "VKDNW (entropy, dim)": "vkdnw_entropy,vkdnw_dim",
    "every proxy": "all",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cells", type=int, default=4, help="cells timed per group after the compile (default 4)")
    parser.add_argument("--groups", default=None, help="comma-separated group labels (default: all)")
    args = parser.parse_args()
    gold = json.load(open(os.path.join(GOLDEN, "golden.json")))["archs"]
    reference_s = statistics.median(g["seconds_all_measures"] for g in gold)
    batch = np.load(os.path.join(GOLDEN, "batch.npz"))
    x, y = batch["x"], batch["y"]
    cells = sample_cells(args.cells + 1)
    labels = list(GROUPS) if args.groups is None else [g.strip() for g in args.groups.split(",")]
    lines = [f"Machine: {machine()}. Measured {time.strftime('%Y-%m-%d')} with `python bench/bench_later.py "
             f"--cells {args.cells}`: the same {args.cells} random full-size cells for every group, after one cell "
             "that compiles the program.", "",
             f"Reference: the PyTorch reference's median {reference_s:.2f} s per cell for the paper's 8 measures, "
             "same machine.", "",
             "| proxies | compile s | s per cell | vs the paper's set |", "| --- | ---: | ---: | ---: |"]
    paper = None
    for label in labels:
        r = run_in_process(GROUPS[label], cells, x, y, 1)
        per_cell = (r["run_s"]) / r["cells"]
        paper = per_cell if paper is None else paper
        lines.append(f"| {label} | {r['compile_s']:.0f} | {per_cell:.2f} | {per_cell / paper:.2f}x |")
        print(lines[-1], file=sys.stderr, flush=True)
    text = "## The later proxies: seconds per cell (CPU)\n\n" + "\n".join(lines)
    print(text)
    write_section("later", text)


if __name__ == "__main__":
    main()
