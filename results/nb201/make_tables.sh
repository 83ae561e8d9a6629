#!/bin/sh
# Evaluation tables (Markdown, CSV) and scatter plots of the full-space score files
# and of the CIFAR-10 runs with every proxy (1,000-cell sample, 8 neighbourhood clusters):
#   sh results/nb201/make_tables.sh
set -e
cd "$(dirname "$0")"
for ds in cifar10 cifar100 ImageNet16-120; do
  f="${ds}_data_free.jsonl.gz"
  [ -f "$f" ] || continue
  python -m zcjax.evaluate "$f" --dataset "$ds" --bootstrap 1000 --seed 0 --out-dir "eval/$ds" --plots
done
f=cifar10_sample1000_all.jsonl.gz
if [ -f "$f" ]; then
  python -m zcjax.evaluate "$f" --dataset cifar10 --bootstrap 1000 --seed 0 --out-dir eval/cifar10_sample1000 --plots
fi
f=cifar10_clusters8_all.jsonl.gz
if [ -f "$f" ]; then
  python -m zcjax.evaluate "$f" --dataset cifar10 --bootstrap 1000 --seed 0 --out-dir eval/cifar10_clusters8
fi
python no_conv_cells.py
