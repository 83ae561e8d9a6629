"""Parameter initialisers of the NB201 network, cheap to run eagerly.

Each gives the values of the JAX/Flax initialiser it names, bit for bit,
traced or not. Eagerly (a concrete key, as when a cell is initialised op by
op), the random draws come from one compiled program per size bucket instead
of one per parameter shape: with threefry's partitionable counters (JAX's
default), every element's bits depend only on the key and the element's
index, so the first ``n`` draws of a longer vector are the draws of a vector
of ``n``. A network's 13 parameter shapes compiled 13 random programs (about
5 s of a fresh process's first cell). The variance scaling's multiplication
runs in NumPy (one float32 product, as JAX's own eager op).
"""

from __future__ import annotations

import functools
import math
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

Initializer = Callable[..., Any]
_SMALLEST_BUCKET = 4096


@functools.partial(jax.jit, static_argnums=(3, 4, 5))
def _bucket_draws(key: jax.Array, minval: jax.Array, maxval: jax.Array, distribution: str, size: int,
                  dtype: Any) -> jax.Array:
    if distribution == "uniform":
        return jax.random.uniform(key, (size,), dtype, minval, maxval)
    return jax.random.normal(key, (size,), dtype)


def _eager(key: jax.Array) -> bool:
    return not isinstance(key, jax.core.Tracer) and jax.config.jax_threefry_partitionable


def draws(key: jax.Array, distribution: str, shape: tuple[int, ...], dtype: Any,
          minval: float = 0.0, maxval: float = 1.0) -> Any:
    """``jax.random.uniform(key, shape, dtype, minval, maxval)`` or ``jax.random.normal(key, shape, dtype)``.

    Returns a NumPy array when the key is concrete (a prefix of a draw of a
    bucket size; the uniform draws' affine map stays in the compiled program,
    where XLA fuses it as it does for ``jax.random.uniform``), else a traced
    array.
    """
    if not _eager(key):
        if distribution == "uniform":
            return jax.random.uniform(key, shape, dtype, minval, maxval)
        return jax.random.normal(key, shape, dtype)
    size = math.prod(shape)
    bucket = _SMALLEST_BUCKET
    while bucket < size:
        bucket *= 4
    bounds = np.asarray(minval, dtype), np.asarray(maxval, dtype)
    return np.asarray(_bucket_draws(key, *bounds, distribution, bucket, np.dtype(dtype)))[:size].reshape(shape)


def variance_scaling(scale: float, mode: str, distribution: str) -> Initializer:
    """``jax.nn.initializers.variance_scaling`` for modes 'fan_in'/'fan_avg', distributions 'uniform'/'normal'.

    For a kernel of shape (..., in, out): fan_in = in x receptive field, fan_out
    = out x receptive field.
    """
    def init(key: jax.Array, shape: tuple[int, ...], dtype: Any = jnp.float32) -> jax.Array:
        receptive = math.prod(shape[:-2])
        fan_in, fan_out = shape[-2] * receptive, shape[-1] * receptive
        # As JAX: the variance rounded to dtype, the scale's square root taken in dtype.
        variance = np.asarray(scale / (fan_in if mode == "fan_in" else (fan_in + fan_out) / 2), dtype)
        if distribution == "uniform":  # uniform(key, shape, dtype, -1) * sqrt(3 * variance)
            return jnp.asarray(draws(key, "uniform", shape, dtype, -1.0) * np.sqrt(np.asarray(3, dtype) * variance))
        return jnp.asarray(draws(key, "normal", shape, dtype) * np.sqrt(variance))
    return init


def normal(stddev: float) -> Initializer:
    """``jax.random.normal(key, shape, dtype) * stddev``."""
    return lambda key, shape, dtype=jnp.float32: jnp.asarray(draws(key, "normal", shape, dtype) * np.asarray(stddev, dtype))


def uniform(bound: float) -> Initializer:
    """``jax.random.uniform(key, shape, dtype, -bound, bound)``."""
    return lambda key, shape, dtype=jnp.float32: jnp.asarray(draws(key, "uniform", shape, dtype, -bound, bound))


def constant(value: float) -> Initializer:
    """Every element ``value`` (``nn.initializers.zeros``/``ones``), without a compiled program eagerly."""
    def init(key: jax.Array, shape: tuple[int, ...], dtype: Any = jnp.float32) -> jax.Array:
        if _eager(key):
            return jnp.asarray(np.full(shape, value, dtype))
        return jnp.full(shape, value, dtype)
    return init
