"""AZ-NAS's expressivity, progressivity and trainability against NumPy and against each block's own VJP."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from zcjax.proxies.az_nas import block_trainability, feature_entropy, space_to_depth
from zcjax.scoring import az_nas_scores, gaussian_images
from zcjax.spaces import nb201
from zcjax.spaces.nb201.network import BLOCK_PERTURBATIONS, BLOCK_TAPS, Cell, Reduction

SMALL = dict(channels=4, cells_per_stage=1)
ARCH = "|nor_conv_3x3~0|+|avg_pool_3x3~0|skip_connect~1|+|nor_conv_1x1~0|nor_conv_3x3~1|none~2|"


def _numpy_entropy(feature):
    x = np.asarray(feature, np.float64).reshape(-1, feature.shape[-1])
    x = x - x.mean(0)
    s = np.linalg.eigvalsh(x.T @ x / x.shape[0])
    p = s / s.sum()
    return float(np.sum(-p * np.log(p + 1e-8)))


def test_feature_entropy_matches_numpy_and_is_largest_for_isotropic_features():
    rng = np.random.default_rng(0)
    iso = rng.normal(size=(4, 6, 6, 8)).astype(np.float32)
    assert float(feature_entropy(jnp.asarray(iso))) == pytest.approx(_numpy_entropy(iso), rel=1e-4)
    uneven = iso * np.array([10, 5, 2, 1, 1, 1, 0.5, 0.1], np.float32)
    assert float(feature_entropy(jnp.asarray(uneven))) < float(feature_entropy(jnp.asarray(iso))) <= math.log(8)
    # A rank-deficient covariance: float32 eigenvalues around 0 can be negative, log(p + 1e-8) NaN, as in the
    # reference (which records -inf).
    low_rank = iso.copy()
    low_rank[..., 4:] = low_rank[..., :4]
    value = float(feature_entropy(jnp.asarray(low_rank)))
    assert math.isnan(value) or value < float(feature_entropy(jnp.asarray(iso)))


def test_block_trainability_matches_numpy_svd_and_is_minus_inf_for_the_identity():
    rng = np.random.default_rng(1)
    g_in = rng.normal(size=(2, 8, 8, 3)).astype(np.float32)
    g_out = rng.choice([-1.0, 1.0], size=(2, 4, 4, 5)).astype(np.float32)
    folded = np.asarray(space_to_depth(jnp.asarray(g_in), 2)).reshape(-1, 12)
    sigma = np.linalg.svd(folded.T @ g_out.reshape(-1, 5) / 32, compute_uv=False)[0]
    got = float(block_trainability(jnp.asarray(g_in), jnp.asarray(g_out)))
    assert got == pytest.approx(2 - sigma - 1 / (sigma + 1e-6), rel=1e-5)
    assert float(block_trainability(jnp.asarray(g_out), jnp.asarray(g_out))) == -math.inf
    # space_to_depth keeps every value, once.
    np.testing.assert_array_equal(np.sort(folded.ravel()), np.sort(g_in.ravel()))


def test_features_are_the_stem_and_block_outputs_and_each_pull_back_is_that_blocks_own_vjp():
    ops = nb201.arch_to_ops(ARCH)
    net = nb201.NB201Network(arch=tuple(ops), weight_init="kaiming", bias_init="zero", **SMALL)
    images = gaussian_images(8, 16, 16)
    params = net.init(jax.random.key(0), images[:1])["params"]
    _, state = net.apply({"params": params}, images, mutable=[BLOCK_TAPS])
    feats = state[BLOCK_TAPS]["features"]
    assert len(feats) == 1 + 3 * 1 + 2  # stem, 3 cells, 2 reductions
    scores = az_nas_scores(net, params, None, images)
    entropies = [_numpy_entropy(f) for f in feats]
    assert float(scores["az_expressivity"]) == pytest.approx(sum(entropies), rel=1e-4)
    assert float(scores["az_progressivity"]) == pytest.approx(min(np.diff(entropies)), abs=1e-4)

    # The pull-back of block 2 (reduction1) through the whole tapped network equals the VJP of the block alone.
    zeros = {f"block{i}": jnp.zeros_like(f) for i, f in enumerate(feats[:-1], 1)}
    probe = jax.random.rademacher(jax.random.key(3), feats[2].shape, jnp.float32)

    def tapped(pert):
        _, st = net.apply({"params": params, BLOCK_PERTURBATIONS: pert}, images, mutable=[BLOCK_TAPS])
        return st[BLOCK_TAPS]["features"][2]

    (through_network,) = jax.vjp(tapped, zeros)[1](probe)
    block = Reduction(4, 8, "kaiming", "zero")
    _, alone = jax.vjp(lambda x: block.apply({"params": params["reduction1"]}, x), feats[1])
    np.testing.assert_allclose(np.asarray(through_network["block2"]), np.asarray(alone(probe)[0]), rtol=1e-5, atol=1e-6)
    for k in ("block1", "block3"):
        assert not np.any(np.asarray(through_network[k]))  # the other blocks are cut off
    cell = Cell(4, tuple(ops), True, "kaiming", "zero")
    assert cell.apply({"params": params["cell1_0"]}, feats[0]).shape == feats[1].shape
