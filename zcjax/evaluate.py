"""Evaluate zero-cost proxy scores against NAS-Bench-201 accuracy.

    python -m zcjax.evaluate scores.jsonl --dataset cifar10 --split val --out-dir eval --plots

Reads a scores file written by ``python -m zcjax.score`` (one row per cell:
``index``, ``arch``, one column per proxy, accuracy columns) and reports, per
proxy, the statistics of "Zero-Cost Proxies for Lightweight NAS" (see
docs/PROXIES.md):

- Spearman rho and Kendall tau-b with the benchmark accuracy, with their sign
  and percentile bootstrap confidence intervals;
- the top-10% analysis: rho within the top 10% of cells by accuracy, the share
  of those cells found in the proxy's top 10%, and how many of the top-5%
  cells are among the proxy's top 64;
- the local-neighbourhood analysis: rho within each cluster of a cell and its
  24 edit-distance-1 neighbours, and how often the proxy's pick in a cluster is
  the cluster's most accurate cell;
- the pairwise-agreement rate: for the majority vote of synflow, jacob_cov and
  snip this is the paper's "0.82"; for a single proxy it is the same rate with
  the proxy alone deciding each pair.

The accuracy is always looked up in the shipped benchmark table by ``index``;
accuracy columns in the file are ignored. Everything here is numpy/scipy (plots:
matplotlib, imported only when plotting); no network is built.
"""

from __future__ import annotations

import argparse
import csv
import functools
import math
import os
import re
import sys
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import scipy.stats

from .results import read_rows
from .spaces.nb201 import benchmark
from .spaces.nb201.arch import NUM_ARCHS, NUM_EDGES, NUM_OPS

__all__ = [
    "VOTE_MEMBERS", "load_scores", "select_proxies", "spearman", "kendall", "correlation", "correlations",
    "orient", "top_k_stats", "vote", "vote_agreement", "neighbour_indices", "neighbourhood_stats",
    "bootstrap_ci", "evaluate", "evaluate_arrays", "to_markdown", "write_csv", "scatter_plots",
    "build_parser", "main",
]

VOTE_MEMBERS: tuple[str, ...] = ("synflow", "jacob_cov", "snip")
"""The proxies of the paper's majority vote."""

VOTE = "vote"
PROG = "python -m zcjax.evaluate"

# Accuracy columns the scorer writes (every dataset and split), plus any column
# named like an accuracy ('acc', 'accuracy', 'val_acc', 'test_accuracy', ...).
_ACCURACY_COLUMNS = frozenset(benchmark.COLUMNS[2:])
_ACCURACY_NAME = re.compile(r"(^|[_\-])acc(uracy)?([_\-]|$)", re.IGNORECASE)

CSV_COLUMNS: tuple[str, ...] = (
    "proxy", "dataset", "split", "n", "n_nan", "sign",
    "spearman", "spearman_lo", "spearman_hi", "spearman_p",
    "kendall", "kendall_lo", "kendall_hi", "kendall_p",
    "top10_spearman", "top10_hit_pct", "top10_hit_lo", "top10_hit_hi", "top10_cells",
    "top5_in_top64", "top5_cells",
    "neigh_spearman", "neigh_best_pct", "neigh_clusters",
    "agreement", "agreement_pairs", "agreement_exact", "note",
)
"""Column order of :func:`write_csv` (and the keys of an :func:`evaluate` row)."""


# --------------------------------------------------------------------------- loading


def _is_accuracy_column(name: str) -> bool:
    return name in _ACCURACY_COLUMNS or bool(_ACCURACY_NAME.search(name))


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


def _as_index(v: Any) -> int | None:
    """A benchmark index from a file value, or None when it is not one."""
    if not _is_number(v) or not math.isfinite(v) or float(v) != int(v):
        return None
    i = int(v)
    return i if 0 <= i < NUM_ARCHS else None


def _listing(values: Sequence[Any], limit: int = 5) -> str:
    shown = ", ".join(repr(v) if isinstance(v, str) else str(v) for v in values[:limit])
    return shown + (f", ... ({len(values)} in all)" if len(values) > limit else "")


def load_scores(path: str | os.PathLike, dataset: str = "cifar10",
                split: str = "val") -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
    """Reads a scores file and looks up the accuracy of its cells.

    Proxy columns are every column whose values are all numbers (null/empty
    counts as a number: NaN) other than ``index`` and the accuracy columns (the
    benchmark's ``<dataset>_<split>`` columns, or any column named like
    ``acc``/``accuracy``). The accuracy is taken from the shipped benchmark
    table by index, never from the file. Cells are identified by ``index``; a
    file without it may give ``arch`` instead. When both are given they must
    name the same cell.

    Args:
      path: a .jsonl or .csv scores file (see :func:`zcjax.results.read_rows`).
      dataset: 'cifar10', 'cifar100' or 'ImageNet16-120'.
      split: 'train', 'val' or 'test'.

    Returns:
      ``(indices, scores, accuracy)``: an int64 array of benchmark indices (file
      order), a dict from proxy name to a float64 array aligned with it (NaN
      where the file has null), and the float64 accuracy (percent) of each cell.

    Raises:
      FileNotFoundError: if the file does not exist.
      ValueError: if the dataset or split is unknown, the file has no rows, no
        proxy columns, no ``index``/``arch`` column, unknown or duplicate
        indices, or an ``arch`` that does not match its ``index``.
    """
    accuracy_table = benchmark.accuracies(dataset, split)  # validates dataset and split first
    path = os.fspath(path)
    rows = read_rows(path)
    if not rows:
        raise ValueError(f"{path} has no rows")
    columns = list(dict.fromkeys(k for row in rows for k in row))
    if "index" in columns:
        raw = [row.get("index", math.nan) for row in rows]
        parsed = [_as_index(v) for v in raw]
        bad = [v for v, i in zip(raw, parsed) if i is None]
        if bad:
            raise ValueError(f"{path}: unknown benchmark indices {_listing(bad)} "
                             f"(valid indices are 0..{NUM_ARCHS - 1})")
        indices = np.array(parsed, dtype=np.int64)
        if "arch" in columns:
            for n, (row, i) in enumerate(zip(rows, parsed), 1):
                arch = row.get("arch")
                if isinstance(arch, str) and arch.strip() and arch.strip() != benchmark.arch_at(i):
                    try:
                        same = benchmark.index_of(arch) == i
                    except ValueError:
                        same = False
                    if not same:
                        raise ValueError(f"{path} row {n}: arch {arch!r} is not cell {i} "
                                         f"({benchmark.arch_at(i)})")
    elif "arch" in columns:
        found = []
        for n, row in enumerate(rows, 1):
            try:
                found.append(benchmark.index_of(row.get("arch")))
            except ValueError as err:
                raise ValueError(f"{path} row {n}: {err}") from None
        indices = np.array(found, dtype=np.int64)
    else:
        raise ValueError(f"{path} has neither an 'index' nor an 'arch' column")
    unique, counts = np.unique(indices, return_counts=True)
    if (counts > 1).any():
        raise ValueError(f"{path}: duplicate benchmark indices {_listing(unique[counts > 1].tolist())}")
    scores: dict[str, np.ndarray] = {}
    for name in columns:
        if name in ("index", "arch") or _is_accuracy_column(name):
            continue
        values = [row.get(name, math.nan) for row in rows]
        if all(_is_number(v) for v in values):
            scores[name] = np.array(values, dtype=np.float64)
    if not scores:
        raise ValueError(f"{path} has no proxy columns (numeric columns other than index and accuracy); "
                         f"its columns are {', '.join(columns)}")
    return indices, scores, accuracy_table[indices]


def select_proxies(available: Iterable[str], proxies: str | Iterable[str] | None = "all") -> list[str]:
    """Validates a proxy selection against the proxies a file has.

    Args:
      available: the proxy columns of a file.
      proxies: 'all' (or None), a comma-separated string, or names. 'vote' asks
        for the majority vote of :data:`VOTE_MEMBERS` (which must be available);
        'all' includes it when they are.

    Returns:
      The selected names, without duplicates, in the order asked ('all': file
      order, then 'vote').

    Raises:
      ValueError: on an unknown name or an empty selection.
    """
    available = list(available)
    members_present = all(m in available for m in VOTE_MEMBERS)
    if proxies is None or (isinstance(proxies, str) and proxies.strip() == "all"):
        return available + ([VOTE] if members_present and VOTE not in available else [])
    names = [p.strip() for p in proxies.split(",")] if isinstance(proxies, str) else [str(p) for p in proxies]
    names = [n for n in names if n]
    if not names:
        raise ValueError("no proxies selected")
    for name in names:
        if name == VOTE and name not in available:
            if not members_present:
                missing = [m for m in VOTE_MEMBERS if m not in available]
                raise ValueError(f"proxy 'vote' needs {', '.join(VOTE_MEMBERS)}; the file lacks {', '.join(missing)}")
        elif name not in available:
            raise ValueError(f"unknown proxy {name!r}; the file has {', '.join(available)}")
    return list(dict.fromkeys(names))


# --------------------------------------------------------------------------- correlations


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


# --------------------------------------------------------------------------- vote


def _member_matrix(scores: Mapping[str, Any] | np.ndarray, members: Sequence[str] | None) -> np.ndarray:
    if isinstance(scores, Mapping):
        if members is None:
            members = VOTE_MEMBERS
        missing = [m for m in members if m not in scores]
        if missing:
            raise ValueError(f"the vote needs {', '.join(members)}; missing {', '.join(missing)}")
        matrix = np.stack([np.asarray(scores[m], dtype=np.float64).ravel() for m in members])
    else:
        matrix = np.atleast_2d(np.asarray(scores, dtype=np.float64))
    if matrix.shape[0] == 0:
        raise ValueError("the vote needs at least one member")
    return matrix


def _vote_directions(matrix: np.ndarray, i: np.ndarray, j: np.ndarray, need: int) -> np.ndarray:
    """+1 where the majority says cell i > cell j, -1 where it says j > i, else 0."""
    gt = np.zeros(np.broadcast_shapes(i.shape, j.shape), dtype=np.int16)
    lt = np.zeros_like(gt)
    for row in matrix:
        gt += row[i] > row[j]
        lt += row[i] < row[j]
    return (gt >= need).astype(np.int8) - (lt >= need).astype(np.int8)


def vote_agreement(scores: Mapping[str, Any] | np.ndarray, acc: Any, members: Sequence[str] | None = VOTE_MEMBERS,
                   *, max_exact: int = 3000, n_pairs: int = 2_000_000, seed: int = 0,
                   chunk_elems: int = 1 << 21) -> dict[str, Any]:
    """How often the majority vote orders a pair of cells as accuracy does.

    For a pair (i, j) each member says "i > j" when its score of i is larger
    (a tie or a NaN abstains); the vote says "i > j" when more than half of the
    members say so (2 of 3). The rate is the fraction of pairs with different
    accuracies on which the vote names the more accurate cell; a pair the vote
    leaves undecided counts as a miss. This is the paper's 0.82 for the vote of
    synflow, jacob_cov and snip on NAS-Bench-201 (it is not a Spearman rho).
    With one member it is the same rate for that proxy alone.

    Args:
      scores: a dict from proxy name to scores, or an array (members, cells).
      acc: accuracies, aligned with the scores.
      members: the names to take from ``scores`` (ignored for an array).
      max_exact: up to this many cells, every pair is counted; above it, a
        seeded random sample of ``n_pairs`` ordered pairs of distinct cells.
      n_pairs: the sample size above ``max_exact`` cells.
      seed: the seed of the pair sample.
      chunk_elems: pairs handled at once (memory bound).

    Returns:
      A dict with ``rate`` (NaN when no pair has different accuracies),
      ``pairs`` (pairs counted) and ``exact`` (every pair, or a sample).
    """
    matrix = _member_matrix(scores, members)
    acc = np.asarray(acc, dtype=np.float64).ravel()
    n = matrix.shape[1]
    if acc.size != n:
        raise ValueError(f"score and accuracy lengths differ: {n} vs {acc.size}")
    need = matrix.shape[0] // 2 + 1
    agree = counted = 0
    exact = n <= max_exact
    if exact:
        rows = max(1, chunk_elems // max(n, 1))
        cols = np.arange(n)
        for start in range(0, n, rows):
            i = np.arange(start, min(start + rows, n))[:, None]
            votes = _vote_directions(matrix, i, cols[None, :], need)
            truth = np.sign(acc[i] - acc[None, :]).astype(np.int8)
            use = (cols[None, :] > i) & (truth != 0)
            agree += int((votes[use] == truth[use]).sum())
            counted += int(use.sum())
    elif n >= 2:
        rng = np.random.default_rng(seed)
        for start in range(0, n_pairs, chunk_elems):
            size = min(chunk_elems, n_pairs - start)
            i = rng.integers(0, n, size)
            j = rng.integers(0, n - 1, size)
            j += j >= i
            truth = np.sign(acc[i] - acc[j]).astype(np.int8)
            use = truth != 0
            votes = _vote_directions(matrix, i[use], j[use], need)
            agree += int((votes == truth[use]).sum())
            counted += int(use.sum())
    return {"rate": agree / counted if counted else math.nan, "pairs": counted, "exact": exact}


def vote(scores: Mapping[str, Any] | np.ndarray, members: Sequence[str] | None = VOTE_MEMBERS, acc: Any = None, *,
         max_exact: int = 3000, n_pairs: int = 2_000_000, seed: int = 0,
         chunk_elems: int = 1 << 21) -> tuple[np.ndarray, float]:
    """The paper's pairwise majority vote of synflow, jacob_cov and snip.

    Cell i beats cell j when more than half of the members score i higher
    (2 of 3; a tie or a NaN abstains). As a score for one cell among the set:
    the number of other cells it beats. The count runs over all n^2 pairs in
    row chunks of ``chunk_elems`` pairs, so 15,625 cells take a few seconds and
    a few MB.

    Args:
      scores: a dict from proxy name to scores, or an array (members, cells).
      members: the names to take from ``scores`` (ignored for an array).
      acc: accuracies; when given, also the pairwise agreement rate of the
        vote with the accuracy order (see :func:`vote_agreement`), which is the
        paper's "0.82" (not a Spearman rho; report both).
      max_exact, n_pairs, seed, chunk_elems: see :func:`vote_agreement`.

    Returns:
      ``(wins, agreement)``: an int64 array, the number of cells each cell
      beats, and the agreement rate (NaN without ``acc``).
    """
    matrix = _member_matrix(scores, members)
    n = matrix.shape[1]
    need = matrix.shape[0] // 2 + 1
    wins = np.zeros(n, dtype=np.int64)
    rows = max(1, chunk_elems // max(n, 1))
    for start in range(0, n, rows):
        block = matrix[:, start:start + rows]
        count = np.zeros((block.shape[1], n), dtype=np.int16)
        for member, row in zip(block, matrix):
            count += member[:, None] > row[None, :]
        wins[start:start + rows] = (count >= need).sum(axis=1)
    agreement = math.nan
    if acc is not None:
        agreement = vote_agreement(matrix, acc, None, max_exact=max_exact, n_pairs=n_pairs, seed=seed,
                                   chunk_elems=chunk_elems)["rate"]
    return wins, agreement


# --------------------------------------------------------------------------- neighbourhoods


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


def neighbourhood_stats(indices: Any, score: Any, acc: Any) -> dict[str, Any]:
    """The paper's local-neighbourhood analysis.

    A cluster is a scored cell and its 24 edit-distance-1 neighbours (25
    cells), formed for every cell whose neighbours are all scored; a cell with a
    NaN score counts as unscored. In each cluster: the Spearman rho of the
    proxy with accuracy, and whether the proxy's pick (its highest score) is the
    cluster's most accurate cell. When several cells share the highest score the
    pick is counted as the fraction of them that are most accurate (a random
    tie-break in expectation).

    Args:
      indices: benchmark indices of the scored cells (no duplicates).
      score: their proxy scores.
      acc: their accuracies.

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
    position = np.full(NUM_ARCHS, -1, dtype=np.int64)
    position[indices[keep]] = np.flatnonzero(keep)
    centres = np.flatnonzero(keep)
    neighbour_pos = position[neighbour_indices(indices[centres])]
    full = (neighbour_pos >= 0).all(axis=1)
    if not full.any():
        out["note"] = "no cell has all 24 neighbours scored"
        return out
    cluster = np.concatenate([centres[full, None], neighbour_pos[full]], axis=1)  # (clusters, 25)
    s, a = score[cluster], acc[cluster]
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
    defined = ~np.isnan(rho)
    out.update(spearman=float(rho[defined].mean()) if defined.any() else math.nan,
               best_frac=float(success.mean()), clusters=int(cluster.shape[0]),
               undefined=int((~defined).sum()))
    if not defined.any():
        out["note"] = "every cluster has a constant score or accuracy"
    return out


# --------------------------------------------------------------------------- bootstrap


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


# --------------------------------------------------------------------------- evaluation


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


def _proxy_row(name: str, indices: np.ndarray, score: np.ndarray, acc: np.ndarray, n_bootstrap: int, seed: int,
               agreement: dict[str, Any], note: str = "") -> dict[str, Any]:
    corr = correlation(score, acc)
    top = top_k_stats(score, acc, 0.1)
    neigh = neighbourhood_stats(indices, score, acc)
    s, a = _pair(score, acc)
    # Resampling cell positions draws the same resamples as bootstrap_ci(_boot_stats, s, a, ...).
    ci = bootstrap_ci(_ResampledStats(s, a), np.arange(s.size), n=n_bootstrap, seed=seed)
    notes = [note] if note else []
    if corr["n"] < 2:
        notes.append(f"only {corr['n']} scored cells")
    if neigh["note"]:
        notes.append("neighbourhood: " + neigh["note"])
    rho = corr["spearman"]
    return {
        "proxy": name, "n": corr["n"], "n_nan": corr["n_nan"],
        "sign": "" if math.isnan(rho) else ("+" if rho >= 0 else "-"),
        "spearman": rho, "spearman_lo": ci[0, 0], "spearman_hi": ci[0, 1], "spearman_p": corr["spearman_p"],
        "kendall": corr["kendall"], "kendall_lo": ci[1, 0], "kendall_hi": ci[1, 1], "kendall_p": corr["kendall_p"],
        "top10_spearman": top["spearman"], "top10_hit_pct": top["hit_pct"], "top10_hit_lo": ci[2, 0],
        "top10_hit_hi": ci[2, 1], "top10_cells": top["k"],
        "top5_in_top64": top["top5_in_top64"], "top5_cells": top["top5_cells"],
        "neigh_spearman": neigh["spearman"],
        "neigh_best_pct": 100.0 * neigh["best_frac"] if neigh["clusters"] else math.nan,
        "neigh_clusters": neigh["clusters"],
        "agreement": agreement["rate"], "agreement_pairs": agreement["pairs"], "agreement_exact": agreement["exact"],
        "note": notes,
    }


def evaluate_arrays(indices: Any, scores: Mapping[str, Any], acc: Any, proxies: str | Iterable[str] | None = "all",
                    n_bootstrap: int = 1000, seed: int = 0, dataset: str = "", split: str = "") -> list[dict[str, Any]]:
    """:func:`evaluate` on loaded data (see :func:`load_scores`).

    Args:
      indices: benchmark indices of the cells.
      scores: a dict from proxy name to scores aligned with ``indices``.
      acc: their accuracies.
      proxies: the selection (see :func:`select_proxies`).
      n_bootstrap: bootstrap replicates of each confidence interval (0: none).
      seed: seed of the bootstrap and of the pair sample.
      dataset, split: recorded in each row.

    Returns:
      The rows of :func:`evaluate`.
    """
    indices = np.asarray(indices, dtype=np.int64).ravel()
    acc = np.asarray(acc, dtype=np.float64).ravel()
    scores = {k: np.asarray(v, dtype=np.float64).ravel() for k, v in scores.items()}
    rows = []
    for name in select_proxies(scores, proxies):
        if name == VOTE and VOTE not in scores:
            values, _ = vote(scores, VOTE_MEMBERS)
            values = values.astype(np.float64)
            agreement = vote_agreement(scores, acc, VOTE_MEMBERS, seed=seed)
            note = "majority vote of " + ", ".join(VOTE_MEMBERS) + "; agreement is the paper's 0.82"
        else:
            values = scores[name]
            keep = ~np.isnan(values)
            agreement = vote_agreement(values[None, keep], acc[keep], None, seed=seed)
            note = ""
        row = _proxy_row(name, indices, values, acc, n_bootstrap, seed, agreement, note)
        rows.append({"proxy": name, "dataset": dataset, "split": split, **row})
    return rows


def evaluate(path: str | os.PathLike, dataset: str = "cifar10", split: str = "val",
             proxies: str | Iterable[str] | None = "all", n_bootstrap: int = 1000,
             seed: int = 0) -> list[dict[str, Any]]:
    """Evaluates every proxy of a scores file against the benchmark accuracy.

    Args:
      path: a .jsonl or .csv scores file.
      dataset: 'cifar10', 'cifar100' or 'ImageNet16-120'.
      split: 'train', 'val' or 'test'.
      proxies: 'all', a comma-separated string or names (see
        :func:`select_proxies`); 'all' adds a 'vote' row when synflow,
        jacob_cov and snip are all in the file.
      n_bootstrap: bootstrap replicates of the confidence intervals of rho,
        tau and the top-10% hit rate (0: no intervals).
      seed: seed of the bootstrap and of the pair sample.

    Returns:
      One dict per proxy with the keys of :data:`CSV_COLUMNS`: ``n``/``n_nan``
      (cells used / left out as NaN), ``sign``, ``spearman``/``kendall`` with
      ``_lo``/``_hi`` (bootstrap interval) and ``_p``, the top-10% statistics
      (``top10_spearman``, ``top10_hit_pct`` with its interval,
      ``top5_in_top64``), the neighbourhood statistics (``neigh_spearman``,
      ``neigh_best_pct``, ``neigh_clusters``), the pairwise ``agreement`` rate
      (for 'vote': the paper's 0.82) and ``note``, a list of remarks (joined by "; " in
      the CSV).

    Raises:
      FileNotFoundError, ValueError: see :func:`load_scores` and
        :func:`select_proxies`.
    """
    if n_bootstrap < 0:
        raise ValueError(f"the number of bootstrap replicates must be >= 0, got {n_bootstrap}")
    indices, scores, acc = load_scores(path, dataset, split)
    return evaluate_arrays(indices, scores, acc, proxies, n_bootstrap, seed,
                           benchmark.dataset_info(dataset).name, split)


# --------------------------------------------------------------------------- output


def _num(v: Any, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    return f"{v:.{digits}f}"


def _with_ci(v: Any, lo: Any, hi: Any, digits: int = 3) -> str:
    text = _num(v, digits)
    if text != "–" and not (math.isnan(lo) or math.isnan(hi)):
        text += f" [{lo:.{digits}f}, {hi:.{digits}f}]"
    return text


def to_markdown(rows: Sequence[Mapping[str, Any]]) -> str:
    """A Markdown table of :func:`evaluate` rows, with footnotes.

    Args:
      rows: the rows of :func:`evaluate`.

    Returns:
      The table (proxy | n | spearman [CI] | kendall [CI] | top10% rho |
      top10% hit % | top5%-in-top64 | neigh rho | neigh best % | vote
      agreement), followed by notes, ending in a newline.
    """
    header = ["proxy", "n", "spearman [CI]", "kendall [CI]", "top10% rho", "top10% hit %", "top5%-in-top64",
              "neigh rho", "neigh best %", "vote agreement"]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    for r in rows:
        n = str(r["n"]) + (f" ({r['n_nan']} NaN)" if r.get("n_nan") else "")
        hit = _with_ci(r["top10_hit_pct"], r["top10_hit_lo"], r["top10_hit_hi"], 1)
        top5 = _num(r["top5_in_top64"])
        cells = [str(r["proxy"]), n, _with_ci(r["spearman"], r["spearman_lo"], r["spearman_hi"]),
                 _with_ci(r["kendall"], r["kendall_lo"], r["kendall_hi"]), _num(r["top10_spearman"]), hit, top5,
                 _num(r["neigh_spearman"]), _num(r["neigh_best_pct"], 1), _num(r["agreement"])]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    first = rows[0] if rows else {}
    if first.get("dataset"):
        lines.append(f"Accuracy: {first['dataset']} {first.get('split', '')} (benchmark table). "
                     "Signs as measured: a negative rho means the proxy scores worse cells higher.")
    clusters = sorted({int(r["neigh_clusters"]) for r in rows})
    lines.append("CI: 95% percentile bootstrap over cells. top10%: within the 10% most accurate cells; "
                 "top5%-in-top64: the 5% most accurate cells among the proxy's top 64. "
                 f"neigh: clusters of a cell and its 24 edit-distance-1 neighbours "
                 f"({', '.join(map(str, clusters)) or 0} clusters).")
    lines.append("vote agreement: fraction of cell pairs (different accuracies) ordered like accuracy by the "
                 "proxy alone, or for 'vote' by the majority of synflow, jacob_cov and snip (the paper's 0.82).")
    parts = [list(r.get("note") or []) for r in rows]
    shared = [p for p in (parts[0] if len(rows) > 1 else []) if all(p in ps for ps in parts)]
    if shared:
        lines.append(f"- every proxy: {'; '.join(shared)}")
    for r, ps in zip(rows, parts):
        own = [p for p in ps if p not in shared]
        if own:
            lines.append(f"- {r['proxy']}: {'; '.join(own)}")
    return "\n".join(lines) + "\n"


def write_csv(rows: Sequence[Mapping[str, Any]], path: str | os.PathLike) -> None:
    """Writes :func:`evaluate` rows as CSV (columns :data:`CSV_COLUMNS`, NaN as empty).

    Args:
      rows: the rows.
      path: the output file.
    """
    extra = [k for r in rows for k in r if k not in CSV_COLUMNS]
    columns = list(CSV_COLUMNS) + list(dict.fromkeys(extra))
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        for r in rows:
            values = []
            for c in columns:
                v = r.get(c, "")
                if isinstance(v, (float, np.floating)):
                    v = "" if math.isnan(v) else repr(float(v))
                elif isinstance(v, list):
                    v = "; ".join(v)
                values.append(v)
            writer.writerow(values)


def _axis_scale(values: np.ndarray) -> tuple[str, dict[str, Any]]:
    """The x-axis scale of a scatter plot: 'log' for positive values, else 'symlog' (or 'linear' if all 0)."""
    finite = values[np.isfinite(values)]
    if finite.size and (finite > 0).all():
        return "log", {}
    nonzero = np.abs(finite[finite != 0])
    if not nonzero.size:
        return "linear", {}
    return "symlog", {"linthresh": float(nonzero.min())}


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name) or "proxy"


def scatter_plots(path_or_data: str | os.PathLike | tuple[Any, Mapping[str, Any], Any], out_dir: str | os.PathLike,
                  proxies: str | Iterable[str] | None = None, dataset: str = "cifar10",
                  split: str = "val") -> list[str]:
    """One scatter plot per proxy: score against accuracy, rho in the title.

    Like the paper's SSNR figure: the score on a log x-axis (symlog when some
    values are zero or negative), the accuracy on the y-axis. Uses
    matplotlib's Agg canvas directly (no pyplot, no global backend change),
    imported only here.

    Args:
      path_or_data: a scores file, or ``(indices, scores, accuracy)`` as
        returned by :func:`load_scores`.
      out_dir: the folder of the PNG files (created if needed).
      proxies: the selection (see :func:`select_proxies`; None: all).
      dataset, split: the accuracy of a scores file (labels only for data).

    Returns:
      The paths written, ``<out_dir>/scatter_<proxy>.png``, in proxy order.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if isinstance(path_or_data, (str, os.PathLike)):
        indices, scores, acc = load_scores(path_or_data, dataset, split)
    else:
        indices, scores, acc = path_or_data
    acc = np.asarray(acc, dtype=np.float64)
    scores = {k: np.asarray(v, dtype=np.float64) for k, v in scores.items()}
    os.makedirs(out_dir, exist_ok=True)
    paths = []
    for name in select_proxies(scores, proxies):
        values = vote(scores, VOTE_MEMBERS)[0].astype(np.float64) if name not in scores else scores[name]
        rho = spearman(values, acc)
        keep = np.isfinite(values) & np.isfinite(acc)
        fig = Figure(figsize=(5, 4), dpi=100)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        ax.scatter(values[keep], acc[keep], s=3, alpha=0.4, linewidths=0)
        scale, kwargs = _axis_scale(values[keep])
        ax.set_xscale(scale, **kwargs)
        ax.set_xlabel(f"{name} score" + ("" if scale == "linear" else f" ({scale} scale)"))
        ax.set_ylabel(f"{dataset} {split} accuracy (%)")
        ax.set_title(f"{name}\nSpearman ρ = {_num(rho)}, n = {int(keep.sum())}", fontsize=10)
        ax.grid(True, alpha=0.3)
        fig.tight_layout()
        path = os.path.join(os.fspath(out_dir), f"scatter_{_safe_name(name)}.png")
        fig.savefig(path, format="png")
        paths.append(path)
    return paths


# --------------------------------------------------------------------------- command line


class _UsageError(ValueError):
    """A bad command line."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise _UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser (errors raise instead of exiting)."""
    p = _Parser(prog=PROG, description=__doc__.split("\n\n")[0],
                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("scores", help="a .jsonl or .csv scores file (from python -m zcjax.score)")
    p.add_argument("--dataset", default="cifar10", help="cifar10 | cifar100 | ImageNet16-120 (default cifar10)")
    p.add_argument("--split", default="val", help="train | val | test (default val)")
    p.add_argument("--proxies", default="all", help="comma-separated proxy columns, 'vote', or 'all' (default)")
    p.add_argument("--bootstrap", type=int, default=1000, metavar="N",
                   help="bootstrap replicates of the confidence intervals (default 1000; 0: none)")
    p.add_argument("--seed", type=int, default=0, help="seed of the bootstrap and the pair sample (default 0)")
    p.add_argument("--out-dir", metavar="DIR", help="write evaluation.md, evaluation.csv (and plots) here")
    p.add_argument("--plots", action="store_true", help="with --out-dir: a scatter plot per proxy (PNG)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: prints the Markdown table; returns the exit status.

    Args:
      argv: the arguments (default ``sys.argv[1:]``).

    Returns:
      0 on success; 2 on bad input, with one line ``python -m zcjax.evaluate:
      error: ...`` on stderr.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.bootstrap < 0:
            raise _UsageError(f"--bootstrap must be >= 0, got {args.bootstrap}")
        if args.plots and not args.out_dir:
            raise _UsageError("--plots needs --out-dir")
        benchmark.dataset_info(args.dataset)
        if args.split not in benchmark.SPLITS:
            raise _UsageError(f"unknown split {args.split!r}; valid splits are {', '.join(benchmark.SPLITS)}")
        if args.out_dir and os.path.exists(args.out_dir) and not os.path.isdir(args.out_dir):
            raise _UsageError(f"--out-dir {args.out_dir} is not a folder")
        data = load_scores(args.scores, args.dataset, args.split)
        rows = evaluate_arrays(*data, proxies=args.proxies, n_bootstrap=args.bootstrap, seed=args.seed,
                               dataset=benchmark.dataset_info(args.dataset).name, split=args.split)
        table = to_markdown(rows)
        if args.out_dir:
            os.makedirs(args.out_dir, exist_ok=True)
            with open(os.path.join(args.out_dir, "evaluation.md"), "w") as f:
                f.write(f"# Proxy evaluation: {os.path.basename(os.fspath(args.scores))}\n\n" + table)
            write_csv(rows, os.path.join(args.out_dir, "evaluation.csv"))
            if args.plots:
                scatter_plots(data, args.out_dir, [r["proxy"] for r in rows], args.dataset, args.split)
    except SystemExit as exit_:  # --help
        return int(exit_.code or 0)
    except (ValueError, OSError, IndexError) as err:
        message = " ".join(str(err).split()) or type(err).__name__
        print(f"{PROG}: error: {message}", file=sys.stderr)
        return 2
    sys.stdout.write(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
