"""Fisher: channel saliency from activations and their gradients (Theis et al., as in the reference)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ._tree import Tree, leaf_map


def fisher_saliency(weights: Tree, activations: Tree, activation_grads: Tree) -> Tree:
    """Per parameter: the fisher value of the parameter's output channel.

    For a layer with output z (after its bias, before any BatchNorm) and dL/dz,
    channel k gets F_k = 0.5 * mean over the batch of (sum over positions of
    z * dL/dz)^2. As in the reference, F_k is spread over every weight of that
    channel, so a layer sums to fan_in * sum_k F_k.

    Args:
      weights: layer tree of kernels (last axis = output channels).
      activations: layer tree of the layers' outputs z, (N, ..., C).
      activation_grads: layer tree of dL/dz, shaped like ``activations``.

    Returns:
      A layer tree shaped like ``weights``.
    """
    return leaf_map(_channel_fisher, weights, activations, activation_grads)


def _channel_fisher(w: jax.Array, z: jax.Array, dz: jax.Array) -> jax.Array:
    per_sample = jnp.sum(z * dz, axis=tuple(range(1, z.ndim - 1)))  # (N, C)
    channel = 0.5 * jnp.mean(jnp.square(per_sample), axis=0)
    return jnp.broadcast_to(channel.astype(w.dtype), w.shape)
