"""Zero-cost NAS: random search, aging evolution, REINFORCE and a binary GCN predictor.

Each algorithm is a :class:`~zcjax.search.strategy.Strategy`: pure ask/tell
functions over a state pytree (:mod:`zcjax.search.strategy` has the contract).
Two drivers run them: :func:`run_tabular` (every score and accuracy looked
up; a run is one jitted ``lax.scan``, runs are vmapped over seeds) and
:func:`run_live` (the proxy computed by the engine on the cells asked for,
:class:`MemoScorer`). ``python -m zcjax.search`` is the command line.
"""

from .algorithms import AgingEvolution, Controller, RandomSearch, Reinforce
from .drivers import LiveRun, Trajectory, check_budget, run_live, run_tabular, tabular_fn
from .experiment import ALGOS, TARGETS, Experiment, run_experiment
from .live import MemoScorer
from .space import NB201, Oracle, Space, nb201_code_to_index, nb201_index_to_code, nb201_oracle, score_key, \
    synthetic_oracle
from .strategy import Plan, Strategy, StrategyBase

__all__ = [
    "ALGOS", "AgingEvolution", "Controller", "Experiment", "LiveRun", "MemoScorer", "NB201", "Oracle", "Plan", "RandomSearch",
    "Reinforce", "Space", "Strategy", "StrategyBase", "TARGETS", "Trajectory", "check_budget", "nb201_code_to_index",
    "nb201_index_to_code", "nb201_oracle", "run_experiment", "run_live", "run_tabular", "score_key",
    "synthetic_oracle", "tabular_fn",
]
