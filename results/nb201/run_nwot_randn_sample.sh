#!/bin/sh
# nwot_randn (NASWOT on the 64 fixed N(0, 1) images, the protocol of AZ-NAS's and VKDNW's NB201
# tables: Kaiming-normal fan-in weights, zero biases) on the 1,000-cell sample. Data-free, so every
# dataset:
#   sh results/nb201/run_nwot_randn_sample.sh [cifar10 cifar100 ImageNet16-120]
# Resumable: rerun the same command after a crash.
set -e
. "$(dirname "$0")/sample_run.sh"
for dataset in ${*:-cifar10 cifar100 ImageNet16-120}; do
  sample_run "results/nb201/${dataset}_sample1000_nwot_randn.jsonl" --dataset "$dataset" --proxies nwot_randn \
    --weight-init kaiming --bias-init zero --no-progress
done
