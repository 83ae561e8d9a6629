"""Scatter plots of proxy scores against accuracy (matplotlib's Agg canvas, imported only when plotting)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from .report import _num
from .score_files import load_joined, select_proxies, selected_scores
from .stats import spearman

__all__ = ["scatter_plots"]


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
        dataset, indices, scores, acc, _ = load_joined(path_or_data, dataset, split)
    else:
        indices, scores, acc = path_or_data
    acc = np.asarray(acc, dtype=np.float64)
    scores = {k: np.asarray(v, dtype=np.float64) for k, v in scores.items()}
    os.makedirs(out_dir, exist_ok=True)
    paths = []
    for name in select_proxies(scores, proxies):
        values = selected_scores(scores, name)
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
