"""AZ-NAS's three network scores (Lee & Ham, CVPR 2024): expressivity, progressivity, trainability.

The features are the outputs of the stem and of every block after it (the
cells and reduction blocks of NAS-Bench-201: 18 in all), for one batch of
Gaussian images.

* The expressivity of a feature map (N, H, W, C): the entropy of the
  normalised eigenvalues of its channel covariance over the N*H*W positions,
  ``sum(-p * log(p + 1e-8))``, p = eigenvalues / their sum. The network's is
  the sum over features; its *progressivity* the smallest increase of that
  entropy from one feature to the next.
* Trainability: for every block, a Rademacher cotangent g_out on its output
  is pulled back through the block alone to its input, g_in. With g_in
  folded to the output's resolution (space-to-depth), M = g_in^T g_out /
  (N*H*W) and sigma = its largest singular value; the block scores
  ``2 - sigma - 1 / (sigma + 1e-6)`` (best at sigma = 1), and -inf when the
  block is the identity (g_in == g_out). The network's is the mean.

The paper's final score is a population-relative aggregation (the sum of
log-ranks of the three and of FLOPs): ``zcjax.ensemble`` (``az_nas``).
All are pure and jit-/vmap-able.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp

from ._linalg import eigvalsh, svdvals

ENTROPY_OFFSET = 1e-8
SIGMA_OFFSET = 1e-6


def feature_entropy(feature: jax.Array) -> jax.Array:
    """The entropy of the normalised eigenvalues of the channel covariance of a (N, H, W, C) feature map."""
    x = feature.reshape(-1, feature.shape[-1])
    x = x - x.mean(axis=0, keepdims=True)
    cov = jnp.dot(x.T, x, precision=jax.lax.Precision.HIGHEST) / x.shape[0]
    s = eigvalsh(cov)
    p = s / s.sum()
    return jnp.sum(-p * jnp.log(p + ENTROPY_OFFSET))


def expressivity_progressivity(features: Sequence[jax.Array]) -> tuple[jax.Array, jax.Array]:
    """(sum of the features' entropies, smallest increase from one feature to the next)."""
    entropies = jnp.stack([feature_entropy(f) for f in features])
    return entropies.sum(), jnp.min(entropies[1:] - entropies[:-1])


def space_to_depth(x: jax.Array, factor: int) -> jax.Array:
    """(N, H, W, C) -> (N, H / f, W / f, C * f^2) (the channel order does not matter to singular values)."""
    n, h, w, c = x.shape
    x = x.reshape(n, h // factor, factor, w // factor, factor, c)
    return x.transpose(0, 1, 3, 5, 2, 4).reshape(n, h // factor, w // factor, c * factor * factor)


def block_trainability(g_in: jax.Array, g_out: jax.Array) -> jax.Array:
    """``2 - sigma - 1 / (sigma + 1e-6)`` for one block, or -inf when the block is the identity."""
    same = jnp.all(g_in == g_out) if g_in.shape == g_out.shape else jnp.asarray(False)
    if g_in.shape[1] != g_out.shape[1]:
        g_in = space_to_depth(g_in, g_in.shape[1] // g_out.shape[1])
    n, h, w, _ = g_out.shape
    m = jnp.dot(g_in.reshape(n * h * w, -1).T, g_out.reshape(n * h * w, -1),
                precision=jax.lax.Precision.HIGHEST) / (n * h * w)
    sigma = svdvals(m)[0]
    return jnp.where(same, -jnp.inf, 2.0 - sigma - 1.0 / (sigma + SIGMA_OFFSET))


def trainability(g_ins: Sequence[jax.Array], g_outs: Sequence[jax.Array]) -> jax.Array:
    """The mean of :func:`block_trainability` over the blocks."""
    return jnp.mean(jnp.stack([block_trainability(a, b) for a, b in zip(g_ins, g_outs)]))


def rademacher_cotangents(key: jax.Array, shapes: Sequence[tuple[int, ...]], dtype: Any = jnp.float32) -> list[jax.Array]:
    """One +-1 array per shape, from ``key`` (the same draws whatever the dtype)."""
    keys = jax.random.split(key, len(shapes))
    return [jax.random.rademacher(k, s, jnp.float32).astype(dtype) for k, s in zip(keys, shapes)]
