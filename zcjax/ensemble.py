"""Zero-shot ensembles: several proxies' scores combined by rank, nothing fitted to accuracy.

Three rules, over any set of proxies scored on the same population of cells:

* :func:`log_rank` (AZ-NAS's aggregation): each member ranks the cells
  (1 = lowest score, n = highest, ties averaged), and a cell's ensemble score
  is ``sum over members of log(rank / n)``. A cell must be good on every
  member to score high: one bad rank costs more than a good one gains.
* :func:`rank_sum` (TE-NAS's): the sum of the members' ranks.
* :func:`lex_rank` (VKDNW's): ``log`` of the dense rank of the tuple of the
  members' scores, compared member by member (the first decides, the next
  breaks its ties).
* :func:`vote` (the zero-cost paper's majority vote, for k members): cell i
  beats cell j when more than half the members score i higher; the score is
  the number of cells beaten.

A member is a result name, or ``-name`` when lower is better. A NaN member
score (a degenerate cell, e.g. jacob_cov of a cell whose output ignores its
input) ranks below every number in the rank rules (``rank``, ``ranksum``,
``lexrank``); in ``vote`` that member abstains on the cell's pairs, as in the
paper's vote (:mod:`zcjax.vote`). Ranks are relative to the population scored
together: the same cell can get another ensemble score in another population,
so an ensemble is computed from a whole scores file (``python -m
zcjax.evaluate --proxies rank:a+b``) or over the rows of one run
(:func:`ensemble_rows`).

Spec strings name an ensemble as ``<rule>:<m1>+<m2>+...`` (:func:`parse`);
the published ensembles have names of their own (:data:`ALIASES`): ``az_nas``
is AZ-NAS's final score. An alias may be a member of another ensemble: in
``vkdnw_agg`` = ``rank:vkdnw+az_expressivity+...``, the member ``vkdnw`` is
VKDNW_single's score, ranked like any other member.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import scipy.stats

from .vote import vote as _vote

__all__ = ["ALIASES", "RULES", "RULE_NAMES", "Ensemble", "ensemble_rows", "is_spec", "lex_rank", "log_rank",
           "member_ranks", "parse", "rank_sum", "vote"]

RULES = ("rank", "ranksum", "lexrank", "vote")
RULE_NAMES = {"rank": "sum of log-ranks", "ranksum": "sum of ranks", "lexrank": "dense rank of the members' tuple",
              "vote": "majority vote"}
ALIASES = {
    # AZ-NAS (Lee & Ham 2024): expressivity, progressivity, trainability and complexity (FLOPs), by log-rank.
    "az_nas": "rank:az_expressivity+az_progressivity+az_trainability+flops",
    # TE-NAS (Chen et al. 2021): the sum of the ranks of its two scores.
    "te_nas": "ranksum:te_ntk+te_linear_regions",
    # VKDNW (CVPR 2025), VKDNW_single: the number of tensors first, then the Fisher spectrum's entropy.
    "vkdnw": "lexrank:vkdnw_dim+vkdnw_entropy",
    # VKDNW_agg: VKDNW_single's ranking with AZ-NAS's expressivity and trainability, FLOPs and jacob_cov.
    "vkdnw_agg": "rank:vkdnw+az_expressivity+az_trainability+flops+jacob_cov",
}


@dataclasses.dataclass(frozen=True)
class Ensemble:
    """An ensemble rule over named members.

    Attributes:
      rule: 'rank' (sum of log-ranks), 'ranksum' (sum of ranks), 'lexrank' (log
        of the dense rank of the members' tuple) or 'vote' (majority vote wins).
      members: result names, each optionally prefixed with '-' (lower is better).
        A member named by an alias (``vkdnw``) that the scores lack is that
        ensemble's score, computed first from its own members.
      label: the alias this ensemble was parsed from, if any.
    """

    rule: str
    members: tuple[str, ...]
    label: str | None = None

    def __post_init__(self):
        if self.rule not in RULES:
            raise ValueError(f"unknown ensemble rule {self.rule!r}; expected one of {', '.join(RULES)}")
        if not self.members or any(not m.lstrip("-") for m in self.members):
            raise ValueError(f"an ensemble needs named members, got {'+'.join(self.members)!r}")
        if len({m.lstrip("-") for m in self.members}) != len(self.members):
            raise ValueError(f"ensemble members repeat: {'+'.join(self.members)}")

    @property
    def spec(self) -> str:
        """The spec string, e.g. ``rank:synflow+jacob_cov``."""
        return f"{self.rule}:{'+'.join(self.members)}"

    @property
    def name(self) -> str:
        """The column name: its alias (``az_nas``), else its spec string."""
        return self.label or self.spec

    @property
    def columns(self) -> tuple[str, ...]:
        """The result names the ensemble reads, without '-'; an aliased member stands for its own columns."""
        return self.needs(())

    def needs(self, available: Iterable[str]) -> tuple[str, ...]:
        """The result names to read when ``available`` are at hand: an aliased member found there is read as
        it is, one not found stands for its own columns (with none at hand: :attr:`columns`)."""
        available = set(available)
        names: list[str] = []
        for member in self.members:
            name = member.lstrip("-")
            names += parse(name).needs(available) if name in ALIASES and name not in available else [name]
        return tuple(dict.fromkeys(names))

    def member_scores(self, scores: Mapping[str, Any]) -> dict[str, Any]:
        """``scores`` with every member present: an aliased member the scores lack is computed from its columns."""
        scores = dict(scores)
        for member in self.members:
            name = member.lstrip("-")
            if name not in scores and name in ALIASES:
                scores[name] = parse(name)(scores)
        missing = [m.lstrip("-") for m in self.members if m.lstrip("-") not in scores]
        if missing:
            raise ValueError(f"ensemble {self.name} needs {', '.join(missing)}, which the scores lack")
        return scores

    def __call__(self, scores: Mapping[str, Any]) -> np.ndarray:
        """The ensemble score of every cell (float64), from ``{member name: scores}``."""
        scores = self.member_scores(scores)
        if self.rule == "rank":
            return log_rank(scores, self.members)
        if self.rule == "ranksum":
            return rank_sum(scores, self.members)
        if self.rule == "lexrank":
            return lex_rank(scores, self.members)
        return vote(scores, self.members)


def is_spec(name: str) -> bool:
    """Whether a proxy selection name is an ensemble (``rank:...``, ``vote:...`` or an alias)."""
    return isinstance(name, str) and (name in ALIASES or (":" in name and name.split(":", 1)[0] in RULES))


def parse(spec: str) -> Ensemble:
    """An :class:`Ensemble` from ``rule:m1+m2+...`` or an alias; ValueError naming the problem otherwise."""
    if spec in ALIASES:
        return dataclasses.replace(parse(ALIASES[spec]), label=spec)
    rule, sep, rest = spec.partition(":")
    if not sep or rule not in RULES:
        raise ValueError(f"an ensemble is written rank:<a>+<b>..., ranksum:<a>+<b>..., lexrank:<a>+<b>... or "
                         f"vote:<a>+<b>..., "
                         f"got {spec!r}")
    return Ensemble(rule, tuple(m.strip() for m in rest.split("+")))


def _column(scores: Mapping[str, Any], member: str) -> np.ndarray:
    values = np.asarray(scores[member.lstrip("-")], dtype=np.float64).ravel()
    return -values if member.startswith("-") else values


def _columns(scores: Mapping[str, Any], members: Sequence[str]) -> list[np.ndarray]:
    """The members' score columns, checked to be of one length."""
    columns = [_column(scores, m) for m in members]
    sizes = {c.size for c in columns}
    if len(sizes) != 1:
        raise ValueError(f"ensemble members have different lengths: {sorted(sizes)}")
    return columns


def member_ranks(values: Any) -> np.ndarray:
    """Ranks 1..n of one member's scores (ties averaged); NaN ranks below every number (tied among NaNs)."""
    values = np.asarray(values, dtype=np.float64).ravel()
    finite = np.where(np.isnan(values), -np.inf, values)
    return scipy.stats.rankdata(finite, method="average")


def log_rank(scores: Mapping[str, Any], members: Sequence[str]) -> np.ndarray:
    """AZ-NAS's aggregation: ``sum over members of log(rank / n)``; higher is better.

    Args:
      scores: ``{result name: scores}``, every member aligned over the same n cells.
      members: the names to combine; ``-name`` reverses a member (lower is better).

    Returns:
      (n,) float64 scores in (-inf, 0]; 0 for a cell ranked first by every member.
    """
    columns = _columns(scores, members)
    return np.sum([np.log(member_ranks(c) / c.size) for c in columns], axis=0)


def rank_sum(scores: Mapping[str, Any], members: Sequence[str]) -> np.ndarray:
    """TE-NAS's aggregation: the sum of the members' ranks (1 = lowest score, ties averaged, NaN lowest)."""
    return np.sum([member_ranks(c) for c in _columns(scores, members)], axis=0)


def lex_rank(scores: Mapping[str, Any], members: Sequence[str]) -> np.ndarray:
    """VKDNW's ranking: ``log`` of the dense rank (1 = lowest) of each cell's tuple of member scores.

    Tuples compare member by member, the first member first; NaN ranks below every number.
    """
    columns = _columns(scores, members)
    table = np.stack([np.where(np.isnan(c), -np.inf, c) for c in columns], axis=1)
    _, dense = np.unique(table, axis=0, return_inverse=True)
    return np.log(dense.ravel() + 1.0)


def vote(scores: Mapping[str, Any], members: Sequence[str]) -> np.ndarray:
    """The majority vote of ``members`` as a score: the number of cells each cell beats (float64)."""
    matrix = np.stack(_columns(scores, members))
    wins, _ = _vote(matrix)
    return wins.astype(np.float64)


def ensemble_rows(rows: Iterable[Mapping[str, Any]], specs: str | Iterable[str]) -> list[dict[str, Any]]:
    """The rows of one run with ensemble columns added.

    Args:
      rows: rows as :func:`zcjax.score_cells` returns them (one population).
      specs: ensemble specs (see :func:`parse`), a list or a comma-separated string.

    Returns:
      New dicts: each row with one column per spec, named by the spec.
    """
    rows = [dict(r) for r in rows]
    if isinstance(specs, str):
        specs = [s for s in specs.split(",") if s.strip()]
    for spec in specs:
        ens = parse(spec.strip())
        present = {c for r in rows for c in r}
        needed = ens.needs(present)
        missing = [c for c in needed if c not in present]
        if missing:
            raise ValueError(f"ensemble {ens.name} needs {', '.join(missing)}, which the rows lack")
        columns = {c: [r.get(c, np.nan) for r in rows] for c in needed}
        for row, value in zip(rows, ens(columns)):
            row[ens.name] = float(value)
    return rows
