"""Fused scoring of one cell: every requested proxy from the fewest passes.

Scoring runs in two pure stages, each jit- and vmap-able:

* :func:`float32_stage` reads the minibatch: one forward pass whose backward
  gives dL/dW (grad_norm, snip, plain), dL/dz (fisher) and, from a second
  cotangent on the same forward, the input Jacobian (jacob_cov). For grasp
  that pass is linearised, so its Hessian-vector product reuses the pass's
  forward and backward.
* :func:`float64_stage` runs inside ``jax.enable_x64(True)``: synflow and
  synflow_bn, and the float64 ends of the proxies whose float32 part hands
  over an array (``handoff``): jacob_cov's eigenvalues and epe_nas's
  correlations from the input Jacobian, nwot's log-determinant from its
  kernel.

The proxies published after the paper (nwot, swap, reg_swap, meco, zico,
epe_nas) run their own passes: a forward of the minibatch (nwot; nwot_randn
the same on the Gaussian-input proxies' images), of its
first 16 images (swap, and reg_swap, which scales it by a prior on the
parameter count) or its first image (meco) that sows the network's
activation taps, and the gradients of the two halves of the minibatch (zico).

The model is a Flax module called as ``model.apply(variables, x)`` (static
architecture, ``ops`` None) or ``model.apply(variables, x, ops)`` (architecture
as data), whose conv/linear layers own a ``kernel`` and tag their outputs (see
``zcjax.spaces.nb201.network``), with ``model.layer_mask(params, ops)`` and
``model.synflow_variant()``.

How the stages differentiate the network is a :class:`GradientPasses`:
:class:`AutodiffPasses` (JAX's autodiff through ``model.apply``, the default,
traceable) or the eager strategy's fused tape (:mod:`zcjax.tape_passes`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import jax
import jax.numpy as jnp
import optax

from .proxies.activation import meco_score, nwot_kernel, nwot_score, reg_swap_score, swap_score, tap_list
from .proxies.az_nas import expressivity_progressivity, rademacher_cotangents, trainability
from .proxies.te_nas import linear_regions, ntk_score
from .proxies.vkdnw import MAX_TENSORS as VKDNW_TENSORS, vkdnw_entropy
from .proxies.zen import MIXUP_GAMMA, zen_score
from .proxies.zico import zico_layers
from .proxies._tree import (Tree, array_module, kernels, layer_reduce, map_layers, mask_vector, replace_kernels,
                           row_sums, unflatten_like)
from .proxies.fisher import fisher_saliency
from .proxies.gradient import grad_norm_layers, plain_saliency, snip_saliency
from .proxies.hessian import grasp_saliency, linearize_gradient
from .proxies.jacobian import epe_nas_score, jacob_cov_score
from .proxies.ssnr import layer_moments, ssnr_of_moments
from .proxies.static import flops_layers, l2_norm_layers, param_count
from .proxies.synflow import logit_sum_grads, synflow_saliency
from .registry import PROXIES, SSNR_SUFFIXES, base_proxy, float32_part, float64_proxies, handoff_proxies, needed_passes

FLOAT64_PROXIES = float64_proxies()  # each with a float64 stage (registry.Proxy.float64)
HANDOFF_PROXIES = handoff_proxies()  # a float32 part that hands an array to the float64 stage
SWAP_SAMPLES = 16  # SWAP's batch
# The network's tap collections (zcjax.spaces.nb201.network).
RELU_TAPS, MODULE_TAPS, BLOCK_TAPS, BLOCK_PERTURBATIONS = "relu_taps", "module_taps", "block_taps", "block_perturbations"
BN_TAPS, PRE_GAP_TAPS, KERNEL_TANGENTS = "bn_taps", "pre_gap_taps", "kernel_tangents"
VKDNW_CLASS_BATCH = 10  # classes (or pooled features) per vmapped backward pass of VKDNW's Jacobian
GAUSSIAN_SEED = 0  # the Gaussian images (and AZ-NAS's Rademacher probes) every cell sees
GAUSSIAN_BATCH = 64  # AZ-NAS's batch
MECO_RANDN_SIZE = 64  # MeCo's measure file: torch.randn(1, 3, 64, 64), whatever the dataset


def gaussian_images(n: int, height: int, width: int, dtype: Any = jnp.float32) -> jax.Array:
    """The fixed batch of N(0, 1) images (NHWC) that the Gaussian-input proxies read, the same for every cell.

    Drawn in float32 whatever ``dtype``, so both precisions see the same images.
    """
    return jax.random.normal(jax.random.key(GAUSSIAN_SEED), (n, height, width, 3), jnp.float32).astype(dtype)


def meco_opt_key() -> jax.Array:
    """The key of meco_opt's channel draws, the same for every cell (the official code's are unseeded)."""
    return jax.random.fold_in(jax.random.key(GAUSSIAN_SEED), 4)


def meco_randn_image(dtype: Any = jnp.float32, shape: Sequence[int] = (MECO_RANDN_SIZE, MECO_RANDN_SIZE, 3)
                     ) -> jax.Array:
    """meco_randn's one N(0, 1) input (1, *shape), the same for every cell (drawn in float32).

    NAS-Bench-201 networks get MeCo's 64 x 64 x 3 image; a user's model (the
    model engine) one input shaped like those of its minibatch.
    """
    key = jax.random.fold_in(jax.random.key(GAUSSIAN_SEED), 3)
    return jax.random.normal(key, (1, *shape), jnp.float32).astype(dtype)


NTK_PARAMETERS = ("kernel", "scale", "bn_scale")  # TE-NAS's "weight" parameters (bn_scale: NASLib's cell BatchNorm)


def ntk_of(model: Any, params: Tree, ops: jax.Array | None, x: jax.Array) -> jax.Array:
    """The empirical NTK (N, N) of a batch: J J^T, J = d(each image's summed logits) / d(kernels and BN scales)."""
    def is_weight(path, _):
        return path[-1].key in NTK_PARAMETERS

    flat, tree = jax.tree_util.tree_flatten_with_path(params)
    chosen = [i for i, (path, leaf) in enumerate(flat) if is_weight(path, leaf)]
    leaves = [leaf for _, leaf in flat]

    def summed_logits(weights):
        full = list(leaves)
        for i, w in zip(chosen, weights):
            full[i] = w
        p = jax.tree_util.tree_unflatten(tree, full)
        return model.apply({"params": p}, *_call_args(x, ops)).sum(axis=1)

    jac = jax.jacrev(summed_logits)([leaves[i] for i in chosen])
    rows = jnp.concatenate([j.reshape(x.shape[0], -1) for j in jac], axis=1)
    return jnp.dot(rows, rows.T, precision=jax.lax.Precision.HIGHEST)


def zen_noise(images: jax.Array) -> jax.Array:
    """Zen-NAS's second Gaussian batch x2, shaped like ``images`` (x1), the same for every cell."""
    return jax.random.normal(jax.random.fold_in(jax.random.key(GAUSSIAN_SEED), 2), images.shape,
                             jnp.float32).astype(images.dtype)


def zen_forwards(model: Any, params: Tree, ops: jax.Array | None, x1: jax.Array,
                 x2: jax.Array) -> tuple[tuple[jax.Array, list], tuple[jax.Array, list]]:
    """The two forwards of Zen-NAS, on x1 and x1 + 0.01 x2: each ``(pre-pooling features, BatchNorm taps)``."""
    def run(inputs):
        _, state = model.apply({"params": params}, *_call_args(inputs, ops), mutable=[BN_TAPS, PRE_GAP_TAPS])
        return tap_list(state[PRE_GAP_TAPS])[0][0], tap_list(state[BN_TAPS])

    return run(x1), run(x1 + MIXUP_GAMMA * x2)


def zen_of(model: Any, params: Tree, ops: jax.Array | None, images: jax.Array) -> jax.Array:
    """Zen-NAS's score of one network (:mod:`zcjax.proxies.zen`): ``images`` and a second Gaussian batch."""
    (f1, bn1), (f2, bn2) = zen_forwards(model, params, ops, images, zen_noise(images))
    return zen_score(f1, f2, bn1, bn2)


def az_nas_scores(model: Any, params: Tree, ops: jax.Array | None, images: jax.Array) -> dict[str, jax.Array]:
    """AZ-NAS's expressivity, progressivity and trainability of one network (:mod:`zcjax.proxies.az_nas`)."""
    def features(perturbations):
        _, state = model.apply({"params": params, BLOCK_PERTURBATIONS: perturbations}, *_call_args(images, ops),
                               mutable=[BLOCK_TAPS])
        return list(state[BLOCK_TAPS]["features"])

    shapes = jax.eval_shape(features, {})
    zeros = {f"block{i}": jnp.zeros(s.shape, s.dtype) for i, s in enumerate(shapes[:-1], 1)}
    feats, pull_back = jax.vjp(features, zeros)
    probes = rademacher_cotangents(jax.random.fold_in(jax.random.key(GAUSSIAN_SEED), 1),
                                   [f.shape for f in feats[1:]], feats[0].dtype)
    (g_in,) = pull_back([jnp.zeros_like(feats[0])] + probes)
    expressivity, progressivity = expressivity_progressivity(feats)
    return {"az_expressivity": expressivity, "az_progressivity": progressivity,
            "az_trainability": trainability([g_in[f"block{i}"] for i in range(1, len(feats))], probes)}


def intermediate_shapes(model: Any, params: Tree, ops: jax.Array | None, x: jax.Array) -> Tree:
    """The shapes (``jax.eval_shape``) of the ``intermediates`` the network sows on ``x``: a tuple per layer."""
    return jax.eval_shape(lambda: model.apply({"params": params}, *_call_args(x, ops),
                                              mutable=["intermediates"])[1]["intermediates"])


def zero_perturbations(shapes: Tree) -> Tree:
    """The zero ``perturbations`` collection for the layers of :func:`intermediate_shapes`."""
    return jax.tree.map(lambda z: jnp.zeros(z[0].shape, z[0].dtype), shapes, is_leaf=lambda t: isinstance(t, tuple))


def batchnorm_at_init(params: Tree) -> jax.Array:
    """Whether every BatchNorm scale is 1 and shift 0 (``scale``/``bias`` of a BatchNorm, ``bn_scale``/``bn_bias``)."""
    checks = [jnp.array(True)]

    def walk(tree):
        if not isinstance(tree, dict):
            return
        if "scale" in tree and "kernel" not in tree:
            checks.extend([jnp.all(tree["scale"] == 1), jnp.all(tree["bias"] == 0)])
        if "bn_scale" in tree:
            checks.extend([jnp.all(tree["bn_scale"] == 1), jnp.all(tree["bn_bias"] == 0)])
        for value in tree.values():
            walk(value)

    walk(params)
    return jnp.all(jnp.stack(checks))


def vkdnw_jacobian(model: Any, params: Tree, ops: jax.Array | None, images: jax.Array,
                   through_features: bool | None = None) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    """VKDNW's Jacobian of one network: d logits / d (element 0 of each of its first 128 tensors).

    The network runs with every BatchNorm in eval mode at its initial running
    statistics (``model.initial_bn_variant()``), so the images are independent
    and BatchNorm is ``gamma * z / sqrt(1 + eps) + beta`` with gamma = 1 and
    beta = 0: a precondition (true of any initialisation; the scorer gives NaN
    for weights where :func:`batchnorm_at_init` is false). Every column then
    follows from a conv's output z and g = d logit_c / dz (its
    ``perturbations`` gradient, one reverse pass per class over one forward):
    the kernel's ``sum g[..., 0] * dz/dW``, where dz/dW is the conv of the
    input's channel 0 by a unit kernel that the layer sows; the BatchNorm's
    ``sum g[..., 0] * z[..., 0]`` (gamma) and ``sqrt(1 + eps) * sum g[..., 0]``
    (beta). The last BatchNorm and the classifier have closed forms in the
    pooled features. The tensors and their order are ``model.xautodl_tensors(ops)``.

    With more classes than pooled features F (CIFAR-100's 100 and ImageNet16-120's
    120 against F = 4 C = 64), the reverse passes run one per feature instead:
    logits are ``f W + b`` in the pooled features f, so d logit_c / dz is
    ``sum_k W[k, c] d f_k / dz`` and every column, linear in the cotangent,
    follows from the F passes (the same values up to rounding).

    Args:
      model: the network (:class:`~zcjax.spaces.nb201.network.NB201Network`).
      params: its parameters.
      ops: the cell's ops as data (an arch-as-data network), else None.
      images: the Gaussian images, (N, H, W, 3).
      through_features: one pass per pooled feature (True) or per class
        (False); None: whichever is fewer.

    Returns:
      (jacobian (N, C, 128), its columns past ``count`` zero; logits (N, C);
      count = min(tensors, 128); tensors, the network's number of tensors).
    """
    from zcjax.spaces.nb201.network import BN_EPS

    # lax.switch on each edge's op: on XLA:CPU the ten vmapped reverse passes through select_n ran 5-6x slower
    # than a static cell's; through switch (ops unbatched, one network) about as fast (bench/NOTES.md).
    net = model.initial_bn_variant().clone(edge_branch="switch")
    order = net.xautodl_tensors(ops)
    zero = zero_perturbations(intermediate_shapes(net, params, ops, images))

    def forward(perturbations):
        logits, state = net.apply({"params": params, "perturbations": perturbations}, *_call_args(images, ops),
                                  mutable=["intermediates", KERNEL_TANGENTS, PRE_GAP_TAPS])
        pooled = tap_list(state[PRE_GAP_TAPS])[0][0].mean(axis=(1, 2))  # the classifier's input, (N, F)
        return (logits, pooled), state

    (logits, pooled_all), pull_back, state = jax.vjp(forward, zero, has_aux=True)
    n, classes = logits.shape
    width = pooled_all.shape[-1]
    if through_features is None:
        through_features = width < classes
    scale = (1.0 + BN_EPS) ** 0.5

    def at(tree, path):
        for key in path:
            tree = tree[key]
        return tree

    layered = [(kind, path) for kind, path, _ in order if path]

    def pass_columns(c):
        if through_features:  # d f_c / dz, c a pooled feature
            g = pull_back((jnp.zeros_like(logits), jnp.zeros_like(pooled_all).at[:, c].set(1.0)))[0]
        else:
            g = pull_back((jnp.zeros_like(logits).at[:, c].set(1.0), jnp.zeros_like(pooled_all)))[0]
        columns = []
        for kind, path in layered:
            g0 = at(g, path)["z"][..., 0].reshape(n, -1)
            if kind == "kernel":
                other = at(state[KERNEL_TANGENTS], path)["t"][0][..., 0].reshape(n, -1)
            elif kind == "gamma":
                other = at(state["intermediates"], path)["z"][0][..., 0].reshape(n, -1)
            else:
                other = jnp.full_like(g0, scale)
            columns.append(jnp.sum(g0 * other, axis=1))
        return jnp.stack(columns)  # (entries, N)

    # VKDNW_CLASS_BATCH classes (or features) a vmapped backward, the chunks unrolled: on XLA:CPU a while loop over
    # the pull-back (lax.map, with or without batch_size) ran 7x slower than the same backward vmapped; the chunks
    # bound the cotangents' memory.
    passes = width if through_features else classes
    per_pass = jnp.concatenate([jax.vmap(pass_columns)(jnp.arange(start, min(start + VKDNW_CLASS_BATCH, passes)))
                                for start in range(0, passes, VKDNW_CLASS_BATCH)])  # (C or F, entries, N)
    # (C, entries, N); through the features d logit_c / dz = sum_k W[k, c] d f_k / dz, W the classifier's (F, C)
    per_class = jnp.einsum("kc,ken->cen", params["classifier"]["kernel"].astype(logits.dtype), per_pass,
                           precision=jax.lax.Precision.HIGHEST) if through_features else per_pass
    features = tap_list(state[PRE_GAP_TAPS])[0][0]  # relu(lastact BN output), (N, H, W, channels)
    pooled, positive = pooled_all[:, 0], (features[..., 0] > 0).reshape(n, -1).mean(1)  # channel 0's mean, > 0 share
    weight_row = params["classifier"]["kernel"][0].astype(logits.dtype)  # W[0, c], PyTorch's weight[c, 0]
    first_class = (jnp.arange(classes) == 0).astype(logits.dtype)
    closed = {"lastact_gamma": weight_row[:, None] * pooled, "lastact_beta": weight_row[:, None] * positive,
              "classifier_kernel": first_class[:, None] * pooled, "classifier_bias": jnp.broadcast_to(
                  first_class[:, None], (classes, n))}
    columns, k = [], 0
    for kind, path, _ in order:
        if path:
            columns.append(per_class[:, k])
            k += 1
        else:
            columns.append(closed[kind])
    active = jnp.stack([jnp.asarray(a) for _, _, a in order])
    position = jnp.cumsum(active) - 1
    keep = active & (position < VKDNW_TENSORS)
    select = jnp.where(keep[:, None], jax.nn.one_hot(position, VKDNW_TENSORS, dtype=logits.dtype), 0.0)
    jacobian = jnp.einsum("ecn,ep->ncp", jnp.stack(columns), select, precision=jax.lax.Precision.HIGHEST)
    tensors = jnp.sum(active)
    return jacobian, logits, jnp.minimum(tensors, VKDNW_TENSORS), tensors


@dataclasses.dataclass
class Gradients:
    """What the minibatch's shared pass gives the gradient proxies.

    Attributes:
      grads: dL/dW of every kernel, a layer tree (None unless the 'loss' or
        'hessian' pass is asked for).
      activations: each saliency layer's output z, a layer tree (with grads).
      activation_grads: dL/dz, a layer tree (with grads).
      hvp: ``v -> H v``, H the Hessian of the loss in the kernels (with the
        'hessian' pass, else None).
      jacobian: d(sum of logits)/dx, (N, H, W, 3) (with the 'jacobian' pass, else None).
    """

    grads: Tree | None = None
    activations: Tree | None = None
    activation_grads: Tree | None = None
    hvp: Callable[[Tree], Tree] | None = None
    jacobian: jax.Array | None = None


class GradientPasses(Protocol):
    """How a stage differentiates the network: the minibatch's shared pass, and synflow's gradient."""

    def minibatch(self, params: Tree, x: jax.Array, y: jax.Array, passes: frozenset[str]) -> Gradients:
        """The loss's gradients ('loss'), their Hessian-vector product ('hessian'), the input Jacobian ('jacobian')."""

    def output_sum_grads(self, network: Any, params: Tree, x: jax.Array) -> Tree:
        """d(sum of ``network``'s logits on ``x``)/d(kernels), a layer tree (synflow's; float64 under x64)."""


@dataclasses.dataclass(frozen=True)
class AutodiffPasses:
    """:class:`GradientPasses` by JAX's autodiff through ``model.apply`` (traceable: the compiled programs' way).

    One forward of the minibatch whose backward gives dL/dW and dL/dz (the
    ``perturbations`` collection) and, from a second cotangent, the input
    Jacobian; for the Hessian that pass is linearised, so grasp's product
    reuses its forward and backward.
    """

    model: Any
    ops: jax.Array | None = None
    shapes: Tree | None = None  # the network's intermediate_shapes on the minibatch, when already known

    def minibatch(self, params: Tree, x: jax.Array, y: jax.Array, passes: frozenset[str]) -> Gradients:
        model, ops = self.model, self.ops
        shapes = self.shapes if self.shapes is not None else intermediate_shapes(model, params, ops, x)
        perturbations = zero_perturbations(shapes)
        need_grads = bool(passes & {"loss", "hessian"})

        def forward(p, pert, inputs):
            logits, state = model.apply({"params": p, "perturbations": pert}, *_call_args(inputs, ops),
                                        mutable=["intermediates"])
            return logits, state["intermediates"]

        def shared_pass(w):
            logits, backward, intermediates = jax.vjp(forward, replace_kernels(params, w), perturbations, x,
                                                      has_aux=True)
            grads = ()
            if need_grads:
                grad_params, grad_pert, _ = backward(jax.grad(cross_entropy)(logits, y))
                grads = (kernels(grad_params), grad_pert)
            jacobian = backward(jnp.ones_like(logits))[2] if "jacobian" in passes else None
            return grads, (intermediates, jacobian)

        weights, hvp = kernels(params), None
        if "hessian" in passes:
            grads, hvp, (intermediates, jacobian) = linearize_gradient(shared_pass, weights)
        else:
            grads, (intermediates, jacobian) = shared_pass(weights)
        if not need_grads:
            return Gradients(jacobian=jacobian)
        grads, grad_pert = grads
        return Gradients(grads, map_layers(lambda _, it: it["z"][0], params, intermediates),
                         map_layers(lambda _, g: g["z"], params, grad_pert), hvp, jacobian)

    def output_sum_grads(self, network: Any, params: Tree, x: jax.Array) -> Tree:
        return logit_sum_grads(network, params, self.ops, x)


def cross_entropy(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """Mean softmax cross-entropy with integer labels."""
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


def _call_args(x: jax.Array, ops: jax.Array | None) -> tuple:
    return (x,) if ops is None else (x, ops)


def _results(names: Sequence[str], saliencies: dict[str, Tree], layer_values: dict[str, Tree],
             mask: Tree, per_layer: bool) -> dict[str, Any]:
    """Totals (and SSNR, per-layer sums) of the saliencies for the requested names."""
    out: dict[str, Any] = {}
    layers: dict[str, tuple[Tree, jax.Array]] = {}  # proxy: (a layer tree, its masked per-layer values)
    for proxy, values in layer_values.items():
        xp = array_module(values)
        layers[proxy] = values, mask_vector(mask, values) * xp.stack([xp.asarray(v) for v in jax.tree.leaves(values)])
    for proxy, saliency in saliencies.items():
        m = mask_vector(mask, saliency)
        if any(n in names for n in (proxy + s for s in SSNR_SUFFIXES)):
            sums, deviations = layer_moments(saliency)
            out[proxy + "_ssnr"], out[proxy + "_ssnr_layerwise"] = ssnr_of_moments(sums, deviations, saliency, m)
        else:
            sums = layer_reduce(saliency, row_sums)
        layers[proxy] = saliency, m * sums
    for proxy, (_, values) in layers.items():
        out[proxy] = array_module(values).sum(values)
    out = {n: out[n] for n in names if n in out}
    if per_layer:
        out["per_layer"] = {p: unflatten_like(tree, values) for p, (tree, values) in layers.items() if p in names}
    return out


def float32_stage(model: Any, names: Sequence[str], params: Tree, ops: jax.Array | None,
                  x: jax.Array, y: jax.Array, per_layer: bool = False,
                  gradient_passes: GradientPasses | None = None,
                  reg_swap: tuple[float, float] | None = None) -> dict[str, Any]:
    """The minibatch proxies and the data-free shape proxies of one cell.

    Args:
      model: the network (see module docstring).
      names: result names (registry names and SSNR names); float64 ones are skipped.
      params: the cell's parameters.
      ops: the cell's op indices for an arch-as-data network, else None.
      x: (N, H, W, 3) normalised images.
      y: (N,) integer labels.
      per_layer: also return ``per_layer``: {proxy: layer tree of sums}.
      gradient_passes: how the minibatch's gradients are computed (default:
        :class:`AutodiffPasses` of ``model``; the eager strategy passes a fused tape's).
      reg_swap: reg-SWAP's ``(mu, sigma)`` (thousands of parameters, and its square), needed
        when ``names`` holds ``reg_swap``.

    Returns:
      {name: scalar}, plus ``handoff``, the arrays the float64 stage reads
      (:func:`float64_stage`): ``jacobian`` (N, H, W, 3) and ``labels`` for
      jacob_cov and epe_nas, ``nwot_kernel`` (N, N) for nwot, ``nwot_randn_kernel`` for nwot_randn.
    """
    names = [n for n in names if float32_part(n)]
    passes = needed_passes(names)
    mask = model.layer_mask(params, ops)
    weights = kernels(params)
    saliencies: dict[str, Tree] = {}
    layer_values: dict[str, Tree] = {}
    wanted = {base_proxy(n) for n in names}
    extra: dict[str, Any] = {}
    handoff: dict[str, Any] = {}

    def taps(collection, inputs):
        _, state = model.apply({"params": params}, *_call_args(inputs, ops), mutable=[collection])
        return tap_list(state.get(collection))

    # The Gaussian-input proxies (TE-NAS's linear regions, AZ-NAS, Zen, VKDNW) share one batch, drawn once.
    gaussian = (gaussian_images(GAUSSIAN_BATCH, *x.shape[1:3], x.dtype)
                if passes & {"linear_regions", "relu_randn", "az", "zen", "vkdnw"} else None)
    if "relu" in passes:
        handoff["nwot_kernel"] = nwot_kernel(taps(RELU_TAPS, x))
    if passes & {"relu_randn", "linear_regions"}:  # one Gaussian forward serves both
        noise = nwot_kernel(taps(RELU_TAPS, gaussian))
        if "relu_randn" in passes:
            handoff["nwot_randn_kernel"] = noise
        if "linear_regions" in passes:
            extra["te_linear_regions"] = linear_regions(noise)
    if "ntk" in passes:
        handoff["ntk"] = ntk_of(model, params, ops, x)
    if "swap" in passes:
        samples = min(SWAP_SAMPLES, x.shape[0])
        extra["swap"] = swap_score(taps(RELU_TAPS, x[:samples]), samples)
    if "meco" in passes:
        extra["meco"] = meco_score(taps(MODULE_TAPS, x[:1]))
    if "meco_opt" in passes:
        extra["meco_opt"] = meco_score(taps(MODULE_TAPS, x[:1]), meco_opt_key())
    if "meco_randn" in passes:
        extra["meco_randn"] = meco_score(taps(MODULE_TAPS, meco_randn_image(x.dtype)))
    if "az" in passes:
        extra.update(az_nas_scores(model, params, ops, gaussian))
    if "zen" in passes:
        extra["zen"] = zen_of(model, params, ops, gaussian)
    if "vkdnw" in passes:
        jacobian, logits, count, tensors = vkdnw_jacobian(model, params, ops, gaussian)
        # The closed-form columns hold at gamma = 1, beta = 0 (any initialisation); other weights give NaN.
        extra["vkdnw_entropy"] = jnp.where(batchnorm_at_init(params), vkdnw_entropy(jacobian, logits, count), jnp.nan)
        extra["vkdnw_dim"] = tensors.astype(jnp.float32)
    if "zico" in passes:
        if x.shape[0] < 2:
            raise ValueError("zico needs a minibatch of at least 2 images (it splits it in two batches)")
        half = x.shape[0] // 2

        def batch_grads(inputs, labels):
            loss = lambda p: cross_entropy(model.apply({"params": p}, *_call_args(inputs, ops)), labels)
            return kernels(jax.grad(loss)(params))

        layer_values["zico"] = zico_layers([batch_grads(x[:half], y[:half]), batch_grads(x[half:], y[half:])])

    shapes = None
    if "flops" in wanted:
        shapes = intermediate_shapes(model, params, ops, x)
        layer_values["flops"] = flops_layers(weights, map_layers(lambda _, it: it["z"][0], params, shapes))
    if passes & {"loss", "jacobian", "hessian"}:
        gradients = (gradient_passes or AutodiffPasses(model, ops, shapes)).minibatch(params, x, y, passes)
        if gradients.grads is not None:
            grads = gradients.grads
            if "grad_norm" in wanted:
                layer_values["grad_norm"] = grad_norm_layers(grads)
            if "snip" in wanted:
                saliencies["snip"] = snip_saliency(weights, grads)
            if "plain" in wanted:
                saliencies["plain"] = plain_saliency(weights, grads)
            if "fisher" in wanted:
                saliencies["fisher"] = fisher_saliency(weights, gradients.activations, gradients.activation_grads)
            if "grasp" in wanted:
                saliencies["grasp"] = grasp_saliency(weights, gradients.hvp(grads))
        if gradients.jacobian is not None:
            handoff["jacobian"] = gradients.jacobian
            if "epe_nas" in wanted:
                handoff["labels"] = y
    if "l2_norm" in wanted:
        layer_values["l2_norm"] = l2_norm_layers(weights)
    out = _results([n for n in names if n not in HANDOFF_PROXIES], saliencies, layer_values, mask, per_layer)
    if "params" in wanted:
        out["params"] = param_count(params, mask)
    if "reg_swap" in wanted:
        if reg_swap is None:
            raise ValueError("reg_swap needs its constants: float32_stage(..., reg_swap=(mu, sigma))")
        extra["reg_swap"] = reg_swap_score(extra["swap"], param_count(params, mask), *reg_swap)
    out.update({n: v for n, v in extra.items() if n in names})
    if handoff:
        out["handoff"] = handoff
    return out


def float64_stage(model: Any, names: Sequence[str], params: Tree, ops: jax.Array | None,
                  image_size: int, handoff: dict[str, Any] | jax.Array | None = None,
                  per_layer: bool = False, gradient_passes: GradientPasses | None = None) -> dict[str, Any]:
    """synflow, synflow_bn (and SSNR), jacob_cov, epe_nas, nwot, nwot_randn, te_ntk; inside ``jax.enable_x64(True)``.

    Args:
      model: the network (see module docstring).
      names: result names; those not computed here are skipped.
      params: the cell's parameters (cast to float64 here).
      ops: op indices for an arch-as-data network, else None.
      image_size: input height and width.
      handoff: the float32 stage's ``handoff`` (a bare array is taken as the
        Jacobian), when jacob_cov, epe_nas, nwot or nwot_randn is asked for.
      per_layer: also return ``per_layer``.
      gradient_passes: how synflow's gradients are computed (default: ``jax.grad``
        through ``model.apply``).

    Returns:
      {name: scalar}.
    """
    wanted = {base_proxy(n) for n in names}
    sum_grads = gradient_passes.output_sum_grads if gradient_passes is not None else None
    mask = model.layer_mask(params, ops)
    saliencies = {}
    if "synflow" in wanted:
        saliencies["synflow"] = synflow_saliency(model.synflow_variant(), params, ops, image_size, sum_grads)
    if "synflow_bn" in wanted:
        saliencies["synflow_bn"] = synflow_saliency(model.with_bn(), params, ops, image_size, sum_grads)
    mask64 = jax.tree.map(lambda m: m.astype(jnp.float64), mask)
    out = _results([n for n in names if base_proxy(n) in saliencies], saliencies, {}, mask64, per_layer)
    if handoff is not None and not isinstance(handoff, dict):
        handoff = {"jacobian": handoff}
    handoff = handoff or {}
    if "jacob_cov" in names and "jacobian" in handoff:
        out["jacob_cov"] = jacob_cov_score(handoff["jacobian"].astype(jnp.float64))
    if "epe_nas" in names and "jacobian" in handoff:
        out["epe_nas"] = epe_nas_score(handoff["jacobian"].astype(jnp.float64), handoff["labels"], model.num_classes)
    if "te_ntk" in names and "ntk" in handoff:
        out["te_ntk"] = ntk_score(handoff["ntk"].astype(jnp.float64))
    for name in ("nwot", "nwot_randn"):
        if name in names and f"{name}_kernel" in handoff:
            out[name] = nwot_score(handoff[f"{name}_kernel"].astype(jnp.float64))
    return out


def split_names(names: Sequence[str]) -> tuple[list[str], list[str]]:
    """(float32 stage names, float64 stage names) of a selection."""
    f64 = [n for n in names if base_proxy(n) in FLOAT64_PROXIES]
    f32 = [n for n in names if float32_part(n)]
    return f32, f64


__all__ = ["AutodiffPasses", "GradientPasses", "Gradients", "cross_entropy", "float32_stage", "float64_stage", "split_names",
           "PROXIES"]
