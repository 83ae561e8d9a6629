"""Wall time of a command-line run, first with an empty compilation cache, then again.

Each configuration runs ``python -m zcjax.score`` twice in fresh processes
that share a new, empty ``--compile-cache`` folder: the first run compiles
and stores its programs, the second loads them. Process start, data loading
and writing are included, as a user sees them. The two runs' outputs are
compared byte for byte.

    python bench/bench_compile_cache.py     # prints a table, writes the 'compile_cache' section of bench/RESULTS.md
"""

from __future__ import annotations

import filecmp
import os
import subprocess
import sys
import tempfile
import time

from _report import Timer, machine, write_section

HEAVY = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
CONFIGS = [
    ("README's first command: 4 random cells, every proxy (auto)", ["--sample", "4", "--seed", "0"]),
    ("one 5-conv cell, every proxy, per-cell", ["--arch", HEAVY, "--strategy", "per-cell"]),
    ("10 random cells, every proxy, eager", ["--sample", "10", "--seed", "2", "--strategy", "eager"]),
    ("2 random cells, every proxy, batched", ["--sample", "2", "--seed", "3", "--strategy", "batched"]),
    ("64 random cells, data-free proxies, batched", ["--sample", "64", "--seed", "1", "--proxies", "data-free",
                                                     "--strategy", "batched"]),
]


def cache_size(folder: str) -> tuple[int, float]:
    files = [os.path.join(folder, f) for f in os.listdir(folder) if f.endswith("-cache")]
    return len(files), sum(os.path.getsize(f) for f in files) / 2**20


def main() -> None:
    rows = []
    for label, argv in CONFIGS:
        with tempfile.TemporaryDirectory() as tmp:
            cache, times, outputs = os.path.join(tmp, "xla"), [], []
            for run in (1, 2):
                out = os.path.join(tmp, f"run{run}.jsonl")
                cmd = [sys.executable, "-m", "zcjax.score", *argv, "--compile-cache", cache,
                       "--no-progress", "--output", out]
                with Timer() as t:
                    subprocess.run(cmd, check=True, stderr=subprocess.DEVNULL)
                times.append(t.seconds)
                outputs.append(out)
            programs, mib = cache_size(cache)
            same = filecmp.cmp(*outputs, shallow=False)
            rows.append((label, *times, programs, mib, same))
            print(f"{label}: {times[0]:.1f} s, then {times[1]:.1f} s ({programs} programs, {mib:.1f} MiB, "
                  f"identical: {same})", flush=True)
    lines = [
        "## Compilation cache: a run, then the same run again", "",
        f"Machine: {machine()}.",
        f"Measured {time.strftime('%Y-%m-%d')} with `python bench/bench_compile_cache.py`: "
        "`python -m zcjax.score` twice in fresh processes sharing a new `--compile-cache` folder "
        "(wall time, process start included).", "",
        "| run | first s | second s | first / second | programs cached | cache MiB | same output |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
        *(f"| {label} | {a:.1f} | {b:.1f} | {a / b:.2f} | {n} | {mib:.1f} | {'yes' if same else 'NO'} |"
          for label, a, b, n, mib, same in rows),
    ]
    text = "\n".join(lines)
    print(text)
    write_section("compile_cache", text)


if __name__ == "__main__":
    main()
