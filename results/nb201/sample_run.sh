# Sourced by the run_*_sample.sh scripts. sample_run OUT ARGS... scores the 1,000
# random NAS-Bench-201 cells (seed 0) of run_data_sample.sh into OUT with the same
# initial weights (init seed 0), one cell per program, unless OUT.gz is done. A
# run stopped part-way may be committed as OUT.partial.gz: it is resumed from there
# (zcjax.score --resume refuses it if ARGS name other settings). A finished file is
# gzipped.
sample_run() {
  out=$1; shift
  if [ -e "$out.gz" ]; then echo "$out.gz is done"; return 0; fi
  if [ -e "$out.partial.gz" ] && [ ! -e "$out" ]; then gunzip -c "$out.partial.gz" > "$out"; fi
  python -m zcjax.score --sample 1000 --seed 0 --strategy batched --chunk-size 1 --init-seed 0 \
    --output "$out" --resume "$@"
  gzip -9 "$out" && rm -f "$out.partial.gz"
}
