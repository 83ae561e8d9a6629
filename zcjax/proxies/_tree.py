"""Pytree helpers shared by the proxy families.

A *layer tree* mirrors the parameter tree down to the modules that own a
``kernel`` (the saliency layers) and holds one value per layer: ``{'kernel': v}``.
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp

Tree = Any


def _is_layer(node: Any) -> bool:
    return isinstance(node, dict) and "kernel" in node


def map_layers(fn: Callable[..., Any], tree: Tree, *rest: Tree) -> Tree:
    """Applies ``fn(layer, *rest_layers)`` to every saliency layer; the result keeps only layers."""
    if _is_layer(tree):
        return {"kernel": fn(tree, *rest)}
    return {k: map_layers(fn, v, *(r[k] for r in rest)) for k, v in tree.items()
            if isinstance(v, dict) and _has_layer(v)}


def _has_layer(tree: Any) -> bool:
    if _is_layer(tree):
        return True
    return isinstance(tree, dict) and any(_has_layer(v) for v in tree.values())


def kernels(params: Tree) -> Tree:
    """The saliency weights: the ``kernel`` of every conv/linear layer, as a layer tree."""
    return map_layers(lambda layer: layer["kernel"], params)


def replace_kernels(params: Tree, new_kernels: Tree) -> Tree:
    """``params`` with every kernel taken from ``new_kernels`` (a layer tree)."""
    if _is_layer(params):
        return {**params, "kernel": new_kernels["kernel"]}
    return {k: replace_kernels(v, new_kernels[k]) if k in new_kernels else v for k, v in params.items()}


def layer_sums(saliency: Tree, mask: Tree) -> Tree:
    """Per-layer sums of a per-parameter saliency, zero for layers the mask switches off."""
    return jax.tree.map(lambda s, m: m * jnp.sum(s), saliency, mask)


def tree_total(tree: Tree) -> jax.Array:
    """Sum of all leaves of a tree of scalars."""
    return sum(jax.tree.leaves(tree), jnp.zeros((), jnp.result_type(*jax.tree.leaves(tree))))


def flatten_layers(tree: Tree) -> dict[str, Any]:
    """A layer tree as ``{'path/to/module': value}``."""
    flat = {}
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        keys = [p.key for p in path]
        flat["/".join(keys[:-1])] = leaf
    return flat
