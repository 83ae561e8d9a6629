"""Property tests of the proxies and the engine, on small networks."""

import math
import warnings

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import zcjax
from zcjax.data import get_minibatch
from zcjax.proxies._tree import layer_norms
from zcjax.proxies.hessian import hessian_vector_product
from zcjax.proxies.jacobian import jacob_cov_score
from zcjax.proxies.ssnr import ssnr
from zcjax.proxies.synflow import synflow_saliency
from zcjax.scoring import cross_entropy, float32_stage
from zcjax.spaces import nb201
import zcjax.spaces.nb201.network  # noqa: F401
from zcjax.spaces.nb201 import initializers

SMALL = dict(channels=4, cells_per_stage=1)
ALL_NONE = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"


@pytest.fixture(scope="module")
def batch():
    x, y = get_minibatch("cifar10", 8)
    return jnp.asarray(x.transpose(0, 2, 3, 1)), jnp.asarray(y)


def small_net(arch=None):
    return nb201.NB201Network(arch=None if arch is None else nb201.arch_to_ops(arch), **SMALL)


def test_hvp_equals_finite_difference_of_gradients(batch):
    # A smooth network: across ReLU kinks a finite difference of gradients does not
    # converge (each crossed kink adds a jump / eps). The NB201 HVP is checked by grasp parity.
    from flax import linen as nn

    class Smooth(nn.Module):
        @nn.compact
        def __call__(self, x):
            f64 = dict(dtype=jnp.float64, param_dtype=jnp.float64)
            x = jnp.tanh(nb201.network.BatchStatNorm()(nn.Conv(4, (3, 3), **f64)(x)))
            x = jnp.tanh(nn.Conv(4, (3, 3), strides=2, **f64)(x)).mean(axis=(1, 2))
            return nn.Dense(10, **f64)(x)

    x, y = batch
    with jax.enable_x64(True):
        xs = x.astype(jnp.float64)
        model = Smooth()
        params = jax.tree.map(lambda p: p.astype(jnp.float64), model.init(jax.random.key(0), xs)["params"])

        def loss(p):
            return cross_entropy(model.apply({"params": p}, xs), y)

        v = jax.tree.map(lambda a: jax.random.normal(jax.random.key(a.size), a.shape, a.dtype), params)
        hv = hessian_vector_product(loss, params, v)
        eps = 1e-5
        grad = jax.grad(loss)
        plus = grad(jax.tree.map(lambda a, b: a + eps * b, params, v))
        minus = grad(jax.tree.map(lambda a, b: a - eps * b, params, v))
        fd = jax.tree.map(lambda p, m: (p - m) / (2 * eps), plus, minus)
        scale = max(float(jnp.abs(b).max()) for b in jax.tree.leaves(fd))
        for a, b in zip(jax.tree.leaves(hv), jax.tree.leaves(fd)):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-8 * scale)


def test_snip_bounds_plain_and_grad_norm_nonnegative(batch):
    x, y = batch
    model = small_net("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_1x1~1|+|skip_connect~0|nor_conv_3x3~1|avg_pool_3x3~2|")
    params = model.init(jax.random.key(1), x[:1])["params"]
    out = float32_stage(model, ["snip", "plain", "grad_norm", "l2_norm"], params, None, x, y)
    assert out["snip"] >= abs(out["plain"])
    assert out["grad_norm"] > 0 and out["l2_norm"] > 0
    chex.assert_type([out["snip"], out["plain"]], jnp.float32)


@pytest.mark.slow  # ~1 minute of eager grasp; the README command's arch-as-data check: test_later_proxies' nwot_randn
def test_arch_as_data_equals_static_network(batch):
    x, y = batch
    names = ["grad_norm", "snip", "grasp", "fisher", "plain", "l2_norm", "params", "flops", "snip_ssnr_layerwise"]
    mixed = small_net()
    stage = jax.jit(lambda p, o: float32_stage(mixed, names, p, o, x, y))
    for arch in ("|nor_conv_1x1~0|+|avg_pool_3x3~0|nor_conv_3x3~1|+|none~0|nor_conv_1x1~1|avg_pool_3x3~2|",
                 "|skip_connect~0|+|nor_conv_3x3~0|none~1|+|nor_conv_1x1~0|skip_connect~1|nor_conv_3x3~2|"):
        static = small_net(arch)
        params = static.init(jax.random.key(2), x[:1])["params"]
        ops = jnp.asarray(nb201.arch_to_ops(arch), jnp.int32)
        mixed_params = nb201.to_mixed_params(params, **SMALL)
        np.testing.assert_allclose(mixed.apply({"params": mixed_params}, x, ops), static.apply({"params": params}, x),
                                   rtol=1e-5, atol=1e-6)
        a, b = float32_stage(static, names, params, None, x, y), stage(mixed_params, ops)
        for n in names:
            np.testing.assert_allclose(b[n], a[n], rtol=1e-4, err_msg=n)


def test_switch_edges_equal_select_edges(batch):
    # edge_branch='switch' runs only each edge's chosen op; it must compute what select_n does: for every op,
    # values and pull-backs, under vmap over ops (where JAX turns the switch back into a select), and inside the
    # arch-as-data and conv-pattern networks. (VKDNW's Jacobian test checks its derivatives through the switch.)
    from zcjax.spaces.nb201.network import _select_op

    x, c = jax.random.normal(jax.random.key(0), (2, 2, 6, 6, 3))
    for op in range(5):
        outs = [jax.vjp(lambda x, c: _select_op(jnp.int32(op), x, c, b), x, c) for b in ("select", "switch")]
        chex.assert_trees_all_close(outs[1][0], outs[0][0])
        chex.assert_trees_all_close(outs[1][1](x * c), outs[0][1](x * c))
    many = jnp.arange(5, dtype=jnp.int32)
    chex.assert_trees_all_close(jax.vmap(lambda o: _select_op(o, x, c, "switch"))(many),
                                jax.vmap(lambda o: _select_op(o, x, c))(many))
    x = batch[0][:2]
    arch = "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|avg_pool_3x3~0|none~1|nor_conv_3x3~2|"  # every op
    ops = jnp.asarray(nb201.arch_to_ops(arch), jnp.int32)
    for net in (small_net(), small_net().clone(arch=nb201.conv_pattern(nb201.arch_to_ops(arch)))):
        params = net.init(jax.random.key(4), x[:1], ops)["params"]
        chex.assert_trees_all_close(net.clone(edge_branch="switch").apply({"params": params}, x, ops),
                                    net.apply({"params": params}, x, ops), rtol=1e-5, atol=1e-7)
    text = jax.jit(lambda p: small_net().clone(edge_branch="switch").apply({"params": p}, x, ops)).lower(
        small_net().init(jax.random.key(4), x[:1], ops)["params"]).as_text()
    assert "stablehlo.case" in text  # a real branch, not a select
    with pytest.raises(ValueError, match="edge_branch must be 'select' or 'switch'"):
        small_net().clone(edge_branch="cond").init(jax.random.key(0), x[:1], ops)


def test_same_key_same_weights_in_both_networks(batch):
    x, _ = batch
    arch = "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|none~0|avg_pool_3x3~1|nor_conv_3x3~2|"
    static = small_net(arch).init(jax.random.key(3), x[:1])["params"]
    mixed = small_net().init(jax.random.key(3), x[:1], jnp.asarray(nb201.arch_to_ops(arch)))["params"]
    for path, leaf in jax.tree_util.tree_flatten_with_path(static)[0]:
        other = mixed
        for p in path:
            other = other[p.key]
        np.testing.assert_array_equal(leaf, other)


def test_pytorch_default_init_bounds(batch):
    params = small_net("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_1x1~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
                       ).init(jax.random.key(4), batch[0][:1])["params"]
    for path, leaf in jax.tree_util.tree_flatten_with_path(params)[0]:
        name = path[-1].key
        module = params
        for p in path[:-1]:
            module = module[p.key]
        if name in ("kernel", "bias") and "kernel" in module:
            fan_in = math.prod(module["kernel"].shape[:-1])
            assert float(jnp.abs(leaf).max()) <= 1 / math.sqrt(fan_in) + 1e-7


REFERENCE_INITS = {
    "uniform fan_in": (initializers.variance_scaling(1 / 3, "fan_in", "uniform"),
                       jax.nn.initializers.variance_scaling(1 / 3, "fan_in", "uniform")),
    "normal fan_in": (initializers.variance_scaling(2.0, "fan_in", "normal"),
                      jax.nn.initializers.variance_scaling(2.0, "fan_in", "normal")),
    "normal fan_avg": (initializers.variance_scaling(1.0, "fan_avg", "normal"),
                       jax.nn.initializers.variance_scaling(1.0, "fan_avg", "normal")),
    "bias": (initializers.uniform(1 / 12), lambda k, s, d=jnp.float32: jax.random.uniform(k, s, d, -1 / 12, 1 / 12)),
    "zeros": (initializers.constant(0.0), jax.nn.initializers.zeros),
    "ones": (initializers.constant(1.0), jax.nn.initializers.ones),
}


@pytest.mark.parametrize("name", REFERENCE_INITS)
@pytest.mark.parametrize("shape", [(1, 1, 32, 64), (3, 3, 32, 32), (5000, 7)])
def test_initializers_are_jax_bit_for_bit(name, shape):
    # Eagerly they draw a prefix of a bucket-sized draw (of 4096, 16384 and 65536 here).
    ours, reference = REFERENCE_INITS[name]
    key = jax.random.fold_in(jax.random.key(3), len(shape))
    eager = ours(key, shape, jnp.float32)
    assert isinstance(eager, jax.Array)
    chex.assert_trees_all_equal(eager, reference(key, shape, jnp.float32), strict=True)
    chex.assert_trees_all_equal(jax.jit(lambda k: ours(k, shape, jnp.float32))(key),
                                jax.jit(lambda k: reference(k, shape, jnp.float32))(key), strict=True)


def test_eager_init_is_jitted_init():
    model = small_net()
    x0, ops = jnp.zeros((1, 32, 32, 3)), jnp.asarray(nb201.arch_to_ops(nb201.arch_at(77)), jnp.int32)
    key = zcjax.cell_key(0, 77)
    chex.assert_trees_all_equal(model.init(key, x0, ops)["params"],
                                jax.jit(lambda k, o: model.init(k, x0, o)["params"])(key, ops), strict=True)


def test_synflow_needs_x64_and_is_float64(batch):
    model = small_net("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_1x1~1|+|skip_connect~0|nor_conv_3x3~1|avg_pool_3x3~2|")
    params = model.init(jax.random.key(5), batch[0][:1])["params"]
    with pytest.raises(RuntimeError, match="float64"):
        synflow_saliency(model.synflow_variant(), params, None, 32)
    with jax.enable_x64(True):
        sal = synflow_saliency(model.synflow_variant(), params, None, 32)
    assert all(leaf.dtype == jnp.float64 and bool(jnp.all(leaf >= 0)) for leaf in jax.tree.leaves(sal))
    assert jnp.zeros(1).dtype == jnp.float32  # the scope did not leak


def test_ssnr_known_values():
    a = jnp.asarray([1.0, 2.0, 3.0, 4.0])
    b = jnp.full((3,), 2.0)
    sal = {"a": {"kernel": a}, "b": {"kernel": b}}
    on = jnp.float32(1.0)
    overall, layerwise = ssnr(sal, {"a": {"kernel": on}, "b": {"kernel": on}})
    every = np.concatenate([np.asarray(a), np.asarray(b)])
    np.testing.assert_allclose(overall, every.sum() / every.std(), rtol=1e-6)
    np.testing.assert_allclose(layerwise, 10 / np.std([1, 2, 3, 4]), rtol=1e-6)  # b has std 0: left out
    overall, layerwise = ssnr(sal, {"a": {"kernel": jnp.float32(0)}, "b": {"kernel": on}})
    assert float(overall) == 0 and float(layerwise) == 0  # only b counts, and its std is 0


def test_ssnr_and_layer_norms_agree_eagerly_and_traced():
    # Eagerly, per-layer values are reduced layer by layer and combined in NumPy;
    # traced, layers of one shape are stacked. Same values, in leaf order.
    rng = np.random.default_rng(1)
    shapes = {"a": (3, 3, 4, 4), "b": (10,), "c": (3, 3, 4, 4), "d": (1, 1, 4, 4), "e": (3, 3, 4, 4)}
    sal = {k: {"kernel": jnp.asarray(rng.normal(size=s), jnp.float32)} for k, s in shapes.items()}
    mask = {k: {"kernel": jnp.float32(k != "c")} for k in shapes}
    eager = ssnr(sal, mask), layer_norms(sal)
    traced = jax.jit(lambda s, m: (ssnr(s, m), layer_norms(s)))(sal, mask)
    assert isinstance(eager[0][0], np.ndarray) and isinstance(traced[0][0], jax.Array)
    chex.assert_trees_all_close(jax.tree.map(np.asarray, traced), eager, rtol=1e-6)
    chex.assert_trees_all_close(eager[1], {k: {"kernel": np.linalg.norm(v["kernel"])} for k, v in sal.items()},
                                rtol=1e-6)


def test_jacob_cov_matches_numpy_and_nan_for_constant_row():
    rng = np.random.default_rng(0)
    jac = rng.normal(size=(16, 48)) + rng.normal(size=(1, 48))
    corr = np.corrcoef(jac)
    v = np.linalg.eigvalsh(corr)
    expected = -np.sum(np.log(v + 1e-5) + 1 / (v + 1e-5))
    with jax.enable_x64(True):
        np.testing.assert_allclose(jacob_cov_score(jnp.asarray(jac)), expected, rtol=1e-9)
        jac[3] = 0.5
        assert math.isnan(float(jacob_cov_score(jnp.asarray(jac))))


def _population_rows(strategies, names, archs):
    x, y = get_minibatch("cifar10", 8)
    cells = [(nb201.index_of(a), a) for a in archs]
    rows = {}
    for strategy, chunk in strategies:
        config = zcjax.ScoreConfig(proxies=names, strategy=strategy, chunk_size=chunk, **SMALL)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            rows[strategy, chunk] = zcjax.score_cells(cells, config, x, y)
        assert any(issubclass(w.category, zcjax.NumericalWarning) and "jacob_cov" in str(w.message) for w in caught)
    loop = rows[strategies[0]]
    assert math.isnan(loop[0]["jacob_cov"]) and loop[0]["snip"] == 0
    assert all(math.isfinite(r["jacob_cov"]) for r in loop[1:])
    for key in strategies[1:]:
        assert [r["index"] for r in rows[key]] == [r["index"] for r in loop]
        for a, b in zip(loop, rows[key]):
            for n in names.split(","):
                np.testing.assert_allclose(b[n], a[n], rtol=2e-4, err_msg=f"{key} {n} {a['arch']}")


@pytest.mark.slow  # ~64 s (session 20); the README command keeps test_model's vmap-equals-loop over a user model
def test_population_equals_loop_and_degenerate_cell_is_nan_with_warning():
    # One vmapped chunk of two cells, and a padded chunk of one, against a loop of per-cell programs.
    _population_rows((("per-cell", None), ("batched", 2)), "snip,jacob_cov,synflow,params",
                     (ALL_NONE, nb201.arch_at(77), nb201.arch_at(9000)))


@pytest.mark.slow  # four strategies and a float64 SSNR: ~3.5 minutes on the shared 2-core machine
def test_every_strategy_and_chunk_size_scores_a_population_as_a_loop():
    _population_rows((("per-cell", None), ("eager", None), ("batched", 1), ("batched", 4)),
                     "snip,jacob_cov,synflow,params,synflow_ssnr",
                     (ALL_NONE, nb201.arch_at(0), nb201.arch_at(77), nb201.arch_at(9000)))


@pytest.mark.slow  # ~40 s: the fast suite's budget (session 19); run by .ci/run
def test_cells_sharing_a_conv_pattern_share_a_program_and_score_as_their_static_network(batch):
    x, y = batch
    archs = ("|nor_conv_3x3~0|+|skip_connect~0|none~1|+|avg_pool_3x3~0|nor_conv_1x1~1|skip_connect~2|",
             "|nor_conv_3x3~0|+|avg_pool_3x3~0|skip_connect~1|+|none~0|nor_conv_1x1~1|avg_pool_3x3~2|")
    assert len({nb201.conv_pattern(nb201.arch_to_ops(a)) for a in archs}) == 1
    names = ["grad_norm", "snip", "grasp", "fisher", "jacob_cov", "synflow", "params", "flops", "snip_ssnr_layerwise"]
    config = zcjax.ScoreConfig(proxies=names, strategy="per-cell", **SMALL)
    scorer = zcjax.Scorer(config, np.asarray(x).transpose(0, 3, 1, 2), np.asarray(y))
    rows = list(scorer.score([(nb201.index_of(a), a) for a in archs]))
    assert len(scorer._per_cell_cache) == 1
    for arch, row in zip(archs, rows):
        static = small_net(arch)
        key = zcjax.engine.cell_key(0, nb201.index_of(arch))
        params = static.init(key, x[:1])["params"]
        pattern = small_net().clone(arch=nb201.conv_pattern(nb201.arch_to_ops(arch)))
        ops = jnp.asarray(nb201.arch_to_ops(arch), jnp.int32)
        chex.assert_trees_all_equal(pattern.init(key, x[:1], ops)["params"], params)
        expected = float32_stage(static, names, params, None, x, y)
        for n in names:
            if n in expected and n != "jacob_cov":
                np.testing.assert_allclose(row[n], expected[n], rtol=1e-5, err_msg=f"{n} {arch}")


def test_auto_strategy_weighs_compiles_against_run_time_on_cpu():
    x, y = get_minibatch("cifar10", 8)
    every = zcjax.Scorer(zcjax.ScoreConfig(proxies="all", **SMALL), x, y)
    free = zcjax.Scorer(zcjax.ScoreConfig(proxies="synflow,synflow_ssnr,synflow_ssnr_layerwise,params,flops,l2_norm",
                                          **SMALL))  # the full-space data-free runs' set
    space = [nb201.arch_at(i) for i in range(nb201.NUM_ARCHS)]
    sample = [space[i] for i in np.random.default_rng(0).choice(len(space), 100, replace=False)]
    # One cell: its own program compiles faster than the eager layers' first compilation.
    assert every.strategy_for(sample[:1]) == "per-cell" and free.strategy_for(sample[:1]) == "per-cell"
    # Tens of new cells: the eager layers compile once, every program would compile per cell.
    assert every.strategy_for(sample[:20]) == "eager" and free.strategy_for(sample[:20]) == "eager"
    assert free.strategy_for(space) == "batched"
    # Cells of one pattern compile once: per-cell wins however many there are.
    one_pattern = [a for a in space if nb201.conv_pattern(nb201.arch_to_ops(a)) == (-1,) * 6]
    assert len(one_pattern) == 3 ** 6 and every.strategy_for(one_pattern) == "per-cell"
    assert zcjax.Scorer(zcjax.ScoreConfig(proxies="all", strategy="batched", **SMALL), x, y
                        ).strategy_for(sample[:1]) == "batched"
    # VKDNW's backward passes are slow in the arch-as-data program: eager even for the whole space.
    for proxies in ("vkdnw_entropy,vkdnw_dim", "data-free"):
        assert zcjax.Scorer(zcjax.ScoreConfig(proxies=proxies, **SMALL)).strategy_for(space) == "eager", proxies


@pytest.mark.slow  # an end-to-end multi-program check: run by .ci/run, not the README command
def test_a_cell_scores_the_same_whatever_else_is_in_the_run():
    config = zcjax.ScoreConfig(proxies="synflow,l2_norm", strategy="batched", chunk_size=2, **SMALL)
    cell = (123, nb201.arch_at(123))
    alone = zcjax.score_cells([cell], config)[0]
    among = [r for r in zcjax.score_cells([(5, nb201.arch_at(5)), cell, (9, nb201.arch_at(9))], config)
             if r["index"] == 123][0]
    assert alone == among


def test_registry_resolve():
    # 'all': every name but reg_swap, which needs constants and is computed only when named.
    assert set(zcjax.all_names()) - set(zcjax.resolve("all")) == {"reg_swap"}
    assert zcjax.resolve("reg_swap") == ("reg_swap",) and "reg_swap" not in zcjax.resolve("data-free")
    free = zcjax.resolve("data-free")
    assert "synflow" in free and "params" in free and "snip" not in free and "synflow_ssnr" in free
    assert zcjax.resolve("snip, synflow,snip") == ("snip", "synflow")
    with pytest.raises(ValueError, match="unknown proxy name.*bogus.*valid: all, data-free, paper, grad_norm"):
        zcjax.resolve("snip,bogus")


def test_stages_follow_each_proxys_passes():
    from zcjax import registry
    from zcjax.scoring import HANDOFF_PROXIES, split_names

    # synflow and synflow_bn read only the float64 linearised network; every other name has a float32 part.
    wholly64 = {n for n in registry.all_names() if not registry.float32_part(n)}
    assert wholly64 == {"synflow", "synflow_bn"} | set(registry.ssnr_names(["synflow", "synflow_bn"]))
    # The proxies whose float32 part hands an array to their float64 part.
    assert set(HANDOFF_PROXIES) == {"jacob_cov", "epe_nas", "nwot", "nwot_randn", "te_ntk"}
    f32, f64 = split_names(("snip", "synflow", "synflow_ssnr", "jacob_cov", "params"))
    assert f32 == ["snip", "jacob_cov", "params"] and f64 == ["synflow", "synflow_ssnr", "jacob_cov"]


def test_data_proxies_need_data():
    with pytest.raises(ValueError, match="need a minibatch"):
        zcjax.Scorer(zcjax.ScoreConfig(proxies="snip"))
    with pytest.raises(ValueError, match=r"images must be \(N, 3, 16, 16\)"):
        zcjax.Scorer(zcjax.ScoreConfig(proxies="snip", dataset="ImageNet16-120"),
                     np.zeros((2, 3, 32, 32), np.float32), np.zeros(2, np.int64))


def test_score_cells_takes_indices_archs_and_pairs_and_keeps_its_scorer():
    config = zcjax.ScoreConfig(proxies="params", strategy="eager", **SMALL)
    arch = nb201.arch_at(77)
    rows = zcjax.score_cells([77, arch, nb201.arch_to_ops(arch), (77, arch)], config)
    assert [r["index"] for r in rows] == [77] * 4 and len({r["params"] for r in rows}) == 1
    from zcjax import engine

    assert engine._scorer(config, None, None) is engine._scorer(config, None, None)
    with pytest.raises(ValueError, match="a cell must be a benchmark index, an arch string"):
        zcjax.score_cells([1.5], config)
