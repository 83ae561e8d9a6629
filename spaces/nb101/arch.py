"""NAS-Bench-101 cells: specs, pruning, the benchmark's graph hash, the canonical form and the neighbourhood.

A cell (Ying et al., "NAS-Bench-101: Towards Reproducible Neural Architecture
Search", ICML 2019) is a DAG of at most 7 vertices: the input (vertex 0), up
to 5 interior operations, each ``conv3x3-bn-relu``, ``conv1x1-bn-relu`` or
``maxpool3x3``, and the output (the last vertex), with at most 9 edges. Its
*spec* is an upper-triangular adjacency matrix and the vertices' ops.
Vertices that are not on a path from the input to the output do nothing: the
benchmark prunes them (with their edges) and identifies a cell by the
isomorphism class of its pruned, labelled graph (its MD5 graph hash).
423,624 cells are distinct.

Encodings (every function here accepts each of them):

* **canonical form** (:func:`canonical_arch`): 26 ints, the 21 upper-triangular
  bits of a 7 x 7 adjacency matrix, row-major ((0,1), (0,2), ..., (0,6),
  (1,2), ..., (5,6)), then the op codes of vertices 1..5 (``0``
  conv3x3-bn-relu, ``1`` conv1x1-bn-relu, ``2`` maxpool3x3: the order of the
  benchmark's ``available_ops`` and of its hash labels). It is one
  representative per cell: the pruned graph's interior vertices sit at 1..n-2
  and its output at 6; vertices n-1..5 (for a cell of n < 7 vertices) have no
  edges and op 0 (NASLib's padding of a pruned spec). The interior vertices
  are ordered as in the benchmark's own spelling of the cell (the first one
  its graph generator meets, :func:`canonical_of_spec`): among the relabelings
  that keep the matrix upper triangular, the smallest adjacency integer, then
  the smallest op codes. So two archs are the same cell iff their canonical
  forms are equal (:func:`same_cell`), and the canonical order is the order
  the benchmark (and NASLib) built the network in, which matters: the output's
  channels are split unevenly in vertex order (:func:`vertex_channels`).
* **string form** (:func:`format_arch`): the pruned spec,
  ``'ops:conv3x3,conv1x1,maxpool3x3|adj:01100,00011,00010,00001,00000'``: the
  interior ops in vertex order (short names; the benchmark's full names parse
  too), then the n x n matrix, one row of bits per vertex. Parsing accepts
  any spec, pruned or not.
* **NASLib's key** (:func:`naslib_key`): NASLib's ``convert_spec_to_tuple``, a
  flattened n x n matrix then the n op codes ``0`` input, ``1`` output, ``2``
  maxpool3x3, ``3`` conv1x1-bn-relu, ``4`` conv3x3-bn-relu (its ``all_ops``);
  n = 7 in NASLib's data (56 ints). As a tuple, a list or its string
  ``'(0, 1, ...)'``.
* a benchmark spec as a dict ``{'matrix': ..., 'ops': ['input', ..., 'output']}``.

An invalid arch (input not connected to the output, more than 9 edges after
pruning, a matrix that is not upper triangular or not 0/1, an unknown op)
raises a one-line ``ValueError`` naming the problem.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

OPS: tuple[str, ...] = ("conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3")
SHORT_OPS: tuple[str, ...] = ("conv3x3", "conv1x1", "maxpool3x3")
NASLIB_OPS: tuple[str, ...] = ("input", "output", "maxpool3x3", "conv1x1-bn-relu", "conv3x3-bn-relu")
NUM_VERTICES = 7
NUM_INTERIOR = NUM_VERTICES - 2
MAX_EDGES = 9
NUM_OPS = len(OPS)
#: the 21 (src, dst) pairs of the canonical form's bits, row-major.
EDGES: tuple[tuple[int, int], ...] = tuple((i, j) for i in range(NUM_VERTICES) for j in range(i + 1, NUM_VERTICES))
NUM_BITS = len(EDGES)
ARCH_LEN = NUM_BITS + NUM_INTERIOR
#: the number of distinct cells (graph hashes) of the benchmark.
NUM_CELLS = 423_624

_NAMES: dict[str, int] = {**{name: i for i, name in enumerate(OPS)}, **{name: i for i, name in enumerate(SHORT_OPS)}}
_NASLIB_TO_OP = {4: 0, 3: 1, 2: 2}
_OP_TO_NASLIB = {v: k for k, v in _NASLIB_TO_OP.items()}
_NASLIB_LENGTHS = {n * n + n: n for n in range(2, NUM_VERTICES + 1)}

# A spec: (matrix, ops): matrix a tuple of n rows (tuples of n ints 0/1), ops the n - 2 interior op codes.
Spec = tuple[tuple[tuple[int, ...], ...], tuple[int, ...]]


def _fail(message: str) -> ValueError:
    return ValueError(f"invalid NAS-Bench-101 cell: {message}")


# ----------------------------------------------------------------------------- reading the encodings


def _check_matrix(matrix: Any, what: str) -> np.ndarray:
    try:
        m = np.asarray(matrix)
    except Exception as err:  # noqa: BLE001 - any unconvertible input is a bad arch
        raise _fail(f"{what} is not a matrix") from err
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise _fail(f"{what} must be square, got shape {m.shape}")
    n = m.shape[0]
    if not 2 <= n <= NUM_VERTICES:
        raise _fail(f"{what} has {n} vertices; a cell has 2..{NUM_VERTICES}")
    if not (np.issubdtype(m.dtype, np.integer) or m.dtype == bool):
        raise _fail(f"{what} entries must be integers 0/1, got dtype {m.dtype}")
    m = m.astype(np.int64)
    if np.any((m != 0) & (m != 1)):
        raise _fail(f"{what} entries must be 0 or 1")
    if np.any(np.tril(m) != 0):
        raise _fail(f"{what} must be upper triangular (edges go from lower to higher vertices)")
    return m


def _op_code(op: Any) -> int:
    if isinstance(op, str):
        name = op.strip().lower()
        if name not in _NAMES:
            raise _fail(f"unknown op {op!r}; ops are {', '.join(SHORT_OPS)} (or {', '.join(OPS)})")
        return _NAMES[name]
    if isinstance(op, (int, np.integer)) and not isinstance(op, bool) and 0 <= op < NUM_OPS:
        return int(op)
    raise _fail(f"op codes are 0 (conv3x3), 1 (conv1x1), 2 (maxpool3x3), got {op!r}")


def _from_canonical_tuple(values: Sequence[int]) -> tuple[np.ndarray, list[int]]:
    bits, ops = values[:NUM_BITS], values[NUM_BITS:]
    if any(b not in (0, 1) for b in bits):
        raise _fail("the first 21 values (edge bits) must be 0 or 1")
    m = np.zeros((NUM_VERTICES, NUM_VERTICES), np.int64)
    for (i, j), b in zip(EDGES, bits):
        m[i, j] = b
    return m, [_op_code(int(o)) for o in ops]


def _from_naslib(values: Sequence[int]) -> tuple[np.ndarray, list[int]]:
    n = _NASLIB_LENGTHS[len(values)]
    m = _check_matrix(np.asarray(values[:n * n], np.int64).reshape(n, n), "NASLib key's matrix")
    codes = [int(v) for v in values[n * n:]]
    if codes[0] != 0 or codes[-1] != 1:
        raise _fail(f"a NASLib key's ops start with 0 (input) and end with 1 (output), got {codes}")
    ops = []
    for c in codes[1:-1]:
        if c not in _NASLIB_TO_OP:
            raise _fail(f"a NASLib key's interior op codes are 2 (maxpool3x3), 3 (conv1x1), 4 (conv3x3), got {c}")
        ops.append(_NASLIB_TO_OP[c])
    return m, ops


_STRING = re.compile(r"^\s*ops\s*:(?P<ops>[^|]*)\|\s*adj\s*:(?P<adj>.*)$", re.IGNORECASE)


def _from_string(s: str) -> tuple[np.ndarray, list[int]]:
    t = s.strip()
    match = _STRING.match(t)
    if match is not None:
        names = [o.strip() for o in match["ops"].split(",") if o.strip()]
        rows = [r.strip() for r in match["adj"].split(",") if r.strip()]
        if any(set(r) - {"0", "1"} for r in rows):
            raise _fail(f"adjacency rows are strings of 0/1, got {match['adj'].strip()!r}")
        if len(rows) != len(names) + 2 or any(len(r) != len(rows) for r in rows):
            raise _fail(f"{len(names)} ops need {len(names) + 2} rows of {len(names) + 2} bits, got {rows}")
        m = _check_matrix(np.array([[int(c) for c in r] for r in rows], np.int64), "adjacency matrix")
        return m, [_op_code(o) for o in names]
    if re.fullmatch(r"[\s\[\](),0-9-]+", t) and re.search(r"\d", t):
        return _from_sequence([int(v) for v in re.findall(r"-?\d+", t)])
    raise _fail(f"expected 'ops:...|adj:...' or a NASLib key '(0, 1, ...)', got {s!r}")


def _from_sequence(values: Any) -> tuple[np.ndarray, list[int]]:
    try:
        v = np.asarray(values)
    except Exception as err:  # noqa: BLE001
        raise _fail(f"expected a sequence of ints, got {values!r}") from err
    if v.ndim != 1 or not (np.issubdtype(v.dtype, np.integer) or v.dtype == bool) or v.dtype == object:
        raise _fail(f"expected a flat sequence of ints, got {type(values).__name__} of shape {v.shape}")
    ints = [int(x) for x in v]
    if len(ints) == ARCH_LEN:
        return _from_canonical_tuple(ints)
    if len(ints) in _NASLIB_LENGTHS:
        return _from_naslib(ints)
    raise _fail(f"expected {ARCH_LEN} ints (21 edge bits, 5 ops) or a NASLib key of n*n+n ints, got {len(ints)}")


def _from_dict(spec: Mapping[str, Any]) -> tuple[np.ndarray, list[int]]:
    if "matrix" not in spec or "ops" not in spec:
        raise _fail("a spec dict needs 'matrix' and 'ops'")
    m = _check_matrix(spec["matrix"], "spec matrix")
    names = list(spec["ops"])
    if len(names) != m.shape[0]:
        raise _fail(f"spec has {m.shape[0]} vertices but {len(names)} ops")
    if str(names[0]).lower() != "input" or str(names[-1]).lower() != "output":
        raise _fail(f"a spec's ops start with 'input' and end with 'output', got {names}")
    return m, [_op_code(o) for o in names[1:-1]]


def raw_spec(arch: Any) -> tuple[np.ndarray, list[int]]:
    """The spec an arch spells, unpruned: (n x n int matrix, n - 2 interior op codes).

    Raises:
      ValueError: the arch is not a NAS-Bench-101 spec in any accepted form.
    """
    if isinstance(arch, str):
        return _from_string(arch)
    if isinstance(arch, Mapping):
        return _from_dict(arch)
    return _from_sequence(arch)


# ----------------------------------------------------------------------------- pruning and hashing


def prune(matrix: Any, ops: Sequence[int]) -> Spec:
    """Removes the vertices not on an input -> output path (the benchmark's ``ModelSpec._prune``).

    Args:
      matrix: an n x n upper-triangular 0/1 matrix (vertex 0 the input, n - 1 the output).
      ops: the n - 2 interior op codes.

    Returns:
      The pruned spec (matrix rows as tuples, interior op codes), vertices in their original order.

    Raises:
      ValueError: the input does not reach the output.
    """
    m = np.asarray(matrix)
    n = m.shape[0]
    forward, frontier = {0}, [0]
    while frontier:
        v = frontier.pop()
        for w in range(v + 1, n):
            if m[v, w] and w not in forward:
                forward.add(w)
                frontier.append(w)
    backward, frontier = {n - 1}, [n - 1]
    while frontier:
        v = frontier.pop()
        for w in range(v):
            if m[w, v] and w not in backward:
                backward.add(w)
                frontier.append(w)
    keep = sorted(forward & backward)
    if keep[:1] != [0] or keep[-1:] != [n - 1] or len(keep) < 2:
        raise _fail("the input is not connected to the output")
    rows = tuple(tuple(int(m[i, j]) for j in keep) for i in keep)
    return rows, tuple(int(ops[v - 1]) for v in keep[1:-1])


def _validate(spec: Spec) -> Spec:
    edges = sum(map(sum, spec[0]))
    if edges > MAX_EDGES:
        raise _fail(f"{edges} edges after pruning; at most {MAX_EDGES}")
    return spec


def pruned_spec(arch: Any) -> Spec:
    """The arch's pruned spec ``(matrix rows, interior ops)``, as the benchmark builds and hashes it.

    The vertices keep the order of the arch's own spelling (for a canonical
    tuple, the canonical order). Use :func:`cell_spec` for the canonical one.

    Raises:
      ValueError: an invalid arch.
    """
    m, ops = raw_spec(arch)
    return _validate(prune(m, ops))


def _md5(s: str) -> str:
    return hashlib.md5(s.encode("utf-8")).hexdigest()


def spec_hash(spec: Spec) -> str:
    """The benchmark's isomorphism-invariant MD5 graph hash of a pruned spec.

    The iterated neighbourhood hashing of the benchmark's
    ``graph_util.hash_module`` (labels: -1 input, -2 output, the op codes 0..2
    inside), so the digest is the key of the benchmark's dataset.
    """
    matrix, ops = spec
    n = len(matrix)
    labels = [-1, *ops, -2]
    ins = [sum(matrix[i][j] for i in range(n)) for j in range(n)]
    outs = [sum(row) for row in matrix]
    preds = [[i for i in range(n) if matrix[i][j]] for j in range(n)]
    succs = [[j for j in range(n) if matrix[i][j]] for i in range(n)]
    hashes = [_md5(str((outs[v], ins[v], labels[v]))) for v in range(n)]
    for _ in range(n):
        hashes = [_md5("".join(sorted(hashes[w] for w in preds[v])) + "|"
                       + "".join(sorted(hashes[w] for w in succs[v])) + "|" + hashes[v]) for v in range(n)]
    return _md5(str(sorted(hashes)))


def cell_hash(arch: Any) -> str:
    """The benchmark's graph hash of an arch (its ``ModelSpec.hash_spec``): the same for every spelling of a cell."""
    return spec_hash(pruned_spec(arch))


# ----------------------------------------------------------------------------- the canonical form


def _linear_extensions(matrix: Sequence[Sequence[int]]) -> Iterator[list[int]]:
    """Orders of the interior vertices 1..n-2 in which every edge goes forward."""
    n = len(matrix)
    interior = range(1, n - 1)
    preds = {v: {u for u in interior if matrix[u][v]} for v in interior}

    def extend(order: list[int], placed: set[int]) -> Iterator[list[int]]:
        if len(order) == n - 2:
            yield list(order)
            return
        for v in interior:
            if v not in placed and preds[v] <= placed:
                order.append(v)
                placed.add(v)
                yield from extend(order, placed)
                placed.discard(v)
                order.pop()

    yield from extend([], set())


def _placed(spec: Spec, order: Sequence[int], positions: Sequence[int] | None = None) -> tuple[int, ...]:
    """The 26-tuple of a pruned spec with interior vertex ``order[k]`` at ``positions[k]`` (default 1, 2, ...)."""
    matrix, ops = spec
    n = len(matrix)
    if positions is None:
        positions = range(1, len(order) + 1)
    position = {0: 0, n - 1: NUM_VERTICES - 1}
    position.update(zip(order, positions))
    m = [[0] * NUM_VERTICES for _ in range(NUM_VERTICES)]
    for i in range(n):
        for j in range(i + 1, n):
            if matrix[i][j]:
                m[position[i]][position[j]] = 1
    new_ops = [0] * NUM_INTERIOR
    for v in order:
        new_ops[position[v] - 1] = ops[v - 1]
    return tuple(m[i][j] for i, j in EDGES) + tuple(new_ops)


def _benchmark_key(spec: Spec, order: Sequence[int]) -> tuple[int, tuple[int, ...]]:
    """The order in which the benchmark's graph generator meets a relabeling: (its bits integer, its labels).

    The generator reads an n-vertex matrix from an integer whose bit
    ``x + y (y - 1) / 2`` is the edge x -> y (``graph_util.gen_is_edge_fn``),
    counting up, and tries the labelings of each matrix in
    ``itertools.product`` order; it keeps the first spelling of each hash.
    """
    matrix, ops = spec
    n = len(matrix)
    new = {0: 0, n - 1: n - 1}
    new.update({v: k + 1 for k, v in enumerate(order)})
    bits = 0
    for i in range(n):
        for j in range(i + 1, n):
            if matrix[i][j]:
                x, y = new[i], new[j]
                bits |= 1 << (x + y * (y - 1) // 2)
    return bits, tuple(ops[v - 1] for v in order)


def canonical_of_spec(spec: Spec) -> tuple[int, ...]:
    """The canonical 26-tuple of a pruned, valid spec (see the module docstring)."""
    best = min(_linear_extensions(spec[0]), key=lambda order: _benchmark_key(spec, order))
    return _placed(spec, best)


def canonical_arch(arch: Any) -> tuple[int, ...]:
    """Validates an arch in any accepted form into its cell's canonical 26-tuple.

    Raises:
      ValueError: an invalid arch (one line naming the problem).
    """
    return canonical_of_spec(pruned_spec(arch))


def cell_spec(arch: Any) -> Spec:
    """The pruned spec of the arch's canonical form: ``(matrix rows, interior op codes)``."""
    return pruned_spec(canonical_arch(arch))


def same_cell(a: Any, b: Any) -> bool:
    """Whether two archs (any forms) are the same cell (isomorphic pruned graphs)."""
    return canonical_arch(a) == canonical_arch(b)


def format_arch(arch: Any) -> str:
    """The string form of the arch's cell: ``'ops:<interior ops>|adj:<rows>'`` of the canonical pruned spec."""
    matrix, ops = cell_spec(arch)
    return "ops:" + ",".join(SHORT_OPS[o] for o in ops) + "|adj:" + ",".join("".join(map(str, r)) for r in matrix)


def parse_arch(s: str) -> tuple[int, ...]:
    """Parses the string form (or a NASLib key string) into the canonical tuple.

    Raises:
      ValueError: not a string, or not a valid cell.
    """
    if not isinstance(s, str):
        raise _fail(f"expected an arch string, got {type(s).__name__}")
    return canonical_arch(s)


def naslib_key(arch: Any) -> tuple[int, ...]:
    """NASLib's 56-int key of the arch's canonical 7-vertex form (``convert_spec_to_tuple``)."""
    t = canonical_arch(arch)
    m, ops = _from_canonical_tuple(t)
    return tuple(int(v) for v in m.flatten()) + (0, *(_OP_TO_NASLIB[o] for o in ops), 1)


def benchmark_spec(arch: Any) -> dict[str, Any]:
    """The benchmark's spec of the cell: ``{'matrix': n x n nested list, 'ops': ['input', ..., 'output']}`` (pruned)."""
    matrix, ops = cell_spec(arch)
    return {"matrix": [list(r) for r in matrix], "ops": ["input", *(OPS[o] for o in ops), "output"]}


# ----------------------------------------------------------------------------- channels


def vertex_channels(in_channels: int, out_channels: int, matrix: Sequence[Sequence[int]]) -> list[int]:
    """The channels of every vertex of a pruned cell (the benchmark's ``compute_vertex_channels``).

    The output's channels are split evenly among the interior vertices that
    feed it (the first ``out_channels % k`` of them, in vertex order, get one
    more); every other interior vertex gets the largest channel count among the
    interior vertices it feeds; the input keeps ``in_channels``.
    """
    n = len(matrix)
    channels = [0] * n
    channels[0], channels[n - 1] = in_channels, out_channels
    if n == 2:
        return channels
    feeders = [v for v in range(1, n - 1) if matrix[v][n - 1]]
    share, extra = divmod(out_channels, len(feeders))
    for k, v in enumerate(feeders):
        channels[v] = share + (1 if k < extra else 0)
    for v in range(n - 3, 0, -1):
        if not matrix[v][n - 1]:
            channels[v] = max([channels[w] for w in range(v + 1, n - 1) if matrix[v][w]], default=0)
    if any(c <= 0 for c in channels[1:-1]):
        raise _fail(f"vertex channels {channels} of {out_channels} output channels are not all positive")
    return channels


# ----------------------------------------------------------------------------- neighbours, sampling, distance


def _spec_from_edges(num: int, edges: set[tuple[int, int]], ops: Mapping[int, int]) -> Spec | None:
    """A pruned spec from vertices 0..num-1 (0 the input, num-1 the output) and edges, vertices renumbered in a
    topological order; None if the graph has a cycle or a vertex off every input -> output path."""
    indegree = [0] * num
    succs: list[list[int]] = [[] for _ in range(num)]
    for a, w in edges:
        indegree[w] += 1
        succs[a].append(w)
    order, ready = [], [v for v in range(num) if indegree[v] == 0]
    while ready:
        v = min(ready)
        ready.remove(v)
        order.append(v)
        for w in succs[v]:
            indegree[w] -= 1
            if indegree[w] == 0:
                ready.append(w)
    if len(order) != num or order[0] != 0 or order[-1] != num - 1:
        return None
    index = {v: k for k, v in enumerate(order)}
    m = np.zeros((num, num), np.int64)
    for a, w in edges:
        m[index[a], index[w]] = 1
    try:
        spec = prune(m, [ops[v] for v in order[1:-1]])
    except ValueError:
        return None
    return spec if len(spec[0]) == num else None


def _reaches(matrix: Sequence[Sequence[int]]) -> list[set[int]]:
    """reach[v]: the vertices reachable from v (v included)."""
    n = len(matrix)
    reach = [{v} for v in range(n)]
    for v in range(n - 1, -1, -1):
        for w in range(v + 1, n):
            if matrix[v][w]:
                reach[v] |= reach[w]
    return reach


def _neighbour_specs(spec: Spec) -> Iterator[Spec]:
    """The specs one edit from a pruned spec (see :func:`neighbours`), possibly several of one cell."""
    matrix, ops = spec
    n = len(matrix)
    out = n - 1
    edges = {(i, j) for i in range(n) for j in range(i + 1, n) if matrix[i][j]}
    op_of = {v: ops[v - 1] for v in range(1, out)}
    op_of[0] = op_of[out] = -1
    reach = _reaches(matrix)
    for v in range(1, out):                                           # change an op
        for c in range(NUM_OPS):
            if c != ops[v - 1]:
                yield matrix, ops[:v - 1] + (c,) + ops[v:]
    for e in sorted(edges):                                           # remove an edge, every vertex staying used
        s = _spec_from_edges(n, edges - {e}, op_of)
        if s is not None:
            yield s
    pairs = [(u, w) for u in range(out) for w in range(1, n) if u != w and u not in reach[w]]
    if len(edges) < MAX_EDGES:                                        # add an edge
        for u, w in pairs:
            if (u, w) not in edges:
                s = _spec_from_edges(n, edges | {(u, w)}, op_of)
                if s is not None:
                    yield s
    if n < NUM_VERTICES and len(edges) + 2 <= MAX_EDGES:              # insert a vertex u -> new -> w
        grown = {v if v < out else v + 1: c for v, c in op_of.items()}
        relabel = {v: v if v < out else v + 1 for v in range(n)}
        base = {(relabel[a], relabel[w]) for a, w in edges}
        for u, w in pairs:
            for c in range(NUM_OPS):
                s = _spec_from_edges(n + 1, base | {(relabel[u], out), (out, relabel[w])}, {**grown, out: c})
                if s is not None:
                    yield s
    for v in range(1, out):                                           # delete a vertex of in- and out-degree 1
        ins = [e for e in edges if e[1] == v]
        outs = [e for e in edges if e[0] == v]
        if len(ins) == 1 and len(outs) == 1:
            keep = [x for x in range(n) if x != v]
            index = {x: k for k, x in enumerate(keep)}
            rest = {(index[a], index[w]) for a, w in edges if v not in (a, w)}
            s = _spec_from_edges(n - 1, rest, {index[x]: op_of[x] for x in keep})
            if s is not None:
                yield s


def neighbours(arch: Any) -> list[tuple[int, ...]]:
    """The cells one edit of the pruned graph away.

    An edit is one of: change the op of an interior vertex; remove an edge;
    add an edge (between two vertices, keeping the graph acyclic); insert an
    interior vertex (any op) with one edge from an existing vertex and one
    edge to another; delete an interior vertex that has one in-edge and one
    out-edge (with them). Every result must be a valid cell as it stands:
    every vertex on an input -> output path (an edge whose removal would cut
    a vertex off is not removable), at most 7 vertices and 9 edges. Each edit
    has its inverse among them, so the relation is symmetric; it connects
    cells of different vertex counts (the insert and delete edits). In a 7 x 7
    spec, the edge edits are one bit flip, the vertex edits two flips and an op.

    Returns:
      The distinct canonical tuples, ``arch``'s own cell excluded, sorted.
    """
    spec = cell_spec(arch)
    own = spec_hash(spec)
    seen: dict[str, Spec] = {}
    for s in _neighbour_specs(spec):
        h = spec_hash(s)
        if h != own and h not in seen:
            seen[h] = s
    return sorted(canonical_of_spec(s) for s in seen.values())


def random_arch(rng: np.random.Generator) -> tuple[int, ...]:
    """One valid cell drawn as the benchmark's random search draws specs.

    Each of the 21 upper-triangular bits of a 7 x 7 matrix is 0 or 1 with
    probability 1/2 and each of the 5 interior ops uniform over the 3; a draw
    that is not a valid cell (input cut off, more than 9 edges after pruning)
    is drawn again. The law is over specs, not uniform over cells.
    """
    while True:
        bits = rng.integers(0, 2, size=NUM_BITS)
        ops = rng.integers(0, NUM_OPS, size=NUM_INTERIOR)
        try:
            return canonical_arch(tuple(int(b) for b in bits) + tuple(int(o) for o in ops))
        except ValueError:
            continue


def sample_archs(rng: np.random.Generator, n: int) -> list[tuple[int, ...]]:
    """``n`` distinct cells, drawn with :func:`random_arch` (repeats drawn again), in draw order."""
    out: list[tuple[int, ...]] = []
    seen: set[tuple[int, ...]] = set()
    while len(out) < n:
        a = random_arch(rng)
        if a not in seen:
            seen.add(a)
            out.append(a)
    return out


def distance(a: Any, b: Any, max_distance: int = 2) -> int:
    """The edit distance: the fewest :func:`neighbours` edits from ``a`` to ``b``.

    Exact up to ``max_distance`` (a bidirectional search, about
    ``2 * 50**(max_distance/2)`` neighbourhoods); farther cells get
    ``max_distance + 1`` ("more than max_distance").

    Raises:
      ValueError: an invalid arch, or ``max_distance`` not a non-negative int.
    """
    if isinstance(max_distance, bool) or not isinstance(max_distance, (int, np.integer)) or max_distance < 0:
        raise ValueError(f"max_distance must be a non-negative int, got {max_distance!r}")
    x, y = canonical_arch(a), canonical_arch(b)
    if x == y:
        return 0
    seen = [{x}, {y}]
    frontier = [{x}, {y}]
    for step in range(1, int(max_distance) + 1):
        side = (step - 1) % 2
        frontier[side] = {c for f in frontier[side] for c in neighbours(f)} - seen[side]
        seen[side] |= frontier[side]
        if frontier[side] & seen[1 - side]:
            return step
    return int(max_distance) + 1
