"""Models in the wild: every proxy on He et al.'s CIFAR-10 ResNets, ranked against their published test errors.

    python results/wild/resnets.py --output results/wild/resnets.jsonl [--resume]   # scores, as it goes
    python results/wild/resnets.py --table results/wild/resnets.jsonl.gz          # writes resnets.md

Each of ResNet-20/32/44/56/110 (``zcjax.zoo.CifarResNet``, option-A shortcuts,
the paper's parameter counts) is initialised with ``--seeds`` keys
(``fold_in(key(seed), depth)``: Kaiming-normal convs, Flax's default dense) and
scored with ``zcjax.score_model`` (BatchNorm on batch statistics, synflow
without BatchNorm) on the shipped CIFAR-10 minibatch of 64 images. A row is one
(depth, seed). The table gives each proxy's mean over seeds per depth, and
across the five depths Kendall tau and Spearman rho against the published
accuracy (100 - error; He et al. 2016, Table 6) with the share of seeds whose
own five scores rank the depths in the published order's direction. With five
networks a rank correlation is coarse: tau moves in steps of 0.2.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time

import jax
import numpy as np

import zcjax
from zcjax import provenance, registry, results, stats
from zcjax.data import get_minibatch
from zcjax.registry import resolve
from zcjax.zoo import RESNET_CIFAR10_TEST_ERROR, CifarResNet

HERE = os.path.dirname(os.path.abspath(__file__))
DEPTHS = (20, 32, 44, 56, 110)


def score(args: argparse.Namespace) -> None:
    proxies = list(resolve(args.proxies, engine="model"))
    x, y = get_minibatch("cifar10", args.batch_size)
    x = np.ascontiguousarray(np.transpose(x, (0, 2, 3, 1)))  # NCHW -> the model's NHWC
    record = registry.with_revisions({"models": "zcjax.zoo.CifarResNet (He et al. 2016, option A)", "dataset": "cifar10",
              "proxies": proxies, "init": {"keys": "fold_in(key(seed), depth)", "seeds": args.seeds},
              "conventions": {"batchnorm": "batch statistics", "synflow_batchnorm": "drop"},
              "minibatch": provenance.minibatch_record(x, y), "zcjax": zcjax.__version__})
    columns = ["index", "depth", "seed", *proxies, "test_error"]
    start = time.time()
    with results.RowWriter(args.output, columns, resume=args.resume, settings=record,
                           info={"script": "results/wild/resnets.py"}) as writer:
        for depth in args.depths:
            model = CifarResNet(depth)
            for seed in range(args.seeds):
                index = depth * 1000 + seed
                if index in writer.done:
                    continue
                key = jax.random.fold_in(jax.random.key(seed), depth)
                variables = model.init(key, x[:1])
                row = zcjax.score_model(model, variables, (x, y), proxies)
                writer.write({"index": index, "depth": depth, "seed": seed, **row,
                              "test_error": RESNET_CIFAR10_TEST_ERROR[depth]})
                print(f"ResNet-{depth} seed {seed}: {time.time() - start:.0f}s", file=sys.stderr, flush=True)


def table(path: str) -> str:
    rows = results.read_rows(path)
    proxies = [c for c in rows[0] if c not in ("index", "depth", "seed", "test_error")]
    depths = sorted({r["depth"] for r in rows})
    seeds = sorted({r["seed"] for r in rows})
    acc = np.array([100 - RESNET_CIFAR10_TEST_ERROR[d] for d in depths])

    def value(r, p):
        return math.nan if r[p] is None else float(r[p])

    by = {(r["depth"], r["seed"]): r for r in rows}
    mean = {p: np.array([np.mean([value(by[d, s], p) for s in seeds if (d, s) in by]) for d in depths])
            for p in proxies}
    lines = [f"He et al.'s CIFAR-10 ResNets, {len(seeds)} initialisations each, scored on the shipped "
             f"64-image CIFAR-10 minibatch (`{os.path.basename(path)}`, `python results/wild/resnets.py`).", "",
             "Published test error (%): " + ", ".join(f"ResNet-{d} {RESNET_CIFAR10_TEST_ERROR[d]}" for d in depths)
             + ". Accuracy rises with depth, so a proxy that ranks them right grows with depth.", "",
             "| proxy | " + " | ".join(f"ResNet-{d}" for d in depths)
             + " | Kendall tau (means) | Spearman rho (means) | seeds with tau > 0 |",
             "| --- |" + " ---: |" * (len(depths) + 3)]
    for p in proxies:
        per_seed = []
        for s in seeds:
            own = np.array([value(by[d, s], p) for d in depths])
            per_seed.append(stats.kendall(own, acc))
        positive = sum(t > 0 for t in per_seed if math.isfinite(t))
        cells = " | ".join(f"{v:.4g}" for v in mean[p])
        lines.append(f"| {p} | {cells} | {stats.kendall(mean[p], acc):.2f} | {stats.spearman(mean[p], acc):.2f} "
                     f"| {positive}/{len(seeds)} |")
    lines += ["", "In this family accuracy, params and flops all grow with depth, so `params` alone ranks the five "
              "networks perfectly: a tau of 1 here says a proxy follows size, not that it predicts accuracy beyond "
              "size. ResNet-1202 (7.93 %, worse than ResNet-110 for over-fitting) is the network that would separate "
              "them (`--depths 20 32 44 56 110 1202`)."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depths", type=int, nargs="+", default=list(DEPTHS))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--proxies", default="paper", help="default: the paper's proxies and their SSNR (the committed rows)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--output")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--table", metavar="FILE", help="write the table of a scored file beside this script")
    args = parser.parse_args(argv)
    if args.table:
        text = table(args.table)
        with open(os.path.join(HERE, "resnets.md"), "w") as f:
            f.write("# Models in the wild: CIFAR-10 ResNets\n\n" + text)
        print(text)
        return
    if not args.output:
        parser.error("--output is required to score")
    bad = [d for d in args.depths if d not in RESNET_CIFAR10_TEST_ERROR]
    if bad:
        parser.error(f"no published error for depth {bad[0]}; depths: {sorted(RESNET_CIFAR10_TEST_ERROR)}")
    score(args)


if __name__ == "__main__":
    main()
