"""Image data for scoring: the shipped CIFAR-10 sample, on-disk datasets, batch files.

Zero-cost proxies read one labelled minibatch. This module supplies it, as a
normalised float32 NCHW array and int64 labels, from one of three sources:

* the CIFAR-10 sample shipped with the package (``zcjax/_data/cifar10_default.npz``:
  1024 train and 256 test images; its first 64 train images are the minibatch the
  golden reference values were computed on), used when no ``data_dir`` is given;
* a dataset in its standard on-disk format (``--data-dir``): CIFAR-10
  (``cifar-10-batches-py``), CIFAR-100 (``cifar-100-python``) or NAS-Bench-201's
  ImageNet16-120 (a folder of ``train_data_batch_1`` .. ``train_data_batch_10`` and
  ``val_data``);
* an explicit minibatch saved as ``.npz`` (:func:`load_batch_file`,
  :func:`save_batch_file`).

Normalisation follows the reference implementation: ``(x / 255 - mean) / std`` per
channel in float32, which equals torchvision's ``ToTensor`` + ``Normalize``.

Every bad input raises :class:`DataError` with a one-line message naming the
problem and the path. The module needs only numpy.

The dataset pickles are read with a restricted unpickler that only rebuilds numpy
arrays, dicts, lists and scalars, so a folder passed as ``--data-dir`` cannot run
code when it is loaded.
"""

from __future__ import annotations

import importlib.resources
import os
import pickle
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "DATASETS",
    "NORMALISATION",
    "DataError",
    "canonical_dataset",
    "get_minibatch",
    "load_batch_file",
    "load_default",
    "load_images",
    "normalise",
    "save_batch_file",
]


class DataError(ValueError):
    """Raised for any unusable data source or argument (bad path, file, shape, ...)."""


DATASETS: tuple[str, ...] = ("cifar10", "cifar100", "ImageNet16-120")

NORMALISATION: dict[str, tuple[tuple[float, float, float], tuple[float, float, float]]] = {
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)),
    "cifar100": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
    "ImageNet16-120": (
        (122.68 / 255, 116.66 / 255, 104.01 / 255),
        (63.22 / 255, 61.26 / 255, 65.09 / 255),
    ),
}

_ALIASES = {
    "cifar10": "cifar10",
    "cifar-10": "cifar10",
    "cifar10-valid": "cifar10",
    "cifar100": "cifar100",
    "cifar-100": "cifar100",
    "imagenet16-120": "ImageNet16-120",
}

# Per dataset: image side and number of classes (after ImageNet16-120's filter).
_IMAGE_SIZE = {"cifar10": 32, "cifar100": 32, "ImageNet16-120": 16}
_NUM_CLASSES = {"cifar10": 10, "cifar100": 100, "ImageNet16-120": 120}

_CIFAR10_DIR = "cifar-10-batches-py"
_CIFAR100_DIR = "cifar-100-python"
_IMAGENET16_DIRS = ("ImageNet16", "ImageNet16-120", "imagenet16", "imagenet16-120")
_IMAGENET16_RAW_CLASSES = 1000
_IMAGENET16_KEPT = _NUM_CLASSES["ImageNet16-120"]  # stored labels 1..120 kept

_SPLITS = {"train": "train", "test": "test", "val": "test", "valid": "test"}

_DEFAULT_FILE = "cifar10_default.npz"


# --------------------------------------------------------------------------- names


def canonical_dataset(name: str) -> str:
    """Returns the canonical dataset name.

    Args:
      name: 'cifar10', 'cifar100' or 'ImageNet16-120'; case-insensitive, with '_'
        or '-' as separator ('cifar10-valid', 'imagenet16-120', 'ImageNet16_120'
        work too).

    Returns:
      One of :data:`DATASETS`.

    Raises:
      DataError: if the name is unknown.
    """
    key = name.strip().lower().replace("_", "-") if isinstance(name, str) else None
    if key not in _ALIASES:
        raise DataError(f"unknown dataset {name!r}; valid names are {', '.join(DATASETS)}")
    return _ALIASES[key]


def _is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _canonical_split(split: str) -> str:
    key = split.strip().lower() if isinstance(split, str) else None
    if key not in _SPLITS:
        raise DataError(f"unknown split {split!r}; valid splits are 'train' and 'test' ('val' = 'test')")
    return _SPLITS[key]


# --------------------------------------------------------------------------- normalisation


def normalise(x: np.ndarray, dataset: str = "cifar10") -> np.ndarray:
    """Normalises uint8 images with the dataset's per-channel mean and std.

    Computes ``(x.astype(float32) / 255 - mean) / std`` with float32 ``mean`` and
    ``std``, which equals torchvision's ``ToTensor()`` + ``Normalize(mean, std)``.

    Args:
      x: uint8 images, NCHW ``(N, 3, H, W)``.
      dataset: a dataset name (see :func:`canonical_dataset`) selecting the
        statistics in :data:`NORMALISATION`.

    Returns:
      float32 array of the same shape.

    Raises:
      DataError: if ``x`` is not uint8 NCHW with 3 channels or the dataset is unknown.
    """
    name = canonical_dataset(dataset)
    x = np.asarray(x)
    if x.dtype != np.uint8:
        raise DataError(f"normalise expects uint8 images, got dtype {x.dtype}")
    if x.ndim != 4 or x.shape[1] != 3:
        raise DataError(f"normalise expects NCHW images of shape (N, 3, H, W), got shape {x.shape}")
    mean, std = NORMALISATION[name]
    mean_a = np.asarray(mean, dtype=np.float32).reshape(1, 3, 1, 1)
    std_a = np.asarray(std, dtype=np.float32).reshape(1, 3, 1, 1)
    return ((x.astype(np.float32) / np.float32(255) - mean_a) / std_a).astype(np.float32, copy=False)


# --------------------------------------------------------------------------- shipped sample


def load_default(split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """Loads the CIFAR-10 sample shipped with the package.

    Args:
      split: 'train' (1024 images; the first 64 are the golden minibatch) or
        'test' (256 images).

    Returns:
      ``(x, y)``: uint8 images ``(N, 3, 32, 32)`` and int64 labels ``(N,)``.

    Raises:
      DataError: if the split is unknown or the shipped file is unusable.
    """
    split = _canonical_split(split)
    ref = importlib.resources.files("zcjax._data") / _DEFAULT_FILE
    try:
        with importlib.resources.as_file(ref) as path, np.load(path, allow_pickle=False) as npz:
            x = np.array(npz[f"{split}_x"])
            y = np.array(npz[f"{split}_y"]).astype(np.int64)
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as e:
        raise DataError(f"cannot read the shipped CIFAR-10 sample {ref}: {e}") from None
    return x, y


# --------------------------------------------------------------------------- pickles


class _SafeUnpickler(pickle.Unpickler):
    """Unpickler that only rebuilds numpy arrays and plain containers."""

    _ALLOWED = {
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy._core.numeric", "_frombuffer"),
        ("_codecs", "encode"),
        ("builtins", "bytearray"),
        ("builtins", "set"),
        ("builtins", "frozenset"),
        ("__builtin__", "bytearray"),
        ("__builtin__", "set"),
        ("__builtin__", "frozenset"),
    }

    def find_class(self, module: str, name: str) -> Any:
        if module.startswith("numpy.core"):  # pickled by numpy 1.x
            module = "numpy._core" + module[len("numpy.core") :]
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load global {module}.{name}")
        if module.startswith("numpy._core") and not hasattr(np, "_core"):  # numpy < 1.26
            module = "numpy.core" + module[len("numpy._core") :]
        return super().find_class(module, name)


def _load_pickle(path: Path) -> dict[str, Any]:
    """Loads one dataset pickle as a dict with str keys."""
    try:
        with open(path, "rb") as f:
            obj = _SafeUnpickler(f, encoding="latin1").load()
    except OSError as e:
        raise DataError(f"cannot read {path}: {e.strerror or e}") from None
    except Exception as e:  # noqa: BLE001 - any unpickling failure means a malformed file
        raise DataError(f"malformed pickle {path}: {type(e).__name__}: {e}") from None
    if not isinstance(obj, dict):
        raise DataError(f"malformed pickle {path}: expected a dict, got {type(obj).__name__}")
    return {(k.decode("latin1") if isinstance(k, bytes) else k): v for k, v in obj.items()}


def _read_batch(
    path: Path, label_key: str, image_size: int, label_range: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Reads and validates one pickle: uint8 NCHW images and int64 labels."""
    d = _load_pickle(path)
    for key in ("data", label_key):
        if key not in d:
            found = ", ".join(repr(k) for k in d) or "none"
            raise DataError(f"missing key '{key}' in {path} (keys found: {found})")
    try:
        data = np.asarray(d["data"])
        labels = np.asarray(d[label_key])
    except Exception as e:  # noqa: BLE001
        raise DataError(f"malformed arrays in {path}: {e}") from None
    width = 3 * image_size * image_size
    if data.ndim != 2 or data.shape[1] != width:
        raise DataError(f"wrong shape for 'data' in {path}: expected (N, {width}), got {data.shape}")
    if data.dtype != np.uint8:
        raise DataError(f"wrong dtype for 'data' in {path}: expected uint8, got {data.dtype}")
    if labels.ndim != 1 or labels.shape[0] != data.shape[0]:
        raise DataError(
            f"wrong shape for '{label_key}' in {path}: expected ({data.shape[0]},), got {labels.shape}"
        )
    if labels.size and not np.issubdtype(labels.dtype, np.integer):
        raise DataError(f"wrong dtype for '{label_key}' in {path}: expected integers, got {labels.dtype}")
    labels = labels.astype(np.int64)
    lo, hi = label_range
    if labels.size and (labels.min() < lo or labels.max() > hi):
        raise DataError(
            f"labels out of range in {path}: expected {lo}..{hi}, got {labels.min()}..{labels.max()}"
        )
    return data.reshape(-1, 3, image_size, image_size), labels


def _resolve_dir(
    data_dir: str | os.PathLike[str], names: tuple[str, ...], markers: tuple[str, ...], what: str
) -> Path:
    """Finds the dataset folder: ``data_dir`` itself or its child named one of ``names``.

    ``data_dir`` is the dataset folder if it holds any of the dataset's files
    (``markers``) or has one of the standard names; otherwise a child folder with
    a standard name is used.
    """
    root = Path(data_dir).expanduser()
    if not root.exists():
        raise DataError(f"no such folder {root} (--data-dir for {what})")
    if not root.is_dir():
        raise DataError(f"not a folder: {root} (--data-dir for {what})")
    if root.name in names or any((root / m).is_file() for m in markers):
        return root
    for name in names:
        if (root / name).is_dir():
            return root / name
    raise DataError(
        f"no {what} data in {root}: expected the folder {' or '.join(names)} or its parent "
        f"(none of {', '.join(markers)} found)"
    )


def _require_files(folder: Path, files: list[str], what: str) -> list[Path]:
    paths = [folder / f for f in files]
    for p in paths:
        if not p.is_file():
            raise DataError(f"missing file {p.name} in {folder} (expected {what} files: {', '.join(files)})")
    return paths


def _collect(
    chunks: Iterator[tuple[np.ndarray, np.ndarray]], limit: int | None, image_size: int
) -> tuple[np.ndarray, np.ndarray]:
    """Concatenates chunks, stopping once ``limit`` images are gathered."""
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    count = 0
    for x, y in chunks:
        if limit is not None:
            x, y = x[: limit - count], y[: limit - count]
        xs.append(x)
        ys.append(y)
        count += len(y)
        if limit is not None and count >= limit:
            break
    if not xs:
        return np.zeros((0, 3, image_size, image_size), np.uint8), np.zeros((0,), np.int64)
    return np.concatenate(xs), np.concatenate(ys)


def _cifar_chunks(
    paths: list[Path], label_key: str, num_classes: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    for p in paths:
        yield _read_batch(p, label_key, 32, (0, num_classes - 1))


def _imagenet16_chunks(paths: list[Path]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    for p in paths:
        x, y = _read_batch(p, "labels", 16, (1, _IMAGENET16_RAW_CLASSES))
        keep = y <= _IMAGENET16_KEPT
        yield x[keep], y[keep] - 1


def load_images(
    dataset: str,
    data_dir: str | os.PathLike[str] | None = None,
    split: str = "train",
    limit: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Loads raw images and labels of one split.

    Args:
      dataset: 'cifar10', 'cifar100' or 'ImageNet16-120' (see
        :func:`canonical_dataset` for accepted spellings).
      data_dir: the dataset folder in its standard format, or its parent:
        ``cifar-10-batches-py`` (``data_batch_1`` .. ``data_batch_5``,
        ``test_batch``), ``cifar-100-python`` (``train``, ``test``) or the
        ImageNet16 folder (``train_data_batch_1`` .. ``train_data_batch_10``,
        ``val_data``; labels 1..1000 of which only 1..120 are kept, as 0..119).
        None uses the shipped CIFAR-10 sample (CIFAR-10 only).
      split: 'train' or 'test' ('val'/'valid' are aliases of 'test').
      limit: read at most this many images, in file order, opening only as many
        files as needed. None reads the whole split.

    Returns:
      ``(x, y)``: uint8 images ``(N, 3, H, W)`` (H = W = 32, or 16 for
      ImageNet16-120) and int64 labels ``(N,)``.

    Raises:
      DataError: for an unknown dataset or split, a missing folder or file, a
        malformed pickle, wrong shapes, dtypes or labels, or a bad ``limit``.
    """
    name = canonical_dataset(dataset)
    split = _canonical_split(split)
    if limit is not None and (not _is_int(limit) or limit < 0):
        raise DataError(f"limit must be a non-negative int or None, got {limit!r}")
    if data_dir is None:
        if name != "cifar10":
            raise DataError(
                f"dataset {name!r} has no shipped sample: pass --data-dir pointing at its files"
            )
        x, y = load_default(split)
        return (x, y) if limit is None else (x[:limit], y[:limit])

    if name == "cifar10":
        all_files = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch",)
        folder = _resolve_dir(data_dir, (_CIFAR10_DIR,), all_files, "CIFAR-10")
        files = list(all_files[:5]) if split == "train" else ["test_batch"]
        paths = _require_files(folder, files, f"CIFAR-10 {split}")
        chunks = _cifar_chunks(paths, "labels", _NUM_CLASSES[name])
    elif name == "cifar100":
        folder = _resolve_dir(data_dir, (_CIFAR100_DIR,), ("train", "test"), "CIFAR-100")
        paths = _require_files(folder, [split], f"CIFAR-100 {split}")
        chunks = _cifar_chunks(paths, "fine_labels", _NUM_CLASSES[name])
    else:
        all_files = tuple(f"train_data_batch_{i}" for i in range(1, 11)) + ("val_data",)
        folder = _resolve_dir(data_dir, _IMAGENET16_DIRS, all_files, "ImageNet16-120")
        files = list(all_files[:10]) if split == "train" else ["val_data"]
        chunks = _imagenet16_chunks(_require_files(folder, files, f"ImageNet16 {split}"))
    return _collect(chunks, None if limit is None else int(limit), _IMAGE_SIZE[name])


# --------------------------------------------------------------------------- minibatch


def get_minibatch(
    dataset: str = "cifar10",
    batch_size: int = 64,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    split: str = "train",
    seed: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Returns one normalised minibatch for scoring.

    Args:
      dataset: 'cifar10', 'cifar100' or 'ImageNet16-120'.
      batch_size: number of images, a positive int no larger than the split.
      data_dir: dataset folder (see :func:`load_images`); None uses the shipped
        CIFAR-10 sample.
      split: 'train' or 'test'.
      seed: None takes the first ``batch_size`` images in file order (with the
        defaults: exactly the golden minibatch); an int draws ``batch_size``
        images without replacement from the whole split with
        ``np.random.default_rng(seed)``.

    Returns:
      ``(x, y)``: float32 normalised images ``(batch_size, 3, H, W)`` and int64
      labels ``(batch_size,)``.

    Raises:
      DataError: for a bad ``batch_size`` or ``seed``, a batch larger than the
        available images, or any error of :func:`load_images`.
    """
    name = canonical_dataset(dataset)
    if not _is_int(batch_size) or batch_size <= 0:
        raise DataError(f"batch size must be a positive int, got {batch_size!r}")
    if seed is not None and not _is_int(seed):
        raise DataError(f"seed must be an int or None, got {seed!r}")
    batch_size = int(batch_size)
    x, y = load_images(name, data_dir, split, limit=batch_size if seed is None else None)
    if len(y) < batch_size:
        where = "the shipped CIFAR-10 sample" if data_dir is None else str(data_dir)
        raise DataError(
            f"batch size {batch_size} is larger than the {len(y)} {name} {_canonical_split(split)} "
            f"images available in {where}"
        )
    if seed is not None:
        idx = np.random.default_rng(int(seed)).choice(len(y), size=batch_size, replace=False)
        x, y = x[idx], y[idx]
    return normalise(x, name), y.astype(np.int64)


# --------------------------------------------------------------------------- batch files


def _validate_batch(
    x: Any, y: Any, where: str, image_size: int | None, num_classes: int | None
) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x)
    y = np.asarray(y)
    if x.ndim != 4:
        raise DataError(f"x must be 4-D NCHW (N, 3, H, W) in {where}, got shape {x.shape}")
    if x.shape[1] != 3:
        if x.shape[3] == 3:
            raise DataError(
                f"x looks NHWC (shape {x.shape}) in {where}: expected NCHW (N, 3, H, W); "
                "transpose with x.transpose(0, 3, 1, 2)"
            )
        raise DataError(f"x must have 3 channels in axis 1 (NCHW) in {where}, got shape {x.shape}")
    if x.shape[0] == 0:
        raise DataError(f"empty batch in {where}: x has shape {x.shape}")
    if image_size is not None and x.shape[2:] != (image_size, image_size):
        raise DataError(
            f"wrong image size in {where}: expected {image_size}x{image_size}, got {x.shape[2]}x{x.shape[3]}"
        )
    if not np.issubdtype(x.dtype, np.floating):
        raise DataError(
            f"x must be floating point (already normalised) in {where}, got dtype {x.dtype}; "
            "use zcjax.data.normalise for uint8 images"
        )
    x = x.astype(np.float32)
    if not np.all(np.isfinite(x)):
        raise DataError(f"x has non-finite values (NaN or inf) in {where}")
    if y.ndim != 1 or y.shape[0] != x.shape[0]:
        raise DataError(
            f"y must be 1-D with {x.shape[0]} labels (one per image) in {where}, got shape {y.shape}"
        )
    if not np.issubdtype(y.dtype, np.integer):
        raise DataError(f"y must hold integer labels in {where}, got dtype {y.dtype}")
    y = y.astype(np.int64)
    hi = num_classes - 1 if num_classes is not None else None
    if y.min() < 0 or (hi is not None and y.max() > hi):
        expected = f"0..{hi}" if hi is not None else ">= 0"
        raise DataError(f"labels out of range in {where}: expected {expected}, got {y.min()}..{y.max()}")
    return x, y


def load_batch_file(
    path: str | os.PathLike[str],
    *,
    image_size: int | None = None,
    num_classes: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Loads an explicit, already normalised minibatch from an ``.npz`` file.

    Args:
      path: ``.npz`` with ``x`` float NCHW ``(N, 3, H, W)`` and ``y`` integer
        labels ``(N,)`` (as written by :func:`save_batch_file`).
      image_size: if given, H and W must both equal it.
      num_classes: if given, labels must lie in ``[0, num_classes)``.

    Returns:
      ``(x, y)``: float32 images and int64 labels.

    Raises:
      DataError: if the file is missing or unreadable, lacks ``x`` or ``y``, or
        holds arrays of the wrong shape, dtype, values or labels.
    """
    p = Path(path).expanduser()
    if not p.exists():
        raise DataError(f"no such file {p} (batch file)")
    if not p.is_file():
        raise DataError(f"not a file: {p} (batch file)")
    try:
        with open(p, "rb") as f:
            magic = f.read(6)
    except OSError as e:
        raise DataError(f"cannot read batch file {p}: {e.strerror}") from None
    if magic[:4] != b"PK\x03\x04" and magic != b"\x93NUMPY":
        raise DataError(f"batch file {p} is not an .npz file (expected arrays 'x' and 'y', as numpy.savez writes)")
    try:
        loaded = np.load(p, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise DataError(f"cannot read batch file {p} as .npz: {e}") from None
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        raise DataError(f"batch file {p} is a single .npy array; expected an .npz with arrays 'x' and 'y'")
    with loaded as npz:
        for key in ("x", "y"):
            if key not in npz.files:
                found = ", ".join(npz.files) or "none"
                raise DataError(f"missing key '{key}' in batch file {p} (keys found: {found})")
        try:
            x, y = npz["x"], npz["y"]
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
            raise DataError(f"malformed arrays in batch file {p}: {e}") from None
    return _validate_batch(x, y, f"batch file {p}", image_size, num_classes)


def save_batch_file(path: str | os.PathLike[str], x: np.ndarray, y: np.ndarray) -> Path:
    """Saves a normalised minibatch as ``.npz`` (the inverse of :func:`load_batch_file`).

    Args:
      path: destination; written exactly there (no ``.npz`` suffix is added).
      x: float NCHW images ``(N, 3, H, W)``, already normalised.
      y: integer labels ``(N,)``.

    Returns:
      The path written.

    Raises:
      DataError: if ``x`` or ``y`` would not load back (same checks as
        :func:`load_batch_file`).
    """
    p = Path(path).expanduser()
    x32, y64 = _validate_batch(x, y, f"batch for {p}", None, None)
    with open(p, "wb") as f:
        np.savez(f, x=x32, y=y64)
    return p
