"""NAS without training: the best of N random cells by the proxy, repeated over seeded runs.

Run ``r`` draws ``N`` distinct cells with ``jax.random.choice(fold_in(key(seed), r))``
and keeps the one the proxy scores highest (a NaN score ranks last); the
table gives the mean and standard deviation over runs of its test accuracy
(and of its validation accuracy), as the NASWOT paper (Mellor et al. 2021)
reports for its own score at N = 100.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .space import NB201, score_key

# Mellor et al. 2021 (NASWOT), NAS-Bench-201, N = 100: test accuracy mean +- std (quoted in issue 13).
PUBLISHED_NASWOT_N100 = {"cifar100": (69.48, 1.70), "ImageNet16-120": (43.10, 3.16)}

COLUMNS = ("key", "dataset", "proxy", "n", "runs", "test_mean", "test_std", "val_mean", "val_std",
           "optimum_share")


def best_of_n(scores_by_index: np.ndarray, n: int, runs: int, seed: int = 0) -> np.ndarray:
    """Benchmark indices (runs,) of the best-by-proxy cell of N random distinct cells per run."""
    keys = jnp.asarray(score_key(scores_by_index))
    base = jax.random.key(seed)

    @jax.jit
    def pick(r):
        cells = jax.random.choice(jax.random.fold_in(base, r), NB201.size, (n,), replace=False)
        s = jnp.where(jnp.isnan(keys[cells]), -jnp.inf, keys[cells])
        return cells[jnp.argmax(s)]

    return np.asarray(jax.vmap(pick)(jnp.arange(runs, dtype=jnp.int32)))


def table_rows(scores: dict[str, np.ndarray], dataset: str, ns: Sequence[int], runs: int,
               seed: int = 0) -> list[dict[str, Any]]:
    """One row per (proxy, N): mean and std of the picked cells' test and validation accuracy."""
    from zcjax.spaces.nb201 import benchmark

    test = benchmark.accuracies(dataset, "test")
    val = benchmark.accuracies(dataset, "val")
    best = int(np.argmax(val))
    rows = []
    for proxy, s in scores.items():
        for n in ns:
            picked = best_of_n(s, int(n), runs, seed)
            rows.append({"key": f"{proxy}-{n}", "dataset": dataset, "proxy": proxy, "n": int(n), "runs": runs,
                         "test_mean": float(test[picked].mean()), "test_std": float(test[picked].std()),
                         "val_mean": float(val[picked].mean()), "val_std": float(val[picked].std()),
                         "optimum_share": float(np.mean(picked == best))})
    return rows


def markdown(rows: Sequence[dict[str, Any]], dataset: str) -> str:
    """The best-of-N table, with NASWOT's published N = 100 figure where quoted."""
    pub = PUBLISHED_NASWOT_N100.get(dataset)
    lines = ["| proxy | N | test acc. mean +- std | val acc. mean +- std | runs | NASWOT (N=100, published) |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        p = f"{pub[0]:.2f} +- {pub[1]:.2f}" if pub and r["n"] == 100 else ""
        lines.append(f"| {r['proxy']} | {r['n']} | {r['test_mean']:.2f} +- {r['test_std']:.2f} | "
                     f"{r['val_mean']:.2f} +- {r['val_std']:.2f} | {r['runs']} | {p} |")
    return "\n".join(lines) + "\n"
