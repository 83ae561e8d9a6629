"""The input of every ReLU a function applies, read off its jaxpr: NASWOT, SWAP and TE-NAS on any model.

NASWOT, SWAP and TE-NAS's linear regions read the sign of every ReLU's input.
In a Flax model the ReLU is a function (``flax.linen.relu`` is
``jax.nn.relu``), not a module, so no method interceptor sees it. Instead,
:func:`relu_inputs` traces the function to a jaxpr and evaluates it equation by
equation, recording the input of each ReLU as it goes: whatever name the
model's code gave the function, wherever it was imported from.

A ReLU is a call of ``jax.nn.relu`` (a ``custom_jvp_call`` around a ``jit``
named ``relu`` whose body is ``max(x, 0)``). Calls inside ``jit``,
``checkpoint`` (``nn.remat``), ``closed_call`` and a custom derivative's primal
(``custom_jvp``, ``custom_vjp``) are evaluated inline and tapped; a ReLU inside
a loop or a branch (``scan``, ``while``, ``cond``: ``nn.scan``,
``nn.while_loop``) is refused, since its inputs differ per iteration.
``jnp.maximum(x, 0)`` written by hand is not a ReLU here.

Evaluation binds the same primitives as the function itself, so the outputs
are the function's own. It is meant for forward passes: a custom derivative
whose primal holds a ReLU is evaluated through its primal, so differentiating
:func:`relu_inputs` itself would not use that rule.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from jax.extend import core as jcore

Tap = tuple[jax.Array, jax.Array]
# Equations whose body runs once, evaluated in line when it holds a ReLU (custom derivatives: their primal).
INLINE = ("jit", "pjit", "checkpoint", "remat", "remat2", "closed_call", "core_call", "custom_jvp_call",
          "custom_vjp_call", "custom_vjp_call_jaxpr")
BODY = ("jaxpr", "call_jaxpr", "fun_jaxpr")  # where an INLINE equation keeps its body


class ReluInLoopError(ValueError):
    """A ReLU sits inside a loop or a branch, whose inputs cannot be tapped once."""


def _is_relu_jit(eqn: Any) -> bool:
    """``jax.nn.relu``'s ``jit``: named relu, one array in and out, its body ``max(x, 0)``."""
    if not (eqn.primitive.name in ("jit", "pjit") and eqn.params.get("name") == "relu"
            and len(eqn.invars) == 1 and len(eqn.outvars) == 1 and "jaxpr" in eqn.params):
        return False
    body = _open(eqn.params["jaxpr"]).eqns
    return (len(body) == 1 and body[0].primitive.name == "max"
            and any(isinstance(v, jcore.Literal) and v.val == 0 for v in body[0].invars))


def _is_relu(eqn: Any) -> bool:
    """A call of ``jax.nn.relu``: its ``custom_jvp_call`` (around the ``jit`` named relu), or that ``jit`` alone."""
    if _is_relu_jit(eqn):
        return True
    if eqn.primitive.name != "custom_jvp_call" or len(eqn.invars) != 1 or len(eqn.outvars) != 1:
        return False
    inner = eqn.params["call_jaxpr"].jaxpr
    return len(inner.eqns) == 1 and _is_relu_jit(inner.eqns[0])


def _has_relu(jaxpr: Any) -> bool:
    return any(_is_relu(e) or any(_has_relu(_open(j)) for j in jcore.jaxprs_in_params(e.params))
               for e in jaxpr.eqns)


def _open(jaxpr: Any) -> Any:
    return jaxpr.jaxpr if isinstance(jaxpr, jcore.ClosedJaxpr) else jaxpr


def _evaluate(jaxpr: Any, consts: list[Any], args: list[Any], taps: list[jax.Array]) -> list[Any]:
    env: dict[Any, Any] = {}

    def read(var):
        return var.val if isinstance(var, jcore.Literal) else env[var]

    for var, value in zip(jaxpr.constvars, consts):
        env[var] = value
    for var, value in zip(jaxpr.invars, args):
        env[var] = value
    for eqn in jaxpr.eqns:
        invals = [read(v) for v in eqn.invars]
        relu = _is_relu(eqn)
        if relu:  # recorded, then evaluated as it is
            taps.append(invals[0])
        if not relu and any(_has_relu(_open(j)) for j in jcore.jaxprs_in_params(eqn.params)):
            body = next((eqn.params[k] for k in BODY if k in eqn.params), None)
            if eqn.primitive.name not in INLINE or body is None:
                raise ReluInLoopError(_loop_message(eqn.primitive.name))
            outvals = _evaluate(_open(body), list(getattr(body, "consts", [])), invals, taps)
        else:
            bind = eqn.primitive.get_bind_params(eqn.params)  # params (JAX >= 0.7), or (subfuns, params)
            subfuns, params = bind if isinstance(bind, tuple) else ((), bind)
            with eqn.ctx.manager:
                outvals = eqn.primitive.bind(*subfuns, *invals, **params)
            if not eqn.primitive.multiple_results:
                outvals = [outvals]
        for var, value in zip(eqn.outvars, outvals):
            if not isinstance(var, jcore.DropVar):
                env[var] = value
    return [read(v) for v in jaxpr.outvars]


def _loop_message(primitive: str) -> str:
    return (f"a ReLU inside {primitive} (a loop or a branch) cannot be tapped once: write the model without it, "
            "or score proxies that read no ReLU")


def _untappable(jaxpr: Any) -> str | None:
    """Why the ReLUs of ``jaxpr`` cannot be tapped (one inside a loop or a branch), else None."""
    for eqn in jaxpr.eqns:
        if _is_relu(eqn):
            continue
        inner = [_open(j) for j in jcore.jaxprs_in_params(eqn.params)]
        if any(_has_relu(j) for j in inner):
            if eqn.primitive.name not in INLINE or not any(k in eqn.params for k in BODY):
                return _loop_message(eqn.primitive.name)
            for j in inner:
                problem = _untappable(j)
                if problem:
                    return problem
    return None


def relu_problem(fn: Callable[..., Any], *args: Any) -> str | None:
    """Why :func:`relu_inputs` cannot tap ``fn(*args)``: it applies no ReLU, or one inside a loop or a branch.

    None when it can. ``args`` may be ``jax.ShapeDtypeStruct``: ``fn`` is only traced.
    """
    jaxpr = jax.make_jaxpr(fn)(*args).jaxpr
    if not _has_relu(jaxpr):
        return "the model applies no ReLU (jax.nn.relu, flax.linen.relu)"
    return _untappable(jaxpr)


def relu_inputs(fn: Callable[..., Any], *args: Any) -> tuple[Any, list[Tap]]:
    """``fn(*args)`` and the input of every ReLU it applied, in order, as ``(value, 1.0)`` taps.

    Args:
      fn: a function of arrays (e.g. ``lambda v, x: module.apply(v, x)``).
      *args: its arguments (pytrees of arrays).

    Returns:
      ``(fn's output, taps)``: one tap per ReLU call, its input (the ReLU
      fires where the input is > 0) with weight 1, the form
      :mod:`zcjax.proxies.activation` reads.

    Raises:
      ReluInLoopError: a ReLU inside a loop or a branch.
    """
    closed, out_shape = jax.make_jaxpr(fn, return_shape=True)(*args)
    taps: list[jax.Array] = []
    outs = _evaluate(closed.jaxpr, list(closed.consts), jax.tree.leaves(args), taps)
    return jax.tree.unflatten(jax.tree.structure(out_shape), outs), [(t, jnp.ones((), t.dtype)) for t in taps]


__all__ = ["ReluInLoopError", "relu_inputs", "relu_problem"]
