"""Search speed: tabular runs per second (one vmap over seeds vs a Python loop over runs), live cells per second.

    python bench/bench_search.py                      # prints a table, writes the 'search' section of bench/RESULTS.md
    python bench/bench_search.py --runs 32 --budget 1000 --live-warmup 32 --live-budget 72

Tabular: NAS-Bench-201 CIFAR-100 with the committed synflow scores. Each
configuration is compiled and run once first (not timed), then timed over
``--repeats`` calls: ``vmapped`` is one call for all runs (the jitted scan
vmapped over seeds), ``loop`` calls the jitted single-run scan once per seed.
Live: an AE search whose synflow scores the engine computes on the cells the
search asks for (warm-up population, then the 24 neighbours of each parent);
cells scored per second counts engine time only, and the whole run's.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

from _report import write_section

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def bench_tabular(runs: int, budget: int, repeats: int) -> list[dict]:
    import jax

    from zcjax.search import AgingEvolution, RandomSearch, Reinforce, nb201_oracle, tabular_fn
    from zcjax.search.scorefile import load_scores

    scores, _ = load_scores(os.path.join(ROOT, "results/nb201/cifar100_data_free.jsonl.gz"), "synflow", "cifar100")
    oracle = nb201_oracle(scores, "cifar100")
    seeds = jax.numpy.arange(runs, dtype=jax.numpy.int32)
    configs = [("RAND + W1000", RandomSearch(warmup=1000)), ("AE", AgingEvolution()),
               ("AE + W1000 + move", AgingEvolution(warmup=1000, move=True)),
               ("AE + move, B=8", AgingEvolution(move=True, batch=8)), ("RL + W1000", Reinforce(warmup=1000))]
    rows = []
    for label, s in configs:
        params = s.default_params()
        fv = tabular_fn(s, budget)
        fl = tabular_fn(s, budget, vmapped=False)
        t0 = time.perf_counter()
        jax.block_until_ready(fv(params, oracle, seeds))
        compile_v = time.perf_counter() - t0
        jax.block_until_ready(fl(params, oracle, seeds[0]))
        tv, tl = [], []
        for _ in range(repeats):
            t0 = time.perf_counter()
            jax.block_until_ready(fv(params, oracle, seeds))
            tv.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            for sd in seeds:
                jax.block_until_ready(fl(params, oracle, sd))
            tl.append(time.perf_counter() - t0)
        v, lp = min(tv), min(tl)
        rows.append({"config": label, "runs": runs, "budget": budget, "first_call_s": compile_v,
                     "vmapped_runs_per_s": runs / v, "loop_runs_per_s": runs / lp, "speedup": lp / v})
        print(f"  {label}: vmapped {runs / v:.1f} runs/s, loop {runs / lp:.1f} runs/s", file=sys.stderr)
    return rows


def bench_live(warmup: int, budget: int) -> dict:
    from zcjax.search import AgingEvolution, MemoScorer, nb201_code_to_index, run_live
    from zcjax.spaces.nb201 import benchmark

    val = benchmark.accuracies("cifar100", "val")
    c2i = nb201_code_to_index()
    s = AgingEvolution(warmup=warmup, move=True, pool=min(64, budget), tournament=10)
    with MemoScorer("synflow", "cifar100", 0, None) as memo:
        t0 = time.perf_counter()
        live = run_live(s, memo, lambda c: val[c2i[c]], 0, budget)
        wall = time.perf_counter() - t0
    return {"warmup": warmup, "budget": budget, "cells": memo.computed, "engine_s": memo.seconds, "wall_s": wall,
            "cells_per_engine_s": memo.computed / memo.seconds, "cells_per_wall_s": memo.computed / wall,
            "trained": len(live.trajectory.cells)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=32)
    p.add_argument("--budget", type=int, default=1000)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--live-warmup", type=int, default=32)
    p.add_argument("--live-budget", type=int, default=72)
    p.add_argument("--no-live", action="store_true")
    args = p.parse_args()
    import jax

    tab = bench_tabular(args.runs, args.budget, args.repeats)
    live = None if args.no_live else bench_live(args.live_warmup, args.live_budget)
    lines = ["## Search (bench/bench_search.py)", "",
             f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, jax {jax.__version__}, "
             f"{jax.devices()[0].platform}; `python bench/bench_search.py --runs {args.runs} --budget {args.budget} "
             f"--live-warmup {args.live_warmup} --live-budget {args.live_budget}`.", "",
             f"Tabular, NAS-Bench-201 CIFAR-100, synflow, {args.runs} runs of {args.budget} trained cells "
             f"(best of {args.repeats} timings; the first call, which compiles, not counted):", "",
             "| strategy | vmapped runs/s | loop runs/s | vmap speed-up | first call (s) |", "|---|---|---|---|---|"]
    for r in tab:
        lines.append(f"| {r['config']} | {r['vmapped_runs_per_s']:.1f} | {r['loop_runs_per_s']:.1f} | "
                     f"{r['speedup']:.1f}x | {r['first_call_s']:.1f} |")
    if live is not None:
        lines += ["", f"Live: AE + W{live['warmup']} + move, synflow by the engine, budget {live['budget']}: "
                  f"{live['cells']} cells scored in {live['engine_s']:.1f} s of engine time "
                  f"({live['cells_per_engine_s']:.2f} cells/s; {live['cells_per_wall_s']:.2f} cells/s over the "
                  f"whole {live['wall_s']:.1f} s run, compilation included)."]
    text = "\n".join(lines) + "\n"
    print(text)
    write_section("search", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
