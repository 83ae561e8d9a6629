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
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from . import ensemble

# The statistics live in their own modules; those in __all__ (and CSV_COLUMNS)
# are re-exported here, so `from zcjax.evaluate import spearman` keeps working.
from .bootstrap import _ResampledStats, bootstrap_ci
from .neighbourhood import neighbour_indices, neighbourhood_stats
from .report import CSV_COLUMNS, _num, to_markdown, write_csv  # noqa: F401 (CSV_COLUMNS re-exported)
from .results import read_rows, read_settings
from .spaces.nb201 import benchmark
from .spaces.nb201.arch import NUM_ARCHS
from .stats import _pair, correlation, correlations, kendall, orient, spearman, top_k_stats
from .vote import VOTE_MEMBERS, vote, vote_agreement

__all__ = [
    "VOTE_MEMBERS", "file_dataset", "load_scores", "select_proxies", "spearman", "kendall", "correlation", "correlations",
    "orient", "top_k_stats", "vote", "vote_agreement", "neighbour_indices", "neighbourhood_stats",
    "bootstrap_ci", "evaluate", "evaluate_arrays", "to_markdown", "write_csv", "scatter_plots",
    "build_parser", "main",
]

VOTE = "vote"
PROG = "python -m zcjax.evaluate"
MIN_TOP_CELLS = 10
"""Fewer cells than this in the top 10% get a warning: their statistics mean little."""

# Accuracy columns the scorer writes (every dataset and split), plus any column
# named like an accuracy ('acc', 'accuracy', 'val_acc', 'test_accuracy', ...).
_ACCURACY_COLUMNS = frozenset(benchmark.COLUMNS[2:])
_ACCURACY_NAME = re.compile(r"(^|[_\-])acc(uracy)?([_\-]|$)", re.IGNORECASE)


# --------------------------------------------------------------------------- loading


def _is_accuracy_column(name: str) -> bool:
    return name in _ACCURACY_COLUMNS or bool(_ACCURACY_NAME.search(name))


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


def _as_index(v: Any) -> int | None:
    """A benchmark index from a file value, or None when it is not one."""
    if not _is_number(v) or not math.isfinite(v) or float(v) != int(v):
        return None
    i = int(v)
    return i if 0 <= i < NUM_ARCHS else None


def _listing(values: Sequence[Any], limit: int = 5) -> str:
    shown = ", ".join(repr(v) if isinstance(v, str) else str(v) for v in values[:limit])
    return shown + (f", ... ({len(values)} in all)" if len(values) > limit else "")


def _file_datasets(path: str, columns: Iterable[str] | None = None) -> tuple[str | None, list[str]]:
    """The dataset a file's settings record names (or None), and those whose accuracy columns it has."""
    settings = read_settings(path)
    recorded = settings.get("dataset") if settings else None
    if columns is None:
        columns = list(dict.fromkeys(k for row in read_rows(path) for k in row))
    columns = set(columns)
    found = [benchmark.dataset_info(d).name for d in benchmark.DATASETS
             if columns & {f"{benchmark.dataset_info(d).column_prefix}_{s}" for s in benchmark.SPLITS}]
    if recorded is not None and found and recorded not in found:
        raise ValueError(f"{path} records dataset {recorded} but holds {', '.join(found)} accuracy columns")
    return recorded, found


def file_dataset(path: str | os.PathLike, columns: Iterable[str] | None = None) -> str | None:
    """The dataset a scores file was made for, or None when the file does not say.

    Taken from the file's recorded settings (:func:`zcjax.results.read_settings`)
    or, for a file without a record, from its accuracy columns (the scorer
    writes ``<prefix>_train/_val/_test`` of its dataset only); None when it has
    neither, or the columns of several datasets.

    Args:
      path: the scores file.
      columns: its columns, if already read (else the file is read for them).

    Raises:
      ValueError: if the record names a dataset whose columns the file lacks
        while it has another's.
    """
    recorded, found = _file_datasets(os.fspath(path), columns)
    return recorded if recorded is not None else (found[0] if len(found) == 1 else None)


def _resolve_dataset(path: str, dataset: str | None, columns: Iterable[str]) -> str:
    """``dataset`` checked against the file's; the file's when None; cifar10 for a file that says nothing."""
    recorded, found = _file_datasets(path, columns)
    if dataset is None:
        if recorded is None and len(found) > 1:
            raise ValueError(f"{path} has accuracy columns of several datasets ({', '.join(found)}): "
                             "pass --dataset")
        return recorded or (found[0] if found else "cifar10")
    name = benchmark.dataset_info(dataset).name
    in_file = recorded or (found[0] if len(found) == 1 else None)
    if in_file is not None and in_file != name:
        raise ValueError(f"{path} holds {in_file} scores, not {name}: drop --dataset (it is read from the file) "
                         f"or pass --dataset {in_file}")
    return name


def load_scores(path: str | os.PathLike, dataset: str | None = None,
                split: str | None = None) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
    """Reads a scores file and looks up the accuracy of its cells.

    Proxy columns are every column whose values are all numbers (null/empty
    counts as a number: NaN) other than ``index`` and the accuracy columns (the
    benchmark's ``<dataset>_<split>`` columns, or any column named like
    ``acc``/``accuracy``). The accuracy is taken from the shipped benchmark
    table by index, never from the file. Cells are identified by ``index``; a
    file without it may give ``arch`` instead. When both are given they must
    name the same cell.

    Args:
      path: a .jsonl or .csv scores file (see :func:`zcjax.results.read_rows`).
      dataset: 'cifar10', 'cifar100' or 'ImageNet16-120'; None (default): the
        file's own (:func:`file_dataset`), else cifar10. A dataset that
        contradicts the file's is refused.
      split: 'train', 'val' or 'test'.

    Returns:
      ``(indices, scores, accuracy)``: an int64 array of benchmark indices (file
      order), a dict from proxy name to a float64 array aligned with it (NaN
      where the file has null), and the float64 accuracy (percent) of each cell.

    Raises:
      FileNotFoundError: if the file does not exist.
      ValueError: if the dataset or split is unknown or contradicts the file,
        the file has no rows, no proxy columns, no ``index``/``arch`` column,
        unknown or duplicate indices, or an ``arch`` that does not match its
        ``index``.
    """
    return _load(path, dataset, split)[1:4]


def _load(path: str | os.PathLike, dataset: str | None, split: str | None,
          space: str | None = None) -> tuple[str, np.ndarray, dict[str, np.ndarray], np.ndarray, Any]:
    """:func:`load_scores`, with the dataset it resolved to first and each cell's neighbours last.

    The neighbours are None for NAS-Bench-201 (:func:`neighbourhood_stats`
    finds them by index), else each cell's neighbour keys.
    """
    from zcjax import spaces

    path = os.fspath(path)
    settings = read_settings(path) if os.path.exists(path) else None
    recorded = (settings.get("space") or "nb201") if settings else None
    if space is not None:
        space = spaces.get(space).name
        if recorded is not None and recorded != space:
            raise ValueError(f"{path} holds {recorded} scores, not {space}: drop --space (it is read from the file)")
    space = space or recorded or "nb201"
    if space != "nb201":
        return _load_space(path, spaces.get(space), dataset, split, settings or {})
    split = "val" if split is None else split
    if dataset is not None:
        benchmark.dataset_info(dataset)  # validates dataset and split first
    benchmark.accuracies("cifar10", split)
    rows = read_rows(path)
    if not rows:
        raise ValueError(f"{path} has no rows")
    columns = list(dict.fromkeys(k for row in rows for k in row))
    dataset = _resolve_dataset(path, dataset, columns)
    accuracy_table = benchmark.accuracies(dataset, split)
    if "index" in columns:
        raw = [row.get("index", math.nan) for row in rows]
        parsed = [_as_index(v) for v in raw]
        bad = [v for v, i in zip(raw, parsed) if i is None]
        if bad:
            raise ValueError(f"{path}: unknown benchmark indices {_listing(bad)} "
                             f"(valid indices are 0..{NUM_ARCHS - 1})")
        indices = np.array(parsed, dtype=np.int64)
        if "arch" in columns:
            for n, (row, i) in enumerate(zip(rows, parsed), 1):
                arch = row.get("arch")
                if isinstance(arch, str) and arch.strip() and arch.strip() != benchmark.arch_at(i):
                    try:
                        same = benchmark.index_of(arch) == i
                    except ValueError:
                        same = False
                    if not same:
                        raise ValueError(f"{path} row {n}: arch {arch!r} is not cell {i} "
                                         f"({benchmark.arch_at(i)})")
    elif "arch" in columns:
        found = []
        for n, row in enumerate(rows, 1):
            try:
                found.append(benchmark.index_of(row.get("arch")))
            except ValueError as err:
                raise ValueError(f"{path} row {n}: {err}") from None
        indices = np.array(found, dtype=np.int64)
    else:
        raise ValueError(f"{path} has neither an 'index' nor an 'arch' column")
    unique, counts = np.unique(indices, return_counts=True)
    if (counts > 1).any():
        raise ValueError(f"{path}: duplicate benchmark indices {_listing(unique[counts > 1].tolist())}")
    return dataset, indices, _proxy_columns(path, rows, columns), accuracy_table[indices], None


def _load_joined(paths: str | os.PathLike | Sequence[str | os.PathLike], dataset: str | None, split: str | None,
                 space: str | None = None) -> tuple[str, np.ndarray, dict[str, np.ndarray], np.ndarray, Any]:
    """:func:`_load` of one file, or of several NAS-Bench-201 files joined on their cells.

    Files of one run's cells scored by separate runs (other proxies, other
    initialisations) are joined by benchmark index: the cells in every file,
    in the first file's order. A column in several files must hold the same
    values on those cells (e.g. flops), else the join is refused.
    """
    if isinstance(paths, (str, os.PathLike)):
        return _load(paths, dataset, split, space)
    paths = [os.fspath(p) for p in paths]
    if len(paths) == 1:
        return _load(paths[0], dataset, split, space)
    loaded = [_load(p, dataset, split, space) for p in paths]
    if any(part[4] is not None for part in loaded):
        raise ValueError("joining several scores files is supported for NAS-Bench-201 files only")
    datasets = {part[0] for part in loaded}
    if len(datasets) > 1:
        raise ValueError(f"the files are scored on different datasets ({', '.join(sorted(datasets))}): "
                         f"{', '.join(paths)}")
    common = set(loaded[0][1].tolist())
    for part in loaded[1:]:
        common &= set(part[1].tolist())
    if not common:
        raise ValueError(f"the files share no cell: {', '.join(paths)}")
    first_indices = loaded[0][1]
    keep = np.array([i in common for i in first_indices.tolist()])
    indices = first_indices[keep]
    scores: dict[str, np.ndarray] = {}
    origin: dict[str, str] = {}
    for path, (_, idx, cols, _, _) in zip(paths, loaded):
        position = {int(i): k for k, i in enumerate(idx.tolist())}
        rows = np.array([position[int(i)] for i in indices])
        for name, values in cols.items():
            values = values[rows]
            if name in scores:
                if not np.allclose(scores[name], values, rtol=1e-6, equal_nan=True):
                    raise ValueError(f"column {name} differs between {origin[name]} and {path}: score one of them "
                                     "under another name or leave it out")
                continue
            scores[name], origin[name] = values, path
    return loaded[0][0], indices, scores, loaded[0][3][keep], None


def _proxy_columns(path: str, rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> dict[str, np.ndarray]:
    """Every all-numeric column other than index and the accuracies, as float64 (null: NaN)."""
    scores: dict[str, np.ndarray] = {}
    for name in columns:
        if name in ("index", "arch") or _is_accuracy_column(name):
            continue
        values = [row.get(name, math.nan) for row in rows]
        if all(_is_number(v) for v in values):
            scores[name] = np.array(values, dtype=np.float64)
    if not scores:
        raise ValueError(f"{path} has no proxy columns (numeric columns other than index and accuracy); "
                         f"its columns are {', '.join(columns)}")
    return scores


def _load_space(path: str, space: Any, dataset: str | None, split: str | None,
                settings: Mapping[str, Any]) -> tuple[str, np.ndarray, dict[str, np.ndarray], np.ndarray, list[list[int]]]:
    """:func:`_load` for a space other than NAS-Bench-201: the truth is ``space.ground_truth(task)`` by ``arch``.

    Rows whose architecture the benchmark did not train are left out, with a
    warning. Keys are the space's indices (finite spaces) or row positions.
    """
    import warnings

    if split is not None:
        raise ValueError(f"space {space.name} has one ground truth per task: drop --split")
    recorded = settings.get("dataset")
    task = space.check_task(dataset if dataset is not None else recorded)
    if recorded is not None and task != space.check_task(recorded):
        raise ValueError(f"{path} holds {recorded} scores, not {task}: drop --dataset (it is read from the file) "
                         f"or pass --dataset {recorded}")
    try:
        truth = space.ground_truth(task)
    except NotImplementedError:
        raise ValueError(f"space {space.name} has no ground truth to evaluate against") from None
    rows = read_rows(path)
    if not rows:
        raise ValueError(f"{path} has no rows")
    columns = list(dict.fromkeys(k for row in rows for k in row))
    if "arch" not in columns:
        raise ValueError(f"{path} has no 'arch' column (space {space.name} names cells by arch)")
    archs = []
    for n, row in enumerate(rows, 1):
        try:
            archs.append(space.canonical(row.get("arch")))
        except (ValueError, TypeError) as err:
            raise ValueError(f"{path} row {n}: {' '.join(str(err).split())}") from None
    if len(set(archs)) != len(archs):
        seen: set[Any] = set()
        dup = [space.format(a) for a in archs if a in seen or seen.add(a)]
        raise ValueError(f"{path}: duplicate architectures {_listing(dup)}")
    known = [a in truth for a in archs]
    if not any(known):
        raise ValueError(f"{path}: none of its {len(rows)} architectures has a {space.name} {task} ground truth")
    if not all(known):
        warnings.warn(f"{len(rows) - sum(known)} of {len(rows)} architectures in {path} have no ground truth: "
                      "left out", stacklevel=3)
        rows = [r for r, k in zip(rows, known) if k]
        archs = [a for a, k in zip(archs, known) if k]
    scores = _proxy_columns(path, rows, columns)
    if space.size is not None:
        keys = [int(space.index(a)) for a in archs]
        neighbours = [[int(space.index(b)) for b in space.neighbours(a)] for a in archs]
    else:
        position = {a: p for p, a in enumerate(archs)}
        keys = list(range(len(archs)))
        neighbours = [[position.get(b, -1) for b in space.neighbours(a)] for a in archs]
    acc = np.array([float(truth[a]) for a in archs], dtype=np.float64)
    return task, np.array(keys, dtype=np.int64), scores, acc, neighbours


def select_proxies(available: Iterable[str], proxies: str | Iterable[str] | None = "all") -> list[str]:
    """Validates a proxy selection against the proxies a file has.

    Args:
      available: the proxy columns of a file.
      proxies: 'all' (or None), a comma-separated string, or names. 'vote' asks
        for the majority vote of :data:`VOTE_MEMBERS` (which must be available);
        'all' stands for every column, plus 'vote' when its members are there.
        ``rank:a+b+...`` and ``vote:a+b+...`` are zero-shot ensembles of
        available columns (see :mod:`zcjax.ensemble`).

    Returns:
      The selected names, without duplicates, in the order asked ('all': file
      order, then 'vote').

    Raises:
      ValueError: on an unknown name or an empty selection.
    """
    available = list(available)
    members_present = all(m in available for m in VOTE_MEMBERS)
    if proxies is None:
        proxies = "all"
    names = [p.strip() for p in proxies.split(",")] if isinstance(proxies, str) else [str(p) for p in proxies]
    names = [n for n in names if n]
    if not names:
        raise ValueError("no proxies selected")
    selected: list[str] = []
    for name in names:
        if name == "all":
            selected += available + ([VOTE] if members_present and VOTE not in available else [])
        elif ensemble.is_spec(name) and name not in available:
            spec = ensemble.parse(name)
            missing = [c for c in spec.needs(available) if c not in available]
            if missing:
                raise ValueError(f"ensemble {name!r} needs {', '.join(missing)}; the file has {', '.join(available)}")
            selected.append(spec.name)
        elif name == VOTE and name not in available:
            if not members_present:
                missing = [m for m in VOTE_MEMBERS if m not in available]
                raise ValueError(f"proxy 'vote' needs {', '.join(VOTE_MEMBERS)}; the file lacks {', '.join(missing)}")
            selected.append(name)
        elif name not in available:
            raise ValueError(f"unknown proxy {name!r}; the file has {', '.join(available)}")
        else:
            selected.append(name)
    return list(dict.fromkeys(selected))


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
        if name == VOTE and VOTE not in scores:
            values, _ = vote(scores, VOTE_MEMBERS)
            values = values.astype(np.float64)
            agreement = vote_agreement(scores, acc, VOTE_MEMBERS, seed=seed)
            note = "majority vote of " + ", ".join(VOTE_MEMBERS) + "; agreement is the paper's 0.82"
        elif ensemble.is_spec(name) and name not in scores:
            spec = ensemble.parse(name)
            values = spec(scores)
            if spec.rule == "vote":
                members = spec.member_scores(scores)
                signed = {m: ensemble._column(members, m) for m in spec.members}
                agreement = vote_agreement(signed, acc, spec.members, seed=seed)
            else:
                agreement = vote_agreement(values[None, :], acc, None, seed=seed)
            note = f"zero-shot ensemble ({ensemble.RULE_NAMES[spec.rule]})"
        else:
            values = scores[name]
            keep = ~np.isnan(values)
            agreement = vote_agreement(values[None, keep], acc[keep], None, seed=seed)
            note = ""
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
    dataset, indices, scores, acc, neighbours = _load_joined(path, dataset, split, space)
    split = ("val" if split is None else split) if neighbours is None else "benchmark"
    return evaluate_arrays(indices, scores, acc, proxies, n_bootstrap, seed, dataset, split, neighbours)


# --------------------------------------------------------------------------- plots


def _axis_scale(values: np.ndarray) -> tuple[str, dict[str, Any]]:
    """The x-axis scale of a scatter plot: 'log' for positive values, else 'symlog' (or 'linear' if all 0)."""
    finite = values[np.isfinite(values)]
    if finite.size and (finite > 0).all():
        return "log", {}
    nonzero = np.abs(finite[finite != 0])
    if not nonzero.size:
        return "linear", {}
    return "symlog", {"linthresh": float(nonzero.min())}


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name) or "proxy"


def scatter_plots(path_or_data: str | os.PathLike | tuple[Any, Mapping[str, Any], Any], out_dir: str | os.PathLike,
                  proxies: str | Iterable[str] | None = None, dataset: str | None = None,
                  split: str | None = None) -> list[str]:
    """One scatter plot per proxy: score against accuracy, rho in the title.

    Like the paper's SSNR figure: the score on a log x-axis (symlog when some
    values are zero or negative), the accuracy on the y-axis. Uses
    matplotlib's Agg canvas directly (no pyplot, no global backend change),
    imported only here.

    Args:
      path_or_data: a scores file, or ``(indices, scores, accuracy)`` as
        returned by :func:`load_scores`.
      out_dir: the folder of the PNG files (created if needed).
      proxies: the selection (see :func:`select_proxies`; None: all).
      dataset, split: the accuracy of a scores file (see :func:`load_scores`;
        for data, only the axis label).

    Returns:
      The paths written, ``<out_dir>/scatter_<proxy>.png``, in proxy order.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if isinstance(path_or_data, (str, os.PathLike)):
        dataset, indices, scores, acc, _ = _load(path_or_data, dataset, split)
    else:
        indices, scores, acc = path_or_data
    acc = np.asarray(acc, dtype=np.float64)
    scores = {k: np.asarray(v, dtype=np.float64) for k, v in scores.items()}
    os.makedirs(out_dir, exist_ok=True)
    paths = []
    for name in select_proxies(scores, proxies):
        values = vote(scores, VOTE_MEMBERS)[0].astype(np.float64) if name not in scores else scores[name]
        rho = spearman(values, acc)
        keep = np.isfinite(values) & np.isfinite(acc)
        fig = Figure(figsize=(5, 4), dpi=100)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        ax.scatter(values[keep], acc[keep], s=3, alpha=0.4, linewidths=0)
        scale, kwargs = _axis_scale(values[keep])
        ax.set_xscale(scale, **kwargs)
        ax.set_xlabel(f"{name} score" + ("" if scale == "linear" else f" ({scale} scale)"))
        ax.set_ylabel(f"{dataset or 'benchmark'} {split or 'val'} accuracy (%)")
        ax.set_title(f"{name}\nSpearman ρ = {_num(rho)}, n = {int(keep.sum())}", fontsize=10)
        ax.grid(True, alpha=0.3)
        fig.tight_layout()
        path = os.path.join(os.fspath(out_dir), f"scatter_{_safe_name(name)}.png")
        fig.savefig(path, format="png")
        paths.append(path)
    return paths


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
    p.add_argument("--proxies", default="all", help="comma-separated proxy columns, 'vote', 'all' (default), or zero-shot ensembles "
                        "rank:<a>+<b>... (sum of log-ranks) and vote:<a>+<b>... (majority vote); "
                        "-<name> marks a member where lower is better")
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
        dataset, *data, neighbours = _load_joined(args.scores, args.dataset, args.split, args.space)
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
