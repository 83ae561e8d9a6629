"""Cell spaces as integer codes, and the tables a tabular search looks up.

A cell of a space with ``E`` edges and ``K`` ops per edge is coded as the base-K
number of its op indices, edge 0 most significant: ``code = sum ops[e] *
K**(E-1-e)``. NAS-Bench-201 is ``Space(6, 5)``: 15,625 codes, mapped to the
benchmark's own indices by :func:`nb201_code_to_index`. Small synthetic spaces
(``Space(3, 3)``: 27 cells) serve the tests.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np


@dataclasses.dataclass(frozen=True)
class Space:
    """A cell space: ``num_edges`` edges, each with one of ``num_ops`` ops.

    Attributes:
      num_edges: edges per cell (6 in NAS-Bench-201).
      num_ops: ops per edge (5 in NAS-Bench-201).
    """

    num_edges: int = 6
    num_ops: int = 5

    @property
    def size(self) -> int:
        """Number of cells."""
        return self.num_ops ** self.num_edges

    @property
    def num_neighbours(self) -> int:
        """Cells at edit distance 1 from any cell (24 in NAS-Bench-201)."""
        return self.num_edges * (self.num_ops - 1)

    def _powers(self) -> jax.Array:
        return jnp.asarray([self.num_ops ** (self.num_edges - 1 - e) for e in range(self.num_edges)], jnp.int32)

    def decode(self, code: jax.Array) -> jax.Array:
        """Op indices (..., E) int32 of codes (...)."""
        code = jnp.asarray(code, jnp.int32)
        return (code[..., None] // self._powers()) % jnp.int32(self.num_ops)

    def encode(self, ops: jax.Array) -> jax.Array:
        """Codes (...) int32 of op indices (..., E)."""
        return jnp.sum(jnp.asarray(ops, jnp.int32) * self._powers(), axis=-1)

    def neighbours(self, code: jax.Array) -> jax.Array:
        """The E*(K-1) codes at edit distance 1, edge-major then by op (as ``nb201.neighbours``).

        Args:
          code: a scalar code (vmap for several).

        Returns:
          int32 (E*(K-1),).
        """
        ops = self.decode(code)                                       # (E,)
        j = jnp.arange(self.num_ops - 1, dtype=jnp.int32)[None, :]    # (1, K-1)
        new = j + (j >= ops[:, None]).astype(jnp.int32)               # the other ops, ascending
        delta = (new - ops[:, None]) * self._powers()[:, None]
        return (jnp.asarray(code, jnp.int32) + delta).reshape(-1)


NB201 = Space(6, 5)


BIG = 1e30


def score_key(scores: np.ndarray) -> np.ndarray:
    """Proxy scores as float32 search keys: the identity up to 1e30, logarithmic beyond.

    synflow reaches 1e47, past float32. ``x`` for ``|x| <= 1e30``, else
    ``sign(x) * 1e30 * (1 + ln(|x| / 1e30))``: continuous and increasing, so
    rankings are kept (on the NAS-Bench-201 synflow files, 15,424 of 15,425
    distinct values stay distinct). Computed in float64; NaN stays NaN. Both
    drivers apply it, so strategies see the same float32 numbers either way.
    """
    s = np.asarray(scores, np.float64)
    a = np.abs(s)
    big = a > BIG
    with np.errstate(invalid="ignore"):
        out = np.where(big, np.sign(s) * BIG * (1 + np.log(np.where(big, a, BIG) / BIG)), s)
    return out.astype(np.float32)


class Oracle(NamedTuple):
    """What a tabular search looks up, indexed by cell code.

    Attributes:
      score: float32 (C,) proxy score as a search key (:func:`score_key`; NaN:
        unknown or failed, ranked last).
      val: float32 (C,) validation accuracy (the search's fitness).
      test: float32 (C,) test accuracy (reported only).
    """

    score: jax.Array
    val: jax.Array
    test: jax.Array


@functools.lru_cache(maxsize=1)
def _nb201_maps() -> tuple[np.ndarray, np.ndarray]:
    from zcjax.spaces.nb201 import benchmark

    ops = benchmark.all_ops()
    codes = (ops.astype(np.int64) * (5 ** np.arange(5, -1, -1))).sum(axis=1).astype(np.int32)
    code_to_index = np.empty(NB201.size, np.int32)
    code_to_index[codes] = np.arange(NB201.size, dtype=np.int32)
    codes.setflags(write=False)
    code_to_index.setflags(write=False)
    return code_to_index, codes


def nb201_code_to_index() -> np.ndarray:
    """int32 (15625,): benchmark index of each NAS-Bench-201 code."""
    return _nb201_maps()[0]


def nb201_index_to_code() -> np.ndarray:
    """int32 (15625,): code of each benchmark index."""
    return _nb201_maps()[1]


def nb201_oracle(scores_by_index: np.ndarray, dataset: str) -> Oracle:
    """The tabular oracle of NAS-Bench-201 for one dataset.

    Args:
      scores_by_index: (15625,) proxy scores in benchmark index order (NaN where unknown).
      dataset: 'cifar10' (the benchmark's cifar10-valid), 'cifar100' or 'ImageNet16-120'.

    Returns:
      An :class:`Oracle` in code order; the search runs on validation accuracy
      and reports test accuracy.
    """
    from zcjax.spaces.nb201 import benchmark

    c2i = nb201_code_to_index()
    val = benchmark.accuracies(dataset, "val")
    test = benchmark.accuracies(dataset, "test")
    return Oracle(score=jnp.asarray(score_key(np.asarray(scores_by_index, np.float64)[c2i])),
                  val=jnp.asarray(val[c2i], jnp.float32), test=jnp.asarray(test[c2i], jnp.float32))


def synthetic_oracle(space: Space, seed: int = 0, noise: float = 0.5) -> Oracle:
    """A small random space for tests: accuracy additive over edges, the proxy a noisy copy.

    Args:
      space: the space (keep it small, e.g. ``Space(3, 3)``).
      seed: NumPy seed.
      noise: standard deviation of the proxy's noise, relative to the accuracy's spread.

    Returns:
      An :class:`Oracle` whose unique optimum is the cell of the best op on each edge.
    """
    rng = np.random.default_rng(seed)
    weights = rng.permutation(space.num_edges * space.num_ops).reshape(space.num_edges, space.num_ops) * 0.5
    ops = np.asarray(space.decode(jnp.arange(space.size, dtype=jnp.int32)))
    val = weights[np.arange(space.num_edges)[None, :], ops].sum(axis=1) + 50.0
    test = val + rng.normal(0, 0.01, val.shape)
    score = val + rng.normal(0, noise * val.std(), val.shape)
    return Oracle(score=jnp.asarray(score_key(score)), val=jnp.asarray(val, jnp.float32),
                  test=jnp.asarray(test, jnp.float32))


@dataclasses.dataclass(frozen=True)
class SearchTable:
    """What a tabular search over a registered space looks up, by the space's index.

    Attributes:
      space: the registered space's name (``zcjax.spaces``).
      task: its task.
      coded: the code space (``Space(positions, values)``).
      code_to_index: int32 (C,): the space's index of each code.
      val: float64 (size,): the fitness the search sees, by index.
      test: float64 (size,): the accuracy reported, by index.
    """

    space: str
    task: str
    coded: Space
    code_to_index: np.ndarray
    val: np.ndarray
    test: np.ndarray

    def oracle(self, scores_by_index: np.ndarray) -> Oracle:
        """The :class:`Oracle` (code order) of proxy scores given by index (NaN where unknown)."""
        c2i = self.code_to_index
        return Oracle(score=jnp.asarray(score_key(np.asarray(scores_by_index, np.float64)[c2i])),
                      val=jnp.asarray(self.val[c2i], jnp.float32), test=jnp.asarray(self.test[c2i], jnp.float32))


@functools.lru_cache(maxsize=8)
def search_table(space: str = "nb201", task: str | None = None) -> SearchTable:
    """The table of a product space whose every architecture has a known accuracy.

    NAS-Bench-201: validation accuracy as fitness, test accuracy reported.
    Other spaces: their ground truth (``space.ground_truth(task)``) as both,
    since they publish one accuracy per architecture (NAS-Bench-Macro: the
    mean test accuracy of 3 trainings).

    Raises:
      ValueError: the space is not a product space of equal positions, or
        lacks the accuracy of some architecture (one line).
    """
    from zcjax import spaces

    sp = spaces.get(space)
    task = sp.check_task(task)
    choices = sp.choices
    if not choices or len(set(choices)) != 1:
        raise ValueError(f"a tabular search needs a product space with the same choices at every position; "
                         f"{sp.name} is not one")
    coded = Space(len(choices), choices[0])
    if sp.name == "nb201":
        c2i = np.asarray(nb201_code_to_index())
        from zcjax.spaces.nb201 import benchmark

        val = np.asarray(benchmark.accuracies(task, "val"), np.float64)
        test = np.asarray(benchmark.accuracies(task, "test"), np.float64)
    else:
        ops = np.asarray(coded.decode(jnp.arange(coded.size, dtype=jnp.int32)))
        c2i = np.asarray([sp.index(tuple(int(o) for o in row)) for row in ops], np.int32)
        truth = sp.ground_truth(task)
        if len(truth) < sp.size:
            raise ValueError(f"a tabular search needs the accuracy of every architecture; {sp.name} {task} has "
                             f"{len(truth)} of {sp.size}")
        val = np.empty(sp.size, np.float64)
        for arch, value in truth.items():
            val[sp.index(arch)] = float(value)
        test = val
    for a in (c2i, val, test):
        a.setflags(write=False)
    return SearchTable(sp.name, task, coded, c2i, val, test)
