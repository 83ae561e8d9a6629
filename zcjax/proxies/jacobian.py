"""jacob_cov: how decorrelated the input Jacobians of a minibatch are (Mellor et al.)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ._linalg import eigvalsh

EIGEN_OFFSET = 1e-5


def unit_rows(rows: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Each row centred and scaled to unit norm (a constant row: zeros), and whether each row varies.

    ``unit @ unit.T`` is the Pearson correlation matrix of the rows (NumPy's
    corrcoef), with 0 where a constant row makes it undefined.
    """
    centred = rows - rows.mean(axis=1, keepdims=True)
    norms = jnp.sqrt(jnp.sum(jnp.square(centred), axis=1))
    varies = norms > 0
    return jnp.where(varies[:, None], centred / jnp.where(varies, norms, 1)[:, None], 0), varies


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
    unit, varies = unit_rows(jacobian.reshape(jacobian.shape[0], -1))
    eigenvalues = eigvalsh(unit @ unit.T)
    score = -jnp.sum(jnp.log(eigenvalues + EIGEN_OFFSET) + 1.0 / (eigenvalues + EIGEN_OFFSET))
    return jnp.where(jnp.all(varies), score, jnp.nan)


EPE_OFFSET = 1e-5


def epe_nas_score(jacobian: jax.Array, labels: jax.Array, num_classes: int) -> jax.Array:
    """EPE-NAS: sum over classes c of |sum over pairs (i, j) of class c of log(|corr_ij| + k)|, k = 1e-5.

    corr is the Pearson correlation between the input-Jacobian rows of the
    images (each image's d(sum of logits)/dx), clipped to [-1, 1] as NumPy's
    corrcoef is, diagonal included; a class with one image adds log(1 + k).
    This is the authors' run, which uses the same sum for every dataset (their
    per-class normalisation for more than 100 classes is never reached: the
    class count is left at its default of 10). NaN when a row is constant.
    Run in float64 (the reference's NumPy corrcoef).

    Args:
      jacobian: (N, ...) input Jacobians.
      labels: (N,) integer classes, or (N, num_classes) one-hot rows.
      num_classes: the class count (labels are in [0, num_classes)).

    Returns:
      A scalar.
    """
    unit, varies = unit_rows(jacobian.reshape(jacobian.shape[0], -1))
    corr = jnp.clip(unit @ unit.T, -1.0, 1.0)
    logs = jnp.log(jnp.abs(corr) + EPE_OFFSET)
    onehot = labels.astype(logs.dtype) if labels.ndim == 2 else jax.nn.one_hot(labels, num_classes, dtype=logs.dtype)
    per_class = jnp.einsum("ic,ij,jc->c", onehot, logs, onehot)
    return jnp.where(jnp.all(varies), jnp.sum(jnp.abs(per_class)), jnp.nan)  # a constant row: NaN, as the reference
