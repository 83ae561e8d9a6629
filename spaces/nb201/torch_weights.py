"""Import of PyTorch-layout NAS-Bench-201 weights (the reference's module names).

Conv weights are OIHW and linear weights (out, in) in PyTorch; Flax uses HWIO
and (in, out). BatchNorm running statistics are ignored: every BatchNorm here
runs on batch statistics.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

import jax
import numpy as np

from .arch import OPS, arch_to_ops
from .network import NB201Network

_CELL = re.compile(r"cell(\d)_(\d+)")
_EDGE = re.compile(r"edge(\d)_(\w+)")
_REDUCTION_MODULES = {"conv_a": "conv_a.op.1", "bn_a": "conv_a.op.2", "conv_b": "conv_b.op.1",
                      "bn_b": "conv_b.op.2", "residual": "residual.1"}
_TOP = {"stem": "stem.net.0", "stem_bn": "stem.net.1", "lastact_bn": "top.lastact.0",
        "classifier": "top.classifier"}


def torch_module_name(path: tuple[str, ...] | str) -> str:
    """The reference's PyTorch module name of a Flax module path.

    Args:
      path: e.g. ('cell1_0', 'edge2_nor_conv_3x3') or 'cell1_0/edge2_nor_conv_3x3'.

    Returns:
      e.g. 'stack_cell1.0.options.12.op.1'.
    """
    if isinstance(path, str):
        path = tuple(path.split("/"))
    head = path[0]
    if head in _TOP and len(path) == 1:
        return _TOP[head]
    if head.startswith("reduction") and len(path) == 2:
        return f"{head}.{_REDUCTION_MODULES[path[1]]}"
    cell, edge = _CELL.fullmatch(head), _EDGE.fullmatch(path[-1]) if len(path) == 2 else None
    if cell and edge:
        e, op = int(edge.group(1)), OPS.index(edge.group(2))
        return f"stack_cell{cell.group(1)}.{cell.group(2)}.options.{5 * e + op}.op.1"
    raise ValueError(f"no PyTorch name for Flax module {'/'.join(path)}")


def _to_flax(leaf_name: str, value: np.ndarray) -> np.ndarray:
    if leaf_name == "kernel":
        return value.transpose(2, 3, 1, 0) if value.ndim == 4 else value.T
    return value


def _torch_shape(leaf_name: str, flax_shape: tuple[int, ...]) -> tuple[int, ...]:
    if leaf_name == "kernel":
        return tuple(flax_shape[i] for i in ((3, 2, 0, 1) if len(flax_shape) == 4 else (1, 0)))
    return tuple(flax_shape)


_TORCH_LEAF = {"kernel": "weight", "scale": "weight", "bias": "bias"}


def _torch_leaf(leaf_name: str) -> str:
    """The PyTorch name of a reference-layout parameter; ValueError for any other (e.g. the naslib variant's)."""
    if leaf_name not in _TORCH_LEAF:
        raise ValueError(f"torch weights are the reference network's layout: it has no parameter {leaf_name!r} "
                         "(the naslib variant's bn_scale/bn_bias have none)")
    return _TORCH_LEAF[leaf_name]


def load_state_dict(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Reads a PyTorch state dict from .npz, or from .pt/.pth when PyTorch is installed.

    Raises:
      FileNotFoundError: the file does not exist.
      ValueError: unreadable file or unsupported extension.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no such weights file: {path}")
    if path.endswith(".npz"):
        try:
            with np.load(path) as data:
                return {k: data[k] for k in data.files}
        except Exception as err:  # noqa: BLE001 - any unreadable archive
            raise ValueError(f"cannot read weights file {path}: {err}") from None
    if path.endswith((".pt", ".pth")):
        try:
            import torch
        except ImportError:
            raise ValueError(f"reading {path} needs PyTorch; convert it to .npz with "
                             "np.savez(out, **{k: v.numpy() for k, v in state_dict.items()})") from None
        state = torch.load(path, map_location="cpu", weights_only=True)
        state = state.get("state_dict", state)
        return {k: v.detach().cpu().numpy() for k, v in state.items()}
    raise ValueError(f"weights file {path} must be .npz, .pt or .pth")


def params_from_torch(state: Mapping[str, Any], model: NB201Network) -> Any:
    """The Flax parameters of ``model`` taken from a PyTorch state dict.

    Args:
      state: tensor name -> array (PyTorch layout), e.g. from :func:`load_state_dict`.
      model: a static-arch :class:`NB201Network` (its arch and class count).

    Returns:
      The ``params`` collection, float32.

    Raises:
      ValueError: a tensor the architecture needs is missing, or has the wrong shape.
    """
    if model.arch is None:
        raise ValueError("torch weights need a network with a static arch")
    if model.variant != "reference":
        raise ValueError(f"torch weights are the reference network's layout, not the {model.variant} variant's")
    size = 16
    shapes = jax.eval_shape(lambda: model.init(jax.random.key(0), np.zeros((1, size, size, 3), np.float32)))["params"]
    problems = []

    def fill(tree, path):
        if not isinstance(tree, Mapping):
            return tree
        if not any(isinstance(v, Mapping) for v in tree.values()):
            module = torch_module_name(path)
            leaves = {}
            for leaf, spec in tree.items():
                name = f"{module}.{_torch_leaf(leaf)}"
                if name not in state:
                    problems.append(f"missing tensor {name}")
                    continue
                value = _to_flax(leaf, np.asarray(state[name], np.float32))
                if value.shape != spec.shape:
                    problems.append(f"{name} has shape {tuple(np.shape(state[name]))}, "
                                    f"expected {_torch_shape(leaf, spec.shape)}")
                    continue
                leaves[leaf] = value
            return leaves
        return {k: fill(v, path + (k,)) for k, v in tree.items()}

    params = fill(shapes, ())
    if problems:
        arch = "|".join(OPS[o] for o in model.arch)
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        raise ValueError(f"weights do not fit the architecture ({arch}, {model.num_classes} classes): {shown}")
    return params


def torch_state_from_params(params: Any) -> dict[str, np.ndarray]:
    """The inverse of :func:`params_from_torch`: a PyTorch-layout state dict (no running stats).

    Raises:
      ValueError: a parameter the reference layout does not have (the NASLib variant's ``bn_scale``).
    """
    state = {}

    def walk(tree, path):
        if not any(isinstance(v, Mapping) for v in tree.values()):
            module = torch_module_name(path)
            for leaf, value in tree.items():
                value = np.asarray(value)
                if leaf == "kernel":
                    value = value.transpose(3, 2, 0, 1) if value.ndim == 4 else value.T
                state[f"{module}.{_torch_leaf(leaf)}"] = value
            return
        for k, v in tree.items():
            walk(v, path + (k,))

    walk(params, ())
    return state


def load_torch_params(path: str | os.PathLike, arch: Any, num_classes: int = 10) -> tuple[NB201Network, Any]:
    """Builds the network of ``arch`` and loads its weights from a PyTorch-layout file."""
    model = NB201Network(arch=tuple(arch_to_ops(arch)), num_classes=num_classes)
    return model, params_from_torch(load_state_dict(path), model)
