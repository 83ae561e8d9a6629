#!/bin/sh
# NAS without training: best of N = 10 / 100 / 1000 random cells by each full-space proxy, 500 runs.
#   sh results/search/run_bestof.sh            # about 1 min of CPU per dataset
set -e
for ds in cifar100 ImageNet16-120 cifar10; do
  python -m zcjax.search bestof --dataset "$ds" --scores "results/nb201/${ds}_data_free.jsonl.gz" \
    --proxies synflow,synflow_ssnr,synflow_ssnr_layerwise,l2_norm,params,flops --n 10,100,1000 --runs 500 \
    --seed 0 --output "results/search/bestof/$ds"
done
