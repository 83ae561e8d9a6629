#!/bin/sh
# meco_randn (MeCo on one fixed N(0, 1) 64 x 64 image, MeCo's measure file) on the
# 1,000 random NAS-Bench-201 cells (seed 0) of run_data_sample.sh, with the same
# initial weights (PyTorch's default init, init seed 0). Data-free, so every dataset:
#   sh results/nb201/run_meco_randn_sample.sh [cifar10 cifar100 ImageNet16-120]
# Resumable: rerun the same command after a crash. A finished file is gzipped.
set -e
for dataset in ${*:-cifar10 cifar100 ImageNet16-120}; do
  out=results/nb201/${dataset}_sample1000_meco_randn.jsonl
  if [ -e "$out.gz" ]; then echo "$out.gz is done"; continue; fi
  # A run stopped part-way may be committed as $out.partial.gz: it is resumed from there.
  if [ -e "$out.partial.gz" ] && [ ! -e "$out" ]; then gunzip -c "$out.partial.gz" > "$out"; fi
  python -m zcjax.score --sample 1000 --seed 0 --dataset "$dataset" --proxies meco_randn \
    --strategy batched --chunk-size 1 --init-seed 0 --output "$out" --resume --no-progress
  gzip -9 "$out" && rm -f "$out.partial.gz"
done
