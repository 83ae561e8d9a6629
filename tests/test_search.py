"""zcjax.search: strategies on small synthetic spaces, warm-up and move proposal, determinism, tabular == live."""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from zcjax.search import (AgingEvolution, NB201, RandomSearch, Reinforce, Space, nb201_code_to_index, run_live,
                          run_tabular, score_key, synthetic_oracle)
from zcjax.search.bp import BinaryPredictor, op_graph
from zcjax.search.report import cells_to_reach, running_best, summarise
from zcjax.spaces.nb201 import arch, benchmark

SPACE = Space(4, 4)  # 256 cells
ORACLE = synthetic_oracle(SPACE, seed=1, noise=0.5)
BEST = int(np.argmax(np.asarray(ORACLE.val)))


def _first_hit(cells):
    hits = np.asarray(cells) == BEST
    return np.where(hits.any(axis=-1), np.argmax(hits, axis=-1) + 1, 10**9)


def _live(strategy, seed, budget, params=None):
    score = np.asarray(ORACLE.score, np.float64)
    val = np.asarray(ORACLE.val, np.float64)
    return run_live(strategy, lambda c: score[c], lambda c: val[c], seed, budget, params)


STRATEGIES = {
    "rand": RandomSearch(SPACE),
    "rand_w": RandomSearch(SPACE, warmup=SPACE.size),
    "ae": AgingEvolution(SPACE, pool=16, tournament=4),
    "ae_w": AgingEvolution(SPACE, pool=16, tournament=4, warmup=64),
    "ae_move": AgingEvolution(SPACE, pool=16, tournament=4, move=True),
    "ae_batch": AgingEvolution(SPACE, pool=16, tournament=4, move=True, batch=4),
    "rl": Reinforce(SPACE, learning_rate=0.1),
    "rl_w": Reinforce(SPACE, warmup=64, learning_rate=0.1),
    "rl_move": Reinforce(SPACE, move=2, learning_rate=0.1),
    "bp": BinaryPredictor(SPACE, hidden=16, layers=2, epochs=25, per_round=8, capacity=48, fit_size=48,
                          learning_rate=3e-3),
    "bp_w": BinaryPredictor(SPACE, warmup=32, hidden=16, layers=2, epochs=25, per_round=8, capacity=48,
                            fit_size=48, learning_rate=3e-3),
}


BUDGET = {"rand": 256, "rand_w": 100, "ae": 160, "ae_w": 120, "ae_move": 120, "ae_batch": 120, "rl": 200,
          "rl_w": 120, "rl_move": 120, "bp": 48, "bp_w": 48}
SEEDS = list(range(8))


@functools.lru_cache(maxsize=None)
def _tabular(name):
    return run_tabular(STRATEGIES[name], ORACLE, SEEDS, BUDGET[name])


# The fast test run (-m "not slow", about a minute on 2 CPU cores) covers these; the rest are marked slow.
FAST = {"rand_w", "ae_w", "ae_move", "ae_batch", "rl_w", "rl_move"}


def _param(name, *rest):
    return pytest.param(name, *rest, marks=() if name in FAST else pytest.mark.slow)


@pytest.mark.parametrize("name, within", [_param(*p) for p in (
    ("rand", 256), ("rand_w", 20), ("ae", 160), ("ae_w", 40), ("ae_move", 60), ("ae_batch", 60), ("rl", 200),
    ("rl_w", 40), ("rl_move", 80), ("bp", 48), ("bp_w", 24))])
def test_finds_the_optimum(name, within):
    traj = _tabular(name)
    chex.assert_shape(traj.cells, (8, BUDGET[name]))
    hit = _first_hit(traj.cells)
    assert np.median(hit) <= within, (name, hit)


def test_same_seed_same_trace_other_seed_other_trace():
    for name in ("ae_move", "rl_w"):
        a = _tabular(name)
        b = run_tabular(STRATEGIES[name], ORACLE, [3] + SEEDS[1:], BUDGET[name])  # the same compiled program
        chex.assert_trees_all_equal(a.cells[3], b.cells[0])
        chex.assert_trees_all_equal(a.proxy_evals[3], b.proxy_evals[0])
        assert (a.cells[0] != b.cells[0]).any()


@pytest.mark.parametrize("name", [_param(n) for n in sorted(STRATEGIES)])
def test_tabular_equals_live(name):
    tab = _tabular(name)
    budget = 24 if name.startswith("bp") else 40   # a prefix of the tabular run (bp: 3 rounds)
    live = _live(STRATEGIES[name], 7, budget)
    np.testing.assert_array_equal(live.trajectory.cells, tab.cells[7, :budget])
    np.testing.assert_array_equal(live.trajectory.proxy_evals, tab.proxy_evals[7, :budget])
    assert live.scored == tab.proxy_evals[7, budget - 1]


TINY_BP = BinaryPredictor(SPACE, warmup=16, hidden=8, layers=2, epochs=3, per_round=4, capacity=12, fit_size=8)


@pytest.mark.slow  # BP's nested scans with gradients compile for about 20 s on 2 cores, however small
def test_bp_tabular_equals_live_tiny():
    tab = run_tabular(TINY_BP, ORACLE, [1, 4], 12)
    live = _live(TINY_BP, 4, 12)
    np.testing.assert_array_equal(live.trajectory.cells, tab.cells[1])
    np.testing.assert_array_equal(live.trajectory.proxy_evals, tab.proxy_evals[1])
    assert len(set(tab.cells[1].tolist())) == 12        # never trains a cell twice


def test_vmapped_equals_loop():
    a = _tabular("ae_w")
    b = run_tabular(STRATEGIES["ae_w"], ORACLE, SEEDS[:2], BUDGET["ae_w"], vmapped=False)
    np.testing.assert_array_equal(a.cells[:2], b.cells)


def test_rand_warmup_trains_the_scored_cells_best_first():
    s = RandomSearch(SPACE, warmup=50)
    live = _live(s, 0, 80)
    cells = live.trajectory.cells
    scores = np.asarray(ORACLE.score)
    assert live.scored == 50 and live.trajectory.proxy_evals[0] == 50
    assert np.all(np.diff(scores[cells[:50]]) <= 0)                  # best first
    assert len(set(cells.tolist())) == 80                             # without replacement
    # The warm-up set is the first 50 of the run's random permutation: the same cells as plain RAND's first 50.
    plain = _live(RandomSearch(SPACE), 0, 50).trajectory.cells
    assert set(plain.tolist()) == set(cells[:50].tolist())


def test_ae_warmup_pool_is_the_top_of_the_warmup():
    cells = _live(AgingEvolution(SPACE, pool=16, tournament=4, warmup=64), 0, 16).trajectory.cells
    warm = _live(RandomSearch(SPACE, warmup=64), 0, 64).trajectory.cells  # the same permutation, ranked
    np.testing.assert_array_equal(cells, warm[:16])


def _evolving_state(s, key):
    params = s.default_params()
    state = s.init(key, params)
    pool = jax.random.choice(jax.random.key(9), SPACE.size, (s.pool,), replace=False).astype(jnp.int32)
    return state._replace(pool=pool, pool_val=ORACLE.val[pool], n=jnp.int32(s.pool)), params


def test_move_proposal_picks_the_best_scored_neighbour():
    s = AgingEvolution(SPACE, pool=16, tournament=4, move=True, batch=4)
    state, params = _evolving_state(s, jax.random.key(0))
    params = {**params, "p_random": jnp.float32(0.0)}
    ask_score, tell_score, ask_train = (jax.jit(f) for f in (s.ask_score, s.tell_score, s.ask_train))
    cells, mask, state = ask_score(jax.random.key(1), state, params)
    assert bool(mask.all()) and cells.shape == (4 * SPACE.num_neighbours,)
    for b, parent in enumerate(np.asarray(state.parents)):
        np.testing.assert_array_equal(cells[b * 12:(b + 1) * 12], SPACE.neighbours(parent))
        assert int(parent) in np.asarray(state.pool)
    state = tell_score(cells, ORACLE.score[cells], state, params)
    children, _ = ask_train(jax.random.key(2), state, params)
    for b, parent in enumerate(np.asarray(state.parents)):
        nb = np.asarray(SPACE.neighbours(parent))
        assert int(children[b]) == nb[np.argmax(np.asarray(ORACLE.score)[nb])]


def test_move_proposal_random_neighbour_probability():
    s = AgingEvolution(SPACE, pool=16, tournament=4, move=True, batch=1)
    state, params = _evolving_state(s, jax.random.key(0))

    @jax.jit
    @functools.partial(jax.vmap, in_axes=(None, 0))
    def is_best(p_random, k):
        prm = {**params, "p_random": p_random}
        cells, _, st = s.ask_score(jax.random.key(k), state, prm)
        st = s.tell_score(cells, ORACLE.score[cells], st, prm)
        child, _ = s.ask_train(jax.random.key(1000 + k), st, prm)
        return child[0] == cells[jnp.argmax(ORACLE.score[cells])]

    keys = jnp.arange(400, dtype=jnp.int32)
    share = float(np.mean(np.asarray(is_best(jnp.float32(0.25), keys))))
    assert 0.70 < share < 0.84, share          # the best with probability 0.75 + 0.25 / 12
    assert float(np.mean(np.asarray(is_best(jnp.float32(1.0), keys)))) < 0.2


def test_ae_mutation_changes_one_edge_and_ages_out_the_oldest():
    s = AgingEvolution(SPACE, pool=16, tournament=4)
    state, params = _evolving_state(s, jax.random.key(0))
    child, _ = s.ask_train(jax.random.key(3), state, params)
    diff = np.asarray(SPACE.decode(child[0]))[None] != np.asarray(SPACE.decode(state.pool))
    assert (diff.sum(axis=1) == 1).any()
    oldest = int(state.head)
    new = s.tell_train(child, jnp.asarray([99.0], jnp.float32), state, params)
    assert int(new.pool[oldest]) == int(child[0]) and int(new.head) == (oldest + 1) % 16


def test_rl_warmup_and_move_count_proxy_rewards():
    live = _live(Reinforce(SPACE, warmup=20, move=3), 0, 10)
    evals = live.trajectory.proxy_evals
    assert 1 <= evals[0] <= 23 and evals[-1] <= 20 + 3 * 10 and np.all(np.diff(evals) >= 0)


def test_nb201_codes_and_neighbours_match_the_benchmark():
    c2i = nb201_code_to_index()
    for index in (0, 1234, 15624):
        code = int(np.nonzero(c2i == index)[0][0])
        expect = [benchmark.index_of(a) for a in arch.neighbours(benchmark.arch_at(index))]
        assert c2i[np.asarray(NB201.neighbours(code))].tolist() == expect
        assert tuple(np.asarray(NB201.decode(code)).tolist()) == tuple(benchmark.all_ops()[index])


def test_score_key_keeps_order_past_float32():
    x = np.array([np.nan, -3.0, 0.0, 2.5, 1e29, 1e31, 1e40, 8e47])
    k = score_key(x)
    assert k.dtype == np.float32 and np.isnan(k[0]) and np.all(np.isfinite(k[1:]))
    assert np.all(np.diff(k[1:]) > 0)
    np.testing.assert_array_equal(k[1:5], x[1:5].astype(np.float32))


def test_op_graph_is_the_nb201_dag():
    a = op_graph(NB201)
    chex.assert_shape(a, (8, 8))
    np.testing.assert_allclose(a.sum(axis=1), 1.0, rtol=1e-6)
    # edge 5 (3<-2) reads the op nodes ending at node 2: edges 1 (2<-0) and 2 (2<-1)
    assert a[6, 2] > 0 and a[6, 3] > 0 and a[6, 1] == 0
    # the output reads edges 3, 4, 5 (the ones ending at node 3)
    assert (a[7, 4:7] > 0).all() and a[7, 1] == 0


def test_running_best_and_summary():
    val = np.array([[1.0, 3.0, 2.0, 3.0, 5.0]])
    test = np.array([[10.0, 30.0, 20.0, 31.0, 50.0]])
    bv, bt = running_best(val, test)
    np.testing.assert_array_equal(bv[0], [1, 3, 3, 3, 5])
    np.testing.assert_array_equal(bt[0], [10, 30, 30, 30, 50])      # ties keep the earlier cell
    assert cells_to_reach(bt, 30.0).tolist() == [2.0]
    bt4 = np.array([[1, 2, 3], [1, 1, 1], [3, 3, 3], [1, 1, 1]], float)
    s = summarise(bt4, np.zeros_like(bt4), target=3.0, at=2)
    assert s["reached"] == 2 and s["acc50_median"] == 1.5
    assert s["reach_q25"] == 2.5 and s["reach_median"] == np.inf
