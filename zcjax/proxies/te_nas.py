"""TE-NAS's two scores (Chen et al., ICLR 2021): NTK conditioning and the number of linear regions.

* te_ntk: the empirical neural tangent kernel of a batch, Theta = J J^T with J
  the gradient of each image's class-summed logit with respect to the weights
  (every parameter named ``kernel`` or ``scale``: conv/linear weights and
  BatchNorm scales, as the official code takes every parameter named
  "weight"); the score is ``-lambda_max / lambda_min`` (a NaN condition number
  counts as 1e5, as in the code).
* te_linear_regions: how many distinct ReLU activation patterns a batch of
  Gaussian images falls into (two images share a region when every ReLU unit
  agrees), read off NASWOT's agreement kernel: images i and j agree on every
  unit when K_ij equals the number of units.

TE-NAS ranks a population by the sum of the two ranks (``te_nas`` in
:mod:`zcjax.ensemble`). Pure, jit- and vmap-able.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ._linalg import eigvalsh

NAN_CONDITION = 1e5


def ntk_score(ntk: jax.Array) -> jax.Array:
    """``-lambda_max / lambda_min`` of the (N, N) kernel (a NaN ratio: -1e5). Run in float64 for exactness."""
    eigenvalues = eigvalsh(ntk)
    condition = eigenvalues[-1] / eigenvalues[0]
    return -jnp.where(jnp.isnan(condition), NAN_CONDITION, condition)


def linear_regions(agreement: jax.Array) -> jax.Array:
    """The number of distinct activation patterns among N images, from NASWOT's agreement kernel (N, N)."""
    units = jnp.diagonal(agreement)
    same = agreement == units[:, None]
    earlier = jnp.tril(same, k=-1)
    return jnp.sum(~jnp.any(earlier, axis=1)).astype(jnp.float32)
