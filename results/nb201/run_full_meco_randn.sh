#!/bin/sh
# meco_randn (MeCo on one fixed N(0, 1) 64 x 64 image, MeCo's measure file) on the
# full NAS-Bench-201 space, PyTorch's default init, one dataset per argument:
#   sh results/nb201/run_full_meco_randn.sh [cifar10 cifar100 ImageNet16-120]
# Data-free, so every dataset. Resumable: rerun the same command after a crash; a
# finished file is gzipped (then skipped), one stopped part-way may be committed as
# .partial.gz and is resumed from there.
set -e
for ds in ${*:-cifar10 cifar100 ImageNet16-120}; do
  out="results/nb201/${ds}_full_meco_randn.jsonl"
  if [ -e "$out.gz" ]; then echo "$out.gz is done"; continue; fi
  if [ -e "$out.partial.gz" ] && [ ! -e "$out" ]; then gunzip -c "$out.partial.gz" > "$out"; fi
  python -m zcjax.score --all --dataset "$ds" --proxies meco_randn --strategy batched --chunk-size 1 \
    --init-seed 0 --output "$out" --resume --no-progress
  gzip -9 "$out" && rm -f "$out.partial.gz"
done
