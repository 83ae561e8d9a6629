"""The eager strategy's gradient passes: a static NAS-Bench-201 cell through its fused tape.

:class:`TapePasses` is a :class:`zcjax.scoring.GradientPasses` whose passes
run the cell's network as a tape of fused layer programs
(:mod:`zcjax.spaces.nb201.fused`), op by op from Python: a few programs per
layer kind and shape, shared by every cell of the space, where JAX's own
transformation of the eager network compiled a program per layer call
transformation. It computes what :class:`zcjax.scoring.AutodiffPasses`
computes (the same functions, up to float32 rounding of cotangent sums);
eager only: under ``jit`` the traced autodiff is used.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import jax
import jax.numpy as jnp

from .proxies._tree import Tree, kernels
from .scoring import Gradients, cross_entropy
from .spaces.nb201.fused import Tape, check_supported, layer_tree, param_grads
from .spaces.nb201.network import NB201Network


@jax.jit
def _loss_grad(logits: jax.Array, labels: jax.Array) -> jax.Array:
    return jax.grad(cross_entropy)(logits, labels)


@jax.jit
def _loss_grad_jvp(logits: jax.Array, labels: jax.Array, logits_dot: jax.Array) -> tuple[jax.Array, jax.Array]:
    return jax.jvp(lambda z: jax.grad(cross_entropy)(z, labels), (logits,), (logits_dot,))


@functools.partial(jax.jit, static_argnums=(0, 1))
def _ones_of(shape: tuple[int, ...], dtype: Any) -> jax.Array:
    return jnp.ones(shape, dtype)


def _ones(like: jax.Array) -> jax.Array:
    return _ones_of(like.shape, jnp.dtype(like.dtype))


@dataclasses.dataclass(frozen=True)
class TapePasses:
    """:class:`~zcjax.scoring.GradientPasses` through the fused tape of a static cell's network (run eagerly).

    Attributes:
      model: the cell's network (static arch, batch-statistic BatchNorm; see
        :func:`zcjax.spaces.nb201.fused.check_supported`).
    """

    model: NB201Network

    def __post_init__(self):
        check_supported(self.model)

    def minibatch(self, params: Tree, x: jax.Array, y: jax.Array, passes: frozenset[str]) -> Gradients:
        tape = Tape(self.model, params, x)
        logits = tape.logits.primal
        jacobian = tape.backward(_ones(logits))["input"] if "jacobian" in passes else None
        if not passes & {"loss", "hessian"}:
            return Gradients(jacobian=jacobian)
        weights = kernels(params)
        back = tape.backward(_loss_grad(logits, y))

        def hvp(vector: Tree) -> Tree:
            linear = Tape(self.model, params, x, kernel_tangents=vector)
            g, g_dot = _loss_grad_jvp(linear.logits.primal, y, linear.logits.tangent)
            return param_grads(linear.backward(g, g_dot), weights, "kernel", "grads_dot")

        return Gradients(param_grads(back, weights), layer_tree(tape.activations(), weights),
                         param_grads(back, weights, "z"), hvp if "hessian" in passes else None, jacobian)

    def output_sum_grads(self, network: NB201Network, params: Tree, x: jax.Array) -> Tree:
        tape = Tape(network, params, x)
        return param_grads(tape.backward(_ones(tape.logits.primal)), kernels(params))
