"""Two processes joined by jax.distributed (on one machine) write the same file as one process.

Each process is its own Python: jax.distributed must be initialised before JAX starts.
"""

import os
import shutil
import socket
import subprocess
import sys

import pytest

from zcjax.results import read_rows, sidecar_path

SCRIPT = """
import sys, warnings
n_proc, pid, port, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
from zcjax import distributed
if n_proc > 1:
    distributed.initialize(f"localhost:{port}", n_proc, pid)
import zcjax
from zcjax.data import get_minibatch
from zcjax.score import run_scoring
from zcjax.spaces import nb201
warnings.simplefilter("ignore")
x, y = get_minibatch("cifar10", 8)
config = zcjax.ScoreConfig(proxies="snip,synflow,params,synflow_ssnr", strategy="batched", chunk_size=1,
                           channels=4, cells_per_stage=1)
cells = [(i, nb201.arch_at(i)) for i in (7, 0, 3, 12, 5)]
run_scoring(cells, config, out, x=x, y=y, resume=True, progress=False)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _start(n_proc: int, pid: int, port: int, out: str) -> subprocess.Popen:
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    return subprocess.Popen([sys.executable, "-c", SCRIPT, str(n_proc), str(pid), str(port), out], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait(proc: subprocess.Popen) -> None:
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-3000:]


@pytest.mark.slow  # an end-to-end multi-program check: run by .ci/run, not the README command
def test_two_processes_write_what_one_process_writes(tmp_path):
    single = str(tmp_path / "single.jsonl")
    _wait(_start(1, 0, 0, single))
    with open(single) as f:
        lines = f.readlines()
    assert len(lines) == 5

    # The two-process run resumes a file that already holds two rows: process 0
    # reads it and tells process 1 what is left.
    multi = str(tmp_path / "multi.jsonl")
    with open(multi, "w") as f:
        f.writelines(lines[:2])
    shutil.copy(sidecar_path(single), sidecar_path(multi))  # same settings: resume may append
    port = _free_port()
    procs = [_start(2, pid, port, multi) for pid in (0, 1)]
    for proc in procs:
        _wait(proc)
    assert read_rows(multi) == read_rows(single)
