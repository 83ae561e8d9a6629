"""Flax NNX models under the model contract, through ``nnx.split``.

:func:`nnx_spec` splits an NNX module into its graph and state and returns a
:class:`~zcjax.model.ModelSpec` whose apply function has ``Module.apply``'s
signature: ``variables = {'params': <the nnx.Param state as a pure dict>,
'nnx_state': <every other variable: BatchNorm statistics, rng state>}``.

NNX modules are plain Python objects, out of reach of linen's
``nn.intercept_methods``. The apply function runs the contract's interceptors
itself: on the freshly merged module (one per call, so the user's object is
never touched) every submodule's class is swapped for a subclass whose
``__call__`` goes through the interceptors, with a context that carries the
module's graph path and the perturbation and sow collections of the call.
"""

from __future__ import annotations

import dataclasses
import functools
import threading
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
from flax import linen as nn
from flax import nnx, traverse_util

from .model import OUTPUTS, PERTURBATIONS, ModelSpec, Path, flatten

NNX_STATE = "nnx_state"
_active = threading.local()


def _stack() -> list:
    if not hasattr(_active, "stores"):
        _active.stores = []
    return _active.stores


@dataclasses.dataclass
class _Context:
    """What an interceptor sees of an NNX module call (linen's InterceptorContext, plus path, perturb, sow)."""

    module: Any
    method_name: str
    orig_method: Callable[..., Any]
    path: Path
    store: _Store

    def perturb(self, name: str, value: jax.Array) -> jax.Array:
        return self.store.perturb(self.path + (name,), value)

    def sow(self, name: str, value: jax.Array) -> None:
        self.store.sow(self.path + (name,), value)


class _Store:
    """One call's interceptors, perturbation inputs and the collections it fills."""

    def __init__(self, interceptors: Sequence[Callable[..., Any]], perturbations: Any, mutable: Sequence[str]):
        self.interceptors = tuple(interceptors)
        self.inputs = None if perturbations is None else flatten(perturbations)
        self.mutable = set(mutable)
        self.paths: dict[int, Path] = {}
        self.created: dict[Path, Any] = {}
        self.sown: dict[Path, Any] = {}

    def perturb(self, path: Path, value: jax.Array) -> jax.Array:
        if PERTURBATIONS in self.mutable and path not in self.created:
            self.created[path] = jnp.zeros_like(value)
        if self.inputs is not None:
            if path not in self.inputs:
                raise ValueError(f"perturbation {'/'.join(map(str, path))} missing")
            value = value + self.inputs[path]
        return value

    def sow(self, path: Path, value: jax.Array) -> None:
        if OUTPUTS in self.mutable:
            self.sown[path] = (value,)

    def call(self, module: Any, method: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
        path = self.paths.get(id(module))
        if path is None:
            return method(module, *args, **kwargs)

        def run(i, a, k):
            if i == len(self.interceptors):
                return method(module, *a, **k)
            context = _Context(module, "__call__", functools.partial(method, module), path, self)
            return self.interceptors[i](lambda *a2, **k2: run(i + 1, a2, k2), a, k, context)

        return run(0, args, kwargs)

    def collections(self) -> dict[str, Any]:
        out = {}
        if PERTURBATIONS in self.mutable:
            out[PERTURBATIONS] = traverse_util.unflatten_dict(self.created)
        if OUTPUTS in self.mutable:
            out[OUTPUTS] = traverse_util.unflatten_dict(self.sown)
        return out


@functools.cache
def _hooked(cls: type) -> type:
    """``cls`` with a ``__call__`` that runs the active call's interceptors."""
    def __call__(self, *args, **kwargs):
        stores = _stack()
        if not stores:
            return cls.__call__(self, *args, **kwargs)
        return stores[-1].call(self, cls.__call__, args, kwargs)

    return type(cls.__name__, (cls,), {"__call__": __call__, "__module__": cls.__module__,
                                        "__qualname__": cls.__qualname__})


class NNXApply:
    """``Module.apply``'s signature over a split NNX module.

    Args:
      graphdef: from ``nnx.split``.
      params: the ``nnx.Param`` state (the template the pure dicts fill).
      rest: every other variable's state.
      train: call ``module.train()`` (BatchNorm with batch statistics, dropout
        on) on the merged module, else ``module.eval()``.
    """

    runs_interceptors = True

    def __init__(self, graphdef: Any, params: Any, rest: Any, train: bool = True):
        self.graphdef, self.params, self.rest, self.train = graphdef, params, rest, train

    def __call__(self, variables: Any, x: Any, *args: Any, mutable: Sequence[str] = (), rngs: Any = None,
                 interceptors: Sequence[Callable[..., Any]] = (), **kwargs: Any) -> tuple[Any, dict]:
        del rngs  # an NNX module keeps its rng streams in its state
        params = jax.tree.map(lambda v: v, self.params)
        nnx.replace_by_pure_dict(params, variables["params"])
        rest = jax.tree.map(lambda v: v, self.rest)
        if variables.get(NNX_STATE):
            nnx.replace_by_pure_dict(rest, variables[NNX_STATE])
        module = nnx.merge(self.graphdef, params, rest)
        module.train() if self.train else module.eval()
        store = _Store(interceptors, variables.get(PERTURBATIONS), mutable)
        for path, node in nnx.iter_graph(module):
            if isinstance(node, nnx.Module):
                store.paths[id(node)] = tuple(path)
                object.__setattr__(node, "__class__", _hooked(type(node)))
        _stack().append(store)
        try:
            out = module(x, *args, **kwargs)
        finally:
            _stack().pop()
        return out, store.collections()


def nnx_spec(module: nnx.Module, train: bool = True, **fields: Any) -> ModelSpec:
    """The contract of an NNX module, with its variables.

    Args:
      module: the NNX module; it is split, not changed.
      train: score in training mode (``module.train()``: BatchNorm uses batch
        statistics) or evaluation mode (``module.eval()``).
      **fields: further :class:`ModelSpec` fields. Defaults differ from linen's:
        ``batchnorm_types=(nnx.BatchNorm,)``; ``mutable=()`` (NNX updates
        its statistics in place, on a copy here).

    Returns:
      A ModelSpec whose ``variables`` are ``{'params': ..., 'nnx_state': ...}``
      (pure dicts; parameter paths are the module's attribute paths, list
      items by index).
    """
    if not isinstance(module, nnx.Module):
        raise TypeError(f"nnx_spec takes an nnx.Module, got {type(module).__name__}"
                        + ("; pass a linen module to zcjax.score_model directly" if isinstance(module, nn.Module)
                           else ""))
    graphdef, params, rest = nnx.split(module, nnx.Param, ...)
    fields.setdefault("batchnorm_types", (nnx.BatchNorm,))
    fields.setdefault("mutable", ())
    fields.setdefault("train_kwargs", {})
    variables = {"params": nnx.to_pure_dict(params), NNX_STATE: nnx.to_pure_dict(rest)}
    return ModelSpec(NNXApply(graphdef, params, rest, train), variables, **fields)


__all__ = ["NNXApply", "NNX_STATE", "nnx_spec"]
