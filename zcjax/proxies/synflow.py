"""Synflow: saliency of the absolute-value linearised network on an all-ones input, in float64."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from ._tree import Tree, kernels, leaf_map, replace_kernels
from .gradient import abs_product


def require_x64() -> None:
    """Raises unless float64 is enabled (synflow reaches 1e47, beyond float32)."""
    if jax.dtypes.canonicalize_dtype(jnp.float64) != jnp.float64:
        raise RuntimeError("synflow needs float64: call it inside `with jax.enable_x64(True):`")


def _abs_float64(p: jax.Array) -> jax.Array:
    return jnp.abs(p).astype(jnp.float64)


def synflow_saliency(model: Any, params: Tree, ops: jax.Array | None, image_size: int,
                     output_sum_grads: Callable[[Any, Tree, jax.Array], Tree] | None = None) -> Tree:
    """Per parameter: |W * dR/dW|, R = sum of the logits of the |.|-linearised network on one ones image.

    Every parameter is replaced by its absolute value and the computation runs in
    float64 (call inside ``jax.enable_x64(True)``). ``model`` is used as given:
    pass ``model.synflow_variant()`` for the reference's synflow (BatchNorm only in
    the reduction blocks) or the network itself for synflow_bn.

    Args:
      model: a Flax module called as ``model.apply({'params': p}, x, ops)``.
      params: its parameters.
      ops: the op indices for an arch-as-data network, else None.
      image_size: input height and width.
      output_sum_grads: ``(model, params, x) -> d(sum of logits)/d(kernels)``, a
        layer tree; default: ``jax.grad`` through ``model.apply``.

    Returns:
      A float64 layer tree shaped like the kernels.
    """
    require_x64()
    abs_params = leaf_map(_abs_float64, params)
    x = jnp.ones((1, image_size, image_size, 3), jnp.float64)

    grads = (output_sum_grads(model, abs_params, x) if output_sum_grads is not None
             else logit_sum_grads(model, abs_params, ops, x))
    return leaf_map(abs_product, kernels(abs_params), grads)


def logit_sum_grads(model: Any, params: Tree, ops: jax.Array | None, x: jax.Array) -> Tree:
    """d(sum of ``model``'s logits on ``x``)/d(kernels), a layer tree, by ``jax.grad`` through ``model.apply``."""
    args = (x,) if ops is None else (x, ops)
    return jax.grad(lambda w: jnp.sum(model.apply({"params": replace_kernels(params, w)}, *args)))(kernels(params))
