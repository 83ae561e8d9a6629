"""Multi-host scoring through ``jax.distributed``: every process scores its share, process 0 writes.

Start one process per host (or several on one machine, as the tests do), each with::

    python -m zcjax.score ... --coordinator HOST:PORT --num-processes N --process-id I

or ``--distributed`` where JAX detects the cluster itself (SLURM, Cloud TPU, ...).
Each process scores its cells on its own local devices; the rows are gathered to
every process in order, and only process 0 writes them.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

import jax
import numpy as np


def initialize(coordinator: str | None = None, num_processes: int | None = None,
               process_id: int | None = None) -> None:
    """Joins the processes of a multi-host run (call before any other JAX work).

    Args:
      coordinator: 'host:port' of process 0; None lets JAX detect the cluster.
      num_processes: how many processes take part.
      process_id: this process's rank, 0 to num_processes - 1.
    """
    if coordinator is not None and (num_processes is None or process_id is None):
        raise ValueError("a coordinator address needs the number of processes and this process's id")
    if num_processes is not None and process_id is not None and not 0 <= process_id < num_processes:
        raise ValueError(f"process id must be between 0 and {num_processes - 1}, got {process_id}")
    # CPU hosts exchange results through Gloo (the default CPU backend has no collectives).
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator_address=coordinator, num_processes=num_processes,
                               process_id=process_id)


_DEVICE_COUNT_FLAG = "xla_force_host_platform_device_count"


def virtual_cpu_env(devices: int, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a child process whose JAX sees ``devices`` virtual CPU devices.

    The device count is an XLA flag read once, when JAX starts its backend, so a
    multi-device run on one CPU (a test, a benchmark row) is a process of its own.

    Args:
      devices: how many CPU devices the child sees.
      env: the environment to extend (default: this process's); its other XLA flags are kept.

    Returns:
      A copy of ``env`` with the device count appended to ``XLA_FLAGS`` (replacing an inherited one) and
      ``JAX_PLATFORMS=cpu``.
    """
    if devices < 1:
        raise ValueError(f"devices must be positive, got {devices}")
    env = dict(os.environ if env is None else env)
    kept = [f for f in env.get("XLA_FLAGS", "").split() if not f.startswith(f"--{_DEVICE_COUNT_FLAG}=")]
    env["XLA_FLAGS"] = " ".join([*kept, f"--{_DEVICE_COUNT_FLAG}={devices}"])
    env["JAX_PLATFORMS"] = "cpu"
    return env


def is_writer() -> bool:
    """Whether this process writes the results (process 0)."""
    return jax.process_index() == 0


def allgather(values: np.ndarray) -> np.ndarray:
    """Every process's ``values`` (same shape everywhere), stacked on a new leading axis, in float64."""
    from jax.experimental import multihost_utils

    with jax.enable_x64(True):
        return np.asarray(multihost_utils.process_allgather(np.asarray(values, np.float64)))


def broadcast_indices(indices: Iterable[int], size: int) -> set[int]:
    """Process 0's set of indices (below ``size``), on every process."""
    from jax.experimental import multihost_utils

    mask = np.zeros(size, np.int32)
    mask[list(indices)] = 1
    mask = np.asarray(multihost_utils.broadcast_one_to_all(mask))
    return {int(i) for i in np.flatnonzero(mask)}
