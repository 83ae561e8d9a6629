#!/bin/sh
# NAS-Bench-Macro, CIFAR-10: zero-cost proxies of a seeded sample of 200 architectures against
# the benchmark's mean test accuracy. Resumable: rerun the same command after a crash.
#   sh results/macro/run_macro.sh            # data-free proxies (synflow, params, flops)
#   sh results/macro/run_macro.sh data       # + snip, grad_norm, jacob_cov on the shipped minibatch of 64
# Cost on the shared 2-core CPU machine: ~5 s per architecture data-free (each architecture is its own
# network and compiles its own program), ~40 s with the minibatch proxies (depthwise-convolution
# gradients dominate on CPU).
# The finished file is gzipped (results/**/*.jsonl is not tracked); to resume, gunzip it first.
set -e
cd "$(dirname "$0")/../.."
PY=${PYTHON:-python}
if [ "${1:-}" = data ]; then
  OUT=results/macro/cifar10_sample200_all.jsonl
  PROXIES=synflow,params,flops,snip,grad_norm,jacob_cov
else
  OUT=results/macro/cifar10_sample200_data_free.jsonl
  PROXIES=synflow,params,flops
fi
if [ -f "$OUT.gz" ] && [ ! -f "$OUT" ]; then gunzip -k "$OUT.gz"; fi
$PY results/macro/score_macro.py --sample 200 --seed 0 --init-seed 0 --proxies "$PROXIES" --output "$OUT" --resume
$PY results/macro/score_macro.py --table "$OUT" | tee "${OUT%.jsonl}.md"
gzip -f "$OUT"
