#!/bin/sh
# NAS-Bench-Macro, CIFAR-10: the data-free proxies of all 6,561 architectures (synflow and its SSNR,
# l2_norm, params, flops) against the benchmark's mean test accuracy, in the arch-as-data network
# (one program for every architecture; each architecture's weights drawn by its static network's init):
#   sh results/macro/run_full.sh
# Resumable: rerun the same command after a crash. A run stopped part-way may be committed as
# OUT.partial.gz: it is resumed from there. Then the evaluation table (zcjax.evaluate).
# Cost on the shared 2-core CPU: about 0.7 s an architecture alone, about 75 min in all (bench/NOTES.md,
# session 18); sharing the cores with the test suite, 2-3 s an architecture (sessions 19-20).
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
MD=results/macro/cifar10_full_data_free.md
$PY -m zcjax.evaluate "$OUT.gz" > "$MD.table"  # no pipe: set -e stops here if the evaluation fails
{
  echo "# NAS-Bench-Macro, CIFAR-10: data-free proxies of all 6,561 architectures against mean test accuracy"
  echo
  echo 'Made with `sh results/macro/run_full.sh` (scores: `cifar10_full_data_free.jsonl.gz`, settings beside it;'
  echo 'table: `python -m zcjax.evaluate results/macro/cifar10_full_data_free.jsonl.gz`). No published zero-cost'
  echo 'correlations exist for NAS-Bench-Macro in our spec; params and flops equal the benchmark'"'"'s own columns.'
  echo
  cat "$MD.table"
} > "$MD"
rm -f "$MD.table"
cat "$MD"
