"""The NAS-Bench-301 / DARTS plug-in (zcjax.spaces.nb301): encodings, neighbours, ground truth, network sizes, scoring."""

from __future__ import annotations

import ast
import collections

import chex
import jax
import numpy as np
import pytest

from conftest import full_or_sample
import zcjax.spaces as spaces
from zcjax.spaces import nb301
from zcjax.spaces.nb301 import benchmark
from zcjax.spaces.space import SpaceNetwork

# DARTS_V2 (Liu et al.'s genotypes.py), the normal cell's first node written with its edges swapped.
DARTS_V2 = ("Genotype(normal=[('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), "
            "('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], "
            "normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), "
            "('max_pool_3x3', 1), ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), "
            "('max_pool_3x3', 1)], reduce_concat=range(2, 6))")
DARTS_V2_ARCH = (0, 3, 1, 3, 0, 3, 1, 3, 0, 2, 1, 3, 0, 2, 2, 5,
                 0, 0, 1, 0, 1, 0, 2, 2, 0, 0, 2, 2, 1, 0, 2, 2)


@pytest.fixture(scope="module")
def space():
    return spaces.get("nb301")


def _one_line_error(fn, *args, match=None):
    with pytest.raises(ValueError, match=match) as info:
        fn(*args)
    assert "\n" not in str(info.value), str(info.value)
    return str(info.value)


# ----------------------------------------------------------------------------- encodings


def test_registry_and_constants(space):
    assert isinstance(space, nb301.NB301Space) and space is spaces.get("darts") is spaces.get("NAS-Bench-301")
    assert space.size is None and space.tasks == ("cifar10",)
    assert nb301.OPS == ("max_pool_3x3", "avg_pool_3x3", "skip_connect", "sep_conv_3x3", "sep_conv_5x5",
                         "dil_conv_3x3", "dil_conv_5x5")                      # NASLib's compact op order
    assert nb301.NUM_ARCHS == (1 * 3 * 6 * 10 * 7**8) ** 2 and 1e18 < nb301.NUM_ARCHS < 1.1e18
    assert "?" in repr(space)


def test_parse_genotype_and_canonical_edge_order(space):
    arch = space.parse(DARTS_V2)
    assert arch == DARTS_V2_ARCH
    s = space.format(arch)
    assert s.startswith("Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1),") and "concat=[2, 3, 4, 5]" in s
    assert space.parse(s) == arch and space.format(s) == s
    g = nb301.genotype(arch)
    assert g["reduce"][:2] == [("max_pool_3x3", 0), ("max_pool_3x3", 1)] and g["normal_concat"] == [2, 3, 4, 5]
    Genotype = collections.namedtuple("Genotype", "normal normal_concat reduce reduce_concat")
    assert space.canonical(Genotype(**g)) == arch                                  # a DARTS Genotype object
    positional = f"Genotype({g['normal']!r}, [2, 3, 4, 5], {g['reduce']!r}, [2, 3, 4, 5])"
    assert space.parse(positional) == arch


def test_round_trip_on_samples(space):
    for arch in space.sample(0, 40):
        s = space.format(arch)
        assert space.parse(s) == arch == space.canonical(list(arch)) == space.canonical(np.asarray(arch))
        assert space.parse(nb301.format_compact(arch)) == arch
        assert space.canonical(nb301.compact(arch)) == arch
        for start in range(0, 32, 4):                                            # the smaller input first
            assert arch[start] < arch[start + 2]


def test_parse_accepts_the_naslib_keys_of_the_ground_truth(space):
    rows = spaces.ground_truth_rows(benchmark.TABLE_FILE)
    row = rows[0]
    arch = space.parse(row["naslib_key"])
    compact = ast.literal_eval(row["naslib_key"])
    for cell in range(2):                                                         # the same edges, per node
        for node in range(4):
            ours = {tuple(arch[16 * cell + 4 * node: 16 * cell + 4 * node + 2]),
                    tuple(arch[16 * cell + 4 * node + 2: 16 * cell + 4 * node + 4])}
            assert ours == {tuple(compact[cell][2 * node]), tuple(compact[cell][2 * node + 1])}
    # tuples of tuples, or a flat 32 in NASLib's order, give the same canonical arch
    assert space.parse(str(tuple(tuple(tuple(p) for p in c) for c in compact))) == arch
    assert space.canonical(np.asarray(compact).reshape(-1)) == arch
    assert len({space.parse(r["naslib_key"]) for r in rows}) == 725


@pytest.mark.parametrize("bad, match", [
    ("not an arch", "NB301"),
    ("[[(0, 0)]]", "2 cells x 8"),
    (DARTS_V2.replace("('dil_conv_3x3', 2)", "('none', 2)"), "unknown op 'none'"),
    ("Genotype(normal=[('sep_conv_3x3', 0)] * 8, reduce=[])", "not a literal"),
    (DARTS_V2.replace("('dil_conv_3x3', 2)", "('dil_conv_3x3', 5)"), "normal cell, node 3, edge 1: input 5 out of range 0..4"),
    (DARTS_V2.replace("reduce_concat=range(2, 6)", "reduce_concat=[2, 3]"), "reduce_concat"),
    ((9,) * 32, "input 9 out of range 0..1"),
    ((0, 7) + (1, 0) + DARTS_V2_ARCH[4:], "op 7 out of range 0..6"),
    ((1, 0, 1, 3) + DARTS_V2_ARCH[4:], "both edges come from input 1"),
    ((0,) * 8, "expected 32 ints"),
    ((0.5,) * 32, "expected 32 ints"),
    (None, "NB301"),
])
def test_bad_arch_is_a_one_line_value_error(space, bad, match):
    _one_line_error(space.canonical, bad, match=match)


def test_bad_task_and_option_are_one_line_value_errors(space):
    _one_line_error(space.ground_truth, "cifar100", match="unknown task 'cifar100'")
    _one_line_error(space.network, DARTS_V2_ARCH, "svhn", match="unknown task")
    _one_line_error(lambda: space.network(DARTS_V2_ARCH, channels=5), match="channels must be even")
    _one_line_error(lambda: space.network(DARTS_V2_ARCH, width=3), match="unknown nb301 network option")
    _one_line_error(space.parse, 42, match="expected")
    _one_line_error(space.naslib_scores, "zen", match="unknown NASLib proxy")
    _one_line_error(space.sample, 0, -1, match="non-negative")
    _one_line_error(benchmark.record, space.sample(5, 1)[0], match="not among the 725")


# ----------------------------------------------------------------------------- neighbours, distance, sampling


def test_neighbours_are_valid_distinct_symmetric_and_at_distance_one(space):
    for arch in [DARTS_V2_ARCH, *space.sample(1, 10)]:
        ns = space.neighbours(arch)
        assert len(ns) == len(set(ns)) == 120 and arch not in ns
        assert all(space.canonical(n) == n for n in ns)
        assert all(space.distance(arch, n) == 1 == space.distance(n, arch) for n in ns)
        assert all(arch in space.neighbours(n) for n in ns[::17])


def test_distance_is_the_edit_distance(space):
    a = DARTS_V2_ARCH
    assert space.distance(a, a) == 0 and space.distance(a, space.format(a)) == 0
    # swapping the two ops of a node (inputs kept) is two edits, however the tuple differs
    swapped = (0, 3, 1, 3, 0, 3, 1, 3, 0, 3, 1, 2) + a[12:]
    assert space.distance(a, swapped) == 2 and space.distance(swapped, a) == 2
    x, y = space.sample(3, 2)
    two_steps = space.neighbours(space.neighbours(x)[5])[77]
    assert space.distance(x, two_steps) <= 2 and space.distance(x, y) == space.distance(y, x) > 2


def test_sample_is_reproducible_and_uniform_over_inputs(space):
    assert space.sample(7, 30) == space.sample(7, 30) != space.sample(8, 30)
    assert space.sample(jax.random.key(3), 5) == space.sample(jax.random.key(3), 5)
    drawn = space.sample(np.random.default_rng(0), 2000)
    assert len(set(drawn)) == 2000 and all(space.canonical(a) == a for a in drawn[:50])
    arr = np.asarray(drawn)
    # node 3 of the normal cell: its unordered input pair is uniform over the 10 pairs of 0..4
    pairs = collections.Counter(map(tuple, arr[:, [12, 14]].tolist()))
    assert len(pairs) == 10 and min(pairs.values()) > 140
    assert set(np.unique(arr[:, 1::2])) == set(range(7)) and space.sample(0, 0) == []


# ----------------------------------------------------------------------------- ground truth


def test_ground_truth_and_naslib_scores(space):
    truth = space.ground_truth()
    assert len(truth) == 725 and all(len(a) == 32 for a in truth)
    values = np.array(list(truth.values()))
    assert np.all((values > 90) & (values < 95))
    row = benchmark.record(next(iter(truth)))
    assert row["val_accuracy"] == truth[next(iter(truth))] and set(row["naslib_scores"]) == set(benchmark.PROXIES)
    for proxy in benchmark.PROXIES:
        scores = space.naslib_scores(proxy)
        assert list(scores) == list(truth) and all(np.isfinite(v) for v in scores.values())


# ----------------------------------------------------------------------------- network sizes against NASLib's


def _covering_archs():
    """Two archs that put every op on an edge from a cell input and on an edge from a node, in both cells."""
    inputs = [(0, 1), (0, 2), (1, 3), (3, 4)]
    kinds = [s < 2 for pair in inputs for s in pair]
    archs = []
    for r in range(2):
        seq = {True: iter([(4 * r + j) % 7 for j in range(4)]), False: iter([(4 * r + j) % 7 for j in range(4)])}
        ops = [next(seq[k]) for k in kinds]
        cell = [v for (i, j), (o1, o2) in zip(inputs, zip(ops[::2], ops[1::2])) for v in (i, o1, j, o2)]
        archs.append(tuple(cell + cell))
    covered = {(a[i + 1], a[i] < 2) for a in archs for i in range(0, 16, 2)}
    assert covered == {(op, k) for op in range(7) for k in (True, False)}
    return archs


def test_closed_form_counts_equal_naslibs_on_all_725():
    for arch in benchmark.archs():
        counts, row = benchmark.naslib_counts(arch), benchmark.record(arch)["naslib_scores"]
        assert counts["params"] == round(row["params"] * 1e6) and counts["flops"] == round(row["flops"] * 1e6)


def test_network_params_and_flops_equal_the_closed_form(space):
    # The network's counts are sums over its modules, each fixed by (cell, op, edge from an input or a node):
    # equal on archs covering every such term, they are equal on every arch (small network: 3 cells).
    for arch in _covering_archs():
        sizes = space.network(arch, channels=8, layers=3).score(proxies="params,flops")
        counts = benchmark.naslib_counts(arch, channels=8, layers=3)
        assert sizes == {"params": counts["params"], "flops": counts["macs"]}


def _sizes_match_naslib(space, arch):
    row = benchmark.record(arch)["naslib_scores"]
    sizes = space.network(arch).score(proxies="params,flops")
    extra = benchmark.naslib_counts(arch)["flops"] - benchmark.naslib_counts(arch)["macs"]
    return sizes["params"] == round(row["params"] * 1e6) and sizes["flops"] + extra == round(row["flops"] * 1e6)


def test_full_network_params_and_flops_equal_naslibs(space):
    arch = benchmark.archs()[0]
    assert _sizes_match_naslib(space, arch), space.format(arch)


@pytest.mark.slow  # ~5 s a network on the shared 2-core machine
def test_full_network_params_and_flops_equal_naslibs_on_many(space):
    # All 725 were checked once (about an hour, 0 mismatches; ZCJAX_FULL_CHECKS=1 runs that); CI checks a seeded 10.
    archs = full_or_sample(benchmark.archs(), 10)
    bad = [space.format(a) for a in archs if not _sizes_match_naslib(space, a)]
    assert not bad, bad[:3]


def test_network_structure(space):
    net = space.network(DARTS_V2_ARCH)
    assert isinstance(net, SpaceNetwork) and net.input_shape == (32, 32, 3) and net.num_classes == 10
    assert net.spec_fields["synflow_batchnorm"] == "drop" and net.spec_fields["mutable"] == ("batch_stats",)
    shapes = net.shapes()
    params = shapes["params"]
    assert params["stem"]["kernel"].shape == (3, 3, 3, 96)
    assert set(params["cell3"]["preprocess0"]) == {"conv_1", "conv_2", "bn"}           # after the reduction
    assert params["cell0"]["node0_edge0"]["depthwise_1"]["kernel"].shape == (3, 3, 1, 32)
    assert "node0_edge0" in shapes["batch_stats"]["cell2"] and "node0_edge0" not in params["cell2"]  # pool: BN, no affine
    assert params["cell7"]["node3_edge1"]["pointwise"]["kernel"].shape == (1, 1, 128, 128)  # dil_conv_3x3
    assert "node2_edge0" not in params["cell0"] and "node2_edge0" not in shapes["batch_stats"]["cell0"]  # identity
    assert params["classifier"]["kernel"].shape == (512, 10)
    out = jax.eval_shape(lambda v: net.module.apply(v, np.zeros((2, 32, 32, 3), np.float32), train=True,
                                                    mutable=["batch_stats"])[0], shapes)
    assert out.shape == (2, 10)


# ----------------------------------------------------------------------------- scoring a small network


def test_small_network_scored_end_to_end(space):
    from zcjax.spaces.nb301.network import numpy_init

    # pools and identities (the cheapest to compile), 4 channels, 2 cells (both reduction cells: the
    # float64 compile of each convolution costs seconds on a CPU; the slow test below scores 3 cells, every op)
    arch = (0, 0, 1, 2, 0, 1, 2, 2, 0, 2, 1, 0, 0, 1, 4, 0,
            0, 0, 1, 1, 0, 1, 2, 1, 1, 1, 3, 2, 0, 1, 4, 0)
    net = space.network(arch, channels=4, layers=2)
    variables = numpy_init(net.shapes(), np.random.default_rng(0))
    scores = net.score(variables, None, "data-free")
    assert set(scores) >= {"synflow", "synflow_bn", "l2_norm", "params", "flops"}
    chex.assert_tree_all_finite({k: np.float64(v) for k, v in scores.items()})
    assert scores["synflow"] > 0 and scores["params"] == benchmark.naslib_counts(arch, 4, 2)["params"]
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(4, 32, 32, 3)).astype(np.float32), np.arange(4) % 10
    grad = net.score(variables, (x, y), "grad_norm")
    assert np.isfinite(grad["grad_norm"]) and grad["grad_norm"] > 0


@pytest.mark.slow  # every op, every proxy: 3-5 minutes on the shared 2-core machine (float64 compiles)
def test_small_network_with_every_op_scores_every_proxy(space):
    from zcjax.spaces.nb301.network import numpy_init

    cell = (0, 0, 1, 1, 0, 2, 2, 3, 1, 4, 3, 5, 2, 6, 4, 2)                     # the 7 ops, each cell
    assert {cell[i] for i in range(1, 16, 2)} == set(range(7))
    net = space.network(cell + cell, channels=4, layers=3)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(8, 32, 32, 3)).astype(np.float32), np.arange(8) % 10
    scores = net.score(numpy_init(net.shapes(), rng), (x, y), "all", key=jax.random.key(0))
    bad = {k: v for k, v in scores.items() if not np.isfinite(v)}
    assert not bad and len(scores) >= 20, bad
