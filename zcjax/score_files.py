"""Scores files read for evaluation: proxy columns, and the benchmark accuracy of each cell.

:func:`load_scores` reads a file written by ``python -m zcjax.score`` (or any
.jsonl/.csv with an ``index`` or ``arch`` column) and looks up each cell's
accuracy: for NAS-Bench-201 in the shipped benchmark table by ``index``, for
another space in ``space.ground_truth(task)`` by ``arch`` (the space and task
come from the file's settings record). Accuracy columns in the file are never
used. :func:`load_joined` joins NAS-Bench-201 files of one run's cells scored
by separate runs; :func:`select_proxies` checks a proxy selection against the
columns a file has. ``zcjax.evaluate`` re-exports them and :func:`file_dataset`.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from . import ensemble
from .results import read_rows, read_settings
from .spaces.nb201 import benchmark
from .spaces.nb201.arch import NUM_ARCHS
from .vote import VOTE_MEMBERS, vote

__all__ = ["VOTE", "file_dataset", "load_joined", "load_scores", "select_proxies", "selected_scores"]

VOTE = "vote"

# Accuracy columns the scorer writes (every dataset and split), plus any column
# named like an accuracy ('acc', 'accuracy', 'val_acc', 'test_accuracy', ...).
_ACCURACY_COLUMNS = frozenset(benchmark.COLUMNS[2:])
_ACCURACY_NAME = re.compile(r"(^|[_\-])acc(uracy)?([_\-]|$)", re.IGNORECASE)


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


def load_joined(paths: str | os.PathLike | Sequence[str | os.PathLike], dataset: str | None, split: str | None,
                 space: str | None = None) -> tuple[str, np.ndarray, dict[str, np.ndarray], np.ndarray, Any]:
    """One scores file, or several NAS-Bench-201 files joined on their cells, with what evaluation needs.

    Files of one run's cells scored by separate runs (other proxies, other
    initialisations) are joined by benchmark index: the cells in every file,
    in the first file's order. A column in several files must hold the same
    values on those cells (e.g. flops), else the join is refused.

    Returns:
      ``(dataset or task, keys, scores, accuracy, neighbours)``: the first four
      as :func:`load_scores` (with the dataset it resolved to first);
      neighbours is None for NAS-Bench-201, else each cell's neighbour keys.
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
                if not np.allclose(scores[name], values, rtol=1e-6, atol=0.0, equal_nan=True):
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


def selected_scores(scores: Mapping[str, Any], name: str) -> np.ndarray:
    """The scores of a name :func:`select_proxies` returned: a column of ``scores`` as it is, else an
    ensemble's score (:func:`zcjax.ensemble.parse`), else ('vote') the paper's majority vote, as float64."""
    if name in scores:
        return scores[name]
    if ensemble.is_spec(name):
        return ensemble.parse(name)(scores)
    return vote(scores, VOTE_MEMBERS)[0].astype(np.float64)
