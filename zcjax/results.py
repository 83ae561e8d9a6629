"""Result files: JSON lines or CSV, written a row at a time, resumable, never mixed.

A row is a flat dict. NaN is written as JSON null (an empty CSV field) and read
back as NaN. Each file has a settings record beside it (:mod:`zcjax.provenance`,
``F.settings.json``): the settings that produced its rows, checked before a run
appends to it. A writer holds an advisory lock (``F.lock``, filelock) for its
lifetime, so a second run on the same file stops at once instead of
interleaving rows. After a crash the last line may be cut short: resuming drops
it and rescores that cell, so no row is lost or duplicated.
"""

from __future__ import annotations

import collections
import csv
import gzip
import io
import json
import math
import os
import socket
import sys
import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TextIO

import filelock

from . import provenance
from .provenance import PARTIAL, base_path, read_settings, sidecar_path

__all__ = ["OutputBusy", "OutputError", "RowWriter", "SettingsMismatch", "find_results_file", "is_finished",
           "read_rows", "read_settings", "sidecar_path"]


class OutputError(ValueError):
    """A results file cannot be written (permission, read-only, a directory, disk full...)."""


class OutputBusy(OutputError):
    """Another process is writing the same results file."""


class SettingsMismatch(ValueError):
    """A run would append rows made with other settings than the file's."""


def _format(path: str) -> str:
    path = base_path(path)
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


def find_results_file(path: str | os.PathLike) -> str | None:
    """The file that holds results ``F`` (``path``, with or without ``.gz``/``.partial.gz``), or None.

    The finished ``F.gz`` first, then ``F`` being written, then ``F.partial.gz``
    (a run stopped part-way); each reads with :func:`read_rows`.
    """
    plain = base_path(path)
    for candidate in (plain + ".gz", plain, plain + PARTIAL):
        if os.path.exists(candidate):
            return candidate
    return None


def is_finished(path: str | os.PathLike) -> bool:
    """Whether ``path`` names a finished results file: compressed, and not a run stopped part-way."""
    path = os.fspath(path)
    return path.endswith(".gz") and not path.endswith(PARTIAL)


def read_rows(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Reads a results file, gzipped or not (complete lines only); null/empty -> NaN.

    A run stopped part-way and kept as ``F.jsonl.partial.gz`` reads like ``F.jsonl.gz``.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no such results file: {path}")
    try:
        with (gzip.open(path, "rt", newline="") if path.endswith(".gz") else open(path, newline="")) as f:
            text = f.read()
    except (EOFError, gzip.BadGzipFile) as err:  # a compression cut short (e.g. gzip killed part-way)
        raise ValueError(f"{path} is a damaged gzip file ({err}): recompress it from the uncompressed file, or "
                         "remove it") from None
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

    Opening a file takes its lock (``path + '.lock'``) and writes its settings
    record (``path + '.settings.json'``); the lock is held until :meth:`close`.

    Args:
      path: the output file, '-' for stdout, or None to write nothing (the
        non-writing processes of a multi-host run).
      columns: the column order (CSV header).
      resume: keep the complete rows of an existing file (a cut-off last line
        is dropped) and append, instead of starting it anew. The file's
        recorded kind, settings and columns must equal this run's.
      settings: JSON-able values that determine the rows (recorded; compared on
        resume).
      kind: what the rows are (recorded; compared on resume).
      key: the column that identifies a row; :attr:`done` holds its values.
      info: provenance of this run, recorded but not compared (e.g. strategy).

    Raises:
      OutputBusy: another process holds the file's lock.
      SettingsMismatch: ``resume`` on a file made with other settings, or with
        no settings record.
      OutputError: any file-system error, as one line.
    """

    def __init__(self, path: str | None, columns: Sequence[str], resume: bool = False, *,
                 settings: Mapping[str, Any] | None = None, kind: str = "scores", key: str = "index",
                 info: Mapping[str, Any] | None = None):
        if path is not None and path.endswith(".gz"):
            raise ValueError(f"cannot write rows as they come to a gzip file ({path}); compress it afterwards")
        self.path, self.columns, self.key = path, list(columns), key
        self.kind = "jsonl" if path is None else _format(path)
        self.done: set[Any] = set()
        self._file: TextIO | None = None
        self._owned = False
        self._lock: filelock.BaseFileLock | None = None
        if path is None:
            return
        if path == "-":
            self._file = sys.stdout
            return
        try:
            self._open(path, resume, dict(settings or {}), kind, dict(info or {}))
        except OSError as err:
            self.close()
            raise OutputError(_os_message(err, path)) from None
        except BaseException:
            self.close()
            raise

    def _open(self, path: str, resume: bool, settings: dict[str, Any], kind: str, info: dict[str, Any]) -> None:
        directory = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(directory):
            raise OutputError(f"output folder does not exist: {directory}")
        if os.path.isdir(path):
            raise OutputError(f"cannot write {path}: it is a directory")
        shown, path = path, os.path.realpath(path)  # a link and its target share one lock and one record
        self._lock = filelock.FileLock(path + ".lock", timeout=0)
        try:
            self._lock.acquire()
        except filelock.Timeout:
            self._lock = None
            raise OutputBusy(f"{shown} is being written by another run{_holder(path)}: wait for it to finish, "
                             "or write to another --output") from None
        existing = resume and os.path.isfile(path) and os.path.getsize(path) > 0
        self._refuse_to_orphan(shown, path, existing)
        runs: tuple[Mapping[str, Any], ...] = ()
        if existing:
            runs = self._check_resume(path, settings, kind, shown)
            _warn_on_another_platform(shown, runs, info)
            self._truncate_partial_line()
            keys = [r[self.key] for r in read_rows(path)]
            self.done = set(keys)
            if len(self.done) != len(keys):
                twice = sorted((k for k, n in collections.Counter(keys).items() if n > 1), key=str)[:5]
                raise SettingsMismatch(f"cannot resume {shown}: it holds rows of the same {self.key} twice "
                                       f"({', '.join(map(str, twice))}); remove the extra rows first")
        provenance.write_record(path, provenance.Record(kind, tuple(self.columns), settings,
                                                        (*runs, provenance.run_entry(**info))))
        self._file = open(path, "a" if existing else "w", newline="")
        self._owned = True
        if self.kind == "csv" and not existing:
            csv.writer(self._file).writerow(self.columns)
            self._file.flush()

    @staticmethod
    def _refuse_to_orphan(shown: str, path: str, existing: bool) -> None:
        """Refuses a run that would rewrite the settings record of a compressed file of the same name.

        ``F``, ``F.gz`` and ``F.partial.gz`` share ``F.settings.json``. Starting ``F``
        anew beside either would replace the record that describes the compressed
        rows; resuming an uncompressed ``F`` beside its ``F.partial.gz`` (the
        run scripts gunzip the partial file to ``F`` first) keeps it true.
        """
        if os.path.exists(path + ".gz"):
            raise OutputError(f"{shown}.gz exists (a finished results file with the same settings record): write to "
                              "another --output, or remove it first")
        if os.path.exists(path + PARTIAL) and not existing:
            raise OutputError(f"{shown}{PARTIAL} exists (a run stopped part-way): to continue it, `gunzip -c "
                              f"{shown}{PARTIAL} > {shown}` and add --resume; to start anew, remove it first")

    def _check_resume(self, path: str, settings: dict[str, Any], kind: str,
                      shown: str) -> tuple[Mapping[str, Any], ...]:
        record = provenance.read_record(path)
        if record is None:
            raise SettingsMismatch(f"cannot resume {shown}: it has no settings record ({sidecar_path(shown)}), so "
                                   "its rows may have been made with other settings; write to another --output")
        if record.kind != kind:
            raise SettingsMismatch(f"cannot resume {shown}: it holds {record.kind} rows, not {kind}")
        diffs = provenance.differences(record.settings, settings)
        if diffs:
            raise SettingsMismatch(f"cannot resume {shown}: made with other settings ({'; '.join(diffs)}); "
                                   "write to another --output, or drop --resume to start it anew")
        header = self._file_columns(path)
        if list(record.columns) != self.columns or (header is not None and header != self.columns):
            have = header if header is not None else list(record.columns)
            missing = [c for c in self.columns if c not in have]
            extra = [c for c in have if c not in self.columns]
            raise SettingsMismatch(f"cannot resume {shown}: its columns differ from this run's (missing: "
                                   f"{', '.join(missing) or 'none'}; extra: {', '.join(extra) or 'none'})")
        return record.runs

    def _file_columns(self, path: str) -> list[str] | None:
        if self.kind != "csv":
            return None
        with open(path, newline="") as f:
            return next(csv.reader(f), None)

    def _truncate_partial_line(self) -> None:
        with open(self.path, "rb+") as f:
            data = f.read()
            keep = data.rfind(b"\n") + 1
            if keep != len(data):
                f.truncate(keep)

    def write(self, row: dict[str, Any]) -> None:
        """Writes one row and syncs it to disk (a row written is a row kept).

        Raises:
          OutputError: if the file system refuses the write (e.g. disk full).
        """
        self.write_all((row,))

    def write_all(self, rows: Iterable[dict[str, Any]]) -> None:
        """Writes rows, flushing each complete line, and syncs the file to disk once at the end.

        A crash part-way leaves complete lines (and perhaps a cut-off last one,
        which resuming drops); use it for rows that are ready together.

        Raises:
          OutputError: if the file system refuses the write (e.g. disk full).
        """
        wrote = False
        try:
            for row in rows:
                if self._file is not None:
                    if self.kind == "csv":
                        values = ["" if isinstance(v, float) and not math.isfinite(v) else v
                                  for v in (row.get(c, math.nan) for c in self.columns)]
                        csv.writer(self._file).writerow(values)
                    else:
                        self._file.write(json.dumps({c: _json_value(row.get(c, math.nan))
                                                     for c in self.columns}) + "\n")
                    self._file.flush()
                    wrote = True
                self.done.add(row[self.key])
            if wrote and self._owned:
                os.fsync(self._file.fileno())
        except OSError as err:
            raise OutputError(_os_message(err, self.path)) from None

    def close(self) -> None:
        if self._owned and self._file is not None:
            try:
                self._file.close()
            except OSError:  # a failed flush was reported by write()
                pass
            self._owned = False
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> RowWriter:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _warn_on_another_platform(shown: str, runs: Sequence[Mapping[str, Any]], info: Mapping[str, Any]) -> None:
    """Warns when this run resumes ``shown`` on another platform than its last run's (both recorded)."""
    before = next((r["platform"] for r in reversed(runs) if "platform" in r), None)
    now = info.get("platform")
    if before is not None and now is not None and before != now:
        warnings.warn(f"resuming {shown}, scored so far on {before}, on {now}: the settings are the same, but float32 "
                      "results differ between platforms beyond rounding; its rows will come from both",
                      stacklevel=3)


def _holder(path: str) -> str:
    """' (pid P on host H, started T)' from the record the lock holder wrote, or ''.

    The record's last run is the holder's when the holder is a :class:`RowWriter`
    that got as far as writing it; a run recorded on this host whose process is
    gone is not (the lock is held by something else, or its holder has not yet
    written its entry), and is not named.
    """
    try:
        record = provenance.read_record(path)
    except (ValueError, OSError):
        return ""
    if record is None or not record.runs:
        return ""
    run = record.runs[-1]
    if run.get("host") == socket.gethostname() and not _alive(run.get("pid")):
        return ""
    return f" (pid {run.get('pid')} on {run.get('host')}, started {run.get('started')})"


def _alive(pid: Any) -> bool:
    """Whether a process of this id exists on this host (True when that cannot be told)."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. another user's process
        return True
    return True


def _os_message(err: OSError, path: str) -> str:
    """One line for a file-system error: which file, and the system's reason."""
    name = err.filename or path
    return f"cannot write {name}: {err.strerror or err}"
