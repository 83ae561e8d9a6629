"""The search-space contract (zcjax.spaces.Space), its registry, and the NAS-Bench-201 and NAS-Bench-Macro plug-ins."""

from __future__ import annotations

import itertools
from importlib import resources

import jax
import numpy as np
import pytest

import zcjax
import zcjax.spaces as spaces
from conftest import full_or_sample
from zcjax.spaces import nb201
from zcjax.spaces import macro
from zcjax.spaces.space import Space, SpaceNetwork, as_rng

SPACES = ["nb201", "nas_bench_macro"]


@pytest.fixture(params=SPACES)
def space(request) -> Space:
    return spaces.get(request.param)


# ----------------------------------------------------------------------------- registry


def test_registry_lists_and_gets_the_builtin_spaces():
    assert spaces.names()[:2] == SPACES
    assert spaces.get("nb201") is spaces.get("NB201") is spaces.get("nas-bench-201")
    assert spaces.get("macro") is spaces.get("nas_bench_macro") is spaces.get("NAS-Bench-Macro")
    assert isinstance(spaces.get("macro"), macro.MacroSpace)
    with pytest.raises(ValueError, match="unknown search space 'nb999'.*nb201"):
        spaces.get("nb999")


def test_register_a_plug_in_space():
    class Tiny(Space):
        name, tasks = "tiny_test_space", ("toy",)

        def canonical(self, arch):
            a = tuple(int(c) for c in arch)
            if len(a) != 2 or not all(0 <= c < 2 for c in a):
                raise ValueError(f"bad arch {arch!r}")
            return a

        def format(self, arch):
            return "".join(map(str, self.canonical(arch)))

        size = property(lambda self: 4)

        def enumerate(self):
            return iter(itertools.product(range(2), repeat=2))

        def neighbours(self, arch):
            from zcjax.spaces.space import hamming_neighbours

            return hamming_neighbours(self.canonical(arch), lambda i: 2)

        def network(self, arch, task=None, **options):
            raise NotImplementedError

    spaces.register("tiny_test_space", Tiny, aliases=("tiny",), overwrite=True)
    tiny = spaces.get("tiny")
    assert tiny.name in spaces.names() and tiny.sample(3, 4) == tiny.sample(3, 4)
    assert sorted(tiny.sample(0, 4)) == list(tiny.enumerate())
    assert tiny.index("10") == 2 and tiny.arch_at(3) == (1, 1) and tiny.neighbours("00") == [(1, 0), (0, 1)]
    with pytest.raises(ValueError, match="already registered"):
        spaces.register("tiny_test_space", Tiny)
    with pytest.raises(NotImplementedError):
        tiny.ground_truth()
    decorated = spaces.register("tiny_decorated", overwrite=True)(Tiny)
    assert decorated is Tiny and isinstance(spaces.get("tiny_decorated"), Tiny)
    spaces.register("not_a_space", lambda: object(), overwrite=True)
    with pytest.raises(TypeError, match="not a zcjax.spaces.Space"):
        spaces.get("not_a_space")


# ----------------------------------------------------------------------------- the contract, on both spaces


def test_parse_format_round_trip(space):
    for arch in space.sample(0, 50):
        s = space.format(arch)
        assert isinstance(s, str) and space.parse(s) == arch == space.canonical(arch) == space.canonical(list(arch))
        assert space.format(s) == s
    with pytest.raises(ValueError):
        space.parse("not an arch")
    with pytest.raises(ValueError):
        space.canonical((9,) * 8)


def test_enumerate_size_and_index(space):
    archs = list(space.enumerate())
    assert len(archs) == space.size == len(set(archs))
    assert space.size == {"nb201": 5**6, "nas_bench_macro": 3**8}[space.name]
    for i in (0, 1, 17, space.size - 1):
        assert space.arch_at(i) == archs[i] and space.index(archs[i]) == i
    with pytest.raises(ValueError):
        space.arch_at(space.size)


def test_neighbours_are_at_edit_distance_one(space):
    count = {"nb201": 6 * 4, "nas_bench_macro": 8 * 2}[space.name]
    for arch in space.sample(1, 20):
        ns = space.neighbours(arch)
        assert len(ns) == len(set(ns)) == count and arch not in ns
        assert all(space.distance(arch, n) == 1 for n in ns)
        assert all(arch in space.neighbours(n) for n in ns[:3])


def test_sample_is_reproducible_from_its_seed(space):
    assert space.sample(7, 30) == space.sample(7, 30) != space.sample(8, 30)
    assert space.sample(jax.random.key(3), 5) == space.sample(jax.random.key(3), 5)
    assert space.sample(jax.random.PRNGKey(3), 5) == space.sample(jax.random.PRNGKey(3), 5)
    drawn = space.sample(np.random.default_rng(0), 200)
    assert len(set(drawn)) == 200 and all(space.canonical(a) == a for a in drawn)
    with pytest.raises(ValueError):
        space.sample(0, space.size + 1)
    with pytest.raises(TypeError):
        as_rng(1.5)


def test_tasks_and_ground_truth(space):
    truth = space.ground_truth()
    assert len(truth) == space.size and all(isinstance(k, tuple) for k in itertools.islice(truth, 5))
    values = np.array(list(truth.values()))
    assert np.all((values > 0) & (values <= 100))
    assert space.check_task(None) == space.tasks[0]
    with pytest.raises(ValueError, match="task"):
        space.ground_truth("svhn")


def test_network_gives_what_score_model_needs(space):
    arch = space.sample(0, 1)[0]
    net = space.network(arch)
    assert isinstance(net, SpaceNetwork) and net.num_classes == 10 and net.input_shape == (32, 32, 3)
    out = jax.eval_shape(lambda v: net.module.apply(v, np.zeros((2, *net.input_shape), np.float32), *net.args,
                                                    mutable=list(net.spec().mutable), **net.spec().train_kwargs),
                         net.shapes())
    assert out[0].shape == (2, 10)
    sizes = net.score(proxies="params,flops")
    assert sizes == zcjax.score_model(net.spec(), net.shapes(), None, "params,flops")


# ----------------------------------------------------------------------------- every registered space


@pytest.fixture(params=spaces.names())
def any_space(request) -> Space:
    return spaces.get(request.param)


def test_every_space_keeps_the_contract(any_space):
    """What the engine, the search and zcjax.evaluate read of any space, on a seeded sample of its archs."""
    space = any_space
    assert space.name in spaces.names() and space.tasks and space.check_task(None) == space.tasks[0]
    archs = space.sample(0, 12)
    assert space.sample(0, 12) == archs != space.sample(1, 12) and len(set(archs)) == 12
    for arch in archs:
        s = space.format(arch)
        assert isinstance(s, str) and space.parse(s) == arch == space.canonical(arch)
        assert space.format(s) == s and space.distance(arch, arch) == 0
    for arch in archs[:4]:
        ns = space.neighbours(arch)
        assert ns and len(ns) == len(set(ns)) and arch not in ns
        assert all(space.distance(arch, n) == 1 and space.canonical(n) == n for n in ns)
        assert all(arch in space.neighbours(n) for n in ns[:2])
    if space.size is not None:
        assert space.index(archs[0]) < space.size and space.arch_at(space.index(archs[0])) == archs[0]
    with pytest.raises(ValueError):
        space.parse("not an arch")
    # Ground truth: canonical archs of the space, accuracies in (0, 100] for a classification task.
    truth = space.ground_truth()
    assert truth
    for arch, value in itertools.islice(truth.items(), 20):
        assert space.canonical(arch) == arch and space.parse(space.format(arch)) == arch
        assert np.isfinite(value)
    # The network of the default task: its output for a batch of 2, from shapes alone.
    net = space.network(archs[0])
    assert isinstance(net, SpaceNetwork)
    out = jax.eval_shape(lambda v: net.module.apply(v, np.zeros((2, *net.input_shape), np.float32), *net.args,
                                                    mutable=list(net.spec().mutable), **net.spec().train_kwargs),
                         net.shapes())
    assert out[0].shape[0] == 2
    assert net.score(proxies="params")["params"] > 0


# ----------------------------------------------------------------------------- NB201's plug-in agrees with nb201


def test_nb201_plug_in_agrees_with_nb201_functions():
    space = spaces.get("nb201")
    assert space.size == nb201.NUM_ARCHS and space.tasks == ("cifar10", "cifar100", "ImageNet16-120")
    assert list(space.enumerate())[:100] == [tuple(r) for r in nb201.all_ops()[:100].tolist()]
    for i in (0, 5, 1234, 15624):
        s = nb201.arch_at(i)
        assert space.arch_at(i) == nb201.parse_arch(s) and space.format(space.arch_at(i)) == s
        assert space.index(s) == nb201.index_of(s) == i
        assert space.neighbours(s) == [nb201.parse_arch(n) for n in nb201.neighbours(s)]
    for task in space.tasks:
        truth = space.ground_truth(task, split="test")
        ops = nb201.all_ops()
        assert [truth[tuple(r)] for r in ops[:50].tolist()] == nb201.accuracies(task, "test")[:50].tolist()
    assert space.network("|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|", "ImageNet16-120").input_shape == (16, 16, 3)
    net = space.network(nb201.arch_at(77), "cifar100", channels=4, cells_per_stage=1)
    assert net.module == nb201.build_network(nb201.arch_at(77), 100, channels=4, cells_per_stage=1)
    assert net.spec_fields["synflow_batchnorm"](("reduction1", "bn_a")) is True
    assert net.spec_fields["synflow_batchnorm"](("cell1_0", "edge0_nor_conv_3x3")) is False


# ----------------------------------------------------------------------------- NAS-Bench-Macro


def test_macro_arch_encoding():
    assert macro.parse_arch("02012100") == (0, 2, 0, 1, 2, 1, 0, 0) and macro.format_arch([0, 2, 0, 1, 2, 1, 0, 0]) == "02012100"
    assert macro.index_of("00000000") == 0 and macro.index_of("22222222") == 6560 and macro.index_of("00000010") == 3
    assert macro.canonical_arch("10201020") == (1, 0, 2, 1, 0, 0, 2, 0)
    assert macro.canonical_arch("22020010") == (2, 2, 0, 2, 0, 0, 1, 0)
    assert len({macro.canonical_arch(a) for a in spaces.get("macro").enumerate()}) == 9 * 21 * 21
    for bad in ("0201210", "02012103", (0, 1, 2), (0.5,) * 8):
        with pytest.raises(ValueError):
            macro.to_choices(bad)


def test_macro_ground_truth_loads_from_the_package():
    folder = resources.files("zcjax._data").joinpath("spaces")
    names = {p.name for p in folder.iterdir()}
    assert {"nas_bench_macro_cifar10.jsonl.gz", "nb101_cifar10_500.jsonl.gz", "nb301_cifar10_725.jsonl.gz",
            "tnb101_micro_711.jsonl.gz", "tnb101_macro.jsonl.gz", "PROVENANCE.md"} <= names
    assert spaces.ground_truth_files() == sorted(n for n in names if n.endswith(".jsonl.gz"))
    assert len(spaces.ground_truth_rows("nb101_cifar10_500.jsonl.gz")) == 500
    with pytest.raises(FileNotFoundError):
        spaces.ground_truth_rows("nope.jsonl.gz")
    row = macro.record("02012100")
    assert row["params"] == 890666 and row["flops"] == 47327744 and row["mean_acc"] == pytest.approx(89.1967, abs=1e-4)
    truth = spaces.get("macro").ground_truth()
    assert list(truth)[:2] == [(0,) * 8, (0,) * 7 + (1,)]
    # the benchmark trained one network per canonical arch and copied its row to the others
    assert truth[macro.parse_arch("10201020")] == truth[macro.canonical_arch("10201020")]
    assert spaces.get("macro").ground_truth(metric="params")[(2,) * 8] == 2932586


def _macro_sizes(arch):
    return spaces.get("macro").network(arch).score(proxies="params,flops")


@pytest.mark.parametrize("arch", ["00000000", "22222222", "11111111", "02012100", "20102010"])
def test_macro_params_and_flops_equal_the_benchmark(arch):
    # params: every trainable parameter (conv kernels, BatchNorm scale and bias, classifier weight and
    # bias; not BatchNorm's running statistics), as torch's named_parameters; flops: multiply-adds of
    # the convolutions and the classifier for one 32x32 image.
    row = macro.record(arch)
    assert _macro_sizes(arch) == {"params": row["params"], "flops": row["flops"]}


def test_macro_params_and_flops_on_a_seeded_sample():
    for arch in spaces.get("macro").sample(2026, 12):
        row = macro.record(arch)
        assert _macro_sizes(arch) == {"params": row["params"], "flops": row["flops"]}, macro.format_arch(arch)


@pytest.mark.slow
def test_macro_params_and_flops_on_many_distinct_networks():
    # 0.35 s per network on the shared 2-core machine. All 3,969 distinct networks were checked once
    # (1,370 s, 0 mismatches; ZCJAX_FULL_CHECKS=1 runs that); CI checks a seeded 50 of them.
    distinct = full_or_sample(sorted({macro.canonical_arch(a) for a in spaces.get("macro").enumerate()}), 50)
    for arch in distinct:
        row = macro.record(arch)
        assert _macro_sizes(arch) == {"params": row["params"], "flops": row["flops"]}, macro.format_arch(arch)


def test_macro_network_structure():
    net = spaces.get("macro").network("02012100")
    shapes = net.shapes()
    params = shapes["params"]
    assert "layer6" not in params and "layer7" not in params                               # stride-1 identities
    assert params["layer1"]["depthwise"]["kernel"].shape == (5, 5, 1, 6 * 64)             # MB6_K5, stage 1
    assert set(params["layer0"]) == {"conv", "bn"}                                         # downsampling identity
    assert params["layer0"]["conv"]["kernel"].shape == (1, 1, 32, 64)
    assert params["layer3"]["depthwise"]["kernel"].shape == (3, 3, 1, 3 * 128)            # MB3_K3
    assert params["layer4"]["depthwise"]["kernel"].shape == (5, 5, 1, 6 * 128)            # MB6_K5
    assert params["head"]["kernel"].shape == (1, 1, 256, 1280) and params["classifier"]["kernel"].shape == (1280, 10)
    assert set(shapes) == {"params", "batch_stats"}


@pytest.mark.slow  # ~20 s op by op at full size (session 20); the slow score test below covers the same network
def test_macro_arch_as_data_network_masks_the_unselected_candidates():
    from zcjax.spaces.macro.network import numpy_init, to_mixed_params

    space = spaces.get("macro")
    arch = (0, 2, 0, 1, 2, 1, 0, 0)
    mixed = space.network(arch, arch_as_data=True)
    shapes = mixed.shapes()
    assert {"layer0_0", "layer0_1", "layer0_2", "layer1_1", "layer1_2"} <= set(shapes["params"])
    assert "layer1_0" not in shapes["params"]                 # a stride-1 identity has no layer
    mask = mixed.spec().layer_mask(shapes["params"], *mixed.args)
    assert float(mask["layer0_0"]["conv"]["kernel"]) == 1.0 and float(mask["layer0_1"]["expand"]["kernel"]) == 0.0
    assert float(mask["layer4_2"]["depthwise"]["kernel"]) == 1.0 and float(mask["stem"]["kernel"]) == 1.0
    static = space.network(arch)
    variables = numpy_init(static.shapes(), np.random.default_rng(0))
    merged = to_mixed_params(variables, arch, numpy_init(shapes, np.random.default_rng(1)))
    assert merged["params"]["layer4_2"] is variables["params"]["layer4"]
    assert merged["batch_stats"]["head_bn"] is variables["batch_stats"]["head_bn"]
    # the mixed network computes the static network's logits
    x = np.random.default_rng(2).normal(size=(2, 32, 32, 3)).astype(np.float32)
    out_static, _ = static.module.apply(variables, x, train=True, mutable=["batch_stats"])
    out_mixed, _ = mixed.module.apply(merged, x, *mixed.args, train=True, mutable=["batch_stats"])
    np.testing.assert_allclose(np.asarray(out_mixed), np.asarray(out_static), rtol=1e-5, atol=1e-5)


@pytest.mark.slow  # ~4 minutes on the shared 2-core machine (the mixed network compiles for minutes)
def test_macro_arch_as_data_scores_equal_the_static_network():
    from zcjax.spaces.macro.network import numpy_init, to_mixed_params

    space = spaces.get("macro")
    x = np.random.default_rng(0).normal(size=(8, 32, 32, 3)).astype(np.float32)
    y = np.arange(8) % 10
    names = "synflow,snip,grad_norm,jacob_cov,synflow_ssnr_layerwise"
    for arch in [(0, 2, 0, 1, 2, 1, 0, 0), (1, 0, 2, 0, 0, 2, 1, 0)]:
        static, mixed = space.network(arch), space.network(arch, arch_as_data=True)
        variables = numpy_init(static.shapes(), np.random.default_rng(1))
        merged = to_mixed_params(variables, arch, numpy_init(mixed.shapes(), np.random.default_rng(2)))
        expected, got = static.score(variables, (x, y), names), mixed.score(merged, (x, y), names)
        for name in expected:
            assert got[name] == pytest.approx(expected[name], rel=1e-5), name
