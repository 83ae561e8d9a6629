"""NAS-Bench-301 ground truth: the 725 cells of NAS-Bench-Suite-Zero, with NASLib's zero-cost scores.

``zcjax/_data/spaces/nb301_cifar10_725.jsonl.gz`` holds NASLib's
``zc_nasbench301.json`` (see PROVENANCE.md there): per architecture its
compact key (``naslib_key``), its CIFAR-10 validation accuracy (percent) from
NAS-Bench-301 as NASLib recorded it (``val_accuracy``; NASLib's zero-cost runner
draws its cells from NAS-Bench-301's trained architectures), NASLib's index, and NASLib's proxies
(``naslib_scores``) computed with NASLib's network (C = 32, 8 cells, as NASLib
built it before its commit a4412f18 of October 2022 halved the channels; see
:mod:`~zcjax.spaces.nb301.network`) and one CIFAR-10 minibatch: ``params``
and ``flops`` in millions (tensorwatch's counts: see :func:`naslib_counts`),
``synflow`` as NASLib stores it, the natural
log of the synflow sum, and ``grad_norm``, ``snip``, ``grasp``, ``fisher``,
``jacov``, ``nwot``, ``epe_nas``, ``plain``, ``l2_norm``.
"""

from __future__ import annotations

import functools
from typing import Any

from ..space import ground_truth_rows
from .arch import CELL_LENGTH, NUM_NODES, OPS, parse_arch, reduction_layers, to_arch

TABLE_FILE = "nb301_cifar10_725.jsonl.gz"
NUM_ROWS = 725
PROXIES: tuple[str, ...] = ("params", "flops", "synflow", "grad_norm", "snip", "grasp", "fisher", "jacov", "nwot",
                            "epe_nas", "plain", "l2_norm")


@functools.lru_cache(maxsize=1)
def _table() -> dict[tuple[int, ...], dict[str, Any]]:
    rows = ground_truth_rows(TABLE_FILE)
    table = {}
    for row in rows:
        table[parse_arch(row["naslib_key"])] = {"val_accuracy": row["val_accuracy"], "naslib_key": row["naslib_key"],
                                                "naslib_idx": row.get("naslib_idx"),
                                                "naslib_scores": dict(row["naslib_scores"])}
    if len(table) != NUM_ROWS or len(rows) != NUM_ROWS:
        raise RuntimeError(f"{TABLE_FILE}: expected {NUM_ROWS} distinct architectures, got {len(table)} of {len(rows)}")
    return table


def archs() -> list[tuple[int, ...]]:
    """The 725 architectures, canonical, in the file's order."""
    return list(_table())


def record(arch: Any) -> dict[str, Any]:
    """The row of one of the 725: ``{'val_accuracy', 'naslib_key', 'naslib_idx', 'naslib_scores'}``.

    Raises:
      ValueError: a bad architecture, or one not among the 725.
    """
    key = to_arch(arch)
    table = _table()
    if key not in table:
        raise ValueError("this NB301 architecture is not among the 725 of the shipped ground truth")
    row = table[key]
    return {**row, "naslib_scores": dict(row["naslib_scores"])}


def val_accuracy() -> dict[tuple[int, ...], float]:
    """``{arch: NAS-Bench-301 CIFAR-10 validation accuracy (percent)}`` for the 725, in file order."""
    return {a: row["val_accuracy"] for a, row in _table().items()}


def naslib_scores(proxy: str) -> dict[tuple[int, ...], float]:
    """NASLib's value of one proxy for the 725 cells, ``{arch: value}`` in file order.

    Args:
      proxy: one of :data:`PROXIES` (NASLib's names: ``jacov`` is jacob_cov;
        ``synflow`` is the natural log of the synflow sum; ``params`` and
        ``flops`` are in millions).

    Raises:
      ValueError: for another name.
    """
    if proxy not in PROXIES:
        raise ValueError(f"unknown NASLib proxy {proxy!r} for nb301; valid proxies are {', '.join(PROXIES)}")
    return {a: row["naslib_scores"][proxy] for a, row in _table().items()}


def naslib_counts(arch: Any, channels: int = 32, layers: int = 8, stem_multiplier: int = 3, num_classes: int = 10,
                  image_size: int = 32) -> dict[str, int]:
    """NASLib's parameter and flop counts of ``NB301Network(arch, ...)``, in closed form (no tracing).

    NASLib counts both with tensorwatch's ``ModelStats`` on one image, which
    sums over the leaf modules that run: parameters (BatchNorm scale and shift
    when affine; running statistics are buffers, not counted) and flops, which
    for a convolution or a linear layer are its multiply-adds (no bias here
    but the classifier's, not counted) and which also count every ``ReLU``
    (its input's size), every ``BatchNorm2d`` (its input's size, twice when
    affine), every 3x3 pooling (9 per output value) and the global
    ``AdaptiveAvgPool2d`` (``(H + 1)**2`` per channel: its formula on an H x H
    input).

    Returns:
      ``{'params': ..., 'macs': ..., 'flops': ...}``: ``params`` and ``flops``
      are NASLib's ``params`` and ``flops`` times 1e6; ``macs`` (the
      convolutions' and classifier's multiply-adds) is what
      ``zcjax.score_model`` counts as ``flops``, and ``params`` what it counts
      as ``params``.
    """
    a = to_arch(arch)
    h = image_size
    stem = stem_multiplier * channels
    params = 27 * stem + 2 * stem
    macs = 27 * stem * h * h
    extra = 2 * stem * h * h                                       # stem BatchNorm (affine)
    c = channels
    c_pp = c_p = stem
    h_pp = h_p = h
    reductions = reduction_layers(layers)
    for i in range(layers):
        reduction = i in reductions
        if reduction:
            c *= 2
        genotype = a[CELL_LENGTH:] if reduction else a[:CELL_LENGTH]
        # preprocessing of c_{k-2} (ReLUConvBN 1x1, or FactorizedReduce from h_pp = 2 h_p after a reduction)
        # and of c_{k-1} (ReLUConvBN 1x1): conv weights, affine BatchNorm; ReLU on the input
        for c_in, h_in in ((c_pp, h_pp), (c_p, h_p)):
            params += c_in * c + 2 * c
            macs += c_in * c * h_p * h_p
            extra += c_in * h_in * h_in + 2 * c * h_p * h_p
        h_out = h_p // 2 if reduction else h_p
        out = c * h_out * h_out                                    # one node's output size
        for node in range(NUM_NODES):
            for e in range(2):
                source, op = genotype[4 * node + 2 * e], genotype[4 * node + 2 * e + 1]
                h_in = h_p if source < 2 else h_out
                relu_in = c * h_in * h_in
                kind = OPS[op]
                if kind in ("max_pool_3x3", "avg_pool_3x3"):
                    extra += 9 * out + out                           # pooling, BatchNorm
                elif kind == "skip_connect":
                    if reduction and source < 2:                     # FactorizedReduce, BatchNorm without affine
                        params += c * c
                        macs += c * c * h_out * h_out
                        extra += relu_in + out
                else:
                    k = int(kind[-1])
                    repeats = 2 if kind.startswith("sep_conv") else 1
                    params += repeats * (k * k * c + c * c)
                    macs += repeats * (k * k * c + c * c) * h_out * h_out
                    extra += relu_in + (out + out + out if repeats == 2 else out)   # ReLUs and BatchNorms
        c_pp, c_p = c_p, 4 * c
        h_pp, h_p = h_p, h_out
    params += c_p * num_classes + num_classes
    macs += c_p * num_classes
    extra += c_p * (h_p + 1) ** 2                                  # AdaptiveAvgPool2d(1) by tensorwatch's formula
    return {"params": params, "macs": macs, "flops": macs + extra}
