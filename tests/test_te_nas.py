"""TE-NAS: the NTK condition number from an explicit Jacobian, and linear regions against NumPy."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import zcjax

from zcjax.data import get_minibatch
from zcjax.proxies.activation import nwot_kernel, tap_list
from zcjax.proxies.te_nas import linear_regions, ntk_score
from zcjax.scoring import ntk_of
from zcjax.spaces import nb201
from zcjax.spaces.nb201.network import RELU_TAPS

SMALL = dict(channels=4, cells_per_stage=1)
ARCH = "|nor_conv_3x3~0|+|avg_pool_3x3~0|skip_connect~1|+|nor_conv_1x1~0|nor_conv_3x3~1|none~2|"


def test_ntk_condition_number_matches_an_explicit_jacobian():
    x, _ = get_minibatch("cifar10", 6)
    x = jnp.asarray(x.transpose(0, 2, 3, 1))
    net = nb201.NB201Network(arch=tuple(nb201.arch_to_ops(ARCH)), **SMALL)
    params = net.init(jax.random.key(0), x[:1])["params"]
    grad_of = jax.jit(lambda p, i: jax.grad(lambda q: net.apply({"params": q}, x).sum(axis=1)[i])(p))
    rows = []
    for i in range(6):  # one image's summed logits at a time; BatchNorm still sees the whole batch
        g = grad_of(params, i)
        flat = jax.tree_util.tree_flatten_with_path(g)[0]
        rows.append(np.concatenate([np.asarray(v).ravel() for path, v in flat if path[-1].key in ("kernel", "scale")]))
    jac = np.stack(rows).astype(np.float64)
    ntk = jac @ jac.T
    eig = np.linalg.eigvalsh(ntk)
    np.testing.assert_allclose(np.asarray(jax.jit(lambda p: ntk_of(net, p, None, x))(params)), ntk, rtol=1e-4)
    with jax.enable_x64(True):
        got = float(ntk_score(jnp.asarray(ntk)))
    assert got == pytest.approx(-eig[-1] / eig[0], rel=1e-9)
    with jax.enable_x64(True):
        assert float(ntk_score(jnp.zeros((3, 3)))) == -1e5  # 0/0: the code's NaN value


def test_linear_regions_count_distinct_activation_patterns():
    x = jax.random.normal(jax.random.key(1), (10, 16, 16, 3))
    net = nb201.NB201Network(arch=tuple(nb201.arch_to_ops(ARCH)), **SMALL)
    params = net.init(jax.random.key(0), x[:1])["params"]
    _, state = jax.jit(lambda p: net.apply({"params": p}, x, mutable=[RELU_TAPS]))(params)
    taps = tap_list(state[RELU_TAPS])
    codes = np.concatenate([np.asarray(v).reshape(10, -1) > 0 for v, _ in taps], axis=1)
    codes[3] = codes[7]  # two images in one region
    expected = np.unique(codes, axis=0).shape[0]
    agreement = codes.astype(np.float32) @ codes.T.astype(np.float32) + (~codes).astype(np.float32) @ (~codes).T
    assert float(linear_regions(jnp.asarray(agreement))) == expected == 9
    assert float(linear_regions(nwot_kernel(taps))) == np.unique(
        np.concatenate([np.asarray(v).reshape(10, -1) > 0 for v, _ in taps], axis=1), axis=0).shape[0]


def test_te_ntk_of_any_model_matches_an_explicit_jacobian():
    from flax import linen as nn

    class CNN(nn.Module):
        @nn.compact
        def __call__(self, x, train: bool = True):
            x = nn.relu(nn.BatchNorm(use_running_average=not train)(nn.Conv(4, (3, 3))(x)))
            return nn.Dense(3)(x.mean(axis=(1, 2)))

    x = jax.random.normal(jax.random.key(3), (5, 6, 6, 3))
    y = jnp.arange(5) % 3
    model = CNN()
    variables = model.init(jax.random.key(0), x)
    ours = zcjax.score_model(model, variables, (x, y), "te_ntk")["te_ntk"]

    def summed(params, i):  # one input's summed outputs; BatchNorm sees the whole batch
        out, _ = model.apply({**variables, "params": params}, x, mutable=["batch_stats"])
        return out.sum(axis=1)[i]

    rows = []
    for i in range(5):
        flat = jax.tree_util.tree_flatten_with_path(jax.grad(summed)(variables["params"], i))[0]
        rows.append(np.concatenate([np.asarray(v).ravel() for path, v in flat if path[-1].key in ("kernel", "scale")]))
    jac = np.stack(rows).astype(np.float64)
    eig = np.linalg.eigvalsh(jac @ jac.T)
    assert ours == pytest.approx(-eig[-1] / eig[0], rel=1e-3)


@pytest.mark.slow  # a per-cell program and the model engine's, ~15 s (session 20: the README command's budget)
def test_te_ntk_of_the_nb201_network_through_the_model_engine_is_the_nb201_engines():
    xb, yb = get_minibatch("cifar10", 6)
    row = zcjax.score_cells([(77, ARCH)], zcjax.ScoreConfig(proxies="te_ntk", strategy="per-cell", **SMALL), xb, yb)[0]
    net = nb201.NB201Network(arch=tuple(nb201.arch_to_ops(ARCH)), **SMALL)
    xn = jnp.asarray(xb.transpose(0, 2, 3, 1))
    params = net.init(zcjax.engine.cell_key(0, 77), xn[:1])["params"]
    model_row = zcjax.score_model(net, {"params": params}, (xn, jnp.asarray(yb)), "te_ntk")
    assert model_row["te_ntk"] == pytest.approx(row["te_ntk"], rel=1e-4)
