"""Depthwise convolutions on XLA:CPU, and what they cost a NAS-Bench-Macro run, before and after.

    python bench/bench_depthwise.py [--cells 6] [--repeats 5]

Two tables, written to the ``depthwise`` section of bench/RESULTS.md:

* one depthwise layer, forward and backward (``jax.grad`` of a sum by input
  and kernel, jitted), as XLA's grouped convolution (``method='conv'``) and as
  :class:`zcjax.spaces.depthwise.DepthwiseConv`'s sum of shifted slices, at
  the shapes NAS-Bench-Macro and NAS-Bench-301 use, float32 and float64;
* NAS-Bench-Macro's data-free set (synflow, params, flops) in the arch-as-data
  program (``--strategy batched``), seconds per architecture once warm, for
  the grouped convolution with every abstract probe traced again (before this
  change), the shifted slices alone, and ``DepthwiseConv``'s default (shifted
  slices where traced) with the model engine's kept probes (now).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

from _report import machine, write_section

LAYERS = [  # (name, batch, size, channels, kernel, stride, dilation)
    ("Macro MB3_K3, stage 1", 1, 32, 96, 3, 1, 1),
    ("Macro MB6_K5, stride 2", 1, 32, 192, 5, 2, 1),
    ("Macro MB6_K5, stage 3", 1, 4, 1536, 5, 1, 1),
    ("NB301 sep_conv_5x5, C=16", 64, 32, 16, 5, 1, 1),
    ("NB301 dil_conv_3x3, C=64", 64, 8, 64, 3, 1, 2),
]


def _time(f, *args, repeats: int) -> float:
    jax.block_until_ready(f(*args))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(f(*args))
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def layer_table(repeats: int) -> str:
    from zcjax.spaces.depthwise import depthwise_conv

    lines = ["| layer (N, HxW, C, k, stride, dilation) | dtype | grouped conv ms | shifts ms | speed-up |",
             "| --- | --- | ---: | ---: | ---: |"]
    for name, n, size, c, k, stride, dilation in LAYERS:
        pad = dilation * (k - 1) // 2
        for dtype in ("float32", "float64"):
            with jax.enable_x64(dtype == "float64"):
                rng = np.random.default_rng(0)
                x = jnp.asarray(rng.normal(size=(n, size, size, c)), dtype)
                w = jnp.asarray(rng.normal(size=(k, k, 1, c)), dtype)
                ms = {}
                for method in ("conv", "shifts"):
                    def loss(x, w, method=method):
                        return jnp.sum(depthwise_conv(x, w, (stride, stride), ((pad, pad), (pad, pad)),
                                                      (dilation, dilation), method) ** 2)
                    ms[method] = 1e3 * _time(jax.jit(jax.grad(loss, argnums=(0, 1))), x, w, repeats=repeats)
            lines.append(f"| {name} ({n}, {size}x{size}, {c}, {k}, {stride}, {dilation}) | {dtype} | "
                         f"{ms['conv']:.2f} | {ms['shifts']:.2f} | {ms['conv'] / ms['shifts']:.1f}x |")
            print(lines[-1], flush=True)
    return "\n".join(lines)


def macro_table(cells: int) -> str:
    import zcjax.model_scoring as model_scoring
    import zcjax.spaces.depthwise as depthwise
    from zcjax.space_scoring import SpaceScoreConfig, SpaceScorer

    config = SpaceScoreConfig(space="nas_bench_macro", proxies=("synflow", "params", "flops"), strategy="batched")
    archs = SpaceScorer(config).space.sample(11, cells + 2)
    kept, auto = model_scoring._MAX_PROBES, depthwise._auto_method
    runs = [("grouped conv, every probe traced (before)", "conv", 0),
            ("shifted slices, every probe traced", "shifts", 0),
            ("`auto` (shifted slices where traced), kept probes (now)", "auto", kept)]
    lines = ["| run | first 2 architectures s (compile) | s per architecture after (median) | speed-up |",
             "| --- | ---: | ---: | ---: |"]
    rows, base = {}, None
    try:
        for name, method, probes in runs:
            depthwise._auto_method = auto if method == "auto" else (lambda x, method=method: method)
            model_scoring._MAX_PROBES = probes
            model_scoring._PROBES.clear()
            jax.clear_caches()
            scorer = SpaceScorer(config)
            start = time.perf_counter()
            for arch in archs[:2]:
                rows.setdefault(method, []).append(scorer.score_one(arch))
            first = time.perf_counter() - start
            times = []
            for arch in archs[2:]:
                start = time.perf_counter()
                scorer.score_one(arch)
                times.append(time.perf_counter() - start)
            per = statistics.median(times)
            base = base or per
            lines.append(f"| {name} | {first:.1f} | {per:.2f} | {base / per:.1f}x |")
            print(lines[-1], flush=True)
    finally:
        depthwise._auto_method = auto
        model_scoring._MAX_PROBES = kept
    worst = max(abs(a["synflow"] - b["synflow"]) / abs(a["synflow"])
                for other in ("shifts", "auto") for a, b in zip(rows["conv"], rows[other]))
    lines += ["", f"synflow of the same architectures, grouped conv against shifted slices: largest relative "
                  f"difference {worst:.1e} (float64)."]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cells", type=int, default=6, help="timed NAS-Bench-Macro architectures after 2 warm-up")
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per layer (median)")
    args = parser.parse_args()
    layers = layer_table(args.repeats)
    macro = macro_table(args.cells)
    text = "\n\n".join([
        "## Depthwise convolutions on CPU (bench/bench_depthwise.py)",
        f"Machine: {machine()}. Measured {time.strftime('%Y-%m-%d')} with "
        f"`python bench/bench_depthwise.py --cells {args.cells} --repeats {args.repeats}`.",
        "### One depthwise layer, forward and backward (jitted grad by input and kernel; median)", layers,
        "### NAS-Bench-Macro, synflow + params + flops, arch-as-data program (`--strategy batched`)", macro])
    write_section("depthwise", text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
