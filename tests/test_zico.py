"""ZiCo against NumPy: per layer log of the summed mean|g| / std(g) over batches."""

import math

import jax.numpy as jnp
import numpy as np
import pytest

from zcjax.proxies.zico import zico_layers


def _numpy_zico(grads):
    total = 0.0
    for layer in grads[0]:
        g = np.stack([np.asarray(b[layer]["kernel"], np.float64).ravel() for b in grads])
        std = g.std(axis=0)
        keep = std != 0
        s = np.sum(np.abs(g).mean(axis=0)[keep] / std[keep])
        total += math.log(s) if s != 0 else 0.0
    return total


def test_zico_matches_numpy_and_skips_constant_gradients():
    rng = np.random.default_rng(0)
    for batches in (2, 3):
        grads = [{"a": {"kernel": rng.normal(size=(3, 3, 2, 4)).astype(np.float32)},
                  "b": {"kernel": rng.normal(size=(5, 2)).astype(np.float32)},
                  "dead": {"kernel": np.zeros((2, 2), np.float32)}} for _ in range(batches)]
        if batches == 2:  # equal gradients: std exactly 0 (the mean of two equal floats is exact), left out
            grads[1]["a"]["kernel"][0, 0, 0, :] = grads[0]["a"]["kernel"][0, 0, 0, :]
        tree = zico_layers([{k: {"kernel": jnp.asarray(v["kernel"])} for k, v in g.items()} for g in grads])
        assert float(tree["dead"]["kernel"]) == 0.0
        total = sum(float(tree[k]["kernel"]) for k in tree)
        assert total == pytest.approx(_numpy_zico(grads), rel=1e-5)


def test_two_batches_give_the_ratio_of_sum_to_difference():
    g1, g2 = np.array([1.0, -2.0, 0.5]), np.array([3.0, -1.0, 0.5])
    tree = zico_layers([{"l": {"kernel": jnp.asarray(g1)}}, {"l": {"kernel": jnp.asarray(g2)}}])
    expected = math.log(4.0 / 2.0 + 3.0 / 1.0)  # the third weight does not vary
    assert float(tree["l"]["kernel"]) == pytest.approx(expected, rel=1e-6)
    with pytest.raises(ValueError, match="at least 2 batches"):
        zico_layers([{"l": {"kernel": jnp.asarray(g1)}}])
