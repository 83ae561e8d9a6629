#!/bin/sh
# AZ-NAS's three scores (and FLOPs, its complexity term) on the 1,000-cell sample,
# under AZ-NAS's protocol: Kaiming-normal fan-in weights, zero biases, a fixed batch
# of 64 Gaussian images (no data, so every dataset can be scored):
#   sh results/nb201/run_az_sample.sh [cifar10 cifar100 ImageNet16-120]
# Resumable: rerun the same command after a crash.
set -e
. "$(dirname "$0")/sample_run.sh"
for dataset in ${*:-cifar10 cifar100 ImageNet16-120}; do
  sample_run "results/nb201/${dataset}_sample1000_az.jsonl" --dataset "$dataset" \
    --proxies az_expressivity,az_progressivity,az_trainability,flops --weight-init kaiming --bias-init zero
done
