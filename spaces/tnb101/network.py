"""The TransNAS-Bench-101 networks in Flax linen (NHWC).

Written from the benchmark's description (Duan et al., CVPR 2021) and the
structure of its public ``MacroNet`` (as NASLib ships it). One encoder serves
both spaces:

* **stem**: 3x3 conv to ``C/2`` channels, stride 2, BatchNorm; then
  ReLU-conv3x3-BN to ``C`` channels, stride 2 (``C`` = 64: 256x256 -> 64x64);
* **layers**, one per digit of the macro code, each two blocks: the first
  block takes the layer's stride (2 for codes 3 and 4) and output channels
  (doubled for codes 2 and 4), the second keeps them;
* the block is a **micro cell** (micro space) or a **ResNet basic block**
  (macro space).

A micro cell has 4 nodes; node ``j`` sums the ops of its edges from every
earlier node (:data:`~zcjax.spaces.tnb101.arch.EDGES`); the cell's output is
node 3. The ops: ``0`` zero (no layer), ``1`` skip (identity, or
FactorizedReduce where the shape changes: ReLU, two 1x1 stride-2 convs of half
the channels each, the second on the input shifted by one pixel, concatenated,
BatchNorm), ``2`` ReLU-conv1x1-BN, ``3`` ReLU-conv3x3-BN. Edges from node 0
take the block's stride and input channels; the others keep the block's output
shape.

A basic block is ReLU-conv3x3-BN (the block's stride) then ReLU-conv3x3-BN,
plus the input, through a 1x1 conv (stride) and BatchNorm where the shape
changes. There is no ReLU after the sum.

Heads: global average pooling and a linear layer: class_object 100 outputs,
class_scene 63, room_layout 9 (a regression), all on 256x256 images. jigsaw
runs the encoder on each of 9 tiles (64x64) of an input ``(N, 9, 64, 64, 3)``
and classifies the concatenated pooled features (9 x C) into 1,000
permutations. PyTorch loops over the tiles, so each BatchNorm normalises each
tile position with its own batch statistics; here the tiles go through the
encoder as one batch (one trace, one compiled encoder) and
:class:`TileBatchNorm` keeps the statistics per tile.

Convolutions have no bias; weights start as the benchmark's (Kaiming normal,
fan-out, for convolutions; BatchNorm scale 1 and bias 0; PyTorch's default
uniform for the linear head). The benchmark's trained weights are not used.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from ..torch_init import BN_EPS, BN_MOMENTUM, kaiming_fan_out, torch_bias, torch_kernel
from ..torch_init import numpy_init as _numpy_init

JIGSAW_TILES = 9

# MacroNet's _kaiming_init: kaiming_normal_(mode='fan_out', nonlinearity='relu'); the head: PyTorch's default
# nn.Linear init, U(+-1/sqrt(fan_in)) for weight and bias (spaces.torch_init).
_kaiming_fan_out, _torch_linear, _torch_bias = kaiming_fan_out, torch_kernel, torch_bias


def _conv(features: int, kernel: int, stride: int = 1, name: str | None = None) -> nn.Conv:
    pad = kernel // 2
    return nn.Conv(features, (kernel, kernel), strides=(stride, stride), padding=((pad, pad), (pad, pad)),
                   use_bias=False, kernel_init=_kaiming_fan_out, name=name)


class TileBatchNorm(nn.BatchNorm):
    """BatchNorm over a batch of ``tiles`` groups stacked on the batch axis, each group with its own statistics.

    jigsaw's encoder runs on the 9 tiles of N inputs as one batch of 9 N
    (tile-major); PyTorch runs it once per tile, so each BatchNorm
    normalises each tile position with the statistics of that tile's N
    images. This does the same in one call. Its variables are
    ``nn.BatchNorm``'s (``scale``, ``bias``; ``mean``, ``var``), and it is an
    ``nn.BatchNorm``, so synflow's BatchNorm rule and ``batchnorm_types``
    treat it as one. In training mode the running statistics move towards
    the mean over the tiles of their batch statistics (PyTorch updates them
    once per tile; zcjax discards the updates).

    Attributes:
      tiles: the number of groups on the batch axis.
    """

    tiles: int = 1

    @nn.compact
    def __call__(self, x: jax.Array, use_running_average: bool | None = None, *, mask: jax.Array | None = None):
        del mask
        use_running_average = nn.merge_param("use_running_average", self.use_running_average, use_running_average)
        c = x.shape[-1]
        ra_mean = self.variable("batch_stats", "mean", lambda s: jnp.zeros(s, jnp.float32), (c,))
        ra_var = self.variable("batch_stats", "var", lambda s: jnp.ones(s, jnp.float32), (c,))
        scale = self.param("scale", self.scale_init, (c,), self.param_dtype)
        bias = self.param("bias", self.bias_init, (c,), self.param_dtype)
        if x.shape[0] % self.tiles:
            raise ValueError(f"a batch of {x.shape[0]} is not {self.tiles} equal tile groups")
        groups = x.reshape(self.tiles, x.shape[0] // self.tiles, *x.shape[1:])
        reduce = tuple(range(1, groups.ndim - 1))
        if use_running_average:
            mean, var = ra_mean.value.astype(x.dtype), ra_var.value.astype(x.dtype)
        else:
            mean = groups.mean(axis=reduce, keepdims=True)
            var = jnp.square(groups - mean).mean(axis=reduce, keepdims=True)
            if not self.is_initializing():
                m = self.momentum
                batch_mean = mean.mean(axis=0).reshape(c).astype(ra_mean.value.dtype)
                batch_var = var.mean(axis=0).reshape(c).astype(ra_var.value.dtype)
                ra_mean.value = m * ra_mean.value + (1 - m) * batch_mean
                ra_var.value = m * ra_var.value + (1 - m) * batch_var
        y = (groups - mean) * jax.lax.rsqrt(var + jnp.asarray(self.epsilon, x.dtype))
        y = y * scale.astype(x.dtype) + bias.astype(x.dtype)
        return y.reshape(x.shape)


def _bn(train: bool, name: str | None = None, tiles: int = 1) -> nn.BatchNorm:
    if tiles > 1:
        return TileBatchNorm(use_running_average=not train, momentum=BN_MOMENTUM, epsilon=BN_EPS, tiles=tiles,
                             name=name)
    return nn.BatchNorm(use_running_average=not train, momentum=BN_MOMENTUM, epsilon=BN_EPS, name=name)


class ReLUConvBN(nn.Module):
    """ReLU, ``kernel x kernel`` convolution (padding ``kernel // 2``), BatchNorm.

    Attributes:
      features: output channels.
      kernel: 1 or 3.
      stride: 1 or 2.
    """

    features: int
    kernel: int
    stride: int = 1
    tiles: int = 1

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = True) -> jax.Array:
        return _bn(train, "bn", self.tiles)(_conv(self.features, self.kernel, self.stride, "conv")(nn.relu(x)))


class FactorizedReduce(nn.Module):
    """The skip op where the shape changes: ReLU, two 1x1 convs (the second shifted one pixel), concat, BatchNorm.

    Attributes:
      features: output channels (even).
      stride: the convolutions' stride.
    """

    features: int
    stride: int = 2
    tiles: int = 1

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = True) -> jax.Array:
        x = nn.relu(x)
        half = self.features // 2
        a = _conv(half, 1, self.stride, "conv_0")(x)
        shifted = jnp.pad(x, ((0, 0), (0, 1), (0, 1), (0, 0)))[:, 1:, 1:, :]
        b = _conv(self.features - half, 1, self.stride, "conv_1")(shifted)
        return _bn(train, "bn", self.tiles)(jnp.concatenate([a, b], axis=-1))


def _out_size(size: int, stride: int) -> int:
    return (size + stride - 1) // stride


class MicroCell(nn.Module):
    """A 4-node micro cell.

    Attributes:
      ops: the 6 op indices (0 zero, 1 skip, 2 conv1x1, 3 conv3x3), edges
        0->1, 0->2, 1->2, 0->3, 1->3, 2->3.
      features: output channels.
      stride: the stride of the edges from the input node.
    """

    ops: tuple[int, ...]
    features: int
    stride: int = 1
    tiles: int = 1

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = True) -> jax.Array:
        if len(self.ops) != 6 or any(not 0 <= int(o) <= 3 for o in self.ops):
            raise ValueError(f"a micro cell is 6 ops in 0..3, got {self.ops!r}")
        n, h, w, c_in = x.shape
        out_shape = (n, _out_size(h, self.stride), _out_size(w, self.stride), self.features)
        nodes = [x]
        edge = 0
        for node in range(1, 4):
            total = None
            for source in range(node):
                op, name = int(self.ops[edge]), f"edge{edge}"
                stride = self.stride if source == 0 else 1
                c = c_in if source == 0 else self.features
                y = nodes[source]
                if op == 0:
                    y = None
                elif op == 1:
                    if stride != 1 or c != self.features:
                        y = FactorizedReduce(self.features, stride, self.tiles, name=name)(y, train)
                else:
                    y = ReLUConvBN(self.features, 1 if op == 2 else 3, stride, self.tiles, name=name)(y, train)
                if y is not None:
                    total = y if total is None else total + y
                edge += 1
            nodes.append(jnp.zeros(out_shape, x.dtype) if total is None else total)
        return nodes[3]


class BasicBlock(nn.Module):
    """ResNet basic block: ReLU-conv3x3-BN twice, plus the (projected) input.

    Attributes:
      features: output channels.
      stride: the first convolution's (and the projection's) stride.
    """

    features: int
    stride: int = 1
    tiles: int = 1

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = True) -> jax.Array:
        y = ReLUConvBN(self.features, 3, self.stride, self.tiles, name="conv_a")(x, train)
        y = ReLUConvBN(self.features, 3, 1, self.tiles, name="conv_b")(y, train)
        if self.stride != 1 or x.shape[-1] != self.features:
            x = _bn(train, "downsample_bn", self.tiles)(_conv(self.features, 1, self.stride, "downsample")(x))
        return x + y


class Encoder(nn.Module):
    """The shared encoder: stem and one two-block layer per macro-code digit.

    Attributes:
      macro_code: the layer codes (1 normal, 2 channels x2, 3 stride 2, 4 both).
      cell: the micro cell's 6 ops, or None for ResNet basic blocks.
      base_channels: ``C``, the stem's output channels (64).
      blocks_per_layer: 2 (the benchmark's; 1 for quick tests).
      tiles: the tile groups stacked on the batch axis (:class:`TileBatchNorm`); 1 for plain images.
    """

    macro_code: tuple[int, ...]
    cell: tuple[int, ...] | None = None
    base_channels: int = 64
    blocks_per_layer: int = 2
    tiles: int = 1

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = True) -> jax.Array:
        c = self.base_channels
        t = self.tiles
        y = _bn(train, "stem_bn", t)(_conv(c // 2, 3, 2, "stem_conv")(x))
        y = ReLUConvBN(c, 3, 2, t, name="stem_relu_conv_bn")(y, train)
        for i, code in enumerate(self.macro_code):
            code = int(code)
            if code not in (1, 2, 3, 4):
                raise ValueError(f"layer codes are 1 to 4, got {code} in layer {i}")
            out = 2 * c if code % 2 == 0 else c
            for j in range(self.blocks_per_layer):
                stride = 2 if code > 2 and j == 0 else 1
                name = f"layer{i}_{j}"
                if self.cell is None:
                    y = BasicBlock(out, stride, t, name=name)(y, train)
                else:
                    y = MicroCell(tuple(self.cell), out, stride, t, name=name)(y, train)
            c = out
        return y


class TNB101Network(nn.Module):
    """One TransNAS-Bench-101 network: the encoder and a pooled linear head.

    Attributes:
      macro_code: the layer codes (the micro space's: (4, 1, 4, 1, 4)).
      cell: the micro cell's 6 ops, or None (macro space: basic blocks).
      num_classes: the head's outputs (100, 63, 1000 or 9).
      tiles: 0 for one image per input; jigsaw's 9: the input is
        (N, tiles, H, W, 3), the tiles run through the encoder as one batch
        of ``tiles * N`` (tile-major) with per-tile BatchNorm statistics
        (:class:`TileBatchNorm`), and the head takes the concatenated pooled
        features, tile 0's channels first.
      base_channels: ``C`` (64).
      blocks_per_layer: blocks per layer (2, the benchmark's).
    """

    macro_code: tuple[int, ...]
    cell: tuple[int, ...] | None = None
    num_classes: int = 100
    tiles: int = 0
    base_channels: int = 64
    blocks_per_layer: int = 2

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = True) -> jax.Array:
        """Logits (or regression outputs) of a batch.

        Args:
          x: (N, H, W, 3) images, or (N, tiles, H, W, 3) jigsaw tiles.
          train: BatchNorm with batch statistics (True) or running statistics.

        Returns:
          (N, num_classes).
        """
        encoder = Encoder(tuple(self.macro_code), None if self.cell is None else tuple(self.cell),
                          self.base_channels, self.blocks_per_layer, max(self.tiles, 1), name="encoder")
        if self.tiles:
            if x.ndim != 5 or x.shape[1] != self.tiles:
                raise ValueError(f"jigsaw inputs are (N, {self.tiles}, H, W, 3), got {x.shape}")
            n = x.shape[0]
            stacked = jnp.swapaxes(x, 0, 1).reshape(self.tiles * n, *x.shape[2:])
            pooled = encoder(stacked, train).mean(axis=(1, 2))
            features = jnp.swapaxes(pooled.reshape(self.tiles, n, -1), 0, 1).reshape(n, -1)
        else:
            features = encoder(x, train).mean(axis=(1, 2))
        fan_in = features.shape[-1]
        head = nn.Dense(self.num_classes, kernel_init=_torch_linear, bias_init=_torch_bias(fan_in), name="head")
        return head(features)


def mse_loss(outputs: jax.Array, targets: jax.Array) -> jax.Array:
    """Mean squared error (PyTorch's ``nn.MSELoss``), room_layout's loss."""
    return jnp.mean(jnp.square(outputs - targets.astype(outputs.dtype)))


def numpy_init(shapes: Any, rng: np.random.Generator) -> dict[str, Any]:
    """Initial variables drawn with NumPy by the benchmark's laws, without tracing the network.

    :func:`zcjax.spaces.torch_init.numpy_init` with convolution kernels
    normal with variance ``2 / (k * k * c_out)`` (Kaiming, fan-out) and the
    head's kernel and bias uniform in ``+-1/sqrt(fan_in)``.
    """
    return _numpy_init(shapes, rng, conv="kaiming_fan_out")
