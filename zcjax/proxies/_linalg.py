"""Dense linear algebra for the proxies that cannot deadlock XLA:CPU.

jaxlib's CPU LAPACK kernels (``jnp.linalg.eigvalsh``, ``svd``, ``slogdet``;
jaxlib 0.10) split a batched call that is large enough across XLA's intra-op
thread pool and block the pool thread that runs the call until the pieces are
done (``ParallelBatchMap``). Independent calls in one program run at once, so
when as many such calls run together as the pool has threads (two on a 2-core
machine), every pool thread waits and none is left to run the pieces: the
program never finishes (seen as a scoring run frozen in ``device_get``, every
thread idle or in ``BlockingCounter::Wait``).

So on CPU each function here hands LAPACK one matrix per call, in a sequential
loop (``lax.map`` behind :func:`jax.custom_batching.sequential_vmap`, so an
outer ``vmap`` over a population cannot batch the calls back together). A call
on a single matrix runs inline and never waits on the pool. Other platforms
keep the batched call. Values are those of ``jnp.linalg``; every function takes
``(..., n, n)`` (or ``(..., m, n)``) and is jit- and vmap-able.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp


def _one_matrix_per_call(fn: Callable[[jax.Array], Any], m: jax.Array) -> Any:
    """``fn`` (which takes ``(..., n, n)``) over ``m``; on CPU, one LAPACK call per matrix."""
    one = jax.custom_batching.sequential_vmap(fn)

    def cpu(a: jax.Array) -> Any:
        if a.ndim == 2:  # a lone matrix: a direct call, or a loop if an outer vmap batches it
            return one(a)
        out = jax.vmap(one)(a.reshape((-1,) + a.shape[-2:]))
        return jax.tree.map(lambda o: o.reshape(a.shape[:-2] + o.shape[1:]), out)

    return jax.lax.platform_dependent(m, cpu=cpu, default=fn)


def eigvalsh(m: jax.Array) -> jax.Array:
    """Eigenvalues of symmetric matrices (..., n, n), ascending (``jnp.linalg.eigvalsh``)."""
    return _one_matrix_per_call(lambda a: jnp.linalg.eigvalsh(a), m)


def svdvals(m: jax.Array) -> jax.Array:
    """Singular values of matrices (..., m, n), descending (``jnp.linalg.svd(compute_uv=False)``)."""
    return _one_matrix_per_call(lambda a: jnp.linalg.svd(a, compute_uv=False), m)


def logabsdet(m: jax.Array) -> jax.Array:
    """``log |det|`` of square matrices (..., n, n) (``jnp.linalg.slogdet``, the sign dropped)."""
    return _one_matrix_per_call(lambda a: jnp.linalg.slogdet(a)[1], m)
