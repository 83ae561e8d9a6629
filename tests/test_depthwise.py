"""DepthwiseConv: the shifted-slices sum equals XLA's grouped convolution, values and gradients."""

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from zcjax.spaces.depthwise import DepthwiseConv, _auto_method, depthwise_conv


@pytest.mark.parametrize("kernel,stride,dilation,size", [(5, 2, 1, 9), (3, 1, 2, 7), (1, 2, 1, 6)])
def test_shifts_equal_the_grouped_convolution_and_its_gradients(kernel, stride, dilation, size):
    pad = dilation * (kernel - 1) // 2
    padding = ((pad, pad), (pad, pad))
    k1, k2, k3 = jax.random.split(jax.random.key(kernel * 10 + stride), 3)
    x = jax.random.normal(k1, (2, size, size + 1, 5))
    w = jax.random.normal(k2, (kernel, kernel, 1, 5))
    conv = DepthwiseConv((kernel, kernel), (stride, stride), padding, (dilation, dilation), method="conv")
    shifts = conv.clone(method="shifts")
    chex.assert_shape(jax.eval_shape(conv.init, k3, x)["params"]["kernel"], (kernel, kernel, 1, 5))
    # Flax's own grouped convolution: the layer it replaces in the spaces' networks.
    flax_conv = nn.Conv(5, (kernel, kernel), (stride, stride), padding, kernel_dilation=(dilation, dilation),
                        feature_group_count=5, use_bias=False)

    @jax.jit
    def outputs_and_gradients(w, x):
        def loss(module, w, x):
            return jnp.sum(jnp.sin(module.apply({"params": {"kernel": w}}, x)))

        return [(m.apply({"params": {"kernel": w}}, x), jax.grad(loss, argnums=(1, 2))(m, w, x))
                for m in (shifts, conv, flax_conv)]

    ours, grouped, flax_ = outputs_and_gradients(w, x)
    chex.assert_trees_all_close(ours, flax_, rtol=1e-4, atol=1e-4)
    chex.assert_trees_all_close(grouped, flax_, rtol=1e-6, atol=1e-6)
    assert ours[0].shape == flax_[0].shape


def test_float64_gives_float64_equal_to_rounding():
    with jax.enable_x64(True):
        x = jnp.asarray(np.random.default_rng(0).normal(size=(1, 7, 7, 3)))
        w = jnp.asarray(np.random.default_rng(1).normal(size=(3, 3, 1, 3)))
        ours = DepthwiseConv((3, 3), padding=((1, 1), (1, 1)), method="shifts").apply({"params": {"kernel": w}}, x)
        theirs = DepthwiseConv((3, 3), padding=((1, 1), (1, 1)), method="conv").apply({"params": {"kernel": w}}, x)
        assert ours.dtype == jnp.float64
        np.testing.assert_allclose(np.asarray(ours), np.asarray(theirs), rtol=1e-13, atol=1e-13)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="method must be one of auto, shifts, conv"):
        depthwise_conv(jnp.ones((1, 4, 4, 2)), jnp.ones((3, 3, 1, 2)), method="fft")
    with pytest.raises(ValueError, match=r"\(kh, kw, 1, C\) filters, got \(1, 4, 4, 2\) and \(3, 3, 1, 3\)"):
        depthwise_conv(jnp.ones((1, 4, 4, 2)), jnp.ones((3, 3, 1, 3)))
    with pytest.raises(ValueError, match="does not fit"):
        depthwise_conv(jnp.ones((1, 2, 2, 2)), jnp.ones((5, 5, 1, 2)), method="shifts")


def test_auto_runs_shifts_where_traced_on_cpu_and_one_grouped_convolution_op_by_op():
    x = jnp.ones((1, 4, 4, 2))
    assert _auto_method(x) == "conv"  # module.init, plain evaluation: one op to dispatch
    seen = []
    jax.jit(lambda x: seen.append(_auto_method(x)) or x)(x)
    jax.grad(lambda x: seen.append(_auto_method(x)) or jnp.sum(x))(x)
    assert seen == ["shifts", "shifts"] if jax.default_backend() == "cpu" else ["conv", "conv"]
