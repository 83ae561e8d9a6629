"""Random search, aging evolution and REINFORCE as :class:`~zcjax.search.strategy.Strategy` objects.

Each is a frozen dataclass of its static configuration; its methods are pure
functions (jit-able, vmap-able) of a key, a state pytree and a params pytree.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from .space import NB201, Space
from .strategy import Plan, StrategyBase, best_first, rank_key


def _check_warmup(space: Space, warmup: int) -> None:
    if not 0 <= warmup <= space.size:
        raise ValueError(f"warm-up of {warmup} cells does not fit the space of {space.size} cells")


# ----------------------------------------------------------------------------------------------
# RAND
# ----------------------------------------------------------------------------------------------

class RandState(NamedTuple):
    order: jax.Array   # int32 (C,): the cells in the order they will be trained
    t: jax.Array       # int32: cells trained so far


@dataclasses.dataclass(frozen=True)
class RandomSearch(StrategyBase):
    """Random search without replacement; with warm-up, N random cells ranked by the proxy come first.

    Attributes:
      space: the cell space.
      warmup: N, the number of random cells scored by the proxy and trained
        best first (0: plain random search). After them, the rest of the space
        in random order.
    """

    name: ClassVar[str] = "rand"
    space: Space = NB201
    warmup: int = 0

    def __post_init__(self):
        _check_warmup(self.space, self.warmup)

    def plan(self) -> Plan:
        return Plan(int(self.warmup > 0), self.warmup, 0, 0, 1)

    def default_params(self) -> dict[str, Any]:
        return {}

    def init(self, key, params):
        return RandState(jax.random.permutation(key, self.space.size).astype(jnp.int32), jnp.int32(0))

    def ask_warmup(self, key, state, params):
        return state.order[:self.warmup], state

    def tell_warmup(self, cells, scores, state, params):
        return state._replace(order=state.order.at[:self.warmup].set(cells[best_first(scores)]))

    def ask_train(self, key, state, params):
        # Past the end of the space (a budget above its size) the last cell is asked again.
        t = jnp.minimum(state.t, jnp.int32(self.space.size - 1))
        return jax.lax.dynamic_slice(state.order, (t,), (1,)), state._replace(t=state.t + 1)

    def tell_train(self, cells, fitness, state, params):
        return state


# ----------------------------------------------------------------------------------------------
# AE
# ----------------------------------------------------------------------------------------------

class AEState(NamedTuple):
    perm: jax.Array        # int32: random cells (warm-up candidates, then the initial pool)
    queue: jax.Array       # int32 (P,): the initial pool, in the order it is trained
    pool: jax.Array        # int32 (P,): cells of the population (ring buffer, oldest at head)
    pool_val: jax.Array    # float32 (P,): their validation accuracy
    head: jax.Array        # int32: position of the oldest member
    n: jax.Array           # int32: cells trained so far
    parents: jax.Array     # int32 (B,): parents of this step's children (move proposal)
    scores: jax.Array      # float32 (B, E*(K-1)): proxy scores of the parents' neighbours


@dataclasses.dataclass(frozen=True)
class AgingEvolution(StrategyBase):
    """Regularised (aging) evolution, Real et al. 2019, with zero-cost warm-up and move proposal.

    The first ``pool`` trained cells form the population: random cells, or
    with warm-up the top ``pool`` of ``warmup`` random cells by the proxy. Then
    each step picks ``batch`` parents, each the best of ``tournament`` distinct
    members drawn at random, and trains one child of each; the children replace
    the oldest members. A child is a random neighbour of its parent (one edge
    changed to another op: the 24 neighbours are equally likely), or with move
    proposal the parent's best neighbour by the proxy (all 24 scored in one
    population), except with probability ``params['p_random']`` a random one.

    Attributes:
      space: the cell space.
      pool: population size (64).
      tournament: tournament size (10).
      warmup: random cells ranked by the proxy to seed the pool (0: none).
      move: move proposal on.
      batch: children per step (1: the classic sequential algorithm).
    """

    name: ClassVar[str] = "ae"
    space: Space = NB201
    pool: int = 64
    tournament: int = 10
    warmup: int = 0
    move: bool = False
    batch: int = 1

    def __post_init__(self):
        _check_warmup(self.space, self.warmup)
        if not 1 <= self.tournament <= self.pool <= self.space.size:
            raise ValueError(f"AE needs 1 <= tournament ({self.tournament}) <= pool ({self.pool}) <= space size")
        if self.batch < 1 or self.pool % self.batch:
            raise ValueError(f"AE batch ({self.batch}) must divide the pool ({self.pool})")

    def plan(self) -> Plan:
        nn_ = self.space.num_neighbours
        return Plan(int(self.warmup > 0), self.warmup, int(self.move), self.batch * nn_ if self.move else 0,
                    self.batch, first_train=self.pool)

    def default_params(self) -> dict[str, Any]:
        return {"p_random": jnp.float32(0.25)}

    def init(self, key, params):
        n_perm = min(self.space.size, self.warmup + self.pool)
        perm = jax.random.permutation(key, self.space.size)[:n_perm].astype(jnp.int32)
        b, nn_ = self.batch, self.space.num_neighbours
        return AEState(perm=perm, queue=perm[:self.pool], pool=jnp.zeros((self.pool,), jnp.int32),
                       pool_val=jnp.full((self.pool,), -jnp.inf, jnp.float32), head=jnp.int32(0), n=jnp.int32(0),
                       parents=jnp.zeros((b,), jnp.int32), scores=jnp.zeros((b, nn_), jnp.float32))

    def ask_warmup(self, key, state, params):
        return state.perm[:self.warmup], state

    def tell_warmup(self, cells, scores, state, params):
        ranked = jnp.concatenate([cells[best_first(scores)], state.perm[self.warmup:]])
        return state._replace(queue=ranked[:self.pool])

    def _parents(self, key, state) -> jax.Array:
        def one(k):
            sample = jax.random.choice(k, self.pool, (self.tournament,), replace=False)
            return state.pool[sample[jnp.argmax(state.pool_val[sample])]]
        return jax.vmap(one)(jax.random.split(key, self.batch))

    def ask_score(self, key, state, params):
        parents = self._parents(key, state)
        cells = jax.vmap(self.space.neighbours)(parents).reshape(-1)
        evolving = state.n >= self.pool
        mask = jnp.broadcast_to(evolving, cells.shape)
        return cells, mask, state._replace(parents=parents)

    def tell_score(self, cells, scores, state, params):
        return state._replace(scores=scores.reshape(self.batch, self.space.num_neighbours))

    def ask_train(self, key, state, params):
        k_parent, k_coin, k_pick = jax.random.split(key, 3)
        nn_ = self.space.num_neighbours
        parents = state.parents if self.move else self._parents(k_parent, state)
        neighbours = jax.vmap(self.space.neighbours)(parents)                        # (B, 24)
        pick = jax.random.randint(k_pick, (self.batch,), 0, nn_)
        if self.move:
            best = jnp.argmax(rank_key(state.scores), axis=1)
            coin = jax.random.uniform(k_coin, (self.batch,)) < params["p_random"]
            pick = jnp.where(coin, pick, best)
        children = jnp.take_along_axis(neighbours, pick[:, None], axis=1)[:, 0]
        start = jnp.minimum(state.n, jnp.int32(self.pool - self.batch))
        filling = jax.lax.dynamic_slice(state.queue, (start,), (self.batch,))
        cells = jnp.where(state.n < self.pool, filling, children)
        return cells, state

    def tell_train(self, cells, fitness, state, params):
        filling = state.n < self.pool
        where = jnp.where(filling, state.n, state.head)
        pool = jax.lax.dynamic_update_slice(state.pool, cells, (where,))
        pool_val = jax.lax.dynamic_update_slice(state.pool_val, fitness.astype(jnp.float32), (where,))
        head = jnp.where(filling, state.head, (state.head + self.batch) % self.pool)
        return state._replace(pool=pool, pool_val=pool_val, head=head, n=state.n + self.batch)


# ----------------------------------------------------------------------------------------------
# RL
# ----------------------------------------------------------------------------------------------

class Controller(nn.Module):
    """REINFORCE policy over cells: independent categorical logits per edge (zero-initialised: uniform).

    Attributes:
      num_edges: edges per cell.
      num_ops: ops per edge.
    """

    num_edges: int
    num_ops: int

    @nn.compact
    def __call__(self) -> jax.Array:
        """Log-probabilities (E, K) of each op on each edge."""
        logits = self.param("logits", nn.initializers.zeros, (self.num_edges, self.num_ops), jnp.float32)
        return jax.nn.log_softmax(logits, axis=-1)


class RLState(NamedTuple):
    params: Any            # controller parameters
    opt_state: Any
    baseline: jax.Array    # float32: moving average of the accuracy rewards
    proxy_baseline: jax.Array  # float32: moving average of the normalised proxy rewards
    lo: jax.Array          # float32: online min of the (transformed) proxy scores
    hi: jax.Array          # float32: online max
    seen: jax.Array        # int32: proxy rewards seen / accuracy rewards seen (2,)


def _signed_log(x: jax.Array) -> jax.Array:
    return jnp.sign(x) * jnp.log1p(jnp.abs(x))


@dataclasses.dataclass(frozen=True)
class Reinforce(StrategyBase):
    """REINFORCE (Williams 1992; Zoph & Le 2017) with a per-edge categorical controller.

    Each trained cell is sampled from the controller; its reward is its
    validation accuracy / 100 minus a moving-average baseline, and one Adam
    step follows. Zero-cost rewards: the proxy score (through a signed log, so
    that synflow's 20 decades do not saturate the scale) normalised to [-1, 1]
    by the online min/max of the scores seen so far, with a baseline of their
    own. Warm-up: N proxy rewards (one sample, one update each) before the
    first trained cell. Move proposal: R proxy rewards before each trained one.

    Attributes:
      space: the cell space.
      warmup: N proxy rewards before the search (0: none).
      move: R proxy rewards per accuracy reward (0: none).
      learning_rate: Adam's learning rate.
      log_scores: apply the signed log to proxy scores before normalising.
    """

    name: ClassVar[str] = "rl"
    space: Space = NB201
    warmup: int = 0
    move: int = 0
    learning_rate: float = 0.01
    log_scores: bool = True

    def __post_init__(self):
        if self.warmup < 0 or self.move < 0:
            raise ValueError("RL warm-up and move must be >= 0")

    def plan(self) -> Plan:
        return Plan(self.warmup, 1 if self.warmup else 0, self.move, 1 if self.move else 0, 1)

    def default_params(self) -> dict[str, Any]:
        return {"momentum": jnp.float32(0.9)}

    def _model(self) -> Controller:
        return Controller(self.space.num_edges, self.space.num_ops)

    def _optimiser(self):
        return optax.adam(self.learning_rate)

    def init(self, key, params):
        p = self._model().init(key)["params"]
        return RLState(p, self._optimiser().init(p), jnp.float32(0), jnp.float32(0), jnp.float32(jnp.inf),
                       jnp.float32(-jnp.inf), jnp.zeros((2,), jnp.int32))

    def _sample(self, key, state) -> jax.Array:
        logp = self._model().apply({"params": state.params})
        ops = jax.random.categorical(key, logp, axis=-1).astype(jnp.int32)
        return self.space.encode(ops)[None]

    def _update(self, state, cell, advantage):
        ops = self.space.decode(cell)

        def loss(p):
            logp = self._model().apply({"params": p})
            return -advantage * jnp.sum(logp[jnp.arange(self.space.num_edges), ops])

        grads = jax.grad(loss)(state.params)
        with jax.numpy_dtype_promotion("standard"):  # optax mixes Python floats with its int32 step count
            updates, opt_state = self._optimiser().update(grads, state.opt_state, state.params)
        return state._replace(params=optax.apply_updates(state.params, updates), opt_state=opt_state)

    def _proxy_reward(self, cell, score, state, params):
        s = _signed_log(score) if self.log_scores else score
        ok = ~jnp.isnan(s)
        lo = jnp.where(ok, jnp.minimum(state.lo, s), state.lo)
        hi = jnp.where(ok, jnp.maximum(state.hi, s), state.hi)
        span = hi - lo
        r = jnp.where(ok & (span > 0), 2 * (s - lo) / jnp.where(span > 0, span, 1) - 1, -1.0).astype(jnp.float32)
        first = state.seen[0] == 0
        baseline = jnp.where(first, r, state.proxy_baseline)
        new = self._update(state._replace(lo=lo, hi=hi), cell, r - baseline)
        m = params["momentum"]
        return new._replace(proxy_baseline=m * baseline + (1 - m) * r, seen=state.seen.at[0].add(1))

    def ask_warmup(self, key, state, params):
        return self._sample(key, state), state

    def tell_warmup(self, cells, scores, state, params):
        return self._proxy_reward(cells[0], scores[0], state, params)

    def ask_score(self, key, state, params):
        return self._sample(key, state), jnp.ones((1,), bool), state

    def tell_score(self, cells, scores, state, params):
        return self._proxy_reward(cells[0], scores[0], state, params)

    def ask_train(self, key, state, params):
        return self._sample(key, state), state

    def tell_train(self, cells, fitness, state, params):
        r = fitness[0].astype(jnp.float32) / 100
        first = state.seen[1] == 0
        baseline = jnp.where(first, r, state.baseline)
        new = self._update(state, cells[0], r - baseline)
        m = params["momentum"]
        return new._replace(baseline=m * baseline + (1 - m) * r, seen=state.seen.at[1].add(1))
