"""VKDNW: the Jacobian against explicit forward-mode derivatives, the factor and the entropy against NumPy."""

import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import zcjax
from zcjax.ensemble import parse
from zcjax.proxies.vkdnw import DECILES, cholesky_factor, smoothed_probabilities, vkdnw_entropy
from zcjax.scoring import gaussian_images, vkdnw_jacobian
from zcjax.spaces import nb201
from zcjax.spaces.nb201.network import BN_EPS, CONV1, CONV3

SMALL = dict(channels=4, cells_per_stage=1)
ARCH = "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|avg_pool_3x3~0|none~1|nor_conv_3x3~2|"  # 3 conv edges


def _network(arch=ARCH, static=True, num_classes=10):
    ops = tuple(nb201.arch_to_ops(arch))
    model = nb201.NB201Network(arch=ops if static else None, num_classes=num_classes, weight_init="kaiming",
                               bias_init="zero", **SMALL)
    images = gaussian_images(8, 32, 32)
    args = (images,) if static else (images, jnp.asarray(ops))
    params = model.init(jax.random.key(3), *args)["params"]
    return model, params, None if static else jnp.asarray(ops), images, ops


def _explicit_jacobian(model, params, ops, images):
    """Each column by its own jvp: on the parameter itself, or (a cell BatchNorm has none) on the conv's output."""
    net = model.initial_bn_variant()
    args = (images,) if ops is None else (images, ops)
    shapes = jax.eval_shape(lambda: net.apply({"params": params}, *args, mutable=["intermediates"])[1])
    zero = jax.tree.map(lambda z: jnp.zeros(z[0].shape, z[0].dtype), shapes["intermediates"],
                        is_leaf=lambda t: isinstance(t, tuple))
    _, state = net.apply({"params": params, "perturbations": zero}, *args, mutable=["intermediates"])
    bn_of = {("stem",): ("stem_bn",)}
    for r in (1, 2):
        bn_of[(f"reduction{r}", "conv_a")] = (f"reduction{r}", "bn_a")
        bn_of[(f"reduction{r}", "conv_b")] = (f"reduction{r}", "bn_b")

    def unit(tree, path, leaf, index=0):
        out = jax.tree.map(jnp.zeros_like, tree)
        node = out
        for key in path:
            node = node[key]
        node[leaf] = node[leaf].at[(index,) * node[leaf].ndim].set(1.0)
        return out

    def at(tree, path):
        for key in path:
            tree = tree[key]
        return tree

    columns = []
    for kind, path, active in net.xautodl_tensors(ops):
        if not bool(active):
            continue
        d_params, d_pert = jax.tree.map(jnp.zeros_like, params), jax.tree.map(jnp.zeros_like, zero)
        if kind == "kernel":
            d_params = unit(params, path, "kernel")
        elif kind in ("gamma", "beta") and path in bn_of:
            d_params = unit(params, bn_of[path], "scale" if kind == "gamma" else "bias")
        elif kind in ("gamma", "beta"):
            z = at(state["intermediates"], path)["z"][0]
            channel0 = (jnp.arange(z.shape[-1]) == 0).astype(z.dtype)
            tangent = z * channel0 if kind == "gamma" else math.sqrt(1 + BN_EPS) * jnp.broadcast_to(channel0, z.shape)
            at(d_pert, path)["z"] = tangent
        elif kind.startswith("lastact"):
            d_params = unit(params, ("lastact_bn",), "scale" if kind == "lastact_gamma" else "bias")
        else:
            d_params = unit(params, ("classifier",), "kernel" if kind == "classifier_kernel" else "bias")
        _, column = jax.jvp(lambda p, q: net.apply({"params": p, "perturbations": q}, *args), (params, zero),
                            (d_params, d_pert))
        columns.append(column)
    return jnp.stack(columns, axis=-1)  # (N, C, tensors)


# Both in CI's slow run (the README command's budget, session 19): the arch-as-data one, through lax.switch edges,
# is the harder case; test_nb201_naslib's vkdnw test keeps the proxy in the README command.
# 40 classes: more than the 16 pooled features, so the reverse passes run through the features.
@pytest.mark.parametrize("static,classes", [pytest.param(s, c, marks=pytest.mark.slow)
                                            for s, c in ((True, 10), (False, 10), (True, 40))],
                         ids=["static", "arch-as-data", "static-40-classes"])
def test_jacobian_matches_explicit_forward_mode_derivatives(static, classes):
    model, params, ops, images, arch_ops = _network(static=static, num_classes=classes)
    jacobian, logits, count, tensors = jax.jit(vkdnw_jacobian, static_argnums=0)(model, params, ops, images)
    k = sum(o in (CONV3, CONV1) for o in arch_ops)
    assert int(tensors) == 21 + 9 * k == int(count)  # 1 cell a stage: 3 + 3 * 3k + 2 * 7 + 4
    explicit = _explicit_jacobian(model, params, ops, images)
    assert explicit.shape[-1] == int(tensors)
    chex.assert_trees_all_close(jacobian[..., :int(count)], explicit, rtol=2e-4, atol=1e-6)
    assert not np.any(np.asarray(jacobian[..., int(count):]))
    net = model.initial_bn_variant()
    direct = net.apply({"params": params}, *((images,) if ops is None else (images, ops)))
    chex.assert_trees_all_close(logits, direct, rtol=1e-5, atol=1e-6)


@pytest.mark.slow  # the README command's budget (~15 min); the slow run also checks this path against forward mode
def test_more_classes_than_pooled_features_pass_through_the_features():
    # 40 classes against 4 C = 16 pooled features: 16 reverse passes instead of 40, the same Jacobian.
    model, params, ops, images, _ = _network(num_classes=40)
    jacobian = jax.jit(vkdnw_jacobian, static_argnums=(0, 4))
    by_class, logits, count, tensors = jacobian(model, params, ops, images, False)
    by_feature, logits_f, count_f, tensors_f = jacobian(model, params, ops, images, None)
    assert by_feature.shape == by_class.shape == (8, 40, 128) and (count_f, tensors_f) == (count, tensors)
    chex.assert_trees_all_close(by_feature, by_class, rtol=1e-4, atol=1e-6)
    chex.assert_trees_all_equal(logits_f, logits)
    assert np.mean(np.abs(np.asarray(by_class[..., :int(count)])).max(axis=(0, 1)) > 0) > 0.9  # not a zero match


def test_only_the_first_128_tensors_count():
    arch = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_1x1~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_1x1~2|"
    ops = tuple(nb201.arch_to_ops(arch))
    model = nb201.NB201Network(arch=ops, weight_init="kaiming", bias_init="zero")  # benchmark size: 21 + 45 * 6
    tensors = model.xautodl_tensors()
    assert len(tensors) == 21 + 45 * 6
    kinds = [kind for kind, _, _ in tensors]
    assert kinds[:3] == ["kernel", "gamma", "beta"] and kinds[-4:] == ["lastact_gamma", "lastact_beta",
                                                                      "classifier_kernel", "classifier_bias"]
    # The 128th tensor sits in the second stage's cells: the classifier is left out (the official cap).
    assert tensors[127][1][0].startswith("cell2_") or tensors[127][1][0].startswith("reduction")


def _numpy_factor(logits):
    """The official construction, step by step in float64 NumPy."""
    p = np.asarray(smoothed_probabilities(jnp.asarray(logits)), np.float64)
    n, c = p.shape
    q = 1 - np.cumsum(p, axis=1)
    q[:, -1] = 0
    q_shift = np.roll(q, 1, axis=1)
    q_shift[:, 0] = 1
    d = np.sqrt(p * q / q_shift)
    with np.errstate(divide="ignore"):
        factor = -p[:, :, None] * (1 / q[:, None, :])
    factor = np.nan_to_num(factor, neginf=0.0)
    factor = factor * (1 - np.eye(c)) + np.eye(c)
    factor = factor * (1 - np.triu(np.ones((c, c)), 1))
    return factor @ np.stack([np.diag(row) for row in d]), p


def test_factor_is_the_official_construction_and_a_root_of_the_covariance():
    logits = np.asarray(jax.random.normal(jax.random.key(0), (5, 10)) * 3)
    expected, p = _numpy_factor(logits)
    factor = np.asarray(cholesky_factor(jnp.asarray(logits)))
    np.testing.assert_allclose(factor, expected, rtol=1e-4, atol=1e-6)  # float32 against float64
    covariance = np.stack([np.diag(row) - np.outer(row, row) for row in p])
    assert np.abs(factor @ factor.transpose(0, 2, 1) - covariance).max() < 1e-3  # the code's own back-test
    # The code's float16 constants: p sums to 0.9501953125 + 10 * 0.0049972534 = 1.00017, not 1.
    np.testing.assert_allclose(p.sum(axis=1), 0.9501953125 + 10 * 0.00499725341796875, rtol=1e-6)


@pytest.mark.parametrize("count", [21, 57, 128])
def test_entropy_is_the_normalised_deciles_entropy(count):
    key1, key2 = jax.random.split(jax.random.key(1))
    jacobian = jax.random.normal(key1, (6, 10, 128)) * (jnp.arange(128) < count).astype(jnp.float32)
    logits = jax.random.normal(key2, (6, 10))
    factor = np.asarray(cholesky_factor(logits), np.float64)
    lj = factor @ np.asarray(jacobian, np.float64)[..., :count]
    fisher = np.mean(lj.transpose(0, 2, 1) @ lj, axis=0)
    spectrum = np.linalg.svd(fisher, compute_uv=False)
    deciles = np.quantile(spectrum, DECILES)
    t = deciles / (np.abs(deciles).sum() + 1e-10)
    expected = -(t * np.log(t + 1e-10)).sum()
    assert float(vkdnw_entropy(jacobian, logits, count)) == pytest.approx(expected, rel=1e-4)
    assert float(jax.jit(vkdnw_entropy)(jacobian, logits, jnp.asarray(count))) == pytest.approx(expected, rel=1e-4)


def test_the_vkdnw_ensemble_is_the_dense_rank_of_dim_then_entropy():
    scores = {"vkdnw_dim": [48.0, 21.0, 48.0, 21.0, np.nan], "vkdnw_entropy": [0.5, 2.0, 0.7, 2.0, 1.0]}
    # VKDNW_single: log of the dense rank of (dim, entropy), dim first; NaN lowest.
    np.testing.assert_allclose(parse("vkdnw")(scores), np.log([3, 2, 4, 2, 1]))


@pytest.mark.slow  # a full batched compile of the small network: about 35 s
def test_the_engine_scores_it():
    archs = [ARCH, "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"]
    config = zcjax.ScoreConfig(proxies="vkdnw_entropy,vkdnw_dim", strategy="batched", chunk_size=2,
                               weight_init="kaiming", bias_init="zero", **SMALL)
    rows = zcjax.score_cells([(nb201.index_of(a), a) for a in archs], config)
    assert [r["vkdnw_dim"] for r in rows] == [21 + 9 * 3, 21]
    assert all(math.isfinite(r["vkdnw_entropy"]) for r in rows)


@pytest.mark.slow  # three strategies' compiles: about 2 minutes on the 2-core machine
def test_every_strategy_scores_vkdnw_alike():
    archs = [ARCH, nb201.arch_at(9000), "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"]
    cells = [(nb201.index_of(a), a) for a in archs]
    rows = {}
    for strategy, chunk in (("eager", None), ("per-cell", None), ("batched", 2)):
        config = zcjax.ScoreConfig(proxies="vkdnw_entropy,vkdnw_dim", strategy=strategy, chunk_size=chunk,
                                   weight_init="kaiming", bias_init="zero", **SMALL)
        rows[strategy] = zcjax.score_cells(cells, config)
    for a, arch in zip(rows["eager"], archs):
        k = sum(o in (CONV3, CONV1) for o in nb201.arch_to_ops(arch))
        assert a["vkdnw_dim"] == 21 + 9 * k and math.isfinite(a["vkdnw_entropy"])
    for strategy in ("per-cell", "batched"):
        for a, b in zip(rows["eager"], rows[strategy]):
            assert b["vkdnw_dim"] == a["vkdnw_dim"]
            # The entropy of the normalised eigenvalues of a float32 Fisher matrix: the batched program's rounding
            # moved it by 1.2e-4 relative (session 19, CI's slow run); a wrong Jacobian moves it by far more.
            assert b["vkdnw_entropy"] == pytest.approx(a["vkdnw_entropy"], rel=5e-4), strategy
    assert not zcjax.PROXIES["vkdnw_entropy"].needs_data  # Gaussian input: every dataset
