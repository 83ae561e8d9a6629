"""TransNAS-Bench-101 architectures: the micro (cell) and macro (skeleton) encodings.

Both spaces share one network family, the benchmark's ``MacroNet``, named by a
*net code* ``'<base channels>-<macro code>-<cell code>'``:

* the **macro code** is one digit per layer (each layer two blocks): ``1``
  keeps the shape, ``2`` doubles the channels, ``3`` halves the resolution
  (stride 2), ``4`` does both;
* the **cell code** is ``'basic'`` (a ResNet basic block) or a micro cell,
  ``'a_bc_def'``: the op of each edge into node 1, 2 and 3 of a 4-node cell,
  ``0`` none (zero), ``1`` skip connection, ``2`` ReLU-conv1x1-BN, ``3``
  ReLU-conv3x3-BN (:data:`MICRO_OPS`).

**Micro space**: the macro code is fixed, ``'41414'``, the cell varies:
``'64-41414-1_00_210'``. The canonical form is the 6 op indices in the
string's order (edges 0->1, 0->2, 1->2, 0->3, 1->3, 2->3), ``(1, 0, 0, 2, 1, 0)``,
which is also NASLib's key (NASLib writes its key's digits straight into this
string). 4**6 = 4,096 cells, indexed as base-4 numbers (``itertools.product``
order); neighbours differ in one edge's op (18).

**Macro space**: the cell is ``'basic'``, the macro code varies: 4 to 6
layers, 1 to 4 of them downsampling (``3`` or ``4``), 1 to 3 of them doubling
the channels (``2`` or ``4``): ``'64-1242-basic'``, 3,256 skeletons. The
canonical form is NASLib's key, the layer codes padded with zeros to 6:
``(1, 2, 4, 2, 0, 0)``. The enumeration is the canonical tuples in ascending
order, which is the macro codes in lexicographic string order (a prefix
first). Neighbours are the valid skeletons one edit away, an edit being one
layer's code changed, one layer deleted or one inserted (Levenshtein
distance 1 on the codes); :func:`macro_distance` is that edit distance.
NASLib's own ``get_nbhd`` for this space is random (a fresh permutation of a
skeleton with all three of length, downsamplings and doublings changed), so
it is not reproduced.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

BASE_CHANNELS = 64

# ----------------------------------------------------------------------------- micro

MICRO_OPS: tuple[str, ...] = ("none", "skip_connect", "conv_1x1", "conv_3x3")
MICRO_MACRO_CODE: tuple[int, ...] = (4, 1, 4, 1, 4)
NUM_EDGES = 6
NUM_MICRO_OPS = len(MICRO_OPS)
NUM_MICRO_ARCHS = NUM_MICRO_OPS**NUM_EDGES
#: (source node, target node) of each position of the micro tuple.
EDGES: tuple[tuple[int, int], ...] = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))

_MICRO_RE = re.compile(r"^(\d+)-(\d+)-(\d)_(\d\d)_(\d\d\d)$")
_KEY_RE = re.compile(r"^\(\s*(-?\d+\s*(?:,\s*-?\d+\s*)*),?\s*\)$|^\[\s*(-?\d+\s*(?:,\s*-?\d+\s*)*)\]$")


def _int_tuple(arch: Any, what: str) -> tuple[int, ...]:
    """A flat sequence of integers as a tuple of Python ints (strings not accepted)."""
    try:
        values = np.asarray(arch)
    except Exception as err:  # noqa: BLE001 - any unconvertible input is a bad arch
        raise ValueError(f"{what}, got {arch!r}") from err
    if values.ndim != 1 or not (np.issubdtype(values.dtype, np.integer) or values.dtype == bool) or values.size == 0:
        raise ValueError(f"{what}, got {arch!r}")
    return tuple(int(v) for v in values)


def _parse_key(s: str) -> tuple[int, ...] | None:
    """NASLib's key string, ``'(1, 0, 0, 2, 1, 0)'``, as ints; None if ``s`` is not of that form."""
    m = _KEY_RE.match(s.strip())
    if m is None:
        return None
    body = m.group(1) if m.group(1) is not None else m.group(2)
    return tuple(int(v) for v in body.split(","))


def to_micro(arch: str | Sequence[int] | np.ndarray) -> tuple[int, ...]:
    """Validates a micro architecture into its 6 op indices.

    Args:
      arch: the benchmark's string (``'64-41414-1_00_210'``), NASLib's key
        string (``'(1, 0, 0, 2, 1, 0)'``) or 6 ints in 0..3.

    Returns:
      The 6 op indices (:data:`EDGES` order).

    Raises:
      ValueError: if it is none of these.
    """
    if isinstance(arch, str):
        s = arch.strip()
        m = _MICRO_RE.match(s)
        if m is not None:
            base, macro, *cell = m.groups()
            if int(base) != BASE_CHANNELS or tuple(int(c) for c in macro) != MICRO_MACRO_CODE:
                raise ValueError(f"invalid TransNAS-Bench-101 micro arch {arch!r}: the micro space's networks are "
                                 f"'{BASE_CHANNELS}-41414-<cell>'")
            ops = tuple(int(c) for c in "".join(cell))
        else:
            ops = _parse_key(s)
            if ops is None:
                raise ValueError(f"invalid TransNAS-Bench-101 micro arch {arch!r}: expected '64-41414-a_bc_def' "
                                 f"or a key like '(1, 0, 0, 2, 1, 0)'")
    else:
        ops = _int_tuple(arch, "a TransNAS-Bench-101 micro arch is 6 integer ops in 0..3")
    if len(ops) != NUM_EDGES or any(not 0 <= o < NUM_MICRO_OPS for o in ops):
        raise ValueError(f"a TransNAS-Bench-101 micro arch is {NUM_EDGES} ops in 0..{NUM_MICRO_OPS - 1}, got {arch!r}")
    return ops


def cell_code(arch: Any) -> str:
    """The cell part of the net code, ``'1_00_210'``."""
    o = to_micro(arch)
    return f"{o[0]}_{o[1]}{o[2]}_{o[3]}{o[4]}{o[5]}"


def format_micro(arch: Any) -> str:
    """The benchmark's string of a micro architecture, ``'64-41414-1_00_210'``."""
    return f"{BASE_CHANNELS}-{''.join(map(str, MICRO_MACRO_CODE))}-{cell_code(arch)}"


def micro_index(arch: Any) -> int:
    """The position in 0..4095 (the 6 ops read as a base-4 number)."""
    index = 0
    for o in to_micro(arch):
        index = index * NUM_MICRO_OPS + o
    return index


def micro_at(index: int) -> tuple[int, ...]:
    """The micro architecture at ``index`` (see :func:`micro_index`).

    Raises:
      ValueError: if ``index`` is not an int in 0..4095.
    """
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not 0 <= index < NUM_MICRO_ARCHS:
        raise ValueError(f"TransNAS-Bench-101 micro index must be an int in 0..{NUM_MICRO_ARCHS - 1}, got {index!r}")
    digits = []
    index = int(index)
    for _ in range(NUM_EDGES):
        index, o = divmod(index, NUM_MICRO_OPS)
        digits.append(o)
    return tuple(reversed(digits))


def micro_neighbours(arch: Any) -> list[tuple[int, ...]]:
    """The 18 cells with one edge's op changed, edge-major then by op."""
    ops = to_micro(arch)
    return [ops[:i] + (o,) + ops[i + 1:] for i in range(NUM_EDGES) for o in range(NUM_MICRO_OPS) if o != ops[i]]


# ----------------------------------------------------------------------------- macro

MACRO_LAYER_TYPES: dict[int, str] = {1: "normal", 2: "channel x2", 3: "stride 2", 4: "channel x2, stride 2"}
MACRO_LENGTHS: tuple[int, int] = (4, 6)
MACRO_DOWNSAMPLINGS: tuple[int, int] = (1, 4)
MACRO_DOUBLINGS: tuple[int, int] = (1, 3)
MACRO_KEY_LENGTH = 6

_MACRO_RE = re.compile(r"^(\d+)-(\d+)-basic$")


def macro_problem(code: Sequence[int]) -> str | None:
    """Why a sequence of layer codes (no padding) is not a valid skeleton, or None if it is one."""
    if not MACRO_LENGTHS[0] <= len(code) <= MACRO_LENGTHS[1]:
        return f"{len(code)} layers, not {MACRO_LENGTHS[0]} to {MACRO_LENGTHS[1]}"
    if any(c not in MACRO_LAYER_TYPES for c in code):
        return "layer codes must be 1 to 4"
    down = sum(c in (3, 4) for c in code)
    if not MACRO_DOWNSAMPLINGS[0] <= down <= MACRO_DOWNSAMPLINGS[1]:
        return f"{down} downsampling layers (3 or 4), not {MACRO_DOWNSAMPLINGS[0]} to {MACRO_DOWNSAMPLINGS[1]}"
    double = sum(c in (2, 4) for c in code)
    if not MACRO_DOUBLINGS[0] <= double <= MACRO_DOUBLINGS[1]:
        return f"{double} channel-doubling layers (2 or 4), not {MACRO_DOUBLINGS[0]} to {MACRO_DOUBLINGS[1]}"
    return None


def to_macro(arch: str | Sequence[int] | np.ndarray) -> tuple[int, ...]:
    """Validates a macro architecture into its padded 6-tuple (NASLib's key).

    Args:
      arch: the benchmark's string (``'64-1242-basic'``), NASLib's key string
        (``'(1, 2, 4, 2, 0, 0)'``), or ints: 4 to 6 layer codes in 1..4,
        optionally padded with trailing zeros to 6.

    Returns:
      The layer codes padded with zeros to 6.

    Raises:
      ValueError: if it is not a skeleton of the space (one line naming why).
    """
    if isinstance(arch, str):
        s = arch.strip()
        m = _MACRO_RE.match(s)
        if m is not None:
            if int(m.group(1)) != BASE_CHANNELS:
                raise ValueError(f"invalid TransNAS-Bench-101 macro arch {arch!r}: "
                                 f"base channels must be {BASE_CHANNELS}")
            values = tuple(int(c) for c in m.group(2))
        else:
            values = _parse_key(s)
            if values is None:
                raise ValueError(f"invalid TransNAS-Bench-101 macro arch {arch!r}: expected '64-<4 to 6 digits>-basic' "
                                 f"or a key like '(1, 2, 4, 2, 0, 0)'")
    else:
        values = _int_tuple(arch, "a TransNAS-Bench-101 macro arch is 4 to 6 integer layer codes in 1..4")
    code = list(values)
    while code and code[-1] == 0 and len(values) <= MACRO_KEY_LENGTH:
        code.pop()
    problem = macro_problem(code)
    if problem is not None:
        raise ValueError(f"invalid TransNAS-Bench-101 macro arch {arch!r}: {problem}")
    return tuple(code) + (0,) * (MACRO_KEY_LENGTH - len(code))


def macro_code(arch: Any) -> tuple[int, ...]:
    """The layer codes without padding, e.g. ``(1, 2, 4, 2)``."""
    return tuple(c for c in to_macro(arch) if c)


def format_macro(arch: Any) -> str:
    """The benchmark's string of a macro architecture, ``'64-1242-basic'``."""
    return f"{BASE_CHANNELS}-{''.join(map(str, macro_code(arch)))}-basic"


@functools.lru_cache(maxsize=1)
def all_macro() -> tuple[tuple[int, ...], ...]:
    """Every macro skeleton (padded tuples), ascending: 3,256."""
    archs = []
    for length in range(MACRO_LENGTHS[0], MACRO_LENGTHS[1] + 1):
        for code in itertools.product(range(1, 5), repeat=length):
            if macro_problem(code) is None:
                archs.append(code + (0,) * (MACRO_KEY_LENGTH - length))
    return tuple(sorted(archs))


def macro_index(arch: Any) -> int:
    """The position of ``arch`` in :func:`all_macro`."""
    key = to_macro(arch)
    archs = all_macro()
    return bisect.bisect_left(archs, key)


def macro_at(index: int) -> tuple[int, ...]:
    """The macro skeleton at ``index`` of :func:`all_macro`.

    Raises:
      ValueError: if ``index`` is out of range.
    """
    archs = all_macro()
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not 0 <= index < len(archs):
        raise ValueError(f"TransNAS-Bench-101 macro index must be an int in 0..{len(archs) - 1}, got {index!r}")
    return archs[int(index)]


def macro_neighbours(arch: Any) -> list[tuple[int, ...]]:
    """The valid skeletons one edit (change, delete or insert one layer) away, ascending (padded tuples)."""
    code = macro_code(arch)
    found: set[tuple[int, ...]] = set()
    n = len(code)
    for i in range(n):
        for c in range(1, 5):
            if c != code[i]:
                found.add(code[:i] + (c,) + code[i + 1:])
        found.add(code[:i] + code[i + 1:])
    for i in range(n + 1):
        for c in range(1, 5):
            found.add(code[:i] + (c,) + code[i:])
    found.discard(code)
    return sorted(c + (0,) * (MACRO_KEY_LENGTH - len(c)) for c in found if macro_problem(c) is None)


def macro_distance(a: Any, b: Any) -> int:
    """The edit (Levenshtein) distance between two skeletons' layer codes."""
    x, y = macro_code(a), macro_code(b)
    previous = list(range(len(y) + 1))
    for i, p in enumerate(x, 1):
        current = [i]
        for j, q in enumerate(y, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (p != q)))
        previous = current
    return previous[-1]
