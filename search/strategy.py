"""The strategy contract: pure ask/tell functions over a state pytree.

A search algorithm is a :class:`Strategy`: an immutable object holding the
*static* configuration (space, sizes, which proxy uses are on), whose methods
are pure functions of a ``jax.random`` key, a state pytree and a params pytree
(the numeric hyper-parameters), in the ask/tell style of evosax. Nothing is
random outside the keys the driver passes in, so a run is a function of its
seed.

A run has two phases, whose shapes :class:`Plan` fixes in advance so that a
driver can compile a whole run as one ``lax.scan``:

1. **warm-up**, ``plan.warmup_rounds`` times: ``ask_warmup`` names
   ``plan.warmup_size`` cells for the proxy to score, ``tell_warmup`` gets their
   scores. Nothing is trained.
2. **steps**, until the budget is spent. Each step first runs
   ``plan.score_rounds`` proxy rounds (``ask_score`` names ``plan.score_size``
   cells, with a mask of the ones it really wants; ``tell_score`` gets their
   scores, NaN where masked), then trains ``plan.train_size`` cells
   (``ask_train`` names them, ``tell_train`` gets their validation accuracy).

The *budget* counts trained cells only (a cell asked twice counts twice, as in
the paper's reference notebook); proxy scores are free, but the drivers count
the distinct cells scored. Scores the proxy could not compute (NaN) rank last.

Two drivers run the same strategy code (:mod:`zcjax.search.drivers`): tabular
(scores and accuracies looked up in tables, one jitted scan per run, vmapped
over seeds) and live (scores computed by the engine on the cells asked for).
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple, Protocol, runtime_checkable

import jax
import jax.numpy as jnp

from .space import Space

State = Any
Params = Any


class Plan(NamedTuple):
    """Static shapes of a run.

    Attributes:
      warmup_rounds: warm-up rounds (0: no warm-up).
      warmup_size: cells scored per warm-up round.
      score_rounds: proxy rounds per step (0: no move proposal).
      score_size: cells scored per proxy round.
      train_size: cells trained per step.
      first_train: cells trained before the strategy can be refused as too
        small a budget (AE: its pool); the budget must be at least this.
    """

    warmup_rounds: int
    warmup_size: int
    score_rounds: int
    score_size: int
    train_size: int
    first_train: int = 0


@runtime_checkable
class Strategy(Protocol):
    """A search algorithm (see the module docstring for the call order).

    Attributes:
      name: 'rand', 'ae', 'rl' or 'bp'.
      space: the cell space.
    """

    name: str
    space: Space

    def plan(self) -> Plan:
        """The static shapes of a run."""

    def default_params(self) -> Params:
        """The numeric hyper-parameters (a pytree)."""

    def init(self, key: jax.Array, params: Params) -> State:
        """The initial state."""

    def ask_warmup(self, key: jax.Array, state: State, params: Params) -> tuple[jax.Array, State]:
        """Cells (int32 codes, ``(plan.warmup_size,)``) for the proxy to score in one warm-up round."""

    def tell_warmup(self, cells: jax.Array, scores: jax.Array, state: State, params: Params) -> State:
        """Takes the proxy scores (float32) of the cells of :meth:`ask_warmup`."""

    def ask_score(self, key: jax.Array, state: State, params: Params) -> tuple[jax.Array, jax.Array, State]:
        """Cells ``(plan.score_size,)`` to score in one proxy round of a step, and a bool mask of those wanted."""

    def tell_score(self, cells: jax.Array, scores: jax.Array, state: State, params: Params) -> State:
        """Takes their scores (NaN where the mask was False)."""

    def ask_train(self, key: jax.Array, state: State, params: Params) -> tuple[jax.Array, State]:
        """Cells ``(plan.train_size,)`` to train (look up) in this step."""

    def tell_train(self, cells: jax.Array, fitness: jax.Array, state: State, params: Params) -> State:
        """Takes their validation accuracies (float32 percent)."""


class StrategyBase:
    """Defaults for strategies without some phase: nothing to score, nothing to tell."""

    def ask_warmup(self, key, state, params):
        return jnp.zeros((self.plan().warmup_size,), jnp.int32), state

    def tell_warmup(self, cells, scores, state, params):
        return state

    def ask_score(self, key, state, params):
        n = self.plan().score_size
        return jnp.zeros((n,), jnp.int32), jnp.zeros((n,), bool), state

    def tell_score(self, cells, scores, state, params):
        return state

    def config(self) -> dict[str, Any]:
        """The static configuration as a JSON-able dict (for settings sidecars)."""
        out = {"algo": self.name}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            out[f.name] = dataclasses.asdict(v) if dataclasses.is_dataclass(v) else v
        return out


def rank_key(scores: jax.Array) -> jax.Array:
    """Scores as a sort key: NaN becomes -inf (ranked last)."""
    return jnp.where(jnp.isnan(scores), -jnp.inf, scores)


def best_first(scores: jax.Array) -> jax.Array:
    """Positions ordered by descending score, NaN last, ties in input order."""
    return jnp.argsort(-rank_key(scores), stable=True)
