"""jacob_cov: how decorrelated the input Jacobians of a minibatch are (Mellor et al.)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

EIGEN_OFFSET = 1e-5


def jacob_cov_score(jacobian: jax.Array) -> jax.Array:
    """-sum(log(v + k) + 1 / (v + k)) over the eigenvalues v of corrcoef(rows of J), k = 1e-5.

    NaN when the correlation matrix is undefined (a constant row, e.g. an output
    that ignores its input). Run in float64 (inside ``jax.enable_x64(True)``, J cast
    to float64) to match the reference, which uses NumPy's float64 corrcoef.

    Args:
      jacobian: (N, ...) d(sum of logits)/dx, one row per image.

    Returns:
      A scalar.
    """
    rows = jacobian.reshape(jacobian.shape[0], -1)
    centred = rows - rows.mean(axis=1, keepdims=True)
    norms = jnp.sqrt(jnp.sum(jnp.square(centred), axis=1))
    defined = jnp.all(norms > 0)
    unit = centred / jnp.where(norms > 0, norms, 1)[:, None]
    eigenvalues = jnp.linalg.eigvalsh(unit @ unit.T)
    score = -jnp.sum(jnp.log(eigenvalues + EIGEN_OFFSET) + 1.0 / (eigenvalues + EIGEN_OFFSET))
    return jnp.where(defined, score, jnp.nan)
