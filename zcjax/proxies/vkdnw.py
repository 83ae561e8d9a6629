"""VKDNW (CVPR 2025): the entropy of the spectrum of a network's Fisher information at initialisation.

For a batch of N images and P chosen parameters (the first element of each of
the network's first 128 parameter tensors, in PyTorch's registration order),
J_n is the (C, P) Jacobian of image n's logits. The model-predictive Fisher is

    F = mean_n (L_n J_n)^T (L_n J_n),

where L_n is the official code's lower-triangular factor of the softmax
covariance diag(p) - p p^T (:func:`cholesky_factor`; the code multiplies by L,
not by its transpose, and we follow it). The score is the entropy of the nine
deciles of F's singular values, normalised to sum to 1 (:func:`spectrum_entropy`).

The Jacobian itself is network-specific (``zcjax.scoring.vkdnw_jacobian`` for
NAS-Bench-201). The functions here are pure and jit-/vmap-able.
"""

from __future__ import annotations

import numpy as np
import jax
import jax.numpy as jnp

from ._linalg import svdvals

MAX_TENSORS = 128  # the official params_grad_len: the first 128 parameter tensors
_ALPHA = np.float16(0.05)  # the code's smoothing, a float16 tensor
DECILES = tuple(float(np.float32(0.1 * i)) for i in range(1, 10))  # torch.arange(0.1, 1., 0.1)
ENTROPY_OFFSET = 1e-10


def smoothed_probabilities(logits: jax.Array) -> jax.Array:
    """``softmax * (1 - alpha) + alpha / C`` with the code's float16 alpha = 0.05 (both constants float16)."""
    c = logits.shape[-1]
    scale = float(np.float16(1) - _ALPHA)  # 0.9501953125
    offset = float(_ALPHA / np.float16(c))
    return jax.nn.softmax(logits, axis=-1) * scale + offset


def cholesky_factor(logits: jax.Array) -> jax.Array:
    """The official code's factor L (..., C, C) of the smoothed softmax covariance, from logits (..., C).

    With p the smoothed probabilities, q_k = 1 - sum_{j<=k} p_j (q_{C-1} := 0,
    q_{-1} := 1) and d_k = sqrt(p_k q_k / q_{k-1}): L_ij = -p_i / q_j below the
    diagonal (0 where that is infinite), 1 on it, 0 above; then column j is
    scaled by d_j. ``L L^T`` approximates ``diag(p) - p p^T``.
    """
    p = smoothed_probabilities(logits)
    c = p.shape[-1]
    q = (1.0 - jnp.cumsum(p, axis=-1)).at[..., -1].set(0.0)
    q_before = jnp.concatenate([jnp.ones_like(q[..., :1]), q[..., :-1]], axis=-1)
    d = jnp.sqrt(p * q / q_before)
    below = jnp.tril(jnp.ones((c, c), bool), k=-1)
    ratio = -p[..., :, None] / q[..., None, :]
    off = jnp.where(below & jnp.isfinite(ratio), ratio, 0.0)
    factor = off + jnp.eye(c, dtype=p.dtype)
    return factor * d[..., None, :]


def fisher(jacobian: jax.Array, factor: jax.Array) -> jax.Array:
    """``mean_n (L_n J_n)^T (L_n J_n)`` (P, P) from J (N, C, P) and L (N, C, C)."""
    lj = jnp.einsum("nij,njp->nip", factor, jacobian, precision=jax.lax.Precision.HIGHEST)
    return jnp.einsum("nip,niq->pq", lj, lj, precision=jax.lax.Precision.HIGHEST) / jacobian.shape[0]


def spectrum_entropy(matrix: jax.Array, count: jax.Array | int | None = None) -> jax.Array:
    """The entropy of the normalised deciles of a (P, P) matrix's singular values.

    Args:
      matrix: the Fisher, (P, P). Rows and columns past ``count`` must be zero
        (padding): only the ``count`` largest singular values are the matrix's.
      count: how many of the P are real (traced or not; default all).

    Returns:
      ``-sum t log(t + 1e-10)``, t the deciles (``torch.quantile``'s linear
      interpolation) divided by their sum (+ 1e-10).
    """
    size = matrix.shape[-1]
    count = size if count is None else count
    values = jnp.sort(svdvals(matrix))  # ascending: the padding's zeros come first
    start = size - count
    positions = jnp.asarray(DECILES, values.dtype) * (jnp.asarray(count, values.dtype) - 1)
    low = jnp.floor(positions)
    frac = positions - low
    low = low.astype(jnp.int32)
    high = jnp.minimum(low + 1, count - 1)
    deciles = values[start + low] + frac * (values[start + high] - values[start + low])
    t = deciles / (jnp.sum(jnp.abs(deciles)) + ENTROPY_OFFSET)
    return -jnp.sum(t * jnp.log(t + ENTROPY_OFFSET))


def vkdnw_entropy(jacobian: jax.Array, logits: jax.Array, count: jax.Array | int | None = None) -> jax.Array:
    """VKDNW's entropy from the Jacobian (N, C, P; columns past ``count`` zero) and the logits (N, C)."""
    return spectrum_entropy(fisher(jacobian, cholesky_factor(logits)), count)
