#!/bin/sh
# The zero-cost paper's Table 2 row for NAS-Bench-101: the paper's proxies on the 292 distinct
# cells NASLib trained (zcjax/_data/spaces, 500 rows), full-size networks (stem 128, 3 stacks of
# 3 cells), the shipped CIFAR-10 minibatch of 64, initial weights seeded per cell (--init-seed 0).
# Resumable: rerun after an interruption and it scores only the cells its file lacks. A run
# stopped part-way may be committed as .partial.gz; this script resumes from it.
# Cost on the shared 2-core CPU: about 40-50 s a cell (grasp's Hessian-vector product dominates).
#   sh results/nb101/run_table2.sh && python results/nb101/table2.py
set -eu
cd "$(dirname "$0")/../.."
out=results/nb101/cifar10_trained_paper.jsonl
if [ ! -e "$out.gz" ]; then
    if [ -e "$out.partial.gz" ] && [ ! -e "$out" ]; then gunzip -c "$out.partial.gz" > "$out"; fi
    python -m zcjax.score --space nb101 --task cifar10 --trained \
        --proxies grad_norm,snip,grasp,fisher,jacob_cov,synflow,params,flops \
        --init-seed 0 --output "$out" --resume --no-progress
    gzip -9 "$out"
    rm -f "$out.partial.gz"
fi
python results/nb101/table2.py
