#!/bin/sh
# Zen-NAS and TE-NAS on the 1,000-cell sample (run_data_sample.sh's cells, init seed 0):
#   sh results/nb201/run_zen_te_sample.sh [cifar10 cifar100 ImageNet16-120]
# * zen under Zen-NAS's protocol: N(0, 1) conv/linear weights, zero biases, Gaussian
#   images (data-free, so every dataset);
# * te_linear_regions (64 Gaussian images, data-free, every dataset) and, on CIFAR-10
#   only (it reads the minibatch: we hold images of CIFAR-10 alone), te_ntk, the NTK's
#   condition number on the shipped minibatch of 64; PyTorch's default init, as TE-NAS's
#   code. The te_nas ensemble (ranksum:te_ntk+te_linear_regions) is computed by later.py.
#   te_ntk runs eagerly: its 64 reverse passes through the arch-as-data program cost
#   minutes a cell on a 2-core CPU, about 25 s a cell eagerly.
# Resumable: rerun the same command after a crash.
set -e
. "$(dirname "$0")/sample_run.sh"
for dataset in ${*:-cifar10 cifar100 ImageNet16-120}; do
  sample_run "results/nb201/${dataset}_sample1000_zen.jsonl" --dataset "$dataset" --proxies zen \
    --weight-init normal --bias-init zero --no-progress
  sample_run "results/nb201/${dataset}_sample1000_te_lr.jsonl" --dataset "$dataset" --proxies te_linear_regions \
    --no-progress
done
case " ${*:-cifar10} " in
  *" cifar10 "*) sample_run results/nb201/cifar10_sample1000_te_ntk.jsonl --dataset cifar10 --proxies te_ntk \
    --strategy eager --no-progress ;;
esac
