#!/bin/sh
# A live search on the CPU: AE, warm-up 1000, move proposal, synflow computed by the engine on the cells
# the search asks for (memoised in scores.jsonl, a zcjax.score file), budget 300, CIFAR-100, seed 0;
# then the same run tabular (scores looked up in the committed full-space file) for comparison.
#   sh results/search/run_live.sh      # about 5 min on a 2-core CPU; resumable
set -e
out=results/search/live
python -m zcjax.search --algo ae --dataset cifar100 --proxy synflow --warmup 1000 --move 1 --budget 300 \
  --runs 1 --seed 0 --live --output "$out/live" --no-progress
python -m zcjax.search --algo ae --dataset cifar100 --proxy synflow --warmup 1000 --move 1 --budget 300 \
  --runs 1 --seed 0 --scores results/nb201/cifar100_data_free.jsonl.gz --output "$out/tabular" --no-progress
python - <<'PY'
from zcjax.results import read_rows
a = [r["index"] for r in read_rows("results/search/live/live/traces/run_000.jsonl")]
b = [r["index"] for r in read_rows("results/search/live/tabular/traces/run_000.jsonl")]
same = sum(x == y for x, y in zip(a, b))
print(f"live vs tabular: {same} of {len(a)} trained cells identical, first difference at "
      f"{next((i + 1 for i, (x, y) in enumerate(zip(a, b)) if x != y), None)}")
PY
