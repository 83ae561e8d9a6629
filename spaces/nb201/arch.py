"""NAS-Bench-201 cell encoding: arch strings and op-index tuples.

A cell is a DAG of 4 nodes with 6 edges; each edge carries one of 5 ops. A cell
is written either as the benchmark's arch string,
``|a~0|+|b~0|c~1|+|d~0|e~1|f~2|``, which lists the ops of edges 0..5 in the
order of :data:`EDGES` (the number after ``~`` is the edge's from-node), or as
a tuple of 6 op indices into :data:`OPS`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

OPS: tuple[str, ...] = ("none", "avg_pool_3x3", "nor_conv_3x3", "nor_conv_1x1", "skip_connect")
EDGES: tuple[tuple[int, int], ...] = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
NUM_NODES = 4
NUM_EDGES = len(EDGES)
NUM_OPS = len(OPS)
NUM_ARCHS = NUM_OPS**NUM_EDGES

_OP_INDEX = {name: index for index, name in enumerate(OPS)}


def _parse_edge(s: str, node: int, edge: str, from_node: int) -> int:
    """Parses one ``op~k`` edge of node ``node`` (1-based) coming from ``from_node``."""
    where = f"edge {EDGES.index((node, from_node))} ({from_node}->{node})"
    if not edge:
        raise ValueError(f"invalid arch string {s!r}: {where} is empty")
    if edge.count("~") != 1:
        raise ValueError(f"invalid arch string {s!r}: {where} is {edge!r}, expected 'op~{from_node}'")
    name, source = edge.split("~")
    if name not in _OP_INDEX:
        raise ValueError(
            f"invalid arch string {s!r}: unknown op {name!r} in {where}; valid ops are {', '.join(OPS)}"
        )
    if not re.fullmatch(r"-?[0-9]+", source):
        raise ValueError(f"invalid arch string {s!r}: input node index {source!r} of {where} is not an integer")
    if source != str(from_node):
        raise ValueError(
            f"invalid arch string {s!r}: input node index of {where} is {source}, expected {from_node}"
        )
    return _OP_INDEX[name]


def parse_arch(s: str) -> tuple[int, ...]:
    """Parses a NAS-Bench-201 arch string into op indices.

    Leading and trailing whitespace of the whole string is ignored; any other
    deviation from the canonical format is an error.

    Args:
      s: an arch string, e.g. ``'|nor_conv_3x3~0|+|none~0|skip_connect~1|+|avg_pool_3x3~0|nor_conv_1x1~1|none~2|'``.

    Returns:
      The 6 op indices (into :data:`OPS`) of edges 0..5, ordered as :data:`EDGES`.

    Raises:
      ValueError: if ``s`` is not a str or not a well-formed arch string; the
        message quotes ``s`` and says what is wrong.
    """
    if not isinstance(s, str):
        raise ValueError(f"arch string must be a str, got {type(s).__name__}: {s!r}")
    text = s.strip()
    if not text:
        raise ValueError(f"invalid arch string {s!r}: it is empty")
    if any(c.isspace() for c in text):
        raise ValueError(f"invalid arch string {s!r}: it contains whitespace")
    if not text.startswith("|"):
        raise ValueError(f"invalid arch string {s!r}: missing leading '|'")
    if not text.endswith("|"):
        raise ValueError(f"invalid arch string {s!r}: missing trailing '|'")
    groups = text.split("+")
    if len(groups) != NUM_NODES - 1:
        raise ValueError(
            f"invalid arch string {s!r}: expected {NUM_NODES - 1} node groups separated by '+', got {len(groups)}"
        )
    ops: list[int] = []
    for node, group in enumerate(groups, start=1):
        if len(group) < 2 or not group.startswith("|") or not group.endswith("|"):
            raise ValueError(f"invalid arch string {s!r}: node group {node} ({group!r}) must be enclosed in '|'")
        edges = group[1:-1].split("|")
        if len(edges) != node:
            raise ValueError(
                f"invalid arch string {s!r}: node group {node} ({group!r}) has {len(edges)} edge(s), expected {node}"
            )
        ops.extend(_parse_edge(s, node, edge, from_node) for from_node, edge in enumerate(edges))
    return tuple(ops)


def _validate_ops(arch: Any) -> tuple[int, ...]:
    """Validates a sequence of op indices and returns it as a tuple of ints."""
    try:
        array = np.asarray(arch)
    except (TypeError, ValueError) as error:
        raise ValueError(f"expected an arch string or a sequence of {NUM_EDGES} op indices, got {arch!r}") from error
    if array.ndim != 1 or array.shape[0] != NUM_EDGES:
        raise ValueError(
            f"expected an arch string or a sequence of {NUM_EDGES} op indices, got {arch!r} (shape {array.shape})"
        )
    if array.dtype.kind == "O":
        integral = all(isinstance(o, (int, np.integer)) and not isinstance(o, bool) for o in array)
    else:
        integral = array.dtype.kind in "iu"
    if not integral:
        raise ValueError(f"op indices must be integers, got {arch!r}")
    ops = tuple(int(o) for o in array)
    if any(not 0 <= o < NUM_OPS for o in ops):
        raise ValueError(f"op indices must be in 0..{NUM_OPS - 1}, got {arch!r}")
    return ops


def arch_to_ops(arch: str | Sequence[int] | np.ndarray) -> tuple[int, ...]:
    """Converts an arch (string or op indices) to validated op indices.

    Args:
      arch: an arch string, or a sequence (tuple, list, 1-D array) of 6 ints in
        0..4.

    Returns:
      The 6 op indices as a tuple of Python ints.

    Raises:
      ValueError: if ``arch`` is a malformed string, not 6 values, not integers
        or out of range.
    """
    if isinstance(arch, str):
        return parse_arch(arch)
    return _validate_ops(arch)


def ops_to_arch(ops: str | Sequence[int] | np.ndarray) -> str:
    """Converts op indices to the canonical arch string.

    Args:
      ops: 6 op indices in 0..4 (an arch string is accepted too and normalized).

    Returns:
      The arch string, e.g. ``'|none~0|+|none~0|none~1|+|none~0|none~1|none~2|'``.

    Raises:
      ValueError: if ``ops`` is not a valid arch.
    """
    ops = arch_to_ops(ops)
    nodes = [[] for _ in range(NUM_NODES - 1)]
    for (to_node, from_node), op in zip(EDGES, ops):
        nodes[to_node - 1].append(f"{OPS[op]}~{from_node}")
    return "+".join("|" + "|".join(node) + "|" for node in nodes)


def neighbours(arch: str | Sequence[int] | np.ndarray) -> list[str]:
    """The 24 cells at edit distance 1 (one edge's op changed).

    Args:
      arch: an arch string or 6 op indices.

    Returns:
      Arch strings, edge-major then by op index; ``arch`` itself is excluded.

    Raises:
      ValueError: if ``arch`` is not a valid arch.
    """
    ops = arch_to_ops(arch)
    result = []
    for edge in range(NUM_EDGES):
        for op in range(NUM_OPS):
            if op != ops[edge]:
                result.append(ops_to_arch(ops[:edge] + (op,) + ops[edge + 1 :]))
    return result
