#!/bin/sh
# The proxies published after the paper that read the data (nwot, swap, meco, zico,
# epe_nas), then meco_opt, on the 1,000-cell sample, CIFAR-10, with the minibatch of
# 64 shipped in the package; then zico alone under its AZ-NAS port's protocol, two
# batches of 64 (the halves of a minibatch of 128, the shipped images' first 128):
#   sh results/nb201/run_later_sample.sh
# Resumable: rerun the same command after a crash.
set -e
. "$(dirname "$0")/sample_run.sh"
sample_run results/nb201/cifar10_sample1000_later.jsonl --dataset cifar10 --proxies nwot,swap,meco,zico,epe_nas
sample_run results/nb201/cifar10_sample1000_meco_opt.jsonl --dataset cifar10 --proxies meco_opt --no-progress
sample_run results/nb201/cifar10_sample1000_zico128.jsonl --dataset cifar10 --proxies zico --batch-size 128
