"""Evaluate zero-cost proxy scores against a benchmark's accuracy (NAS-Bench-201 or any search space).

    python -m zcjax.evaluate scores.jsonl --dataset cifar10 --split val --out-dir eval --plots
    python -m zcjax.evaluate macro.jsonl        # a file of another space: its space and task are read from it

Reads a scores file written by ``python -m zcjax.score`` (one row per cell:
``index``, ``arch``, one column per proxy, accuracy columns) and reports, per
proxy, the statistics of "Zero-Cost Proxies for Lightweight NAS" (see
docs/PROXIES.md):

- Spearman rho and Kendall tau-b with the benchmark accuracy, with their sign
  and percentile bootstrap confidence intervals;
- the top-10% analysis: rho within the top 10% of cells by accuracy, the share
  of those cells found in the proxy's top 10%, and how many of the top-5%
  cells are among the proxy's top 64;
- the local-neighbourhood analysis: rho within each cluster of a cell and its
  24 edit-distance-1 neighbours, and how often the proxy's pick in a cluster is
  the cluster's most accurate cell;
- the pairwise-agreement rate: for the majority vote of synflow, jacob_cov and
  snip this is the paper's "0.82"; for a single proxy it is the same rate with
  the proxy alone deciding each pair.

The accuracy is always looked up in the shipped benchmark table by ``index``
(for another space, in ``space.ground_truth(task)`` by ``arch``; the space
and task come from the file's settings record); accuracy columns in the file
are ignored. Everything here is numpy/scipy (plots:
matplotlib, imported only when plotting); no network is built.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from . import ensemble

# Loading, plots and the statistics live in their own modules; those in __all__
# (and CSV_COLUMNS) are re-exported here, so `from zcjax.evaluate import spearman` keeps working.
from .bootstrap import _ResampledStats, bootstrap_ci
from .neighbourhood import neighbour_indices, neighbourhood_stats
from .plots import scatter_plots
from .report import CSV_COLUMNS, to_markdown, write_csv  # noqa: F401 (CSV_COLUMNS re-exported)
from .score_files import VOTE, file_dataset, load_joined, load_scores, select_proxies, selected_scores
from .spaces.nb201 import benchmark
from .stats import _pair, correlation, correlations, kendall, orient, spearman, top_k_stats
from .vote import VOTE_MEMBERS, vote, vote_agreement

__all__ = [
    "VOTE_MEMBERS", "file_dataset", "load_joined", "load_scores", "select_proxies", "spearman", "kendall",
    "correlation", "correlations", "orient", "top_k_stats", "vote", "vote_agreement", "neighbour_indices",
    "neighbourhood_stats", "bootstrap_ci", "evaluate", "evaluate_arrays", "to_markdown", "write_csv",
    "scatter_plots", "build_parser", "main",
]

PROG = "python -m zcjax.evaluate"
MIN_TOP_CELLS = 10
"""Fewer cells than this in the top 10% get a warning: their statistics mean little."""


# --------------------------------------------------------------------------- evaluation


def _proxy_row(name: str, indices: np.ndarray, score: np.ndarray, acc: np.ndarray, n_bootstrap: int, seed: int,
               agreement: dict[str, Any], note: str = "", neighbours: Any = None) -> dict[str, Any]:
    corr = correlation(score, acc)
    top = top_k_stats(score, acc, 0.1)
    neigh = neighbourhood_stats(indices, score, acc, neighbours)
    s, a = _pair(score, acc)
    # Resampling cell positions draws the same resamples as bootstrap_ci(_boot_stats, s, a, ...).
    ci = bootstrap_ci(_ResampledStats(s, a), np.arange(s.size), n=n_bootstrap, seed=seed)
    notes = [note] if note else []
    if corr["n"] < 2:
        notes.append(f"only {corr['n']} scored cells")
    elif top["k"] < MIN_TOP_CELLS:
        notes.append(f"top 10% is {top['k']} of {corr['n']} cells: top-10% statistics mean little")
    if neigh["note"]:
        notes.append("neighbourhood: " + neigh["note"])
    rho = corr["spearman"]
    return {
        "proxy": name, "n": corr["n"], "n_nan": corr["n_nan"],
        "sign": "" if math.isnan(rho) else ("+" if rho >= 0 else "-"),
        "spearman": rho, "spearman_lo": ci[0, 0], "spearman_hi": ci[0, 1], "spearman_p": corr["spearman_p"],
        "kendall": corr["kendall"], "kendall_lo": ci[1, 0], "kendall_hi": ci[1, 1], "kendall_p": corr["kendall_p"],
        "top10_spearman": top["spearman"], "top10_hit_pct": top["hit_pct"], "top10_hit_lo": ci[2, 0],
        "top10_hit_hi": ci[2, 1], "top10_cells": top["k"],
        "top5_in_top64": top["top5_in_top64"], "top5_cells": top["top5_cells"],
        "neigh_spearman": neigh["spearman"],
        "neigh_best_pct": 100.0 * neigh["best_frac"] if neigh["clusters"] else math.nan,
        "neigh_clusters": neigh["clusters"],
        "agreement": agreement["rate"], "agreement_pairs": agreement["pairs"], "agreement_exact": agreement["exact"],
        "note": notes,
    }


def evaluate_arrays(indices: Any, scores: Mapping[str, Any], acc: Any, proxies: str | Iterable[str] | None = "all",
                    n_bootstrap: int = 1000, seed: int = 0, dataset: str = "", split: str = "",
                    neighbours: Sequence[Sequence[int]] | None = None) -> list[dict[str, Any]]:
    """:func:`evaluate` on loaded data (see :func:`load_scores`).

    Args:
      indices: benchmark indices of the cells.
      scores: a dict from proxy name to scores aligned with ``indices``.
      acc: their accuracies.
      proxies: the selection (see :func:`select_proxies`).
      n_bootstrap: bootstrap replicates of each confidence interval (0: none).
      seed: seed of the bootstrap and of the pair sample.
      dataset, split: recorded in each row.
      neighbours: each cell's neighbour keys, for a space other than
        NAS-Bench-201 (see :func:`neighbourhood_stats`).

    Returns:
      The rows of :func:`evaluate`.
    """
    indices = np.asarray(indices, dtype=np.int64).ravel()
    acc = np.asarray(acc, dtype=np.float64).ravel()
    scores = {k: np.asarray(v, dtype=np.float64).ravel() for k, v in scores.items()}
    rows = []
    for name in select_proxies(scores, proxies):
        values = selected_scores(scores, name)
        if name in scores:
            keep = ~np.isnan(values)
            agreement = vote_agreement(values[None, keep], acc[keep], None, seed=seed)
            note = ""
        elif name == VOTE:
            agreement = vote_agreement(scores, acc, VOTE_MEMBERS, seed=seed)
            note = "majority vote of " + ", ".join(VOTE_MEMBERS) + "; agreement is the paper's 0.82"
        else:
            spec = ensemble.parse(name)
            if spec.rule == "vote":
                members = spec.member_scores(scores)
                signed = {m: ensemble._column(members, m) for m in spec.members}
                agreement = vote_agreement(signed, acc, spec.members, seed=seed)
            else:
                agreement = vote_agreement(values[None, :], acc, None, seed=seed)
            note = f"zero-shot ensemble ({ensemble.RULE_NAMES[spec.rule]})"
        row = _proxy_row(name, indices, values, acc, n_bootstrap, seed, agreement, note, neighbours)
        rows.append({"proxy": name, "dataset": dataset, "split": split, **row})
    return rows


def evaluate(path: str | os.PathLike | Sequence[str | os.PathLike], dataset: str | None = None,
             split: str | None = None, proxies: str | Iterable[str] | None = "all", n_bootstrap: int = 1000,
             seed: int = 0, space: str | None = None) -> list[dict[str, Any]]:
    """Evaluates every proxy of a scores file against the benchmark accuracy.

    Args:
      path: a .jsonl or .csv scores file, or several NAS-Bench-201 files of
        the same dataset, joined on the cells they all hold (a column in
        several must agree).
      dataset: 'cifar10', 'cifar100' or 'ImageNet16-120'; None: the file's
        (see :func:`load_scores`).
      split: 'train', 'val' or 'test'.
      proxies: 'all', a comma-separated string or names (see
        :func:`select_proxies`); 'all' adds a 'vote' row when synflow,
        jacob_cov and snip are all in the file.
      n_bootstrap: bootstrap replicates of the confidence intervals of rho,
        tau and the top-10% hit rate (0: no intervals).
      seed: seed of the bootstrap and of the pair sample.

    Returns:
      One dict per proxy with the keys of :data:`CSV_COLUMNS`: ``n``/``n_nan``
      (cells used / left out as NaN), ``sign``, ``spearman``/``kendall`` with
      ``_lo``/``_hi`` (bootstrap interval) and ``_p``, the top-10% statistics
      (``top10_spearman``, ``top10_hit_pct`` with its interval,
      ``top5_in_top64``), the neighbourhood statistics (``neigh_spearman``,
      ``neigh_best_pct``, ``neigh_clusters``), the pairwise ``agreement`` rate
      (for 'vote': the paper's 0.82) and ``note``, a list of remarks (joined by "; " in
      the CSV).

    Raises:
      FileNotFoundError, ValueError: see :func:`load_scores` and
        :func:`select_proxies`.
    """
    if n_bootstrap < 0:
        raise ValueError(f"the number of bootstrap replicates must be >= 0, got {n_bootstrap}")
    dataset, indices, scores, acc, neighbours = load_joined(path, dataset, split, space)
    split = ("val" if split is None else split) if neighbours is None else "benchmark"
    return evaluate_arrays(indices, scores, acc, proxies, n_bootstrap, seed, dataset, split, neighbours)


# --------------------------------------------------------------------------- command line


class _UsageError(ValueError):
    """A bad command line."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise _UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser (errors raise instead of exiting)."""
    p = _Parser(prog=PROG, description=__doc__.split("\n\n")[0],
                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("scores", nargs="+", help="a .jsonl or .csv scores file (from python -m zcjax.score); several "
                                             "NAS-Bench-201 files are joined on the cells they share")
    p.add_argument("--dataset", default=None,
                   help="cifar10 | cifar100 | ImageNet16-120 (default: the file's, from its recorded settings or "
                        "accuracy columns; else cifar10). One that contradicts the file is refused")
    p.add_argument("--split", default=None, help="nb201: train | val | test (default val); other spaces have one "
                                                 "ground truth per task")
    p.add_argument("--space", default=None, help="the file's search space (default: its recorded settings, else nb201)")
    rules = ", ".join(f"{rule}:<a>+<b>... ({what})" for rule, what in ensemble.RULE_NAMES.items())
    p.add_argument("--proxies", default="all", help="comma-separated proxy columns, 'vote', 'all' (default), or zero-shot "
                        f"ensembles: {rules}; or the published ones {', '.join(ensemble.ALIASES)}; -<name> marks a "
                        "member where lower is better")
    p.add_argument("--bootstrap", type=int, default=1000, metavar="N",
                   help="bootstrap replicates of the confidence intervals (default 1000; 0: none)")
    p.add_argument("--seed", type=int, default=0, help="seed of the bootstrap and the pair sample (default 0)")
    p.add_argument("--out-dir", metavar="DIR", help="write evaluation.md, evaluation.csv (and plots) here")
    p.add_argument("--plots", action="store_true", help="with --out-dir: a scatter plot per proxy (PNG)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: prints the Markdown table; returns the exit status.

    Args:
      argv: the arguments (default ``sys.argv[1:]``).

    Returns:
      0 on success; 2 on bad input, with one line ``python -m zcjax.evaluate:
      error: ...`` on stderr.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.bootstrap < 0:
            raise _UsageError(f"--bootstrap must be >= 0, got {args.bootstrap}")
        if args.plots and not args.out_dir:
            raise _UsageError("--plots needs --out-dir")
        if args.split is not None and args.split not in benchmark.SPLITS:
            raise _UsageError(f"unknown split {args.split!r}; valid splits are {', '.join(benchmark.SPLITS)}")
        if args.out_dir and os.path.exists(args.out_dir) and not os.path.isdir(args.out_dir):
            raise _UsageError(f"--out-dir {args.out_dir} is not a folder")
        dataset, *data, neighbours = load_joined(args.scores, args.dataset, args.split, args.space)
        if len(args.scores) > 1:
            print(f"{PROG}: joined {len(args.scores)} files on the {len(data[0])} cells they share",
                  file=sys.stderr)
        split = ("val" if args.split is None else args.split) if neighbours is None else "benchmark"
        rows = evaluate_arrays(*data, proxies=args.proxies, n_bootstrap=args.bootstrap, seed=args.seed,
                               dataset=dataset, split=split, neighbours=neighbours)
        if rows and rows[0]["top10_cells"] < MIN_TOP_CELLS:
            print(f"{PROG}: warning: the top 10% holds {rows[0]['top10_cells']} of {rows[0]['n']} cells; "
                  "top-10% and neighbourhood statistics mean little on so few", file=sys.stderr)
        table = to_markdown(rows)
        if args.out_dir:
            os.makedirs(args.out_dir, exist_ok=True)
            with open(os.path.join(args.out_dir, "evaluation.md"), "w") as f:
                f.write(f"# Proxy evaluation: {', '.join(os.path.basename(p) for p in args.scores)}\n\n" + table)
            write_csv(rows, os.path.join(args.out_dir, "evaluation.csv"))
            if args.plots:
                scatter_plots(tuple(data), args.out_dir, [r["proxy"] for r in rows], dataset, split)
    except SystemExit as exit_:  # --help
        return int(exit_.code or 0)
    except (ValueError, OSError, IndexError) as err:
        message = " ".join(str(err).split()) or type(err).__name__
        print(f"{PROG}: error: {message}", file=sys.stderr)
        return 2
    sys.stdout.write(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
