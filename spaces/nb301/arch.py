"""NAS-Bench-301 (DARTS) architectures: genotypes, NASLib's compact keys and 32-int tuples.

A DARTS architecture is two cells, a **normal** cell and a **reduction**
cell. Each cell has two inputs (``0`` the output of the cell two back,
``c_{k-2}``; ``1`` the previous cell's, ``c_{k-1}``) and 4 intermediate nodes;
intermediate node ``k`` (0..3) is the sum of two edges, each an operation of
:data:`OPS` applied to one of the ``k + 2`` earlier nodes (input ``j >= 2`` is
intermediate node ``j - 2``). The cell's output concatenates the 4
intermediate nodes. The two inputs of a node must differ (NAS-Bench-301 and
DARTS never pick one input twice: DARTS keeps the two strongest distinct
incoming edges, NASLib samples the two inputs without replacement).

Forms:

* **canonical**: a tuple of 32 ints, ``arch[16*c + 4*k + 2*e]`` the input and
  ``arch[16*c + 4*k + 2*e + 1]`` the op index (into :data:`OPS`) of edge
  ``e`` (0, 1) of node ``k`` (0..3) of cell ``c`` (0 normal, 1 reduction).
  The two edges of a node are unordered, so the canonical form puts the edge
  with the smaller input first. Equivalent cells beyond that (e.g. two
  intermediate nodes that could be swapped) are *not* merged, as
  NAS-Bench-301 does not merge them.
* **string**: the DARTS ``Genotype`` repr, ``Genotype(normal=[('sep_conv_3x3',
  0), ('skip_connect', 1), ...], normal_concat=[2, 3, 4, 5], reduce=[...],
  reduce_concat=[2, 3, 4, 5])`` (pairs are ``(op name, input)``), in
  canonical edge order. :func:`parse_arch` also reads ``range(2, 6)`` as the
  concat and NASLib's compact key, ``[[(input, op) x 8], [(input, op) x 8]]``
  (the ``naslib_key`` of the shipped ground truth, tuples or lists, any edge
  order within a node).

:data:`OPS` is NASLib's op order (``naslib/search_spaces/nasbench301/
conversions.py``): the compact keys' op indices are indices into it.
The space has ``(1 * 3 * 6 * 10 * 7**8)**2`` = about 1.08e18 architectures
(:data:`NUM_ARCHS`).
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from typing import Any

import numpy as np

OPS: tuple[str, ...] = (
    "max_pool_3x3", "avg_pool_3x3", "skip_connect", "sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5",
)
NUM_OPS = len(OPS)
CELLS: tuple[str, ...] = ("normal", "reduce")
NUM_NODES = 4
EDGES_PER_NODE = 2
CELL_LENGTH = NUM_NODES * EDGES_PER_NODE * 2   # 16 ints per cell
ARCH_LENGTH = len(CELLS) * CELL_LENGTH         # 32
CONCAT: tuple[int, ...] = (2, 3, 4, 5)
#: distinct cells: per node, an unordered pair of distinct inputs among k + 2 and an op per edge.
CELL_COUNT = int(np.prod([(k + 2) * (k + 1) // 2 * NUM_OPS**2 for k in range(NUM_NODES)]))
NUM_ARCHS = CELL_COUNT**2

_MAX_REPR = 80


def _short(value: Any) -> str:
    text = repr(value).replace("\n", " ")
    return text if len(text) <= _MAX_REPR else text[:_MAX_REPR - 3] + "..."


def _where(flat: int) -> str:
    cell, rest = divmod(flat, CELL_LENGTH)
    node, rest = divmod(rest, 4)
    return f"{CELLS[cell]} cell, node {node}, edge {rest // 2}"


def _validate_flat(values: Sequence[int]) -> tuple[int, ...]:
    """Checks 32 ints (any edge order within a node) and returns the canonical tuple."""
    arch = [int(v) for v in values]
    for i in range(0, ARCH_LENGTH, 2):
        node = (i % CELL_LENGTH) // 4
        if not 0 <= arch[i] < node + 2:
            raise ValueError(f"invalid NB301 arch: {_where(i)}: input {arch[i]} out of range 0..{node + 1}")
        if not 0 <= arch[i + 1] < NUM_OPS:
            raise ValueError(f"invalid NB301 arch: {_where(i)}: op {arch[i + 1]} out of range 0..{NUM_OPS - 1}")
    out: list[int] = []
    for start in range(0, ARCH_LENGTH, 4):
        a, b = (arch[start], arch[start + 1]), (arch[start + 2], arch[start + 3])
        if a[0] == b[0]:
            cell, node = divmod(start // 4, NUM_NODES)
            raise ValueError(f"invalid NB301 arch: {CELLS[cell]} cell, node {node}: both edges come from input "
                             f"{a[0]} (a node's two inputs must differ)")
        out += [*min(a, b), *max(a, b)]
    return tuple(out)


def _from_compact(compact: Any) -> tuple[int, ...]:
    """NASLib's compact ``[[(input, op) x 8] x 2]`` (nested sequences) to the canonical tuple."""
    try:
        values = np.asarray(compact)
    except Exception as err:  # noqa: BLE001 - ragged or unconvertible: not an arch
        raise ValueError(f"invalid NB301 arch {_short(compact)}: expected 2 cells x 8 (input, op) pairs") from err
    if values.shape != (2, 8, 2) or not np.issubdtype(values.dtype, np.integer):
        raise ValueError(f"invalid NB301 arch {_short(compact)}: expected 2 cells x 8 integer (input, op) pairs, "
                         f"got shape {values.shape}")
    return _validate_flat(values.reshape(-1).tolist())


def _genotype_cell(pairs: Any, cell: str) -> list[int]:
    if not isinstance(pairs, (list, tuple)) or len(pairs) != NUM_NODES * EDGES_PER_NODE:
        raise ValueError(f"invalid NB301 genotype: {cell} must be 8 (op, input) pairs, got {_short(pairs)}")
    flat: list[int] = []
    for pair in pairs:
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise ValueError(f"invalid NB301 genotype: {cell} pair {_short(pair)} is not (op name, input)")
        op, node = pair
        if op not in OPS:
            raise ValueError(f"invalid NB301 genotype: unknown op {op!r} in {cell}; valid ops are {', '.join(OPS)}")
        if isinstance(node, bool) or not isinstance(node, (int, np.integer)):
            raise ValueError(f"invalid NB301 genotype: {cell} input {_short(node)} is not an int")
        flat += [int(node), OPS.index(op)]
    return flat


def _check_concat(concat: Any, cell: str) -> None:
    if isinstance(concat, range):
        concat = list(concat)
    if not isinstance(concat, (list, tuple)) or [c for c in concat] != list(CONCAT):
        raise ValueError(f"invalid NB301 genotype: {cell}_concat must be [2, 3, 4, 5], got {_short(concat)}")


def from_genotype(normal: Any, reduce: Any, normal_concat: Any = CONCAT, reduce_concat: Any = CONCAT) -> tuple[int, ...]:
    """The canonical tuple of a DARTS genotype's fields (``(op name, input)`` pairs, 2 per node).

    Raises:
      ValueError: an unknown op, an input out of range, two equal inputs to one
        node, or a concat other than [2, 3, 4, 5].
    """
    _check_concat(normal_concat, "normal")
    _check_concat(reduce_concat, "reduce")
    return _validate_flat(_genotype_cell(normal, "normal") + _genotype_cell(reduce, "reduce"))


def _literal(node: ast.AST, what: str) -> Any:
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "range" and not node.keywords:
        return range(*(_literal(a, what) for a in node.args))
    try:
        return ast.literal_eval(node)
    except ValueError as err:
        raise ValueError(f"invalid NB301 genotype: {what} is not a literal") from err


def parse_arch(s: str) -> tuple[int, ...]:
    """Parses a ``Genotype(...)`` repr or a NASLib compact key into the canonical tuple.

    Args:
      s: ``"Genotype(normal=[('sep_conv_3x3', 0), ...], normal_concat=[2, 3, 4, 5], reduce=[...],
        reduce_concat=[2, 3, 4, 5])"`` (positional fields and ``range(2, 6)`` are accepted), or
        ``"[[(0, 3), (1, 2), ...], [...]]"`` (NASLib's compact key: ``(input, op index)`` pairs).

    Raises:
      ValueError: if ``s`` is neither, or not an architecture of the space.
    """
    if not isinstance(s, str):
        raise ValueError(f"invalid NB301 arch: expected a string, got {type(s).__name__}")
    try:
        tree = ast.parse(s.strip(), mode="eval").body
    except SyntaxError as err:
        raise ValueError(f"invalid NB301 arch {_short(s)}: not a Genotype(...) or a NASLib compact key") from err
    if isinstance(tree, ast.Call):
        func = tree.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
        if name != "Genotype":
            raise ValueError(f"invalid NB301 arch {_short(s)}: not a Genotype(...) or a NASLib compact key")
        fields = ("normal", "normal_concat", "reduce", "reduce_concat")
        if len(tree.args) > len(fields):
            raise ValueError(f"invalid NB301 genotype {_short(s)}: too many fields")
        values = {f: _literal(a, f) for f, a in zip(fields, tree.args)}
        for kw in tree.keywords:
            if kw.arg not in fields or kw.arg in values:
                raise ValueError(f"invalid NB301 genotype: unexpected or repeated field {kw.arg!r}")
            values[kw.arg] = _literal(kw.value, kw.arg)
        if "normal" not in values or "reduce" not in values:
            raise ValueError(f"invalid NB301 genotype {_short(s)}: normal and reduce are required")
        return from_genotype(values["normal"], values["reduce"], values.get("normal_concat", CONCAT),
                             values.get("reduce_concat", CONCAT))
    if isinstance(tree, (ast.List, ast.Tuple)):
        try:
            compact = ast.literal_eval(tree)
        except ValueError as err:
            raise ValueError(f"invalid NB301 arch {_short(s)}: a compact key holds only ints") from err
        return _from_compact(compact)
    raise ValueError(f"invalid NB301 arch {_short(s)}: not a Genotype(...) or a NASLib compact key")


def to_arch(arch: Any) -> tuple[int, ...]:
    """Validates an architecture in any form into the canonical tuple.

    Args:
      arch: a string (:func:`parse_arch`), 32 ints (any edge order within a
        node), a nested ``(2, 8, 2)`` compact sequence, or an object with
        ``normal`` and ``reduce`` attributes (a DARTS ``Genotype``).

    Raises:
      ValueError: (one line) what is wrong.
    """
    if isinstance(arch, str):
        return parse_arch(arch)
    if hasattr(arch, "normal") and hasattr(arch, "reduce"):
        return from_genotype(arch.normal, arch.reduce, getattr(arch, "normal_concat", CONCAT),
                             getattr(arch, "reduce_concat", CONCAT))
    try:
        values = np.asarray(arch)
    except Exception as err:  # noqa: BLE001 - any unconvertible input is a bad arch
        raise ValueError(f"invalid NB301 arch {_short(arch)}: expected 32 ints or a (2, 8, 2) compact") from err
    if values.ndim == 3:
        return _from_compact(values)
    if values.shape != (ARCH_LENGTH,) or not np.issubdtype(values.dtype, np.integer):
        raise ValueError(f"invalid NB301 arch {_short(arch)}: expected {ARCH_LENGTH} ints "
                         f"(2 cells x 4 nodes x 2 edges x (input, op)), got shape {values.shape} of {values.dtype}")
    return _validate_flat(values.tolist())


def genotype(arch: Any) -> dict[str, Any]:
    """The DARTS genotype fields: ``{'normal': [(op name, input) x 8], 'normal_concat': [2, 3, 4, 5], 'reduce': ..., ...}``."""
    a = to_arch(arch)
    cells = [[(OPS[a[c * CELL_LENGTH + i + 1]], a[c * CELL_LENGTH + i]) for i in range(0, CELL_LENGTH, 2)]
             for c in range(len(CELLS))]
    return {"normal": cells[0], "normal_concat": list(CONCAT), "reduce": cells[1], "reduce_concat": list(CONCAT)}


def format_arch(arch: Any) -> str:
    """The ``Genotype(...)`` repr of an architecture, edges in canonical order."""
    g = genotype(arch)
    return (f"Genotype(normal={g['normal']!r}, normal_concat={g['normal_concat']!r}, "
            f"reduce={g['reduce']!r}, reduce_concat={g['reduce_concat']!r})")


def compact(arch: Any) -> tuple[tuple[tuple[int, int], ...], tuple[tuple[int, int], ...]]:
    """NASLib's compact form ``((input, op) x 8, (input, op) x 8)``, edges in canonical order."""
    a = to_arch(arch)
    return tuple(tuple((a[c * CELL_LENGTH + i], a[c * CELL_LENGTH + i + 1]) for i in range(0, CELL_LENGTH, 2))
                 for c in range(len(CELLS)))  # type: ignore[return-value]


def format_compact(arch: Any) -> str:
    """NASLib's compact key string, ``'[[(0, 3), (1, 2), ...], [...]]'``, edges in canonical order.

    NASLib's stored keys keep the order they were sampled in; compare
    architectures through :func:`to_arch`, not through this string.
    """
    return "[" + ", ".join("[" + ", ".join(f"({i}, {o})" for i, o in cell) + "]" for cell in compact(arch)) + "]"


def reduction_layers(layers: int) -> tuple[int, int]:
    """The indices of the reduction cells among ``layers`` cells (DARTS: ``layers // 3`` and ``2 * layers // 3``)."""
    return layers // 3, 2 * layers // 3


def neighbours(arch: Any) -> list[tuple[int, ...]]:
    """The 120 architectures one edit away: one edge's op changed, or one edge's input changed.

    As NASLib's ``NasBench301SearchSpace.get_nbhd``: per cell, per edge (in
    canonical order), first the 6 other ops, then every other input of the
    node not used by its other edge (``k`` of them at node ``k``); 2 x (8 x 6 +
    2 x (0 + 1 + 2 + 3)) = 120, all distinct. ``arch`` is excluded.
    """
    a = list(to_arch(arch))
    out: list[tuple[int, ...]] = []
    for i in range(0, ARCH_LENGTH, 2):
        node = (i % CELL_LENGTH) // 4
        other = i + 2 if (i % 4) == 0 else i - 2
        for op in range(NUM_OPS):
            if op != a[i + 1]:
                out.append(_validate_flat(a[:i + 1] + [op] + a[i + 2:]))
        for source in range(node + 2):
            if source not in (a[i], a[other]):
                out.append(_validate_flat(a[:i] + [source] + a[i + 1:]))
    return out


def _node_cost(x: tuple[int, ...], y: tuple[int, ...]) -> int:
    """Edits (one edge's input or op each) between two nodes' edge pairs: the cheaper matching of the edges."""
    def edge(p: tuple[int, int], q: tuple[int, int]) -> int:
        return int(p[0] != q[0]) + int(p[1] != q[1])

    (a, b), (c, d) = (x[0:2], x[2:4]), (y[0:2], y[2:4])
    return min(edge(a, c) + edge(b, d), edge(a, d) + edge(b, c))


def distance(a: Any, b: Any) -> int:
    """The edit distance: the fewest single-edge edits (an op or an input) from ``a`` to ``b``.

    The sum over the 8 nodes of the cheaper matching of their two edges
    (inputs and ops that differ); every intermediate step can be kept valid,
    so this is the shortest path in the :func:`neighbours` graph.
    """
    x, y = to_arch(a), to_arch(b)
    return sum(_node_cost(x[i:i + 4], y[i:i + 4]) for i in range(0, ARCH_LENGTH, 4))


def sample(rng: np.random.Generator, n: int) -> list[tuple[int, ...]]:
    """``n`` distinct architectures drawn as NASLib's ``sample_random_architecture`` draws them.

    Per cell and node ``k``: two distinct inputs uniformly among the ``k + 2``
    earlier nodes (without replacement) and an op uniformly for each edge,
    i.e. uniform over the space. Duplicates (probability about n**2 / 2e18)
    are redrawn; the list is in draw order.
    """
    out: dict[tuple[int, ...], None] = {}
    while len(out) < n:
        m = n - len(out)
        cols = []
        for _ in CELLS:
            for k in range(NUM_NODES):
                first = rng.integers(0, k + 2, m)
                second = rng.integers(0, k + 1, m)
                second = second + (second >= first)
                ops = rng.integers(0, NUM_OPS, (m, 2))
                cols += [first, ops[:, 0], second, ops[:, 1]]
        for row in np.stack(cols, axis=1).tolist():
            out.setdefault(_validate_flat(row), None)
            if len(out) == n:
                break
    return list(out)
