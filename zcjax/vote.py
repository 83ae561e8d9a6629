"""The paper's pairwise majority vote of several proxies.

A member says "cell i > cell j" when its score of i is larger (a tie or a NaN
abstains); the vote says so when more than half of the members do.
:func:`vote` turns the vote into a score (cells beaten) and
:func:`vote_agreement` measures how often it orders a pair of cells as the
accuracy does. Both take a dict of member scores or an array (members, cells)
and work through the pairs in chunks, so memory stays bounded. numpy only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["VOTE_MEMBERS", "vote", "vote_agreement"]

VOTE_MEMBERS: tuple[str, ...] = ("synflow", "jacob_cov", "snip")
"""The proxies of the paper's majority vote."""


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
