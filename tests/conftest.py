import gc
import json
import os

import jax
import numpy as np
import pytest

# Every test runs with strict dtype promotion: an implicit float32 + int32 (or a
# float32 silently widened to float64) in library code is a test failure.
jax.config.update("jax_numpy_dtype_promotion", "strict")
# Tests compile afresh (and keep nothing in ~/.cache) unless a developer points
# ZCJAX_COMPILE_CACHE at a folder to speed up repeated runs.
os.environ.setdefault("ZCJAX_COMPILE_CACHE", "off")
# The suite is bound by XLA:CPU compile time, most of it LLVM's optimisation of each
# program. Level 1 (of 0-3, default 3) compiles the small networks' programs about
# 1.7x faster and runs the full-size float64 ones no slower (it changes no value:
# golden parity and every agreement test run under it). Set before JAX starts its
# backend, and inherited by the tests' subprocesses (CLI, multi-device, multi-host).
if "xla_backend_optimization_level" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_backend_optimization_level=1").strip()


def _release_compiled_programs():
    jax.clear_caches()
    gc.collect()


@pytest.fixture(autouse=True, scope="module")
def _release_after_each_module():
    """Drop every compiled program when a test module ends.

    One pytest process runs the whole suite; without this, the programs of every
    full-size network compiled so far stay in memory (CI's slow run was killed
    for memory after 19 tests).
    """
    yield
    _release_compiled_programs()


@pytest.fixture(autouse=True)
def _release_after_each_slow_test(request):
    """A slow test compiles full-size networks of its own: drop them when it ends."""
    yield
    if request.node.get_closest_marker("slow"):
        _release_compiled_programs()


GOLDEN_DIR = os.path.join(os.path.dirname(__file__), "data", "golden_nb201")


@pytest.fixture(scope="session")
def golden():
    with open(os.path.join(GOLDEN_DIR, "golden.json")) as f:
        return json.load(f)["archs"]


@pytest.fixture(scope="session")
def golden_batch():
    batch = np.load(os.path.join(GOLDEN_DIR, "batch.npz"))
    return batch["x"], batch["y"]


def full_or_sample(items, n: int, seed: int = 0) -> list:
    """All of ``items`` when ZCJAX_FULL_CHECKS=1 (the one-off full checks), else a seeded ``n`` of them.

    The slow benchmark-agreement checks (every network's params against the
    benchmark's) were each run once over every row; CI runs a seeded sample so
    that `.ci/run` stays well inside its time limit.
    """
    items = list(items)
    if os.environ.get("ZCJAX_FULL_CHECKS") or n >= len(items):
        return items
    return [items[i] for i in sorted(np.random.default_rng(seed).choice(len(items), n, replace=False))]
