"""Every proxy on any Flax model described by a :class:`~zcjax.model.ModelSpec`, from the fewest passes.

As :mod:`zcjax.scoring` does for NAS-Bench-201, scoring runs in pure stages:

* :func:`model_float32_stage` reads the minibatch: one forward pass whose
  backward gives dL/dW (grad_norm, snip, plain), dL/dz of every saliency
  layer's output (fisher, through the interceptor of :mod:`zcjax.model`) and,
  from a second cotangent on the same forward, the input Jacobian
  (jacob_cov). For grasp that pass is linearised (forward-over-reverse), so
  its Hessian-vector product reuses the pass's forward and backward.
* :func:`model_float64_stage` runs inside ``jax.enable_x64(True)``: synflow and
  synflow_bn (the |.|-linearised network on an all-ones input), jacob_cov's
  eigenvalues from the float32 Jacobian, nwot's log-determinant and te_ntk's
  condition number.

The proxies that read the ReLUs (nwot, nwot_randn, swap, te_linear_regions) find them in
the model's jaxpr (:mod:`zcjax.relu_taps`): the calls of ``jax.nn.relu``.
* :func:`model_size` counts params and flops from shapes alone, as Python
  integers (exact whatever the size; works on ``jax.eval_shape`` variables).

Both stages are jit- and vmap-able (vmap over a population of variables);
:func:`score_model` runs them jitted and returns Python floats.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import errors as flax_errors
from flax import linen as nn
from flax import traverse_util

from .engine import NumericalWarning
from .model import (MODULE_OUTPUTS, OUTPUTS, PERTURBATIONS, ContractError, ModelSpec, Path, Tree,
                    batchnorm_interceptor, default_mask, flatten, get_path, layer_calls, layer_interceptor, merge,
                    module_output_interceptor, select)
from .proxies._tree import leaf_map
from .proxies.activation import (meco_score, nwot_kernel, nwot_score, reg_swap_constants, reg_swap_score,
                                 swap_score, tap_list)
from .proxies.zico import zico_layers
from .proxies.fisher import fisher_saliency
from .proxies.gradient import abs_product, grad_norm_layers, plain_saliency, snip_saliency
from .proxies.hessian import grasp_saliency, linearize_gradient
from .proxies.jacobian import epe_nas_score, jacob_cov_score
from .proxies.static import l2_norm_layers
from .proxies.te_nas import linear_regions, ntk_score
from .proxies.synflow import require_x64
from .registry import (PROXIES, RELU_PASSES, base_proxy, float32_part, named, needed_passes, reads_relus, registry_order,
                       resolve)
from .relu_taps import ReluInLoopError, relu_inputs, relu_problem
from .scoring import (FLOAT64_PROXIES, GAUSSIAN_BATCH, GAUSSIAN_SEED, NTK_PARAMETERS, SWAP_SAMPLES,
                      _results, cross_entropy, meco_opt_key, meco_randn_image)

SIZE_PROXIES = ("params", "flops")
MODULE_OUTPUT_PROXIES = ("meco", "meco_opt", "meco_randn")  # read every module's output (an interceptor)
GAUSSIAN_INPUT_PROXIES = ("meco_randn", "nwot_randn", "te_linear_regions")  # feed N(0, 1) inputs like the batch's
# The float32 part of a HANDOFF_PROXIES member hands an array to the float64 stage.
HANDOFF = ("jacobian", "onehot", "nwot_kernel", "nwot_randn_kernel", "ntk")  # those arrays


def gaussian_batch(shape: Sequence[int], dtype: Any = jnp.float32) -> jax.Array:
    """The Gaussian-input proxies' fixed batch for a model whose inputs have ``shape``: (64, *shape), N(0, 1).

    The NAS-Bench-201 engine's images (:func:`zcjax.scoring.gaussian_images`) for an input of (H, W, 3).
    """
    key = jax.random.key(GAUSSIAN_SEED)
    return jax.random.normal(key, (GAUSSIAN_BATCH, *shape), jnp.float32).astype(dtype)


def _name(path: Path) -> str:
    return "/".join(map(str, path))


def _saliency(spec: ModelSpec, params: Tree) -> tuple[list[Path], dict[Path, Path], Tree]:
    paths = spec.saliency_paths(params)
    if not paths:
        some = ", ".join(_name(p) for p in list(flatten(params))[:4]) or "none"
        raise ContractError(f"no saliency layers: the saliency filter matched none of the parameters ({some}, ...)")
    return paths, {p: p[:-1] for p in paths}, select(params, paths)


def _mask(spec: ModelSpec, params: Tree, weights: Tree, args: Sequence[Any]) -> Tree:
    if spec.layer_mask is None:
        return default_mask(weights)
    return spec.layer_mask(params, *args)


_PROBES: dict[Any, tuple[Any, Tree, Tree]] = {}  # the probes' results, by the program and its inputs' types
_MAX_PROBES = 16  # as many models as _STAGES keeps (an apply function's key holds it, and what it closes over)


def _kept(cache: dict[Any, Any], limit: int, key: Callable[[], Any], make: Callable[[], Any]) -> Any:
    """``make()``, kept in ``cache`` under ``key()`` for the next call (the oldest entry dropped beyond
    ``limit``); made afresh when the key cannot be built or hashed (an unhashable field or leaf), or when
    ``limit`` is 0 (bench/bench_depthwise.py keeps no probes to measure the difference)."""
    try:
        k = key()
        hash(k)
    except TypeError:
        return make()
    if limit <= 0:
        return make()
    if k not in cache:
        if len(cache) >= limit:
            cache.pop(next(iter(cache)))
        cache[k] = make()
    return cache[k]


def _types(tree: Any) -> tuple:
    """A pytree's structure and each leaf's abstract type (shape, dtype, weak type), and the dtype flags in force:
    a hashable key of what ``jax.eval_shape`` reads."""
    leaves, treedef = jax.tree.flatten(tree)
    return (treedef, tuple((tuple(leaf.shape), str(leaf.dtype), bool(getattr(leaf, "weak_type", False)))
                           if isinstance(leaf, jax.ShapeDtypeStruct) else jax.typeof(leaf) for leaf in leaves),
            bool(jax.config.jax_enable_x64), str(jax.config.jax_numpy_dtype_promotion))


def _probe(spec: ModelSpec, variables: Tree, x: Any, args: Sequence[Any], owners: frozenset[Path],
           rngs: Any = None) -> tuple[Any, Tree, Tree]:
    """Shapes of (output, zero perturbations, sown layer outputs) of one intercepted call, by ``jax.eval_shape``.

    An abstract call depends on the program (``spec.static_key()``, the layers
    intercepted) and on its inputs' types only, so its result is kept for the
    next call with the same (a population's cells, an arch-as-data network).
    Callers read the result and never change it.
    """
    def run(v, inputs, a, r):
        out, state = spec.call(v, inputs, a, mutable=[PERTURBATIONS, OUTPUTS], rngs=r,
                               interceptors=[layer_interceptor(owners, spec.output_methods)])
        return out, state.get(PERTURBATIONS, {}), state.get(OUTPUTS, {})

    args = tuple(args)
    return _kept(_PROBES, _MAX_PROBES, lambda: (spec.static_key(), owners, _types((variables, x, args, rngs))),
                 lambda: jax.eval_shape(run, variables, x, args, rngs))


def ntk_paths(params: Tree) -> list[Path]:
    """The paths of te_ntk's parameters: those named as in :data:`zcjax.scoring.NTK_PARAMETERS`."""
    return [p for p in flatten(params) if p[-1] in NTK_PARAMETERS]


def _ntk(spec: ModelSpec, variables: Tree, x: jax.Array, args: Sequence[Any], rngs: Any) -> jax.Array:
    """TE-NAS's empirical NTK (N, N) of the minibatch: J J^T, J = d(each input's summed outputs) / d(weights).

    The weights are the parameters named ``kernel``, ``scale`` or ``bn_scale``
    (conv and dense kernels, BatchNorm and LayerNorm scales: what the official
    code takes as every parameter named "weight"; an ``nn.Embed`` table is not
    among them). One ``jax.jacrev`` over the batched call,
    so a BatchNorm on batch statistics couples the inputs as it does in the
    forward pass.
    """
    if x.shape[0] < 2:
        raise ValueError("te_ntk needs a minibatch of at least 2 inputs (the NTK's condition number)")
    params = variables["params"]
    weights = select(params, ntk_paths(params))

    def summed(w):
        out, _ = spec.call({**variables, "params": merge(params, w)}, x, args, rngs=rngs)
        return out.reshape(out.shape[0], -1).sum(axis=1)

    rows = jnp.concatenate([j.reshape(x.shape[0], -1) for j in jax.tree.leaves(jax.jacrev(summed)(weights))], axis=1)
    return jnp.dot(rows, rows.T, precision=jax.lax.Precision.HIGHEST)


def _fisher(weights: Tree, owners: dict[Path, Path], outputs: Tree, output_grads: Tree) -> Tree:
    """fisher_saliency of every layer, summed over the layer's calls (zeros for a layer never called)."""
    flat_w = flatten(weights)
    calls = {p: layer_calls(outputs, owners[p]) for p in flat_w}
    grads = {p: layer_calls(jax.tree.map(lambda g: (g,), output_grads), owners[p]) for p in flat_w}
    for p, zs in calls.items():
        for z in zs:
            if z.ndim < 1 or z.shape[-1] != flat_w[p].shape[-1]:
                raise ContractError(f"fisher: layer {_name(owners[p]) or '(root)'} outputs shape {z.shape}, whose "
                                 f"last axis is not the {flat_w[p].shape[-1]} channels of {_name(p)}")
    total = {p: None for p in flat_w}
    for k in range(max((len(zs) for zs in calls.values()), default=0)):
        have = [p for p in flat_w if len(calls[p]) > k]
        part = fisher_saliency({p: flat_w[p] for p in have}, {p: calls[p][k] for p in have},
                               {p: grads[p][k] for p in have})
        for p in have:
            total[p] = part[p] if total[p] is None else total[p] + part[p]
    return traverse_util.unflatten_dict({p: jnp.zeros_like(flat_w[p]) if v is None else v for p, v in total.items()})


def model_float32_stage(spec: ModelSpec, names: Sequence[str], variables: Tree, x: jax.Array, y: jax.Array,
                        args: Sequence[Any] = (), rngs: Any = None, per_layer: bool = False) -> dict[str, Any]:
    """The minibatch proxies (and l2_norm) of one model; pure, jit- and vmap-able.

    Args:
      spec: the model contract (its ``variables`` are ignored: pass them here).
      names: result names (registry and SSNR names). synflow, synflow_bn and
        their SSNR (float64 stage), params and flops (:func:`model_size`) are
        skipped.
      variables: ``{'params': ..., **other collections}``.
      x: the input batch, (N, ...).
      y: the labels, as the loss takes them ((N,) integers by default).
      args: further positional inputs of the model.
      rngs: rng keys for the call, or None.
      per_layer: also return ``per_layer``: {proxy: saliency tree of per-layer sums}.

    Returns:
      {name: scalar}, plus the arrays the float64 stage reads: ``jacobian``
      (shaped like x) when jacob_cov or epe_nas is asked for, ``onehot`` (N,
      classes) labels for epe_nas, ``nwot_kernel`` (N, N) for nwot,
      ``nwot_randn_kernel`` (64, 64) for nwot_randn, ``ntk`` (N, N) for te_ntk.
    """
    # reg_swap: score_model's, from swap and params
    names = [n for n in names if float32_part(n) and n not in SIZE_PROXIES and n != "reg_swap"]
    passes = needed_passes(names)
    wanted = {base_proxy(n) for n in names}
    params = variables["params"]
    paths, owners, weights = _saliency(spec, params)
    mask = _mask(spec, params, weights, args)
    saliencies: dict[str, Tree] = {}
    layer_values: dict[str, Tree] = {}
    extra: dict[str, Any] = {}
    def module_outputs(inputs):
        _, state = spec.call(variables, inputs, args, mutable=[MODULE_OUTPUTS], rngs=rngs,
                             interceptors=[module_output_interceptor()])
        return tap_list(state.get(MODULE_OUTPUTS))

    if passes & {"meco", "meco_opt"}:  # every module's output for the first input
        taps = module_outputs(x[:1])
        if "meco" in passes:
            extra["meco"] = meco_score(taps)
        if "meco_opt" in passes:
            extra["meco_opt"] = meco_score(taps, meco_opt_key())
    if "meco_randn" in passes:  # the same for one fixed N(0, 1) input shaped like the minibatch's
        if not jnp.issubdtype(x.dtype, jnp.floating):
            raise ValueError(f"meco_randn feeds Gaussian noise: it needs a floating-point input, got {x.dtype}")
        extra["meco_randn"] = meco_score(module_outputs(meco_randn_image(x.dtype, x.shape[1:])))
    if passes & RELU_PASSES:  # the input of every ReLU the model applies
        if spec.layer_mask is not None:
            raise ContractError("nwot, nwot_randn, swap and te_linear_regions read every ReLU the model applies, and a "
                                "network with masked candidate layers (layer_mask) applies the unused ones too: score "
                                "its static network")

        def relu_taps(inputs):
            try:
                _, taps = relu_inputs(lambda v, i: spec.call(v, i, args, rngs=rngs)[0], variables, inputs)
            except ReluInLoopError as e:
                raise ContractError(str(e)) from None
            if not taps:
                raise ContractError("nwot, nwot_randn, swap and te_linear_regions read the model's ReLUs "
                                    "(jax.nn.relu, flax.linen.relu), and it applies none")
            return taps

        if "relu" in passes:
            extra["nwot_kernel"] = nwot_kernel(relu_taps(x))
        if "swap" in passes:
            samples = min(SWAP_SAMPLES, x.shape[0])
            extra["swap"] = swap_score(relu_taps(x[:samples]), samples)
        for pass_, name in (("linear_regions", "te_linear_regions"), ("relu_randn", "nwot_randn")):
            if pass_ in passes and not jnp.issubdtype(x.dtype, jnp.floating):
                raise ValueError(f"{name} feeds Gaussian noise: it needs a floating-point input, got {x.dtype}")
        if passes & {"linear_regions", "relu_randn"}:  # one Gaussian forward serves both
            noise = nwot_kernel(relu_taps(gaussian_batch(x.shape[1:], x.dtype)))
            if "linear_regions" in passes:
                extra["te_linear_regions"] = linear_regions(noise)
            if "relu_randn" in passes:
                extra["nwot_randn_kernel"] = noise
    if "ntk" in passes:
        extra["ntk"] = _ntk(spec, variables, x, args, rngs)
    if "zico" in passes:  # the gradients of the minibatch's two halves, each alone
        if x.shape[0] < 2:
            raise ValueError("zico needs a minibatch of at least 2 inputs (it splits it in two batches)")
        half = x.shape[0] // 2

        def half_grads(xs, ys):
            def loss(w):
                out, _ = spec.call({**variables, "params": merge(params, w)}, xs, args, rngs=rngs)
                return spec.loss(out, ys)
            return jax.grad(loss)(weights)

        layer_values["zico"] = zico_layers([half_grads(x[:half], y[:half]), half_grads(x[half:], y[half:])])
    if passes & {"loss", "jacobian", "hessian"}:
        owner_set = frozenset(owners.values())
        out_shape, pert_shapes, _ = _probe(spec, variables, x, args, owner_set, rngs)
        perturbations = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), pert_shapes)
        need_grads = bool(passes & {"loss", "hessian"})

        def forward(p, pert, inputs):
            full = {**variables, "params": p, PERTURBATIONS: pert}
            out, state = spec.call(full, inputs, args, mutable=[OUTPUTS], rngs=rngs,
                                   interceptors=[layer_interceptor(owner_set, spec.output_methods)])
            return out, state.get(OUTPUTS, {})

        def shared_pass(w):
            # One forward; its backward gives dL/dW and dL/dz, a second cotangent the input Jacobian.
            logits, backward, outputs = jax.vjp(forward, merge(params, w), perturbations, x, has_aux=True)
            grads = ()
            if need_grads:
                grad_params, grad_pert, _ = backward(jax.grad(spec.loss)(logits, y))
                grads = (select(grad_params, paths), grad_pert)
            jacobian = backward(jnp.ones_like(logits))[2] if "jacobian" in passes else None
            return grads, (outputs, jacobian)

        if "hessian" in passes:
            grads, hvp, (outputs, jacobian) = linearize_gradient(shared_pass, weights)
        else:
            grads, (outputs, jacobian) = shared_pass(weights)
        if need_grads:
            grads, grad_pert = grads
            if "grad_norm" in wanted:
                layer_values["grad_norm"] = grad_norm_layers(grads)
            if "snip" in wanted:
                saliencies["snip"] = snip_saliency(weights, grads)
            if "plain" in wanted:
                saliencies["plain"] = plain_saliency(weights, grads)
            if "fisher" in wanted:
                saliencies["fisher"] = _fisher(weights, owners, outputs, grad_pert)
            if "grasp" in wanted:
                saliencies["grasp"] = grasp_saliency(weights, hvp(grads))
        if jacobian is not None:
            extra["jacobian"] = jacobian
            if "epe_nas" in wanted:
                extra["onehot"] = jax.nn.one_hot(y, out_shape.shape[-1], dtype=jnp.float32)
    if "l2_norm" in wanted:
        layer_values["l2_norm"] = l2_norm_layers(weights)
    out = _results(names, saliencies, layer_values, mask, per_layer)  # the saliency and per-layer proxies
    out.update(extra)
    return out


def _abs_float64(leaf: Any) -> Any:
    if jnp.issubdtype(leaf.dtype, jnp.inexact):
        return jnp.abs(leaf).astype(jnp.float64)
    return leaf


def _synflow(spec: ModelSpec, variables: Tree, x: jax.Array, args: Sequence[Any], rngs: Any,
             keep: Any) -> Tree:
    """|W * dR/dW| of the |.|-linearised model (every parameter and buffer absolute, float64) on ``x``."""
    abs_vars = jax.tree.map(_abs_float64, dict(variables))
    params = abs_vars["params"]
    paths = spec.saliency_paths(params)
    weights = select(params, paths)
    interceptors = [] if keep is None else [batchnorm_interceptor(spec.batchnorm_types, keep)]

    def output_sum(w):
        # Standard promotion: a model written for float32 may mix in float32 constants (Flax's BatchNorm
        # promotes its statistics with float32), which float64 absorbs.
        with jax.numpy_dtype_promotion("standard"):
            out, _ = spec.call({**abs_vars, "params": merge(params, w)}, x, args, rngs=rngs,
                               interceptors=interceptors)
        if out.dtype != jnp.float64:
            warnings.warn(f"synflow ran in {out.dtype}, not float64: the model fixes its dtype", stacklevel=4)
        return jnp.sum(out.astype(jnp.float64))

    grads = jax.grad(output_sum)(weights)
    return leaf_map(abs_product, weights, grads)


def synflow_input(input_shape: Sequence[int], dtype: Any = None) -> jax.Array:
    """synflow's input: one all-ones example, float64 (integer inputs keep their dtype)."""
    if dtype is not None and not jnp.issubdtype(dtype, jnp.inexact):
        return jnp.ones((1, *input_shape), dtype)
    return jnp.ones((1, *input_shape), jnp.float64)


def model_float64_stage(spec: ModelSpec, names: Sequence[str], variables: Tree, input_shape: Sequence[int],
                        jacobian: jax.Array | dict[str, Any] | None = None, args: Sequence[Any] = (),
                        rngs: Any = None, input_dtype: Any = None, per_layer: bool = False) -> dict[str, Any]:
    """synflow, synflow_bn (and SSNR), jacob_cov, epe_nas, nwot, nwot_randn, te_ntk; inside ``jax.enable_x64(True)``.

    synflow's network has every parameter and every other float variable (e.g.
    BatchNorm's running statistics) replaced by its absolute value in float64,
    takes one all-ones input of ``input_shape``, and R = the sum of its
    output; the saliency is |W * dR/dW|. Its BatchNorm layers follow
    ``spec.synflow_batchnorm``; synflow_bn keeps them all. BatchNorm runs in
    the mode ``spec.train_kwargs`` sets (batch statistics: those of the one
    input).

    Args:
      spec: the model contract.
      names: result names; those not computed here are skipped.
      variables: the model's variables (cast to float64 here).
      input_shape: one input's shape, without the batch axis.
      jacobian: the float32 stage's ``jacobian``, when jacob_cov is asked for,
        or ``{'jacobian': ..., 'onehot': ...}`` (epe_nas too).
      args: further positional inputs of the model.
      rngs: rng keys, or None.
      input_dtype: the dtype of real inputs (integer inputs get integer ones).
      per_layer: also return ``per_layer``.

    Returns:
      {name: scalar}.
    """
    require_x64()
    wanted = {base_proxy(n) for n in names}
    params = variables["params"]
    _, _, weights = _saliency(spec, params)
    mask = _mask(spec, params, weights, args)
    x = synflow_input(input_shape, input_dtype)
    saliencies = {}
    if "synflow" in wanted:
        saliencies["synflow"] = _synflow(spec, variables, x, args, rngs, spec.keep_batchnorm())
    if "synflow_bn" in wanted:
        saliencies["synflow_bn"] = _synflow(spec, variables, x, args, rngs, None)
    mask64 = jax.tree.map(lambda m: jnp.asarray(m).astype(jnp.float64), mask)
    out = _results([n for n in names if base_proxy(n) in saliencies], saliencies, {}, mask64, per_layer)
    handoff = jacobian if isinstance(jacobian, dict) else {"jacobian": jacobian}
    if "jacob_cov" in names and handoff.get("jacobian") is not None:
        out["jacob_cov"] = jacob_cov_score(handoff["jacobian"].astype(jnp.float64))
    if "epe_nas" in names and handoff.get("onehot") is not None:
        onehot = handoff["onehot"]
        out["epe_nas"] = epe_nas_score(handoff["jacobian"].astype(jnp.float64), onehot, onehot.shape[-1])
    for name in ("nwot", "nwot_randn"):
        if name in names and handoff.get(f"{name}_kernel") is not None:
            out[name] = nwot_score(handoff[f"{name}_kernel"].astype(jnp.float64))
    if "te_ntk" in names and handoff.get("ntk") is not None:
        out["te_ntk"] = ntk_score(handoff["ntk"].astype(jnp.float64))
    return out


def _size(shape: Sequence[int]) -> int:
    return math.prod(int(d) for d in shape)


def model_size(spec: ModelSpec, variables: Tree, x: Any, args: Sequence[Any] = (),
               rngs: Any = None) -> dict[str, int]:
    """params and flops, as exact Python integers, from shapes alone.

    params counts every parameter, except those of layers the mask switches
    off (all the leaves of a masked layer's module: kernel and bias). flops
    counts, per saliency parameter, the output positions of its layer for one
    input (the output's shape without the batch and channel axes) times the
    parameter's size, i.e. the multiply-adds of a conv or dense layer; a layer
    called several times counts each call.

    Args:
      spec: the model contract.
      variables: the variables, or their ``jax.eval_shape`` structs.
      x: an input batch, or its ``jax.ShapeDtypeStruct``.
      args: further positional inputs.
      rngs: rng keys, or None.

    Returns:
      {'params': int, 'flops': int}.
    """
    params = variables["params"]
    paths, owners, weights = _saliency(spec, params)
    mask = flatten(_concrete_mask(spec, params, weights, args))
    off = {owners[p] for p, m in mask.items() if float(np.asarray(m)) == 0.0}
    count = sum(_size(np.shape(leaf)) for path, leaf in flatten(params).items() if path[:-1] not in off)
    _, _, outputs = _probe(spec, variables, x, args, frozenset(owners.values()), rngs)
    flops = 0
    for p in paths:
        if owners[p] in off:
            continue
        size = _size(np.shape(get_path(params, p)))
        flops += sum(_size(z.shape[1:-1]) * size for z in layer_calls(outputs, owners[p]))
    return {"params": int(count), "flops": int(flops)}


def _concrete_mask(spec: ModelSpec, params: Tree, weights: Tree, args: Sequence[Any]) -> Tree:
    if spec.layer_mask is None:
        return default_mask(weights)
    try:
        return jax.tree.map(np.asarray, spec.layer_mask(params, *args))
    except (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError, TypeError) as e:
        raise ValueError("params/flops need a concrete layer mask: pass concrete variables and args") from e


# score_model: validation, compiled stages, Python floats.
_STAGES: dict[Any, tuple[Any, Any]] = {}
_MAX_STAGES = 16


def _compiled(spec: ModelSpec, f32: tuple[str, ...], f64: tuple[str, ...], input_shape, input_dtype,
              jit: bool = True):
    """The two stages for one model and selection: jitted (kept for the next call), or plain when ``jit`` is False."""
    spec = spec.replace(variables=None)  # the cache keeps programs, not weights
    def stage32(variables, x, y, args, rngs):
        return model_float32_stage(spec, f32, variables, x, y, args, rngs)

    def stage64(variables, jacobian, args, rngs):
        return model_float64_stage(spec, f64, variables, input_shape, jacobian, args, rngs, input_dtype)

    if not jit:  # op by op: each primitive's executable is shared by every model with the same layer shapes
        return stage32, stage64
    return _kept(_STAGES, _MAX_STAGES, lambda: (spec.static_key(), f32, f64, input_shape, str(input_dtype)),
                 lambda: (jax.jit(stage32), jax.jit(stage64)))


def _is_abstract(tree: Tree) -> bool:
    return any(isinstance(leaf, jax.ShapeDtypeStruct) for leaf in jax.tree.leaves(tree))


def _is_call_error(e: BaseException) -> bool:
    """Whether an error of the model's first call is about the call itself (its arguments), not the input's shape."""
    if isinstance(e, (AttributeError, KeyError)):
        return True
    return isinstance(e, TypeError) and re.search(r"(unexpected keyword|positional) argument", str(e)) is not None


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0] if text else ''}"


def score_model(model: Any, variables: Tree = None, batch: tuple[Any, Any] | None = None,
                proxies: str | Sequence[str] = "all", key: jax.Array | None = None, *, args: Sequence[Any] = (),
                spec: ModelSpec | None = None, reg_swap: tuple[float, float] | None = None, jit: bool = True,
                **options: Any) -> dict[str, float]:
    """Scores one Flax model with the zero-cost proxies.

    Args:
      model: a ``flax.linen.Module``, an apply function with ``Module.apply``'s
        signature, or a :class:`ModelSpec` (then ``spec`` is not given).
      variables: ``{'params': ..., 'batch_stats': ..., ...}`` (default:
        ``spec.variables``, else ``model.init(key, x[:1])``). For params and
        flops alone, the structs of ``jax.eval_shape`` suffice.
      batch: ``(x, y)``: inputs (N, ...) as the model takes them and labels as
        the loss takes them ((N,) integers in [0, classes) by default). None
        for the data-free proxies (give ``input_shape``).
      proxies: result names, 'all' or 'data-free' (see :func:`zcjax.resolve`).
      key: initialises the variables when none are given, and seeds the rng
        streams ``spec.rng_names`` (e.g. dropout) of every call.
      args: further positional inputs of the model, after ``x``.
      spec: the contract; by default built from ``model`` and ``options``.
      reg_swap: reg-SWAP's ``(mu, sigma)`` (mu in thousands of parameters,
        sigma in their square), needed when ``reg_swap`` is asked for: swap
        times ``exp(-(params / 1000 - mu)^2 / sigma)``, params exact.
      jit: compile each stage into one program for this model (kept for the
        next call with the same model, selection and input types). False runs
        the stages op by op: no program of this model's own, each primitive's
        executable shared with every model of the same layer shapes, which
        pays on a CPU when many distinct models are each scored once (a
        space's cells, ``zcjax.score --strategy eager``). The same values up
        to floating-point rounding.
      **options: :class:`ModelSpec` fields (``saliency``, ``loss``,
        ``train_kwargs``, ``mutable``, ``synflow_batchnorm``,
        ``batchnorm_types``, ``output_methods``, ``layer_mask``,
        ``input_shape``, ``rng_names``).

    Returns:
      {name: float} in registry order; params and flops are exact Python ints.
      A proxy that comes out NaN or infinite is NaN, with a
      :class:`zcjax.NumericalWarning`.

    Raises:
      ValueError: one line naming the problem (no saliency layer matched,
        labels out of range, an input the model cannot take, a missing batch).
    """
    if isinstance(model, ModelSpec):
        spec = model.replace(**options) if options else model
    elif spec is None:
        spec = ModelSpec(model, variables, **options)
    elif options:
        spec = spec.replace(**options)
    names = resolve(proxies, engine="model")
    reg_swap = reg_swap_constants(names, reg_swap)
    asked = names
    if reg_swap is not None:  # from swap and params, computed here if not asked for
        names = tuple(n for n in registry_order(("swap", "params", *names)) if n != "reg_swap")
    needs_data = any(PROXIES[base_proxy(n)].needs_data for n in names)
    variables = spec.variables if variables is None else variables
    args = tuple(args)
    rngs = None if key is None else {name: jax.random.fold_in(key, i) for i, name in enumerate(spec.rng_names)}

    if batch is None:
        if needs_data:
            raise ValueError("the selected proxies need a minibatch: pass batch=(x, y)")
        if spec.input_shape is None:
            raise ValueError("without a batch, give input_shape (one input's shape, without the batch axis)")
        x, y = jax.ShapeDtypeStruct((1, *spec.input_shape), jnp.float32), None
    else:
        if not isinstance(batch, (tuple, list)) or len(batch) != 2:
            raise ValueError(f"batch must be a pair (x, y), got {type(batch).__name__}"
                             + (f" of length {len(batch)}" if isinstance(batch, (tuple, list)) else ""))
        x, y = batch
        x = x if isinstance(x, jax.ShapeDtypeStruct) else jnp.asarray(x)
        if x.ndim < 2:
            raise ValueError(f"inputs must have a batch axis and at least one more, got shape {tuple(x.shape)}")
        if spec.input_shape is not None and tuple(x.shape[1:]) != spec.input_shape:
            raise ValueError(f"inputs of shape {tuple(x.shape)} do not match input_shape {spec.input_shape} "
                             f"(rank {len(spec.input_shape) + 1} with the batch axis)")
        if y is not None:
            y = jnp.asarray(y)
    input_shape = tuple(int(d) for d in (spec.input_shape or x.shape[1:]))

    if variables is None:
        if not isinstance(spec.model, nn.Module) or key is None:
            raise ValueError("no variables: pass variables, or a linen module and a key to initialise it")
        init_kwargs = dict(spec.train_kwargs)
        variables = spec.model.init(key, jnp.zeros((1, *input_shape), x.dtype), *args, **init_kwargs)
    if not isinstance(variables, Mapping) or "params" not in variables:
        raise ValueError("variables must be a mapping with a 'params' collection")
    variables = dict(variables)
    _, owners, _ = _saliency(spec, variables["params"])

    # One abstract call checks the input against the model and gives the output's shape.
    try:
        out_shape, _, _ = _probe(spec, variables, x, args, frozenset(owners.values()), rngs)
    except ContractError:
        raise
    except flax_errors.InvalidRngError as e:
        raise ValueError(f"the model needs rng streams: pass key= (streams {', '.join(spec.rng_names)}, "
                         f"see rng_names): {_first_line(e)}") from None
    except (ValueError, TypeError, IndexError, AttributeError, KeyError, flax_errors.FlaxError) as e:
        if not _is_call_error(e):  # JAX and Flax raise ValueError, TypeError or a FlaxError for a wrong input shape
            raise ValueError(f"the model cannot take inputs of shape {tuple(x.shape)} (rank {x.ndim}): "
                             f"{_first_line(e)}") from None
        raise ValueError(f"calling the model on inputs of shape {tuple(x.shape)} failed (train_kwargs "
                         f"{dict(spec.train_kwargs)}, {len(args)} further inputs): {type(e).__name__}: "
                         f"{_first_line(e)}") from None
    if not isinstance(out_shape, jax.ShapeDtypeStruct):
        raise ValueError(f"the model must return one array of logits, got {type(out_shape).__name__}")
    if needed_passes(names) & {"loss", "hessian", "zico"} or "epe_nas" in names:
        _check_labels(spec, x, y, out_shape)
    explicit, shown = set(named(proxies)), {}
    if "reg_swap" in explicit and "swap" not in explicit:  # reg_swap reads swap
        explicit.add("swap")
        shown["swap"] = "reg_swap (through swap)"
    skipped = _unavailable(spec, explicit, names, variables, x, out_shape, args, rngs, shown)
    names = tuple(n for n in names if n not in skipped)
    row: dict[str, Any] = {n: math.nan for n in skipped}
    f32 = tuple(n for n in names if float32_part(n) and n not in SIZE_PROXIES)
    f64 = tuple(n for n in names if base_proxy(n) in FLOAT64_PROXIES)
    computed = [n for n in names if n not in SIZE_PROXIES]
    if computed and _is_abstract(variables):
        raise ValueError(f"abstract variables (jax.eval_shape) give params and flops only, not {computed[0]}")
    if f32 or f64:
        stage32, stage64 = _compiled(spec, f32, f64, input_shape, x.dtype, jit)
        out32 = stage32(variables, x, y, args, rngs) if f32 else {}
        handoff = {k: out32.pop(k) for k in HANDOFF if k in out32}
        out64 = {}
        if f64:
            with jax.enable_x64(True):
                out64 = stage64(variables, handoff, args, rngs)
        values = jax.device_get({**out32, **out64})
        row.update({n: float(values[n]) for n in computed if n in values})
    if any(n in SIZE_PROXIES for n in names):
        sizes = model_size(spec, variables, x, args, rngs)
        row.update({n: sizes[n] for n in SIZE_PROXIES if n in names})
    if "reg_swap" in asked:
        row["reg_swap"] = float(reg_swap_score(row["swap"], row["params"], *reg_swap))
    row = {n: row[n] for n in asked if n in row}
    bad = [n for n, v in row.items() if not math.isfinite(v) and n not in skipped]
    if bad:
        warnings.warn(f"{', '.join(bad)} not finite for this model: recorded as NaN", NumericalWarning, stacklevel=2)
        row.update({n: math.nan for n in bad})
    return row


def _unavailable(spec: ModelSpec, explicit: set[str], names: Sequence[str], variables: Tree, x: Any,
                 out_shape: Any, args: Sequence[Any], rngs: Any, shown: dict[str, str]) -> list[str]:
    """The proxies of a selection that this model cannot give, to record as NaN with a warning.

    nwot, nwot_randn, swap and te_linear_regions read every ReLU the model applies: a model
    that applies none, or one inside a loop or a branch, or a network holding
    every candidate op (``layer_mask``), has no such value. te_ntk needs
    parameters named ``kernel`` or ``scale`` and an output with the batch axis
    first; te_ntk and zico a minibatch of two inputs or more. On integer
    inputs (token ids) jacob_cov and epe_nas have nothing to differentiate by,
    and meco_randn, nwot_randn and te_linear_regions nothing to add Gaussian
    noise to; an NNX model gives MeCo's three no module-output taps. Named
    one by one, such a proxy is refused (ContractError, one line;
    ``shown`` names it as the user asked, e.g. reg_swap for the swap it reads);
    selected through a group ('all', 'data-free') it is NaN, with a warning, so
    the group keeps its columns for every model.
    """
    problems: dict[str, tuple[str, str]] = {}  # name: (verb, what it cannot have)
    if getattr(spec.apply_fn, "runs_interceptors", False):  # Flax NNX (zcjax.model_nnx): no module-output taps yet
        problems.update({n: ("read", "every module's output, which zcjax.model_nnx does not tap yet")
                         for n in names if base_proxy(n) in MODULE_OUTPUT_PROXIES})
    if not jnp.issubdtype(x.dtype, jnp.inexact):  # e.g. token ids: nothing to differentiate by, or to add noise to
        for n in names:
            if PROXIES[base_proxy(n)].passes[0] == "jacobian":
                problems[n] = ("need", f"float inputs (it differentiates by them), got {x.dtype}")
            elif base_proxy(n) in GAUSSIAN_INPUT_PROXIES:
                problems[n] = ("need", f"float inputs (it feeds Gaussian noise), got {x.dtype}")
    relus = reads_relus(names)
    if relus:
        if spec.layer_mask is not None:
            reason = "a network with masked candidate layers (layer_mask) applies the unused ones' ReLUs too"
        else:
            reason = relu_problem(lambda v, i: spec.call(v, i, args, rngs=rngs)[0], variables, x)
        if reason is not None:
            problems.update({n: ("read", f"every ReLU the model applies: {reason}") for n in relus})
    small = {"te_ntk": "the NTK's condition number", "zico": "it splits it in two batches"}
    for n in (n for n in small if n in names and x.shape[0] < 2):
        problems[n] = ("need", f"a minibatch of at least 2 inputs ({small[n]}), got {x.shape[0]}")
    if "te_ntk" in names and "te_ntk" not in problems:
        if not ntk_paths(variables["params"]):
            problems["te_ntk"] = ("differentiate", "the parameters named " + ", ".join(NTK_PARAMETERS)
                                  + ", and the model has none")
        elif out_shape.ndim < 1 or out_shape.shape[0] != x.shape[0]:
            problems["te_ntk"] = ("need", f"an output with the batch axis first, got shape {out_shape.shape}")
    asked = [n for n in problems if n in explicit]
    if asked:
        verb, what = problems[asked[0]]
        raise ContractError(f"{shown.get(asked[0], asked[0])} {verb}s {what}")
    by_reason: dict[tuple[str, str], list[str]] = {}
    for n, reason in problems.items():
        by_reason.setdefault(reason, []).append(n)
    for (verb, what), group in by_reason.items():
        warnings.warn(f"{', '.join(group)} recorded as NaN: {'they' if len(group) > 1 else 'it'} "
                      f"{verb if len(group) > 1 else verb + 's'} {what}", NumericalWarning, stacklevel=3)
    return list(problems)


def _check_labels(spec: ModelSpec, x: Any, y: Any, out: jax.ShapeDtypeStruct) -> None:
    n = x.shape[0]
    if y is None:
        raise ValueError("the selected proxies need labels: batch=(x, y)")
    if spec.loss is not cross_entropy:
        return
    if out.ndim != 2 or out.shape[0] != n:
        raise ValueError(f"the model's output has shape {out.shape}; the default loss needs logits (N={n}, classes)")
    if y.shape != (n,) or not jnp.issubdtype(y.dtype, jnp.integer):
        raise ValueError(f"labels must be ({n},) integers, got shape {tuple(y.shape)} {y.dtype}")
    labels = np.asarray(y)
    if labels.size and (labels.min() < 0 or labels.max() >= out.shape[1]):
        raise ValueError(f"labels must be in [0, {out.shape[1]}): got {labels.min()}..{labels.max()}")


__all__ = ["model_float32_stage", "model_float64_stage", "model_size", "score_model"]
