"""Zen-NAS against NumPy: the feature difference and PyTorch's running variance after two forwards."""

import math

import jax
import numpy as np
import pytest

from zcjax.proxies.activation import tap_list
from zcjax.scoring import GAUSSIAN_SEED, gaussian_images, zen_of
from zcjax.spaces import nb201
from zcjax.spaces.nb201.network import BN_TAPS, PRE_GAP_TAPS

SMALL = dict(channels=4, cells_per_stage=1)
ARCH = "|nor_conv_3x3~0|+|avg_pool_3x3~0|skip_connect~1|+|nor_conv_1x1~0|nor_conv_3x3~1|none~2|"


def test_zen_matches_numpy():
    ops = tuple(nb201.arch_to_ops(ARCH))
    net = nb201.NB201Network(arch=ops, weight_init="normal", bias_init="zero", **SMALL)
    x1 = gaussian_images(8, 16, 16)
    params = net.init(jax.random.key(0), x1[:1])["params"]
    x2 = jax.random.normal(jax.random.fold_in(jax.random.key(GAUSSIAN_SEED), 2), x1.shape)

    def run(x):
        _, st = net.apply({"params": params}, x, mutable=[BN_TAPS, PRE_GAP_TAPS])
        return np.asarray(tap_list(st[PRE_GAP_TAPS])[0][0], np.float64), [np.asarray(v, np.float64)
                                                                          for v, _ in tap_list(st[BN_TAPS])]

    (f1, bn1), (f2, bn2) = run(x1), run(x1 + 0.01 * x2)
    # stem, 3 conv edges in each of 3 cells, 2 x 2 in the reductions, lastact
    assert len(bn1) == 1 + 9 + 4 + 1
    expected = math.log(np.abs(f1 - f2).sum() / 8)
    for a, b in zip(bn1, bn2):
        running = 0.81 + 0.09 * a.reshape(-1, a.shape[-1]).var(0, ddof=1) + 0.1 * b.reshape(-1, b.shape[-1]).var(0, ddof=1)
        expected += math.log(math.sqrt(running.mean()))
    assert float(zen_of(net, params, None, x1)) == pytest.approx(expected, rel=1e-4)


def test_zen_of_a_network_that_ignores_its_input_is_minus_inf():
    arch = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
    net = nb201.NB201Network(arch=tuple(nb201.arch_to_ops(arch)), weight_init="normal", bias_init="zero", **SMALL)
    x1 = gaussian_images(4, 16, 16)
    params = net.init(jax.random.key(0), x1[:1])["params"]
    assert float(zen_of(net, params, None, x1)) == -math.inf
