"""GraSP: -W * (H g), with H the Hessian of the loss in the saliency weights."""

from __future__ import annotations

from typing import Callable

import jax

from ._tree import Tree


def hessian_vector_product(loss_of_weights: Callable[[Tree], jax.Array], weights: Tree, vector: Tree) -> Tree:
    """H v by forward-over-reverse differentiation (jvp of grad); no Hessian is formed.

    Args:
      loss_of_weights: the scalar loss as a function of the weights alone (every
        other parameter closed over, hence held fixed).
      weights: the point at which the Hessian is taken.
      vector: the direction v, a tree like ``weights``.

    Returns:
      H v, a tree like ``weights``.
    """
    return jax.jvp(jax.grad(loss_of_weights), (weights,), (vector,))[1]


def grasp_saliency(weights: Tree, hessian_grad: Tree) -> Tree:
    """Per parameter: -W * (H g)."""
    return jax.tree.map(lambda w, hg: -w * hg, weights, hessian_grad)
