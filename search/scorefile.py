"""Proxy scores for a tabular search, read from a zcjax.score file, checked so that files are never mixed."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from zcjax.spaces.nb201 import benchmark

VOTE = "vote"


def known_proxies() -> list[str]:
    """Names that can drive a search: every registered result name, and 'vote'."""
    from zcjax import registry

    return [*registry.all_names(), VOTE]


def check_proxy(proxy: str) -> str:
    """Raises ValueError for an unknown proxy name."""
    names = known_proxies()
    if proxy not in names:
        raise ValueError(f"unknown proxy {proxy!r}; known: {', '.join(names)}")
    return proxy


def _file_dataset(rows: list[dict[str, Any]]) -> str | None:
    """The dataset whose accuracy columns a file carries (files without a settings record)."""
    if not rows:
        return None
    for name, info in benchmark.DATASETS.items():
        if f"{info.column_prefix}_val" in rows[0]:
            return name
    return None


def load_scores(path: str, proxy: str, dataset: str, init_seed: int = 0, *,
                require_all: bool = True, space: str = "nb201") -> tuple[np.ndarray, dict[str, Any]]:
    """The proxy score of every cell of a finite space (NAS-Bench-201 by default), by the space's index.

    Args:
      path: a results file of ``python -m zcjax.score`` (``.jsonl[.gz]`` or ``.csv[.gz]``).
      proxy: the column to use, or 'vote' (the majority vote of synflow,
        jacob_cov and snip; each cell's score is the number of cells of the
        file it beats).
      dataset: the dataset the search runs on; the file must be made for it.
      init_seed: the initial-weight seed the scores must come from.
      require_all: refuse a file that lacks any of the space's cells.
      space: the registered space the file must be made for.

    Returns:
      (scores (size,) float64 with NaN for absent cells, a dict describing the
      file: path, settings, cells).

    Raises:
      ValueError: one line, if the file lacks cells or the proxy, or was made
        for another space, dataset or initial-weight seed.
      FileNotFoundError: if there is no such file.
    """
    from zcjax.results import read_rows, read_settings

    from zcjax import spaces

    check_proxy(proxy)
    sp = spaces.get(space)
    dataset = sp.check_task(dataset)
    num_archs = sp.size
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no such score file: {path}")
    settings = read_settings(path)
    rows = read_rows(path)
    if settings is not None:
        made_in = settings.get("space") or "nb201"
        if made_in != sp.name:
            raise ValueError(f"score file {path} holds {made_in} scores, not {sp.name}")
        made_for = settings.get("dataset")
        if made_for is not None and sp.check_task(made_for) != dataset:
            raise ValueError(f"score file {path} was made for {made_for}, not {dataset}: its scores do not apply")
        seed = (settings.get("init") or {}).get("seed")
        if seed is not None and int(seed) != int(init_seed):
            raise ValueError(f"score file {path} was made with init seed {seed}, not {init_seed} "
                             "(pass --init-seed to match it)")
    elif sp.name != "nb201":
        raise ValueError(f"score file {path} has no settings record, so nothing says it holds {sp.name} scores")
    else:
        made_for = _file_dataset(rows)
        if made_for is not None and made_for != dataset:
            raise ValueError(f"score file {path} holds {made_for} accuracies, so it was made for {made_for}, "
                             f"not {dataset}")
    members = ["synflow", "jacob_cov", "snip"] if proxy == VOTE else [proxy]
    have = set(rows[0]) if rows else set()
    lacking = [m for m in members if m not in have]
    if lacking:
        raise ValueError(f"score file {path} lacks the proxy {', '.join(lacking)}"
                         + (" (a member of vote)" if proxy == VOTE else ""))
    index = np.asarray([int(r["index"]) for r in rows], np.int64)
    if index.size and (index.min() < 0 or index.max() >= num_archs):
        raise ValueError(f"score file {path} has cell indices outside 0..{num_archs - 1}")
    if require_all and np.unique(index).size < num_archs:
        raise ValueError(f"score file {path} lacks {num_archs - np.unique(index).size} of the {num_archs} cells; "
                         "a tabular search needs a score for every cell (use --live to compute them)")
    values = {m: np.asarray([float(r[m]) for r in rows], np.float64) for m in members}
    if proxy == VOTE:
        from zcjax.evaluate import vote

        score_of_rows, _ = vote(values, members)
        score_of_rows = np.asarray(score_of_rows, np.float64)
    else:
        score_of_rows = values[proxy]
    scores = np.full(num_archs, np.nan)
    scores[index] = score_of_rows
    return scores, {"path": os.path.abspath(path), "settings": settings, "cells": int(np.unique(index).size)}
