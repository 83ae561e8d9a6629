"""NAS-Bench-201 ground truth: the shipped accuracy table.

The table ``zcjax/_data/nb201_accuracy.csv.gz`` holds one row per cell, in the
benchmark's own index order (0..15624), with the final train/val/test accuracy
(percent) of each cell on CIFAR-10 (train/valid split), CIFAR-100 and
ImageNet16-120.
"""

from __future__ import annotations

import csv
import functools
import gzip
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources

import numpy as np

from .arch import NUM_ARCHS, NUM_EDGES, OPS, arch_to_ops

TABLE_FILE = "nb201_accuracy.csv.gz"
SPLITS: tuple[str, ...] = ("train", "val", "test")


@dataclass(frozen=True)
class DatasetInfo:
    """A NAS-Bench-201 dataset.

    Attributes:
      name: the user-facing name ('cifar10', 'cifar100' or 'ImageNet16-120').
      num_classes: number of classes.
      image_size: input height and width in pixels.
      column_prefix: prefix of its columns in the accuracy table.
    """

    name: str
    num_classes: int
    image_size: int
    column_prefix: str


DATASETS: dict[str, DatasetInfo] = {
    "cifar10": DatasetInfo("cifar10", 10, 32, "cifar10_valid"),
    "cifar100": DatasetInfo("cifar100", 100, 32, "cifar100"),
    "ImageNet16-120": DatasetInfo("ImageNet16-120", 120, 16, "imagenet16_120"),
}

_DATASET_ALIASES = {
    "cifar10": "cifar10",
    "cifar10-valid": "cifar10",
    "cifar100": "cifar100",
    "imagenet16-120": "ImageNet16-120",
}

COLUMNS: tuple[str, ...] = ("index", "arch") + tuple(
    f"{info.column_prefix}_{split}" for info in DATASETS.values() for split in SPLITS
)


@dataclass(frozen=True)
class _Table:
    archs: tuple[str, ...]
    ops: np.ndarray
    index: dict[tuple[int, ...], int]
    columns: dict[str, np.ndarray]


def dataset_info(name: str) -> DatasetInfo:
    """Looks up a dataset by name.

    Args:
      name: 'cifar10', 'cifar100' or 'ImageNet16-120'; case-insensitive, with
        '_' or '-' as separator ('imagenet16_120', 'cifar10-valid' work too).

    Returns:
      The dataset's :class:`DatasetInfo`.

    Raises:
      ValueError: if the name is unknown.
    """
    key = name.strip().lower().replace("_", "-") if isinstance(name, str) else None
    if key not in _DATASET_ALIASES:
        raise ValueError(f"unknown dataset {name!r}; valid names are {', '.join(DATASETS)}")
    return DATASETS[_DATASET_ALIASES[key]]


def _table_ops(archs: Sequence[str]) -> np.ndarray:
    """The op indices of the table's arch strings, (NUM_ARCHS, 6) int32, by splitting them at ``|``.

    The shipped strings are canonical (``tests/test_nb201_space.py`` parses each
    with :func:`parse_arch` and formats it back); this is the start-up path, 2-3x
    faster than validating every string. A string that is not of the form still
    raises: an unknown op name, or another number of edges.
    """
    op_index = {name: i for i, name in enumerate(OPS)}
    try:
        ops = np.array([[op_index[token[:-2]] for token in arch.split("|") if token not in ("", "+")]
                        for arch in archs], dtype=np.int32)
    except (KeyError, ValueError) as e:
        raise RuntimeError(f"{TABLE_FILE}: an arch string is not canonical ({e})") from None
    if ops.shape != (len(archs), NUM_EDGES):
        raise RuntimeError(f"{TABLE_FILE}: arch strings of {ops.shape[1:]} edges, expected {NUM_EDGES}")
    return ops


@functools.lru_cache(maxsize=1)
def _table() -> _Table:
    """Reads and checks the accuracy table (once)."""
    source = resources.files("zcjax._data").joinpath(TABLE_FILE)
    with source.open("rb") as raw, gzip.open(raw, "rt", newline="") as text:
        rows = list(csv.reader(text))
    header, body = tuple(rows[0]), rows[1:]
    if header != COLUMNS:
        raise RuntimeError(f"{TABLE_FILE}: unexpected header {header}, expected {COLUMNS}")
    if len(body) != NUM_ARCHS or any(int(row[0]) != i for i, row in enumerate(body)):
        raise RuntimeError(f"{TABLE_FILE}: expected rows indexed 0..{NUM_ARCHS - 1} in order")
    archs = tuple(row[1] for row in body)
    ops = _table_ops(archs)
    values = np.array([row[2:] for row in body], dtype=np.float64)
    index = {row: i for i, row in enumerate(map(tuple, ops.tolist()))}
    if len(index) != NUM_ARCHS:
        raise RuntimeError(f"{TABLE_FILE}: arch column has duplicates")
    ops.setflags(write=False)
    columns = {}
    for j, name in enumerate(COLUMNS[2:]):
        column = np.ascontiguousarray(values[:, j])
        column.setflags(write=False)
        columns[name] = column
    return _Table(archs=archs, ops=ops, index=index, columns=columns)


def all_archs() -> list[str]:
    """All arch strings, in benchmark index order.

    Returns:
      A list of 15,625 arch strings; element i is the cell with index i.
    """
    return list(_table().archs)


def all_ops() -> np.ndarray:
    """The op indices of every cell, in benchmark index order.

    Returns:
      An int32 array of shape (15625, 6).
    """
    return _table().ops.copy()


def index_of(arch: str | Sequence[int] | np.ndarray) -> int:
    """The benchmark index of a cell.

    Args:
      arch: an arch string or 6 op indices.

    Returns:
      Its index in 0..15624.

    Raises:
      ValueError: if ``arch`` is not a valid arch.
    """
    return _table().index[arch_to_ops(arch)]


def _check_index(index: int) -> int:
    """Validates a benchmark index and returns it as a Python int."""
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
        raise ValueError(f"benchmark index must be an int, got {type(index).__name__}: {index!r}")
    if not 0 <= index < NUM_ARCHS:
        raise IndexError(f"benchmark index {index} out of range 0..{NUM_ARCHS - 1}")
    return int(index)


def arch_at(index: int) -> str:
    """The arch string of the cell with a given benchmark index.

    Args:
      index: an index in 0..15624 (negative indices are not accepted).

    Returns:
      The arch string.

    Raises:
      ValueError: if ``index`` is not an integer.
      IndexError: if ``index`` is out of range.
    """
    return _table().archs[_check_index(index)]


def _check_split(split: str) -> str:
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; valid splits are {', '.join(SPLITS)}")
    return split


def accuracy_columns(dataset: str) -> dict[str, np.ndarray]:
    """The train/val/test accuracy columns of a dataset.

    Args:
      dataset: a dataset name (see :func:`dataset_info`).

    Returns:
      A dict from column name (e.g. 'cifar10_valid_val') to a float64 array of
      shape (15625,), in benchmark index order.

    Raises:
      ValueError: if the dataset is unknown.
    """
    prefix = dataset_info(dataset).column_prefix
    columns = _table().columns
    return {f"{prefix}_{split}": columns[f"{prefix}_{split}"].copy() for split in SPLITS}


def accuracies(dataset: str, split: str = "val") -> np.ndarray:
    """The accuracy of every cell on one dataset split.

    Args:
      dataset: a dataset name (see :func:`dataset_info`).
      split: 'train', 'val' or 'test'.

    Returns:
      A float64 array of shape (15625,) (percent), in benchmark index order.

    Raises:
      ValueError: if the dataset or split is unknown.
    """
    prefix = dataset_info(dataset).column_prefix
    return _table().columns[f"{prefix}_{_check_split(split)}"].copy()


def accuracy(arch_or_index: int | str | Sequence[int] | np.ndarray, dataset: str, split: str = "val") -> float:
    """The accuracy of one cell.

    Args:
      arch_or_index: a benchmark index, an arch string or 6 op indices.
      dataset: a dataset name (see :func:`dataset_info`).
      split: 'train', 'val' or 'test'.

    Returns:
      The accuracy in percent.

    Raises:
      ValueError: if the arch, dataset or split is invalid.
      IndexError: if the index is out of range.
    """
    prefix = dataset_info(dataset).column_prefix
    column = f"{prefix}_{_check_split(split)}"
    if isinstance(arch_or_index, (int, np.integer)) and not isinstance(arch_or_index, bool):
        index = _check_index(arch_or_index)
    else:
        index = index_of(arch_or_index)
    return float(_table().columns[column][index])


def parse_indices(spec: str, size: int = NUM_ARCHS) -> list[int]:
    """Parses a command-line index spec such as ``'0-99,200,300-302'``.

    Ranges are inclusive. Whitespace around items is ignored. Duplicates are
    dropped, keeping the order of first occurrence.

    Args:
      spec: comma-separated indices and ``start-end`` ranges.
      size: the number of architectures (indices run from 0 to size - 1).

    Returns:
      The indices, in the order given, without duplicates.

    Raises:
      ValueError: on bad syntax, a reversed range or an index outside 0..size-1.
    """
    if not isinstance(spec, str):
        raise ValueError(f"index spec must be a str, got {type(spec).__name__}: {spec!r}")
    if not spec.strip():
        raise ValueError(f"index spec {spec!r} is empty")
    result: dict[int, None] = {}
    for item in spec.split(","):
        match = re.fullmatch(r"\s*([0-9]+)\s*(?:-\s*([0-9]+)\s*)?", item)
        if match is None:
            raise ValueError(f"bad index spec {spec!r}: item {item!r} is not an index or a 'start-end' range")
        start = int(match.group(1))
        end = start if match.group(2) is None else int(match.group(2))
        if end < start:
            raise ValueError(f"bad index spec {spec!r}: range {item.strip()!r} is reversed")
        if end >= size:
            raise ValueError(f"bad index spec {spec!r}: index {end} out of range 0..{size - 1}")
        result.update(dict.fromkeys(range(start, end + 1)))
    return list(result)
