"""The SSNR study's Table 1: Kendall tau of synflow, overall SSNR and layer-wise SSNR across spaces.

    python results/ssnr/table1.py            # prints the table, writes results/ssnr/table1.md

Each row reads a score file made by ``python -m zcjax.score`` (``run_table1.sh``
makes the missing ones) and ranks its cells against the benchmark accuracy
the file's space gives (``zcjax.evaluate.load_scores``: NAS-Bench-201
validation accuracy by index; other spaces their ground truth by arch).
Rows whose file does not exist yet are listed as "not run"; a file still being
written (not yet gzipped), or a run stopped part-way and kept as
``.partial.gz``, is read as far as it goes, and its row says so.
"""

from __future__ import annotations

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
COLUMNS = ("synflow", "synflow_ssnr", "synflow_ssnr_layerwise")

# (label, score file relative to the repository, published synflow / SSNR / layer-wise SSNR)
ROWS = [
    ("NB201 CIFAR-10", "results/nb201/cifar10_data_free.jsonl.gz", (0.5152, 0.5316, 0.5549)),
    ("NB201 CIFAR-100", "results/nb201/cifar100_data_free.jsonl.gz", (0.5615, 0.5252, 0.5943)),
    # The study's own networks: NASLib's (affine cell BatchNorm, no cell conv bias, synflow without BatchNorm).
    ("NB201 CIFAR-10, NASLib's network", "results/nb201/cifar10_naslib_ssnr.jsonl.gz", (0.5152, 0.5316, 0.5549)),
    ("NB201 CIFAR-100, NASLib's network", "results/nb201/cifar100_naslib_ssnr.jsonl.gz", (0.5615, 0.5252, 0.5943)),
    ("NB301 CIFAR-10", "results/nb301/cifar10_trained_ssnr.jsonl.gz", (0.1199, 0.2072, 0.3392)),
    ("TNB101 micro jigsaw", "results/tnb101_micro/jigsaw_trained_ssnr.jsonl.gz", (0.3311, 0.3829, 0.3807)),
    ("TNB101 micro class_object", "results/tnb101_micro/class_object_trained_ssnr.jsonl.gz", (0.4926, 0.4337, 0.4356)),
    ("TNB101 micro class_scene", "results/tnb101_micro/class_scene_trained_ssnr.jsonl.gz", (0.5408, 0.5995, 0.5794)),
]


def table() -> str:
    from zcjax.evaluate import load_scores
    from zcjax.results import find_results_file, is_finished, read_rows
    from zcjax.stats import kendall

    lines = ["| space, task | cells | synflow (ours / published) | SSNR | layer-wise SSNR |",
             "| --- | --- | --- | --- | --- |"]
    for label, path, published in ROWS:
        found = find_results_file(os.path.join(ROOT, path))
        if found is None or (not is_finished(found) and not read_rows(found)):  # not started, or no row yet
            state = "not run" if found is None else "started, no cell yet"
            lines.append(f"| {label} | {state} | – / {published[0]} | – / {published[1]} | – / {published[2]} |")
            continue
        _, scores, acc = load_scores(found)
        cells = [f"{kendall(scores[c], acc):.4f} / {p}" if c in scores else f"– / {p}"
                 for c, p in zip(COLUMNS, published)]
        partial = "" if is_finished(found) else " (not finished)"
        lines.append(f"| {label} | {len(acc)}{partial} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.path.insert(0, ROOT)
    text = table()
    with open(os.path.join(HERE, "table1.md"), "w") as f:
        f.write("# SSNR Table 1 (Kendall tau with the benchmark accuracy; ours / published)\n\n"
                "`python results/ssnr/table1.py`; score files by `sh results/ssnr/run_table1.sh`.\n\n" + text)
    print(text)
