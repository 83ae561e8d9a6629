"""Zero-shot ensembles: log-rank aggregation and the k-member vote, from arrays, rows and the evaluate CLI."""

import json
import math

import numpy as np
import pytest

from zcjax import ensemble, evaluate
from zcjax.vote import vote as paper_vote


def test_log_rank_is_the_sum_of_log_rank_fractions():
    a = np.array([3.0, 1.0, 2.0, 5.0])
    b = np.array([10.0, 40.0, 20.0, 30.0])
    got = ensemble.log_rank({"a": a, "b": b}, ["a", "b"])
    # ranks: a -> 3,1,2,4 ; b -> 1,4,2,3 ; n = 4
    expected = np.log(np.array([3, 1, 2, 4]) / 4) + np.log(np.array([1, 4, 2, 3]) / 4)
    np.testing.assert_allclose(got, expected)
    assert got.max() <= 0 and np.argmax(got) == 3


def test_one_member_ranks_like_the_member_and_minus_reverses_it():
    rng = np.random.default_rng(0)
    x = rng.normal(size=50)
    one = ensemble.log_rank({"x": x}, ["x"])
    assert (np.argsort(one) == np.argsort(x)).all()
    rev = ensemble.log_rank({"x": x}, ["-x"])
    assert (np.argsort(rev) == np.argsort(-x)).all()


def test_nan_ranks_below_every_number_and_ties_average():
    ranks = ensemble.member_ranks([2.0, math.nan, -5.0, 2.0, math.nan])
    np.testing.assert_array_equal(ranks, [4.5, 1.5, 3.0, 4.5, 1.5])
    got = ensemble.log_rank({"a": [1.0, math.nan, 0.0]}, ["a"])
    assert np.isfinite(got).all() and got[1] < got[2] < got[0]


def test_k_member_vote_equals_the_paper_vote():
    rng = np.random.default_rng(1)
    cols = {k: rng.normal(size=40) for k in "abcde"}
    got = ensemble.vote(cols, list("abcde"))
    wins, _ = paper_vote(np.stack([cols[k] for k in "abcde"]))
    np.testing.assert_array_equal(got, wins)


def test_parse_and_its_errors():
    spec = ensemble.parse("rank:synflow+-grasp")
    assert spec.rule == "rank" and spec.members == ("synflow", "-grasp") and spec.columns == ("synflow", "grasp")
    assert spec.name == "rank:synflow+-grasp"
    for bad, match in (("mean:a+b", "ranksum:<a>"), ("rank:", "named members"), ("rank:a+a", "repeat"),
                       ("rank:a++b", "named members")):
        with pytest.raises(ValueError, match=match):
            ensemble.parse(bad)
    with pytest.raises(ValueError, match="needs c"):
        spec = ensemble.parse("rank:a+c")
        spec({"a": [1.0, 2.0]})


def test_az_nas_is_the_log_rank_of_its_three_scores_and_flops():
    spec = ensemble.parse("az_nas")
    assert spec.name == "az_nas" and spec.rule == "rank"
    assert spec.columns == ("az_expressivity", "az_progressivity", "az_trainability", "flops")
    assert ensemble.is_spec("az_nas") and not ensemble.is_spec("synflow")


def test_te_nas_sums_the_two_ranks():
    spec = ensemble.parse("te_nas")
    assert spec.rule == "ranksum" and spec.columns == ("te_ntk", "te_linear_regions")
    got = spec({"te_ntk": [3.0, 1.0, 2.0], "te_linear_regions": [1.0, 1.0, 5.0]})
    np.testing.assert_array_equal(got, [3 + 1.5, 1 + 1.5, 2 + 3])


def test_an_aliased_member_is_that_ensemble_s_score_ranked_like_any_member():
    cols = {"vkdnw_dim": [21.0, 66.0, 66.0, 21.0], "vkdnw_entropy": [0.1, 0.3, 0.2, 0.4],
            "az_expressivity": [4.0, 3.0, 1.0, 2.0], "az_trainability": [1.0, 2.0, 4.0, 3.0],
            "flops": [1.0, 3.0, 3.0, 1.0], "jacob_cov": [2.0, math.nan, 1.0, 3.0]}
    spec = ensemble.parse("vkdnw_agg")
    assert spec.columns == ("vkdnw_dim", "vkdnw_entropy", "az_expressivity", "az_trainability", "flops", "jacob_cov")
    single = np.log([1, 4, 3, 2])  # VKDNW_single: the dense rank of (dim, entropy)
    np.testing.assert_allclose(ensemble.parse("vkdnw")(cols), single)
    ranks = [[1, 4, 3, 2], [4, 3, 1, 2], [1, 2, 4, 3], [1.5, 3.5, 3.5, 1.5], [3, 1, 2, 4]]
    np.testing.assert_allclose(spec(cols), np.sum(np.log(np.array(ranks) / 4), axis=0))
    assert "vkdnw" not in cols  # computed on a copy
    given = spec({**cols, "vkdnw": -single})  # a column of the member's own name is read as it is
    np.testing.assert_allclose(given - spec(cols), np.log(np.array([4, 1, 2, 3]) / np.array([1, 4, 3, 2])))
    with pytest.raises(ValueError, match="needs vkdnw_dim"):
        spec({k: v for k, v in cols.items() if k != "vkdnw_dim"})
    out = ensemble.ensemble_rows([dict(zip(cols, values)) for values in zip(*cols.values())], "vkdnw_agg")
    np.testing.assert_allclose([r["vkdnw_agg"] for r in out], spec(cols))
    # Scores that hold the aliased member's own column but not its members: that column is what is read.
    agg_only = {k: v for k, v in cols.items() if not k.startswith("vkdnw_")} | {"vkdnw": list(-single)}
    assert spec.needs(agg_only) == ("vkdnw", "az_expressivity", "az_trainability", "flops", "jacob_cov")
    assert spec.needs(cols) == spec.columns
    out = ensemble.ensemble_rows([dict(zip(agg_only, values)) for values in zip(*agg_only.values())], "vkdnw_agg")
    np.testing.assert_allclose([r["vkdnw_agg"] for r in out], given)


def test_ensemble_rows_adds_a_column_per_spec():
    rows = [{"index": i, "p": float(i), "q": float(-i)} for i in range(5)]
    out = ensemble.ensemble_rows(rows, "rank:p+-q,vote:p+q")
    assert "rank:p+-q" in out[0] and "rank:p+-q" not in rows[0]
    assert [r["rank:p+-q"] for r in out] == sorted(r["rank:p+-q"] for r in out)
    with pytest.raises(ValueError, match="needs r, which the rows lack"):
        ensemble.ensemble_rows(rows, "rank:p+r")


def test_evaluate_cli_scores_an_ensemble_of_a_file(tmp_path, capsys):
    # The ensemble of a strong and a noisy member, against the benchmark accuracy by index.
    from zcjax.spaces.nb201 import benchmark

    rng = np.random.default_rng(0)
    idx = rng.choice(15625, 300, replace=False)
    acc = benchmark.accuracies("cifar10", "val")[idx]
    good = acc + rng.normal(scale=3.0, size=idx.size)
    other = acc + rng.normal(scale=3.0, size=idx.size)
    path = tmp_path / "s.jsonl"
    path.write_text("".join(json.dumps({"index": int(i), "good": float(g), "other": float(o)}) + "\n"
                            for i, g, o in zip(idx, good, other)))
    rows = evaluate.evaluate(path, proxies="good,other,rank:good+other", n_bootstrap=0)
    rho = {r["proxy"]: r["spearman"] for r in rows}
    assert rho["rank:good+other"] > max(rho["good"], rho["other"])
    assert evaluate.main([str(path), "--bootstrap", "0", "--proxies", "all,vote:good+other"]) == 0
    assert "vote:good+other" in capsys.readouterr().out
    assert evaluate.main([str(path), "--proxies", "rank:good+nope"]) == 2
    assert "needs nope" in capsys.readouterr().err
    # An alias member given as a column of its own (vkdnw, not vkdnw_dim/vkdnw_entropy) is read as it is.
    path.write_text("".join(json.dumps({"index": int(i), "vkdnw": float(g), "az_expressivity": float(o),
                                        "az_trainability": float(o), "flops": float(g), "jacob_cov": float(o)})
                            + "\n" for i, g, o in zip(idx, good, other)))
    rows = evaluate.evaluate(path, proxies="vkdnw_agg", n_bootstrap=0)
    assert [r["proxy"] for r in rows] == ["vkdnw_agg"] and np.isfinite(rows[0]["spearman"])


def test_evaluate_joins_files_on_their_shared_cells_and_refuses_a_conflict(tmp_path, capsys):
    from zcjax.spaces.nb201 import benchmark

    rng = np.random.default_rng(2)
    idx = rng.choice(15625, 60, replace=False)
    acc = benchmark.accuracies("cifar10", "val")[idx]
    a, b, c = tmp_path / "a.jsonl", tmp_path / "b.jsonl", tmp_path / "c.jsonl"
    a.write_text("".join(json.dumps({"index": int(i), "p": float(v), "flops": float(i)}) + "\n"
                         for i, v in zip(idx, acc)))
    # b holds 40 of the cells, in another order, and the same flops.
    b.write_text("".join(json.dumps({"index": int(i), "q": float(-v), "flops": float(i)}) + "\n"
                         for i, v in list(zip(idx, acc))[20:][::-1]))
    c.write_text("".join(json.dumps({"index": int(i), "flops": 1.0}) + "\n" for i in idx))
    rows = evaluate.evaluate([a, b], proxies="p,q,rank:p+-q", n_bootstrap=0)
    assert [r["n"] for r in rows] == [40, 40, 40]
    rho = {r["proxy"]: r["spearman"] for r in rows}
    assert rho["p"] == pytest.approx(1.0) and rho["q"] == pytest.approx(-1.0) and rho["rank:p+-q"] == pytest.approx(1.0)
    assert evaluate.main([str(a), str(b), "--bootstrap", "0", "--proxies", "p"]) == 0
    assert "joined 2 files on the 40 cells" in capsys.readouterr().err
    assert evaluate.main([str(a), str(c), "--bootstrap", "0"]) == 2
    assert "column flops differs" in capsys.readouterr().err


def test_every_alias_resolves_to_leaf_columns():
    # An alias naming itself through others would recurse forever; each must end in plain result names.
    for alias in ensemble.ALIASES:
        columns = ensemble.parse(alias).columns
        assert columns and not any(c in ensemble.ALIASES for c in columns), (alias, columns)
