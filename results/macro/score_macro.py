"""Scores a seeded sample of NAS-Bench-Macro architectures and tabulates the proxies against accuracy.

    python results/macro/score_macro.py --sample 200 --seed 0 --proxies synflow,params,flops \
        --output results/macro/cifar10_sample200_data_free.jsonl [--resume]
    python results/macro/score_macro.py --table results/macro/cifar10_sample200_data_free.jsonl

Each architecture is a static MacroNetwork (zcjax.spaces.get('nas_bench_macro')),
scored with zcjax.score_model under the space's conventions (BatchNorm with
batch statistics, synflow without BatchNorm), initial weights drawn by
``macro.network.numpy_init`` from ``default_rng([init_seed, index])`` (PyTorch's
default laws), so a cell's scores do not depend on the rest of the run. Data
proxies use the shipped CIFAR-10 minibatch (``get_minibatch('cifar10', 64)``,
transposed to NHWC). Rows: index, arch, the proxies, the benchmark's mean_acc
and std. The table is Kendall tau-b and Spearman rho of each proxy against
mean_acc (zcjax.stats), sign kept.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time

import numpy as np

import zcjax
from zcjax import provenance, registry, results, stats
from zcjax.data import get_minibatch
from zcjax.proxies.activation import reg_swap_constants
from zcjax.registry import PROXIES, base_proxy, resolve
from zcjax.score import _reg_swap_constants

import zcjax.spaces as spaces
from zcjax.spaces import macro
from zcjax.spaces.macro.network import numpy_init

SPACE = "nas_bench_macro"


def settings(proxies: list[str], sample: int, seed: int, init_seed: int, x, y,
             reg_swap: tuple[float, float] | None = None) -> dict:
    needs_data = any(PROXIES[base_proxy(n)].needs_data for n in proxies)
    minibatch = None
    if needs_data:
        minibatch = provenance.minibatch_record(x, y)
    return registry.with_revisions({**provenance.constants_record(reg_swap), "space": SPACE, "dataset": "cifar10", "proxies": proxies,
            "sample": {"n": sample, "seed": seed, "method": "Space.sample(seed, n)"},
            "init": {"seed": init_seed, "scheme": "numpy_init (PyTorch default laws), default_rng([seed, index])"},
            "network": {"stem_channels": 32, "head_channels": 1280, "stages": [2, 3, 3]},
            "conventions": {"batchnorm": "batch statistics", "synflow_batchnorm": "drop"},
            "precision": registry.precision_setting(proxies),
            "minibatch": minibatch, "zcjax": zcjax.__version__})


def score(args: argparse.Namespace) -> None:
    proxies = list(resolve(args.proxies, engine="model"))
    reg_swap = args.reg_swap
    space = spaces.get(SPACE)
    x, y = get_minibatch("cifar10", args.batch_size)
    x = np.ascontiguousarray(np.transpose(x, (0, 2, 3, 1)))  # NCHW -> the model's NHWC
    needs_data = any(PROXIES[base_proxy(n)].needs_data for n in proxies)
    archs = space.sample(args.seed, args.sample)
    columns = ["index", "arch", *proxies, "mean_acc", "std"]
    record = settings(proxies, args.sample, args.seed, args.init_seed, x, y, reg_swap)
    start = time.time()
    with results.RowWriter(args.output, columns, resume=args.resume, settings=record,
                           info={"script": "results/macro/score_macro.py"}) as writer:
        todo = [a for a in archs if space.index(a) not in writer.done]
        for k, arch in enumerate(todo):
            index = space.index(arch)
            net = space.network(arch)
            variables = numpy_init(net.shapes(), np.random.default_rng([args.init_seed, index]))
            row = net.score(variables, (x, y) if needs_data else None, proxies, reg_swap=reg_swap)
            truth = macro.record(arch)
            writer.write({"index": index, "arch": space.format(arch), **row,
                          "mean_acc": truth["mean_acc"], "std": truth["std"]})
            if row.get("params", truth["params"]) != truth["params"]:
                raise SystemExit(f"{space.format(arch)}: params {row['params']} != benchmark {truth['params']}")
            print(f"[{k + 1}/{len(todo)}] {space.format(arch)} {time.time() - start:.0f}s", file=sys.stderr, flush=True)
    print(f"scored {len(todo)} architectures in {time.time() - start:.1f} s", file=sys.stderr)


def table(path: str) -> str:
    rows = results.read_rows(path)
    record = results.read_settings(path) or {}
    proxies = [c for c in rows[0] if c not in ("index", "arch", "mean_acc", "std")]
    acc = np.array([r["mean_acc"] for r in rows], float)
    sample = record.get("sample", {})
    scored = f"{len(rows)} architectures"
    if sample.get("n", len(rows)) != len(rows):
        scored = f"{len(rows)} of the {sample['n']} sampled architectures (a partial run; resume it to add the rest)"
    lines = [f"NAS-Bench-Macro, CIFAR-10 (mean test accuracy of 3 trainings), {scored} "
             f"(sample seed {sample.get('seed', '?')}), `{os.path.basename(path)}`", "",
             "| proxy | Kendall tau | Spearman rho | n |", "| --- | ---: | ---: | ---: |"]
    for p in proxies:
        s = np.array([math.nan if r[p] is None else r[p] for r in rows], float)
        n = int(np.sum(np.isfinite(s)))
        lines.append(f"| {p} | {stats.kendall(s, acc):.3f} | {stats.spearman(s, acc):.3f} | {n} |")
    lines += ["", "No published zero-cost proxy correlations exist for NAS-Bench-Macro in our spec: "
              "nothing to compare these with."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--init-seed", type=int, default=0)
    parser.add_argument("--proxies", default="synflow,params,flops")
    parser.add_argument("--reg-swap", metavar="MU,SIGMA", type=_reg_swap_constants, default=None,
                        help="reg_swap's constants (as zcjax.score --reg-swap), needed with reg_swap")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--output")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--table", metavar="FILE", help="print the correlation table of a scored file")
    args = parser.parse_args(argv)
    if args.table:
        print(table(args.table))
        return
    if not args.output:
        parser.error("--output is required to score")
    try:
        args.reg_swap = reg_swap_constants(resolve(args.proxies, engine="model"), args.reg_swap)
    except ValueError as e:  # an unknown proxy, or reg_swap without its constants (or the reverse)
        parser.error(str(e))
    score(args)


if __name__ == "__main__":
    main()
