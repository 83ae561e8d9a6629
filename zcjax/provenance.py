"""The settings record of a results file: what produced its rows.

Every results file ``F`` (``.jsonl`` or ``.csv``, gzipped or not) written by
zcjax has a sidecar ``F.settings.json`` (for ``F.gz``: the same name without
``.gz``, so compressing a finished file keeps its record; for
``F.partial.gz``, a run stopped part-way and kept compressed, the same). The data file stays
plain JSON lines or CSV that any tool reads; the sidecar is one JSON object::

    {"format": "zcjax-results/1",
     "kind": "scores",                      # what the rows are (scores, search trace, ...)
     "columns": ["index", "arch", ...],     # the column order of every row
     "settings": {...},                     # everything that determines the rows' values
     "runs": [{"started": ..., "host": ..., "pid": ..., "zcjax": ..., ...}, ...]}

``settings`` is compared, key by key, before a run appends to the file
(:func:`differences`); ``runs`` is provenance only (one entry per run that
wrote to the file: when, where, with which zcjax, and informational details
such as the strategy, which change values only at float32 rounding).
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import hashlib
import json
import os
import socket
import subprocess
from collections.abc import Mapping
from typing import Any

import numpy as np

FORMAT = "zcjax-results/1"
SUFFIX = ".settings.json"


@dataclasses.dataclass(frozen=True)
class Record:
    """A results file's settings record (the sidecar's content).

    Attributes:
      kind: what the rows are, e.g. 'scores' or 'search-trace'.
      columns: the column order of the rows.
      settings: JSON-able values that determine the rows; two runs may write
        to one file only if these are equal.
      runs: provenance of each run that wrote rows, oldest first.
    """

    kind: str
    columns: tuple[str, ...]
    settings: Mapping[str, Any]
    runs: tuple[Mapping[str, Any], ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT, "kind": self.kind, "columns": list(self.columns),
                "settings": _plain(self.settings), "runs": [_plain(r) for r in self.runs]}


PARTIAL = ".partial.gz"  # a run stopped part-way, compressed to be kept; resumed from after gunzip


def base_path(path: str | os.PathLike) -> str:
    """A results file's name without compression: ``F.jsonl.gz`` and ``F.jsonl.partial.gz`` -> ``F.jsonl``."""
    path = os.fspath(path)
    for suffix in (PARTIAL, ".gz"):
        if path.endswith(suffix):
            return path[: -len(suffix)]
    return path


def sidecar_path(path: str | os.PathLike) -> str:
    """The settings file of a results file (``.gz`` or ``.partial.gz`` dropped first)."""
    return base_path(path) + SUFFIX


def _plain(value: Any) -> Any:
    """JSON round trip, so a record compares equal to what was read back."""
    return json.loads(json.dumps(value))


def read_record(path: str | os.PathLike) -> Record | None:
    """The settings record of results file ``path``, or None if it has none.

    Raises:
      ValueError: if the sidecar exists but is not a zcjax settings record.
    """
    side = sidecar_path(path)
    if not os.path.isfile(side):
        return None
    try:
        with open(side) as f:
            data = json.load(f)
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"cannot read the settings of {os.fspath(path)} from {side}: {err}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"{side} is not a zcjax settings record (expected format {FORMAT})")
    shapes = {"kind": str, "columns": list, "settings": dict, "runs": list}
    wrong = [k for k, t in shapes.items() if not isinstance(data.get(k, [] if k == "runs" else None), t)]
    if wrong or not all(isinstance(r, dict) for r in data.get("runs", ())):
        raise ValueError(f"{side} is a damaged settings record ({', '.join(wrong) or 'runs'} missing or of the "
                         "wrong type)")
    return Record(kind=data["kind"], columns=tuple(data["columns"]), settings=data["settings"],
                  runs=tuple(data.get("runs", ())))


def read_settings(path: str | os.PathLike) -> dict[str, Any] | None:
    """The recorded settings of results file ``path`` (None for a file without a record)."""
    record = read_record(path)
    return None if record is None else dict(record.settings)


def write_record(path: str | os.PathLike, record: Record) -> None:
    """Writes the sidecar of ``path`` atomically (a reader sees the old or the new record)."""
    side = sidecar_path(path)
    tmp = f"{side}.tmp{os.getpid()}"
    try:
        with open(tmp, "w") as f:
            json.dump(record.to_json(), f, indent=1)
            f.write("\n")
        os.replace(tmp, side)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _flat(settings: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in settings.items():
        if isinstance(v, Mapping) and v:
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _show(value: Any, limit: int = 60) -> str:
    text = ",".join(map(str, value)) if isinstance(value, (list, tuple)) else json.dumps(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# Settings that earlier versions recorded in other words, for rows that this version computes the same way.
# Until 2026-12-07 the float32 precision was recorded as one of these strings whatever the proxies (the second by
# results/macro/score_macro.py), though epe_nas, nwot, nwot_randn and te_ntk have had a float64 part since they were
# added (each in the commit that added it, in both engines): the strings under-described those runs, they did not
# describe other arithmetic. zcjax.registry.precision_setting now names each run's float64 parts. A record with an
# old string, at any depth (a search trace holds its score file's settings), matches the new words for the same
# proxies, so the file resumes and its record is rewritten in the new words.
LEGACY_FLOAT32_PRECISIONS = ("float32; synflow, synflow_bn and the jacob_cov eigenvalues float64",
                             "float32; synflow and jacob_cov eigenvalues float64")


def _in_current_words(recorded: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    """``recorded`` (flattened) with each legacy precision replaced by ``current``'s, where that is the new
    spelling of the same float32 precision for the proxies recorded beside it."""
    from .registry import precision_setting

    out = dict(recorded)
    for key, value in recorded.items():
        if key.rsplit(".", 1)[-1] != "precision" or value not in LEGACY_FLOAT32_PRECISIONS:
            continue
        proxies = recorded.get(key[: -len("precision")] + "proxies")
        now = current.get(key)
        if isinstance(proxies, list) and now == precision_setting(proxies):
            out[key] = now
    return out


def differences(recorded: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """The settings that differ, as ``'name: recorded X, now Y'`` (nested keys dotted).

    A setting that an earlier version recorded in other words for the same
    arithmetic (:data:`LEGACY_FLOAT32_PRECISIONS`) is not a difference.

    Args:
      recorded: the settings in a file's record.
      current: the settings of the run that would append to it.
    """
    b = _flat(_plain(current))
    a = _in_current_words(_flat(_plain(recorded)), b)
    out = []
    for key in [*a, *(k for k in b if k not in a)]:
        if a.get(key, "(not set)") != b.get(key, "(not set)"):
            out.append(f"{key}: file {_show(a.get(key, '(not set)'))}, this run {_show(b.get(key, '(not set)'))}")
    return out


def run_entry(**info: Any) -> dict[str, Any]:
    """A ``runs`` entry: start time (UTC), host, pid, zcjax version (and git commit, from a checkout), plus ``info``."""
    from . import __version__

    commit = source_commit()
    return {"started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "host": socket.gethostname(), "pid": os.getpid(), "zcjax": __version__,
            **({"commit": commit} if commit else {}), **info}


@functools.lru_cache(maxsize=1)
def source_commit() -> str | None:
    """The git commit of the zcjax source this process runs (``+dirty`` with uncommitted changes), or None.

    None when zcjax is not run from a git checkout (an installed wheel) or git is
    not available. Provenance only: never compared.
    """
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if not os.path.exists(os.path.join(root, ".git")):
        return None
    try:
        head = subprocess.run(["git", "-C", root, "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
        dirty = subprocess.run(["git", "-C", root, "status", "--porcelain", "--untracked-files=no", "--", "zcjax",
                                "spaces", "search"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    if head.returncode != 0:
        return None
    return head.stdout.strip() + ("+dirty" if dirty.returncode == 0 and dirty.stdout.strip() else "")


def platform_entry() -> dict[str, Any]:
    """What a scoring run ran on, for its ``runs`` entry: the JAX version, the backend platform and its device count.

    Recorded, not compared: rows scored on another platform share the file's
    settings, but float32 arithmetic differs there beyond rounding (e.g. TF32
    convolutions on a GPU), so :class:`zcjax.results.RowWriter` warns when a
    resumed file's last run was on another platform.
    """
    import jax

    return {"jax": jax.__version__, "platform": jax.default_backend(), "devices": jax.device_count()}


def fingerprint(*arrays: np.ndarray | None) -> str:
    """A short content hash of arrays (dtype, shape and bytes), e.g. of a minibatch ``(x, y)``."""
    h = hashlib.sha256()
    for a in arrays:
        if a is None:
            h.update(b"none")
            continue
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()[:16]


def constants_record(reg_swap: tuple[float, float] | None) -> dict[str, Any]:
    """The settings entries of a run's proxy constants: ``{'constants': {'reg_swap': {'mu', 'sigma'}}}``, or
    nothing when none were given (so that files written before the entry existed still resume)."""
    if reg_swap is None:
        return {}
    return {"constants": {"reg_swap": dict(zip(("mu", "sigma"), reg_swap))}}


def minibatch_record(x: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """The settings entry of a scoring minibatch: its size and the fingerprint of ``(x float32, y int64)``."""
    return {"size": int(len(x)), "fingerprint": fingerprint(np.asarray(x, np.float32), np.asarray(y, np.int64))}


def file_fingerprint(path: str | os.PathLike) -> str:
    """A short content hash of a file (e.g. imported weights)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]
