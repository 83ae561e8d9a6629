#!/usr/bin/env bash
# GPU benchmark in one go (about 6-8 minutes on one H100/H200): engine throughput per strategy
# and chunk size, peak memory, and the projected time for all 15,625 cells with every proxy.
#
#   bash bench/gpu.sh            # on the GPU machine; results in $OUT (or bench/gpu-out) and bench/RESULTS.md
#   bash bench/gpu.sh --tiny     # small networks and chunks: checks the script on a CPU (~7 min on 2 cores)
#   bash bench/gpu.sh --tiny --stand-ins   # and cheap proxies in each row: every path of the script in minutes
#                                          # (tests/test_bench_gpu.py, run by CI)
#
# The GPU machine has no network: zcjax is installed from this checkout without dependencies
# (JAX with CUDA, Flax, Optax, SciPy, tqdm, filelock are already there).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-bench/gpu-out}
py=${PYTHON:-python3}   # the GPU machine: its python3 (JAX with CUDA)
mkdir -p "$out"
if ! "$py" -c "import zcjax" 2>/dev/null; then
  "$py" -m pip install -q --no-deps --no-index --no-build-isolation -e . >"$out/install.log" 2>&1 \
    || { echo "gpu.sh: cannot install zcjax (see $out/install.log)" >&2; exit 2; }
fi
"$py" -c "import jax; print('devices:', jax.devices())" | tee "$out/devices.txt"
export PYTHONUNBUFFERED=1 ZCJAX_COMPILE_CACHE=off
"$py" bench/bench_gpu.py --out "$out" "$@" 2>&1 | tee "$out/log.txt"
cp bench/RESULTS.md "$out/RESULTS.md"
