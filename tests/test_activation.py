"""NASWOT, SWAP and MeCo against a direct NumPy computation of their definitions, on small networks."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from zcjax.data import get_minibatch
from zcjax.proxies.activation import (channel_correlation_min_eigenvalue, meco_score, nwot_kernel, nwot_score,
                                      swap_score, tap_list)
from zcjax.spaces import nb201
from zcjax.spaces.nb201.network import MODULE_TAPS, RELU_TAPS

SMALL = dict(channels=4, cells_per_stage=1)
ARCH = "|nor_conv_3x3~0|+|avg_pool_3x3~0|skip_connect~1|+|nor_conv_1x1~0|nor_conv_3x3~1|none~2|"  # cell 77


@pytest.fixture(scope="module")
def setup():
    x, _ = get_minibatch("cifar10", 12)
    x = jnp.asarray(x.transpose(0, 2, 3, 1))
    ops = nb201.arch_to_ops(ARCH)
    static = nb201.NB201Network(arch=tuple(ops), **SMALL)
    params = static.init(jax.random.key(0), x[:1])["params"]
    return x, ops, static, params


def _taps(net, params, x, ops, collection):
    _, state = net.apply({"params": params}, x, jnp.asarray(ops, jnp.int32), mutable=[collection])
    return tap_list(state[collection])


def test_relu_taps_are_every_relu_of_the_reference_network(setup):
    x, ops, static, params = setup
    taps = _taps(static, params, x, ops, RELU_TAPS)
    # 3 conv edges in each of the 3 cells, conv_a and conv_b of 2 reductions, the last ReLU.
    assert len(taps) == 3 * 3 + 2 * 2 + 1 and all(float(w) == 1 for _, w in taps)
    assert {v.shape[0] for v, _ in taps} == {12}


def test_module_tap_weights_count_the_reference_modules(setup):
    # The MeCo hooks fire on every module of the reference network. Counted by hand for this cell:
    # stem 4 (conv; BN, its Sequential, the stem), per cell 18 (conv edge: ReLU, conv, BN x 3 = 5,
    # three of them; pool 2; skip 1; none 0) + the cell + its stage's Sequential = 20, per reduction 14
    # (conv_a 5, conv_b 5, AvgPool 1, residual conv 2, the block 1), head 3 (BN, ReLU x 2).
    x, ops, static, params = setup
    taps = _taps(static, params, x[:1], ops, MODULE_TAPS)
    assert sum(float(w) for _, w in taps) == 4 + 3 * 20 + 2 * 14 + 3


@pytest.mark.slow  # ~22 s (session 20: the README command's budget); test_later_proxies' nwot_randn compares
# the batched taps with a static network's
def test_arch_as_data_taps_weigh_like_the_static_network(setup):
    x, ops, static, params = setup
    mixed = nb201.NB201Network(arch=None, **SMALL)
    mixed_params = nb201.to_mixed_params(params, **SMALL)
    for collection, score in ((RELU_TAPS, lambda t: nwot_score(nwot_kernel(t))), (MODULE_TAPS, meco_score)):
        a = _taps(static, params, x, ops, collection)
        b = _taps(mixed, mixed_params, x, ops, collection)
        assert sum(float(w) for _, w in a) == sum(float(w) for _, w in b)
        np.testing.assert_allclose(score(b), score(a), rtol=1e-5)


def test_nwot_kernel_and_score_match_numpy(setup):
    x, ops, static, params = setup
    taps = _taps(static, params, x, ops, RELU_TAPS)
    codes = [np.asarray(v).reshape(12, -1) > 0 for v, _ in taps]
    expected = sum(c.astype(np.float64) @ c.T + (~c).astype(np.float64) @ (~c).T for c in codes)
    kernel = nwot_kernel(taps)
    np.testing.assert_array_equal(np.asarray(kernel), expected)
    # Every image agrees with itself on every unit.
    np.testing.assert_array_equal(np.diag(expected), sum(c.shape[1] for c in codes))
    with jax.enable_x64(True):
        got = float(nwot_score(jnp.asarray(kernel, jnp.float64)))
    assert got == pytest.approx(np.linalg.slogdet(expected)[1], rel=1e-12)
    # Invariant to the order of the images.
    perm = np.random.default_rng(0).permutation(12)
    np.testing.assert_array_equal(np.asarray(nwot_kernel([(v[perm], w) for v, w in taps])), expected[perm][:, perm])


def test_swap_counts_distinct_unit_patterns_like_numpy(setup):
    x, ops, static, params = setup
    taps = _taps(static, params, x, ops, RELU_TAPS)
    units = np.concatenate([np.asarray(v).reshape(12, -1) > 0 for v, _ in taps], axis=1).T  # (units, images)
    expected = np.unique(units, axis=0).shape[0]
    assert float(swap_score(taps)) == expected
    assert float(swap_score(taps, 5)) == np.unique(units[:, :5], axis=0).shape[0]
    # A tap of weight 0 (an op the cell does not use) adds no pattern.
    extra = (jnp.asarray(np.random.default_rng(1).normal(size=(12, 50))), jnp.float32(0))
    assert float(swap_score(taps + [extra])) == expected
    with pytest.raises(ValueError, match="1 to 20 images"):
        swap_score(taps, 21)


def _numpy_meco(feature):
    rows = np.asarray(feature, np.float64).reshape(-1, feature.shape[-1]).T
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.corrcoef(rows)
    corr[~np.isfinite(corr)] = 0
    return np.min(np.real(np.linalg.eigvals(corr)))


def test_meco_is_the_weighted_sum_of_min_eigenvalues_of_channel_correlations(setup):
    x, ops, static, params = setup
    taps = _taps(static, params, x[:1], ops, MODULE_TAPS)
    expected = sum(float(w) * _numpy_meco(v[0]) for v, w in taps)
    assert float(meco_score(taps)) == pytest.approx(expected, rel=1e-4, abs=1e-5)
    # A constant channel: its correlations are 0, and so is the smallest eigenvalue.
    feature = np.random.default_rng(0).normal(size=(6, 6, 5)).astype(np.float32)
    feature[..., 2] = 3.0
    assert float(channel_correlation_min_eigenvalue(jnp.asarray(feature))) == pytest.approx(0.0, abs=1e-6)
    assert _numpy_meco(feature) == pytest.approx(0.0, abs=1e-12)
    # Scaling a channel (a BatchNorm of one image) leaves it unchanged.
    scaled = feature * np.array([1, 2, 1, 0.5, 7], np.float32) + 1
    chex.assert_trees_all_close(channel_correlation_min_eigenvalue(jnp.asarray(scaled)),
                                channel_correlation_min_eigenvalue(jnp.asarray(feature)), atol=1e-5)


def test_taps_cost_nothing_unless_asked_for(setup):
    x, ops, static, params = setup
    _, state = static.apply({"params": params}, x, mutable=["intermediates"])
    assert RELU_TAPS not in state and MODULE_TAPS not in state


def test_meco_opt_is_meco_on_k_seeded_random_channels_scaled_by_c_over_k(setup):
    x, ops, static, params = setup
    taps = _taps(static, params, x[:1], ops, MODULE_TAPS)
    key = jax.random.key(5)
    expected = 0.0
    for i, (v, w) in enumerate(taps):
        feature = np.asarray(v[0])
        if feature.ndim < 2 or np.prod(feature.shape[:-1]) < 2:
            continue
        c = feature.shape[-1]
        k = min(8, c)
        chosen = np.asarray(jax.random.permutation(jax.random.fold_in(key, i), c))[:k]
        expected += float(w) * _numpy_meco(feature[..., chosen]) * c / k
    got = float(meco_score(taps, key))
    assert got == pytest.approx(expected, rel=1e-4, abs=1e-5)
    assert {v.shape[-1] for v, _ in taps if v.ndim == 4} == {4, 8, 16}  # all, all and half of the channels
    assert got != pytest.approx(float(meco_score(taps)), rel=1e-3)  # the 16-channel taps are sampled
    assert float(meco_score(taps, key)) == got != float(meco_score(taps, jax.random.key(6)))
    # k >= C everywhere: every channel, in another order, unscaled: MeCo itself.
    assert float(meco_score(taps, key, channels=16)) == pytest.approx(float(meco_score(taps)), rel=1e-5, abs=1e-6)
