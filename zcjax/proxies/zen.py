"""Zen-NAS (Lin et al., ICCV 2021): expressivity from a Gaussian input and its small perturbation.

For Gaussian images x1, x2 and mix = x1 + 0.01 x2, with f the features
before global pooling:

    zen = log(mean over images of sum |f(x1) - f(mix)|)
          + sum over BatchNorms of log(sqrt(mean over channels of running_var))

where ``running_var`` is what a PyTorch BatchNorm (momentum 0.1, starting at
1, training mode) holds after the two forwards: ``0.81 + 0.09 var(input | x1)
+ 0.1 var(input | mix)``, with the unbiased variance of each channel. Pure,
jit- and vmap-able.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import jax
import jax.numpy as jnp

from .activation import Tap

MIXUP_GAMMA = 1e-2
BN_MOMENTUM = 0.1


def unbiased_channel_variance(x: jax.Array) -> jax.Array:
    """The unbiased variance of each channel (last axis) over every other axis."""
    flat = x.reshape(-1, x.shape[-1])
    return jnp.var(flat, axis=0, ddof=1)


def expressivity_term(features: jax.Array, mixed_features: jax.Array) -> jax.Array:
    """``log(mean over images of sum |f(x1) - f(mix)|)`` from the (N, H, W, C) features of the two forwards."""
    return jnp.log(jnp.sum(jnp.abs(features - mixed_features)) / features.shape[0])


def bn_log_scales(bn_inputs: Sequence[Tap], mixed_bn_inputs: Sequence[Tap]) -> Iterator[jax.Array]:
    """Each BatchNorm's ``log(sqrt(mean running_var))`` after the two forwards (0 for one not in the cell)."""
    m = BN_MOMENTUM
    for (a, w), (b, _) in zip(bn_inputs, mixed_bn_inputs):
        running = (1 - m) ** 2 + (1 - m) * m * unbiased_channel_variance(a) + m * unbiased_channel_variance(b)
        yield jnp.where(w > 0, w.astype(running.dtype) * jnp.log(jnp.sqrt(jnp.mean(running))), 0.0)


def zen_score(features: jax.Array, mixed_features: jax.Array, bn_inputs: Sequence[Tap],
              mixed_bn_inputs: Sequence[Tap]) -> jax.Array:
    """Zen-NAS's score from the two forwards' pre-pooling features and BatchNorm inputs (taps, same order).

    Args:
      features: (N, H, W, C) f(x1).
      mixed_features: f(x1 + 0.01 x2).
      bn_inputs: ``(input, weight)`` of every BatchNorm in the x1 forward (weight 0: not in the cell).
      mixed_bn_inputs: the same in the mix forward.

    Returns:
      A scalar (-inf when the features do not depend on the input).
    """
    total = expressivity_term(features, mixed_features)
    for scale in bn_log_scales(bn_inputs, mixed_bn_inputs):
        total = total + scale
    return total
