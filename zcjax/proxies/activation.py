"""Proxies of a network's activations at initialisation: NASWOT, SWAP and MeCo.

Each reads *taps*: ``(value, weight)`` pairs a network sows (see
``zcjax.spaces.nb201.network``), where ``weight`` counts how often the
reference network's hooks see that tensor (0 for a candidate op the cell does
not use). :func:`tap_list` flattens a tap collection into such pairs.

* NASWOT (Mellor et al. 2021): the binary code of every ReLU's input,
  ``c = (x > 0)``, one row per image; ``K = sum over ReLUs of c c^T +
  (1 - c)(1 - c)^T`` (N x N, how many units two images agree on); the score
  is ``log |det K|``.
* SWAP (Peng et al. 2024): the same codes, one row per *unit* (a ReLU's
  channel and position) and one column per image; the score is the number
  of distinct rows (sample-wise activation patterns). reg-SWAP multiplies it
  by a prior on the network's size, ``exp(-(P / 1000 - mu)^2 / sigma)``.
* MeCo (Jiang et al. 2023): for every tap, the Pearson correlation matrix of
  the channels of the first image's feature map (C x C over the H*W
  positions; undefined entries, from a constant channel, set to 0); the
  score is the sum of their minimum eigenvalues. MeCo_opt: the same on k = 8
  channels drawn at random for each tap, scaled by C / k.

All are pure and jit-/vmap-able.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from ._linalg import eigvalsh, logabsdet
from .jacobian import unit_rows

Tap = tuple[jax.Array, jax.Array]
MAX_SWAP_SAMPLES = 20  # a histogram of 2^20 patterns


def tap_list(collection: Any) -> list[Tap]:
    """The ``(value, weight)`` pairs of a sown tap collection, in a fixed (tree) order."""
    taps: list[Tap] = []

    def walk(node):
        if isinstance(node, dict):
            for key in sorted(node):
                walk(node[key])
        else:  # a sown tuple of (value, weight) pairs
            taps.extend(node)

    walk(collection if collection is not None else {})
    return taps


def relu_codes(value: jax.Array) -> jax.Array:
    """The binary code of a ReLU's input: (N, units) float32, 1 where the unit is active (input > 0)."""
    return (value.reshape(value.shape[0], -1) > 0).astype(jnp.float32)


def nwot_kernel(taps: Iterable[Tap]) -> jax.Array:
    """NASWOT's K: ``sum over taps of weight * (c c^T + (1-c)(1-c)^T)``, (N, N) float32.

    Its entries are unit counts; they are exact in float32 below 2^24 units.
    """
    total = None
    for value, weight in taps:
        c = relu_codes(value)
        agree = jnp.dot(c, c.T, precision=jax.lax.Precision.HIGHEST)
        agree += jnp.dot(1 - c, (1 - c).T, precision=jax.lax.Precision.HIGHEST)
        weight = jnp.asarray(weight, agree.dtype)
        total = weight * agree if total is None else total + weight * agree
    if total is None:
        raise ValueError("nwot: the network has no ReLU")
    return total


def nwot_score(kernel: jax.Array) -> jax.Array:
    """``log |det K|`` (NumPy's ``slogdet``, the sign ignored); -inf for a singular K.

    Run in float64 (inside ``jax.enable_x64(True)``, K cast to float64) to match
    the reference, which accumulates K in float64 NumPy.
    """
    return logabsdet(kernel)


def swap_score(taps: Iterable[Tap], samples: int | None = None) -> jax.Array:
    """SWAP: the number of distinct activation patterns of the units over the images.

    Each unit (a ReLU's channel and position, counted once per unit of a tap
    with weight > 0) has a pattern: which of the first ``samples`` images
    activate it. Patterns are read as integers (up to 20 images) and counted
    in a histogram of all 2^samples patterns.

    Args:
      taps: the ReLU taps (ReLU inputs, (N, ...) each).
      samples: how many images (default: all N; at most 20).

    Returns:
      A float32 scalar.
    """
    taps = list(taps)
    n = taps[0][0].shape[0] if samples is None else samples
    if not 1 <= n <= MAX_SWAP_SAMPLES:
        raise ValueError(f"swap needs 1 to {MAX_SWAP_SAMPLES} images, got {n}")
    bits = jnp.asarray([1 << i for i in range(n)], jnp.int32)
    counts = jnp.zeros(1 << n, jnp.float32)
    for value, weight in taps:
        codes = (value[:n].reshape(n, -1) > 0).astype(jnp.int32)  # (n, units)
        patterns = jnp.sum(codes * bits[:, None], axis=0)
        counts = counts.at[patterns].add(jnp.broadcast_to((weight > 0).astype(jnp.float32), patterns.shape))
    return jnp.sum(counts > 0).astype(jnp.float32)


def reg_swap_score(swap: jax.Array, params: jax.Array, mu: float, sigma: float) -> jax.Array:
    """reg-SWAP: ``swap * exp(-(params / 1000 - mu)^2 / sigma)``, the official code's regularisation.

    The size is in thousands of parameters, and sigma divides the square as it
    is (no square, no factor 2), as in pym1024/SWAP ``src/metrics/swap.py``.
    The code holds no values of ``mu`` and ``sigma``: they set the model size
    the search prefers, so the caller chooses them.

    Args:
      swap: the SWAP score (:func:`swap_score`).
      params: the network's parameter count.
      mu: the preferred size, thousands of parameters.
      sigma: the width of the prior (> 0), thousands of parameters squared.
    """
    size = jnp.asarray(params, jnp.float32) / 1000.0
    return swap * jnp.exp(-jnp.square(size - mu) / sigma)


def check_reg_swap(constants: Any) -> tuple[float, float]:
    """``(mu, sigma)`` as floats, or ValueError naming the problem (sigma must be positive and both finite)."""
    try:
        mu, sigma = (float(c) for c in constants)
    except (TypeError, ValueError):
        raise ValueError(f"reg_swap's constants are two numbers (mu, sigma: thousands of parameters, and its square); "
                         f"got {constants!r}") from None
    if not (math.isfinite(mu) and math.isfinite(sigma) and sigma > 0):
        raise ValueError(f"reg_swap needs a finite mu and a positive sigma, got mu={mu}, sigma={sigma}")
    return mu, sigma


def reg_swap_constants(names: Sequence[str], constants: Any) -> tuple[float, float] | None:
    """A run's reg_swap constants, checked against its proxy names: needed with reg_swap, refused without it.

    Raises:
      ValueError: one line naming the problem.
    """
    if "reg_swap" not in names:
        if constants is not None:
            raise ValueError("reg_swap constants were given, but reg_swap is not among the proxies")
        return None
    if constants is None:
        raise ValueError("reg_swap needs its constants mu and sigma (thousands of parameters, and its square): "
                         "--reg-swap MU,SIGMA, or reg_swap=(mu, sigma) in Python; the SWAP code holds none")
    return check_reg_swap(constants)


def channel_correlation_min_eigenvalue(feature: jax.Array) -> jax.Array:
    """The smallest eigenvalue of the Pearson correlation of a feature map's channels.

    Args:
      feature: (H, W, C) (or (positions, C)) for one image.

    Returns:
      A scalar: the minimum eigenvalue of the C x C correlation matrix, whose
      entries for a constant channel (undefined, NaN in ``torch.corrcoef``) are 0.
    """
    unit, _ = unit_rows(feature.reshape(-1, feature.shape[-1]).T)  # (C, positions)
    corr = jnp.clip(unit @ unit.T, -1.0, 1.0)
    return eigvalsh(corr)[0]


MECO_OPT_CHANNELS = 8  # MeCo_opt's channels per tap


def meco_score(taps: Sequence[Tap], key: jax.Array | None = None, channels: int = MECO_OPT_CHANNELS) -> jax.Array:
    """MeCo: ``sum over taps of weight * min eigenvalue of the channel correlation`` of the first image.

    Taps of one shape are stacked, so the program holds one batched eigenvalue
    solve per feature-map shape. Taps without spatial extent (fewer than 2
    positions) contribute 0, as in the reference (their correlation is all NaN).

    Args:
      taps: the ``(value, weight)`` pairs; each value (1, ..., C) or (N, ..., C)
        (only the first image is read).
      key: None for MeCo. For MeCo_opt, the key of the channel draws: each tap
        (the i-th in ``taps``) takes ``min(channels, C)`` of its C channels
        without replacement from ``fold_in(key, i)``, and its eigenvalue is
        scaled by C / that number.
      channels: MeCo_opt's channels per tap.
    """
    groups: dict[tuple, list[tuple[int, Tap]]] = {}
    for i, (value, weight) in enumerate(taps):
        groups.setdefault(tuple(value.shape[1:]), []).append((i, (value, weight)))
    total = jnp.zeros((), taps[0][0].dtype if taps else jnp.float32)
    for shape, members in groups.items():
        if len(shape) < 2 or math.prod(shape[:-1]) < 2:
            continue
        features = jnp.stack([v[0] for _, (v, _) in members])
        weights = jnp.stack([w for _, (_, w) in members])
        if key is None:
            values = jax.vmap(channel_correlation_min_eigenvalue)(features)
        else:
            c = shape[-1]
            k = min(channels, c)

            def sampled(feature, tap_key):
                chosen = jax.random.permutation(tap_key, c)[:k]
                return channel_correlation_min_eigenvalue(jnp.take(feature, chosen, axis=-1)) * (c / k)

            keys = jnp.stack([jax.random.fold_in(key, i) for i, _ in members])
            values = jax.vmap(sampled)(features, keys)
        total = total + jnp.sum(jnp.where(weights > 0, weights.astype(values.dtype) * values, 0.0))
    return total
