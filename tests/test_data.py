"""Tests for zcjax.data: the shipped sample, on-disk dataset formats and batch files."""

from __future__ import annotations

import pickle
import struct
import warnings
from pathlib import Path

import numpy as np
import pytest

from zcjax import data
from zcjax.data import (
    NORMALISATION,
    DataError,
    canonical_dataset,
    get_minibatch,
    load_batch_file,
    load_default,
    load_images,
    normalise,
    save_batch_file,
)

GOLDEN_BATCH = Path(__file__).parent / "data" / "golden_nb201" / "batch.npz"


# --------------------------------------------------------------------------- fake datasets


def _images(rng: np.random.Generator, n: int, side: int) -> np.ndarray:
    return rng.integers(0, 256, size=(n, 3 * side * side), dtype=np.uint8)


def _dump(path: Path, obj: dict) -> None:
    with open(path, "wb") as f:
        pickle.dump(obj, f, protocol=2)


def _py2_str(b: bytes) -> bytes:
    """A Python 2 ``str`` pickle opcode (SHORT_BINSTRING / BINSTRING)."""
    return b"U" + bytes([len(b)]) + b if len(b) < 256 else b"T" + struct.pack("<i", len(b)) + b


def _py2_int(n: int) -> bytes:
    return b"K" + bytes([n]) if n < 256 else b"J" + struct.pack("<i", n)


def py2_cifar_pickle(x: np.ndarray, labels: list[int]) -> bytes:
    """Bytes of a pickle as Python 2 + numpy 1.x wrote the real CIFAR files.

    ``numpy.core`` globals, ``str`` (not ``bytes``) keys and array payload.
    """
    n, w = x.shape
    arr = (
        b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n" + _py2_int(0) + b"\x85" + _py2_str(b"b")
        + b"\x87R(" + _py2_int(1) + _py2_int(n) + _py2_int(w) + b"\x86"
        + b"cnumpy\ndtype\n" + _py2_str(b"u1") + _py2_int(0) + _py2_int(1) + b"\x87R"
        + b"(" + _py2_int(3) + _py2_str(b"|") + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xff" + _py2_int(0) + b"tb"
        + b"\x89" + _py2_str(x.tobytes()) + b"tb"
    )  # fmt: skip
    lab = b"](" + b"".join(_py2_int(v) for v in labels) + b"e"
    return b"\x80\x02}(" + _py2_str(b"data") + arr + _py2_str(b"labels") + lab + b"u."


def make_cifar10(root: Path, per_batch: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Writes a tiny cifar-10-batches-py under root; returns all train data and labels."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    xs, ys = [], []
    for i in range(1, 6):
        x = _images(rng, per_batch, 32)
        y = [int(v) for v in rng.integers(0, 10, per_batch)]
        _dump(folder / f"data_batch_{i}", {b"batch_label": b"training batch", b"data": x, b"labels": y})
        xs.append(x)
        ys += y
    _dump(folder / "test_batch", {b"data": _images(rng, 2, 32), b"labels": [0, 9]})
    return np.concatenate(xs), np.asarray(ys)


def make_cifar100(root: Path) -> tuple[np.ndarray, np.ndarray]:
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(1)
    x = _images(rng, 4, 32)
    y = [0, 42, 99, 7]
    _dump(folder / "train", {b"data": x, b"fine_labels": y, b"coarse_labels": [0, 1, 2, 3]})
    _dump(folder / "test", {b"data": _images(rng, 2, 32), b"fine_labels": [5, 6], b"coarse_labels": [0, 0]})
    return x, np.asarray(y)


IN16_LABELS = [
    [1, 500, 120, 121, 7],  # file 1: 500 and 121 dropped -> keeps 1, 120, 7
    [1000, 3, 2],  # file 2: keeps 3, 2
]


def make_imagenet16(root: Path, str_keys: bool = True) -> list[tuple[np.ndarray, np.ndarray]]:
    """Writes an ImageNet16 folder; files 3..10 hold one out-of-range-for-120 sample each."""
    folder = root / "ImageNet16"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(2)
    written = []
    for i in range(1, 11):
        labels = IN16_LABELS[i - 1] if i <= len(IN16_LABELS) else [10 + i, 999]
        x = _images(rng, len(labels), 16)
        key = (lambda k: k) if str_keys else (lambda k: k.encode())
        _dump(folder / f"train_data_batch_{i}", {key("data"): x, key("labels"): labels})
        written.append((x, np.asarray(labels)))
    _dump(folder / "val_data", {"data": _images(rng, 3, 16), "labels": [121, 60, 1]})
    return written


# --------------------------------------------------------------------------- names, normalisation


def test_canonical_dataset_aliases():
    for name in ("cifar10", "CIFAR10", "cifar10-valid", "cifar10_valid"):
        assert canonical_dataset(name) == "cifar10"
    assert canonical_dataset("Cifar100") == "cifar100"
    for name in ("ImageNet16-120", "imagenet16-120", "ImageNet16_120"):
        assert canonical_dataset(name) == "ImageNet16-120"
    with pytest.raises(DataError, match=r"unknown dataset 'mnist'.*cifar10, cifar100, ImageNet16-120"):
        canonical_dataset("mnist")
    with pytest.raises(DataError, match="unknown dataset"):
        get_minibatch("svhn")
    assert set(NORMALISATION) == {"cifar10", "cifar100", "ImageNet16-120"}


def test_normalise_matches_torchvision_formula():
    x = np.random.default_rng(0).integers(0, 256, size=(2, 3, 4, 4), dtype=np.uint8)
    for name, (mean, std) in NORMALISATION.items():
        m = np.asarray(mean, np.float32).reshape(1, 3, 1, 1)
        s = np.asarray(std, np.float32).reshape(1, 3, 1, 1)
        out = normalise(x, name)
        assert out.dtype == np.float32 and out.shape == x.shape
        np.testing.assert_allclose(out, (x.astype(np.float32) / 255 - m) / s, atol=1e-6, rtol=0)
    with pytest.raises(DataError, match="uint8"):
        normalise(x.astype(np.float32))
    with pytest.raises(DataError, match="NCHW"):
        normalise(x.transpose(0, 2, 3, 1))


# --------------------------------------------------------------------------- shipped sample


def test_load_default_shapes():
    x, y = load_default()
    assert x.shape == (1024, 3, 32, 32) and x.dtype == np.uint8
    assert y.shape == (1024,) and y.dtype == np.int64 and 0 <= y.min() and y.max() <= 9
    xt, yt = load_default("test")
    assert xt.shape == (256, 3, 32, 32) and yt.shape == (256,)
    with pytest.raises(DataError, match="unknown split"):
        load_default("holdout")


def test_default_minibatch_is_golden_batch_and_deterministic():
    x, y = get_minibatch()
    assert x.shape == (64, 3, 32, 32) and x.dtype == np.float32 and y.dtype == np.int64
    raw_x, raw_y = load_default()
    np.testing.assert_array_equal(x, normalise(raw_x[:64], "cifar10"))
    np.testing.assert_array_equal(y, raw_y[:64])
    x2, y2 = get_minibatch("cifar10", 64)
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)
    with np.load(GOLDEN_BATCH) as golden:
        np.testing.assert_allclose(x, golden["x"], atol=1e-6, rtol=0)
        np.testing.assert_array_equal(y, golden["y"])


def test_seeded_minibatches():
    a, ya = get_minibatch(batch_size=32, seed=1)
    b, yb = get_minibatch(batch_size=32, seed=1)
    c, _ = get_minibatch(batch_size=32, seed=2)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ya, yb)
    assert not np.array_equal(a, c)
    # without replacement: no image repeats
    assert len({img.tobytes() for img in a}) == 32
    # the whole split is sampled, not only its start
    full, _ = get_minibatch(batch_size=1024, seed=3)
    first, _ = get_minibatch(batch_size=1024)
    assert not np.array_equal(full, first)
    assert sorted(i.tobytes() for i in full) == sorted(i.tobytes() for i in first)


def test_load_images_default_and_limit():
    x, y = load_images("cifar10", limit=10)
    assert x.shape == (10, 3, 32, 32) and y.shape == (10,)
    with pytest.raises(DataError, match="--data-dir"):
        load_images("cifar100")
    with pytest.raises(DataError, match="--data-dir"):
        get_minibatch("ImageNet16-120")
    with pytest.raises(DataError, match="limit"):
        load_images("cifar10", limit=-1)


def test_batch_size_errors():
    with pytest.raises(DataError, match=r"batch size 1025 is larger than the 1024 .*shipped"):
        get_minibatch(batch_size=1025)
    with pytest.raises(DataError, match=r"batch size 257 is larger than the 256"):
        get_minibatch(batch_size=257, split="test", seed=0)
    for bad in (0, -3, 2.5, True):
        with pytest.raises(DataError, match="positive int"):
            get_minibatch(batch_size=bad)
    with pytest.raises(DataError, match="seed"):
        get_minibatch(seed="1")


# --------------------------------------------------------------------------- on-disk formats


def test_cifar10_folder_and_parent(tmp_path):
    x_all, y_all = make_cifar10(tmp_path, per_batch=3)
    for d in (tmp_path, tmp_path / "cifar-10-batches-py", str(tmp_path)):
        x, y = load_images("cifar10", d)
        assert x.shape == (15, 3, 32, 32) and x.dtype == np.uint8
        np.testing.assert_array_equal(x, x_all.reshape(-1, 3, 32, 32))
        np.testing.assert_array_equal(y, y_all)
        assert y.dtype == np.int64
    xt, yt = load_images("cifar10-valid", tmp_path, split="test")
    assert xt.shape == (2, 3, 32, 32) and yt.tolist() == [0, 9]
    # limit stops inside the second file
    x, y = load_images("cifar10", tmp_path, limit=4)
    np.testing.assert_array_equal(y, y_all[:4])
    xb, yb = get_minibatch("cifar10", 5, data_dir=tmp_path)
    np.testing.assert_array_equal(xb, normalise(x_all[:5].reshape(-1, 3, 32, 32), "cifar10"))
    xs, ys = get_minibatch("cifar10", 15, data_dir=tmp_path, seed=0)
    assert sorted(ys.tolist()) == sorted(y_all.tolist())
    with pytest.raises(DataError, match=r"batch size 16 is larger than the 15"):
        get_minibatch("cifar10", 16, data_dir=tmp_path)


def test_cifar100_folder(tmp_path):
    x_all, y_all = make_cifar100(tmp_path)
    for d in (tmp_path, tmp_path / "cifar-100-python"):
        x, y = load_images("CIFAR100", d)
        np.testing.assert_array_equal(x, x_all.reshape(-1, 3, 32, 32))
        np.testing.assert_array_equal(y, y_all)
    xb, yb = get_minibatch("cifar100", 3, data_dir=tmp_path)
    assert xb.shape == (3, 3, 32, 32) and yb.tolist() == [0, 42, 99]
    np.testing.assert_array_equal(xb, normalise(x_all[:3].reshape(-1, 3, 32, 32), "cifar100"))
    assert load_images("cifar100", tmp_path, split="test")[1].tolist() == [5, 6]


@pytest.mark.parametrize("str_keys", [True, False])
def test_imagenet16_label_filter(tmp_path, str_keys):
    written = make_imagenet16(tmp_path, str_keys=str_keys)
    x, y = load_images("ImageNet16-120", tmp_path, limit=5)
    assert x.shape == (5, 3, 16, 16) and x.dtype == np.uint8
    assert y.tolist() == [0, 119, 6, 2, 1]  # 1-based -> 0-based, > 120 dropped
    x1, l1 = written[0]
    keep = l1 <= 120
    np.testing.assert_array_equal(x[:3], x1[keep].reshape(-1, 3, 16, 16))
    # folder itself and the other spellings
    _, y2 = load_images("imagenet16_120", tmp_path / "ImageNet16", limit=3)
    assert y2.tolist() == [0, 119, 6]
    # whole split: files 3..10 each add one kept sample (label 10 + i)
    _, y_all = load_images("ImageNet16-120", tmp_path)
    assert y_all.tolist() == [0, 119, 6, 2, 1] + [10 + i - 1 for i in range(3, 11)]
    _, yv = load_images("ImageNet16-120", tmp_path, split="val")
    assert yv.tolist() == [59, 0]
    xb, yb = get_minibatch("ImageNet16-120", 4, data_dir=tmp_path)
    assert xb.shape == (4, 3, 16, 16) and xb.dtype == np.float32
    np.testing.assert_array_equal(xb, normalise(x[:4], "ImageNet16-120"))
    xs, ys = get_minibatch("ImageNet16-120", 13, data_dir=tmp_path, seed=5)
    assert sorted(ys.tolist()) == sorted(y_all.tolist())


def test_imagenet16_limit_reads_only_needed_files(tmp_path, monkeypatch):
    make_imagenet16(tmp_path)
    opened = []
    real = data._load_pickle

    def spy(path):
        opened.append(Path(path).name)
        return real(path)

    monkeypatch.setattr(data, "_load_pickle", spy)
    get_minibatch("ImageNet16-120", 3, data_dir=tmp_path)
    assert opened == ["train_data_batch_1"]
    opened.clear()
    get_minibatch("ImageNet16-120", 4, data_dir=tmp_path)
    assert opened == ["train_data_batch_1", "train_data_batch_2"]


def test_python2_cifar_pickle(tmp_path):
    make_cifar10(tmp_path)
    x = np.random.default_rng(7).integers(0, 256, size=(3, 3072), dtype=np.uint8)
    (tmp_path / "cifar-10-batches-py" / "test_batch").write_bytes(py2_cifar_pickle(x, [3, 0, 9]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no numpy.core deprecation warnings either
        xt, yt = load_images("cifar10", tmp_path, split="test")
    np.testing.assert_array_equal(xt, x.reshape(-1, 3, 32, 32))
    assert yt.tolist() == [3, 0, 9]


# --------------------------------------------------------------------------- on-disk errors


def test_missing_folder(tmp_path):
    with pytest.raises(DataError, match=r"no such folder .*nowhere"):
        load_images("cifar10", tmp_path / "nowhere")
    with pytest.raises(DataError, match=r"no CIFAR-100 data in .*cifar-100-python"):
        load_images("cifar100", tmp_path)


def test_missing_file(tmp_path):
    make_cifar10(tmp_path)
    (tmp_path / "cifar-10-batches-py" / "data_batch_3").unlink()
    with pytest.raises(DataError, match=r"missing file data_batch_3 in .*cifar-10-batches-py"):
        load_images("cifar10", tmp_path)
    make_imagenet16(tmp_path / "in16")
    (tmp_path / "in16" / "ImageNet16" / "val_data").unlink()
    with pytest.raises(DataError, match=r"missing file val_data"):
        load_images("ImageNet16-120", tmp_path / "in16", split="test")


def test_malformed_pickle_and_missing_key(tmp_path):
    make_cifar100(tmp_path)
    folder = tmp_path / "cifar-100-python"
    _dump(folder / "train", {b"data": _images(np.random.default_rng(0), 2, 32), b"labels": [1, 2]})
    with pytest.raises(DataError, match=r"missing key 'fine_labels' in .*train"):
        load_images("cifar100", tmp_path)
    (folder / "train").write_bytes(b"not a pickle at all")
    with pytest.raises(DataError, match=r"malformed pickle .*train"):
        load_images("cifar100", tmp_path)
    _dump(folder / "train", [1, 2, 3])
    with pytest.raises(DataError, match=r"malformed pickle .*expected a dict"):
        load_images("cifar100", tmp_path)


def test_pickle_with_foreign_globals_is_refused(tmp_path):
    make_cifar100(tmp_path)
    folder = tmp_path / "cifar-100-python"
    _dump(folder / "test", {b"data": Path("x"), b"fine_labels": [0]})
    with pytest.raises(DataError, match=r"malformed pickle .*refusing to load global"):
        load_images("cifar100", tmp_path, split="test")


def test_wrong_shape_dtype_and_labels(tmp_path):
    make_cifar10(tmp_path)
    folder = tmp_path / "cifar-10-batches-py"
    rng = np.random.default_rng(0)
    _dump(folder / "test_batch", {b"data": _images(rng, 2, 16), b"labels": [0, 1]})
    with pytest.raises(DataError, match=r"wrong shape for 'data' in .*test_batch.*\(N, 3072\)"):
        load_images("cifar10", tmp_path, split="test")
    _dump(folder / "test_batch", {b"data": _images(rng, 2, 32).astype(np.int32), b"labels": [0, 1]})
    with pytest.raises(DataError, match=r"wrong dtype for 'data'.*uint8"):
        load_images("cifar10", tmp_path, split="test")
    _dump(folder / "test_batch", {b"data": _images(rng, 2, 32), b"labels": [0]})
    with pytest.raises(DataError, match=r"wrong shape for 'labels'"):
        load_images("cifar10", tmp_path, split="test")
    _dump(folder / "test_batch", {b"data": _images(rng, 2, 32), b"labels": [0, 10]})
    with pytest.raises(DataError, match=r"labels out of range in .*test_batch: expected 0\.\.9"):
        load_images("cifar10", tmp_path, split="test")
    make_imagenet16(tmp_path / "in16")
    _dump(tmp_path / "in16" / "ImageNet16" / "val_data", {"data": _images(rng, 1, 16), "labels": [0]})
    with pytest.raises(DataError, match=r"labels out of range .*expected 1\.\.1000"):
        load_images("ImageNet16-120", tmp_path / "in16", split="val")


# --------------------------------------------------------------------------- batch files


def test_batch_file_roundtrip(tmp_path):
    x, y = get_minibatch(batch_size=8)
    path = save_batch_file(tmp_path / "batch.npz", x, y)
    assert path == tmp_path / "batch.npz" and path.is_file()
    x2, y2 = load_batch_file(path, image_size=32, num_classes=10)
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)
    assert x2.dtype == np.float32 and y2.dtype == np.int64
    # float64 / int32 inputs are cast
    np.savez(tmp_path / "f64.npz", x=x.astype(np.float64), y=y.astype(np.int32))
    x3, y3 = load_batch_file(tmp_path / "f64.npz")
    assert x3.dtype == np.float32 and y3.dtype == np.int64
    # the golden batch is itself a valid batch file
    gx, gy = load_batch_file(GOLDEN_BATCH, image_size=32, num_classes=10)
    assert gx.shape == (64, 3, 32, 32)


def test_batch_file_errors(tmp_path):
    x = np.zeros((4, 3, 8, 8), np.float32)
    y = np.arange(4)

    def write(name, **arrays):
        p = tmp_path / name
        with open(p, "wb") as f:
            np.savez(f, **arrays)
        return p

    with pytest.raises(DataError, match=r"no such file .*absent\.npz"):
        load_batch_file(tmp_path / "absent.npz")
    (tmp_path / "junk.npz").write_bytes(b"garbage")
    with pytest.raises(DataError, match=r"batch file .*junk\.npz is not an \.npz file"):
        load_batch_file(tmp_path / "junk.npz")
    (tmp_path / "text.npz").write_text("0.1 0.2\n")  # NumPy itself would suggest allow_pickle
    with pytest.raises(DataError, match=r"text\.npz is not an \.npz file") as info:
        load_batch_file(tmp_path / "text.npz")
    assert "pickle" not in str(info.value)
    (tmp_path / "cut.npz").write_bytes(b"PK\x03\x04garbage")
    with pytest.raises(DataError, match=r"cannot read batch file .*cut\.npz"):
        load_batch_file(tmp_path / "cut.npz")
    with pytest.raises(DataError, match=r"missing key 'y' in batch file .*noy\.npz"):
        load_batch_file(write("noy.npz", x=x))
    with pytest.raises(DataError, match=r"x looks NHWC .*nhwc\.npz"):
        load_batch_file(write("nhwc.npz", x=x.transpose(0, 2, 3, 1), y=y))
    with pytest.raises(DataError, match=r"4-D"):
        load_batch_file(write("3d.npz", x=x[0], y=y))
    with pytest.raises(DataError, match=r"3 channels"):
        load_batch_file(write("1ch.npz", x=x[:, :1], y=y))
    with pytest.raises(DataError, match=r"wrong image size .*expected 32x32, got 8x8"):
        load_batch_file(write("ok.npz", x=x, y=y), image_size=32)
    with pytest.raises(DataError, match=r"floating point"):
        load_batch_file(write("u8.npz", x=x.astype(np.uint8), y=y))
    bad = x.copy()
    bad[0, 0, 0, 0] = np.nan
    with pytest.raises(DataError, match=r"non-finite"):
        load_batch_file(write("nan.npz", x=bad, y=y))
    with pytest.raises(DataError, match=r"y must be 1-D with 4 labels"):
        load_batch_file(write("short.npz", x=x, y=y[:3]))
    with pytest.raises(DataError, match=r"integer labels"):
        load_batch_file(write("fy.npz", x=x, y=y.astype(np.float32)))
    with pytest.raises(DataError, match=r"labels out of range .*expected 0\.\.2, got 0\.\.3"):
        load_batch_file(write("ok.npz", x=x, y=y), num_classes=3)
    with pytest.raises(DataError, match=r"labels out of range"):
        load_batch_file(write("neg.npz", x=x, y=y - 1))
    with pytest.raises(DataError, match=r"x looks NHWC"):
        save_batch_file(tmp_path / "out.npz", x.transpose(0, 2, 3, 1), y)
    assert not (tmp_path / "out.npz").exists()
