"""Spearman of the synflow SSNR variants with and without the 729 cells that hold no convolution.

In a cell without convolutions, the four reduction convolutions have an exactly
zero synflow gradient; their per-layer sum/std is float64 rounding noise (see
the parity notes in tests/test_parity.py), which moves synflow_ssnr_layerwise.
Writes no_conv_cells.md next to this script.
"""

import os

import numpy as np

from zcjax.evaluate import load_scores, spearman
from zcjax.spaces.nb201 import all_ops
from zcjax.spaces.nb201.network import CONV1, CONV3

HERE = os.path.dirname(os.path.abspath(__file__))
NAMES = ("synflow", "synflow_ssnr", "synflow_ssnr_layerwise")

lines = ["| dataset | proxy | all cells | cells with a conv | cells without a conv (n) |", "| --- | --- | ---: | ---: | ---: |"]
for ds in ("cifar10", "cifar100", "ImageNet16-120"):
    path = os.path.join(HERE, f"{ds}_data_free.jsonl.gz")
    if not os.path.isfile(path):
        continue
    indices, scores, accuracy = load_scores(path, ds)
    has_conv = np.isin(all_ops()[indices], (CONV3, CONV1)).any(axis=1)
    for name in NAMES:
        s = scores[name]
        lines.append(f"| {ds} | {name} | {spearman(s, accuracy):.4f} | {spearman(s[has_conv], accuracy[has_conv]):.4f} "
                     f"| {spearman(s[~has_conv], accuracy[~has_conv]):.4f} ({int((~has_conv).sum())}) |")
text = "\n".join(lines) + "\n"
print(text)
with open(os.path.join(HERE, "no_conv_cells.md"), "w") as f:
    f.write(text)
