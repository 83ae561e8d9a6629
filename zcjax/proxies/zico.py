"""ZiCo (Li et al., ICLR 2023): how consistent and how large the gradients are across batches."""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp

from ._tree import Tree


def zico_layers(grads: Sequence[Tree]) -> Tree:
    """Per layer: ``log(sum over weights of mean_b |g| / std_b(g))``, or 0 where that sum is 0.

    ``std`` is the population standard deviation over the batches (NumPy's
    default); weights whose gradient does not vary (std 0) are left out of the
    sum, and a layer left with nothing adds 0 (the official code skips it).

    Args:
      grads: one layer tree of dL/dW per batch (at least 2), each the gradient
        of the mean loss of that batch alone.

    Returns:
      A layer tree of scalars.
    """
    if len(grads) < 2:
        raise ValueError(f"zico needs the gradients of at least 2 batches, got {len(grads)}")

    def layer(*gs):
        g = jnp.stack(gs)
        std = jnp.std(g, axis=0)
        ratio = jnp.where(std > 0, jnp.mean(jnp.abs(g), axis=0) / jnp.where(std > 0, std, 1), 0.0)
        total = jnp.sum(ratio)
        return jnp.where(total > 0, jnp.log(jnp.where(total > 0, total, 1)), 0.0)

    return jax.tree.map(layer, *grads)
