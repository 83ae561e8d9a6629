"""Saliency signal-to-noise ratio (SSNR), overall and layer-wise."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ._tree import Tree, layer_reduce, mask_vector


def layer_moments(saliency: Tree) -> tuple[jax.Array, jax.Array]:
    """Per layer, in leaf order: the sum, and the sum of squared deviations from the layer's mean."""
    return layer_reduce(saliency, lambda a: (jnp.sum(a, 1), jnp.sum(jnp.square(a - jnp.mean(a, 1, keepdims=True)), 1)))


def ssnr(saliency: Tree, mask: Tree) -> tuple[jax.Array, jax.Array]:
    """SSNR of a per-parameter saliency over the layers the mask switches on.

    overall = sum(S) / std(S), with the population std over every parameter (0
    when the std is 0); layerwise = sum over layers with std_l > 0 of
    sum(S_l) / std_l.

    Args:
      saliency: layer tree of per-parameter saliencies.
      mask: layer tree of 0/1 scalars (which layers the architecture uses).

    Returns:
      (overall, layerwise) scalars.
    """
    sums, deviations = layer_moments(saliency)
    return ssnr_of_moments(sums, deviations, saliency, mask_vector(mask, saliency))


def ssnr_of_moments(sums: jax.Array, deviations: jax.Array, saliency: Tree,
                    mask_values: jax.Array) -> tuple[jax.Array, jax.Array]:
    """:func:`ssnr` from :func:`layer_moments` of ``saliency`` and its mask as a vector."""
    size = jnp.asarray([leaf.size for leaf in jax.tree.leaves(saliency)], sums.dtype)
    m = mask_values
    count = jnp.sum(m * size)
    total = jnp.sum(m * sums)
    mean = total / jnp.maximum(count, 1)
    # The overall variance: each layer's squared deviations plus the spread of
    # the layer means (the parallel-variance decomposition).
    var = jnp.sum(m * (deviations + size * jnp.square(sums / size - mean))) / jnp.maximum(count, 1)
    std = jnp.sqrt(var)
    overall = jnp.where(std > 0, total / jnp.where(std > 0, std, 1), 0)
    std_l = jnp.sqrt(deviations / size)
    layerwise = jnp.sum(m * jnp.where(std_l > 0, sums / jnp.where(std_l > 0, std_l, 1), 0))
    return overall, layerwise
