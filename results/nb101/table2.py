"""The zero-cost paper's Table 2 row for NAS-Bench-101, with NASLib's own scores of the same cells beside it.

    python results/nb101/table2.py        # prints the table, writes results/nb101/table2.md

Reads ``cifar10_trained_paper.jsonl`` (``run_table2.sh`` makes it; finished ``.gz``,
being written, or stopped part-way ``.partial.gz``) and ranks its cells against the
benchmark's validation accuracy (the mean over NASLib's rows of a cell). Columns:
our Spearman rho with its 95% bootstrap interval, the published value (Abdelfattah
et al. 2021, Table 2, all of NAS-Bench-101), the Spearman rho of NASLib's score of
the same proxy on the same cells (NAS-Bench-Suite-Zero), and the Spearman rho
between ours and NASLib's: how alike the two implementations rank the cells.
"""

from __future__ import annotations

import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
NAME = "cifar10_trained_paper.jsonl"
PUBLISHED = {"grad_norm": 0.20, "snip": 0.16, "grasp": 0.45, "fisher": 0.26, "synflow": 0.37, "jacob_cov": 0.38}
NASLIB = {"jacob_cov": "jacov"}  # our name -> NASLib's, where they differ


def table(path: str) -> str:
    from zcjax import spaces
    from zcjax.bootstrap import bootstrap_ci
    from zcjax.evaluate import load_scores
    from zcjax.results import is_finished, read_rows
    from zcjax.spaces.nb101 import benchmark
    from zcjax.stats import spearman

    space = spaces.get("nb101")
    truth = space.ground_truth("cifar10")
    _, scores, acc = load_scores(path)
    archs = [a for a in (space.canonical(r["arch"]) for r in read_rows(path)) if a in truth]  # load_scores' cells
    lines = [f"{len(acc)} of {len(truth)} cells"
             + ("" if is_finished(path) else " (not finished: `sh results/nb101/run_table2.sh` resumes the run)") + ".", "",
             "| proxy | ours: Spearman rho [95% CI] | published (all NB101) | NASLib's score, same cells | "
             "ours vs NASLib's |", "| --- | --- | --- | --- | --- |"]
    for proxy in [*PUBLISHED, *(p for p in scores if p not in PUBLISHED)]:
        if proxy not in scores:
            continue
        ours = scores[proxy]
        low, high = bootstrap_ci(spearman, ours, acc, n=1000, seed=0)
        naslib_name = NASLIB.get(proxy, proxy)
        if naslib_name in benchmark.PROXIES:
            theirs = space.naslib_scores(naslib_name)
            t = np.array([theirs.get(a, np.nan) for a in archs], dtype=np.float64)
            naslib_rho, agree = f"{spearman(t, acc):.3f}", f"{spearman(ours, t):.3f}"
        else:
            naslib_rho = agree = "–"
        published = PUBLISHED.get(proxy)
        lines.append(f"| {proxy} | {spearman(ours, acc):.3f} [{low:.3f}, {high:.3f}] | "
                     f"{'–' if published is None else f'{published:.2f}'} | {naslib_rho} | {agree} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.path.insert(0, ROOT)
    from zcjax.results import find_results_file

    found = find_results_file(os.path.join(HERE, NAME))
    if found is None:
        sys.exit(f"no {NAME} under {HERE}: run sh results/nb101/run_table2.sh first")
    text = table(found)
    with open(os.path.join(HERE, "table2.md"), "w") as f:
        f.write("# Zero-cost paper, Table 2: NAS-Bench-101 (CIFAR-10, Spearman rho with validation accuracy)\n\n"
                "`sh results/nb101/run_table2.sh` (scores), `python results/nb101/table2.py` (this table).\n\n"
                + text)
    print(text)
