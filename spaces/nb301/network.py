"""The DARTS evaluation network of NAS-Bench-301 in Flax linen, as NASLib built it for its zero-cost scores.

Written from the structure of DARTS' ``cnn/model.py`` and ``operations.py``
(Liu et al., ICLR 2019) and of NASLib's ``NasBench301SearchSpace`` (the graph
behind ``zc_nasbench301.json``, NAS-Bench-Suite-Zero): a stem (3x3
convolution to ``stem_multiplier * C`` channels and BatchNorm), ``layers``
cells of which those at ``layers // 3`` and ``2 * layers // 3`` are reduction
cells (channels doubled, resolution halved), global average pooling and a
linear classifier. The default is the network of NASLib's shipped scores:
``C = 32``, 8 cells (normal, normal, reduce, normal x 2, reduce, normal x 2:
32, 64 and 128 channels per node, 32x32 -> 16 -> 8), stem 96; its params
and flops equal NASLib's for all 725 cells of the ground truth. (NASLib's
code has built ``C = 16`` since its commit a4412f18, October 2022, after the
scores were computed.) No auxiliary head (NASLib leaves the auxiliary edge
an identity for the scores) and no drop-path.

A cell (``C`` channels per node) preprocesses its inputs: ``c_{k-2}`` by a
:class:`FactorizedReduce` when the previous cell reduced, else a
:class:`ReLUConvBN` 1x1, and ``c_{k-1}`` by a ReLUConvBN 1x1, both to ``C``
channels (affine BatchNorm). Each intermediate node is the sum of its two
edges; in a reduction cell the edges from the two inputs have stride 2.
The output concatenates the 4 nodes (``4 C`` channels). The operations, as
NASLib's (its BatchNorm inside the operations has ``affine=False``: no scale
and no shift, so no parameters):

* ``max_pool_3x3`` / ``avg_pool_3x3``: 3x3 pooling, padding 1 (average without
  the padded cells), then BatchNorm;
* ``skip_connect``: the identity, or with stride 2 a :class:`FactorizedReduce`;
* ``sep_conv_kxk``: twice (ReLU, depthwise kxk, pointwise 1x1, BatchNorm), the
  stride on the first depthwise convolution;
* ``dil_conv_kxk``: ReLU, depthwise kxk with dilation 2, pointwise 1x1, BatchNorm.

Layout is NHWC; paddings are PyTorch's (symmetric). Convolutions have no
bias; the classifier has one. Weights start as PyTorch's defaults (uniform
in ``+-1/sqrt(fan_in)``, BatchNorm scale 1 and bias 0). ``SpaceNetwork.init``
runs Flax's init op by op (a minute the first time in a process on a small
CPU); :func:`numpy_init` (``zcjax.spaces.torch_init``'s, re-exported: the same laws
drawn with NumPy) fills ``SpaceNetwork.shapes()`` in about a second.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from ..depthwise import conv_or_depthwise
from ..torch_init import BN_EPS, BN_MOMENTUM, numpy_init, torch_bias, torch_kernel
from .arch import CELL_LENGTH, NUM_NODES, OPS, reduction_layers

__all__ = ["Cell", "DilConv", "FactorizedReduce", "NB301Network", "Pool", "ReLUConvBN", "SepConv", "numpy_init"]

_torch_kernel, _torch_bias = torch_kernel, torch_bias  # PyTorch's defaults (spaces.torch_init)


def _conv(features: int, kernel: int, stride: int = 1, dilation: int = 1, groups: int = 1,
          name: str | None = None) -> nn.Module:
    """A convolution without bias, PyTorch's padding, PyTorch's init; grouped: a :class:`DepthwiseConv`."""
    return conv_or_depthwise(features, kernel, stride, dilation, groups, kernel_init=_torch_kernel, name=name)


def _bn(train: bool, affine: bool, name: str | None = None) -> nn.BatchNorm:
    return nn.BatchNorm(use_running_average=not train, momentum=BN_MOMENTUM, epsilon=BN_EPS, use_scale=affine,
                        use_bias=affine, name=name)


class ReLUConvBN(nn.Module):
    """ReLU, a 1x1 convolution to ``features`` channels, BatchNorm (a cell's preprocessing).

    Attributes:
      features: output channels.
      affine: BatchNorm with scale and shift.
    """

    features: int
    affine: bool = True

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = True) -> jax.Array:
        return _bn(train, self.affine, "bn")(_conv(self.features, 1, name="conv")(nn.relu(x)))


class FactorizedReduce(nn.Module):
    """Halves the resolution: ReLU, two 1x1 stride-2 convolutions (the second on the input shifted by one pixel)
    to ``features // 2`` channels each, concatenated, BatchNorm.

    Attributes:
      features: output channels (even).
      affine: BatchNorm with scale and shift.
    """

    features: int
    affine: bool = True

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = True) -> jax.Array:
        if self.features % 2:
            raise ValueError(f"FactorizedReduce needs an even channel count, got {self.features}")
        x = nn.relu(x)
        a = _conv(self.features // 2, 1, 2, name="conv_1")(x)
        b = _conv(self.features // 2, 1, 2, name="conv_2")(x[:, 1:, 1:, :])
        return _bn(train, self.affine, "bn")(jnp.concatenate([a, b], axis=-1))


class SepConv(nn.Module):
    """DARTS' separable convolution: twice (ReLU, depthwise kxk, pointwise 1x1, BatchNorm without affine)."""

    features: int
    kernel: int
    stride: int = 1

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = True) -> jax.Array:
        c = x.shape[-1]
        y = _conv(c, self.kernel, self.stride, groups=c, name="depthwise_1")(nn.relu(x))
        y = _bn(train, False, "bn_1")(_conv(c, 1, name="pointwise_1")(y))
        y = _conv(c, self.kernel, 1, groups=c, name="depthwise_2")(nn.relu(y))
        return _bn(train, False, "bn_2")(_conv(self.features, 1, name="pointwise_2")(y))


class DilConv(nn.Module):
    """DARTS' dilated convolution: ReLU, depthwise kxk with dilation 2, pointwise 1x1, BatchNorm without affine."""

    features: int
    kernel: int
    stride: int = 1

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = True) -> jax.Array:
        c = x.shape[-1]
        y = _conv(c, self.kernel, self.stride, dilation=2, groups=c, name="depthwise")(nn.relu(x))
        return _bn(train, False, "bn")(_conv(self.features, 1, name="pointwise")(y))


class Pool(nn.Module):
    """3x3 max or average pooling (padding 1; the average leaves the padding out), then BatchNorm without affine."""

    kind: str
    stride: int = 1

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = True) -> jax.Array:
        window, strides, pad = (3, 3), (self.stride, self.stride), ((1, 1), (1, 1))
        if self.kind == "max":
            y = nn.max_pool(x, window, strides, pad)
        else:
            y = nn.avg_pool(x, window, strides, pad, count_include_pad=False)
        return _bn(train, False, "bn")(y)


def _edge(op: int, channels: int, stride: int, name: str) -> nn.Module | None:
    """The module of op ``op`` (an index into OPS) on an edge; None for the stride-1 identity."""
    kind = OPS[op]
    if kind == "max_pool_3x3":
        return Pool("max", stride, name=name)
    if kind == "avg_pool_3x3":
        return Pool("avg", stride, name=name)
    if kind == "skip_connect":
        return None if stride == 1 else FactorizedReduce(channels, affine=False, name=name)
    if kind.startswith("sep_conv_"):
        return SepConv(channels, int(kind[-1]), stride, name=name)
    if kind.startswith("dil_conv_"):
        return DilConv(channels, int(kind[-1]), stride, name=name)
    raise ValueError(f"unknown op {op}")  # pragma: no cover - OPS is closed


class Cell(nn.Module):
    """One DARTS cell.

    Attributes:
      genotype: the cell's 16 ints (per node, two ``(input, op)`` pairs; see :mod:`~zcjax.spaces.nb301.arch`).
      channels: channels per node ``C`` (the output has ``4 C``).
      reduction: a reduction cell (stride 2 on the edges from the inputs).
      reduction_prev: the previous cell reduced (``c_{k-2}`` is at twice the resolution).
    """

    genotype: tuple[int, ...]
    channels: int
    reduction: bool = False
    reduction_prev: bool = False

    @nn.compact
    def __call__(self, s0: jax.Array, s1: jax.Array, train: bool = True) -> jax.Array:
        if len(self.genotype) != CELL_LENGTH:
            raise ValueError(f"a cell genotype has {CELL_LENGTH} ints, got {len(self.genotype)}")
        c = self.channels
        pre0 = FactorizedReduce(c, name="preprocess0") if self.reduction_prev else ReLUConvBN(c, name="preprocess0")
        states = [pre0(s0, train), ReLUConvBN(c, name="preprocess1")(s1, train)]
        for node in range(NUM_NODES):
            total = None
            for e in range(2):
                source, op = self.genotype[4 * node + 2 * e], self.genotype[4 * node + 2 * e + 1]
                stride = 2 if self.reduction and source < 2 else 1
                module = _edge(op, c, stride, f"node{node}_edge{e}")
                h = states[source] if module is None else module(states[source], train)
                total = h if total is None else total + h
            states.append(total)
        return jnp.concatenate(states[2:], axis=-1)


class NB301Network(nn.Module):
    """The DARTS network of one NAS-Bench-301 architecture (a static architecture).

    Attributes:
      arch: the canonical 32 ints (normal cell then reduction cell).
      num_classes: classifier outputs (10, CIFAR-10).
      channels: channels per node of the first cells, ``C`` (NASLib's scores: 32; DARTS' evaluation: 36).
      layers: cells (NASLib: 8; DARTS' evaluation: 20).
      stem_multiplier: the stem has ``stem_multiplier * C`` channels (3).
    """

    arch: tuple[int, ...]
    num_classes: int = 10
    channels: int = 32
    layers: int = 8
    stem_multiplier: int = 3

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = True) -> jax.Array:
        """Logits of a batch.

        Args:
          x: images, (N, H, W, 3) NHWC (32 x 32 for CIFAR-10).
          train: BatchNorm with batch statistics (True) or running statistics.

        Returns:
          (N, num_classes) logits.
        """
        if len(self.arch) != 2 * CELL_LENGTH:
            raise ValueError(f"an NB301 arch has {2 * CELL_LENGTH} ints, got {len(self.arch)}")
        stem = _conv(self.stem_multiplier * self.channels, 3, name="stem")
        s0 = s1 = _bn(train, True, "stem_bn")(stem(x))
        c = self.channels
        reductions = reduction_layers(self.layers)
        reduction_prev = False
        for i in range(self.layers):
            reduction = i in reductions
            if reduction:
                c *= 2
            genotype = tuple(self.arch[CELL_LENGTH:]) if reduction else tuple(self.arch[:CELL_LENGTH])
            cell = Cell(genotype, c, reduction, reduction_prev, name=f"cell{i}")
            s0, s1 = s1, cell(s0, s1, train)
            reduction_prev = reduction
        y = s1.mean(axis=(1, 2))
        features = y.shape[-1]
        return nn.Dense(self.num_classes, kernel_init=_torch_kernel, bias_init=_torch_bias(features),
                        name="classifier")(y)
