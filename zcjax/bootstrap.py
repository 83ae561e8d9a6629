"""Percentile bootstrap confidence intervals over cells.

:func:`bootstrap_ci` resamples the cells of any statistic with a seeded
generator. The statistics that :func:`zcjax.evaluate.evaluate` bootstraps
(Spearman, Kendall and the top-10% hit rate, :func:`_boot_stats`) have a fast
form, :class:`_ResampledStats`, that takes a resample as cell positions, so
that bootstrapping it over ``arange(n)`` draws the same resamples as
bootstrapping :func:`_boot_stats` over the cells. numpy/scipy only.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.stats

from .stats import _k_of, _pearson, _top, kendall, spearman

__all__ = ["bootstrap_ci"]


def bootstrap_ci(fn: Callable[..., Any], *arrays: Any, n: int = 1000, seed: int = 0,
                 alpha: float = 0.05) -> np.ndarray:
    """Percentile bootstrap confidence interval of a statistic over cells.

    Each of ``n`` replicates resamples the cells (the rows shared by all
    ``arrays``) with replacement, with a seeded ``numpy.random.Generator``, and
    evaluates ``fn`` on them. Replicates where the statistic is NaN are left
    out.

    Args:
      fn: the statistic: ``fn(*resampled_arrays)`` returns a number or a 1-D
        array of numbers (several statistics on the same resamples).
      *arrays: arrays of equal length (the cells).
      n: number of bootstrap replicates.
      seed: the generator's seed.
      alpha: 1 - confidence level (0.05: a 95% interval).

    Returns:
      ``[low, high]`` (shape (2,)) for a scalar statistic, else shape (k, 2);
      NaN where fewer than 2 replicates are defined or ``n`` is 0.
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if n < 0:
        raise ValueError(f"the number of bootstrap replicates must be >= 0, got {n}")
    arrays = tuple(np.asarray(x) for x in arrays)
    if not arrays:
        raise ValueError("bootstrap_ci needs at least one array")
    size = len(arrays[0])
    if any(len(x) != size for x in arrays):
        raise ValueError(f"array lengths differ: {[len(x) for x in arrays]}")
    point = fn(*arrays)
    scalar = np.ndim(point) == 0
    rng = np.random.default_rng(seed)
    stats = []
    for _ in range(n if size else 0):
        pick = rng.integers(0, size, size)
        stats.append(np.atleast_1d(np.asarray(fn(*(x[pick] for x in arrays)), dtype=np.float64)))
    k = 1 if scalar else np.size(point)
    result = np.full((k, 2), np.nan)
    if stats:
        values = np.stack(stats)
        for c in range(k):
            column = values[:, c][~np.isnan(values[:, c])]
            if column.size >= 2:
                result[c] = np.percentile(column, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    return result[0] if scalar else result


def _boot_stats(score: np.ndarray, acc: np.ndarray) -> np.ndarray:
    """Spearman, Kendall and top-10% hit rate (the bootstrapped statistics), on arrays."""
    hit = math.nan
    if score.size:
        k = _k_of(0.1, score.size)
        hit = 100.0 * np.intersect1d(_top(acc, k), _top(score, k)).size / k
    return np.array([spearman(score, acc), kendall(score, acc), hit])


class _ResampledStats:
    """:func:`_boot_stats` of a resample given by cell positions, without re-sorting.

    Ranks of a resample follow from the sorted order of the cells and the
    multiplicity of each cell (bincount); so do the top-k sets. Called with
    ``arange(n)`` it equals ``_boot_stats(score, acc)``, and on any resample it
    gives the same Spearman and Kendall; the top-k sets of a resample break
    ties by the cells' original positions rather than their resample slots.
    The caller drops NaN rows.
    """

    def __init__(self, score: np.ndarray, acc: np.ndarray):
        self.score, self.acc, self.n = score, acc, score.size
        self.k = _k_of(0.1, self.n) if self.n else 0
        self.groups = [(scipy.stats.rankdata(x, method="dense") - 1).astype(np.int64) for x in (score, acc)]
        self.orders = [_top(x, self.n) for x in (score, acc)]

    @staticmethod
    def _ranks(groups: np.ndarray, pick: np.ndarray) -> np.ndarray:
        counts = np.bincount(groups[pick], minlength=int(groups.max()) + 1)
        average = np.cumsum(counts) - counts + (counts + 1) / 2.0
        return average[groups[pick]]

    def _top_counts(self, weights: np.ndarray, order: np.ndarray) -> np.ndarray:
        sorted_weights = weights[order]
        before = np.cumsum(sorted_weights) - sorted_weights
        counts = np.empty_like(weights)
        counts[order] = np.clip(self.k - before, 0, sorted_weights)
        return counts

    def __call__(self, pick: np.ndarray) -> np.ndarray:
        if self.n < 2:
            return _boot_stats(self.score[pick], self.acc[pick])
        rho = _pearson(self._ranks(self.groups[0], pick), self._ranks(self.groups[1], pick))
        weights = np.bincount(pick, minlength=self.n)
        hits = np.minimum(self._top_counts(weights, self.orders[0]), self._top_counts(weights, self.orders[1]))
        return np.array([rho, kendall(self.score[pick], self.acc[pick]), 100.0 * hits.sum() / self.k])
