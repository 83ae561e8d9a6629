"""Standard CIFAR networks with published accuracies, to score "in the wild".

The CIFAR-10 ResNets of He et al., *Deep Residual Learning for Image
Recognition* (CVPR 2016), Section 4.2: a 3x3 conv to 16 channels, three stages
of ``n`` basic blocks (two 3x3 convs, BatchNorm, ReLU) at 16, 32 and 64
channels, the first block of stages 2 and 3 taking stride 2, global average
pooling and a 10-way dense layer; depth ``6 n + 2``. Shortcuts are option A,
the paper's choice on CIFAR: identity, and where the shape changes a stride-2
subsampling padded with zero channels (no parameters), so ResNet-20/32/44/56/110
have the paper's 0.27M / 0.46M / 0.66M / 0.85M / 1.7M parameters.

:data:`RESNET_CIFAR10_TEST_ERROR` holds the test errors the paper reports
(Table 6; ResNet-110 is the best of 5 runs, 6.61 +- 0.16 on average).

Example::

    import zcjax
    from zcjax.zoo import CifarResNet
    model = CifarResNet(depth=20)
    variables = model.init(jax.random.key(0), x[:1])     # x: (N, 32, 32, 3)
    scores = zcjax.score_model(model, variables, (x, y))
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

__all__ = ["CifarResNet", "RESNET_CIFAR10_TEST_ERROR", "RESNET_PARAMS_M"]

# Depth -> CIFAR-10 test error (%) and parameters (millions), He et al. 2016, Table 6.
RESNET_CIFAR10_TEST_ERROR = {20: 8.75, 32: 7.51, 44: 7.17, 56: 6.97, 110: 6.43, 1202: 7.93}
RESNET_PARAMS_M = {20: 0.27, 32: 0.46, 44: 0.66, 56: 0.85, 110: 1.7, 1202: 19.4}

# He et al. 2015 ("Delving deep into rectifiers"): normal, variance 2 / fan_in.
_KAIMING = nn.initializers.variance_scaling(2.0, "fan_in", "normal")


def _batchnorm(train: bool) -> nn.BatchNorm:
    """PyTorch's BatchNorm2d defaults (momentum 0.1 of the new statistics, eps 1e-5)."""
    return nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5)


class _BasicBlock(nn.Module):
    channels: int
    stride: int = 1

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = True) -> jax.Array:
        y = nn.Conv(self.channels, (3, 3), self.stride, padding=1, use_bias=False, kernel_init=_KAIMING)(x)
        y = nn.relu(_batchnorm(train)(y))
        y = nn.Conv(self.channels, (3, 3), padding=1, use_bias=False, kernel_init=_KAIMING)(y)
        y = _batchnorm(train)(y)
        shortcut = x
        if self.stride != 1 or x.shape[-1] != self.channels:  # option A: subsample, pad with zero channels
            shortcut = x[:, ::self.stride, ::self.stride, :]
            extra = self.channels - x.shape[-1]
            shortcut = jnp.pad(shortcut, ((0, 0), (0, 0), (0, 0), (extra // 2, extra - extra // 2)))
        return nn.relu(y + shortcut)


class CifarResNet(nn.Module):
    """He et al.'s CIFAR ResNet of ``depth = 6 n + 2`` layers (20, 32, 44, 56, 110, 1202).

    Attributes:
      depth: 6 n + 2 for n >= 1.
      num_classes: outputs of the last layer (10 for CIFAR-10).
      width: channels of the first stage (16 in the paper); stages double it.

    Called as ``model.apply(variables, x, train=True, mutable=['batch_stats'])``
    with x (N, H, W, 3) NHWC; returns (N, num_classes) logits.
    """

    depth: int = 20
    num_classes: int = 10
    width: int = 16

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = True) -> jax.Array:
        if self.depth < 8 or (self.depth - 2) % 6:
            raise ValueError(f"a CIFAR ResNet's depth is 6 n + 2 (20, 32, 44, 56, 110, ...), got {self.depth}")
        blocks = (self.depth - 2) // 6
        y = nn.Conv(self.width, (3, 3), padding=1, use_bias=False, kernel_init=_KAIMING)(x)
        y = nn.relu(_batchnorm(train)(y))
        for stage in range(3):
            for b in range(blocks):
                stride = 2 if stage > 0 and b == 0 else 1
                y = _BasicBlock(self.width * 2 ** stage, stride, name=f"stage{stage + 1}_block{b}")(y, train)
        return nn.Dense(self.num_classes)(y.mean(axis=(1, 2)))
