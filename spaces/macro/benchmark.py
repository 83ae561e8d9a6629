"""NAS-Bench-Macro ground truth: the shipped table of all 6,561 architectures.

``zcjax/_data/spaces/nas_bench_macro_cifar10.jsonl.gz`` holds, per
architecture, the benchmark's CIFAR-10 test accuracy (percent) of 3 trainings
(``test_acc``; each the best test accuracy over 50 epochs), their mean
(``mean_acc``) and standard deviation (``std``), and the parameter count and
FLOPs the benchmark measured (``params``: every trainable parameter, BatchNorm
scale and shift included, running statistics not; ``flops``: multiply-adds of
the convolutions and the classifier for one 32x32 image, no BatchNorm or bias).
Architectures with the same :func:`~zcjax.spaces.macro.arch.canonical_arch`
share one trained network's values.
"""

from __future__ import annotations

import functools
from typing import Any

from ..space import ground_truth_rows
from .arch import NUM_ARCHS, parse_arch

TABLE_FILE = "nas_bench_macro_cifar10.jsonl.gz"
METRICS: tuple[str, ...] = ("mean_acc", "test_acc", "std", "params", "flops")


@functools.lru_cache(maxsize=1)
def _table() -> dict[tuple[int, ...], dict[str, Any]]:
    rows = ground_truth_rows(TABLE_FILE)
    table = {}
    for row in rows:
        table[parse_arch(row["arch"])] = {k: row[k] for k in METRICS}
    if len(table) != NUM_ARCHS or len(rows) != NUM_ARCHS:
        raise RuntimeError(f"{TABLE_FILE}: expected {NUM_ARCHS} distinct architectures, got {len(table)} of {len(rows)}")
    return table


def record(arch: Any) -> dict[str, Any]:
    """The benchmark's row of one architecture: ``{'mean_acc', 'test_acc', 'std', 'params', 'flops'}``."""
    from .arch import to_choices

    return dict(_table()[to_choices(arch)])


def metric(name: str = "mean_acc") -> dict[tuple[int, ...], Any]:
    """One column of the table, ``{arch: value}``, in index order.

    Args:
      name: 'mean_acc' (default), 'test_acc' (the 3 runs, a list), 'std', 'params' or 'flops'.

    Raises:
      ValueError: for another name.
    """
    if name not in METRICS:
        raise ValueError(f"unknown NAS-Bench-Macro metric {name!r}; valid metrics are {', '.join(METRICS)}")
    table = _table()
    return {arch: table[arch][name] for arch in sorted(table)}  # tuple order is index order
