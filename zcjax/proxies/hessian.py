"""GraSP: -W * (H g), with H the Hessian of the loss in the saliency weights."""

from __future__ import annotations

from typing import Any, Callable

import jax

from ._tree import Tree, leaf_map


def linearize_gradient(gradient_pass: Callable[[Tree], tuple[tuple, Any]], weights: Tree
                       ) -> tuple[tuple, Callable[[Tree], Tree], Any]:
    """Runs a gradient pass once and returns its outputs with the Hessian-vector product at ``weights``.

    The product is forward-over-reverse (the jvp of the gradient, via
    ``jax.linearize``): it reuses the pass's forward and backward, and no
    Hessian is formed.

    Args:
      gradient_pass: ``weights -> (outputs, aux)``; ``outputs`` is a tuple whose
        first element is the gradient of the loss in ``weights``; ``aux`` is not
        differentiated.
      weights: the point at which the Hessian is taken.

    Returns:
      ``(outputs, hvp, aux)``, with ``hvp(v)`` = H v, a tree like ``weights``.
    """
    outputs, output_jvp, aux = jax.linearize(gradient_pass, weights, has_aux=True)
    return outputs, lambda vector: output_jvp(vector)[0], aux


def hessian_vector_product(loss_of_weights: Callable[[Tree], jax.Array], weights: Tree, vector: Tree) -> Tree:
    """H v of a scalar loss (see :func:`linearize_gradient`).

    Args:
      loss_of_weights: the scalar loss as a function of the weights alone.
      weights: the point at which the Hessian is taken.
      vector: the direction v, a tree like ``weights``.

    Returns:
      H v, a tree like ``weights``.
    """
    _, hvp, _ = linearize_gradient(lambda w: ((jax.grad(loss_of_weights)(w),), None), weights)
    return hvp(vector)


def _negative_product(w: jax.Array, hg: jax.Array) -> jax.Array:
    return -w * hg


def grasp_saliency(weights: Tree, hessian_grad: Tree) -> Tree:
    """Per parameter: -W * (H g)."""
    return leaf_map(_negative_product, weights, hessian_grad)
