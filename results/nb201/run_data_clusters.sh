#!/bin/sh
# The paper's local-neighbourhood analysis (Tables 12-13) for the data-dependent
# proxies: 8 seeded random cells and their 24 edit-distance-1 neighbours each
# (198 distinct cells), the paper's proxies and their SSNR, CIFAR-10, the shipped minibatch of 64:
#   sh results/nb201/run_data_clusters.sh
# Resumable: rerun the same command after a crash.
set -e
INDICES=$(python -c "
import numpy as np
from zcjax.spaces.nb201 import arch_at, index_of, neighbours
centres = np.random.default_rng(0).choice(15625, 8, replace=False)
cells = {int(c) for c in centres} | {index_of(n) for c in centres for n in neighbours(arch_at(int(c)))}
print(','.join(map(str, sorted(cells))))")
python -m zcjax.score --indices "$INDICES" --dataset cifar10 --proxies paper \
  --strategy batched --chunk-size 1 --init-seed 0 \
  --output results/nb201/cifar10_clusters8_all.jsonl --resume
