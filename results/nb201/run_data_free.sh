#!/bin/sh
# Full NAS-Bench-201 space, data-free proxies, one dataset per call:
#   sh results/nb201/run_data_free.sh cifar10
# Resumable: rerun the same command after a crash.
set -e
ds=${1:-cifar10}
python -m zcjax.score --all --dataset "$ds" \
  --proxies synflow,synflow_ssnr,synflow_ssnr_layerwise,params,flops,l2_norm \
  --strategy batched --chunk-size 1 --init-seed 0 \
  --output "results/nb201/${ds}_data_free.jsonl" --resume
