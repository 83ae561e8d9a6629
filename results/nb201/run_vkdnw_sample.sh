#!/bin/sh
# VKDNW's two scores (vkdnw_dim, vkdnw_entropy; the vkdnw and vkdnw_agg ensembles are
# computed from them by later.py) on the 1,000-cell sample, under VKDNW's protocol:
# Kaiming-normal fan-in weights, zero biases, every BatchNorm in eval mode at its
# initial statistics, 64 Gaussian images (no data, so every dataset can be scored):
#   sh results/nb201/run_vkdnw_sample.sh [cifar10 cifar100 ImageNet16-120]
# Resumable: rerun the same command after a crash. The eager strategy, not
# sample_run's arch-as-data program: VKDNW's ten backward passes (one per class)
# run 5x slower in the arch-as-data program on XLA:CPU (bench/NOTES.md), while the
# eager layers compile once; about 3-4 s a CIFAR-10 cell on a 2-core CPU after a
# first cell of about 35 s, and about P/10 times that with P = min(classes, 64) reverse passes (one per class, or
# per pooled feature when there are more classes: CIFAR-100 and ImageNet16-120).
set -e
. "$(dirname "$0")/sample_run.sh"
for dataset in ${*:-cifar10 cifar100 ImageNet16-120}; do
  sample_run "results/nb201/${dataset}_sample1000_vkdnw.jsonl" --dataset "$dataset" \
    --proxies vkdnw_dim,vkdnw_entropy --weight-init kaiming --bias-init zero --strategy eager --no-progress
done
