"""Experiments: one algorithm, one proxy use, many seeded runs; traces on disk, resumable; their summary."""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import jax.numpy as jnp
import numpy as np

from . import report
from .drivers import check_budget, run_live, run_tabular
from .space import Oracle, search_table

ALGOS = ("rand", "ae", "rl", "bp")
# A target a little under each dataset's best test accuracy (CIFAR-100: the paper's 73%).
TARGETS = {"cifar10": 91.0, "cifar100": 73.0, "ImageNet16-120": 46.5}


def default_target(space: str, task: str) -> float:
    """NAS-Bench-201: :data:`TARGETS`; other spaces: the 99.9th percentile of the reported accuracy,
    rounded down to 0.1 (the top 0.1% of the space reaches it)."""
    if space == "nb201":
        return TARGETS[task]
    return float(np.floor(np.quantile(search_table(space, task).test, 0.999) * 10) / 10)


@dataclasses.dataclass(frozen=True)
class Experiment:
    """One search setting, run ``runs`` times with seeds ``seed, seed + 1, ...``.

    Attributes:
      algo: 'rand', 'ae', 'rl' or 'bp'.
      dataset: the task: for NAS-Bench-201 'cifar10' (cifar10-valid),
        'cifar100' (default) or 'ImageNet16-120'; other spaces: their first by default.
      proxy: the proxy that warms up / proposes (any registered name, or 'vote').
      warmup: N proxy-scored cells (0: none).
      move: move proposal: AE: on when > 0 (all neighbours scored); RL: R proxy
        rewards per trained cell; not defined for rand and bp.
      budget: trained cells per run.
      runs: runs.
      seed: seed of the first run.
      pool, tournament, batch, p_random: AE's population, tournament size,
        children per step, probability of a random neighbour under move proposal.
      lr: RL's Adam learning rate.
      bp_hidden, bp_layers, bp_epochs, bp_rounds_k: BP's GCN width and depth,
        training epochs per fit, cells trained per round.
      target: accuracy to reach (default :data:`TARGETS`).
      init_seed: the initial-weight seed of the proxy scores.
      space: the registered search space (a product space with every
        accuracy known: 'nb201', 'nas_bench_macro'; see :func:`search_table`).
    """

    algo: str
    dataset: str | None = None
    proxy: str = "synflow"
    warmup: int = 0
    move: int = 0
    budget: int = 1000
    runs: int = 32
    seed: int = 0
    pool: int = 64
    tournament: int = 10
    batch: int = 1
    p_random: float = 0.25
    lr: float = 0.01
    bp_hidden: int = 600
    bp_layers: int = 4
    bp_epochs: int = 30
    bp_rounds_k: int = 10
    target: float | None = None
    init_seed: int = 0
    space: str = "nb201"

    def __post_init__(self):
        from zcjax import spaces

        if self.algo not in ALGOS:
            raise ValueError(f"unknown algorithm {self.algo!r}; expected one of {', '.join(ALGOS)}")
        space = spaces.get(self.space)
        object.__setattr__(self, "space", space.name)
        default = "cifar100" if space.name == "nb201" else None  # the paper's search dataset
        object.__setattr__(self, "dataset", space.check_task(self.dataset or default))
        if self.algo == "bp" and space.name != "nb201":
            raise ValueError(f"bp's graph network is built for nb201 cells, not {space.name}")
        size = self.table.coded.size
        if self.runs < 1:
            raise ValueError(f"--runs must be at least 1, got {self.runs}")
        if self.warmup < 0 or self.move < 0:
            raise ValueError("--warmup and --move must be >= 0")
        if self.warmup > size:
            raise ValueError(f"warm-up of {self.warmup} cells is larger than the space ({size} cells)")
        if self.move and self.algo in ("rand", "bp"):
            raise ValueError(f"move proposal is not defined for {self.algo} (only ae and rl)")
        if self.target is None:
            object.__setattr__(self, "target", default_target(self.space, self.dataset))

    @property
    def table(self):
        """The space's :class:`~zcjax.search.space.SearchTable` for the task."""
        return search_table(self.space, self.dataset)

    @property
    def name(self) -> str:
        """Folder name: algo, warm-up, move, and whatever differs from the defaults."""
        parts = [self.algo, f"w{self.warmup}", f"m{self.move}"]
        if self.algo == "ae":
            if self.batch != 1:
                parts.append(f"b{self.batch}")
            if (self.pool, self.tournament) != (64, 10):
                parts.append(f"p{self.pool}t{self.tournament}")
            if self.move and self.p_random != 0.25:
                parts.append(f"r{self.p_random:g}")
        if self.algo == "rl" and self.lr != 0.01:
            parts.append(f"lr{self.lr:g}")
        return "-".join(parts)

    def strategy(self):
        """The strategy object."""
        from .algorithms import AgingEvolution, RandomSearch, Reinforce

        coded = self.table.coded
        if self.algo == "rand":
            return RandomSearch(coded, self.warmup)
        if self.algo == "ae":
            return AgingEvolution(coded, self.pool, self.tournament, self.warmup, bool(self.move), self.batch)
        if self.algo == "rl":
            return Reinforce(coded, self.warmup, self.move, self.lr)
        from .bp import BinaryPredictor

        k = self.bp_rounds_k
        return BinaryPredictor(coded, self.warmup, hidden=self.bp_hidden, layers=self.bp_layers,
                               epochs=self.bp_epochs, per_round=k, capacity=-(-self.budget // k) * k)

    def params(self, strategy) -> Any:
        p = strategy.default_params()
        if self.algo == "ae":
            p = {**p, "p_random": jnp.float32(self.p_random)}
        return p

    def settings(self) -> dict[str, Any]:
        """Everything that determines an experiment's traces (but the seed of each run and the scores).

        ``space`` appears only for spaces other than NAS-Bench-201, so the
        traces written before spaces were plug-ins still resume.
        """
        return {k: v for k, v in dataclasses.asdict(self).items()
                if k != "runs" and not (k == "space" and v == "nb201")}


def _run_settings(exp: Experiment, k: int, scores: dict[str, Any], driver: str) -> dict[str, Any]:
    return {"space": exp.space, "experiment": exp.settings(), "run": k, "run_seed": exp.seed + k,
            "scores": scores, "driver": driver}


def run_experiment(exp: Experiment, out_dir: str, *, oracle: Oracle | None = None,
                   scores_info: dict[str, Any] | None = None, live_score: Callable | None = None,
                   progress: bool = True) -> dict[str, Any]:
    """Runs (or resumes) an experiment, writing one trace per run, and returns its summary row.

    Runs whose trace is complete are not run again; a grid killed halfway
    continues where it stopped. Traces are refused (SettingsMismatch) when
    the folder holds runs of other settings.

    Args:
      exp: the experiment.
      out_dir: its folder; traces go to ``out_dir/traces/run_NNN.jsonl``.
      oracle: the tables (tabular driver), or None with ``live_score``.
      scores_info: what identifies the scores (recorded in the traces' settings).
      live_score: codes -> raw proxy scores, computed on demand (live driver).
      progress: a progress bar over runs on stderr.

    Returns:
      The summary row (:data:`report.SUMMARY_COLUMNS`) plus 'best_test' (runs, budget).
    """
    from tqdm.auto import tqdm

    from zcjax.results import RowWriter

    strategy = exp.strategy()
    check_budget(strategy, exp.budget)
    params = exp.params(strategy)
    driver = "tabular" if live_score is None else "live"
    trace_dir = os.path.join(out_dir, "traces")
    os.makedirs(trace_dir, exist_ok=True)
    table = exp.table
    val_all, test_all, c2i = table.val, table.test, table.code_to_index
    _allow_open_files(2 * exp.runs + 64)  # every trace's file and lock stay open for the experiment
    writers = []
    try:
        for k in range(exp.runs):
            writers.append(RowWriter(os.path.join(trace_dir, f"run_{k:03d}.jsonl"), report.TRACE_COLUMNS,
                                     resume=True, settings=_run_settings(exp, k, scores_info or {}, driver),
                                     kind="search-trace", key="trained"))
        todo = [k for k, w in enumerate(writers) if len(w.done) < exp.budget]
        seconds = np.full(exp.runs, np.nan)
        bar = tqdm(total=exp.runs, initial=exp.runs - len(todo), unit="run", desc=f"{exp.dataset} {exp.name}",
                   disable=not progress, file=sys.stderr, leave=False)
        if todo and live_score is None:
            # Runs go in vmapped chunks (BP's predictor over the whole space is large): each chunk is
            # written before the next starts, so a kill loses at most one chunk.
            chunk = 8 if exp.algo == "bp" else exp.runs
            for start in range(0, len(todo), chunk):
                part = todo[start:start + chunk]
                t0 = time.perf_counter()
                traj = run_tabular(strategy, oracle, [exp.seed + k for k in part], exp.budget, params)
                per_run = (time.perf_counter() - t0) / len(part)
                for j, k in enumerate(part):
                    idx = c2i[traj.cells[j]]
                    wall = per_run * np.arange(1, exp.budget + 1) / exp.budget
                    _write_missing(writers[k], report.trace_rows(idx, val_all[idx], test_all[idx],
                                                                 traj.proxy_evals[j], wall))
                    seconds[k] = per_run
                    bar.update()
        elif todo:
            for k in todo:
                live = run_live(strategy, live_score, lambda c: val_all[c2i[c]], exp.seed + k, exp.budget, params)
                idx = c2i[live.trajectory.cells]
                _write_missing(writers[k], report.trace_rows(idx, val_all[idx], test_all[idx],
                                                             live.trajectory.proxy_evals, live.seconds))
                seconds[k] = live.seconds[-1]
                bar.update()
        bar.close()
    finally:
        for w in writers:
            w.close()
    from zcjax.results import read_rows

    best_test = np.zeros((exp.runs, exp.budget))
    evals = np.zeros((exp.runs, exp.budget))
    for k in range(exp.runs):
        rows = sorted(read_rows(os.path.join(trace_dir, f"run_{k:03d}.jsonl")), key=lambda r: r["trained"])
        best_test[k] = [r["best_test"] for r in rows[:exp.budget]]
        evals[k] = [r["proxy_evals"] for r in rows[:exp.budget]]
        if not np.isfinite(seconds[k]):
            seconds[k] = rows[exp.budget - 1]["wall_s"]
    stats = report.summarise(best_test, evals, exp.target)
    row = {"experiment": exp.name, "algo": exp.algo, "dataset": exp.dataset, "proxy": exp.proxy,
           "warmup": exp.warmup, "move": exp.move, "batch": exp.batch, "runs": exp.runs, "budget": exp.budget,
           "target": exp.target, **stats, "seconds_per_run": float(np.mean(seconds))}
    return {**row, "best_test": best_test}


def _allow_open_files(needed: int) -> None:
    """Raises this process's soft limit on open files to ``needed`` when it is lower (up to the hard limit).

    Raises:
      ValueError: if the hard limit is lower too (one line: what to run with).
    """
    try:
        import resource
    except ImportError:  # not a Unix: its own limits apply
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return
    if hard != resource.RLIM_INFINITY and hard < needed:
        raise ValueError(f"the runs' traces need {needed} open files, over this system's limit of {hard} "
                         "(ulimit -Hn): use fewer --runs per command")
    resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


def _write_missing(writer, rows) -> None:
    """Writes the rows the trace lacks, synced to disk once (a trace is written in one go)."""
    writer.write_all(r for r in rows if r["trained"] not in writer.done)


def write_outputs(rows: list[dict[str, Any]], out_dir: str, title: str, settings: dict[str, Any], *,
                  published: dict | None = None, plot: bool = True) -> None:
    """Writes the summary (JSON lines), the Markdown and CSV tables and the search curves of experiments."""
    from zcjax.results import RowWriter

    for name, kind in (("summary.jsonl", "search-summary"), ("table.csv", "search-table")):
        path = os.path.join(out_dir, name)
        with RowWriter(path, report.SUMMARY_COLUMNS, settings=settings, kind=kind, key="experiment") as w:
            for r in rows:
                w.write({c: r[c] for c in report.SUMMARY_COLUMNS})
    target = rows[0]["target"] if rows else None
    text = (f"# {title}\n\nMedian [quartiles] over {rows[0]['runs'] if rows else 0} runs: test accuracy (%) of the "
            f"best cell by validation after 50 trained cells, and trained cells until it reaches {target}%.\n\n"
            + report.markdown_table(rows, published))
    report.write_text(os.path.join(out_dir, "table.md"), text)
    if plot and rows:
        curves = []
        for r in rows:
            label = "baseline" if not (r["warmup"] or r["move"]) else \
                " ".join(([f"W{r['warmup']}"] if r["warmup"] else []) + ([f"M{r['move']}"] if r["move"] else []))
            if int(r.get("batch", 1)) > 1:
                label += f" B{r['batch']}"
            curves.append((r["algo"], label, r["best_test"]))
        report.plot_curves(curves, os.path.join(out_dir, "curves.png"), title, target=target)
