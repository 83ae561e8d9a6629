"""bench/gpu.sh runs end to end on CPU with tiny networks, so its first GPU run cannot fail for a CPU reason."""

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.slow  # with every set's own proxies (no --stand-ins) about 7 minutes on the 2-core machine
def test_gpu_script_tiny_on_cpu(tmp_path):
    env = {**os.environ, "OUT": str(tmp_path), "PYTHON": sys.executable, "JAX_PLATFORMS": "cpu"}
    # No time budget here: a slow shared CPU must not skip a row (the GPU plan's budget is for the lease).
    proc = subprocess.run(["bash", os.path.join(ROOT, "bench", "gpu.sh"), "--tiny", "--stand-ins", "--no-results",
                           "--budget-s", "1e9"],
                          env=env,
                          capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    rows = [json.loads(line) for line in (tmp_path / "gpu.jsonl").read_text().splitlines()]
    assert [(r["proxies"], r["strategy"]) for r in rows] == [
        ("paper", "batched"), ("data-free", "batched"), ("all", "batched"), ("paper", "eager"), ("paper", "per-cell")]
    assert all("error" not in r and r["finite_rows"] == r["cells"] and r["cells_per_s"] > 0 for r in rows), rows
    table = (tmp_path / "gpu.md").read_text()
    assert table.count("\n| paper | ") == 3 and "Projected time for all 15,625 cells with every proxy of the paper" in table
    assert "Projected time for all 15,625 cells with every proxy (all)" in table
    assert "stand-in proxies" in table  # a stand-in row is never mistaken for a measurement of its set
    assert (tmp_path / "RESULTS.md").is_file() and "devices:" in (tmp_path / "devices.txt").read_text()
