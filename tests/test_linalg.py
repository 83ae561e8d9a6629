"""zcjax.proxies._linalg: jnp.linalg's values, with one matrix per LAPACK call on CPU (no pool deadlock)."""

import pathlib
import re

import chex
import jax
import jax.numpy as jnp
import pytest

from zcjax.proxies import _linalg
from zcjax.proxies.activation import meco_score

PACKAGE = pathlib.Path(__file__).resolve().parents[1]


def _symmetric(shape, key=0):
    a = jax.random.normal(jax.random.key(key), shape)
    return a @ jnp.swapaxes(a, -1, -2)


def _lapack_call_shapes(fn, *args):
    """The first result shape of every LAPACK custom call in ``fn``'s compiled CPU program."""
    text = jax.jit(fn).lower(*args).compile().as_text()
    calls = [line for line in text.splitlines() if 'custom_call_target="lapack_' in line]
    return [re.search(r"= \(?[a-z0-9]+\[([0-9,]*)\]", line).group(1) for line in calls]


@pytest.mark.parametrize("name, reference", [
    ("eigvalsh", jnp.linalg.eigvalsh),
    ("svdvals", lambda m: jnp.linalg.svd(m, compute_uv=False)),
    ("logabsdet", lambda m: jnp.linalg.slogdet(m)[1]),
])
def test_values_are_jnp_linalg_s_whatever_the_batching(name, reference):
    fn = getattr(_linalg, name)
    m = _symmetric((3, 4, 6, 6)) + 0.1 * jnp.eye(6)
    chex.assert_trees_all_close(fn(m), reference(m), rtol=1e-6)
    chex.assert_trees_all_close(jax.jit(jax.vmap(fn))(m), reference(m), rtol=1e-6)
    chex.assert_trees_all_close(fn(m[1, 2]), reference(m[1, 2]), rtol=1e-6)
    with jax.enable_x64(True):
        m64 = m.astype(jnp.float64)
        out = fn(m64)
        assert out.dtype == jnp.float64
        chex.assert_trees_all_close(out, reference(m64), rtol=1e-12)


def test_each_lapack_call_gets_one_matrix_under_nested_vmap():
    m = _symmetric((3, 4, 6, 6))
    assert _lapack_call_shapes(jax.vmap(jax.vmap(jnp.linalg.eigvalsh)), m) == ["3,4,6,6"]  # what jnp.linalg does
    for fn in (_linalg.eigvalsh, _linalg.svdvals, _linalg.logabsdet):
        shapes = _lapack_call_shapes(jax.vmap(jax.vmap(fn)), m)
        assert shapes and all(s.count(",") == 1 for s in shapes), (fn.__name__, shapes)
        shapes = _lapack_call_shapes(jax.vmap(fn), m[0])  # a lone matrix each, batched by the vmap
        assert shapes and all(s.count(",") == 1 for s in shapes), (fn.__name__, shapes)
        assert " while(" not in jax.jit(fn).lower(m[0, 0]).compile().as_text()  # one matrix: no loop


def test_meco_of_a_population_calls_lapack_one_matrix_at_a_time():
    """The program shape that froze XLA:CPU: two batched eigenvalue solves side by side, vmapped over cells."""
    taps = [(jax.random.normal(jax.random.key(i), (2, 1, 8, 8, 16)), jnp.ones(2)) for i in range(4)]

    def population(values, weights):
        return jax.vmap(lambda v, w: meco_score(list(zip(v, w))) + meco_score(list(zip(v, w)), jax.random.key(4)))(
            values, weights)

    values = jnp.stack([v for v, _ in taps], axis=1)
    weights = jnp.stack([w for _, w in taps], axis=1)
    shapes = _lapack_call_shapes(population, values, weights)
    assert len(shapes) >= 2 and all(s.count(",") == 1 for s in shapes), shapes


def test_no_proxy_calls_jnp_linalg_directly():
    """Every dense solve in the library goes through _linalg (a direct batched call can freeze XLA:CPU)."""
    offenders = []
    for path in sorted(p for folder in ("zcjax", "spaces", "search") for p in (PACKAGE / folder).glob("**/*.py")):
        if path.name == "_linalg.py":
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r"\b(jnp|jax\.numpy|jax\.scipy|jax\.lax)\.linalg\.", line.split("#")[0]):
                offenders.append(f"{path.relative_to(PACKAGE)}:{number}")
    assert not offenders, offenders

