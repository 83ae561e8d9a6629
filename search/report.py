"""Traces, summaries, tables and search curves of search runs.

A run's trace has one row per trained cell: ``trained`` (1, 2, ...), the
cell's benchmark ``index``, its ``val`` and ``test`` accuracy, the search's
``best_val`` so far and the ``best_test``: the test accuracy of the cell with
the best validation accuracy so far (search on validation, report test; ties
keep the earlier cell), ``proxy_evals`` (distinct cells scored so far) and
``wall_s`` (seconds since the run started; tabular runs, which run together in
one vmapped program, get an even share of the batch's time).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

TRACE_COLUMNS = ("trained", "index", "val", "test", "best_val", "best_test", "proxy_evals", "wall_s")
SUMMARY_COLUMNS = ("experiment", "algo", "dataset", "proxy", "warmup", "move", "batch", "runs", "budget", "target",
                   "acc50_median", "acc50_q25", "acc50_q75", "reach_median", "reach_q25", "reach_q75",
                   "reached", "final_median", "proxy_evals_median", "seconds_per_run")

# Table 3 of Abdelfattah et al. 2021 (NAS-Bench-201 CIFAR-100, 32 runs, 73% target): the values quoted in issue 13.
PUBLISHED_CIFAR100 = {
    ("rand", 0, 0): (71.02, "1000+"), ("rl", 0, 0): (71.00, "722"), ("ae", 0, 0): (71.05, "171"),
    ("bp", 0, 0): (72.72, "65"), ("rand", 15000, 0): (73.09, "14"), ("ae", 15000, 0): (73.12, "33"),
    ("bp", 512, 0): (73.19, "44"), ("rl", 3000, 0): (72.88, "64"),
}


def running_best(val: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Best validation so far and the test accuracy of that cell (first of ties), along the last axis."""
    val = np.asarray(val, np.float64)
    n = val.shape[-1]
    best_val = np.maximum.accumulate(val, axis=-1)
    prev = np.concatenate([np.full(val.shape[:-1] + (1,), -np.inf), best_val[..., :-1]], axis=-1)
    record = np.where(val > prev, np.arange(n), 0)
    where = np.maximum.accumulate(record, axis=-1)
    return best_val, np.take_along_axis(np.asarray(test, np.float64), where, axis=-1)


def trace_rows(index: np.ndarray, val: np.ndarray, test: np.ndarray, proxy_evals: np.ndarray,
               wall_s: np.ndarray) -> list[dict[str, Any]]:
    """The trace rows of one run (see the module docstring)."""
    best_val, best_test = running_best(val, test)
    return [{"trained": k + 1, "index": int(index[k]), "val": float(val[k]), "test": float(test[k]),
             "best_val": float(best_val[k]), "best_test": float(best_test[k]),
             "proxy_evals": int(proxy_evals[k]), "wall_s": round(float(wall_s[k]), 6)} for k in range(len(index))]


def _quartiles(x: np.ndarray) -> tuple[float, float, float]:
    q25, q50, q75 = np.quantile(np.asarray(x, np.float64), [0.25, 0.5, 0.75])
    return float(q50), float(q25), float(q75)


def cells_to_reach(best_test: np.ndarray, target: float) -> np.ndarray:
    """Trained cells until the reported test accuracy first reaches ``target`` (inf: never), per run."""
    hit = best_test >= target
    return np.where(hit.any(axis=-1), np.argmax(hit, axis=-1) + 1.0, np.inf)


def summarise(best_test: np.ndarray, proxy_evals: np.ndarray, target: float, at: int = 50) -> dict[str, Any]:
    """Median and quartiles over runs of the test accuracy after ``at`` trained cells and of the cells to target.

    Args:
      best_test: (runs, budget) reported test accuracy.
      proxy_evals: (runs, budget).
      target: the accuracy to reach (percent).
      at: trained cells for the accuracy column (the budget if smaller).

    Returns:
      A dict of SUMMARY_COLUMNS' statistics; a quantile of the cells to target
      that falls on a run that never got there is inf (shown as 'budget+').
    """
    runs, budget = best_test.shape
    acc = best_test[:, min(at, budget) - 1]
    reach = cells_to_reach(best_test, target)
    # Quantiles of a set holding inf: rank-based (no interpolation towards inf).
    ordered = np.sort(reach)
    def q(p):
        pos = p * (runs - 1)
        lo, hi = int(math.floor(pos)), int(math.ceil(pos))
        a, b = float(ordered[lo]), float(ordered[hi])
        if lo == hi:
            return a
        return math.inf if not math.isfinite(b) else a + (b - a) * (pos - lo)
    m, q25, q75 = _quartiles(acc)
    return {"acc50_median": m, "acc50_q25": q25, "acc50_q75": q75,
            "reach_median": q(0.5), "reach_q25": q(0.25), "reach_q75": q(0.75),
            "reached": int(np.isfinite(reach).sum()), "final_median": float(np.median(best_test[:, -1])),
            "proxy_evals_median": float(np.median(proxy_evals[:, -1]))}


def fmt_reach(x: float, budget: int) -> str:
    return f"{budget}+" if not np.isfinite(x) else f"{x:.0f}" if float(x).is_integer() else f"{x:.1f}"


def markdown_table(rows: Sequence[Mapping[str, Any]], published: Mapping[tuple, tuple] | None = None) -> str:
    """A Markdown table of summary rows, with the published values where given."""
    head = ["algo", "warm-up", "move", "acc. after 50 [q25, q75]", "cells to target [q25, q75]", "reached",
            "proxy evals", "s/run"]
    if published is not None:
        head += ["published acc.", "published cells"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        b = int(r["budget"])
        move = "-" if not r["move"] else ("on" if r["algo"] == "ae" else str(r["move"]))
        algo = r["algo"].upper() + (f" (B={r['batch']})" if int(r.get("batch", 1)) > 1 else "")
        cells = [algo, str(r["warmup"] or "-"), move,
                 f"{r['acc50_median']:.2f} [{r['acc50_q25']:.2f}, {r['acc50_q75']:.2f}]",
                 f"{fmt_reach(r['reach_median'], b)} [{fmt_reach(r['reach_q25'], b)}, "
                 f"{fmt_reach(r['reach_q75'], b)}]",
                 f"{r['reached']}/{r['runs']}", f"{r['proxy_evals_median']:.0f}", f"{r['seconds_per_run']:.3f}"]
        if published is not None:
            p = published.get((r["algo"], int(r["warmup"]), int(r["move"])))
            cells += [f"{p[0]:.2f}", p[1]] if p else ["", ""]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_text(path: str, text: str) -> None:
    """Writes a whole text file atomically (temporary file, then rename)."""
    from zcjax.results import OutputError

    tmp = f"{path}.tmp{os.getpid()}"
    try:
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except OSError as err:
        raise OutputError(f"cannot write {err.filename or path}: {err.strerror or err}") from None


def plot_curves(curves: Sequence[tuple[str, str, np.ndarray]], path: str, title: str, target: float | None = None,
                ylim: tuple[float, float] | None = None) -> None:
    """Search curves, one panel per algorithm: median best test accuracy over runs, quartile band (the paper's Fig. 4).

    Args:
      curves: (panel, label, best_test (runs, budget)) triples.
      path: the image file (.png, .pdf, ...).
      title: figure title.
      target: a horizontal line at the target accuracy.
      ylim: y range (default: from the data).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = list(dict.fromkeys(p for p, _, _ in curves))
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.6), squeeze=False, sharey=True)
    lows = []
    for ax, panel in zip(axes[0], panels):
        for p, label, bt in curves:
            if p != panel:
                continue
            x = np.arange(1, bt.shape[1] + 1)
            q25, med, q75 = np.quantile(bt, [0.25, 0.5, 0.75], axis=0)
            ax.plot(x, med, label=label, lw=1.4)
            ax.fill_between(x, q25, q75, alpha=0.15)
            lows.append(q25[min(9, len(q25) - 1)])
        if target is not None:
            ax.axhline(target, color="k", lw=0.6, ls=":")
        ax.set_xscale("log")
        ax.set_xlabel("trained cells")
        ax.set_title(panel.upper())
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    axes[0][0].set_ylabel("test accuracy (%) of the best by validation")
    if ylim is None and lows:
        top = max(float(np.max(bt)) for _, _, bt in curves)
        ylim = (min(lows) - 0.5, top + 0.3)
    if ylim is not None:
        axes[0][0].set_ylim(*ylim)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
