"""Markdown and CSV reports of evaluation rows.

The rows are those of :func:`zcjax.evaluate.evaluate`, one dict per proxy with
the keys of :data:`CSV_COLUMNS`. :func:`to_markdown` formats them as a table
with footnotes (NaN shown as "–"); :func:`write_csv` writes them with NaN as an
empty field. Standard library and numpy only.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["CSV_COLUMNS", "to_markdown", "write_csv"]

CSV_COLUMNS: tuple[str, ...] = (
    "proxy", "dataset", "split", "n", "n_nan", "sign",
    "spearman", "spearman_lo", "spearman_hi", "spearman_p",
    "kendall", "kendall_lo", "kendall_hi", "kendall_p",
    "top10_spearman", "top10_hit_pct", "top10_hit_lo", "top10_hit_hi", "top10_cells",
    "top5_in_top64", "top5_cells",
    "neigh_spearman", "neigh_best_pct", "neigh_clusters",
    "agreement", "agreement_pairs", "agreement_exact", "note",
)
"""Column order of :func:`write_csv` (and the keys of an :func:`~zcjax.evaluate.evaluate` row)."""


def _num(v: Any, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    return f"{v:.{digits}f}"


def _with_ci(v: Any, lo: Any, hi: Any, digits: int = 3) -> str:
    text = _num(v, digits)
    if text != "–" and not (math.isnan(lo) or math.isnan(hi)):
        text += f" [{lo:.{digits}f}, {hi:.{digits}f}]"
    return text


def to_markdown(rows: Sequence[Mapping[str, Any]]) -> str:
    """A Markdown table of :func:`~zcjax.evaluate.evaluate` rows, with footnotes.

    Args:
      rows: the rows of :func:`~zcjax.evaluate.evaluate`.

    Returns:
      The table (proxy | n | spearman [CI] | kendall [CI] | top10% rho |
      top10% hit % | top5%-in-top64 | neigh rho | neigh best % | vote
      agreement), followed by notes, ending in a newline.
    """
    header = ["proxy", "n", "spearman [CI]", "kendall [CI]", "top10% rho", "top10% hit %", "top5%-in-top64",
              "neigh rho", "neigh best %", "vote agreement"]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    for r in rows:
        n = str(r["n"]) + (f" ({r['n_nan']} NaN)" if r.get("n_nan") else "")
        hit = _with_ci(r["top10_hit_pct"], r["top10_hit_lo"], r["top10_hit_hi"], 1)
        top5 = _num(r["top5_in_top64"])
        cells = [str(r["proxy"]), n, _with_ci(r["spearman"], r["spearman_lo"], r["spearman_hi"]),
                 _with_ci(r["kendall"], r["kendall_lo"], r["kendall_hi"]), _num(r["top10_spearman"]), hit, top5,
                 _num(r["neigh_spearman"]), _num(r["neigh_best_pct"], 1), _num(r["agreement"])]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    first = rows[0] if rows else {}
    if first.get("dataset"):
        lines.append(f"Accuracy: {first['dataset']} {first.get('split', '')} (benchmark table). "
                     "Signs as measured: a negative rho means the proxy scores worse cells higher.")
    clusters = sorted({int(r["neigh_clusters"]) for r in rows})
    lines.append("CI: 95% percentile bootstrap over cells. top10%: within the 10% most accurate cells; "
                 "top5%-in-top64: the 5% most accurate cells among the proxy's top 64. "
                 f"neigh: clusters of a cell and its 24 edit-distance-1 neighbours "
                 f"({', '.join(map(str, clusters)) or 0} clusters).")
    lines.append("vote agreement: fraction of cell pairs (different accuracies) ordered like accuracy by the "
                 "proxy alone, or for 'vote' by the majority of synflow, jacob_cov and snip (the paper's 0.82).")
    parts = [list(r.get("note") or []) for r in rows]
    shared = [p for p in (parts[0] if len(rows) > 1 else []) if all(p in ps for ps in parts)]
    if shared:
        lines.append(f"- every proxy: {'; '.join(shared)}")
    for r, ps in zip(rows, parts):
        own = [p for p in ps if p not in shared]
        if own:
            lines.append(f"- {r['proxy']}: {'; '.join(own)}")
    return "\n".join(lines) + "\n"


def write_csv(rows: Sequence[Mapping[str, Any]], path: str | os.PathLike) -> None:
    """Writes :func:`~zcjax.evaluate.evaluate` rows as CSV (columns :data:`CSV_COLUMNS`, NaN as empty).

    Args:
      rows: the rows.
      path: the output file.
    """
    extra = [k for r in rows for k in r if k not in CSV_COLUMNS]
    columns = list(CSV_COLUMNS) + list(dict.fromkeys(extra))
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        for r in rows:
            values = []
            for c in columns:
                v = r.get(c, "")
                if isinstance(v, (float, np.floating)):
                    v = "" if math.isnan(v) else repr(float(v))
                elif isinstance(v, list):
                    v = "; ".join(v)
                values.append(v)
            writer.writerow(values)
