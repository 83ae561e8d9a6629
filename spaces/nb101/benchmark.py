"""NAS-Bench-101 ground truth: NASLib's 500 scored CIFAR-10 rows (NAS-Bench-Suite-Zero).

``zcjax/_data/spaces/nb101_cifar10_500.jsonl.gz`` holds 500 rows of NASLib's
``zc_nasbench101.json``: per row NASLib's key (an unpruned 7-vertex spec, see
:func:`~zcjax.spaces.nb101.arch.naslib_key`), the benchmark's CIFAR-10
validation accuracy (percent, 108 epochs: one of its 3 training runs, as
NASLib's query draws it) and NASLib's proxy scores of its network
(``params`` and ``flops`` in millions; see :func:`naslib_flops` for what its
flops count).

NASLib drew random specs, so the 500 rows are 292 distinct cells: 55 rows
prune to the 2-vertex cell (input -> output), and a cell's rows carry
different runs' accuracies. :func:`metric` reduces a cell's rows (mean by
default).
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..space import ground_truth_rows
from . import arch as _arch

TABLE_FILE = "nb101_cifar10_500.jsonl.gz"
NUM_ROWS = 500
PROXIES: tuple[str, ...] = ("epe_nas", "fisher", "flops", "grad_norm", "grasp", "jacov", "l2_norm", "params", "plain",
                            "snip", "synflow")
REDUCTIONS: tuple[str, ...] = ("mean", "first", "all")


@functools.lru_cache(maxsize=1)
def _rows() -> tuple[dict[str, Any], ...]:
    rows = ground_truth_rows(TABLE_FILE)
    if len(rows) != NUM_ROWS:
        raise RuntimeError(f"{TABLE_FILE}: expected {NUM_ROWS} rows, got {len(rows)}")
    out = []
    for row in rows:
        key = tuple(int(v) for v in ast.literal_eval(row["naslib_key"]))
        out.append({"naslib_key": key, "arch": _arch.canonical_arch(key), "val_accuracy": float(row["val_accuracy"]),
                    **{f"naslib_{k}": float(v) for k, v in row["naslib_scores"].items()}})
    return tuple(out)


def rows() -> list[dict[str, Any]]:
    """The 500 rows in file order: ``{'naslib_key', 'arch' (canonical), 'val_accuracy', 'naslib_<proxy>'...}``."""
    return [dict(r) for r in _rows()]


def _reduce(values: Sequence[float], reduce: str) -> Any:
    if reduce == "mean":
        return float(np.mean(values))
    if reduce == "first":
        return values[0]
    return list(values)


def metric(name: str = "val_accuracy", reduce: str = "mean") -> dict[tuple[int, ...], Any]:
    """One column per cell, ``{canonical arch: value}``, cells in order of their first row.

    Args:
      name: 'val_accuracy' (percent) or a NASLib proxy (``PROXIES``, or with
        the ``naslib_`` prefix).
      reduce: how a cell's rows combine: 'mean' (default), 'first' (file
        order) or 'all' (the list of the rows' values).

    Raises:
      ValueError: an unknown name or reduction.
    """
    key = name if name == "val_accuracy" or name.startswith("naslib_") else f"naslib_{name}"
    if key != "val_accuracy" and key[len("naslib_"):] not in PROXIES:
        raise ValueError(f"unknown NAS-Bench-101 metric {name!r}; valid metrics are val_accuracy, {', '.join(PROXIES)}")
    if reduce not in REDUCTIONS:
        raise ValueError(f"unknown reduction {reduce!r}; valid reductions are {', '.join(REDUCTIONS)}")
    grouped: dict[tuple[int, ...], list[float]] = {}
    for row in _rows():
        grouped.setdefault(row["arch"], []).append(row[key])
    return {a: _reduce(v, reduce) for a, v in grouped.items()}


def naslib_flops(arch: Any, stem_channels: int = 128, num_stacks: int = 3, cells_per_stack: int = 3,
                 input_size: int = 32, num_classes: int = 10, keep_order: bool = False) -> dict[str, int]:
    """The FLOPs NASLib reports for a cell (tensorwatch's ``ModelStats.Flops`` of its PyTorch network), by part.

    tensorwatch (a torchstat fork) counts, for one image: per convolution
    ``k*k*c_in*c_out*H*W`` (no bias), per BatchNorm twice its input's size,
    per ReLU its input's size, per max-pool ``k*k`` times its output's size,
    and the dense layer's ``in*out``. zcjax's ``flops`` is the convolution and
    dense part (``'macs'``).

    Args:
      arch: the cell (any form).
      stem_channels, num_stacks, cells_per_stack, input_size, num_classes: the network's sizes.
      keep_order: build the cell in the arch's own vertex order (as NASLib did
        with its keys) rather than the canonical one.

    Returns:
      ``{'macs', 'batchnorm', 'relu', 'maxpool', 'total'}`` (ints).
    """
    matrix, ops = _arch.pruned_spec(arch) if keep_order else _arch.cell_spec(arch)
    n = len(matrix)
    parts = {"macs": 0, "batchnorm": 0, "relu": 0, "maxpool": 0}

    def conv_bn_relu(k: int, c_in: int, c_out: int, hw: int) -> None:
        parts["macs"] += k * k * c_in * c_out * hw
        parts["batchnorm"] += 2 * c_out * hw
        parts["relu"] += c_out * hw

    size = input_size
    conv_bn_relu(3, 3, stem_channels, size * size)
    c_in = c = stem_channels
    for s in range(num_stacks):
        if s > 0:
            size //= 2
            parts["maxpool"] += 4 * c_in * size * size
            c *= 2
        hw = size * size
        for _ in range(cells_per_stack):
            ch = _arch.vertex_channels(c_in, c, matrix)
            for t in range(1, n):
                if matrix[0][t]:
                    conv_bn_relu(1, c_in, ch[t], hw)
                if t < n - 1:
                    op = _arch.SHORT_OPS[ops[t - 1]]
                    if op == "maxpool3x3":
                        parts["maxpool"] += 9 * ch[t] * hw
                    else:
                        conv_bn_relu(3 if op == "conv3x3" else 1, ch[t], ch[t], hw)
            c_in = c
    parts["macs"] += c * num_classes
    parts["total"] = sum(parts.values())
    return parts
