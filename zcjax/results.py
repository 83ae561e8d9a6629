"""Result files: JSON lines or CSV, written a row at a time, resumable.

A row is a flat dict. NaN is written as JSON null (an empty CSV field) and read
back as NaN. After a crash the last line may be cut short: resuming drops it and
rescores that cell, so no row is lost or duplicated.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import math
import os
import sys
from collections.abc import Iterable, Sequence
from typing import Any, TextIO


def _format(path: str) -> str:
    path = path[:-3] if path.endswith(".gz") else path
    if path == "-" or path.endswith(".jsonl") or path.endswith(".json"):
        return "jsonl"
    if path.endswith(".csv"):
        return "csv"
    raise ValueError(f"output file {path} must end in .jsonl or .csv (or be - for stdout)")


def _json_value(v: Any) -> Any:
    return None if isinstance(v, float) and not math.isfinite(v) else v


def _parse_value(v: Any) -> Any:
    if v is None or v == "":
        return math.nan
    if isinstance(v, str):
        try:
            return int(v) if v.lstrip("-").isdigit() else float(v)
        except ValueError:
            return v
    return v


def read_rows(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Reads a results file, gzipped or not (complete lines only); null/empty -> NaN."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no such results file: {path}")
    with (gzip.open(path, "rt", newline="") if path.endswith(".gz") else open(path, newline="")) as f:
        text = f.read()
    complete = text[: text.rfind("\n") + 1]
    if _format(path) == "csv":
        rows = list(csv.DictReader(io.StringIO(complete)))
        return [{k: (v if k == "arch" else _parse_value(v)) for k, v in r.items()} for r in rows]
    rows = []
    for n, line in enumerate(complete.splitlines(), 1):
        if line.strip():
            try:
                rows.append({k: (math.nan if v is None else v) for k, v in json.loads(line).items()})
            except json.JSONDecodeError as err:
                raise ValueError(f"{path} line {n} is not JSON: {err}") from None
    return rows


class RowWriter:
    """Appends rows to a .jsonl/.csv file (or JSON lines to stdout), flushing each row.

    Args:
      path: the output file, '-' for stdout, or None to write nothing (the
        non-writing processes of a multi-host run).
      columns: the column order (CSV header).
      resume: keep the complete rows of an existing file (a cut-off last line
        is dropped) instead of starting it anew.
    """

    def __init__(self, path: str | None, columns: Sequence[str], resume: bool = False):
        if path is not None and path.endswith(".gz"):
            raise ValueError(f"cannot write rows as they come to a gzip file ({path}); compress it afterwards")
        self.path, self.columns = path, list(columns)
        self.kind = "jsonl" if path is None else _format(path)
        self.done: set[int] = set()
        self._file: TextIO | None = None
        self._owned = False
        if path is None:
            return
        if path == "-":
            self._file = sys.stdout
        else:
            directory = os.path.dirname(os.path.abspath(path))
            if not os.path.isdir(directory):
                raise FileNotFoundError(f"output folder does not exist: {directory}")
            existing = resume and os.path.isfile(path) and os.path.getsize(path) > 0
            if existing:
                self._truncate_partial_line()
                rows = read_rows(path)
                if self.kind == "csv" and rows and list(rows[0]) != self.columns:
                    raise ValueError(f"cannot resume {path}: its columns differ from this run's "
                                     f"({', '.join(list(rows[0])[:4])}... vs {', '.join(self.columns[:4])}...)")
                self.done = {int(r["index"]) for r in rows}
            self._file = open(path, "a" if existing else "w", newline="")
            self._owned = True
            if self.kind == "csv" and not existing:
                csv.writer(self._file).writerow(self.columns)
                self._file.flush()

    def _truncate_partial_line(self) -> None:
        with open(self.path, "rb+") as f:
            data = f.read()
            keep = data.rfind(b"\n") + 1
            if keep != len(data):
                f.truncate(keep)

    def write(self, row: dict[str, Any]) -> None:
        """Writes one row and flushes it to disk."""
        if self._file is not None:
            if self.kind == "csv":
                values = ["" if isinstance(v, float) and not math.isfinite(v) else v
                          for v in (row.get(c, math.nan) for c in self.columns)]
                csv.writer(self._file).writerow(values)
            else:
                self._file.write(json.dumps({c: _json_value(row.get(c, math.nan)) for c in self.columns}) + "\n")
            self._file.flush()
            if self._owned:
                os.fsync(self._file.fileno())
        self.done.add(int(row["index"]))

    def write_all(self, rows: Iterable[dict[str, Any]]) -> None:
        for row in rows:
            self.write(row)

    def close(self) -> None:
        if self._owned:
            self._file.close()

    def __enter__(self) -> RowWriter:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
