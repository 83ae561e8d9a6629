#!/bin/sh
# 1,000 random NAS-Bench-201 cells (seed 0), the paper's proxies and their SSNR, CIFAR-10, with the
# minibatch of 64 shipped in the package (the first 64 images):
#   sh results/nb201/run_data_sample.sh
# Resumable: rerun the same command after a crash.
set -e
python -m zcjax.score --sample 1000 --seed 0 --dataset cifar10 --proxies paper \
  --strategy batched --chunk-size 1 --init-seed 0 \
  --output results/nb201/cifar10_sample1000_all.jsonl --resume
