#!/bin/sh
# Evaluation tables (Markdown, CSV) and scatter plots of the full-space score files
# and of the CIFAR-10 runs with every proxy (1,000-cell sample, 8 neighbourhood clusters):
#   sh results/nb201/make_tables.sh
set -e
cd "$(dirname "$0")"
# evaluate FILE DATASET OUT_DIR [--plots]: skipped when FILE is absent
evaluate() {
  [ -f "$1" ] || return 0
  python -m zcjax.evaluate "$1" --dataset "$2" --bootstrap 1000 --seed 0 --out-dir "eval/$3" $4
}
for ds in cifar10 cifar100 ImageNet16-120; do
  evaluate "${ds}_data_free.jsonl.gz" "$ds" "$ds" --plots
done
evaluate cifar10_sample1000_all.jsonl.gz cifar10 cifar10_sample1000 --plots
evaluate cifar10_clusters8_all.jsonl.gz cifar10 cifar10_clusters8
python no_conv_cells.py
