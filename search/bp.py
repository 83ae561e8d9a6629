"""BP: a binary relation predictor (BRP-NAS, Dudziak et al. 2020) over the cell graph, as a Strategy.

The cell is turned into its op graph: an input node, one node per edge
carrying that edge's op, and an output node; op node ``(to, from)`` reads the
input (``from == 0``) or every op node that ends at ``from``, and the output
reads the op nodes that end at the last node. A graph convolutional network
(Flax; ``layers`` layers of ``hidden`` units, ReLU, dropout) embeds the graph
and a linear head reads the output node's embedding as ``g(cell)``. The
relation "a is better than b" is predicted as ``sigmoid(g(a) - g(b))``
(antisymmetric, so the cells can be ranked by ``g``) and trained with binary
cross-entropy by AdamW (Optax) on pairs.

Search: with warm-up, the predictor is first trained on all pairs of ``N``
proxy-scored random cells (the label of a pair is the proxy's order). Then
rounds: rank every cell of the space by ``g``, train (look up) the best
``per_round`` not yet trained, and retrain the predictor on all pairs of the
trained cells, labelled by validation accuracy. Without warm-up the first
round trains random cells.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from .space import NB201, Space
from .strategy import Plan, StrategyBase, rank_key


def op_graph(space: Space) -> np.ndarray:
    """Normalised adjacency (V, V) of the op graph (V = edges + 2), messages from predecessors plus self.

    Only NAS-Bench-201's 4-node cell (6 edges) is a DAG of known shape; other
    spaces (the tests' small synthetic ones) use a chain of their edges.
    """
    e = space.num_edges
    v = e + 2
    a = np.zeros((v, v), np.float32)  # a[i, j] = 1: node i reads node j
    if space.num_edges == 6:
        from zcjax.spaces.nb201.arch import EDGES

        for k, (to, frm) in enumerate(EDGES):
            node = k + 1
            if frm == 0:
                a[node, 0] = 1
            for k2, (to2, _) in enumerate(EDGES):
                if to2 == frm and frm != 0:
                    a[node, k2 + 1] = 1
            if to == 3:
                a[v - 1, node] = 1
    else:
        for k in range(e):
            a[k + 1, k] = 1
        a[v - 1, e] = 1
    a += np.eye(v, dtype=np.float32)
    return a / a.sum(axis=1, keepdims=True)


class GCN(nn.Module):
    """Graph convolutional network scoring a cell: ``g(cell)``, a scalar.

    Attributes:
      adjacency: (V, V) normalised adjacency (a tuple of tuples, static).
      num_ops: ops per edge (one-hot features; the input and output nodes have types of their own).
      hidden: units per layer.
      layers: graph convolutions.
      dropout: dropout rate during training.
    """

    adjacency: tuple
    num_ops: int
    hidden: int = 600
    layers: int = 4
    dropout: float = 0.2

    @nn.compact
    def __call__(self, ops: jax.Array, train: bool = False) -> jax.Array:
        """ops: (..., E) int32 op indices -> (...,) float32 scores."""
        adj = jnp.asarray(self.adjacency, jnp.float32)
        types = jnp.concatenate([jnp.full(ops.shape[:-1] + (1,), self.num_ops, jnp.int32), ops,
                                 jnp.full(ops.shape[:-1] + (1,), self.num_ops + 1, jnp.int32)], axis=-1)
        h = jax.nn.one_hot(types, self.num_ops + 2, dtype=jnp.float32)              # (..., V, F)
        for _ in range(self.layers):
            h = nn.Dense(self.hidden)(jnp.einsum("vw,...wf->...vf", adj, h))
            h = nn.relu(h)
            h = nn.Dropout(self.dropout, deterministic=not train)(h)
        return nn.Dense(1)(h[..., -1, :])[..., 0]


class BPState(NamedTuple):
    params: Any
    opt_state: Any
    warm_cells: jax.Array   # int32 (N,)
    warm_scores: jax.Array  # float32 (N,)
    cells: jax.Array        # int32 (capacity,): trained cells
    val: jax.Array          # float32 (capacity,)
    n: jax.Array            # int32: trained so far
    trained: jax.Array      # bool (C,): trained mask
    key: jax.Array          # dropout / pair keys (a split of the init key)


@dataclasses.dataclass(frozen=True)
class BinaryPredictor(StrategyBase):
    """BRP-NAS-style binary predictor search (see the module docstring).

    Attributes:
      space: the cell space.
      warmup: N proxy-scored random cells to pre-train on (0: none).
      hidden, layers, dropout: the GCN (BRP-NAS: 600, 4, 0.2).
      learning_rate, weight_decay: AdamW.
      epochs: full-batch steps over all pairs per (re)training.
      per_round: cells trained per round.
      capacity: most trained cells kept (a multiple of per_round, at least the budget).
      fit_size: retraining uses all pairs of at most this many trained cells (a
        random subset once there are more), so that a round's cost stays bounded.
    """

    name: ClassVar[str] = "bp"
    space: Space = NB201
    warmup: int = 0
    hidden: int = 600
    layers: int = 4
    dropout: float = 0.2
    learning_rate: float = 1e-3
    weight_decay: float = 5e-4
    epochs: int = 30
    per_round: int = 10
    capacity: int = 1000
    fit_size: int = 256

    def __post_init__(self):
        if not 0 <= self.warmup <= self.space.size:
            raise ValueError(f"warm-up of {self.warmup} cells does not fit the space of {self.space.size} cells")
        if self.per_round < 1 or self.capacity % self.per_round:
            raise ValueError(f"BP per_round ({self.per_round}) must divide its capacity ({self.capacity})")

    def plan(self) -> Plan:
        return Plan(int(self.warmup > 0), self.warmup, 0, 0, self.per_round)

    def default_params(self) -> dict[str, Any]:
        return {}

    def _model(self) -> GCN:
        adj = tuple(tuple(float(x) for x in row) for row in op_graph(self.space))
        return GCN(adj, self.space.num_ops, self.hidden, self.layers, self.dropout)

    def _optimiser(self):
        return optax.adamw(self.learning_rate, weight_decay=self.weight_decay)

    def init(self, key, params):
        k_model, k_rest = jax.random.split(key)
        p = self._model().init(k_model, jnp.zeros((1, self.space.num_edges), jnp.int32))["params"]
        with jax.numpy_dtype_promotion("standard"):
            opt_state = self._optimiser().init(p)
        return BPState(params=p, opt_state=opt_state,
                       warm_cells=jax.random.choice(k_rest, self.space.size, (self.warmup,), replace=False
                                                    ).astype(jnp.int32),
                       warm_scores=jnp.zeros((self.warmup,), jnp.float32),
                       cells=jnp.zeros((self.capacity,), jnp.int32), val=jnp.zeros((self.capacity,), jnp.float32),
                       n=jnp.int32(0), trained=jnp.zeros((self.space.size,), bool),
                       key=jax.random.fold_in(k_rest, 1))

    def _fit(self, state: BPState, cells, target, valid, key) -> BPState:
        """``epochs`` full-batch AdamW steps on all valid ordered pairs (label: target_i > target_j)."""
        model, opt = self._model(), self._optimiser()
        ops = self.space.decode(cells)
        pair_ok = valid[:, None] & valid[None, :] & (target[:, None] != target[None, :])
        label = (target[:, None] > target[None, :]).astype(jnp.float32)
        count = jnp.maximum(jnp.sum(pair_ok, dtype=jnp.int32), 1).astype(jnp.float32)

        def loss(p, k):
            g = model.apply({"params": p}, ops, train=True, rngs={"dropout": k})
            logits = g[:, None] - g[None, :]
            bce = optax.sigmoid_binary_cross_entropy(logits, label)
            return jnp.sum(jnp.where(pair_ok, bce, 0.0)) / count

        def step(carry, k):
            p, s = carry
            grads = jax.grad(loss)(p, k)
            with jax.numpy_dtype_promotion("standard"):
                updates, s = opt.update(grads, s, p)
            return (optax.apply_updates(p, updates), s), None

        (p, s), _ = jax.lax.scan(step, (state.params, state.opt_state), jax.random.split(key, self.epochs))
        return state._replace(params=p, opt_state=s)

    def ask_warmup(self, key, state, params):
        return state.warm_cells, state

    def tell_warmup(self, cells, scores, state, params):
        state = state._replace(warm_scores=scores)
        valid = ~jnp.isnan(scores)
        return self._fit(state, cells, rank_key(scores), valid, jax.random.fold_in(state.key, 2**31))

    def ask_train(self, key, state, params):
        g = self._model().apply({"params": state.params}, self.space.decode(jnp.arange(self.space.size,
                                                                                          dtype=jnp.int32)))
        if self.warmup == 0:  # the first round has nothing to learn from: random cells
            g = jnp.where(state.n == 0, jax.random.uniform(key, g.shape), g)
        g = jnp.where(state.trained, -jnp.inf, g)
        _, top = jax.lax.top_k(g, self.per_round)
        return top.astype(jnp.int32), state

    def tell_train(self, cells, fitness, state, params):
        start = jnp.minimum(state.n, jnp.int32(self.capacity - self.per_round))
        buf = jax.lax.dynamic_update_slice(state.cells, cells, (start,))
        val = jax.lax.dynamic_update_slice(state.val, fitness.astype(jnp.float32), (start,))
        n = state.n + self.per_round
        state = state._replace(cells=buf, val=val, n=n, trained=state.trained.at[cells].set(True))
        k_subset, k_fit = jax.random.split(jax.random.fold_in(state.key, n))
        m = min(self.fit_size, self.capacity)
        valid = jnp.arange(self.capacity, dtype=jnp.int32) < n
        # The m valid positions with the smallest random keys: all of them while n <= m.
        order = jnp.argsort(jnp.where(valid, jax.random.uniform(k_subset, (self.capacity,)), 2.0))[:m]
        return self._fit(state, buf[order], val[order], valid[order], k_fit)
