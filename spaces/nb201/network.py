"""The NAS-Bench-201 network in Flax, as scored by the zero-cost proxies paper.

One module serves two uses:

* ``NB201Network(arch=ops)``: the architecture is static Python structure and
  only the selected operations exist (the per-cell program, as in the reference).
* ``NB201Network(arch=None)``: the architecture is data, passed at call time as
  an int array of 6 op indices. Every candidate convolution has parameters, and
  one compiled program scores any cell (population engine). Both candidate
  convolutions of an edge share one 3x3 convolution: a 1x1 kernel is a 3x3 kernel
  that is zero off-centre, so the edge costs one convolution whatever its op.

Modules are named so that both variants build the same parameter paths, hence
the same initial weights from the same key.

Every conv/linear layer is a :class:`SaliencyLayer`: it owns ``kernel`` (and
``bias``), a zero perturbation ``z`` on its output (``perturbations``
collection: its gradient is dL/dz, used by fisher) and sows ``z`` into
``intermediates``. Layout is NHWC.

Activation taps (the later proxies, :mod:`zcjax.proxies.activation`): when
the collection :data:`RELU_TAPS` is mutable, the input of every ReLU is sown
there as ``(value, weight)``; when :data:`MODULE_TAPS` is, the output of
every module of the reference network (the MeCo hooks: every op, container,
conv, BatchNorm, ReLU, pool, cell) is sown there, one entry per distinct
tensor with ``weight`` = how many reference modules return it. In the
arch-as-data network the weight of a candidate op's tap is 0 unless the cell
selects it. :data:`BN_TAPS` holds the input of every BatchNorm that runs,
:data:`PRE_GAP_TAPS` the features before global pooling (Zen-NAS). When :data:`BLOCK_TAPS` is mutable, the output of the stem and
of every cell and reduction block (AZ-NAS's features) is sown there in
order, and each block reads its input through ``stop_gradient`` plus the
variable ``block<i>`` of :data:`BLOCK_PERTURBATIONS` when given: the
gradient of the perturbation of block i is the vector-Jacobian product of
that block alone. None of the collections costs anything when it is not
asked for.

The layers' arithmetic is in jitted functions (:func:`layer_output`,
:func:`batch_stat_norm`, the pools). Inside a jitted program XLA inlines them:
the run time is unchanged, and tracing and lowering a per-cell program take a
third of the time, each layer being traced once per shape. Run eagerly, op by
op (the engine's ``eager`` strategy), each is a compiled program shared by
every cell of the space, so a new cell compiles nothing.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import linen as nn

from . import initializers
from .arch import EDGES, OPS

BN_EPS = 1e-5
NONE, AVG_POOL, CONV3, CONV1, SKIP = range(5)
# In a static arch: an edge without a convolution whose op (none, avg_pool or
# skip) is read from ``ops`` at call time (see :func:`conv_pattern`).
NON_CONV = -1
RELU_TAPS = "relu_taps"
MODULE_TAPS = "module_taps"
BLOCK_TAPS = "block_taps"
BN_TAPS = "bn_taps"
PRE_GAP_TAPS = "pre_gap_taps"
BLOCK_PERTURBATIONS = "block_perturbations"
KERNEL_TANGENTS = "kernel_tangents"
WEIGHT_INITS = ("pytorch", "kaiming", "xavier", "normal", "zero")
VARIANTS = ("reference", "naslib")


def check_variant(variant: str) -> str:
    """``variant`` if it names a network variant (:data:`VARIANTS`), else a ValueError naming it."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown NAS-Bench-201 network variant {variant!r}; expected one of {', '.join(VARIANTS)}")
    return variant
BIAS_INITS = ("pytorch", "zero", "one")


def _weight_init(scheme: str) -> initializers.Initializer:
    if scheme == "pytorch":  # U(-1/sqrt(fan_in), 1/sqrt(fan_in)): torch's kaiming_uniform(a=sqrt(5))
        return initializers.variance_scaling(1.0 / 3.0, "fan_in", "uniform")
    if scheme == "kaiming":  # torch.nn.init.kaiming_normal_ (fan_in, ReLU gain)
        return initializers.variance_scaling(2.0, "fan_in", "normal")
    if scheme == "xavier":  # torch.nn.init.xavier_normal_
        return initializers.variance_scaling(1.0, "fan_avg", "normal")
    if scheme == "normal":  # N(0, 1): Zen-NAS's and SWAP's own initialisation
        return initializers.normal(1.0)
    if scheme == "zero":
        return initializers.constant(0.0)
    raise ValueError(f"unknown weight init {scheme!r}; expected one of {WEIGHT_INITS}")


def _bias_init(scheme: str, fan_in: int) -> initializers.Initializer:
    if scheme == "pytorch":
        return initializers.uniform(1.0 / math.sqrt(fan_in))
    if scheme == "zero":
        return initializers.constant(0.0)
    if scheme == "one":
        return initializers.constant(1.0)
    raise ValueError(f"unknown bias init {scheme!r}; expected one of {BIAS_INITS}")


def conv2d(x: jax.Array, kernel: jax.Array, stride: int = 1, padding: int | None = None) -> jax.Array:
    """NHWC convolution with PyTorch-style symmetric padding (default: kernel // 2)."""
    pad = kernel.shape[0] // 2 if padding is None else padding
    return jax.lax.conv_general_dilated(
        x, kernel.astype(x.dtype), (stride, stride), ((pad, pad), (pad, pad)),
        dimension_numbers=("NHWC", "HWIO", "NHWC"), precision=jax.lax.Precision.HIGHEST)


def _window_sum(x: jax.Array, size: int, stride: int, pad: int) -> jax.Array:
    return jax.lax.reduce_window(x, np.zeros((), x.dtype), jax.lax.add, (1, size, size, 1), (1, stride, stride, 1),
                                 ((0, 0), (pad, pad), (pad, pad), (0, 0)))


@jax.jit
def avg_pool_3x3(x: jax.Array) -> jax.Array:
    """3x3 average pool, stride 1, averaging only over positions inside the image (count_include_pad=False)."""
    # Not Flax's avg_pool: its window count is an int (no strict dtype promotion)
    # or the default float type (float64 under jax.enable_x64). Here the count is
    # a constant of the input's dtype.
    h, w = x.shape[-3:-1]
    inside = np.pad(np.ones((h, w)), 1)
    count = sum(inside[i:i + h, j:j + w] for i in range(3) for j in range(3))
    return _window_sum(x, 3, 1, 1) / jnp.asarray(count[:, :, None], x.dtype)


@jax.jit
def avg_pool_2x2(x: jax.Array) -> jax.Array:
    """2x2 average pool, stride 2 (the reduction block's shortcut)."""
    return _window_sum(x, 2, 2, 0) / jnp.asarray(4, x.dtype)


def _param(module: nn.Module, name: str, init: initializers.Initializer, shape: tuple[int, ...]) -> jax.Array:
    """``module.param(name, init, shape)``, checking an existing parameter's shape directly.

    Flax's ``param`` traces the initialiser on every call to check the shape of
    an existing parameter: 1.5 ms a parameter, a third of an eager forward
    pass's Python time (342 parameters).
    """
    if not module.has_variable("params", name):
        return module.param(name, init, shape, jnp.float32)
    value = module.get_variable("params", name)
    if jnp.shape(value) != tuple(shape):
        raise ValueError(f"parameter {'/'.join(module.path)}/{name} has shape {jnp.shape(value)}, "
                         f"the network expects {tuple(shape)}")
    return value


@jax.jit
def batch_stat_norm(x: jax.Array, scale: jax.Array | None = None, bias: jax.Array | None = None) -> jax.Array:
    """BatchNorm with the batch's statistics over every axis but the last (then ``* scale + bias``)."""
    axes = tuple(range(x.ndim - 1))
    # Mean around a per-channel shift: exact for a constant input (a dead edge),
    # as PyTorch's double-precision accumulation is; its 1/sqrt(eps) gradient
    # would otherwise amplify the rounding of the mean.
    shift = jax.lax.stop_gradient(x[(0,) * (x.ndim - 1)])
    mean = shift + (x - shift).mean(axes)
    var = jnp.square(x - mean).mean(axes)
    y = (x - mean) * jax.lax.rsqrt(var + BN_EPS)
    if scale is not None:
        y = y * scale.astype(x.dtype) + bias.astype(x.dtype)
    return y


@functools.partial(jax.jit, static_argnames=("stride", "relu"))
def layer_output(x: jax.Array, kernel: jax.Array, bias: jax.Array | None, perturbation: jax.Array | None,
                 stride: int = 1, relu: bool = False) -> jax.Array:
    """A saliency layer's output z: (ReLU, then) conv or dense, plus bias and fisher's perturbation."""
    if relu:
        x = jax.nn.relu(x)
    if kernel.ndim == 2:
        z = jnp.dot(x, kernel.astype(x.dtype), precision=jax.lax.Precision.HIGHEST)
    else:
        z = conv2d(x, kernel, stride)
    if bias is not None:
        z = z + bias.astype(x.dtype)
    if perturbation is not None:
        z = z + perturbation
    return z


@jax.jit
def initial_stat_norm(x: jax.Array, scale: jax.Array | None = None, bias: jax.Array | None = None) -> jax.Array:
    """BatchNorm in eval mode with a fresh layer's running statistics (mean 0, variance 1): ``x / sqrt(1 + eps)``."""
    y = x * jax.lax.rsqrt(jnp.asarray(1.0 + BN_EPS, x.dtype))
    if scale is not None:
        y = y * scale.astype(x.dtype) + bias.astype(x.dtype)
    return y


class BatchStatNorm(nn.Module):
    """BatchNorm in training mode: normalises with the current batch statistics.

    With ``initial``, BatchNorm in eval mode before any training step instead:
    the running statistics still at their initial values (VKDNW's mode).
    Without ``affine`` parameters of its own it may be given ``scale`` and
    ``bias`` at call time (NASLib's cell BatchNorm, whose parameters its conv
    layer owns); it stays a module either way, so interceptors see it.
    """

    affine: bool = True
    initial: bool = False

    @nn.compact
    def __call__(self, x: jax.Array, scale: jax.Array | None = None, bias: jax.Array | None = None) -> jax.Array:
        norm = initial_stat_norm if self.initial else batch_stat_norm
        if not self.affine:
            return norm(x) if scale is None else norm(x, scale, bias)
        scale = _param(self, "scale", initializers.constant(1.0), (x.shape[-1],))
        bias = _param(self, "bias", initializers.constant(0.0), (x.shape[-1],))
        return norm(x, scale, bias)


class SaliencyLayer(nn.Module):
    """A conv (HWIO kernel) or linear ((in, out) kernel) layer whose weight is a saliency tensor."""

    kernel_shape: tuple[int, ...]
    use_bias: bool = True
    weight_init: str = "pytorch"
    bias_init: str = "pytorch"
    norm_params: bool = False  # also own the affine parameters of the BatchNorm that follows (bn_scale, bn_bias)

    def setup(self):
        fan_in = int(np.prod(self.kernel_shape[:-1]))
        self.kernel = _param(self, "kernel", _weight_init(self.weight_init), self.kernel_shape)
        if self.use_bias:
            self.bias = _param(self, "bias", _bias_init(self.bias_init, fan_in), self.kernel_shape[-1:])
        if self.norm_params:  # a layer's leaves count with its mask (params), so an unused op's BatchNorm does not
            self.bn_scale = _param(self, "bn_scale", initializers.constant(1.0), self.kernel_shape[-1:])
            self.bn_bias = _param(self, "bn_bias", initializers.constant(0.0), self.kernel_shape[-1:])

    def __call__(self, x: jax.Array, stride: int = 1, relu: bool = False) -> jax.Array:
        # The perturbation is added inside the compiled layer (self.tag's work, one call fewer).
        perturbation = self.get_variable("perturbations", "z")
        z = layer_output(x, self.kernel, self.bias if self.use_bias else None, perturbation, stride, relu)
        if perturbation is None and self.is_mutable_collection("perturbations"):
            self.put_variable("perturbations", "z", jnp.zeros_like(z))
        self.sow("intermediates", "z", z)
        self.sow_tangent(x, stride, relu)
        return z

    def sow_tangent(self, x: jax.Array, stride: int = 1, relu: bool = False) -> None:
        """Sows dz/d(kernel element 0) into KERNEL_TANGENTS when it is mutable: (N, ..., 1), output channel 0's.

        Element 0 is the first of PyTorch's flattened weight (OIHW conv, (out, in)
        linear), HWIO ``[0, 0, 0, 0]`` (linear ``[0, 0]``) here.
        """
        if not self.is_mutable_collection(KERNEL_TANGENTS):
            return
        x = jax.nn.relu(x[..., :1]) if relu else x[..., :1]
        if len(self.kernel_shape) == 2:
            self.sow(KERNEL_TANGENTS, "t", x)
            return
        unit = jnp.zeros(self.kernel_shape[:2] + (1, 1), x.dtype).at[0, 0, 0, 0].set(1.0)
        self.sow(KERNEL_TANGENTS, "t", conv2d(x, unit, stride))

    def tag(self, z: jax.Array) -> jax.Array:
        """Marks ``z`` as this layer's output for fisher (zero perturbation + sown value)."""
        z = self.perturb("z", z)
        self.sow("intermediates", "z", z)
        return z


def tap(module: nn.Module, collection: str, value: Any, weight: Any = 1.0) -> None:
    """Sows ``(value, weight)`` into a tap collection when it is mutable (see the module docstring).

    ``value`` may be a function of no arguments, called only when the tap is taken.
    """
    if module.is_mutable_collection(collection):
        value = value() if callable(value) else value
        module.sow(collection, "tap", (value, jnp.asarray(weight, jnp.float32)))


def _conv_taps(module: nn.Module, x: jax.Array, z: jax.Array, out: jax.Array, weight: Any = 1.0) -> None:
    """The taps of a ReLUConvBN op on ``x``: its ReLU's input; the outputs of its ReLU, conv (z) and BatchNorm.

    The op module and its Sequential return the BatchNorm's output (``out``),
    or the conv's when there is no BatchNorm (``out is z``).
    """
    weight = jnp.asarray(weight, jnp.float32)
    if out is not z:
        tap(module, BN_TAPS, z, weight)
    tap(module, RELU_TAPS, x, weight)
    tap(module, MODULE_TAPS, lambda: jax.nn.relu(x), weight)
    if out is z:
        tap(module, MODULE_TAPS, z, 3.0 * weight)
    else:
        tap(module, MODULE_TAPS, z, weight)
        tap(module, MODULE_TAPS, out, 3.0 * weight)


def _cell_norm(z: jax.Array, conv: SaliencyLayer, initial: bool) -> jax.Array:
    """A cell's BatchNorm after ``conv``: without affine parameters, or with the layer's own (NASLib's)."""
    return BatchStatNorm(affine=False, initial=initial)(z, *((conv.bn_scale, conv.bn_bias) if conv.norm_params
                                                             else ()))


def _op_output(module: nn.Module, x: jax.Array, op: int, conv: nn.Module | None, use_bn: bool,
               initial_bn: bool = False) -> jax.Array | None:
    if op == NONE:
        return None
    if op == AVG_POOL:
        out = avg_pool_3x3(x)
        tap(module, MODULE_TAPS, out, 2.0)  # POOLING and its AvgPool2d
        return out
    if op == SKIP:
        tap(module, MODULE_TAPS, x)
        return x
    z = conv(x, relu=True)
    out = _cell_norm(z, conv, initial_bn) if use_bn else z
    _conv_taps(module, x, z, out)
    return out


def _select_op(op: jax.Array, x: jax.Array, conv_out: jax.Array, branch: str = "select") -> jax.Array:
    """An edge's output for a traced op index: none, avg_pool, the convolution's output, or skip.

    ``branch='select'``: every branch runs and ``select_n`` picks one (not a
    weighted sum of the branches: XLA:CPU fuses a sum of scaled branches badly,
    measured 3x slower backward, 4x longer compile). ``'switch'``: ``lax.switch``
    runs only the chosen branch, forward and backward (the convolution itself
    runs outside it either way); under ``vmap`` over ``op`` JAX turns it into a
    select. The values are the same.
    """
    branches = (lambda x, c: jnp.zeros_like(x), lambda x, c: avg_pool_3x3(x), lambda x, c: c, lambda x, c: c,
                lambda x, c: x)  # NONE, AVG_POOL, CONV3, CONV1, SKIP
    if branch == "switch":
        return jax.lax.switch(op, branches, x, conv_out)
    return jax.lax.select_n(op, *(b(x, conv_out) for b in branches))


class Cell(nn.Module):
    """A NAS-Bench-201 cell: node i = sum over j < i of op_ij(node j); node 3 is the output."""

    channels: int
    arch: tuple[int, ...] | None
    use_bn: bool
    weight_init: str
    bias_init: str
    initial_bn: bool = False
    naslib: bool = False  # NASLib's (xautodl's) ops: conv without bias, affine BatchNorm
    edge_branch: str = "select"  # how an edge with a traced op picks its output (see _select_op)

    def _layer(self, e: int, op: int) -> SaliencyLayer:
        k = 3 if op == CONV3 else 1
        return SaliencyLayer((k, k, self.channels, self.channels), not self.naslib, self.weight_init,
                             self.bias_init, norm_params=self.naslib, name=f"edge{e}_{OPS[op]}")

    @nn.compact
    def __call__(self, x: jax.Array, ops: jax.Array | None = None) -> jax.Array:
        nodes = [x]
        for to in (1, 2, 3):
            total = jnp.zeros_like(x)
            for e, (dst, src) in enumerate(EDGES):
                if dst != to:
                    continue
                if self.arch is not None and self.arch[e] == NON_CONV:
                    out = self._non_conv_edge(nodes[src], ops[e])
                elif self.arch is not None:
                    op = self.arch[e]
                    conv = self._layer(e, op) if op in (CONV3, CONV1) else None
                    out = _op_output(self, nodes[src], op, conv, self.use_bn, self.initial_bn)
                else:
                    out = self._mixed_edge(e, nodes[src], ops[e])
                if out is not None:
                    total = total + out
            nodes.append(total)
        tap(self, MODULE_TAPS, nodes[3])
        return nodes[3]

    def _non_conv_edge(self, x: jax.Array, op: jax.Array) -> jax.Array:
        self._pool_skip_taps(x, op)
        return _select_op(op, x, jnp.zeros_like(x), self.edge_branch)

    def _pool_skip_taps(self, x: jax.Array, op: jax.Array) -> None:
        tap(self, MODULE_TAPS, lambda: avg_pool_3x3(x), 2.0 * (op == AVG_POOL).astype(jnp.float32))
        tap(self, MODULE_TAPS, x, (op == SKIP).astype(jnp.float32))

    def _mixed_edge(self, e: int, x: jax.Array, op: jax.Array) -> jax.Array:
        conv3, conv1 = self._layer(e, CONV3), self._layer(e, CONV1)
        is3 = op == CONV3
        kernel = jnp.where(is3, conv3.kernel, jnp.pad(conv1.kernel, ((1, 1), (1, 1), (0, 0), (0, 0))))
        z = conv2d(nn.relu(x), kernel)
        if not self.naslib:
            z = z + jnp.where(is3, conv3.bias, conv1.bias).astype(x.dtype)
        z = conv1.tag(conv3.tag(z))
        conv3.sow_tangent(x, relu=True)
        conv1.sow_tangent(x, relu=True)
        if not self.use_bn:
            conv_out = z
        elif self.naslib:  # the selected op's own affine parameters
            conv_out = BatchStatNorm(affine=False, initial=self.initial_bn)(
                z, jnp.where(is3, conv3.bn_scale, conv1.bn_scale), jnp.where(is3, conv3.bn_bias, conv1.bn_bias))
        else:
            conv_out = _cell_norm(z, conv3, self.initial_bn)
        _conv_taps(self, x, z, conv_out, ((op == CONV3) | (op == CONV1)).astype(jnp.float32))
        self._pool_skip_taps(x, op)
        return _select_op(op, x, conv_out, self.edge_branch)


class Reduction(nn.Module):
    """Residual reduction block: conv_b(conv_a(x)) + conv1x1(avgpool(x)).

    Its BatchNorms stay in the reference's synflow network; ``use_bn=False``
    (NASLib's synflow network, which has no BatchNorm at all) drops them.
    """

    in_channels: int
    channels: int
    weight_init: str
    bias_init: str
    initial_bn: bool = False
    use_bn: bool = True

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        def layer(shape, name):
            return SaliencyLayer(shape, False, self.weight_init, self.bias_init, name=name)

        def norm(z, name):
            return BatchStatNorm(initial=self.initial_bn, name=name)(z) if self.use_bn else z

        c_in, c = self.in_channels, self.channels
        z = layer((3, 3, c_in, c), "conv_a")(x, stride=2, relu=True)
        a = norm(z, "bn_a")
        _conv_taps(self, x, z, a)
        z = layer((3, 3, c, c), "conv_b")(a, relu=True)
        y = norm(z, "bn_b")
        _conv_taps(self, a, z, y)
        shortcut = avg_pool_2x2(x)
        residual = layer((1, 1, c_in, c), "residual")(shortcut)
        tap(self, MODULE_TAPS, shortcut)  # the residual's AvgPool2d
        tap(self, MODULE_TAPS, residual, 2.0)  # its Conv2d and its Sequential
        out = y + residual
        tap(self, MODULE_TAPS, out)
        return out


class _BlockTaps:
    """Runs the blocks after the stem, sowing their outputs (and isolating their inputs) for BLOCK_TAPS."""

    def __init__(self, network: nn.Module, stem_out: jax.Array):
        self.network, self.count = network, 0
        self.active = network.is_mutable_collection(BLOCK_TAPS)
        if self.active:
            network.sow(BLOCK_TAPS, "features", stem_out)

    def __call__(self, block: nn.Module, x: jax.Array, *args: Any) -> jax.Array:
        if not self.active:
            return block(x, *args)
        self.count += 1
        perturbation = self.network.get_variable(BLOCK_PERTURBATIONS, f"block{self.count}")
        x = jax.lax.stop_gradient(x)
        out = block(x if perturbation is None else x + perturbation, *args)
        self.network.sow(BLOCK_TAPS, "features", out)
        return out


class NB201Network(nn.Module):
    """The NAS-Bench-201 network (stem, 3 stages of cells, 2 reductions, head).

    Attributes:
      arch: the 6 op indices (static cell), or None to pass them at call time.
        A static arch may hold NON_CONV for edges whose op is passed at call time.
      num_classes: 10, 100 or 120.
      channels: channels of the first stage (16 in the benchmark).
      cells_per_stage: cells per stage (5 in the benchmark).
      bn: 'all' (every BatchNorm), 'reductions' (the synflow network of the
        reference: BatchNorm only in the two reduction blocks) or 'none'
        (NASLib's synflow network: no BatchNorm).
      bn_stats: 'batch' (training mode: the batch's statistics, as every
        proxy of the reference reads them) or 'initial' (eval mode before any
        training: ``x / sqrt(1 + eps)``, VKDNW's; see :meth:`initial_bn_variant`).
      weight_init: 'pytorch' (default), 'kaiming', 'xavier' or 'zero'.
      bias_init: 'pytorch' (default), 'zero' or 'one'.
      variant: 'reference' (the zero-cost paper's network: cell convs with a
        bias, cell BatchNorms without affine parameters; synflow keeps only the
        reductions' BatchNorms) or 'naslib' (NASLib's, which is xautodl's: cell
        convs without bias, affine cell BatchNorms; synflow drops every
        BatchNorm). With batch statistics the two compute the same function of
        the same kernels at initialisation (a bias before BatchNorm cancels), so
        grad_norm, snip, grasp, plain, jacob_cov and the activation proxies
        agree; synflow, fisher (each conv's output, bias included) and the
        parameter count tell them apart.
      edge_branch: how an edge whose op is passed at call time picks its
        output: 'select' (default; every branch runs) or 'switch' (only the
        chosen one, forward and backward). Same values; 'switch' made VKDNW's
        ten vmapped backward passes of an arch-as-data network about 5x
        faster on XLA:CPU (bench/NOTES.md).
    """

    arch: tuple[int, ...] | None = None
    num_classes: int = 10
    channels: int = 16
    cells_per_stage: int = 5
    bn: str = "all"
    weight_init: str = "pytorch"
    bias_init: str = "pytorch"
    bn_stats: str = "batch"
    variant: str = "reference"
    edge_branch: str = "select"

    @nn.compact
    def __call__(self, x: jax.Array, ops: jax.Array | None = None) -> jax.Array:
        """Logits of a batch.

        Args:
          x: images, (N, H, W, 3) NHWC.
          ops: int array (6,) of op indices; required when ``arch`` is None or
            holds NON_CONV (static edges ignore it).

        Returns:
          (N, num_classes) logits.
        """
        if ops is None and (self.arch is None or NON_CONV in self.arch):
            raise ValueError("pass ops at call time: the network's arch is not (wholly) static")
        if self.bn not in ("all", "reductions", "none"):
            raise ValueError(f"bn must be 'all', 'reductions' or 'none', got {self.bn!r}")
        naslib = check_variant(self.variant) == "naslib"
        if self.bn_stats not in ("batch", "initial"):
            raise ValueError(f"bn_stats must be 'batch' or 'initial', got {self.bn_stats!r}")
        if self.edge_branch not in ("select", "switch"):
            raise ValueError(f"edge_branch must be 'select' or 'switch', got {self.edge_branch!r}")
        use_bn = self.bn == "all"
        initial = self.bn_stats == "initial"
        inits = dict(weight_init=self.weight_init, bias_init=self.bias_init)
        c = self.channels
        y = SaliencyLayer((3, 3, 3, c), False, name="stem", **inits)(x)
        tap(self, MODULE_TAPS, y)
        if use_bn:
            tap(self, BN_TAPS, y)
            y = BatchStatNorm(initial=initial, name="stem_bn")(y)
        tap(self, MODULE_TAPS, y, 2.0 if use_bn else 1.0)  # the stem and its Sequential (and the BatchNorm)
        if use_bn:
            tap(self, MODULE_TAPS, y)
        blocks = _BlockTaps(self, y)
        for stage in (1, 2, 3):
            if stage > 1:
                y = blocks(Reduction(c // 2, c, initial_bn=initial, use_bn=self.bn != "none",
                                     name=f"reduction{stage - 1}", **inits), y)
            for i in range(self.cells_per_stage):
                y = blocks(Cell(c, self.arch, use_bn, initial_bn=initial, naslib=naslib,
                                edge_branch=self.edge_branch, name=f"cell{stage}_{i}", **inits), y, ops)
            tap(self, MODULE_TAPS, y)  # the stage's Sequential of cells
            c *= 2
        c //= 2
        if use_bn:
            tap(self, BN_TAPS, y)
            y = BatchStatNorm(initial=initial, name="lastact_bn")(y)
            tap(self, MODULE_TAPS, y)
        tap(self, RELU_TAPS, y)
        y = nn.relu(y)
        tap(self, MODULE_TAPS, y, 2.0 if use_bn else 1.0)  # the ReLU (and lastact's Sequential)
        tap(self, PRE_GAP_TAPS, y)
        y = y.mean(axis=(1, 2))
        return SaliencyLayer((c, self.num_classes), True, name="classifier", **inits)(y)

    def synflow_variant(self) -> NB201Network:
        """The network synflow scores: BatchNorm only in the reduction blocks (the reference's quirk), or none (NASLib)."""
        return self.clone(bn="none" if self.variant == "naslib" else "reductions")

    def initial_bn_variant(self) -> NB201Network:
        """The network with every BatchNorm in eval mode at its initial running statistics (VKDNW's)."""
        return self.clone(bn="all", bn_stats="initial")

    def with_bn(self) -> NB201Network:
        """The network with every BatchNorm (synflow_bn)."""
        return self.clone(bn="all")

    def layer_mask(self, params: Any, ops: jax.Array | None = None) -> Any:
        """See :func:`layer_mask`; a static arch uses every layer it has, whatever ``ops`` says."""
        return layer_mask(params, ops if self.arch is None else None)

    def xautodl_tensors(self, ops: jax.Array | None = None) -> list[tuple[str, tuple[str, ...], Any]]:
        """See :func:`xautodl_tensors` (VKDNW's parameter order)."""
        return xautodl_tensors(self, ops)


def xautodl_tensors(model: NB201Network, ops: Any = None) -> list[tuple[str, tuple[str, ...], Any]]:
    """The parameter tensors of the xautodl NAS-Bench-201 network (AZ-NAS's and VKDNW's) in its registration order.

    Each entry is ``(kind, path, active)``. ``kind`` is 'kernel', 'gamma' or
    'beta' (the BatchNorm after the conv at ``path``), 'lastact_gamma',
    'lastact_beta', 'classifier_kernel' or 'classifier_bias'. ``path`` is the
    module path of the conv in our network (``()`` for the last four).
    ``active`` says whether the cell uses it: True, or a traced bool for a
    candidate conv of the arch-as-data network. The order is: the stem conv
    and its BatchNorm; for every cell, its conv edges in edge order (conv,
    BatchNorm gamma and beta); a reduction block's conv_a and conv_b (each with
    its BatchNorm) and its shortcut conv; the last BatchNorm; the classifier.
    xautodl's convs have no bias (ours are zero under VKDNW's init) and its
    cell BatchNorms are affine, so there are ``21 + 45 k`` tensors on the
    benchmark network (k conv edges per cell).
    """
    def conv(path, active, bn=True):
        return [("kernel", path, active)] + ([("gamma", path, active), ("beta", path, active)] if bn else [])

    entries = conv(("stem",), True)
    for stage in (1, 2, 3):
        if stage > 1:
            block = f"reduction{stage - 1}"
            entries += conv((block, "conv_a"), True) + conv((block, "conv_b"), True)
            entries += conv((block, "residual"), True, bn=False)
        for i in range(model.cells_per_stage):
            for e in range(len(EDGES)):
                for op in (CONV3, CONV1):
                    if model.arch is None:
                        entries += conv((f"cell{stage}_{i}", f"edge{e}_{OPS[op]}"), jnp.asarray(ops)[e] == op)
                    elif model.arch[e] == op:
                        entries += conv((f"cell{stage}_{i}", f"edge{e}_{OPS[op]}"), True)
    return entries + [(kind, (), True) for kind in ("lastact_gamma", "lastact_beta", "classifier_kernel",
                                                     "classifier_bias")]


def build_network(arch: Any = None, num_classes: int = 10, **kwargs: Any) -> NB201Network:
    """Builds the network for a static arch (string or op indices), or the arch-as-data network if None."""
    from .arch import arch_to_ops

    ops = None if arch is None else tuple(int(o) for o in arch_to_ops(arch))
    return NB201Network(arch=ops, num_classes=num_classes, **kwargs)


def conv_pattern(ops: Sequence[int]) -> tuple[int, ...]:
    """The static arch of a cell's conv-pattern network: its convolutions, NON_CONV elsewhere.

    The 729 patterns cover the 15,625 cells: cells that differ only in their
    none / avg_pool / skip edges share a network, its parameters and its
    compiled program, and score exactly as the fully static network does.
    """
    return tuple(int(o) if o in (CONV3, CONV1) else NON_CONV for o in ops)


def layer_mask(params: Any, ops: Sequence[int] | jax.Array | None = None) -> Any:
    """Which saliency layers the architecture uses, as a pytree like ``params``.

    Each module that owns a ``kernel`` maps to a float32 scalar (1.0 used, 0.0
    unused); every other leaf maps to None. With a static-arch network every
    layer present is used, so ``ops`` may be None; with the arch-as-data network
    ``ops`` (traced or not) says which candidate convolutions are selected.

    Args:
      params: the network's ``params`` collection.
      ops: op indices (6,), or None.

    Returns:
      The mask pytree (a dict per layer: {'kernel': scalar}).
    """
    def mask_for(path: tuple[str, ...]):
        name = path[-1]
        if ops is None or not name.startswith("edge"):
            return jnp.float32(1.0)
        e, op_name = int(name[4]), name[len("edgeN_"):]
        return (jnp.asarray(ops)[e] == OPS.index(op_name)).astype(jnp.float32)

    def walk(tree, path):
        if "kernel" in tree:
            return {"kernel": mask_for(path)}
        children = {k: walk(v, path + (k,)) for k, v in tree.items() if isinstance(v, dict)}
        return {k: v for k, v in children.items() if v}

    return walk(params, ())


def to_mixed_params(params: Any, num_classes: int = 10, **kwargs: Any) -> Any:
    """Parameters of a static-arch network, completed for the arch-as-data network.

    Candidate convolutions the cell does not select get zeros (they are masked
    out of every proxy).
    """
    shapes = jax.eval_shape(lambda: NB201Network(None, num_classes, **kwargs).init(
        jax.random.key(0), jnp.zeros((1, 16, 16, 3)), jnp.zeros(6, jnp.int32)))["params"]

    def fill(spec, given, path=()):
        if isinstance(spec, dict):
            extra = sorted(set(given) - set(spec)) if isinstance(given, dict) else []
            if extra:
                raise ValueError(f"parameter {'/'.join(path + (extra[0],))} is not in the arch-as-data network "
                                 f"({kwargs.get('variant', 'reference')} variant): pass the variant of the given "
                                 "parameters")
            return {k: fill(v, given.get(k) if isinstance(given, dict) else None, path + (k,))
                    for k, v in spec.items()}
        return jnp.zeros(spec.shape, spec.dtype) if given is None else jnp.asarray(given)

    return fill(shapes, params)
