"""Sharding over several devices gives the same scores as one device.

Each run is its own process: the virtual CPU device count must be set before JAX starts.
"""

import json
import subprocess
import sys

import numpy as np
import pytest

from zcjax.distributed import virtual_cpu_env

SCRIPT = """
import json, sys, warnings
import jax, numpy as np
import zcjax
from zcjax.data import get_minibatch
from zcjax.spaces import nb201
warnings.simplefilter("ignore")
x, y = get_minibatch("cifar10", 8)
config = zcjax.ScoreConfig(proxies="snip,jacob_cov,synflow,params,snip_ssnr", strategy="batched",
                           chunk_size=int(sys.argv[1]), channels=4, cells_per_stage=1)
cells = [(i, nb201.arch_at(i)) for i in (0, 1, 2, 3, 4, 5, 6)]
rows = zcjax.score_cells(cells, config, x, y)
print(json.dumps({"devices": jax.device_count(), "rows": rows}))
"""


def _run(devices: int, chunk: int) -> dict:
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(chunk)], env=virtual_cpu_env(devices),
                         capture_output=True, text=True, check=True, timeout=600)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.slow  # an end-to-end multi-program check: run by .ci/run, not the README command
def test_sharded_scores_equal_single_device():
    single = _run(1, 1)
    for chunk in (4, 8):  # 1 cell per device (unbatched program), 2 per device (vmapped)
        sharded = _run(4, chunk)  # 7 cells: the last chunk is padded
        assert single["devices"] == 1 and sharded["devices"] == 4
        _assert_same_rows(single["rows"], sharded["rows"])


def _assert_same_rows(rows, others):
    assert [r["index"] for r in others] == [r["index"] for r in rows]
    for a, b in zip(rows, others):
        for name, value in a.items():
            if name in ("index", "arch"):
                assert value == b[name]
            else:
                np.testing.assert_allclose(b[name], value, rtol=2e-5, err_msg=f"{name} of {a['arch']}")


def test_virtual_cpu_env_appends_the_device_count_and_keeps_other_flags():
    env = virtual_cpu_env(4, {"XLA_FLAGS": "--xla_backend_optimization_level=1", "HOME": "/h"})
    assert env == {"XLA_FLAGS": "--xla_backend_optimization_level=1 --xla_force_host_platform_device_count=4",
                   "HOME": "/h", "JAX_PLATFORMS": "cpu"}
    assert virtual_cpu_env(2, {})["XLA_FLAGS"] == "--xla_force_host_platform_device_count=2"
    inherited = {"XLA_FLAGS": "--xla_force_host_platform_device_count=8 --xla_cpu_enable_fast_math=false"}
    assert virtual_cpu_env(2, inherited)["XLA_FLAGS"] == ("--xla_cpu_enable_fast_math=false "
                                                         "--xla_force_host_platform_device_count=2")
    with pytest.raises(ValueError, match="devices must be positive, got 0"):
        virtual_cpu_env(0)
