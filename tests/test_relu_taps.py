"""ReLU taps read off a function's jaxpr (zcjax.relu_taps), and the proxies that read them on any Flax model."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import linen as nn

import zcjax
from zcjax.model import ContractError
from zcjax.proxies.activation import tap_list
from zcjax.relu_taps import ReluInLoopError, relu_inputs
from zcjax.spaces import nb201
from zcjax.spaces.nb201.network import RELU_TAPS


class Net(nn.Module):
    """ReLUs written every way a model writes them: flax.linen.relu, jax.nn.relu, inside jit and nn.remat."""

    @nn.compact
    def __call__(self, x, train: bool = True):
        a = nn.Conv(4, (3, 3))(x)
        b = nn.BatchNorm(use_running_average=not train)(nn.relu(a))
        c = jax.jit(lambda t: jax.nn.relu(t) * 2.0)(nn.Conv(4, (3, 3), name="conv2")(b))
        d = nn.remat(Block)()(c)
        e = jnp.maximum(d, 0.0)  # a hand-written max is not a ReLU here
        return nn.Dense(3)(e.mean(axis=(1, 2)))


class Block(nn.Module):
    @nn.compact
    def __call__(self, x):
        return jax.nn.relu(nn.Conv(4, (1, 1))(x))


@pytest.fixture(scope="module")
def net():
    x = jax.random.normal(jax.random.key(1), (5, 6, 6, 3))
    model = Net()
    return model, model.init(jax.random.key(0), x), x


def test_taps_are_every_relu_input_and_the_output_is_the_functions(net):
    model, variables, x = net

    def fn(v, inputs):
        return model.apply(v, inputs, mutable=["batch_stats"])[0]

    out, taps = relu_inputs(fn, variables, x)
    np.testing.assert_array_equal(np.asarray(out), np.asarray(fn(variables, x)))
    # The three ReLU inputs, computed by hand: the first conv, the second conv, the block's conv.
    _, state = model.apply(variables, x, mutable=["intermediates", "batch_stats"],
                           capture_intermediates=lambda mdl, name: isinstance(mdl, nn.Conv))
    convs = state["intermediates"]
    expected = [convs["Conv_0"]["__call__"][0], convs["conv2"]["__call__"][0],
                convs["CheckpointBlock_0"]["Conv_0"]["__call__"][0]]
    assert len(taps) == 3 and all(float(w) == 1.0 for _, w in taps)
    for (value, _), want in zip(taps, expected):
        np.testing.assert_allclose(np.asarray(value), np.asarray(want), rtol=1e-6, atol=1e-6)
    # Under jit the same.
    jitted = jax.jit(lambda v, inputs: relu_inputs(fn, v, inputs))(variables, x)
    np.testing.assert_allclose(np.asarray(jitted[1][2][0]), np.asarray(taps[2][0]), rtol=1e-6, atol=1e-6)


def test_a_relu_in_a_loop_is_refused():
    with pytest.raises(ReluInLoopError, match="inside scan"):
        relu_inputs(lambda x: jax.lax.fori_loop(0, 2, lambda i, a: jax.nn.relu(a) - 1.0, x), jnp.ones(3))
    # A loop without a ReLU is evaluated as it is.
    out, taps = relu_inputs(lambda x: jax.nn.relu(jax.lax.fori_loop(0, 3, lambda i, a: a * 2.0, x)), jnp.ones(2))
    assert len(taps) == 1 and float(out[0]) == 8.0


@pytest.mark.parametrize("index", [77, 9000])
def test_the_nb201_network_taps_its_own_relus(index):
    # The NAS-Bench-201 network sows each ReLU's input itself (RELU_TAPS): the jaxpr finds the same, in order.
    arch = nb201.arch_at(index)
    model = nb201.NB201Network(arch=tuple(nb201.arch_to_ops(arch)), channels=4, cells_per_stage=1)
    x = jax.random.normal(jax.random.key(2), (6, 32, 32, 3))
    variables = {"params": model.init(jax.random.key(0), x[:1])["params"]}
    _, state = model.apply(variables, x, mutable=[RELU_TAPS])
    sown = tap_list(state[RELU_TAPS])
    _, found = relu_inputs(lambda v, inputs: model.apply(v, inputs), variables, x)
    assert len(found) == len(sown) == int(sum(float(w) for _, w in sown))
    # The same arrays (the sown ones come in module-tree order, the found ones in execution order).
    def key(tap):
        return tap[0].shape, float(jnp.sum(tap[0])), float(jnp.sum(jnp.abs(tap[0])))

    for (a, _), (b, _) in zip(sorted(found, key=key), sorted(sown, key=key)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_nwot_swap_and_linear_regions_on_a_user_model(net):
    from zcjax.model_scoring import gaussian_batch

    model, variables, x = net
    y = jnp.arange(5) % 3
    ours = zcjax.score_model(model, variables, (x, y), "nwot,nwot_randn,swap,te_linear_regions")

    def relu_codes(inputs):
        # The ReLUs' inputs by hand: the outputs of the three convolutions that feed them (Net's docstring).
        _, state = model.apply(variables, inputs, mutable=["intermediates", "batch_stats"],
                               capture_intermediates=lambda mdl, name: isinstance(mdl, nn.Conv))
        c = state["intermediates"]
        feeds = [c["Conv_0"]["__call__"][0], c["conv2"]["__call__"][0], c["CheckpointBlock_0"]["Conv_0"]["__call__"][0]]
        return np.concatenate([np.asarray(v).reshape(len(inputs), -1) > 0 for v in feeds], axis=1).astype(np.float64)

    codes = relu_codes(x)
    kernel = codes @ codes.T + (1 - codes) @ (1 - codes).T
    assert ours["nwot"] == pytest.approx(np.linalg.slogdet(kernel)[1], rel=1e-9)
    assert ours["swap"] == np.unique(codes.T, axis=0).shape[0]
    noise = relu_codes(gaussian_batch(x.shape[1:]))
    assert ours["te_linear_regions"] == np.unique(noise, axis=0).shape[0]
    noise_kernel = noise @ noise.T + (1 - noise) @ (1 - noise).T
    assert ours["nwot_randn"] == pytest.approx(np.linalg.slogdet(noise_kernel)[1], rel=1e-9)
    assert zcjax.score_model(model, variables, None, "te_linear_regions", input_shape=(6, 6, 3)) == {
        "te_linear_regions": ours["te_linear_regions"]}


def test_a_model_whose_relus_cannot_be_read_refuses_them_by_name_and_gives_nan_in_a_group(net):
    class Tanh(nn.Module):
        @nn.compact
        def __call__(self, x):
            return nn.Dense(3)(jnp.tanh(nn.Dense(4)(x)))

    class Scanned(nn.Module):
        @nn.compact
        def __call__(self, x):
            step = nn.scan(lambda mdl, c, _: (jax.nn.relu(nn.Dense(5)(c)), None), variable_broadcast="params",
                           split_rngs={"params": False}, length=2)
            return nn.Dense(3)(step(self, x, None)[0])

    x, y = jax.random.normal(jax.random.key(1), (4, 5)), jnp.arange(4) % 3
    for model, problem in ((Tanh(), "the model applies no ReLU"), (Scanned(), "a ReLU inside scan")):
        variables = model.init(jax.random.key(0), x)
        with pytest.raises(ContractError, match=f"nwot reads every ReLU the model applies: {problem}"):
            zcjax.score_model(model, variables, (x, y), "snip,nwot")
        with pytest.warns(zcjax.NumericalWarning, match=f"nwot, nwot_randn, swap, te_linear_regions recorded as NaN: "
                                                        f"they read every ReLU the model applies: {problem}"):
            scores = zcjax.score_model(model, variables, (x, y), "all")
        assert all(np.isnan(scores[n]) for n in ("nwot", "nwot_randn", "swap", "te_linear_regions"))
        assert scores["snip"] > 0
    model, variables, x = net
    with pytest.raises(ContractError, match="layer_mask"):
        zcjax.score_model(model, variables, (x, jnp.arange(5) % 3), "swap",
                          layer_mask=lambda params: jax.tree.map(lambda _: 1.0, params))


def test_a_space_refuses_relu_proxies_in_its_arch_as_data_network():
    from zcjax.space_scoring import SpaceScoreConfig

    with pytest.raises(ValueError, match="nwot, te_linear_regions read every ReLU.*use --strategy per-cell"):
        SpaceScoreConfig(space="nas_bench_macro", proxies="synflow,nwot,te_linear_regions", strategy="batched")
    # Through a group they are left out, with a warning: the one program serves every architecture.
    with pytest.warns(UserWarning, match="te_linear_regions left out"):
        config = SpaceScoreConfig(space="nas_bench_macro", proxies="data-free", strategy="batched")
    assert "te_linear_regions" not in config.proxies and "nwot_randn" not in config.proxies
    assert "synflow" in config.proxies
    assert SpaceScoreConfig(space="nas_bench_macro", proxies="nwot").resolved_strategy() == "per-cell"
    assert SpaceScoreConfig(space="nas_bench_macro", proxies="synflow", strategy="batched").resolved_strategy() == \
        "batched"
