"""Seconds per cell of the proxies published after the paper, beside the paper's set, in one run.

Each group runs with the strategy its results script uses: the single-cell
arch-as-data program (``--strategy batched --chunk-size 1``, what ``auto`` picks
on CPU for runs of tens to thousands of cells), or ``eager`` for the proxies
whose many reverse passes run several times slower in that program (te_ntk's 64,
VKDNW's 10: bench/NOTES.md). Full-size NAS-Bench-201 networks, the golden
minibatch of 64 (CIFAR-10), the same random cells for every group: the first
cell (the compile, or eager's layer programs), then seconds per cell. An ensemble
(``rank:...``, ``az_nas``, ``te_nas``) ranks a finished population, which costs
nothing per cell: its cost is its members', and the ensembles' rows time their
members in one program.

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
BATCHED, EAGER = "batched", "eager"
GROUPS = {  # label: (proxies, strategy)
    "the paper's set (11 proxies + 12 SSNR)": "paper",
    "nwot": "nwot",
    "nwot_randn": "nwot_randn",
    "swap": "swap",
    "meco": "meco",
    "meco_opt": "meco_opt",
    "meco_randn": "meco_randn",
    "zico": "zico",
    "epe_nas": "epe_nas",
    "zen": "zen",
    "AZ-NAS (3 scores)": "az_expressivity,az_progressivity,az_trainability",
    "te_ntk": ("te_ntk", EAGER),
    "te_linear_regions": "te_linear_regions",
    "VKDNW (entropy, dim)": ("vkdnw_entropy,vkdnw_dim", EAGER),
    "ensemble rank:synflow_ssnr_layerwise+jacob_cov+meco (members)": "synflow_ssnr_layerwise,jacob_cov,meco",
    "ensemble rank:az_expressivity+az_trainability+synflow_ssnr_layerwise+meco_randn (members; data-free)":
        "az_expressivity,az_trainability,synflow_ssnr_layerwise,meco_randn",
    "every proxy": ("all", EAGER),
}


def group(label: str) -> tuple[str, str]:
    """(proxies, strategy) of a group."""
    spec = GROUPS[label]
    return (spec, BATCHED) if isinstance(spec, str) else spec


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
             f"--cells {args.cells}`: the same {args.cells} random full-size cells for every group, after a first cell "
             "(the batched strategy's one program compiles there; eager compiles its layer programs on the cells "
             "that first need them, nearly all in the first).", "",
             f"For scale: the PyTorch reference's median {reference_s:.2f} s per cell for the paper's 8 measures, as "
             "stored with the golden cells (another machine; bench/RESULTS.md's `cold_start` section has the live "
             "reference beside zcjax).", "",
             "| proxies | strategy | first cell s | s per cell | vs the paper's set |",
             "| --- | --- | ---: | ---: | ---: |"]
    paper = None
    for label in labels:
        proxies, strategy = group(label)
        r = run_in_process(proxies, cells, x, y, 1, strategy)
        per_cell = r["run_s"] / r["cells"]
        paper = per_cell if paper is None else paper
        lines.append(f"| {label} | {strategy} | {r['compile_s']:.0f} | {per_cell:.2f} | {per_cell / paper:.2f}x |")
        print(lines[-1], file=sys.stderr, flush=True)
    text = "## The later proxies: seconds per cell (CPU)\n\n" + "\n".join(lines)
    print(text)
    write_section("later", text)


if __name__ == "__main__":
    main()
