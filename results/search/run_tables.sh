#!/bin/sh
# The paper's Table 3 grid (Abdelfattah et al. 2021, Section 5) on NAS-Bench-201, synflow, tabular:
# RAND, RL, AE x baseline, warm-up 1000 / 3000 / 15k, move (AE: on; RL: 10 / 100), 32 runs of 1000
# trained cells; BP x baseline, warm-up 256 / 512, 32 runs of 200 trained cells with a 64-unit GCN (CPU).
#   sh results/search/run_tables.sh                    # all three datasets
#   sh results/search/run_tables.sh cifar100           # one
# Resumable: rerun the same command after a kill; finished runs are not rerun.
set -e
[ $# -eq 0 ] && set -- cifar100 cifar10 ImageNet16-120
for ds in "$@"; do
  python -m zcjax.search table --dataset "$ds" --proxy synflow \
    --scores "results/nb201/${ds}_data_free.jsonl.gz" --runs 32 --budget 1000 --seed 0 \
    --algos "${ALGOS:-rand,rl,ae,bp}" --bp-budget 200 --bp-hidden 64 --output "results/search/$ds"
done
