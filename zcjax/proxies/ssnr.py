"""Saliency signal-to-noise ratio (SSNR), overall and layer-wise."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ._tree import Tree


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
    leaves = jax.tree.leaves(saliency)
    masks = jax.tree.leaves(mask)
    dtype = leaves[0].dtype
    count = sum(m.astype(dtype) * s.size for s, m in zip(leaves, masks))
    total = sum(m.astype(dtype) * jnp.sum(s) for s, m in zip(leaves, masks))
    mean = total / jnp.maximum(count, 1)
    var = sum(m.astype(dtype) * jnp.sum(jnp.square(s - mean)) for s, m in zip(leaves, masks)) / jnp.maximum(count, 1)
    std = jnp.sqrt(var)
    overall = jnp.where(std > 0, total / jnp.where(std > 0, std, 1), 0)

    def layer_term(s, m):
        std_l = jnp.std(s)
        return m.astype(dtype) * jnp.where(std_l > 0, jnp.sum(s) / jnp.where(std_l > 0, std_l, 1), 0)

    layerwise = sum(layer_term(s, m) for s, m in zip(leaves, masks))
    return overall, layerwise
