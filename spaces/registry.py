"""The registry of search spaces: ``get(name)``, ``names()``, ``register(name, factory)``.

A space is registered as a factory (a zero-argument callable returning a
:class:`~zcjax.spaces.space.Space`) or as the string ``'module:attribute'`` of
one, imported on first use, so that listing the spaces imports no network
code. ``get`` builds each space once and returns the same object after.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from typing import Any

from .space import Space

_FACTORIES: dict[str, Callable[[], Space] | str] = {}
_ALIASES: dict[str, str] = {}
_INSTANCES: dict[str, Space] = {}
_LOCK = threading.RLock()


def _key(name: str) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"a space name is a non-empty string, got {name!r}")
    return name.strip().lower().replace("-", "_")


def register(name: str, factory: Callable[[], Space] | str | None = None, *, aliases: tuple[str, ...] = (),
             overwrite: bool = False) -> Any:
    """Registers a space; without ``factory``, a decorator (``@register('my_space')`` on a Space class).

    Args:
      name: the space's name (case-insensitive; '-' and '_' are the same).
      factory: a callable returning the :class:`Space` (a class works), or
        ``'package.module:Attribute'`` naming one.
      aliases: further names for it.
      overwrite: replace a space of the same name (else it is an error).

    Returns:
      None, or the decorator (which returns the class unchanged).

    Raises:
      ValueError: the name (or an alias) is taken and ``overwrite`` is False.
    """
    if factory is None:
        def decorator(cls: Any) -> Any:
            register(name, cls, aliases=aliases, overwrite=overwrite)
            return cls

        return decorator
    key = _key(name)
    keys = [key, *(_key(a) for a in aliases)]
    with _LOCK:
        if not overwrite:
            for k in keys:
                if k in _FACTORIES or k in _ALIASES:
                    raise ValueError(f"search space {k!r} is already registered")
        _FACTORIES[key] = factory
        _INSTANCES.pop(key, None)
        for k in keys[1:]:
            _ALIASES[k] = key


def names() -> list[str]:
    """The registered spaces' names (aliases left out), in registration order."""
    return list(_FACTORIES)


def _build(factory: Callable[[], Space] | str) -> Space:
    if isinstance(factory, str):
        module, _, attribute = factory.partition(":")
        factory = getattr(importlib.import_module(module), attribute)
    space = factory()
    if not isinstance(space, Space):
        raise TypeError(f"the factory of a search space returned {type(space).__name__}, not a zcjax.spaces.Space")
    return space


def get(name: str) -> Space:
    """The space registered as ``name`` (or an alias), built on first use.

    Raises:
      ValueError: no space of that name; the message lists the names.
    """
    key = _key(name)
    key = _ALIASES.get(key, key)
    with _LOCK:
        if key in _INSTANCES:
            return _INSTANCES[key]
        if key not in _FACTORIES:
            raise ValueError(f"unknown search space {name!r}; registered spaces are {', '.join(names())}")
        space = _build(_FACTORIES[key])
        _INSTANCES[key] = space
        return space


def _register_builtins() -> None:
    register("nb201", "zcjax.spaces.nb201_space:NB201Space", aliases=("nas_bench_201", "nasbench201"))
    register("nas_bench_macro", "zcjax.spaces.macro:MacroSpace", aliases=("macro", "nb_macro"))
    register("nb101", "zcjax.spaces.nb101:NB101Space", aliases=("nas_bench_101", "nasbench101"))
    register("nb301", "zcjax.spaces.nb301:NB301Space", aliases=("nas_bench_301", "nasbench301", "darts"))
    register("tnb101_micro", "zcjax.spaces.tnb101:MicroSpace", aliases=("transnas_micro", "transbench101_micro"))
    register("tnb101_macro", "zcjax.spaces.tnb101:MacroSpace", aliases=("transnas_macro", "transbench101_macro"))


_register_builtins()
