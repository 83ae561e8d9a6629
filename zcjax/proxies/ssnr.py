"""Saliency signal-to-noise ratio (SSNR), overall and layer-wise."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ._tree import Tree, array_module, layer_reduce, mask_vector


def _row_moments(a: jax.Array) -> tuple[jax.Array, jax.Array]:
    return jnp.sum(a, 1), jnp.sum(jnp.square(a - jnp.mean(a, 1, keepdims=True)), 1)


def layer_moments(saliency: Tree) -> tuple[jax.Array, jax.Array]:
    """Per layer, in leaf order: the sum, and the sum of squared deviations from the layer's mean."""
    return layer_reduce(saliency, _row_moments)


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
    xp = array_module(sums, deviations, mask_values)
    size = xp.asarray([leaf.size for leaf in jax.tree.leaves(saliency)], sums.dtype)
    m = mask_values
    count = xp.sum(m * size)
    total = xp.sum(m * sums)
    mean = total / xp.maximum(count, 1)
    # The overall variance: each layer's squared deviations plus the spread of
    # the layer means (the parallel-variance decomposition).
    var = xp.sum(m * (deviations + size * xp.square(sums / size - mean))) / xp.maximum(count, 1)
    std = xp.sqrt(var)
    overall = xp.where(std > 0, total / xp.where(std > 0, std, 1), 0)
    std_l = xp.sqrt(deviations / size)
    layerwise = xp.sum(m * xp.where(std_l > 0, sums / xp.where(std_l > 0, std_l, 1), 0))
    return overall, layerwise
