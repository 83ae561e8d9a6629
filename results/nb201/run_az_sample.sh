#!/bin/sh
# AZ-NAS's three scores (and FLOPs, its complexity term) on the 1,000 random
# NAS-Bench-201 cells (seed 0) of run_data_sample.sh, under AZ-NAS's protocol:
# Kaiming-normal fan-in weights, zero biases, a fixed batch of 64 Gaussian images
# (no data, so every dataset can be scored):
#   sh results/nb201/run_az_sample.sh [cifar10 cifar100 ImageNet16-120]
# Resumable: rerun the same command after a crash. A finished file is gzipped.
set -e
for dataset in ${*:-cifar10 cifar100 ImageNet16-120}; do
  out=results/nb201/${dataset}_sample1000_az.jsonl
  if [ -e "$out.gz" ]; then echo "$out.gz is done"; continue; fi
  # A run stopped part-way may be committed as $out.partial.gz: it is resumed from there.
  if [ -e "$out.partial.gz" ] && [ ! -e "$out" ]; then gunzip -c "$out.partial.gz" > "$out"; fi
  python -m zcjax.score --sample 1000 --seed 0 --dataset "$dataset" \
    --proxies az_expressivity,az_progressivity,az_trainability,flops \
    --weight-init kaiming --bias-init zero --strategy batched --chunk-size 1 --init-seed 0 \
    --output "$out" --resume
  gzip -9 "$out" && rm -f "$out.partial.gz"
done
