"""Pytree helpers shared by the proxy families.

A *layer tree* mirrors the parameter tree down to the modules that own a
``kernel`` (the saliency layers) and holds one value per layer: ``{'kernel': v}``.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

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


def is_eager(*trees: Tree) -> bool:
    """Whether every leaf is a concrete array (run op by op), not a tracer (inside jit, vmap, grad)."""
    return not any(isinstance(leaf, jax.core.Tracer) for tree in trees for leaf in jax.tree.leaves(tree))


def array_module(*trees: Tree) -> Any:
    """NumPy for eager per-layer vectors, else ``jax.numpy``.

    Eagerly, the vectors of per-layer values (one entry per layer of the cell)
    are combined in NumPy: their length depends on the architecture, and every
    new length would compile every ``jax.numpy`` op on them again.
    """
    return np if is_eager(*trees) else jnp


@functools.cache
def _jitted(fn: Callable[..., Any]) -> Callable[..., Any]:
    return jax.jit(fn)


def leaf_map(fn: Callable[..., jax.Array], tree: Tree, *rest: Tree) -> Tree:
    """``jax.tree.map(fn, tree, *rest)``; eagerly, ``fn`` runs as one program per leaf shape.

    Pass a module-level function: its compiled programs are kept for the
    process, so the few layer shapes of the space compile once, whatever the
    architecture, and each leaf costs one dispatch rather than one per op.
    """
    return jax.tree.map(_jitted(fn) if is_eager(tree, *rest) else fn, tree, *rest)


@functools.cache
def _per_layer(reduce: Callable[[jax.Array], Any]) -> Callable[[jax.Array], Any]:
    return jax.jit(lambda leaf: reduce(leaf.reshape(1, -1)))


def layer_reduce(tree: Tree, reduce: Callable[[jax.Array], jax.Array]) -> jax.Array:
    """``reduce`` of every leaf, as one vector in leaf order (or a tuple of them).

    ``reduce`` maps a (layers, size) array to (layers,), or to a tuple of such
    vectors; pass a module-level function. Traced, leaves of one shape and
    dtype are stacked and reduced together: a network has many layers of few
    shapes, so the program holds a few reductions rather than a few per layer
    (an SSNR per layer made up a third of the per-cell program). Eagerly, each
    leaf is reduced by a program compiled once per layer shape, whatever the
    architecture, and the result is a NumPy vector (see :func:`array_module`).
    """
    leaves = jax.tree.leaves(tree)
    if is_eager(tree):
        parts = [_per_layer(reduce)(leaf) for leaf in leaves]
        return jax.tree.map(lambda *vectors: np.concatenate(jax.device_get(vectors)), *parts)
    groups: dict[tuple, list[int]] = {}
    for i, leaf in enumerate(leaves):
        groups.setdefault((leaf.shape, leaf.dtype), []).append(i)
    back = np.argsort(np.concatenate([np.asarray(idx) for idx in groups.values()]))
    parts = [reduce(jnp.stack([leaves[i].reshape(-1) for i in idx])) for idx in groups.values()]
    return jax.tree.map(lambda *vectors: jnp.concatenate(vectors)[back], *parts)


def row_sums(a: jax.Array) -> jax.Array:
    return jnp.sum(a, 1)


def row_norms(a: jax.Array) -> jax.Array:
    return jnp.sqrt(jnp.sum(jnp.square(a), 1))


def layer_norms(tree: Tree) -> Tree:
    """Per layer: the Frobenius norm of the leaf."""
    return unflatten_like(tree, layer_reduce(tree, row_norms))


def mask_vector(mask: Tree, like: Tree) -> jax.Array:
    """The mask's leaves as one vector, in the dtype of ``like``'s leaves (NumPy when ``like`` is eager)."""
    dtype = jax.tree.leaves(like)[0].dtype
    xp = array_module(mask, like)
    return xp.stack([xp.asarray(m).astype(dtype) for m in jax.tree.leaves(mask)])


def unflatten_like(tree: Tree, vector: jax.Array) -> Tree:
    """A tree shaped like ``tree`` whose i-th leaf is ``vector[i]``."""
    return jax.tree.unflatten(jax.tree.structure(tree), list(vector))


def flatten_layers(tree: Tree) -> dict[str, Any]:
    """A layer tree as ``{'path/to/module': value}``."""
    flat = {}
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        keys = [p.key for p in path]
        flat["/".join(keys[:-1])] = leaf
    return flat
