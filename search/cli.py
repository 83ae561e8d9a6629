"""Command line: zero-cost NAS on NAS-Bench-201 (or another product space with every accuracy known).

    python -m zcjax.search --algo ae --dataset cifar100 --proxy synflow --warmup 1000 --move 1 \\
        --budget 1000 --runs 32 --seed 0 --scores results/nb201/cifar100_data_free.jsonl.gz --output runs/ae
    python -m zcjax.search table --dataset cifar100 --scores results/nb201/cifar100_data_free.jsonl.gz \\
        --output results/search/cifar100

The first runs one experiment (``--runs`` seeded runs), tabular with
``--scores FILE`` (every cell's score looked up; one jitted scan per run,
vmapped over the runs) or ``--live`` (the proxy computed by the engine on the
cells the search asks for, memoised in ``OUTPUT/scores.jsonl``, a normal
zcjax.score file). The second runs the paper's Table 3 grid. Both write one
JSON-lines trace per run, a summary, Markdown and CSV tables and search
curves, and continue where a killed run stopped.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import os
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from zcjax import _cli

PROG = "python -m zcjax.search"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2 (as zcjax.score)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        sys.exit(2)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--space", default="nb201", help="search space (default nb201; nas_bench_macro: tabular, "
                                                    "on its one published accuracy)")
    p.add_argument("--dataset", "--task", dest="dataset", default=None,
                   help="the space's task; nb201: cifar10 (cifar10-valid) | cifar100 (default) | ImageNet16-120")
    p.add_argument("--proxy", default="synflow", help="any registered proxy name, or vote (default synflow)")
    p.add_argument("--budget", type=int, default=1000, help="trained (looked-up) cells per run (default 1000)")
    p.add_argument("--runs", type=int, default=32, help="runs per experiment (default 32)")
    p.add_argument("--seed", type=int, default=0, help="seed of the first run; run k uses seed+k (default 0)")
    p.add_argument("--scores", metavar="FILE", help="score file of python -m zcjax.score with every cell (tabular)")
    p.add_argument("--init-seed", type=int, default=0, help="initial-weight seed the scores must come from (0)")
    p.add_argument("--target", type=float, help="accuracy to reach (default: nb201 cifar100 73, cifar10 91, "
                                                 "ImageNet16-120 46.5; other spaces: their top 0.1%%)")
    p.add_argument("--output", "-o", required=True, metavar="DIR", help="output folder")
    p.add_argument("--no-plot", action="store_true", help="no search-curve plot")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--pool", type=int, default=64, help="AE population (64)")
    p.add_argument("--tournament", type=int, default=10, help="AE tournament size (10)")
    p.add_argument("--batch", type=int, default=1, help="AE children per step (1)")
    p.add_argument("--p-random", type=float, default=0.25,
                   help="AE move proposal: probability of a random neighbour instead of the best (0.25)")
    p.add_argument("--lr", type=float, default=0.01, help="RL controller's Adam learning rate (0.01)")
    p.add_argument("--bp-hidden", type=int, default=600, help="BP GCN width (600)")
    p.add_argument("--bp-layers", type=int, default=4, help="BP GCN layers (4)")
    p.add_argument("--bp-epochs", type=int, default=30, help="BP training epochs per fit (30)")
    p.add_argument("--bp-per-round", type=int, default=10, help="BP cells trained per round (10)")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog=PROG, description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--algo", required=True, help="rand | ae | rl | bp")
    p.add_argument("--warmup", type=int, default=0, help="N proxy-scored cells (default 0)")
    p.add_argument("--move", type=int, default=0,
                   help="move proposal: AE on when > 0 (best of the 24 neighbours); RL: R proxy rewards per "
                        "trained cell (default 0)")
    _common(p)
    live = p.add_argument_group("live (--live: the engine scores the cells the search asks for)")
    live.add_argument("--live", action="store_true", help="compute the proxy live instead of --scores")
    live.add_argument("--score-file", metavar="FILE", help="where live scores are kept and reused "
                                                           "(default OUTPUT/scores.jsonl)")
    live.add_argument("--strategy", default="auto", help="engine strategy: auto | eager | per-cell | batched")
    live.add_argument("--batch-size", type=int, default=64, help="minibatch of data-dependent proxies (64)")
    return p


def build_table_parser() -> argparse.ArgumentParser:
    p = _Parser(prog=f"{PROG} table", description="Runs the paper's Table 3 grid (tabular) and writes its tables.")
    p.add_argument("--algos", default="rand,rl,ae,bp", help="algorithms of the grid (default rand,rl,ae,bp)")
    p.add_argument("--grid", default="paper", help="paper (the Table 3 rows) or small (baseline + one of each)")
    p.add_argument("--bp-budget", type=int, help="budget of the BP rows (default --budget)")
    _common(p)
    return p


def build_bestof_parser() -> argparse.ArgumentParser:
    p = _Parser(prog=f"{PROG} bestof", description="NAS without training: the best of N random cells by the proxy.")
    p.add_argument("--dataset", default="cifar100", help="cifar10 (cifar10-valid) | cifar100 | ImageNet16-120")
    p.add_argument("--scores", required=True, metavar="FILE", help="score file with every cell")
    p.add_argument("--proxies", default="synflow", help="comma-separated proxies of the file (default synflow)")
    p.add_argument("--n", default="10,100,1000", help="sample sizes (default 10,100,1000)")
    p.add_argument("--runs", type=int, default=500, help="runs per N (default 500)")
    p.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    p.add_argument("--init-seed", type=int, default=0, help="initial-weight seed the scores must come from (0)")
    p.add_argument("--output", "-o", required=True, metavar="DIR", help="output folder")
    return p


def grid(algos: Sequence[str], which: str = "paper") -> list[dict[str, int]]:
    """The experiments of Table 3: baseline, warm-up 1000 / 3000 / 15k (BP: 256 / 512), move (AE: on; RL: 10 / 100)."""
    if which not in ("paper", "small"):
        raise ValueError(f"unknown grid {which!r}; expected paper or small")
    rows = []
    for a in algos:
        warm = (256, 512) if a == "bp" else (1000, 3000, 15000)
        moves = {"ae": (1,), "rl": (10, 100)}.get(a, ())
        if which == "small":
            warm, moves = warm[:1], moves[:1]
        rows.append({"algo": a, "warmup": 0, "move": 0})
        rows += [{"algo": a, "warmup": w, "move": 0} for w in warm]
        rows += [{"algo": a, "warmup": 0, "move": m} for m in moves]
    return rows


def _fingerprint(scores: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(scores, np.float64).tobytes()).hexdigest()[:16]


def _tabular(args) -> tuple[Any, dict[str, Any]]:
    from .scorefile import load_scores
    from .space import nb201_oracle

    exp = _experiment(args, "rand", 0, 0)
    scores, info = load_scores(args.scores, args.proxy, exp.dataset, args.init_seed, space=exp.space)
    oracle = nb201_oracle(scores, exp.dataset) if exp.space == "nb201" else exp.table.oracle(scores)
    return oracle, {"file": os.path.basename(args.scores), "proxy": args.proxy,
                    "fingerprint": _fingerprint(scores), "settings": info["settings"]}


def _experiment(args, algo: str, warmup: int, move: int):
    from .experiment import Experiment

    from zcjax import spaces

    space = spaces.get(args.space)
    dataset = args.dataset or ("cifar100" if space.name == "nb201" else None)
    return Experiment(algo=algo, space=space.name, dataset=dataset, proxy=args.proxy, warmup=warmup, move=move,
                      budget=args.budget, runs=args.runs, seed=args.seed, pool=args.pool,
                      tournament=args.tournament, batch=args.batch, p_random=args.p_random, lr=args.lr,
                      bp_hidden=args.bp_hidden, bp_layers=args.bp_layers, bp_epochs=args.bp_epochs,
                      bp_rounds_k=args.bp_per_round, target=args.target, init_seed=args.init_seed)


def _title(space: str) -> str:
    return {"nb201": "NAS-Bench-201", "nas_bench_macro": "NAS-Bench-Macro"}.get(space, space)


def _check_output(path: str) -> None:
    from zcjax.results import OutputError

    if os.path.exists(path) and not os.path.isdir(path):
        raise OutputError(f"--output {path} is a file, not a folder")
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as err:
        raise OutputError(f"cannot create {path}: {err.strerror or err}") from None


def run_main(args) -> None:
    from .experiment import run_experiment, write_outputs
    from .scorefile import check_proxy

    check_proxy(args.proxy)
    exp = _experiment(args, args.algo, args.warmup, args.move)
    if args.live == bool(args.scores):
        raise ValueError("give exactly one of --scores FILE (tabular) and --live")
    _check_output(args.output)
    exp.strategy()  # validates sizes before anything is scored
    from .drivers import check_budget

    check_budget(exp.strategy(), exp.budget)
    if args.live:
        if exp.space != "nb201":
            raise ValueError(f"--live scores nb201 cells; for {exp.space} score the space with "
                             f"python -m zcjax.score --space {exp.space} --all and pass --scores")
        from .live import MemoScorer
        from .scorefile import VOTE

        if args.proxy == VOTE:
            raise ValueError("vote ranks a set of cells, not one cell: it cannot be computed live; use --scores "
                             "with a file that has synflow, jacob_cov and snip for every cell")
        from zcjax import registry

        if args.proxy in registry.PROXIES and registry.PROXIES[args.proxy].constants:
            raise ValueError(f"{args.proxy} needs its constants, which --live does not take: score the space with "
                             f"python -m zcjax.score --all --proxies {args.proxy} --reg-swap MU,SIGMA and pass --scores")

        x = y = None
        from zcjax import ScoreConfig

        if ScoreConfig(proxies=(args.proxy,), dataset=exp.dataset).needs_data:
            from zcjax.data import get_minibatch

            x, y = get_minibatch(exp.dataset, args.batch_size)
        path = args.score_file or os.path.join(args.output, "scores.jsonl")
        with MemoScorer(args.proxy, exp.dataset, args.init_seed, path, x, y, args.strategy) as memo:
            info = {"file": os.path.basename(path), "proxy": args.proxy, "live": True, "settings": memo.settings}
            row = run_experiment(exp, args.output, scores_info=info, live_score=memo,
                                 progress=not args.no_progress)
            print(f"live: {memo.computed} cells scored by the engine in {memo.seconds:.1f} s "
                  f"({len(memo.memo)} in {path})", file=sys.stderr)
    else:
        oracle, info = _tabular(args)
        row = run_experiment(exp, args.output, oracle=oracle, scores_info=info, progress=not args.no_progress)
    settings = {"experiments": [exp.settings()], "scores": info}
    write_outputs([row], args.output, f"{exp.name} on {_title(exp.space)} {exp.dataset} ({args.proxy})", settings,
                  plot=not args.no_plot)
    from .report import fmt_reach

    print(f"{exp.name}: test accuracy after 50 trained cells {row['acc50_median']:.2f} "
          f"[{row['acc50_q25']:.2f}, {row['acc50_q75']:.2f}]; cells to {exp.target}%: "
          f"{fmt_reach(row['reach_median'], exp.budget)}; written to {args.output}")


def table_main(args) -> None:
    from tqdm.auto import tqdm

    from .experiment import run_experiment, write_outputs
    from .report import PUBLISHED_CIFAR100
    from .scorefile import check_proxy

    check_proxy(args.proxy)
    if not args.scores:
        raise ValueError("the table needs --scores FILE (a score for every cell)")
    algos = [a.strip() for a in args.algos.split(",") if a.strip()]
    from zcjax import spaces

    size = spaces.get(args.space).size or 0
    exps = [_experiment(args, **g) for g in grid(algos, args.grid) if g["warmup"] <= size]  # W15k > NAS-Bench-Macro
    if args.bp_budget is not None:
        exps = [dataclasses.replace(e, budget=args.bp_budget) if e.algo == "bp" else e for e in exps]
    for e in exps:
        from .drivers import check_budget

        check_budget(e.strategy(), e.budget)
    _check_output(args.output)
    oracle, info = _tabular(args)
    rows = []
    for e in tqdm(exps, unit="experiment", desc=f"grid {exps[0].dataset if exps else ''}", disable=args.no_progress,
                  file=sys.stderr):
        rows.append(run_experiment(e, os.path.join(args.output, e.name), oracle=oracle, scores_info=info,
                                   progress=not args.no_progress))
    published = PUBLISHED_CIFAR100 if exps and (exps[0].space, exps[0].dataset) == ("nb201", "cifar100") else None
    settings = {"experiments": [e.settings() for e in exps], "scores": info}
    write_outputs(rows, args.output, f"Zero-cost NAS on {_title(exps[0].space) if exps else ''} "
                  f"{exps[0].dataset if exps else ''} "
                  f"({args.proxy}, {args.runs} runs, budget {args.budget})", settings, published=published,
                  plot=not args.no_plot)
    print(f"{len(rows)} experiments; table in {os.path.join(args.output, 'table.md')}")


def bestof_main(args) -> None:
    from zcjax.results import RowWriter

    from . import bestof
    from .report import write_text
    from .scorefile import load_scores

    proxies = [p.strip() for p in args.proxies.split(",") if p.strip()]
    try:
        ns = [int(n) for n in args.n.split(",")]
    except ValueError:
        raise ValueError(f"--n must be comma-separated integers, got {args.n!r}") from None
    if any(not 1 <= n <= 15625 for n in ns):
        raise ValueError(f"every N must be between 1 and 15625, got {args.n}")
    if args.runs < 1:
        raise ValueError(f"--runs must be at least 1, got {args.runs}")
    _check_output(args.output)
    scores, infos = {}, {}
    for p in proxies:
        scores[p], info = load_scores(args.scores, p, args.dataset, args.init_seed)
        infos[p] = _fingerprint(scores[p])
    from zcjax.spaces.nb201 import benchmark

    dataset = benchmark.dataset_info(args.dataset).name
    rows = bestof.table_rows(scores, dataset, ns, args.runs, args.seed)
    settings = {"dataset": dataset, "n": ns, "runs": args.runs, "seed": args.seed,
                "scores": {"file": os.path.basename(args.scores), "fingerprints": infos}}
    with RowWriter(os.path.join(args.output, "bestof.csv"), bestof.COLUMNS, settings=settings, kind="search-bestof",
                   key="key") as w:
        w.write_all(rows)
    text = (f"# Best of N random cells by the proxy, NAS-Bench-201 {dataset}\n\nTest (validation) accuracy of "
            f"the picked cell, mean +- std over {args.runs} runs.\n\n" + bestof.markdown(rows, dataset))
    write_text(os.path.join(args.output, "bestof.md"), text)
    print(text)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status (0, or 2 with a one-line message on stderr)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    sub = argv[0] if argv and argv[0] in ("table", "bestof") else None
    parser = {"table": build_table_parser, "bestof": build_bestof_parser}.get(sub, build_parser)()
    args = parser.parse_args(argv[1:] if sub else argv)
    run = {"table": table_main, "bestof": bestof_main}.get(sub, run_main)
    return _cli.run(parser.prog, lambda: run(args), "rerun the same command to continue")
