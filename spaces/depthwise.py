"""A depthwise convolution layer whose gradients are fast on XLA:CPU.

A depthwise convolution (``nn.Conv`` with ``feature_group_count`` equal to the
input channels, one ``k x k`` filter per channel) lowers to a grouped
convolution. XLA:CPU runs grouped convolutions, and above all their gradients,
through a slow generic path; the same sum written as ``k * k`` strided slices
of the padded input, each scaled by its tap's per-channel weights, is plain
elementwise work that XLA fuses, forward and backward (bench/NOTES.md, session
18, has the measurements). :class:`DepthwiseConv` is a drop-in for that
``nn.Conv``: the same parameter (``kernel``, shape ``(kh, kw, 1, channels)``),
initialiser call, padding, strides and dilation, and the same values up to
floating-point rounding (the taps are summed in another order). On other
backends it runs the grouped convolution, which their libraries implement well.

The MobileNet blocks of NAS-Bench-Macro and the separable and dilated
convolutions of NAS-Bench-301 use it; a user's own model may too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

__all__ = ["DepthwiseConv", "conv_or_depthwise", "depthwise_conv", "METHODS"]

METHODS = ("auto", "shifts", "conv")


def depthwise_conv(x: jax.Array, kernel: jax.Array, strides: Sequence[int] = (1, 1),
                   padding: Sequence[tuple[int, int]] = ((0, 0), (0, 0)), dilation: Sequence[int] = (1, 1),
                   method: str = "auto") -> jax.Array:
    """A depthwise convolution of NHWC images.

    Args:
      x: (N, H, W, C) images.
      kernel: (kh, kw, 1, C) filters, one per channel (``nn.Conv``'s layout
        with ``feature_group_count=C``).
      strides: (sh, sw).
      padding: ((top, bottom), (left, right)) zeros.
      dilation: the kernel's (dh, dw) dilation.
      method: ``'shifts'`` (a sum of strided slices, each scaled by one tap),
        ``'conv'`` (``lax.conv_general_dilated`` with ``feature_group_count=C``)
        or ``'auto'``: shifts on the CPU backend for a traced ``x`` (under
        jit, grad or vmap), the convolution for concrete arrays and elsewhere.

    Returns:
      (N, H', W', C), as ``lax.conv_general_dilated`` computes it up to rounding.

    Raises:
      ValueError: a method not in :data:`METHODS`, or shapes that do not fit.
    """
    if method not in METHODS:
        raise ValueError(f"depthwise_conv method must be one of {', '.join(METHODS)}, got {method!r}")
    if x.ndim != 4 or kernel.ndim != 4 or kernel.shape[2] != 1 or kernel.shape[3] != x.shape[3]:
        raise ValueError(f"depthwise_conv needs (N, H, W, C) images and (kh, kw, 1, C) filters, got "
                         f"{tuple(x.shape)} and {tuple(kernel.shape)}")
    (sh, sw), (dh, dw) = tuple(strides), tuple(dilation)
    if method == "auto":
        method = _auto_method(x)
    if method == "conv":
        return jax.lax.conv_general_dilated(x, kernel, (sh, sw), tuple(map(tuple, padding)), rhs_dilation=(dh, dw),
                                            dimension_numbers=("NHWC", "HWIO", "NHWC"),
                                            feature_group_count=x.shape[3])
    kh, kw = kernel.shape[:2]
    (top, bottom), (left, right) = padding
    padded = jnp.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
    rows = (padded.shape[1] - dh * (kh - 1) - 1) // sh + 1
    cols = (padded.shape[2] - dw * (kw - 1) - 1) // sw + 1
    if rows < 1 or cols < 1:
        raise ValueError(f"depthwise_conv: a {kh}x{kw} kernel (dilation {dh}x{dw}) does not fit "
                         f"the padded {padded.shape[1]}x{padded.shape[2]} images")
    out = None
    for i in range(kh):
        for j in range(kw):
            start = (0, i * dh, j * dw, 0)
            limit = (padded.shape[0], i * dh + (rows - 1) * sh + 1, j * dw + (cols - 1) * sw + 1, padded.shape[3])
            tap = jax.lax.slice(padded, start, limit, (1, sh, sw, 1)) * kernel[i, j, 0]
            out = tap if out is None else out + tap
    return out


def _auto_method(x: jax.Array) -> str:
    """What ``method='auto'`` runs for ``x``: shifts on the CPU backend when ``x`` is traced (jit, grad, vmap:
    where XLA fuses the slices and the grouped convolution's gradients are slow); the grouped convolution for
    plain op-by-op evaluation (``module.init``: one op, not k*k of them to dispatch) and on other backends."""
    return "shifts" if jax.default_backend() == "cpu" and isinstance(x, jax.core.Tracer) else "conv"


class DepthwiseConv(nn.Module):
    """``nn.Conv(C, kernel_size, feature_group_count=C, use_bias=False)`` for C input channels, fast on CPU.

    A drop-in where that layer is used as the spaces use it: (N, H, W, C)
    inputs, C output channels (no channel multiplier), explicit padding pairs
    (no ``'SAME'``), tuple kernel size and strides. ``'auto'`` reads
    ``jax.default_backend()``, not a ``jax.default_device`` override.

    Attributes:
      kernel_size: (kh, kw).
      strides: (sh, sw).
      padding: ((top, bottom), (left, right)), explicit zeros as PyTorch pads.
      kernel_dilation: (dh, dw).
      kernel_init: the kernel's initialiser, called as ``nn.Conv`` calls it
        (``init(key, (kh, kw, 1, C), param_dtype)``).
      param_dtype: the kernel's dtype.
      method: see :func:`depthwise_conv` (``'auto'``: shifts on CPU when traced).
    """

    kernel_size: tuple[int, int]
    strides: tuple[int, int] = (1, 1)
    padding: tuple[tuple[int, int], tuple[int, int]] = ((0, 0), (0, 0))
    kernel_dilation: tuple[int, int] = (1, 1)
    kernel_init: Callable[..., Any] = nn.initializers.lecun_normal()
    param_dtype: Any = jnp.float32
    method: str = "auto"

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        """The depthwise convolution of (N, H, W, C) images."""
        kernel = self.param("kernel", self.kernel_init, (*self.kernel_size, 1, x.shape[-1]), self.param_dtype)
        x, kernel = nn.dtypes.promote_dtype(x, kernel)
        return depthwise_conv(x, kernel, self.strides, self.padding, self.kernel_dilation, self.method)


def conv_or_depthwise(features: int, kernel: int, stride: int = 1, dilation: int = 1, groups: int = 1, *,
                      kernel_init: Callable[..., Any], name: str | None = None) -> nn.Module:
    """A bias-free ``kernel x kernel`` convolution padded as PyTorch pads it (``dilation * (kernel - 1) // 2``
    on every side): ``nn.Conv``, or a :class:`DepthwiseConv` when grouped (``groups`` must then be ``features``).

    Raises:
      ValueError: a grouped convolution that is not depthwise.
    """
    pad = dilation * (kernel - 1) // 2
    padding = ((pad, pad), (pad, pad))
    if groups > 1:
        if groups != features:
            raise ValueError(f"grouped convolutions are depthwise here: groups {groups} != features {features}")
        return DepthwiseConv((kernel, kernel), (stride, stride), padding, (dilation, dilation),
                             kernel_init=kernel_init, name=name)
    return nn.Conv(features, (kernel, kernel), strides=(stride, stride), padding=padding,
                   kernel_dilation=(dilation, dilation), use_bias=False, kernel_init=kernel_init, name=name)
