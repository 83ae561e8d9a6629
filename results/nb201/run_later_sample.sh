#!/bin/sh
# The proxies published after the paper (nwot, swap, meco, zico, epe_nas) on the
# same 1,000 random NAS-Bench-201 cells (seed 0) as run_data_sample.sh, CIFAR-10,
# with the minibatch of 64 shipped in the package and the same initial weights;
# then zico alone under its AZ-NAS port's protocol, two batches of 64 (the halves
# of a minibatch of 128, the shipped images' first 128):
#   sh results/nb201/run_later_sample.sh
# Resumable: rerun the same command after a crash. A finished file is gzipped.
set -e
run() {  # run OUT ARGS...: score into OUT unless OUT.gz is done
  out=$1; shift
  if [ -e "$out.gz" ]; then echo "$out.gz is done"; return 0; fi
  # A run stopped part-way may be committed as $out.partial.gz: it is resumed from there.
  if [ -e "$out.partial.gz" ] && [ ! -e "$out" ]; then gunzip -c "$out.partial.gz" > "$out"; fi
  python -m zcjax.score --sample 1000 --seed 0 --dataset cifar10 --strategy batched --chunk-size 1 \
    --init-seed 0 --output "$out" --resume "$@"
  gzip -9 "$out" && rm -f "$out.partial.gz"
}
run results/nb201/cifar10_sample1000_later.jsonl --proxies nwot,swap,meco,zico,epe_nas
run results/nb201/cifar10_sample1000_zico128.jsonl --proxies zico --batch-size 128
