#!/bin/sh
# Evaluation tables (Markdown, CSV) and scatter plots of the full-space score files
# and of the 1,000-cell CIFAR-10 sample with every proxy:
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
python no_conv_cells.py
