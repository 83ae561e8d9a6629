#!/bin/sh
# meco_randn (MeCo on one fixed N(0, 1) 64 x 64 image, MeCo's measure file) on the
# 1,000-cell sample, PyTorch's default init. Data-free, so every dataset:
#   sh results/nb201/run_meco_randn_sample.sh [cifar10 cifar100 ImageNet16-120]
# Resumable: rerun the same command after a crash.
set -e
. "$(dirname "$0")/sample_run.sh"
for dataset in ${*:-cifar10 cifar100 ImageNet16-120}; do
  sample_run "results/nb201/${dataset}_sample1000_meco_randn.jsonl" --dataset "$dataset" --proxies meco_randn \
    --no-progress
done
