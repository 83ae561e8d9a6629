#!/bin/sh
# NAS-Bench-Macro, CIFAR-10: the data-free proxies of all 6,561 architectures (synflow and its SSNR,
# l2_norm, params, flops) against the benchmark's mean test accuracy, in the arch-as-data network
# (one program for every architecture; each architecture's weights drawn by its static network's init):
#   sh results/macro/run_full.sh
# Resumable: rerun the same command after a crash. A run stopped part-way may be committed as
# OUT.partial.gz: it is resumed from there. Then the evaluation table (zcjax.evaluate).
# Cost on the shared 2-core CPU: about 0.7 s an architecture, about 75 min in all (bench/NOTES.md,
# session 18: DepthwiseConv and the model engine's kept probes made it 20x faster than before).
set -e
cd "$(dirname "$0")/../.."
PY=${PYTHON:-python}
OUT=results/macro/cifar10_full_data_free.jsonl
if [ ! -e "$OUT.gz" ]; then
  if [ -e "$OUT.partial.gz" ] && [ ! -e "$OUT" ]; then gunzip -c "$OUT.partial.gz" > "$OUT"; fi
  $PY -m zcjax.score --space nas_bench_macro --trained --init-seed 0 --strategy batched \
    --proxies synflow,synflow_ssnr,synflow_ssnr_layerwise,l2_norm,params,flops --output "$OUT" --resume --no-progress
  gzip -9 "$OUT" && rm -f "$OUT.partial.gz"
fi
$PY -m zcjax.evaluate "$OUT.gz" | tee results/macro/cifar10_full_data_free.md
