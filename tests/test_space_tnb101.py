"""The TransNAS-Bench-101 micro and macro plug-ins (zcjax.spaces.tnb101)."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conftest import full_or_sample
import zcjax.spaces as spaces
from zcjax.spaces import tnb101
from zcjax.spaces.space import SpaceNetwork

NAMES = ["tnb101_micro", "tnb101_macro"]
CLASSIFICATION = ("class_object", "class_scene", "jigsaw", "room_layout")


@pytest.fixture(params=NAMES)
def space(request):
    return spaces.get(request.param)


def _param_count(shapes) -> int:
    return sum(int(np.prod(leaf.shape)) for leaf in jax.tree_util.tree_leaves(shapes["params"]))


def _kernel_norms(variables) -> float:
    """Sum of the Frobenius norms of every kernel (zcjax's l2_norm), in NumPy."""
    leaves = jax.tree_util.tree_leaves_with_path(variables["params"])
    return sum(float(np.linalg.norm(np.asarray(v, np.float64))) for path, v in leaves if path[-1].key == "kernel")


# ----------------------------------------------------------------------------- encodings


def test_registry_gives_the_plug_ins():
    assert isinstance(spaces.get("tnb101_micro"), tnb101.MicroSpace)
    assert isinstance(spaces.get("tnb101_macro"), tnb101.MacroSpace)
    for space in (spaces.get(n) for n in NAMES):
        assert space.tasks == tnb101.TASKS and space.check_task(None) == "class_object"


def test_micro_string_and_naslib_key_forms():
    space = spaces.get("tnb101_micro")
    arch = (1, 0, 0, 2, 1, 0)
    assert space.format(arch) == "64-41414-1_00_210"
    assert space.parse("64-41414-1_00_210") == space.canonical("(1, 0, 0, 2, 1, 0)") == arch
    assert space.canonical(np.array(arch)) == space.canonical([1, 0, 0, 2, 1, 0]) == arch
    assert space.index((0,) * 6) == 0 and space.index((3,) * 6) == 4095 and space.index((0, 0, 0, 0, 1, 0)) == 4
    assert space.arch_at(space.index(arch)) == arch
    assert tnb101.cell_code("(3, 3, 3, 3, 3, 3)") == "3_33_333"
    for bad in ("64-41414-1_00_21", "64-41414-1_00_214", "32-41414-1_00_210", "64-4141-1_00_210", "(1, 0, 0)",
                (1, 0, 0, 2, 1), (0, 0, 0, 0, 0, 4), (0.5,) * 6, "nope", "64-1234-basic"):
        with pytest.raises(ValueError):
            space.canonical(bad)


def test_macro_string_and_naslib_key_forms():
    space = spaces.get("tnb101_macro")
    arch = (1, 2, 4, 2, 0, 0)
    assert space.format(arch) == "64-1242-basic"
    assert space.parse("64-1242-basic") == space.canonical("(1, 2, 4, 2, 0, 0)") == arch
    assert space.canonical((1, 2, 4, 2)) == space.canonical(np.array([1, 2, 4, 2, 0, 0])) == arch
    assert space.canonical("64-414141-basic") == (4, 1, 4, 1, 4, 1) and tnb101.macro_code(arch) == (1, 2, 4, 2)
    for bad in ("64-124-basic",                # 3 layers
                "64-1242121-basic",            # 7 layers
                "64-1111-basic",               # no downsampling, no doubling
                "64-3333-basic",               # no channel doubling
                "64-2222-basic",               # no downsampling
                "64-444433-basic",             # 4 doublings
                "64-1252-basic", "64-1242-resnet", "32-1242-basic", (1, 2, 0, 4, 0, 0), (1, 2, 4, 2, 0, 0, 0),
                "64-41414-1_00_210"):
        with pytest.raises(ValueError):
            space.canonical(bad)
    assert space.canonical("64-3334-basic") == (3, 3, 3, 4, 0, 0)    # 4 downsamplings are allowed


def test_parse_format_round_trip(space):
    for arch in space.sample(0, 60):
        s = space.format(arch)
        assert space.parse(s) == arch == space.canonical(arch) == space.canonical(list(arch))
        assert space.canonical(str(arch)) == arch                     # NASLib's key string
        assert space.format(s) == s


def test_enumerate_size_and_index(space):
    archs = list(space.enumerate())
    assert len(archs) == space.size == len(set(archs)) == {"tnb101_micro": 4096, "tnb101_macro": 3256}[space.name]
    assert archs == sorted(archs)
    for i in (0, 1, 17, 1000, space.size - 1):
        assert space.arch_at(i) == archs[i] and space.index(archs[i]) == i
    with pytest.raises(ValueError):
        space.arch_at(space.size)
    if space.name == "tnb101_macro":
        lengths = [sum(c != 0 for c in a) for a in archs]
        assert [lengths.count(n) for n in (4, 5, 6)] == [210, 750, 2296]
        assert space.format(archs[0]) == "64-111114-basic" and space.format(archs[-1]) == "64-444311-basic"
        codes = ["".join(map(str, tnb101.macro_code(a))) for a in archs]
        assert codes == sorted(codes)                       # the string order of the macro codes


def test_neighbours_are_symmetric_at_distance_one(space):
    for arch in space.sample(1, 25):
        ns = space.neighbours(arch)
        assert len(ns) == len(set(ns)) and arch not in ns and ns
        assert all(space.canonical(n) == n for n in ns)
        assert all(space.distance(arch, n) == 1 for n in ns)
        assert all(arch in space.neighbours(n) for n in ns)
        if space.name == "tnb101_micro":
            assert len(ns) == 18
    if space.name == "tnb101_macro":
        # every valid skeleton one change, deletion or insertion away
        arch = (1, 2, 4, 2, 0, 0)
        expected = sorted(a for a in space.enumerate() if space.distance(arch, a) == 1)
        assert space.neighbours(arch) == expected
        assert (1, 2, 4, 0, 0, 0) not in expected and (2, 4, 2, 0, 0, 0) not in expected   # 3 layers
        assert (1, 4, 2, 0, 0, 0) not in expected and (1, 2, 4, 2, 1, 0) in expected
        assert space.distance("64-1242-basic", "64-2421-basic") == 2
        assert tnb101.macro_distance((1, 2, 4, 2), (1, 2, 4, 2)) == 0


def test_sample_is_reproducible(space):
    assert space.sample(7, 30) == space.sample(7, 30) != space.sample(8, 30)
    assert space.sample(jax.random.key(3), 5) == space.sample(jax.random.key(3), 5)
    drawn = space.sample(np.random.default_rng(0), 300)
    assert len(set(drawn)) == 300 and all(space.canonical(a) == a for a in drawn)
    with pytest.raises(ValueError):
        space.sample(0, space.size + 1)


# ----------------------------------------------------------------------------- ground truth


def test_ground_truth_for_every_task(space):
    counts = {"tnb101_micro": dict.fromkeys(tnb101.TASKS, 711),
              "tnb101_macro": {**dict.fromkeys(tnb101.TASKS, 725), "class_object": 662, "class_scene": 662}}
    for task in tnb101.TASKS:
        truth = space.ground_truth(task)
        assert len(truth) == counts[space.name][task] and all(space.canonical(a) == a for a in truth)
        values = np.array(list(truth.values()))
        assert np.all(np.isfinite(values))
        if task == "room_layout":
            assert np.all(values < 0)                                  # minus the L2 loss
        elif task in ("normal", "autoencoder"):
            assert np.all((values > 0) & (values < 1))                 # SSIM
        else:
            assert np.all((values > 0) & (values <= 100))              # percent
    with pytest.raises(ValueError, match="task"):
        space.ground_truth("cifar10")


def test_ground_truth_rows_and_naslib_scores():
    micro, macro = spaces.get("tnb101_micro"), spaces.get("tnb101_macro")
    assert micro.ground_truth("class_scene")[(1, 0, 0, 2, 1, 0)] == pytest.approx(34.89251708984375)
    assert macro.ground_truth("class_scene")[(1, 2, 4, 2, 0, 0)] == pytest.approx(54.29438781738281)
    assert micro.naslib_scores("class_scene", "params")[(1, 0, 0, 2, 1, 0)] == pytest.approx(0.910687)
    assert set(micro.naslib_scores("jigsaw", "snip")) == set(micro.ground_truth("jigsaw"))
    with pytest.raises(ValueError, match="synflow"):
        micro.naslib_scores("class_object", "synflow")               # NASLib's rows have none
    with pytest.raises(ValueError, match="task"):
        macro.naslib_scores("svhn", "params")


# ----------------------------------------------------------------------------- networks


def test_bad_task_or_option_is_a_one_line_value_error(space):
    arch = space.arch_at(5)
    for task in ("segmentsemantic", "normal", "autoencoder"):
        with pytest.raises(ValueError, match="no network") as info:
            space.network(arch, task)
        assert "\n" not in str(info.value)
    with pytest.raises(ValueError, match="unknown task"):
        space.network(arch, "cifar10")
    with pytest.raises(ValueError, match="unknown network option"):
        space.network(arch, "class_object", width=3)
    with pytest.raises(ValueError, match="base_channels"):
        space.network(arch, "class_object", base_channels=5)
    with pytest.raises(ValueError):
        space.network((9,) * 6, "class_object")


def test_network_shapes_for_each_task(space):
    arch = space.arch_at(123)
    for task, outputs, shape in (("class_object", 100, (256, 256, 3)), ("class_scene", 63, (256, 256, 3)),
                                 ("jigsaw", 1000, (9, 64, 64, 3)), ("room_layout", 9, (256, 256, 3))):
        net = space.network(arch, task)
        assert isinstance(net, SpaceNetwork) and net.num_classes == outputs and net.input_shape == shape
        assert net.spec_fields["synflow_batchnorm"] == "drop" and net.spec_fields["mutable"] == ("batch_stats",)
        assert ("loss" in net.spec_fields) == (task == "room_layout")
    net = space.network(arch, "jigsaw", base_channels=4, input_size=16, blocks_per_layer=1)
    out = jax.eval_shape(lambda v: net.module.apply(v, jnp.zeros((2, *net.input_shape)), mutable=["batch_stats"]),
                         net.shapes())
    assert out[0].shape == (2, 1000)


def test_micro_network_structure():
    net = spaces.get("tnb101_micro").network("64-41414-1_00_210", "class_object")
    p = net.shapes()["params"]["encoder"]
    assert p["stem_conv"]["kernel"].shape == (3, 3, 3, 32)
    assert p["stem_relu_conv_bn"]["conv"]["kernel"].shape == (3, 3, 32, 64)
    cell = p["layer0_0"]                                       # 64 -> 128, stride 2
    assert set(cell) == {"edge0", "edge3"}      # skip (FactorizedReduce) and conv1x1; no zeros, no identity
    assert cell["edge0"]["conv_0"]["kernel"].shape == (1, 1, 64, 64)
    assert cell["edge3"]["conv"]["kernel"].shape == (1, 1, 64, 128)
    assert set(p["layer1_0"]) == {"edge3"}                     # stride 1: the skips are identities
    assert p["layer4_1"]["edge3"]["conv"]["kernel"].shape == (1, 1, 512, 512)
    assert net.shapes()["params"]["head"]["kernel"].shape == (512, 100)


@pytest.mark.parametrize("name", NAMES)
def test_params_and_flops_equal_naslib_on_a_sample(name):
    # params: every trainable parameter (conv kernels, BatchNorm scale and shift, the head's weight and bias),
    # jax.eval_shape of the network, exactly NASLib's params (millions, 6 decimals). flops: score_model's
    # multiply-adds equal the structural count, whose tensorwatch variant equals NASLib's flops.
    space = spaces.get(name)
    for task in ("class_object", "class_scene", "room_layout"):
        params = space.naslib_scores(task, "params")
        flops = space.naslib_scores(task, "flops")
        for arch in [sorted(params)[i] for i in {"class_object": (0,), "class_scene": (300,),
                                                 "room_layout": (650,)}[task]]:
            net = space.network(arch, task)
            counts = space.reference_counts(arch, task)
            assert _param_count(net.shapes()) == counts["params"] == round(params[arch] * 1e6), (task, arch)
            assert counts["naslib_flops"] == round(flops[arch] * 1e6), (task, arch)
    arch = sorted(space.naslib_scores("jigsaw", "params"))[7]
    net = space.network(arch, "jigsaw")
    sizes = net.score(proxies="params,flops")
    counts = space.reference_counts(arch, "jigsaw")
    assert sizes == {"params": counts["params"], "flops": counts["flops"]}
    assert sizes["params"] == round(space.naslib_scores("jigsaw", "params")[arch] * 1e6)
    assert counts["naslib_flops"] == round(space.naslib_scores("jigsaw", "flops")[arch] * 1e6)


@pytest.mark.parametrize("name", NAMES)
def test_structural_counts_equal_naslib_on_every_row(name):
    # cheap (no network): all 711 / 725 rows of each network task.
    space = spaces.get(name)
    kind = name.split("_")[1]
    for task in CLASSIFICATION:
        for arch, row in tnb101.records(kind, task).items():
            counts = space.reference_counts(arch, task)
            assert counts["params"] == round(row["naslib_scores"]["params"] * 1e6), (task, arch)
            assert counts["naslib_flops"] == round(row["naslib_scores"]["flops"] * 1e6), (task, arch)


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_network_params_equal_naslib_on_many_rows(name):
    # jax.eval_shape of distinct networks' encoders (one per arch: the encoder is the same for every task)
    # plus each task's head, against NASLib's params of every row of those archs (~0.4 s an arch on the
    # shared 2-core machine; every arch was checked once, ZCJAX_FULL_CHECKS=1 runs that, CI a seeded 60);
    # and the score_model params and flops of one arch per task. The structural counts of every row are
    # checked by test_structural_counts_equal_naslib_on_every_row.
    from zcjax.spaces.tnb101.network import Encoder

    space = spaces.get(name)
    kind = name.split("_")[1]
    rows = {task: tnb101.records(kind, task) for task in CLASSIFICATION}
    archs = full_or_sample(sorted(set().union(*rows.values())), 60)
    for arch in archs:
        macro_code, cell = space._encoder(arch)
        encoder = Encoder(macro_code, cell)
        shapes = jax.eval_shape(lambda: encoder.init(jax.random.key(0), jnp.zeros((1, 32, 32, 3))))
        channels = 2 ** sum(c % 2 == 0 for c in macro_code) * 64
        for task in CLASSIFICATION:
            row = rows[task].get(arch)
            if row is None:
                continue
            fan_in = channels * (9 if task == "jigsaw" else 1)
            head = fan_in * tnb101.NUM_OUTPUTS[task] + tnb101.NUM_OUTPUTS[task]
            assert _param_count(shapes) + head == round(row["naslib_scores"]["params"] * 1e6), (task, arch)
    for part, task in enumerate(CLASSIFICATION):
        for arch in space.sample(3 + part, 1):
            net = space.network(arch, task)
            counts = space.reference_counts(arch, task)
            assert net.score(proxies="params,flops") == {"params": counts["params"], "flops": counts["flops"]}


@pytest.mark.parametrize("name", NAMES)
def test_initial_weights_match_naslib_l2_norm(name):
    # l2_norm (sum of every conv and linear weight's norm) depends on the initial weights alone: NASLib's
    # values, for the benchmark's init (Kaiming normal fan-out convs, PyTorch's default linear head), are
    # matched to 0.3% by this init on every network tried (its spread is the draws').
    from zcjax.spaces.tnb101.network import numpy_init

    space = spaces.get(name)
    for task, index in (("class_object", 10), ("jigsaw", 500)):
        reference = space.naslib_scores(task, "l2_norm")
        arch = sorted(reference)[index]
        net = space.network(arch, task)
        ours = _kernel_norms(numpy_init(net.shapes(), np.random.default_rng(index)))
        assert ours == pytest.approx(reference[arch], rel=0.01), (task, arch)


@pytest.mark.slow  # two compiled float64 forward passes, ~35 s on the shared machine
def test_jigsaw_tiles_share_the_encoder_with_per_tile_batch_statistics():
    # One batched call with TileBatchNorm = PyTorch's loop over the 9 tiles (float64: equal to rounding).
    from zcjax.spaces.tnb101.network import Encoder, numpy_init

    net = spaces.get("tnb101_macro").network("64-1342-basic", "jigsaw", base_channels=4, input_size=8,
                                             blocks_per_layer=1)
    # float64 through flax's nn.BatchNorm (which mixes in float32) needs standard dtype promotion
    with jax.enable_x64(True), jax.numpy_dtype_promotion("standard"):
        drawn = numpy_init(net.shapes(), np.random.default_rng(0))
        variables = jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), drawn)
        x = jax.random.normal(jax.random.key(1), (3, 9, 8, 8, 3), jnp.float64)
        out, _ = jax.jit(lambda v, x: net.module.apply(v, x, mutable=["batch_stats"]))(variables, x)
        encoder = Encoder((1, 3, 4, 2), None, 4, 1)
        enc_vars = {"params": variables["params"]["encoder"], "batch_stats": variables["batch_stats"]["encoder"]}
        apply = jax.jit(lambda tile: encoder.apply(enc_vars, tile, mutable=["batch_stats"])[0].mean((1, 2)))
        features = jnp.concatenate([apply(x[:, t]) for t in range(9)], -1)
        head = variables["params"]["head"]
        np.testing.assert_allclose(np.asarray(out), np.asarray(features @ head["kernel"] + head["bias"]),
                                   rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name,arch", [("tnb101_micro", (1, 0, 0, 2, 1, 0)), ("tnb101_macro", (1, 1, 1, 4, 0, 0))])
def test_tiny_network_scores_end_to_end(name, arch):
    # every data-free proxy and snip; 14-20 s each on the shared 2-core machine, nearly all of it XLA compiling.
    from zcjax.registry import resolve
    from zcjax.spaces.tnb101.network import numpy_init

    space = spaces.get(name)
    net = space.network(arch, "class_object", base_channels=4, input_size=8, blocks_per_layer=1)
    x = np.asarray(jax.random.normal(jax.random.key(1), (4, *net.input_shape)), np.float32)
    y = np.arange(4, dtype=np.int32)
    names = tuple(resolve("data-free", engine="model")) + ("snip",)
    variables = numpy_init(net.shapes(), np.random.default_rng(0))
    scores = net.score(variables, (x, y), names)
    assert set(scores) == set(names)
    assert scores["l2_norm"] == pytest.approx(_kernel_norms(variables), rel=1e-5)
    assert all(math.isfinite(v) for v in scores.values()), scores
    assert scores["synflow"] > 0 and scores["snip"] > 0 and scores["l2_norm"] > 0
    # One all-ones input and batch statistics: every path to the pool ends in a BatchNorm whose output has
    # zero spatial mean, so synflow_bn is 0 (to rounding) for these networks.
    assert abs(scores["synflow_bn"]) <= 1e-6 * scores["synflow"]
    counts = space.reference_counts(arch, "class_object", base_channels=4, input_size=8, blocks_per_layer=1)
    assert (scores["params"], scores["flops"]) == (counts["params"], counts["flops"])


@pytest.mark.slow  # the 9-tile network compiles for ~30 s
@pytest.mark.parametrize("name,arch", [("tnb101_micro", (1, 0, 0, 2, 1, 0)), ("tnb101_macro", (1, 1, 1, 4, 0, 0))])
def test_tiny_jigsaw_network_scores_end_to_end(name, arch):
    from zcjax.registry import resolve
    from zcjax.spaces.tnb101.network import numpy_init

    space = spaces.get(name)
    net = space.network(arch, "jigsaw", base_channels=4, input_size=8, blocks_per_layer=1)
    x = np.asarray(jax.random.normal(jax.random.key(1), (4, *net.input_shape)), np.float32)
    y = np.array([0, 999, 5, 17], np.int32)
    names = tuple(resolve("data-free", engine="model")) + ("snip", "jacob_cov")
    scores = net.score(numpy_init(net.shapes(), np.random.default_rng(0)), (x, y), names)
    assert all(math.isfinite(v) for v in scores.values()), scores
    counts = space.reference_counts(arch, "jigsaw", base_channels=4, input_size=8, blocks_per_layer=1)
    assert (scores["params"], scores["flops"]) == (counts["params"], counts["flops"])


@pytest.mark.slow
def test_room_layout_scores_with_its_regression_loss():
    from zcjax.spaces.tnb101.network import numpy_init

    net = spaces.get("tnb101_micro").network((1, 0, 0, 2, 1, 0), "room_layout", base_channels=4, input_size=8,
                                             blocks_per_layer=1)
    x = np.asarray(jax.random.normal(jax.random.key(1), (4, *net.input_shape)), np.float32)
    y = np.asarray(jax.random.normal(jax.random.key(2), (4, 9)), np.float32)     # float targets, MSE
    scores = net.score(numpy_init(net.shapes(), np.random.default_rng(0)), (x, y), "snip,grad_norm")
    assert all(math.isfinite(v) and v > 0 for v in scores.values()), scores
