"""Shared helpers of the bench scripts: timing, the machine line, and RESULTS.md sections."""

from __future__ import annotations

import os
import platform
import re
import resource
import time

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "RESULTS.md")


class Timer:
    """Wall time and CPU utilisation (CPU seconds of this process and its children / wall / cores)."""

    def __enter__(self) -> Timer:
        self._wall, self._cpu = time.perf_counter(), self._cpu_now()
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self._wall
        self.cpu_seconds = self._cpu_now() - self._cpu
        self.utilisation = self.cpu_seconds / max(self.seconds, 1e-9) / (os.cpu_count() or 1)

    @staticmethod
    def _cpu_now() -> float:
        own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def machine() -> str:
    import jax

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    dev = jax.devices()[0]
    return (f"{cpu}, {os.cpu_count()} cores; JAX {jax.__version__} on {dev.platform} "
            f"({dev.device_kind}), {jax.device_count()} device(s)")


def write_section(name: str, text: str) -> None:
    """Replaces (or appends) the section ``name`` of bench/RESULTS.md, leaving the others."""
    start, end = f"<!-- {name}: begin -->", f"<!-- {name}: end -->"
    block = f"{start}\n{text.strip()}\n{end}\n"
    current = open(RESULTS).read() if os.path.isfile(RESULTS) else "# Benchmarks\n\n"
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end) + "\n?", re.S)
    current = pattern.sub(lambda _: block, current) if pattern.search(current) else current.rstrip() + "\n\n" + block
    with open(RESULTS, "w") as f:
        f.write(current)
