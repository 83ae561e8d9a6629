"""PyTorch's default initialisers and BatchNorm constants, for the spaces' Flax networks.

The benchmarks' networks are PyTorch modules; ours start from the same laws:

* ``torch_kernel``: ``nn.Conv2d`` / ``nn.Linear`` weights, ``kaiming_uniform(a=sqrt(5))``,
  which is ``U(+-1/sqrt(fan_in))`` (variance scaling 1/3, fan-in, uniform);
* ``torch_bias(fan_in)``: their biases, ``U(+-1/sqrt(fan_in))``;
* ``kaiming_fan_out``: ``kaiming_normal_(mode='fan_out', nonlinearity='relu')``,
  ``N(0, 2 / (k*k*c_out))``, which several benchmarks apply to their convolutions;
* ``BN_EPS``, ``BN_MOMENTUM``: ``nn.BatchNorm2d``'s defaults in Flax's convention
  (PyTorch's momentum 0.1 is Flax's 0.9).

:func:`numpy_init` draws a whole network's variables with NumPy by these laws,
without tracing the network (``module.init`` runs it layer by layer: seconds
to a minute per architecture on a CPU).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

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


CONV_LAWS = ("torch", "kaiming_fan_out")
DENSE_LAWS = ("torch", "normal_0.01")


def numpy_init(shapes: Any, rng: np.random.Generator, conv: str = "torch", dense: str = "torch") -> dict[str, Any]:
    """Initial variables drawn with NumPy, filling ``jax.eval_shape(module.init, ...)``'s tree directly.

    The laws are the module's own (the draws differ, not their distribution):

    * convolution kernels (4-d): ``conv='torch'``, uniform in
      ``+-1/sqrt(fan_in)`` (fan_in = the product of all axes but the last,
      ``k*k*c_in/groups``); ``'kaiming_fan_out'``, normal with variance
      ``2 / (k*k*c_out)``;
    * dense kernels and the biases of convolutions and dense layers:
      ``dense='torch'``, uniform in ``+-1/sqrt(fan_in)`` of the layer's kernel;
      ``'normal_0.01'``, kernels normal with std 0.01 and biases 0;
    * BatchNorm: scale 1 and shift 0; running mean 0 and variance 1.

    Args:
      shapes: the variables' structs (``SpaceNetwork.shapes()``).
      rng: the generator; leaves are drawn in the tree's order.
      conv: the law of convolution kernels (:data:`CONV_LAWS`).
      dense: the law of dense kernels and biases (:data:`DENSE_LAWS`).

    Returns:
      ``{'params': ..., 'batch_stats': ...}`` of float32 NumPy arrays.

    Raises:
      ValueError: an unknown law, or a leaf that is none of kernel, bias,
        scale and the BatchNorm statistics.
    """
    if conv not in CONV_LAWS or dense not in DENSE_LAWS:
        raise ValueError(f"unknown init laws conv={conv!r}, dense={dense!r}; "
                         f"conv takes {', '.join(CONV_LAWS)}, dense {', '.join(DENSE_LAWS)}")

    def uniform_fan_in(kernel_shape: tuple[int, ...], shape: tuple[int, ...]) -> np.ndarray:
        bound = 1.0 / float(np.prod(kernel_shape[:-1])) ** 0.5
        return rng.uniform(-bound, bound, shape)

    def fill(tree: Any, collection: str) -> Any:
        out = {}
        for name, leaf in tree.items():
            if isinstance(leaf, Mapping):
                out[name] = fill(leaf, collection)
                continue
            shape = tuple(leaf.shape)
            if collection == "batch_stats":
                value = np.zeros(shape) if name == "mean" else np.ones(shape)
            elif name == "scale":
                value = np.ones(shape)
            elif name == "bias" and "scale" in tree:  # BatchNorm's shift
                value = np.zeros(shape)
            elif name == "kernel" and len(shape) == 4 and conv == "kaiming_fan_out":
                value = rng.normal(0.0, (2.0 / (shape[0] * shape[1] * shape[3])) ** 0.5, shape)
            elif name == "kernel" and len(shape) == 2 and dense == "normal_0.01":
                value = rng.normal(0.0, 0.01, shape)
            elif name == "bias" and dense == "normal_0.01":
                value = np.zeros(shape)
            elif name == "kernel":
                value = uniform_fan_in(shape, shape)
            elif name == "bias":
                value = uniform_fan_in(tuple(tree["kernel"].shape), shape)
            else:
                raise ValueError(f"no NumPy init for leaf {name!r} of collection {collection!r}")
            out[name] = value.astype(np.float32)
        return out

    return {collection: fill(tree, collection) for collection, tree in shapes.items()}


__all__ = ["BN_EPS", "BN_MOMENTUM", "CONV_LAWS", "DENSE_LAWS", "kaiming_fan_out", "numpy_init", "torch_bias",
           "torch_kernel"]
