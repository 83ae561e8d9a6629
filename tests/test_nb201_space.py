"""Tests for the NAS-Bench-201 arch encoding and the accuracy table."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from zcjax.spaces.nb201 import benchmark
from zcjax.spaces.nb201 import (
    DATASETS,
    EDGES,
    NUM_ARCHS,
    OPS,
    DatasetInfo,
    accuracies,
    accuracy,
    accuracy_columns,
    all_archs,
    all_ops,
    arch_at,
    arch_to_ops,
    dataset_info,
    index_of,
    neighbours,
    ops_to_arch,
    parse_arch,
    parse_indices,
)

ROW0 = "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|"
ROW0_OPS = (1, 3, 4, 3, 4, 4)
op_tuples = st.tuples(*[st.integers(0, len(OPS) - 1)] * len(EDGES))


def test_constants():
    assert OPS == ("none", "avg_pool_3x3", "nor_conv_3x3", "nor_conv_1x1", "skip_connect")
    assert EDGES == ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
    assert NUM_ARCHS == 15625 == len(OPS) ** len(EDGES)


def test_parse_known_arch():
    assert parse_arch(ROW0) == ROW0_OPS
    assert parse_arch(f"  {ROW0}\n") == ROW0_OPS
    assert ops_to_arch(ROW0_OPS) == ROW0


@given(op_tuples)
def test_ops_round_trip(ops):
    arch = ops_to_arch(ops)
    assert parse_arch(arch) == ops
    assert arch_to_ops(arch) == ops
    assert arch_to_ops(list(ops)) == ops
    assert arch_to_ops(np.array(ops, dtype=np.int32)) == ops
    assert ops_to_arch(arch) == arch


def test_arch_to_ops_returns_python_ints():
    ops = arch_to_ops(np.array(ROW0_OPS, dtype=np.int64))
    assert ops == ROW0_OPS
    assert all(type(o) is int for o in ops)


def test_table_round_trip():
    archs = all_archs()
    ops = all_ops()
    assert len(archs) == NUM_ARCHS
    assert ops.shape == (NUM_ARCHS, 6) and ops.dtype == np.int32
    for arch, row in zip(archs, ops.tolist()):
        assert parse_arch(arch) == tuple(row)
        assert ops_to_arch(row) == arch


def test_table_split_refuses_a_string_that_is_not_canonical():
    good = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
    assert benchmark._table_ops([good]).tolist() == [[0] * 6]
    with pytest.raises(RuntimeError, match="not canonical"):
        benchmark._table_ops([good.replace("none~1|none~2", "conv~1|none~2")])
    with pytest.raises(RuntimeError, match="expected 6"):
        benchmark._table_ops([good[: -len("none~2|")]])


def test_table_is_the_whole_space():
    archs = all_archs()
    assert len(set(archs)) == NUM_ARCHS
    space = set(itertools.product(range(len(OPS)), repeat=len(EDGES)))
    assert {tuple(row) for row in all_ops().tolist()} == space


def test_index_of_arch_at_round_trip():
    archs = all_archs()
    ops = all_ops()
    for i in range(0, NUM_ARCHS, 7):
        assert arch_at(i) == archs[i]
        assert index_of(archs[i]) == i
        assert index_of(ops[i]) == i
        assert index_of(tuple(ops[i].tolist())) == i
    assert arch_at(np.int64(NUM_ARCHS - 1)) == archs[-1]


@given(op_tuples)
def test_index_of_any_cell(ops):
    assert arch_to_ops(arch_at(index_of(ops))) == ops


@pytest.mark.parametrize("bad", [-1, NUM_ARCHS, 10**6])
def test_arch_at_out_of_range(bad):
    with pytest.raises(IndexError, match="out of range 0..15624"):
        arch_at(bad)


@pytest.mark.parametrize("bad", [1.0, "3", True, None])
def test_arch_at_not_an_int(bad):
    with pytest.raises(ValueError, match="must be an int"):
        arch_at(bad)


def test_index_of_malformed():
    with pytest.raises(ValueError, match="unknown op"):
        index_of(ROW0.replace("avg_pool_3x3", "max_pool_3x3"))


def test_cached_arrays_are_not_shared():
    ops = all_ops()
    ops[0] = 0
    assert tuple(all_ops()[0].tolist()) == ROW0_OPS
    acc = accuracies("cifar10")
    acc[0] = -1.0
    assert accuracies("cifar10")[0] == pytest.approx(81.9827)


def test_row0():
    assert arch_at(0) == ROW0
    assert index_of(ROW0) == 0
    assert accuracy(0, "cifar10") == pytest.approx(81.9827)
    assert accuracy(ROW0, "cifar10", "val") == pytest.approx(81.9827)
    assert accuracy(ROW0_OPS, "cifar10-valid") == pytest.approx(81.9827)
    assert accuracy(np.int32(0), "cifar10", "train") == pytest.approx(88.9187)
    assert accuracy(0, "cifar10", "test") == pytest.approx(81.52)
    assert accuracy(0, "cifar100", "val") == pytest.approx(52.7)
    assert accuracy(0, "ImageNet16-120", "test") == pytest.approx(26.6333)


@pytest.mark.parametrize(
    ("dataset", "best"), [("cifar10", 91.61), ("cifar100", 73.49), ("ImageNet16-120", 46.73)]
)
def test_best_val_accuracy(dataset, best):
    acc = accuracies(dataset, "val")
    assert acc.shape == (NUM_ARCHS,)
    assert round(float(acc.max()), 2) == best
    assert accuracy(int(acc.argmax()), dataset) == acc.max()


def test_accuracy_columns():
    columns = accuracy_columns("cifar10")
    assert list(columns) == ["cifar10_valid_train", "cifar10_valid_val", "cifar10_valid_test"]
    for split in ("train", "val", "test"):
        np.testing.assert_array_equal(columns[f"cifar10_valid_{split}"], accuracies("cifar10", split))
    assert list(accuracy_columns("imagenet16_120")) == [
        "imagenet16_120_train",
        "imagenet16_120_val",
        "imagenet16_120_test",
    ]
    for column in accuracy_columns("cifar100").values():
        assert column.shape == (NUM_ARCHS,)
        assert np.all((column >= 0) & (column <= 100))


def test_bad_split():
    with pytest.raises(ValueError, match="unknown split 'valid'.*train, val, test"):
        accuracy(0, "cifar10", "valid")
    with pytest.raises(ValueError, match="unknown split"):
        accuracies("cifar10", "x")


def test_datasets():
    assert set(DATASETS) == {"cifar10", "cifar100", "ImageNet16-120"}
    assert DATASETS["cifar10"] == DatasetInfo("cifar10", 10, 32, "cifar10_valid")
    assert DATASETS["cifar100"] == DatasetInfo("cifar100", 100, 32, "cifar100")
    assert DATASETS["ImageNet16-120"] == DatasetInfo("ImageNet16-120", 120, 16, "imagenet16_120")
    with pytest.raises(AttributeError):
        DATASETS["cifar10"].num_classes = 3


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("cifar10", "cifar10"),
        ("CIFAR10", "cifar10"),
        ("cifar10-valid", "cifar10"),
        ("cifar10_valid", "cifar10"),
        ("Cifar100", "cifar100"),
        ("ImageNet16-120", "ImageNet16-120"),
        ("imagenet16-120", "ImageNet16-120"),
        ("ImageNet16_120", "ImageNet16-120"),
    ],
)
def test_dataset_info_aliases(name, expected):
    assert dataset_info(name) is DATASETS[expected]


@pytest.mark.parametrize("name", ["mnist", "cifar", "imagenet", "", None])
def test_dataset_info_unknown(name):
    with pytest.raises(ValueError, match="unknown dataset.*cifar10, cifar100, ImageNet16-120"):
        dataset_info(name)


def test_neighbours():
    for arch in (ROW0, arch_at(1234), ops_to_arch((0,) * 6), ops_to_arch((4,) * 6)):
        ops = arch_to_ops(arch)
        near = neighbours(arch)
        assert len(near) == 24 and len(set(near)) == 24
        assert arch not in near
        for other in near:
            assert sum(a != b for a, b in zip(ops, arch_to_ops(other))) == 1
            assert arch in neighbours(other)
        assert neighbours(ops) == near


def test_neighbours_order():
    near = [arch_to_ops(arch) for arch in neighbours((0, 0, 0, 0, 0, 0))]
    assert near[:5] == [(1, 0, 0, 0, 0, 0), (2, 0, 0, 0, 0, 0), (3, 0, 0, 0, 0, 0), (4, 0, 0, 0, 0, 0), (0, 1, 0, 0, 0, 0)]
    assert near[-1] == (0, 0, 0, 0, 0, 4)
    assert [arch_to_ops(arch) for arch in neighbours((2, 2, 2, 2, 2, 2))][:4] == [
        (0, 2, 2, 2, 2, 2),
        (1, 2, 2, 2, 2, 2),
        (3, 2, 2, 2, 2, 2),
        (4, 2, 2, 2, 2, 2),
    ]


@given(op_tuples, op_tuples)
def test_neighbour_relation_is_symmetric(a, b):
    distance = sum(x != y for x, y in zip(a, b))
    assert (ops_to_arch(b) in neighbours(a)) == (distance == 1)
    assert (ops_to_arch(a) in neighbours(b)) == (distance == 1)


BAD_STRINGS = [
    (None, "must be a str"),
    (b"|none~0|", "must be a str"),
    ("", "empty"),
    ("   ", "empty"),
    (ROW0[1:], r"missing leading '\|'"),
    (ROW0[:-1], r"missing trailing '\|'"),
    (ROW0.replace("|+|", "| + |", 1), "whitespace"),
    (ROW0.replace("~0|+", "~0 |+", 1), "whitespace"),
    (ROW0.replace("skip_connect", "skip connect", 1), "whitespace"),
    ("|none~0|+|none~0|none~1|", "expected 3 node groups.*got 2"),
    (ROW0 + "+|none~0|none~1|none~2|none~3|", "expected 3 node groups.*got 4"),
    (ROW0.replace("|+|", "||", 1), "expected 3 node groups.*got 2"),
    ("|none~0|+|none~0|+|none~0|none~1|none~2|", r"node group 2 .* has 1 edge\(s\), expected 2"),
    ("|none~0|+|none~0|none~1|+|none~0|none~1|", r"node group 3 .* has 2 edge\(s\), expected 3"),
    ("|none~0|none~1|+|none~0|none~1|+|none~0|none~1|none~2|", r"node group 1 .* has 2 edge\(s\), expected 1"),
    ("|none~0|+|none~0|none~1|none~2|+|none~0|none~1|none~2|", r"node group 2 .* has 3 edge\(s\), expected 2"),
    ("|none~0|+none~0|none~1|+|none~0|none~1|none~2|", r"node group 2 .* must be enclosed in '\|'"),
    ("|none~0|+|none~0|none~1+|none~0|none~1|none~2|", r"node group 2 .* must be enclosed in '\|'"),
    ("|none~0|++|none~0|none~1|none~2|", r"node group 2 \(''\) must be enclosed"),
    ("||+|none~0|none~1|+|none~0|none~1|none~2|", r"edge 0 \(0->1\) is empty"),
    ("|none~0|+|none~0||+|none~0|none~1|none~2|", r"edge 2 \(1->2\) is empty"),
    (ROW0.replace("avg_pool_3x3", "max_pool_3x3"), "unknown op 'max_pool_3x3'.*valid ops are none, avg_pool_3x3"),
    (ROW0.replace("nor_conv_1x1", "conv_1x1", 1), r"unknown op 'conv_1x1' in edge 1 \(0->2\)"),
    (ROW0.replace("avg_pool_3x3", "AVG_POOL_3X3"), "unknown op 'AVG_POOL_3X3'"),
    (ROW0.replace("avg_pool_3x3~0", "~0"), "unknown op ''"),
    (ROW0.replace("avg_pool_3x3~0", "avg_pool_3x3"), r"edge 0 \(0->1\) is 'avg_pool_3x3', expected 'op~0'"),
    (ROW0.replace("avg_pool_3x3~0", "avg_pool_3x3~0~0"), r"edge 0 \(0->1\) .* expected 'op~0'"),
    (ROW0.replace("skip_connect~2", "skip_connect~1"), r"input node index of edge 5 \(2->3\) is 1, expected 2"),
    (ROW0.replace("skip_connect~2", "skip_connect~7"), r"input node index of edge 5 \(2->3\) is 7, expected 2"),
    (ROW0.replace("avg_pool_3x3~0", "avg_pool_3x3~1"), r"input node index of edge 0 \(0->1\) is 1, expected 0"),
    (ROW0.replace("avg_pool_3x3~0", "avg_pool_3x3~-1"), "is -1, expected 0"),
    (ROW0.replace("avg_pool_3x3~0", "avg_pool_3x3~00"), "is 00, expected 0"),
    (ROW0.replace("avg_pool_3x3~0", "avg_pool_3x3~x"), r"input node index 'x' of edge 0 \(0->1\) is not an integer"),
    (ROW0.replace("skip_connect~2", "skip_connect~2.0"), r"'2.0' of edge 5 \(2->3\) is not an integer"),
    (ROW0.replace("skip_connect~2", "skip_connect~"), r"'' of edge 5 \(2->3\) is not an integer"),
]


@pytest.mark.parametrize(("bad", "message"), BAD_STRINGS)
def test_parse_arch_rejects(bad, message):
    with pytest.raises(ValueError, match=message) as info:
        parse_arch(bad)
    if isinstance(bad, str) and bad.strip():
        assert repr(bad) in str(info.value)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ((0, 1, 2, 3, 4), "sequence of 6 op indices"),
        ((0, 1, 2, 3, 4, 0, 1), "sequence of 6 op indices"),
        ([], "sequence of 6 op indices"),
        (np.zeros((2, 6), dtype=int), "sequence of 6 op indices"),
        (np.int64(3), "sequence of 6 op indices"),
        (None, "sequence of 6 op indices"),
        ({0, 1, 2, 3, 4, 5}, "sequence of 6 op indices"),
        ((0, 1, 2, 3, 4, 5), "must be in 0..4"),
        ((0, 1, 2, 3, 4, -1), "must be in 0..4"),
        (np.array([0, 0, 0, 0, 0, 9]), "must be in 0..4"),
        ((0.0, 1.0, 2.0, 3.0, 4.0, 0.0), "must be integers"),
        (np.zeros(6, dtype=np.float32), "must be integers"),
        ((True, False, True, False, True, False), "must be integers"),
        ((0, 1, 2, 3, 4, "0"), "must be integers"),
        ((0, 1, 2, 3, 4, None), "must be integers"),
        ("|none~0|", "expected 3 node groups"),
    ],
)
def test_arch_to_ops_rejects(bad, message):
    with pytest.raises(ValueError, match=message):
        arch_to_ops(bad)
    with pytest.raises(ValueError, match=message):
        ops_to_arch(bad)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("0", [0]),
        ("15624", [15624]),
        ("0-3", [0, 1, 2, 3]),
        ("5-5", [5]),
        ("0-2,200,300-302", [0, 1, 2, 200, 300, 301, 302]),
        ("10,2,7", [10, 2, 7]),
        ("3,1-4,2", [3, 1, 2, 4]),
        ("1,1,1", [1]),
        (" 1 , 2 - 4 ", [1, 2, 3, 4]),
    ],
)
def test_parse_indices(spec, expected):
    assert parse_indices(spec) == expected


def test_parse_indices_full_range():
    assert parse_indices(f"0-{NUM_ARCHS - 1}") == list(range(NUM_ARCHS))
    assert parse_indices("0-99,200,300-302") == [*range(100), 200, 300, 301, 302]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "empty"),
        ("  ", "empty"),
        (None, "must be a str"),
        ("1,,2", "item '' is not an index"),
        ("1,", "item '' is not an index"),
        (",1", "item '' is not an index"),
        ("a", "item 'a' is not an index"),
        ("-5", "item '-5' is not an index"),
        ("1-2-3", "item '1-2-3' is not an index"),
        ("1-", "item '1-' is not an index"),
        ("1.5", "item '1.5' is not an index"),
        ("1;2", "item '1;2' is not an index"),
        ("5-3", "range '5-3' is reversed"),
        ("15625", "index 15625 out of range 0..15624"),
        ("0-20000", "index 20000 out of range 0..15624"),
    ],
)
def test_parse_indices_rejects(spec, message):
    with pytest.raises(ValueError, match=message):
        parse_indices(spec)
