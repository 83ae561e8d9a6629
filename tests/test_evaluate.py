"""Tests for zcjax.evaluate: correlations, top-k, vote, neighbourhoods, bootstrap, CLI.

Synthetic score files over real NAS-Bench-201 indices and the real accuracy
table; numpy/scipy/matplotlib only (no network is built).
"""

from __future__ import annotations

import csv
import itertools
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from zcjax import bootstrap
from zcjax import evaluate as ev
from zcjax import plots
from zcjax.spaces.nb201 import benchmark
from zcjax.spaces.nb201.arch import NUM_ARCHS, neighbours

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
CENTRE = 1234


def cluster_of(i: int) -> list[int]:
    """A cell and its 24 edit-distance-1 neighbours."""
    return [i] + [benchmark.index_of(a) for a in neighbours(benchmark.arch_at(i))]


def sample_indices(n: int, seed: int = 0, with_cluster: bool = True) -> np.ndarray:
    """n real benchmark indices; the cluster of CENTRE first (so it is scored), then random cells."""
    base = cluster_of(CENTRE) if with_cluster else []
    rng = np.random.default_rng(seed)
    rest = [int(i) for i in rng.permutation(NUM_ARCHS) if int(i) not in set(base)]
    return np.array(base + rest[: n - len(base)], dtype=np.int64)


def write_scores(path: Path, indices, columns: dict[str, np.ndarray], extra: dict | None = None) -> Path:
    """A scores file (.jsonl or .csv) like zcjax.score writes: index, arch, proxies, accuracy columns."""
    acc = benchmark.accuracies("cifar10", "val")
    rows = []
    for pos, i in enumerate(indices):
        row = {"index": int(i), "arch": benchmark.arch_at(int(i))}
        for name, values in columns.items():
            v = float(values[pos])
            row[name] = None if math.isnan(v) else v
        row["cifar10_valid_val"] = float(acc[i])
        row.update(extra or {})
        rows.append(row)
    if path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    else:
        with open(path, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            for r in rows:
                writer.writerow({k: ("" if v is None else v) for k, v in r.items()})
    return path


@pytest.fixture(scope="module")
def cells():
    indices = sample_indices(1500)
    acc = benchmark.accuracies("cifar10", "val")[indices]
    rng = np.random.default_rng(1)
    return indices, acc, rng


# --------------------------------------------------------------------------- loading


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_load_scores_takes_accuracy_from_benchmark(tmp_path, suffix):
    indices = sample_indices(60, with_cluster=False)
    true_acc = benchmark.accuracies("cifar100", "test")[indices]
    path = write_scores(tmp_path / f"s{suffix}", indices, {"synflow": np.arange(60.0), "snip": np.ones(60)},
                        extra={"val_acc": 1.0, "note": "text", "cifar100_test": 5.0})
    got_idx, scores, acc = ev.load_scores(path, "cifar100", "test")
    np.testing.assert_array_equal(got_idx, indices)
    assert list(scores) == ["synflow", "snip"]  # accuracy-like and string columns excluded
    np.testing.assert_array_equal(scores["synflow"], np.arange(60.0))
    np.testing.assert_array_equal(acc, true_acc)  # not the (wrong) columns of the file


def test_load_scores_arch_only_and_errors(tmp_path):
    arch_only = tmp_path / "a.jsonl"
    arch_only.write_text(json.dumps({"arch": benchmark.arch_at(7), "synflow": 1.0}) + "\n")
    idx, scores, _ = ev.load_scores(arch_only)
    assert idx.tolist() == [7] and list(scores) == ["synflow"]

    bad = tmp_path / "b.jsonl"
    bad.write_text(json.dumps({"index": 15625, "synflow": 1.0}) + "\n" + json.dumps({"index": 3, "synflow": 1}) + "\n")
    with pytest.raises(ValueError, match="unknown benchmark indices 15625"):
        ev.load_scores(bad)
    dup = tmp_path / "d.jsonl"
    dup.write_text((json.dumps({"index": 3, "synflow": 1.0}) + "\n") * 2)
    with pytest.raises(ValueError, match="duplicate"):
        ev.load_scores(dup)
    mismatch = tmp_path / "m.jsonl"
    mismatch.write_text(json.dumps({"index": 3, "arch": benchmark.arch_at(4), "synflow": 1.0}) + "\n")
    with pytest.raises(ValueError, match="is not cell 3"):
        ev.load_scores(mismatch)
    none = write_scores(tmp_path / "n.csv", [1, 2], {})
    with pytest.raises(ValueError, match="no proxy columns"):
        ev.load_scores(none)
    with pytest.raises(ValueError, match="unknown dataset"):
        ev.load_scores(none, "mnist")
    with pytest.raises(FileNotFoundError):
        ev.load_scores(tmp_path / "missing.jsonl")


def test_joined_files_must_agree_on_a_shared_column_however_small(tmp_path):
    a = write_scores(tmp_path / "a.jsonl", [1, 2, 3], {"flops": np.array([1e-9, 3e-9, 2e-9]), "snip": np.ones(3)})
    same = write_scores(tmp_path / "b.jsonl", [3, 2], {"flops": np.array([2e-9, 3e-9]), "meco": np.ones(2)})
    _, indices, scores, _, _ = ev.load_joined([a, same], "cifar10", "val")
    assert indices.tolist() == [2, 3] and sorted(scores) == ["flops", "meco", "snip"]
    other = write_scores(tmp_path / "c.jsonl", [3, 2], {"flops": np.array([-4e-9, 5e-9]), "meco": np.ones(2)})
    with pytest.raises(ValueError, match="column flops differs between"):
        ev.load_joined([a, other], "cifar10", "val")


def test_select_proxies():
    assert ev.select_proxies(["synflow", "snip", "jacob_cov", "params"]) == ["synflow", "snip", "jacob_cov", "params",
                                                                          "vote"]
    assert ev.select_proxies(["synflow", "params"], "all") == ["synflow", "params"]
    assert ev.select_proxies(["synflow", "params"], "params, synflow,params") == ["params", "synflow"]
    with pytest.raises(ValueError, match="unknown proxy 'grasp'"):
        ev.select_proxies(["synflow"], "grasp")
    with pytest.raises(ValueError, match="lacks snip"):
        ev.select_proxies(["synflow", "jacob_cov"], "vote")


# --------------------------------------------------------------------------- correlations and top-k


def test_perfect_and_negated_proxy(cells):
    indices, acc, _ = cells
    c = ev.correlations({"good": acc.copy(), "bad": -acc}, acc)
    assert c["good"]["spearman"] == pytest.approx(1.0) and c["good"]["kendall"] == pytest.approx(1.0)
    assert c["bad"]["spearman"] == pytest.approx(-1.0) and c["bad"]["kendall"] == pytest.approx(-1.0)
    assert c["good"]["n"] == len(acc) and c["good"]["n_nan"] == 0

    top = ev.top_k_stats(acc, acc, 0.1)
    assert top["hit_pct"] == 100.0 and top["spearman"] == pytest.approx(1.0)
    assert top["k"] == 150 and top["top5_cells"] == 75 and top["top5_in_top64"] == 64
    neg = ev.top_k_stats(-acc, acc)
    assert neg["hit_pct"] == 0.0 and neg["top5_in_top64"] == 0 and neg["sign"] == 1
    oriented = ev.top_k_stats(-acc, acc, oriented=True)
    assert oriented["hit_pct"] == 100.0 and oriented["sign"] == -1 and oriented["spearman"] == pytest.approx(1.0)
    assert ev.orient(-acc, acc)[1] == -1


def test_top_k_by_hand():
    acc = np.arange(20.0)  # the top 10% (k=2) by accuracy: cells 19, 18; top 5% (k=1): cell 19
    score = np.zeros(20)
    score[[19, 3]] = [5.0, 9.0]
    top = ev.top_k_stats(score, acc, 0.1, top_n=2)
    assert top["k"] == 2 and top["hit_pct"] == 50.0 and top["top5_in_top64"] == 1


def test_random_proxy_is_uncorrelated_with_ci_covering_zero(cells):
    _, acc, _ = cells
    score = np.random.default_rng(123).normal(size=acc.size)
    rho = ev.spearman(score, acc)
    assert abs(rho) < 0.08
    lo, hi = ev.bootstrap_ci(ev.spearman, score, acc, n=300, seed=0)
    assert lo < 0 < hi and lo < rho < hi


def test_nan_rows_are_ignored_and_counted(cells):
    _, acc, _ = cells
    score = acc.copy()
    score[[0, 5, 9, 100, 1499]] = np.nan
    c = ev.correlation(score, acc)
    assert c["n"] == acc.size - 5 and c["n_nan"] == 5 and c["spearman"] == pytest.approx(1.0)
    assert ev.top_k_stats(score, acc)["hit_pct"] == 100.0
    assert math.isnan(ev.correlation(np.full(4, np.nan), acc[:4])["spearman"])
    assert math.isnan(ev.correlation(np.ones(4), acc[:4])["kendall"])  # constant: undefined, no warning


# --------------------------------------------------------------------------- vote


def test_vote_by_hand():
    # A beats B (synflow, snip); C beats A (jacob_cov, snip); D beats A (jacob_cov, snip);
    # B beats C and D (synflow, jacob_cov); C beats D (all three).
    scores = {"synflow": [4.0, 3, 2, 1], "jacob_cov": [1.0, 4, 3, 2], "snip": [2.0, 1, 4, 3]}
    acc = np.array([10.0, 40, 30, 20])  # B > C > D > A: the vote gets every pair but (A, B) right
    wins, agreement = ev.vote(scores, acc=acc)
    assert wins.tolist() == [1, 2, 2, 1]
    assert agreement == pytest.approx(5 / 6)
    assert math.isnan(ev.vote(scores)[1])
    # A tie in one member and a NaN in another: that member abstains, so neither side has 2 of 3.
    tied = {"synflow": [1.0, 1.0], "jacob_cov": [2.0, 1.0], "snip": [np.nan, 0.0]}
    assert ev.vote(tied)[0].tolist() == [0, 0]
    info = ev.vote_agreement(tied, [1.0, 2.0])
    assert info == {"rate": 0.0, "pairs": 1, "exact": True}


def _brute_force_vote(m: np.ndarray, acc: np.ndarray) -> tuple[list[int], float]:
    n = m.shape[1]
    wins = [0] * n
    agree = counted = 0
    for i in range(n):
        for j in range(n):
            if i != j and sum(m[k, i] > m[k, j] for k in range(3)) >= 2:
                wins[i] += 1
    for i, j in itertools.combinations(range(n), 2):
        if acc[i] == acc[j]:
            continue
        i_wins = sum(m[k, i] > m[k, j] for k in range(3)) >= 2
        j_wins = sum(m[k, j] > m[k, i] for k in range(3)) >= 2
        counted += 1
        agree += (i_wins and acc[i] > acc[j]) or (j_wins and acc[j] > acc[i])
    return wins, agree / counted


def test_vectorised_vote_equals_brute_force(cells):
    indices, _, rng = cells
    pick = rng.choice(indices, 200, replace=False)
    acc = benchmark.accuracies("cifar10", "val")[pick]
    m = np.round(rng.normal(size=(3, 200)) + acc / 30, 1)  # rounding makes ties
    m[1, :7] = np.nan
    scores = dict(zip(ev.VOTE_MEMBERS, m))
    wins, agreement = ev.vote(scores, acc=acc, chunk_elems=1000)  # many chunks
    brute_wins, brute_agreement = _brute_force_vote(m, acc)
    assert wins.tolist() == brute_wins
    assert agreement == pytest.approx(brute_agreement, abs=1e-12)


def test_vote_agreement_sample_matches_exact(cells):
    indices, acc, rng = cells
    m = acc[None, :400] + rng.normal(0, 10, size=(3, 400))
    exact = ev.vote_agreement(m, acc[:400], None)
    sampled = ev.vote_agreement(m, acc[:400], None, max_exact=100, n_pairs=200_000, seed=3)
    assert exact["exact"] and not sampled["exact"]
    assert exact["pairs"] <= 400 * 399 // 2 and sampled["pairs"] <= 200_000
    assert sampled["rate"] == pytest.approx(exact["rate"], abs=0.01)
    assert sampled == ev.vote_agreement(m, acc[:400], None, max_exact=100, n_pairs=200_000, seed=3)


# --------------------------------------------------------------------------- neighbourhoods


def test_neighbour_indices_match_arch_neighbours():
    for i in (0, CENTRE, 7777, 15624):
        assert ev.neighbour_indices([i])[0].tolist() == cluster_of(i)[1:]


def test_neighbourhood_single_cluster(cells):
    indices, acc, rng = cells
    cluster = cluster_of(CENTRE)
    # Only the cluster plus cells far from it: exactly one cell has all 24 neighbours scored.
    idx = np.array(cluster + [int(i) for i in indices[25:45]])
    a = benchmark.accuracies("cifar10", "val")[idx]
    perfect = ev.neighbourhood_stats(idx, a, a)
    assert perfect["clusters"] == 1 and perfect["best_frac"] == 1.0
    assert perfect["spearman"] == pytest.approx(1.0) and perfect["note"] == ""
    worst = ev.neighbourhood_stats(idx, -a, a)
    assert worst["clusters"] == 1 and worst["best_frac"] == 0.0 and worst["spearman"] == pytest.approx(-1.0)
    # A NaN score makes its cell unscored: the only cluster is gone.
    broken = a.copy()
    broken[3] = np.nan
    none = ev.neighbourhood_stats(idx, broken, a)
    assert none["clusters"] == 0 and math.isnan(none["spearman"]) and "no cell" in none["note"]
    # Two cells share the top score, one of them the most accurate: counted as half a pick.
    tie = np.zeros(len(idx))
    best = int(np.argmax(a[:25]))
    tie[[best, (best + 1) % 25]] = 1.0
    assert ev.neighbourhood_stats(idx, tie, a)["best_frac"] == pytest.approx(0.5)


# --------------------------------------------------------------------------- bootstrap


def test_bootstrap_ci(cells):
    _, acc, rng = cells
    score = acc + rng.normal(0, 15, acc.size)
    point = ev.spearman(score, acc)
    lo, hi = ev.bootstrap_ci(ev.spearman, score, acc, n=200, seed=5)
    assert lo < point < hi and hi - lo < 0.2
    np.testing.assert_array_equal(ev.bootstrap_ci(ev.spearman, score, acc, n=200, seed=5), [lo, hi])
    many = ev.bootstrap_ci(lambda s, a: [ev.spearman(s, a), np.mean(s)], score, acc, n=100, seed=5)
    assert many.shape == (2, 2) and many[1, 0] < np.mean(score) < many[1, 1]
    assert np.isnan(ev.bootstrap_ci(ev.spearman, score, acc, n=0)).all()
    # The fast resampler of evaluate() gives the generic statistics on the same resamples.
    fast = bootstrap._ResampledStats(score, acc)
    np.testing.assert_allclose(fast(np.arange(acc.size)), bootstrap._boot_stats(score, acc))
    pick = rng.integers(0, acc.size, acc.size)
    np.testing.assert_allclose(fast(pick)[:2], bootstrap._boot_stats(score[pick], acc[pick])[:2])


# --------------------------------------------------------------------------- evaluate and outputs


def _proxy_file(tmp_path: Path, suffix: str = ".jsonl", n: int = 300) -> tuple[Path, np.ndarray]:
    indices = sample_indices(n)
    acc = benchmark.accuracies("cifar10", "val")[indices]
    rng = np.random.default_rng(7)
    synflow = np.exp((acc + rng.normal(0, 5, n)) / 4)  # positive, large range: log axis
    jacob_cov = acc + rng.normal(0, 5, n)
    jacob_cov[-3:] = np.nan  # not in the cluster of CENTRE (the first 25 cells)
    columns = {"synflow": synflow, "jacob_cov": jacob_cov, "snip": acc + rng.normal(0, 8, n),
               "grasp": -acc + rng.normal(0, 5, n), "noise": rng.normal(size=n)}
    return write_scores(tmp_path / f"scores{suffix}", indices, columns), acc


def test_evaluate_rows(tmp_path):
    path, acc = _proxy_file(tmp_path, ".csv")
    rows = ev.evaluate(path, "cifar10", "val", "all", n_bootstrap=100, seed=0)
    by = {r["proxy"]: r for r in rows}
    assert list(by) == ["synflow", "jacob_cov", "snip", "grasp", "noise", "vote"]
    assert set(rows[0]) == set(ev.CSV_COLUMNS)
    assert by["jacob_cov"]["n"] == 297 and by["jacob_cov"]["n_nan"] == 3
    assert by["grasp"]["sign"] == "-" and by["grasp"]["spearman"] < -0.5
    assert by["noise"]["spearman_lo"] < 0 < by["noise"]["spearman_hi"]
    for r in rows:
        assert r["spearman_lo"] <= r["spearman"] <= r["spearman_hi"]
        assert r["neigh_clusters"] == 1 and r["dataset"] == "cifar10"
        assert 0 <= r["agreement"] <= 1
    assert by["vote"]["n"] == 300 and any("0.82" in n for n in by["vote"]["note"])
    assert by["vote"]["spearman"] > by["snip"]["spearman"]
    md = ev.to_markdown(rows)
    assert md.splitlines()[0].startswith("| proxy | n | spearman [CI] | kendall [CI] | top10% rho |")
    assert "| jacob_cov | 297 (3 NaN) |" in md and md.count("\n| ") == len(rows) + 1
    out = tmp_path / "e.csv"
    ev.write_csv(rows, out)
    back = list(csv.DictReader(open(out)))
    assert [r["proxy"] for r in back] == list(by) and back[0]["agreement_exact"] == "True"
    assert float(back[0]["spearman"]) == pytest.approx(rows[0]["spearman"])
    no_ci = ev.evaluate(path, proxies="synflow", n_bootstrap=0)[0]
    assert math.isnan(no_ci["spearman_lo"]) and no_ci["spearman"] == rows[0]["spearman"]


def test_axis_scale():
    assert plots._axis_scale(np.array([1e-3, 1e40]))[0] == "log"
    scale, kwargs = plots._axis_scale(np.array([-5.0, 0.0, 2e-4, 3.0]))
    assert scale == "symlog" and kwargs == {"linthresh": 2e-4}
    assert plots._axis_scale(np.zeros(3))[0] == "linear"


def test_scatter_plots_draw_each_ensemble_s_own_score(tmp_path, monkeypatch):
    # An ensemble's plot is of its own score (it once fell through to the paper's vote whenever the vote's
    # members were present).
    from zcjax import ensemble

    rng = np.random.default_rng(3)
    scores = {n: rng.normal(size=50) for n in ("synflow", "jacob_cov", "snip")}
    acc = rng.normal(size=50)
    drawn = []
    monkeypatch.setattr(plots, "spearman", lambda v, a: drawn.append(np.array(v)) or 0.0)
    paths = plots.scatter_plots((np.arange(50), scores, acc), tmp_path, "rank:synflow+-snip,vote")
    assert [os.path.basename(p) for p in paths] == ["scatter_rank_synflow_-snip.png", "scatter_vote.png"]
    np.testing.assert_array_equal(drawn[0], ensemble.parse("rank:synflow+-snip")(scores))
    np.testing.assert_array_equal(drawn[1], ev.vote(scores, ev.VOTE_MEMBERS)[0].astype(np.float64))


# --------------------------------------------------------------------------- command line


def test_cli_end_to_end(tmp_path, capsys):
    path, _ = _proxy_file(tmp_path, ".jsonl", n=200)
    out = tmp_path / "out"
    code = ev.main([str(path), "--dataset", "cifar10", "--split", "val", "--bootstrap", "50", "--seed", "1",
                    "--out-dir", str(out), "--plots"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert captured.out.startswith("| proxy |") and "| vote |" in captured.out
    assert (out / "evaluation.md").read_text().endswith(captured.out)
    assert len(list(csv.DictReader(open(out / "evaluation.csv")))) == 6
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert pngs == sorted(f"scatter_{n}.png" for n in ("synflow", "jacob_cov", "snip", "grasp", "noise", "vote"))
    for name in pngs:
        assert (out / name).read_bytes()[:8] == PNG_MAGIC


def test_cli_selected_proxies_without_out_dir(tmp_path, capsys):
    path, _ = _proxy_file(tmp_path, ".csv", n=100)
    assert ev.main([str(path), "--proxies", "snip,vote", "--bootstrap", "0"]) == 0
    lines = [l for l in capsys.readouterr().out.splitlines() if l.startswith("| ")]
    assert [l.split(" | ")[0] for l in lines[2:]] == ["| snip", "| vote"]
    assert not list(tmp_path.glob("*.png"))


@pytest.mark.parametrize("args, message", [
    (["{missing}"], "no such results file"),
    (["{noproxy}"], "no proxy columns"),
    (["{scores}", "--proxies", "synflow,zen"], "unknown proxy 'zen'"),
    (["{scores}", "--dataset", "mnist"], "unknown dataset 'mnist'"),
    (["{scores}", "--split", "holdout"], "unknown split 'holdout'"),
    (["{scores}", "--bootstrap", "-1"], "--bootstrap must be >= 0"),
    (["{scores}", "--bootstrap", "many"], "invalid int value"),
    (["{scores}", "--plots"], "--plots needs --out-dir"),
    ([], "the following arguments are required: scores"),
])
def test_cli_bad_input(tmp_path, capsys, args, message):
    scores, _ = _proxy_file(tmp_path, ".jsonl", n=30)
    noproxy = write_scores(tmp_path / "noproxy.csv", [1, 2, 3], {})
    files = {"missing": tmp_path / "nope.jsonl", "noproxy": noproxy, "scores": scores}
    code = ev.main([a.format(**files) for a in args])
    captured = capsys.readouterr()
    assert code == 2
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("python -m zcjax.evaluate: error: ")
    assert message in lines[0] and "Traceback" not in captured.err
    assert captured.out == ""


def test_module_entry_point(tmp_path):
    result = subprocess.run([sys.executable, "-m", "zcjax.evaluate", str(tmp_path / "absent.csv")],
                            capture_output=True, text=True, timeout=60,
                            env={**os.environ, "JAX_PLATFORMS": "cpu"})
    assert result.returncode == 2
    assert result.stderr.strip() == f"python -m zcjax.evaluate: error: no such results file: {tmp_path / 'absent.csv'}"


def test_markdown_states_a_note_shared_by_every_proxy_once():
    base = {"n": 10, "spearman": 0.5, "spearman_lo": math.nan, "spearman_hi": math.nan, "kendall": 0.4,
            "kendall_lo": math.nan, "kendall_hi": math.nan, "top10_spearman": 0.1, "top10_hit_pct": 20.0,
            "top10_hit_lo": math.nan, "top10_hit_hi": math.nan, "top5_in_top64": 1, "neigh_spearman": math.nan,
            "neigh_best_pct": math.nan, "neigh_clusters": 0, "agreement": 0.6}
    shared = "neighbourhood: no cell has all 24 neighbours scored"
    rows = [{**base, "proxy": "a", "note": [shared]}, {**base, "proxy": "b", "note": ["only 10 scored cells", shared]}]
    md = ev.to_markdown(rows)
    assert md.count(shared) == 1 and f"- every proxy: {shared}" in md
    assert "- b: only 10 scored cells\n" in md and "- a:" not in md
    alone = ev.to_markdown(rows[:1])
    assert f"- a: {shared}" in alone and "every proxy" not in alone


def _cifar100_file(path: Path, record: bool) -> Path:
    """60 cells with CIFAR-100 accuracy columns, as `zcjax.score --dataset cifar100` writes them."""
    from zcjax.results import RowWriter

    indices = sample_indices(60, with_cluster=False)
    acc = benchmark.accuracy_columns("cifar100")
    columns = ["index", "arch", "synflow", *acc]
    rows = [{"index": int(i), "arch": benchmark.arch_at(int(i)), "synflow": float(acc["cifar100_val"][i]),
             **{c: float(v[i]) for c, v in acc.items()}} for i in indices]
    if record:
        with RowWriter(str(path), columns, settings={"space": "nb201", "dataset": "cifar100"}) as w:
            w.write_all(rows)
    else:
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.mark.parametrize("record", [True, False])
def test_dataset_read_from_the_file(tmp_path, record):
    path = _cifar100_file(tmp_path / "s.jsonl", record)
    assert ev.file_dataset(path) == "cifar100"
    rows = ev.evaluate(path, n_bootstrap=0, proxies="synflow")
    assert rows[0]["dataset"] == "cifar100" and rows[0]["spearman"] == pytest.approx(1.0)
    assert ev.evaluate(path, "cifar100", n_bootstrap=0, proxies="synflow")[0]["spearman"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="holds cifar100 scores, not cifar10: drop --dataset"):
        ev.load_scores(path, "cifar10")


def test_dataset_record_and_columns_must_agree(tmp_path):
    path = _cifar100_file(tmp_path / "s.jsonl", record=False)
    from zcjax import provenance

    provenance.write_record(path, provenance.Record("scores", ("index",), {"dataset": "cifar10"}))
    with pytest.raises(ValueError, match="records dataset cifar10 but holds cifar100 accuracy columns"):
        ev.load_scores(path)


def test_cli_dataset_from_file_and_contradiction(tmp_path):
    """Real processes: no --dataset evaluates against the file's dataset; a contradicting one exits 2."""
    path = _cifar100_file(tmp_path / "s.jsonl", record=True)
    cmd = [sys.executable, "-m", "zcjax.evaluate", str(path), "--bootstrap", "0"]
    ok = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert ok.returncode == 0, ok.stderr
    assert "Accuracy: cifar100 val" in ok.stdout
    assert "top 10% holds 6 of 60 cells" in ok.stderr  # few cells: warned
    bad = subprocess.run([*cmd, "--dataset", "cifar10"], capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.count("\n") == 1 and "holds cifar100 scores, not cifar10" in bad.stderr
