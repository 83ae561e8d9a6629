"""The NAS-Bench-101 network in Flax linen.

Written from the benchmark's description (Ying et al., ICML 2019) and the
structure of its public model builder: a stem (3x3 convolution to 128
channels, BatchNorm, ReLU), 3 stacks of 3 cells, a 2x2 stride-2 max-pool
before the second and third stacks with the channels doubled there (128 ->
256 -> 512 on 32 -> 16 -> 8 pixels), global average pooling and a dense layer
to the classes.

A cell of n vertices (its pruned spec, vertex order kept) computes:

* the channels of every vertex (:func:`~zcjax.spaces.nb101.arch.vertex_channels`):
  the cell's output channels split among the interior vertices that feed the
  output, the others as wide as the widest vertex they feed;
* each interior vertex t: the sum of its interior inputs, each truncated to
  t's channels (their first channels), and, if the input feeds t, a 1x1
  projection of the cell's input (convolution, BatchNorm, ReLU) to t's
  channels; then its op: ``conv3x3-bn-relu`` / ``conv1x1-bn-relu``
  (convolution with 'same' padding, no bias, BatchNorm, ReLU) or
  ``maxpool3x3`` (3x3, stride 1, 'same' padding, padded values ignored);
* the output: the concatenation (in vertex order) of the interior vertices
  that feed it, plus a projection of the cell's input to the output channels
  when the input feeds the output; only that projection when no interior
  vertex feeds the output (a 2-vertex cell).

Layout is NHWC. BatchNorm: epsilon 1e-5, the benchmark's momentum 0.997. The
initial weights follow NASLib's network (the PyTorch port
``nasbench_pytorch``, the one NASLib scored) by default, ``weight_init='naslib'``:
convolution kernels normal with std ``sqrt(2 / (k * k * out_channels))``, the
dense kernel normal with std 0.01 and zero bias, BatchNorm scale 1 and bias
0. ``weight_init='torch'``: PyTorch's defaults (uniform in ``+-1/sqrt(fan_in)`` for
kernels and the dense bias).
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from ..torch_init import BN_EPS, kaiming_fan_out, torch_bias, torch_kernel
from ..torch_init import numpy_init as _numpy_init
from .arch import SHORT_OPS, vertex_channels

STEM_CHANNELS = 128
NUM_STACKS = 3
CELLS_PER_STACK = 3
BN_MOMENTUM = 0.997  # NAS-Bench-101's TensorFlow BatchNorm decay
INITS = ("naslib", "torch")

# NASLib's network (nasbench_pytorch): conv N(0, 2 / (k*k*out)) = He normal over fan_out; dense N(0, 0.01^2).
_naslib_conv = kaiming_fan_out
_naslib_dense = nn.initializers.normal(0.01)
# PyTorch's default: kaiming_uniform(a=sqrt(5)) = U(+-1/sqrt(fan_in)) (spaces.torch_init).
_torch_kernel, _torch_bias = torch_kernel, torch_bias


def _check_init(weight_init: str) -> str:
    if weight_init not in INITS:
        raise ValueError(f"unknown NAS-Bench-101 weight_init {weight_init!r}; valid: {', '.join(INITS)}")
    return weight_init


class ConvBnRelu(nn.Module):
    """Convolution ('same' padding, no bias), BatchNorm, ReLU.

    Attributes:
      features: output channels.
      kernel: kernel size (1 or 3).
      weight_init: 'naslib' or 'torch' (see the module docstring).
    """

    features: int
    kernel: int = 1
    weight_init: str = "naslib"

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = True) -> jax.Array:
        pad = self.kernel // 2
        kernel_init = _naslib_conv if _check_init(self.weight_init) == "naslib" else _torch_kernel
        y = nn.Conv(self.features, (self.kernel, self.kernel), padding=((pad, pad), (pad, pad)), use_bias=False,
                    kernel_init=kernel_init, name="conv")(x)
        y = nn.BatchNorm(use_running_average=not train, momentum=BN_MOMENTUM, epsilon=BN_EPS, name="bn")(y)
        return nn.relu(y)


def max_pool_3x3(x: jax.Array) -> jax.Array:
    """3x3 max-pool, stride 1, 'same' padding (the padding never wins)."""
    return nn.max_pool(x, (3, 3), strides=(1, 1), padding=((1, 1), (1, 1)))


class Cell(nn.Module):
    """One NAS-Bench-101 cell of a pruned spec.

    Attributes:
      matrix: the pruned n x n adjacency matrix (rows as tuples), vertex 0 the input, n - 1 the output.
      ops: the n - 2 interior op codes (0 conv3x3-bn-relu, 1 conv1x1-bn-relu, 2 maxpool3x3).
      features: the cell's output channels.
      weight_init: 'naslib' or 'torch'.

    Submodules: ``vertex{t}`` (a convolution's ConvBnRelu), ``input{t}`` (the
    projection of the cell's input to vertex t; t = n - 1 for the output).
    """

    matrix: tuple[tuple[int, ...], ...]
    ops: tuple[int, ...]
    features: int
    weight_init: str = "naslib"

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = True) -> jax.Array:
        m, n = self.matrix, len(self.matrix)
        channels = vertex_channels(x.shape[-1], self.features, m)
        tensors = [x]
        for t in range(1, n - 1):
            inputs = [tensors[s][..., :channels[t]] for s in range(1, t) if m[s][t]]
            if m[0][t]:
                inputs.append(ConvBnRelu(channels[t], 1, self.weight_init, name=f"input{t}")(x, train))
            y = inputs[0]
            for z in inputs[1:]:
                y = y + z
            op = SHORT_OPS[self.ops[t - 1]]
            if op == "maxpool3x3":
                y = max_pool_3x3(y)
            else:
                y = ConvBnRelu(channels[t], 3 if op == "conv3x3" else 1, self.weight_init, name=f"vertex{t}")(y, train)
            tensors.append(y)
        feeding = [tensors[t] for t in range(1, n - 1) if m[t][n - 1]]
        projection = (ConvBnRelu(self.features, 1, self.weight_init, name=f"input{n - 1}")(x, train)
                      if m[0][n - 1] else None)
        if not feeding:
            assert projection is not None, "a pruned cell's input reaches its output"
            return projection
        out = feeding[0] if len(feeding) == 1 else jnp.concatenate(feeding, axis=-1)
        return out if projection is None else out + projection


class NB101Network(nn.Module):
    """The NAS-Bench-101 network of one cell.

    Attributes:
      matrix: the cell's pruned adjacency matrix (rows as tuples), in the vertex order to build.
      ops: its interior op codes.
      num_classes: dense outputs (10, CIFAR-10).
      stem_channels: the stem's channels (128); the cells of stack s have ``stem_channels * 2**s``.
      num_stacks: stacks of cells (3), a 2x2 max-pool between two.
      cells_per_stack: cells per stack (3).
      weight_init: 'naslib' (default) or 'torch' (see the module docstring).
    """

    matrix: tuple[tuple[int, ...], ...]
    ops: tuple[int, ...]
    num_classes: int = 10
    stem_channels: int = STEM_CHANNELS
    num_stacks: int = NUM_STACKS
    cells_per_stack: int = CELLS_PER_STACK
    weight_init: str = "naslib"

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = True) -> jax.Array:
        """Logits of a batch.

        Args:
          x: images, (N, H, W, 3) NHWC.
          train: BatchNorm with batch statistics (True) or running statistics.

        Returns:
          (N, num_classes) logits.
        """
        init = _check_init(self.weight_init)
        y = ConvBnRelu(self.stem_channels, 3, init, name="stem")(x, train)
        c = self.stem_channels
        for s in range(self.num_stacks):
            if s > 0:
                y = nn.max_pool(y, (2, 2), strides=(2, 2))
                c *= 2
            for k in range(self.cells_per_stack):
                y = Cell(self.matrix, self.ops, c, init, name=f"stack{s}_cell{k}")(y, train)
        y = y.mean(axis=(1, 2))
        if init == "naslib":
            dense = nn.Dense(self.num_classes, kernel_init=_naslib_dense, bias_init=nn.initializers.zeros,
                             name="classifier")
        else:
            dense = nn.Dense(self.num_classes, kernel_init=_torch_kernel, bias_init=_torch_bias(c), name="classifier")
        return dense(y)


def build(spec: Any, num_classes: int = 10, **options: Any) -> NB101Network:
    """The network of a pruned spec ``(matrix rows, interior ops)``; options are NB101Network fields."""
    matrix, ops = spec
    return NB101Network(tuple(tuple(int(b) for b in r) for r in matrix), tuple(int(o) for o in ops),
                        num_classes=num_classes, **options)


def numpy_init(shapes: Any, rng: Any, weight_init: str = "naslib") -> dict[str, Any]:
    """Initial variables drawn with NumPy by the laws of ``weight_init``, without tracing the network.

    :func:`zcjax.spaces.torch_init.numpy_init` with 'naslib': convolution
    kernels normal with std ``sqrt(2 / (k*k*out))``, the dense kernel normal
    with std 0.01, its bias 0; 'torch': kernels (and the dense bias) uniform
    in ``+-1/sqrt(fan_in)``. BatchNorm scale 1, bias 0, running mean 0 and
    variance 1.

    Args:
      shapes: the variables' structs (``SpaceNetwork.shapes()``).
      rng: a ``np.random.Generator``.
      weight_init: 'naslib' or 'torch'.
    """
    if _check_init(weight_init) == "naslib":
        return _numpy_init(shapes, rng, conv="kaiming_fan_out", dense="normal_0.01")
    return _numpy_init(shapes, rng)
