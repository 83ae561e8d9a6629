"""Data-free size measures: l2_norm, params and flops."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from ._tree import Tree, layer_norms


def l2_norm_layers(weights: Tree) -> Tree:
    """Per layer: the Frobenius norm of W."""
    return layer_norms(weights)


def param_count(params: Tree, mask: Tree) -> jax.Array:
    """Number of parameters of the layers the architecture uses.

    Every leaf of a saliency layer (kernel, bias, and the BatchNorm parameters
    a layer owns, NASLib's ``bn_scale``/``bn_bias``) counts when the layer's
    mask is on; every other parameter (BatchNorm scale and shift) always counts.
    """
    def count(tree, layer_mask):
        if isinstance(tree, dict) and "kernel" in tree:
            size = sum(math.prod(leaf.shape) for leaf in jax.tree.leaves(tree))
            return layer_mask["kernel"] * size
        if isinstance(tree, dict):
            return sum((count(v, layer_mask.get(k, {}) if isinstance(layer_mask, dict) else {})
                        for k, v in tree.items()), jnp.float32(0))
        return jnp.float32(math.prod(tree.shape))

    return count(params, mask)


def flops_layers(weights: Tree, activations: Tree) -> Tree:
    """Per layer: multiply-adds for one image (positions of the output x kernel size)."""
    return jax.tree.map(lambda w, z: jnp.float32(math.prod(z.shape[1:-1]) * math.prod(w.shape)),
                        weights, activations)
