"""Live proxy scores: computed by the engine on the cells a search asks for, memoised, saved as a zcjax.score file."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from zcjax.spaces.nb201 import benchmark

from .scorefile import VOTE
from .space import nb201_code_to_index


class MemoScorer:
    """Scores NAS-Bench-201 cells (by code) with one proxy through :class:`zcjax.Scorer`, each cell once.

    Every new score is appended to ``path`` as a ``python -m zcjax.score``
    row (index, arch, the proxy, the dataset's accuracies) with that
    command's settings record, so a later run, or ``--scores``, reuses it: an
    existing file is read first and its cells are not scored again (its
    settings must match: dataset, proxy, initial weights, minibatch).

    Args:
      proxy: a registered proxy name (not 'vote', which ranks a set of cells).
      dataset: the dataset (class count, input size, accuracy columns).
      init_seed: seed of the cells' initial weights.
      path: a ``.jsonl`` file to keep the scores in, or None.
      x, y: the minibatch, for data-dependent proxies.
      strategy: the engine's strategy ('auto', 'eager', 'per-cell', 'batched').

    Attributes:
      settings: the settings that determine the scores (``python -m zcjax.score``'s record).
      computed: cells scored by the engine in this process.
      seconds: time spent in the engine.
    """

    def __init__(self, proxy: str, dataset: str, init_seed: int = 0, path: str | None = None,
                 x: np.ndarray | None = None, y: np.ndarray | None = None, strategy: str = "auto"):
        import time

        from zcjax import ScoreConfig, Scorer
        from zcjax.results import RowWriter
        from zcjax.score import output_columns, run_settings

        if proxy == VOTE:
            raise ValueError("vote ranks a set of cells, not one cell: it cannot be computed live; "
                             "use --scores with a file that has synflow, jacob_cov and snip for every cell")
        self._time = time.perf_counter
        self.proxy = proxy
        self.config = ScoreConfig(proxies=(proxy,), dataset=dataset, init_seed=init_seed, strategy=strategy)
        self.scorer = Scorer(self.config, x, y)
        self.memo: dict[int, float] = {}
        self.computed = 0
        self.seconds = 0.0
        self.accuracy = benchmark.accuracy_columns(dataset)
        self.settings = run_settings(self.config, x, y)  # what determines the scores (the traces record it too)
        self.writer = None
        if path is not None:
            self.writer = RowWriter(path, output_columns(self.config.proxies, self.config.dataset), resume=True,
                                    settings=self.settings, kind="scores")
            if self.writer.done:
                from zcjax.results import read_rows

                for r in read_rows(path):
                    self.memo[int(r["index"])] = float(r[proxy])
        self._c2i = nb201_code_to_index()

    def score_indices(self, indices: np.ndarray) -> np.ndarray:
        """Raw scores (float64) of benchmark indices, scoring the new ones."""
        indices = [int(i) for i in np.asarray(indices).ravel()]
        todo = list(dict.fromkeys(i for i in indices if i not in self.memo))
        if todo:
            t0 = self._time()
            for row in self.scorer.score([(i, benchmark.arch_at(i)) for i in todo]):
                value = float(row[self.proxy])
                self.memo[int(row["index"])] = value
                if self.writer is not None:
                    row.update({c: float(v[row["index"]]) for c, v in self.accuracy.items()})
                    self.writer.write(row)
            self.seconds += self._time() - t0
            self.computed += len(todo)
        return np.asarray([self.memo[i] if not math.isnan(self.memo[i]) else np.nan for i in indices], np.float64)

    def __call__(self, codes: np.ndarray) -> np.ndarray:
        """Raw scores of cell codes (the live driver's ``score_fn``)."""
        return self.score_indices(self._c2i[np.asarray(codes, np.int64)])

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()

    def __enter__(self) -> MemoScorer:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
