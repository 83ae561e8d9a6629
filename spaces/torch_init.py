"""PyTorch's default initialisers and BatchNorm constants, for the spaces' Flax networks.

The benchmarks' networks are PyTorch modules; ours start from the same laws:

* ``torch_kernel``: ``nn.Conv2d`` / ``nn.Linear`` weights, ``kaiming_uniform(a=sqrt(5))``,
  which is ``U(+-1/sqrt(fan_in))`` (variance scaling 1/3, fan-in, uniform);
* ``torch_bias(fan_in)``: their biases, ``U(+-1/sqrt(fan_in))``;
* ``kaiming_fan_out``: ``kaiming_normal_(mode='fan_out', nonlinearity='relu')``,
  ``N(0, 2 / (k*k*c_out))``, which several benchmarks apply to their convolutions;
* ``BN_EPS``, ``BN_MOMENTUM``: ``nn.BatchNorm2d``'s defaults in Flax's convention
  (PyTorch's momentum 0.1 is Flax's 0.9).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

BN_EPS = 1e-5
BN_MOMENTUM = 0.9  # PyTorch's momentum 0.1: running = 0.9 * running + 0.1 * batch

torch_kernel = nn.initializers.variance_scaling(1.0 / 3.0, "fan_in", "uniform")
kaiming_fan_out = nn.initializers.variance_scaling(2.0, "fan_out", "normal")


def torch_bias(fan_in: int) -> Callable[..., jax.Array]:
    """The initialiser of a PyTorch conv or linear bias with ``fan_in`` inputs: ``U(+-1/sqrt(fan_in))``."""
    bound = 1.0 / fan_in**0.5

    def init(key: jax.Array, shape: Sequence[int], dtype=jnp.float32) -> jax.Array:
        return jax.random.uniform(key, shape, dtype, -bound, bound)

    return init


__all__ = ["BN_EPS", "BN_MOMENTUM", "kaiming_fan_out", "torch_bias", "torch_kernel"]
