"""The NAS-Bench-Macro network in Flax linen.

Written from the benchmark's description (Su et al., CVPR 2021, and the
structure of its public training code): a 3x3 stem (32 channels, BatchNorm,
ReLU), three stages of 2, 3 and 3 searchable layers whose first layer halves
the resolution and doubles the channels (32 -> 64 -> 128 -> 256; 32x32 input
-> 16 -> 8 -> 4), a 1x1 head convolution to 1280 channels (BatchNorm, ReLU),
global average pooling and a linear classifier.

Each searchable layer is one of:

* ``0`` identity: no layer at all where the shape is kept; in the first layer
  of a stage (stride 2, channels doubled) a 1x1 stride-2 convolution and a
  BatchNorm, the shortcut of a ResNet;
* ``1`` MobileNetV2 inverted residual, kernel 3, expansion 3;
* ``2`` MobileNetV2 inverted residual, kernel 5, expansion 6.

An inverted residual is a 1x1 expansion (to ``t * c_in`` channels), BatchNorm,
ReLU, a depthwise ``k x k`` convolution (stride 1 or 2, padding ``k // 2`` on
every side, as PyTorch pads), BatchNorm, ReLU, a 1x1 projection and BatchNorm,
with a residual sum when the shape is kept. Convolutions have no bias; the
classifier has one.

Layout is NHWC. Weights start as PyTorch's defaults (uniform in
``+-1/sqrt(fan_in)``, BatchNorm scale 1 and bias 0), so the initial network is
distributed as the benchmark's; the benchmark trained its own weights, which
are not published.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from ..depthwise import conv_or_depthwise
from ..torch_init import BN_EPS, BN_MOMENTUM, torch_bias, torch_kernel
from ..torch_init import numpy_init as _numpy_init

STAGES: tuple[int, ...] = (2, 3, 3)
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280

# (kernel, expansion) of the two inverted-residual choices; choice 0 is the identity.
BLOCKS: dict[int, tuple[int, int]] = {1: (3, 3), 2: (5, 6)}

# PyTorch's default init of conv and linear weights (spaces.torch_init).
_torch_kernel, _torch_bias = torch_kernel, torch_bias


def _conv(features: int, kernel: int, stride: int = 1, groups: int = 1, name: str | None = None) -> nn.Module:
    """A convolution without bias, PyTorch's padding, PyTorch's init; grouped: a :class:`DepthwiseConv`."""
    return conv_or_depthwise(features, kernel, stride, groups=groups, kernel_init=_torch_kernel, name=name)


def _bn(train: bool, name: str | None = None) -> nn.BatchNorm:
    return nn.BatchNorm(use_running_average=not train, momentum=BN_MOMENTUM, epsilon=BN_EPS, name=name)


def _head(y: jax.Array, train: bool, channels: int, num_classes: int) -> jax.Array:
    """The networks' shared head: 1x1 conv, BatchNorm, ReLU, global average pool, linear classifier.

    Called from a parent's compact ``__call__``, so its layers are the parent's ``head``,
    ``head_bn`` and ``classifier``.
    """
    head = nn.Conv(channels, (1, 1), use_bias=False, kernel_init=_torch_kernel, name="head")
    y = nn.relu(_bn(train, "head_bn")(head(y))).mean(axis=(1, 2))
    classifier = nn.Dense(num_classes, kernel_init=_torch_kernel, bias_init=_torch_bias(channels), name="classifier")
    return classifier(y)


class InvertedResidual(nn.Module):
    """MobileNetV2 block: 1x1 expand, depthwise k x k, 1x1 project (BatchNorm after each).

    Attributes:
      features: output channels.
      kernel: depthwise kernel size (3 or 5).
      expansion: hidden channels = expansion * input channels.
      stride: 1 or 2 (on the depthwise convolution).
    """

    features: int
    kernel: int
    expansion: int
    stride: int = 1

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = True) -> jax.Array:
        c_in = x.shape[-1]
        hidden = c_in * self.expansion
        y = nn.relu(_bn(train, "bn_expand")(_conv(hidden, 1, name="expand")(x)))
        y = nn.relu(_bn(train, "bn_depthwise")(_conv(hidden, self.kernel, self.stride, hidden, name="depthwise")(y)))
        y = _bn(train, "bn_project")(_conv(self.features, 1, name="project")(y))
        if self.stride == 1 and c_in == self.features:
            y = y + x
        return y


class Shortcut(nn.Module):
    """The identity choice where the shape changes: 1x1 convolution (stride 2) and BatchNorm.

    Attributes:
      features: output channels.
      stride: the convolution's stride.
    """

    features: int
    stride: int = 2

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = True) -> jax.Array:
        return _bn(train, "bn")(_conv(self.features, 1, self.stride, name="conv")(x))


class MacroNetwork(nn.Module):
    """One NAS-Bench-Macro network (a static architecture).

    Attributes:
      arch: 8 choices in 0..2 (see :mod:`zcjax.spaces.macro.arch`).
      num_classes: classifier outputs (10, CIFAR-10).
      stages: searchable layers per stage (2, 3, 3).
      stem_channels: channels of the stem (32).
      head_channels: channels of the head convolution (1280).
    """

    arch: tuple[int, ...]
    num_classes: int = 10
    stages: tuple[int, ...] = STAGES
    stem_channels: int = STEM_CHANNELS
    head_channels: int = HEAD_CHANNELS

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = True) -> jax.Array:
        """Logits of a batch.

        Args:
          x: images, (N, H, W, 3) NHWC (32 x 32 for CIFAR-10).
          train: BatchNorm with batch statistics (True) or running statistics.

        Returns:
          (N, num_classes) logits.
        """
        if len(self.arch) != sum(self.stages):
            raise ValueError(f"arch has {len(self.arch)} choices, the network {sum(self.stages)} layers")
        c = self.stem_channels
        y = nn.relu(_bn(train, "stem_bn")(_conv(c, 3, name="stem")(x)))
        layer = 0
        for stage in self.stages:
            for i in range(stage):
                choice = int(self.arch[layer])
                stride, out = (2, 2 * c) if i == 0 else (1, c)
                name = f"layer{layer}"
                if choice == 0:
                    if stride != 1 or out != c:
                        y = Shortcut(out, stride, name=name)(y, train)
                elif choice in BLOCKS:
                    kernel, expansion = BLOCKS[choice]
                    y = InvertedResidual(out, kernel, expansion, stride, name=name)(y, train)
                else:
                    raise ValueError(f"choice of layer {layer} must be 0, 1 or 2, got {choice}")
                c = out
                layer += 1
        return _head(y, train, self.head_channels, self.num_classes)


def numpy_init(shapes: Any, rng: np.random.Generator) -> dict[str, Any]:
    """Initial variables drawn with NumPy by the module's own laws (PyTorch's defaults), without tracing it.

    :func:`zcjax.spaces.torch_init.numpy_init` with every kernel and bias
    uniform in ``+-1/sqrt(fan_in)``; BatchNorm scale 1, shift 0, running mean
    0 and variance 1.
    """
    return _numpy_init(shapes, rng)


class MixedMacroNetwork(nn.Module):
    """Every architecture in one network: the architecture is an input (arch as data).

    Each searchable layer holds all of its candidates, named
    ``layer{i}_{choice}`` (``layer{i}_0`` only where the identity is a
    convolution), computes them all and selects one with ``jnp.where``: the
    unselected candidates get exactly zero gradients, and :func:`layer_mask`
    takes them out of the per-layer sums. One compiled program scores every
    architecture (the static :class:`MacroNetwork` compiles one per
    architecture), at the price of running every candidate. The selected
    path computes what the static network computes with the same weights
    (:func:`to_mixed_params` maps them). ``params`` and ``flops`` through
    ``score_model`` count every candidate's BatchNorm: take them from the
    static network.

    Attributes:
      num_classes: classifier outputs.
      stages, stem_channels, head_channels: as :class:`MacroNetwork`.
    """

    num_classes: int = 10
    stages: tuple[int, ...] = STAGES
    stem_channels: int = STEM_CHANNELS
    head_channels: int = HEAD_CHANNELS

    @nn.compact
    def __call__(self, x: jax.Array, choices: jax.Array, train: bool = True) -> jax.Array:
        """Logits of a batch for the architecture ``choices`` (int array (8,), traced or not)."""
        choices = jnp.asarray(choices)
        c = self.stem_channels
        y = nn.relu(_bn(train, "stem_bn")(_conv(c, 3, name="stem")(x)))
        layer = 0
        for stage in self.stages:
            for i in range(stage):
                stride, out = (2, 2 * c) if i == 0 else (1, c)
                if stride != 1 or out != c:
                    identity = Shortcut(out, stride, name=f"layer{layer}_0")(y, train)
                else:
                    identity = y
                candidates = [identity]
                for choice, (kernel, expansion) in sorted(BLOCKS.items()):
                    candidates.append(InvertedResidual(out, kernel, expansion, stride,
                                                       name=f"layer{layer}_{choice}")(y, train))
                picked = choices[layer]
                y = jnp.where(picked == 0, candidates[0], jnp.where(picked == 1, candidates[1], candidates[2]))
                c = out
                layer += 1
        return _head(y, train, self.head_channels, self.num_classes)


def layer_mask(params: Any, choices: Any) -> Any:
    """Which saliency layers of :class:`MixedMacroNetwork` the architecture uses (``ModelSpec.layer_mask``).

    Args:
      params: the mixed network's ``params``.
      choices: the architecture, int array (8,) (traced or not).

    Returns:
      ``{module: ... {'kernel': 0/1 float32 scalar}}`` for every module that owns a kernel.
    """
    choices = jnp.asarray(choices)

    def walk(tree: Any, top: str | None) -> Any:
        if "kernel" in tree:
            if top is not None and top.startswith("layer"):
                layer, choice = (int(v) for v in top[len("layer"):].split("_"))
                return {"kernel": (choices[layer] == choice).astype(jnp.float32)}
            return {"kernel": jnp.float32(1.0)}
        children = {k: walk(v, top if top is not None else k) for k, v in tree.items() if isinstance(v, Mapping)}
        return {k: v for k, v in children.items() if v}

    return {k: v for k, v in ((k, walk(v, k)) for k, v in params.items() if isinstance(v, Mapping)) if v}


def to_mixed_params(variables: Any, arch: Sequence[int], fill: Any) -> dict[str, Any]:
    """A static network's variables placed in the mixed network's tree.

    Args:
      variables: ``{'params': ..., 'batch_stats': ...}`` of ``MacroNetwork(arch)``.
      arch: its 8 choices.
      fill: the mixed network's variables (e.g. ``numpy_init`` of its shapes);
        the candidates ``arch`` does not select keep these values.

    Returns:
      The mixed network's variables, the selected candidates replaced by ``variables``'.
    """
    out = {}
    for collection, tree in fill.items():
        merged = dict(tree)
        for name, value in variables.get(collection, {}).items():
            if name.startswith("layer"):
                merged[f"{name}_{int(arch[int(name[len('layer'):])])}"] = value
            else:
                merged[name] = value
        out[collection] = merged
    return out
