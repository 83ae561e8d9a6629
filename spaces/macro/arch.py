"""NAS-Bench-Macro architectures: 8-digit strings and choice tuples.

An architecture is 8 searchable layers, each one of 3 choices: ``0`` identity,
``1`` MobileNetV2 block with kernel 3 and expansion 3 (``MB3_K3``), ``2``
MobileNetV2 block with kernel 5 and expansion 6 (``MB6_K5``). It is written as
the benchmark's string of 8 digits (``'02012100'``, layer 0 first) or as a
tuple of 8 ints. The 3**8 = 6,561 architectures are indexed in
``itertools.product`` order: index = the string read as a base-3 number.

The first layer of each stage (layers 0, 2 and 5) downsamples; there, the
identity is a 1x1 stride-2 convolution. Elsewhere the identity is no layer, so
architectures that differ only in where a stage's identities sit after its
first layer are one network: the benchmark trained only the
:func:`canonical_arch` of each (identities moved to the stage's end) and
copied its results to the others. 3,969 networks are distinct.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

CHOICES: tuple[str, ...] = ("id", "ir_3x3_t3", "ir_5x5_t6")
NUM_LAYERS = 8
NUM_CHOICES = len(CHOICES)
NUM_ARCHS = NUM_CHOICES**NUM_LAYERS
STAGES: tuple[int, ...] = (2, 3, 3)
DOWNSAMPLING_LAYERS: tuple[int, ...] = (0, 2, 5)


def parse_arch(s: str) -> tuple[int, ...]:
    """Parses an 8-digit architecture string.

    Args:
      s: e.g. ``'02012100'``; surrounding whitespace is ignored.

    Returns:
      The 8 choices as a tuple of ints in 0..2.

    Raises:
      ValueError: if ``s`` is not 8 digits in 0..2.
    """
    if not isinstance(s, str):
        raise ValueError(f"a NAS-Bench-Macro arch string is 8 digits in 0..2, got {s!r}")
    t = s.strip()
    if len(t) != NUM_LAYERS or any(ch not in "012" for ch in t):
        raise ValueError(f"invalid NAS-Bench-Macro arch {s!r}: expected {NUM_LAYERS} digits in 0..2")
    return tuple(int(ch) for ch in t)


def to_choices(arch: str | Sequence[int] | np.ndarray) -> tuple[int, ...]:
    """Validates an architecture (string or 8 ints) into a tuple of choices.

    Raises:
      ValueError: if it is not 8 choices in 0..2.
    """
    if isinstance(arch, str):
        return parse_arch(arch)
    try:
        values = np.asarray(arch)
    except Exception as err:  # noqa: BLE001 - any unconvertible input is a bad arch
        raise ValueError(f"a NAS-Bench-Macro arch is 8 choices in 0..2, got {arch!r}") from err
    if values.shape != (NUM_LAYERS,) or not (np.issubdtype(values.dtype, np.integer) or values.dtype == bool):
        raise ValueError(f"a NAS-Bench-Macro arch is 8 integer choices in 0..2, got {arch!r}")
    choices = tuple(int(v) for v in values)
    if any(not 0 <= c < NUM_CHOICES for c in choices):
        raise ValueError(f"choices must be in 0..{NUM_CHOICES - 1}, got {arch!r}")
    return choices


def format_arch(arch: str | Sequence[int] | np.ndarray) -> str:
    """The benchmark's 8-digit string of an architecture."""
    return "".join(str(c) for c in to_choices(arch))


def index_of(arch: Any) -> int:
    """The architecture's index in 0..6560 (its string as a base-3 number)."""
    index = 0
    for c in to_choices(arch):
        index = index * NUM_CHOICES + c
    return index


def arch_at(index: int) -> tuple[int, ...]:
    """The architecture with index ``index`` (see :func:`index_of`).

    Raises:
      ValueError: if ``index`` is not an int in 0..6560.
    """
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not 0 <= index < NUM_ARCHS:
        raise ValueError(f"NAS-Bench-Macro index must be an int in 0..{NUM_ARCHS - 1}, got {index!r}")
    digits = []
    index = int(index)
    for _ in range(NUM_LAYERS):
        index, c = divmod(index, NUM_CHOICES)
        digits.append(c)
    return tuple(reversed(digits))


def canonical_arch(arch: Any) -> tuple[int, ...]:
    """The benchmark's representative of an architecture's network (its ``get_real_arch``).

    Within each stage, the identities after the stage's first layer are moved
    to the stage's end; the first layer stays.
    """
    choices = list(to_choices(arch))
    result: list[int] = []
    start = 0
    for size in STAGES:
        stage = choices[start:start + size]
        rest = [c for c in stage[1:] if c != 0]
        result += [stage[0], *rest, *([0] * (size - 1 - len(rest)))]
        start += size
    return tuple(result)


def neighbours(arch: Any) -> list[tuple[int, ...]]:
    """The 16 architectures at edit distance 1 (one layer's choice changed).

    Returns:
      Choice tuples, layer-major then by choice; ``arch`` itself is excluded.
    """
    choices = to_choices(arch)
    return [choices[:i] + (c,) + choices[i + 1:]
            for i in range(NUM_LAYERS) for c in range(NUM_CHOICES) if c != choices[i]]
