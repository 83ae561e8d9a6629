"""Gradient saliencies: grad_norm, snip and plain (one backward pass of the loss)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ._tree import Tree, layer_norms


def grad_norm_layers(grads: Tree) -> Tree:
    """Per layer: the Frobenius norm of dL/dW."""
    return layer_norms(grads)


def snip_saliency(weights: Tree, grads: Tree) -> Tree:
    """Per parameter: |W * dL/dW|."""
    return jax.tree.map(lambda w, g: jnp.abs(w * g), weights, grads)


def plain_saliency(weights: Tree, grads: Tree) -> Tree:
    """Per parameter: W * dL/dW."""
    return jax.tree.map(lambda w, g: w * g, weights, grads)
