#!/bin/sh
# VKDNW's two scores (vkdnw_dim, vkdnw_entropy; the vkdnw and vkdnw_agg ensembles are
# computed from them by later.py) on the 1,000-cell sample, under VKDNW's protocol:
# Kaiming-normal fan-in weights, zero biases, every BatchNorm in eval mode at its
# initial statistics, 64 Gaussian images (no data, so every dataset can be scored):
#   sh results/nb201/run_vkdnw_sample.sh [cifar10 cifar100 ImageNet16-120]
# Resumable: rerun the same command after a crash. One program per conv pattern
# (per-cell), not sample_run's arch-as-data program: on a 2-core CPU about 15 s a
# cell with its compile for CIFAR-10, against 20 s for the arch-as-data program, and
# about C/10 times the run time for C classes (one backward pass per class).
set -e
. "$(dirname "$0")/sample_run.sh"
for dataset in ${*:-cifar10 cifar100 ImageNet16-120}; do
  sample_run "results/nb201/${dataset}_sample1000_vkdnw.jsonl" --dataset "$dataset" \
    --proxies vkdnw_dim,vkdnw_entropy --weight-init kaiming --bias-init zero --strategy per-cell --no-progress
done
