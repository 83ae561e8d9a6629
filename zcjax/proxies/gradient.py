"""Gradient saliencies: grad_norm, snip and plain (one backward pass of the loss)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ._tree import Tree, layer_norms, leaf_map


def abs_product(a: jax.Array, b: jax.Array) -> jax.Array:
    """|a * b|, elementwise."""
    return jnp.abs(a * b)


def grad_norm_layers(grads: Tree) -> Tree:
    """Per layer: the Frobenius norm of dL/dW."""
    return layer_norms(grads)


def snip_saliency(weights: Tree, grads: Tree) -> Tree:
    """Per parameter: |W * dL/dW|."""
    return leaf_map(abs_product, weights, grads)


def plain_saliency(weights: Tree, grads: Tree) -> Tree:
    """Per parameter: W * dL/dW."""
    return leaf_map(jnp.multiply, weights, grads)
