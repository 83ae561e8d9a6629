"""Rank statistics of proxy scores against accuracy.

Spearman rho, Kendall tau-b, their p-values, the orientation of a proxy by the
sign of its rho, and the paper's top-k analysis. Every function takes a score
and an accuracy array of equal length (ValueError otherwise) and leaves out
rows where either is NaN; an undefined statistic (fewer than 2 rows, a
constant input) is NaN, not an error or a warning. numpy/scipy only.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import scipy.stats

__all__ = ["spearman", "kendall", "correlation", "correlations", "orient", "top_k_stats"]


def _pair(score: Any, acc: Any) -> tuple[np.ndarray, np.ndarray]:
    score = np.asarray(score, dtype=np.float64).ravel()
    acc = np.asarray(acc, dtype=np.float64).ravel()
    if score.shape != acc.shape:
        raise ValueError(f"score and accuracy lengths differ: {score.size} vs {acc.size}")
    keep = ~(np.isnan(score) | np.isnan(acc))
    return score[keep], acc[keep]


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson correlation; NaN for fewer than 2 values or a constant input."""
    if x.size < 2:
        return math.nan
    x = x - x.mean()
    y = y - y.mean()
    denom = math.sqrt(float(np.sum(x * x)) * float(np.sum(y * y)))  # not BLAS: its threads cost more here
    return float(np.sum(x * y)) / denom if denom > 0 else math.nan


def spearman(score: Any, acc: Any) -> float:
    """Spearman rho (average ranks for ties), ignoring rows where either is NaN.

    A rank transform and a Pearson correlation: the same value as
    ``scipy.stats.spearmanr`` without its overhead (used in the bootstrap).

    Args:
      score: proxy scores.
      acc: accuracies, aligned with ``score``.

    Returns:
      rho in [-1, 1]; NaN with fewer than 2 rows or a constant input.
    """
    s, a = _pair(score, acc)
    if s.size < 2:
        return math.nan
    return _pearson(scipy.stats.rankdata(s), scipy.stats.rankdata(a))


def kendall(score: Any, acc: Any) -> float:
    """Kendall tau-b (``scipy.stats.kendalltau``), ignoring rows where either is NaN.

    Args:
      score: proxy scores.
      acc: accuracies, aligned with ``score``.

    Returns:
      tau in [-1, 1]; NaN with fewer than 2 rows or a constant input.
    """
    s, a = _pair(score, acc)
    if s.size < 2 or np.all(s == s[0]) or np.all(a == a[0]):
        return math.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(scipy.stats.kendalltau(s, a).statistic)


def correlation(score: Any, acc: Any) -> dict[str, float | int]:
    """Spearman and Kendall correlation of one proxy with accuracy, sign kept.

    Args:
      score: proxy scores (NaN where the proxy is undefined).
      acc: accuracies, aligned with ``score``.

    Returns:
      A dict with ``spearman``, ``spearman_p``, ``kendall`` (tau-b),
      ``kendall_p`` (scipy.stats, two-sided), ``n`` (rows used) and ``n_nan``
      (rows left out because the score or accuracy is NaN). Undefined values
      (fewer than 2 rows, constant input) are NaN.
    """
    raw = np.asarray(score, dtype=np.float64).ravel()
    s, a = _pair(raw, acc)
    out: dict[str, float | int] = {"spearman": math.nan, "spearman_p": math.nan, "kendall": math.nan,
                                   "kendall_p": math.nan, "n": int(s.size), "n_nan": int(raw.size - s.size)}
    if s.size >= 2 and not np.all(s == s[0]) and not np.all(a == a[0]):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rho = scipy.stats.spearmanr(s, a)
            tau = scipy.stats.kendalltau(s, a)
        out.update(spearman=float(rho.statistic), spearman_p=float(rho.pvalue),
                   kendall=float(tau.statistic), kendall_p=float(tau.pvalue))
    return out


def correlations(scores: Mapping[str, Any] | np.ndarray, acc: Any) -> dict[str, Any]:
    """Spearman and Kendall correlation of each proxy with accuracy.

    Args:
      scores: a dict from proxy name to scores (or a single score array).
      acc: accuracies, aligned with the scores.

    Returns:
      A dict from proxy name to the dict of :func:`correlation` (for a single
      array: that dict itself). The sign is reported as is: a negative rho
      means the proxy scores worse networks higher.
    """
    if not isinstance(scores, Mapping):
        return correlation(scores, acc)
    return {name: correlation(values, acc) for name, values in scores.items()}


def orient(score: Any, acc: Any) -> tuple[np.ndarray, int]:
    """Orients a proxy so that higher is better, by the sign of its Spearman rho.

    NAS-Bench-Suite-Zero style: a proxy that correlates negatively with accuracy
    is negated. Use it only for reporting; choosing the sign needs the accuracy.

    Args:
      score: proxy scores.
      acc: accuracies, aligned with ``score``.

    Returns:
      ``(sign * score, sign)`` with sign = -1 when rho < 0, else +1 (also when
      rho is undefined).
    """
    score = np.asarray(score, dtype=np.float64)
    sign = -1 if spearman(score, acc) < 0 else 1
    return sign * score, sign


def _k_of(frac: float, n: int) -> int:
    """Cells in the top ``frac`` of ``n``: round half up, at least 1."""
    return max(1, min(n, int(math.floor(frac * n + 0.5))))


def _top(values: np.ndarray, k: int) -> np.ndarray:
    """Positions of the k largest values; ties go to the earlier position."""
    return np.argsort(-values, kind="stable")[:k]


def top_k_stats(score: Any, acc: Any, frac: float = 0.1, *, small_frac: float = 0.05, top_n: int = 64,
                oriented: bool = False) -> dict[str, Any]:
    """The paper's top-k analysis (appendix, top 10%).

    Rows where the score or accuracy is NaN are left out first. "Top" means the
    highest values; ties are broken by position (the earlier row first), the
    same way for the score and the accuracy.

    Args:
      score: proxy scores; higher is taken as better unless ``oriented``.
      acc: accuracies, aligned with ``score``.
      frac: the top fraction (0.1: the top 10%); k = round(frac * n), at least 1.
      small_frac: the fraction of the "top-5%" count.
      top_n: the proxy's top-N of that count (64 in the paper).
      oriented: negate the score first when its overall Spearman rho is
        negative (see :func:`orient`).

    Returns:
      A dict with ``spearman`` (rho within the top-k cells by accuracy),
      ``hit_pct`` (percent of the top-k cells by accuracy that are in the
      proxy's top k), ``top5_in_top64`` (how many of the top ``small_frac``
      cells by accuracy are among the proxy's top ``top_n``), ``k``,
      ``top5_cells``, ``top_n``, ``n`` and ``sign`` (the orientation applied).
    """
    if not 0 < frac <= 1 or not 0 < small_frac <= 1:
        raise ValueError(f"fractions must be in (0, 1], got frac={frac}, small_frac={small_frac}")
    s, a = _pair(score, acc)
    sign = 1
    if oriented:
        s, sign = orient(s, a)
    n = s.size
    out: dict[str, Any] = {"spearman": math.nan, "hit_pct": math.nan, "top5_in_top64": math.nan, "k": 0,
                           "top5_cells": 0, "top_n": min(top_n, n), "n": n, "sign": sign}
    if n == 0:
        return out
    k = _k_of(frac, n)
    best = _top(a, k)
    picked = _top(s, k)
    k5 = _k_of(small_frac, n)
    out.update(spearman=spearman(s[best], a[best]),
               hit_pct=100.0 * np.intersect1d(best, picked).size / k,
               top5_in_top64=int(np.intersect1d(_top(a, k5), _top(s, min(top_n, n))).size),
               k=k, top5_cells=k5)
    return out
