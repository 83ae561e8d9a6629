"""A static NAS-Bench-201 cell's gradient passes as a tape of fused layer programs (the eager strategy's).

Run op by op, JAX differentiates a network of jitted layers by transforming
each layer call: every (layer, shape, transformation) pair is a program of its
own, and the first cell of a process compiled about 400 of them (bench/NOTES.md,
issue 16). Here the network is a tape of *units*, each a pure function of its
parameters and one input array, and each unit has four compiled programs,
shared by every cell and every layer of its shape:

* ``forward``: the unit's output, its saliency layer's output ``z`` (for
  fisher) and its pull-back (a :class:`jax.vjp` function, a pytree whose leaves
  are the residuals): one program;
* ``backward``: the pull-back applied to a cotangent, giving the cotangents of
  the parameters, of the zero perturbation on ``z`` (dL/dz) and of the input;
* ``forward_jvp`` / ``backward_jvp``: the same with tangents, for the
  forward-over-reverse Hessian-vector product.

The tape walks the network as :class:`~zcjax.spaces.nb201.NB201Network`
builds it (same parameter tree, same layer functions: ``layer_output``,
``batch_stat_norm``, the pools; node sums in edge order), so it computes the
network's function and its derivatives up to float32 rounding of the
cotangent sums. Units:

* :class:`ConvUnit`: [2x2 average pool,] [ReLU,] convolution or dense layer
  [+ bias] + a zero perturbation (that is ``z``), then BatchNorm on batch
  statistics (without or with affine parameters) or none;
* :class:`PoolUnit`: the 3x3 average pool of an ``avg_pool_3x3`` edge;
* :class:`HeadUnit`: the last BatchNorm (or none), ReLU, global average pool
  and the classifier (its ``z`` is the logits).

Supported: a static arch, both variants, batch-statistic BatchNorm, and the
``bn`` settings 'all', 'reductions' and 'none' (the synflow networks). Not
supported (the engine uses Flax's own differentiation for them): the
arch-as-data network and VKDNW's initial-statistics BatchNorm.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import jax
import jax.numpy as jnp

from .arch import EDGES
from .network import (AVG_POOL, CONV1, CONV3, NONE, SKIP, NB201Network, avg_pool_2x2, avg_pool_3x3, batch_stat_norm,
                      layer_output)

Tree = Any


@dataclasses.dataclass(frozen=True)
class ConvUnit:
    """[2x2 avg pool,] [ReLU,] conv/dense [+ bias] + perturbation ``z``; then BatchNorm ('none', 'plain', 'affine')."""

    relu: bool = True
    stride: int = 1
    norm: str = "none"
    pool_input: bool = False

    def __call__(self, p: dict[str, jax.Array], x: jax.Array) -> tuple[jax.Array, jax.Array]:
        if self.pool_input:
            x = avg_pool_2x2(x)
        z = layer_output(x, p["kernel"], p.get("bias"), p["z"], self.stride, self.relu)
        if self.norm == "none":
            return z, z
        return (batch_stat_norm(z) if self.norm == "plain" else batch_stat_norm(z, p["scale"], p["shift"])), z

    def z_shape(self, p: dict[str, jax.Array], x: jax.ShapeDtypeStruct) -> tuple[int, ...]:
        n, h, w = x.shape[:3]
        if self.pool_input:
            h, w = h // 2, w // 2
        return (n, -(-h // self.stride), -(-w // self.stride), p["kernel"].shape[-1])


@dataclasses.dataclass(frozen=True)
class PoolUnit:
    """The 3x3 average pool of an ``avg_pool_3x3`` edge (no parameters, no ``z``)."""

    def __call__(self, p: dict[str, jax.Array], x: jax.Array) -> tuple[jax.Array, None]:
        return avg_pool_3x3(x), None

    def z_shape(self, p: dict[str, jax.Array], x: jax.ShapeDtypeStruct) -> None:
        return None


@dataclasses.dataclass(frozen=True)
class HeadUnit:
    """The last BatchNorm ('affine' or 'none'), ReLU, global average pool, classifier + bias + perturbation."""

    norm: str = "affine"

    def __call__(self, p: dict[str, jax.Array], x: jax.Array) -> tuple[jax.Array, jax.Array]:
        if self.norm == "affine":
            x = batch_stat_norm(x, p["scale"], p["shift"])
        pooled = jax.nn.relu(x).mean(axis=(1, 2))
        z = layer_output(pooled, p["kernel"], p["bias"], p["z"])
        return z, z

    def z_shape(self, p: dict[str, jax.Array], x: jax.ShapeDtypeStruct) -> tuple[int, ...]:
        return (x.shape[0], p["kernel"].shape[-1])


Unit = ConvUnit | PoolUnit | HeadUnit


def _with_perturbation(unit: Unit, p: dict[str, jax.Array], x: jax.Array) -> dict[str, jax.Array]:
    shape = unit.z_shape(p, x)
    return p if shape is None else {**p, "z": jnp.zeros(shape, x.dtype)}


def _pulled(unit: Unit, p: dict[str, jax.Array], x: jax.Array):
    y, pull_back, z = jax.vjp(unit, _with_perturbation(unit, p, x), x, has_aux=True)
    return y, z, pull_back


@functools.partial(jax.jit, static_argnums=0)
def _forward(unit: Unit, p: dict[str, jax.Array], x: jax.Array):
    return _pulled(unit, p, x)


@functools.partial(jax.jit, static_argnums=0)
def _forward_jvp(unit: Unit, p: dict[str, jax.Array], x: jax.Array, p_dot: dict[str, jax.Array], x_dot: jax.Array):
    p_dot = {k: p_dot.get(k, jnp.zeros_like(v)) for k, v in p.items()}
    return jax.jvp(functools.partial(_pulled, unit), (p, x), (p_dot, x_dot))


@jax.jit
def _backward(pull_back, g: jax.Array):
    return pull_back(g)


@jax.jit
def _backward_jvp(pull_back, g: jax.Array, pull_back_dot, g_dot: jax.Array):
    return jax.jvp(lambda pb, c: pb(c), (pull_back, g), (pull_back_dot, g_dot))


@jax.jit
def _add(a: jax.Array, b: jax.Array) -> jax.Array:
    return a + b


@functools.partial(jax.jit, static_argnums=(0, 1))
def _zeros(shape: tuple[int, ...], dtype: Any) -> jax.Array:
    # A program per shape, made on the device: a transfer of NumPy zeros took 2.5 ms an array.
    return jnp.zeros(shape, dtype)


class _Value:
    """An array on the tape: its primal and, in a tangent pass, its tangent."""

    __slots__ = ("primal", "tangent")

    def __init__(self, primal: jax.Array, tangent: jax.Array | None = None):
        self.primal, self.tangent = primal, tangent


@dataclasses.dataclass
class _Record:
    path: tuple[str, ...] | None  # the saliency layer's module path (None: a pool)
    params: dict[str, jax.Array]
    inp: _Value
    out: _Value
    pull_back: Any
    pull_back_dot: Any = None


class Tape:
    """One forward pass of a static cell's network, then any number of backward passes over it.

    Args:
      network: the cell's network (static arch, batch-statistic BatchNorm).
      params: its parameters.
      x: (N, H, W, 3) images.
      kernel_tangents: a layer tree like ``kernels(params)``: run the forward
        with these kernel tangents (for a Hessian-vector product), else None.
    """

    def __init__(self, network: NB201Network, params: Tree, x: jax.Array, kernel_tangents: Tree | None = None):
        check_supported(network)
        self.records: list[_Record | tuple[list[_Value], _Value]] = []
        self._z: dict[tuple[str, ...], jax.Array] = {}
        self.kernel_tangents = kernel_tangents
        self.tangent = kernel_tangents is not None
        self.input = _Value(x, _zeros(x.shape, jnp.dtype(x.dtype)) if self.tangent else None)
        self.logits = self._walk(network, params, self.input)

    # Forward.
    def _unit(self, path: tuple[str, ...] | None, unit: Unit, p: dict[str, jax.Array], v: _Value) -> _Value:
        if self.tangent:
            p_dot = {}
            if path is not None:
                tangents = self.kernel_tangents
                for key in path:
                    tangents = tangents[key]
                p_dot = {"kernel": tangents["kernel"]}
            (y, z, pb), (y_dot, _, pb_dot) = _forward_jvp(unit, p, v.primal, p_dot, v.tangent)
            out = _Value(y, y_dot)
        else:
            y, z, pb = _forward(unit, p, v.primal)
            out, pb_dot = _Value(y), None
        self.records.append(_Record(path, p, v, out, pb, pb_dot))
        if path is not None:
            self._z[path] = z
        return out

    def _sum(self, values: list[_Value], like: _Value) -> _Value:
        if not values:
            zero = _zeros(like.primal.shape, jnp.dtype(like.primal.dtype))
            return _Value(zero, zero if self.tangent else None)
        out = values[0]
        for v in values[1:]:
            out = _Value(_add(out.primal, v.primal), _add(out.tangent, v.tangent) if self.tangent else None)
        if len(values) > 1:
            self.records.append((values, out))
        return out

    def _walk(self, net: NB201Network, params: Tree, x: _Value) -> _Value:
        naslib, use_bn = net.variant == "naslib", net.bn == "all"

        def bn_of(tree: Tree) -> dict[str, jax.Array]:
            return {"scale": tree["scale"], "shift": tree["bias"]}

        stem = {"kernel": params["stem"]["kernel"], **(bn_of(params["stem_bn"]) if use_bn else {})}
        h = self._unit(("stem",), ConvUnit(relu=False, norm="affine" if use_bn else "none"), stem, x)
        for stage in (1, 2, 3):
            if stage > 1:
                name = f"reduction{stage - 1}"
                r, norm = params[name], "affine" if net.bn != "none" else "none"
                a = self._unit((name, "conv_a"), ConvUnit(stride=2, norm=norm),
                               {"kernel": r["conv_a"]["kernel"], **(bn_of(r["bn_a"]) if norm == "affine" else {})}, h)
                b = self._unit((name, "conv_b"), ConvUnit(norm=norm),
                               {"kernel": r["conv_b"]["kernel"], **(bn_of(r["bn_b"]) if norm == "affine" else {})}, a)
                res = self._unit((name, "residual"), ConvUnit(relu=False, pool_input=True),
                                 {"kernel": r["residual"]["kernel"]}, h)
                h = self._sum([b, res], h)
            for i in range(net.cells_per_stage):
                h = self._cell(net, f"cell{stage}_{i}", params.get(f"cell{stage}_{i}", {}), h, naslib, use_bn)
        head = {"kernel": params["classifier"]["kernel"], "bias": params["classifier"]["bias"],
                **(bn_of(params["lastact_bn"]) if use_bn else {})}
        return self._unit(("classifier",), HeadUnit("affine" if use_bn else "none"), head, h)

    def _cell(self, net: NB201Network, name: str, p: Tree, x: _Value, naslib: bool, use_bn: bool) -> _Value:
        nodes = [x]
        for to in (1, 2, 3):
            outs = []
            for e, (dst, src) in enumerate(EDGES):
                op = net.arch[e]
                if dst != to or op == NONE:
                    continue
                if op == SKIP:
                    outs.append(nodes[src])
                elif op == AVG_POOL:
                    outs.append(self._unit(None, PoolUnit(), {}, nodes[src]))
                else:
                    layer_name = f"edge{e}_{'nor_conv_3x3' if op == CONV3 else 'nor_conv_1x1'}"
                    layer = p[layer_name]
                    q = {"kernel": layer["kernel"]}
                    if not naslib:
                        q["bias"] = layer["bias"]
                    norm = "none"
                    if use_bn:
                        norm = "affine" if naslib else "plain"
                        if naslib:
                            q.update(scale=layer["bn_scale"], shift=layer["bn_bias"])
                    outs.append(self._unit((name, layer_name), ConvUnit(norm=norm), q, nodes[src]))
            nodes.append(self._sum(outs, x))
        return nodes[3]

    # Backward.
    def backward(self, cotangent: jax.Array, cotangent_dot: jax.Array | None = None) -> dict[str, Any]:
        """One reverse pass from a cotangent of the logits (and its tangent, in a tangent pass).

        Returns:
          {'grads': {path: {param: cotangent}}, 'input': the input's cotangent
          (zeros if none reaches it)}, with 'grads_dot' and 'input_dot' (the
          tangents) in a tangent pass. A layer the cotangent does not reach
          gets zeros.
        """
        tangent = cotangent_dot is not None
        cot: dict[int, list] = {id(self.logits): [cotangent, cotangent_dot]}

        def give(v: _Value, g, g_dot):
            have = cot.get(id(v))
            if have is None:
                cot[id(v)] = [g, g_dot]
            else:
                have[0] = _add(have[0], g)
                if tangent:
                    have[1] = _add(have[1], g_dot)

        grads, grads_dot = {}, {}
        for rec in reversed(self.records):
            if isinstance(rec, tuple):
                values, out = rec
                g = cot.pop(id(out), None)
                if g is not None:
                    for v in values:
                        give(v, *g)
                continue
            g = cot.pop(id(rec.out), None)
            if g is None:
                if rec.path is not None:
                    zero = {k: _zeros(v.shape, jnp.dtype(v.dtype)) for k, v in rec.params.items()}
                    zero["z"] = _zeros(self._z[rec.path].shape, jnp.dtype(self._z[rec.path].dtype))
                    grads[rec.path] = grads_dot[rec.path] = zero
                continue
            if tangent:
                (gp, gx), (gp_dot, gx_dot) = _backward_jvp(rec.pull_back, g[0], rec.pull_back_dot, g[1])
                grads_dot[rec.path] = gp_dot
            else:
                (gp, gx), gx_dot = _backward(rec.pull_back, g[0]), None
            grads[rec.path] = gp
            give(rec.inp, gx, gx_dot)
        g = cot.pop(id(self.input), None)
        if g is None:
            zero = _zeros(self.input.primal.shape, jnp.dtype(self.input.primal.dtype))
            g = [zero, zero]
        out = {"grads": {k: v for k, v in grads.items() if k is not None}, "input": g[0]}
        if tangent:
            out["grads_dot"] = {k: v for k, v in grads_dot.items() if k is not None}
            out["input_dot"] = g[1]
        return out

    def activations(self) -> dict[tuple[str, ...], jax.Array]:
        """Each saliency layer's output z, by module path."""
        return dict(self._z)


def check_supported(network: NB201Network) -> None:
    """Raises ValueError unless the tape can run ``network`` (static arch, batch-statistic BatchNorm)."""
    if network.arch is None or any(op not in (NONE, AVG_POOL, CONV3, CONV1, SKIP) for op in network.arch):
        raise ValueError("the fused tape runs a static cell's network only (no arch-as-data or conv-pattern network)")
    if network.bn_stats != "batch":
        raise ValueError("the fused tape runs batch-statistic BatchNorm only (not VKDNW's initial statistics)")


def layer_tree(by_path: dict[tuple[str, ...], Any], like: Tree) -> Tree:
    """A layer tree shaped like ``like`` (a layer tree) whose layer at path P holds ``{'kernel': by_path[P]}``."""
    def build(tree, path):
        if isinstance(tree, dict) and "kernel" in tree:
            return {"kernel": by_path[path]}
        return {k: build(v, path + (k,)) for k, v in tree.items()}

    return build(like, ())


def param_grads(backward: dict[str, Any], like: Tree, key: str = "kernel", which: str = "grads") -> Tree:
    """The cotangent of each layer's ``key`` ('kernel', or 'z': dL/dz) from :meth:`Tape.backward`, as a layer tree."""
    return layer_tree({path: g[key] for path, g in backward[which].items()}, like)


__all__ = ["ConvUnit", "HeadUnit", "PoolUnit", "Tape", "check_supported", "layer_tree", "param_grads"]
