"""Engine throughput on an accelerator: batched program per proxy set and chunk size, eager and per-cell beside it.

Run through ``bench/gpu.sh`` on the GPU machine. For each (proxy set, chunk
size) it builds the batched arch-as-data program, times its first chunk
(compile + run) and then whole chunks of random cells, and reads the device's
peak memory; out-of-memory is recorded, not fatal. Eager and per-cell rows on
a few cells follow for comparison. The projection for all 15,625 cells with
every proxy is ``compile + 15625 / cells_per_s`` of the best chunk size.

Everything is written as it is measured: one JSON line per row to
``OUT/gpu.jsonl`` and the Markdown table to ``OUT/gpu.md`` and to the ``gpu``
section of bench/RESULTS.md. A time budget (``--budget-s``) skips what would
not fit, so a lease never ends with nothing.

    python bench/bench_gpu.py --out /tmp/gpu              # GPU plan (about 6-8 minutes on one H100/H200)
    python bench/bench_gpu.py --tiny --out /tmp/gpu-tiny  # small networks and chunks: a CPU check of the script
    python bench/bench_gpu.py --tiny --stand-ins --out /tmp/gpu-tiny  # and cheap stand-in proxies (the test's run)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

from _report import Timer, machine, write_section

ALL_CELLS = 15625
FREE = "data-free"
EVERY = "paper"  # the paper's proxies and their SSNR (bench_later.py measures the later ones on CPU)
# Every proxy: third, at chunk 2 (te_ntk's 64 reverse passes over the 64 images, vmapped, need about 20 GB a cell
# on the full-size network, by our estimate; VKDNW adds ten reverse passes a cell). An out-of-memory is recorded.
ALL = "all"
# --tiny --stand-ins (the test suite's check of this script): cheap proxies in each set's row, so that every path
# of the script (each strategy, the table, the projections, the results section) runs in a few minutes on a CPU.
# The sets' own programs are the engine tests' subject (test_core, test_later_proxies, test_vkdnw).
STAND_INS = {EVERY: "grad_norm,snip", FREE: "l2_norm,params", ALL: "grad_norm,nwot"}


def _peak_bytes() -> int | None:
    import jax

    stats = jax.local_devices()[0].memory_stats() or {}
    return stats.get("peak_bytes_in_use")


def _cells(n: int, seed: int) -> list[tuple[int, str]]:
    from zcjax.spaces import nb201

    rng = np.random.default_rng(seed)
    return [(int(i), nb201.arch_at(int(i))) for i in rng.choice(ALL_CELLS, n, replace=False)]


def _is_oom(err: Exception) -> bool:
    text = str(err)
    return "RESOURCE_EXHAUSTED" in text or "out of memory" in text.lower()


def measure(proxies: str, strategy: str, chunk: int, n_cells: int, x, y, size: dict, seed: int,
            score_with: str | None = None) -> dict:
    """One row: first call (compile + first chunk), then ``n_cells`` more cells timed.

    ``score_with`` (a stand-in proxy list) is scored in place of ``proxies``; the row keeps the set's name.
    """
    from zcjax import ScoreConfig, Scorer

    config = ScoreConfig(proxies=score_with or proxies, strategy=strategy,
                         chunk_size=chunk if strategy == "batched" else None, **size)
    scorer = Scorer(config, x, y)
    first = chunk if strategy == "batched" else 1
    row = {"proxies": proxies, "strategy": strategy, "chunk": chunk if strategy == "batched" else None,
           "cells": n_cells}
    try:
        with Timer() as t0:
            list(scorer.score(_cells(first, seed)))
        with Timer() as t1:
            rows = list(scorer.score(_cells(n_cells, seed + 1)))
    except Exception as err:  # noqa: BLE001 - an OOM (or other device failure) is a result, not a crash
        if not _is_oom(err):
            raise
        return {**row, "error": "out of memory"}
    finite = sum(all(np.isfinite(v) for k, v in r.items() if k not in ("index", "arch")) for r in rows)
    return {**row, "first_call_s": t0.seconds, "run_s": t1.seconds, "cells_per_s": n_cells / t1.seconds,
            "finite_rows": finite, "peak_bytes": _peak_bytes()}


def _table(rows: list[dict], header: str) -> str:
    lines = [header, "", "| proxies | strategy | chunk | cells | first call s | cells/s | s per cell | peak GiB | note |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['proxies']} | {r['strategy']} | {r['chunk'] or ''} | {r['cells']} | | | | | "
                         f"{r['error']} |")
            continue
        peak = "" if r.get("peak_bytes") is None else f"{r['peak_bytes'] / 2**30:.1f}"
        note = "" if r["finite_rows"] == r["cells"] else f"{r['cells'] - r['finite_rows']} rows with NaN"
        lines.append(f"| {r['proxies']} | {r['strategy']} | {r['chunk'] or ''} | {r['cells']} | "
                     f"{r['first_call_s']:.1f} | {r['cells_per_s']:.2f} | {1 / r['cells_per_s']:.3f} | {peak} | "
                     f"{note} |")
    for proxies, what in ((EVERY, "every proxy of the paper"), (ALL, "every proxy (all)")):
        best = [r for r in rows if r["proxies"] == proxies and r["strategy"] == "batched" and "error" not in r]
        if best:
            b = max(best, key=lambda r: r["cells_per_s"])
            total = b["first_call_s"] + ALL_CELLS / b["cells_per_s"]
            lines += ["", f"Projected time for all {ALL_CELLS:,} cells with {what}: {total / 60:.1f} min "
                          f"(batched, chunk {b['chunk']}: {b['first_call_s']:.0f} s first call + "
                          f"{ALL_CELLS:,} / {b['cells_per_s']:.1f} cells/s)."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiny", action="store_true", help="small networks and chunks (a CPU check of the script)")
    parser.add_argument("--out", default=os.environ.get("OUT", "."), help="folder for gpu.jsonl and gpu.md")
    parser.add_argument("--budget-s", type=float, default=420.0, help="skip rows that would start after this")
    parser.add_argument("--no-results", action="store_true", help="do not write bench/RESULTS.md")
    parser.add_argument("--stand-ins", action="store_true",
                        help="with --tiny: score each row with a cheap stand-in for its proxy set (a check of the "
                             "script's every path in a few minutes, not of the engine's programs)")
    args = parser.parse_args()
    if args.stand_ins and not args.tiny:
        parser.error("--stand-ins needs --tiny")
    import jax

    from zcjax.data import get_minibatch

    start = time.monotonic()
    os.makedirs(args.out, exist_ok=True)
    x, y = get_minibatch("cifar10", 64)
    if args.tiny:
        size = {"channels": 4, "cells_per_stage": 1}
        plan = [(EVERY, "batched", 2, 2), (FREE, "batched", 2, 4), (ALL, "batched", 1, 1), (EVERY, "eager", 1, 1),
                (EVERY, "per-cell", 1, 1)]
    else:
        size = {}
        # Most informative first: every proxy at a middle chunk (the projection), then the chunk sweep.
        plan = [(EVERY, "batched", 32, 64), (FREE, "batched", 32, 128), (ALL, "batched", 2, 8),
                (FREE, "batched", 128, 256), (EVERY, "batched", 128, 256), (FREE, "batched", 8, 64),
                (EVERY, "batched", 8, 32), (EVERY, "eager", 1, 3), (EVERY, "per-cell", 1, 2)]
    stand_ins = STAND_INS if args.stand_ins else {}
    header = (f"## GPU: batched program per chunk size, eager and per-cell\n\nMachine: {machine()}. Measured "
              f"{time.strftime('%Y-%m-%d')} with `bash bench/gpu.sh{' --tiny' if args.tiny else ''}` "
              f"(minibatch 64, CIFAR-10{', tiny networks' if args.tiny else ''}"
              f"{', stand-in proxies ' + str(STAND_INS) if args.stand_ins else ''}). First call: compile plus the "
              "first chunk; cells/s from the following cells. Peak: device memory high-water mark so far.")
    rows: list[dict] = []
    jsonl = open(os.path.join(args.out, "gpu.jsonl"), "a")
    for i, (proxies, strategy, chunk, n) in enumerate(plan):
        if time.monotonic() - start > args.budget_s:
            rows.append({"proxies": proxies, "strategy": strategy, "chunk": chunk, "cells": n,
                         "error": "skipped: time budget"})
        else:
            rows.append(measure(proxies, strategy, chunk, n, x, y, size, seed=100 * i,
                                score_with=stand_ins.get(proxies)))
            jax.clear_caches()
        jsonl.write(json.dumps(rows[-1]) + "\n")
        jsonl.flush()
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
        text = _table(rows, header)
        with open(os.path.join(args.out, "gpu.md"), "w") as f:
            f.write(text + "\n")
    print(text)
    if not args.no_results:
        write_section("gpu-tiny" if args.tiny else "gpu", text)


if __name__ == "__main__":
    main()
