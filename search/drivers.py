"""Drivers: run a :class:`~zcjax.search.strategy.Strategy` tabular (one jitted scan) or live (engine-scored).

Both drivers derive every key the same way from the run's seed and call the
same strategy functions in the same order, so for the same seed and the same
scores they train the same cells (``tests/test_search_live.py``).

Key schedule of a run with seed ``s``: ``k_init, k_warm, k_steps =
split(key(s), 3)``; warm-up round ``r`` uses ``fold_in(k_warm, r)``; step
``t`` uses ``k = fold_in(k_steps, t)``, split into ``k_score, k_train``; its
proxy round ``q`` uses ``fold_in(k_score, q)``.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .space import Oracle, score_key
from .strategy import Strategy


class Trajectory(NamedTuple):
    """What a run did, per trained cell (``budget`` entries, in training order).

    Attributes:
      cells: int32 (..., budget): the code of each trained cell.
      proxy_evals: int32 (..., budget): distinct cells scored by the proxy when it was trained.
    """

    cells: np.ndarray
    proxy_evals: np.ndarray


def num_steps(strategy: Strategy, budget: int) -> int:
    """Steps a run of ``budget`` trained cells takes."""
    return -(-budget // strategy.plan().train_size)


def check_budget(strategy: Strategy, budget: int) -> None:
    """Raises ValueError for a budget the strategy cannot use."""
    plan = strategy.plan()
    if budget < 1:
        raise ValueError(f"budget must be at least 1 trained cell, got {budget}")
    if budget < plan.first_train:
        raise ValueError(f"budget of {budget} trained cells is smaller than the pool ({plan.first_train})")
    if strategy.name == "bp" and budget > strategy.capacity:
        raise ValueError(f"budget of {budget} exceeds BP's capacity ({strategy.capacity} trained cells)")
    if strategy.name == "rand" and budget > strategy.space.size:
        raise ValueError(f"budget of {budget} exceeds the {strategy.space.size} cells of the space")


def _run_keys(seed):
    return jax.random.split(jax.random.key(seed), 3)


def _one_run(strategy: Strategy, params: Any, oracle: Oracle, seed: jax.Array, budget: int):
    """One whole run, traced: warm-up scan, then a scan over steps."""
    plan = strategy.plan()
    size = strategy.space.size
    k_init, k_warm, k_steps = _run_keys(seed)
    state = strategy.init(k_init, params)
    # A barrier keeps XLA from constant-folding sums over this all-False start (seconds per compile for
    # vmapped runs: "Constant folding an instruction is taking > 1s").
    scored = jax.lax.optimization_barrier(jnp.zeros((size,), bool))

    def warm(carry, r):
        state, scored = carry
        cells, state = strategy.ask_warmup(jax.random.fold_in(k_warm, r), state, params)
        state = strategy.tell_warmup(cells, oracle.score[cells], state, params)
        return (state, scored.at[cells].set(True)), None

    (state, scored), _ = jax.lax.scan(warm, (state, scored), jnp.arange(plan.warmup_rounds, dtype=jnp.int32))

    def step(carry, t):
        state, scored = carry
        k_score, k_train = jax.random.split(jax.random.fold_in(k_steps, t))

        def proxy_round(carry, q):
            state, scored = carry
            cells, mask, state = strategy.ask_score(jax.random.fold_in(k_score, q), state, params)
            scores = jnp.where(mask, oracle.score[cells], jnp.nan)
            state = strategy.tell_score(cells, scores, state, params)
            return (state, scored.at[cells].set(scored[cells] | mask)), None

        (state, scored), _ = jax.lax.scan(proxy_round, (state, scored),
                                          jnp.arange(plan.score_rounds, dtype=jnp.int32))
        cells, state = strategy.ask_train(k_train, state, params)
        state = strategy.tell_train(cells, oracle.val[cells], state, params)
        evals = jnp.sum(scored, dtype=jnp.int32)
        return (state, scored), (cells, jnp.broadcast_to(evals, cells.shape))

    steps = num_steps(strategy, budget)
    _, (cells, evals) = jax.lax.scan(step, (state, scored), jnp.arange(steps, dtype=jnp.int32))
    return cells.reshape(-1)[:budget], evals.reshape(-1)[:budget]


@functools.lru_cache(maxsize=64)
def tabular_fn(strategy: Strategy, budget: int, *, vmapped: bool = True) -> Callable:
    """The compiled run: ``fn(params, oracle, seeds) -> (cells, proxy_evals)``.

    Args:
      strategy: the algorithm.
      budget: trained cells per run.
      vmapped: ``seeds`` is a vector of seeds (one vmap over runs) rather than one seed.

    The function is cached per (strategy, budget, vmapped), so it compiles once per shape.
    """
    def run(params, oracle, seed):
        return _one_run(strategy, params, oracle, seed, budget)
    return jax.jit(jax.vmap(run, in_axes=(None, None, 0)) if vmapped else run)


def run_tabular(strategy: Strategy, oracle: Oracle, seeds: Sequence[int], budget: int,
                params: Any = None, *, vmapped: bool = True) -> Trajectory:
    """Runs one search per seed on tables: one jitted scan per run, vmapped over the seeds.

    Args:
      strategy: the algorithm.
      oracle: proxy scores and accuracies of every cell of the space, by code.
      seeds: one seed per run.
      budget: trained cells per run.
      params: hyper-parameters (default ``strategy.default_params()``).
      vmapped: False runs the seeds one after the other (a Python loop over a
        jitted single run; for benchmarks).

    Returns:
      The :class:`Trajectory` of every run, shape (runs, budget).
    """
    check_budget(strategy, budget)
    params = strategy.default_params() if params is None else params
    seeds = jnp.asarray(np.asarray(seeds, np.int32))
    if vmapped:
        cells, evals = tabular_fn(strategy, budget)(params, oracle, seeds)
        return Trajectory(np.asarray(cells), np.asarray(evals))
    fn = tabular_fn(strategy, budget, vmapped=False)
    out = [fn(params, oracle, s) for s in seeds]
    return Trajectory(np.stack([np.asarray(c) for c, _ in out]), np.stack([np.asarray(e) for _, e in out]))


class LiveRun(NamedTuple):
    """A live run: its trajectory and its timing.

    Attributes:
      trajectory: cells and proxy evaluations, shape (budget,).
      seconds: wall time per trained cell since the start (budget,).
      scored: distinct cells the proxy scored.
      score_seconds: time spent computing proxy scores.
    """

    trajectory: Trajectory
    seconds: np.ndarray
    scored: int
    score_seconds: float


def run_live(strategy: Strategy, score_fn: Callable[[np.ndarray], np.ndarray], fitness_fn: Callable[[np.ndarray],
             np.ndarray], seed: int, budget: int, params: Any = None) -> LiveRun:
    """Runs one search step by step from Python, scoring the cells the strategy asks for.

    The strategy's functions are the tabular driver's, jitted one by one; only
    the scores come from ``score_fn`` instead of a table.

    Args:
      strategy: the algorithm.
      score_fn: codes (n,) int32 -> raw proxy scores (n,) (float64; NaN for
        failures); they pass through :func:`~zcjax.search.space.score_key` as in the tables.
        Called once per proxy round with the cells wanted (warm-up: the whole
        population; move proposal: all neighbours of all parents of the step);
        memoise in it (see :class:`zcjax.search.live.MemoScorer`).
      fitness_fn: codes (n,) -> validation accuracy (n,) (the training oracle).
      seed: the run's seed.
      budget: trained cells.
      params: hyper-parameters (default ``strategy.default_params()``).

    Returns:
      A :class:`LiveRun`.
    """
    check_budget(strategy, budget)
    params = strategy.default_params() if params is None else params
    plan = strategy.plan()
    jit = _jitted(strategy)
    start = time.perf_counter()
    score_time = 0.0
    scored: set[int] = set()

    def scores_of(cells: np.ndarray, mask: np.ndarray | None = None) -> jax.Array:
        nonlocal score_time
        cells = np.asarray(cells)
        mask = np.ones(cells.shape, bool) if mask is None else np.asarray(mask)
        out = np.full(cells.shape, np.nan, np.float32)
        if mask.any():
            t0 = time.perf_counter()
            out[mask] = score_key(np.asarray(score_fn(cells[mask]), np.float64))
            score_time += time.perf_counter() - t0
            scored.update(int(c) for c in cells[mask])
        return jnp.asarray(out)

    seed_arr = jnp.asarray(seed, jnp.int32)
    k_init, k_warm, k_steps = _run_keys(seed_arr)
    state = jit["init"](k_init, params)
    for r in range(plan.warmup_rounds):
        cells, state = jit["ask_warmup"](jax.random.fold_in(k_warm, jnp.int32(r)), state, params)
        state = jit["tell_warmup"](cells, scores_of(cells), state, params)
    trained, evals, seconds = [], [], []
    for t in range(num_steps(strategy, budget)):
        k_score, k_train = jax.random.split(jax.random.fold_in(k_steps, jnp.int32(t)))
        for q in range(plan.score_rounds):
            cells, mask, state = jit["ask_score"](jax.random.fold_in(k_score, jnp.int32(q)), state, params)
            state = jit["tell_score"](cells, scores_of(cells, mask), state, params)
        cells, state = jit["ask_train"](k_train, state, params)
        acc = jnp.asarray(np.asarray(fitness_fn(np.asarray(cells)), np.float64).astype(np.float32))
        state = jit["tell_train"](cells, acc, state, params)
        now = time.perf_counter() - start
        for c in np.asarray(cells):
            trained.append(int(c))
            evals.append(len(scored))
            seconds.append(now)
    traj = Trajectory(np.asarray(trained[:budget], np.int32), np.asarray(evals[:budget], np.int32))
    return LiveRun(traj, np.asarray(seconds[:budget]), len(scored), score_time)


_JIT_CACHE: dict[Any, dict[str, Callable]] = {}


def _jitted(strategy: Strategy) -> dict[str, Callable]:
    if strategy not in _JIT_CACHE:
        names = ("init", "ask_warmup", "tell_warmup", "ask_score", "tell_score", "ask_train", "tell_train")
        _JIT_CACHE[strategy] = {n: jax.jit(getattr(strategy, n)) for n in names}
    return _JIT_CACHE[strategy]
