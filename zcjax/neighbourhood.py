"""Local-neighbourhood statistics of proxies, on NAS-Bench-201 or any search space.

A cluster is a cell and its edit-distance-1 neighbours (24 in NAS-Bench-201).
NAS-Bench-201 cells are named by their benchmark index and the op table of the
shipped benchmark gives the neighbours (:func:`neighbour_indices`); for other
spaces the caller passes each cell's neighbours (``Space.neighbours``), and :func:`neighbourhood_stats` reports
how well a proxy ranks, and picks the best of, the cells of each cluster.
numpy/scipy only.
"""

from __future__ import annotations

import collections
import functools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.stats

from .spaces.nb201 import benchmark
from .spaces.nb201.arch import NUM_ARCHS, NUM_EDGES, NUM_OPS

__all__ = ["neighbour_indices", "neighbourhood_stats"]


@functools.lru_cache(maxsize=1)
def _ops_and_lookup() -> tuple[np.ndarray, np.ndarray]:
    """Op indices of every cell and the benchmark index of each base-5 op code."""
    ops = benchmark.all_ops().astype(np.int64)
    lookup = np.empty(NUM_ARCHS, dtype=np.int64)
    lookup[ops @ (NUM_OPS ** np.arange(NUM_EDGES))] = np.arange(NUM_ARCHS)
    return ops, lookup


def neighbour_indices(indices: Any) -> np.ndarray:
    """The benchmark indices of the 24 edit-distance-1 neighbours of cells.

    Args:
      indices: benchmark indices.

    Returns:
      An int64 array (len(indices), 24), in the order of
      :func:`zcjax.spaces.nb201.arch.neighbours` (edge-major, then op index).
    """
    indices = np.asarray(indices, dtype=np.int64).ravel()
    ops_table, lookup = _ops_and_lookup()
    ops = ops_table[indices]
    powers = NUM_OPS ** np.arange(NUM_EDGES)
    codes = ops @ powers
    others = np.array([[o for o in range(NUM_OPS) if o != c] for c in range(NUM_OPS)])
    parts = [codes[:, None] + (others[ops[:, e]] - ops[:, e, None]) * powers[e] for e in range(NUM_EDGES)]
    return lookup[np.concatenate(parts, axis=1)]


def neighbourhood_stats(indices: Any, score: Any, acc: Any,
                        neighbours: Sequence[Sequence[int]] | None = None) -> dict[str, Any]:
    """The paper's local-neighbourhood analysis.

    A cluster is a scored cell and its edit-distance-1 neighbours (in
    NAS-Bench-201 24, so 25 cells), formed for every cell whose neighbours are
    all scored; a cell with a NaN score counts as unscored. In each cluster: the Spearman rho of the
    proxy with accuracy, and whether the proxy's pick (its highest score) is the
    cluster's most accurate cell. When several cells share the highest score the
    pick is counted as the fraction of them that are most accurate (a random
    tie-break in expectation).

    Args:
      indices: benchmark indices of the scored cells (no duplicates); with
        ``neighbours``, any distinct int keys of the cells.
      score: their proxy scores.
      acc: their accuracies.
      neighbours: for a space other than NAS-Bench-201, the keys of each
        cell's neighbours (aligned with ``indices``; a key that is not in
        ``indices`` is an unscored neighbour). None: NAS-Bench-201's, from the
        benchmark indices.

    Returns:
      A dict with ``spearman`` (mean rho over clusters where it is defined),
      ``best_frac`` (fraction of clusters where the proxy picks the best cell),
      ``clusters`` (their number), ``undefined`` (clusters with a constant score
      or accuracy, left out of the mean rho) and ``note`` (why the values are
      NaN, else '').

    Raises:
      ValueError: on mismatched lengths or duplicate indices.
    """
    indices = np.asarray(indices, dtype=np.int64).ravel()
    score = np.asarray(score, dtype=np.float64).ravel()
    acc = np.asarray(acc, dtype=np.float64).ravel()
    if not indices.size == score.size == acc.size:
        raise ValueError(f"lengths differ: {indices.size} indices, {score.size} scores, {acc.size} accuracies")
    if np.unique(indices).size != indices.size:
        raise ValueError("duplicate indices")
    out: dict[str, Any] = {"spearman": math.nan, "best_frac": math.nan, "clusters": 0, "undefined": 0,
                           "note": ""}
    keep = ~(np.isnan(score) | np.isnan(acc))
    centres = np.flatnonzero(keep)
    if neighbours is None:
        position = np.full(NUM_ARCHS, -1, dtype=np.int64)
        position[indices[keep]] = centres
        neighbour_pos = position[neighbour_indices(indices[centres])]
        full = (neighbour_pos >= 0).all(axis=1)
        clusters = [np.concatenate([centres[full, None], neighbour_pos[full]], axis=1)] if full.any() else []
        missing = "no cell has all 24 neighbours scored"
    else:
        if len(neighbours) != indices.size:
            raise ValueError(f"lengths differ: {indices.size} indices, neighbours of {len(neighbours)} cells")
        position_of = {int(k): int(p) for p, k in zip(centres, indices[centres])}
        by_width: dict[int, list[list[int]]] = collections.defaultdict(list)
        for p in centres:
            members = [position_of.get(int(k), -1) for k in neighbours[p]]
            if members and min(members) >= 0:
                by_width[len(members)].append([int(p), *members])
        clusters = [np.asarray(rows, dtype=np.int64) for rows in by_width.values()]
        missing = "no cell has all its neighbours scored"
    if not clusters:
        out["note"] = missing
        return out
    rho, success = zip(*(_cluster_stats(score[c], acc[c]) for c in clusters))
    rho, success = np.concatenate(rho), np.concatenate(success)
    defined = ~np.isnan(rho)
    out.update(spearman=float(rho[defined].mean()) if defined.any() else math.nan,
               best_frac=float(success.mean()), clusters=int(rho.size),
               undefined=int((~defined).sum()))
    if not defined.any():
        out["note"] = "every cluster has a constant score or accuracy"
    return out


def _cluster_stats(s: np.ndarray, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per cluster (rows of ``s``, ``a``: scores and accuracies of its cells): rho, and the pick's success."""
    rs = scipy.stats.rankdata(s, axis=1)
    ra = scipy.stats.rankdata(a, axis=1)
    rs -= rs.mean(axis=1, keepdims=True)
    ra -= ra.mean(axis=1, keepdims=True)
    denom = np.sqrt((rs * rs).sum(axis=1) * (ra * ra).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = np.where(denom > 0, (rs * ra).sum(axis=1) / np.where(denom > 0, denom, 1.0), np.nan)
    picked = s == s.max(axis=1, keepdims=True)
    best = a == a.max(axis=1, keepdims=True)
    success = (picked & best).sum(axis=1) / picked.sum(axis=1)
    return rho, success
