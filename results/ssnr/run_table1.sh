#!/bin/sh
# Score files for the SSNR Table 1 (results/ssnr/table1.py). Each run is resumable: rerun this
# script after an interruption and it scores only the cells its file lacks. NB201 rows read the
# full-space files under results/nb201/ (results/nb201/README.md says how they were made).
# NB301 and TransNAS-Bench-101 cells run op by op (--strategy eager: no program per cell; each op
# compiles once and serves every later cell): once warm, ~16 s a full-size NB301 cell and ~3.4 s a
# TransNAS-Bench-101 micro cell on the 2-core CPU, against ~53 s and ~6.3 s with a program per cell
# (bench/RESULTS.md, space_strategies); a GPU or more cores shorten that (zcjax.score --help).
# Rows run in this order; `sh results/ssnr/run_table1.sh tnb101` runs only the TransNAS-Bench-101 rows,
# `... nb301` only the NB301 row.
set -eu
case "${1:-}" in "" | tnb101 | nb301) ;; *) echo "usage: sh $0 [tnb101 | nb301]" >&2; exit 2 ;; esac
cd "$(dirname "$0")/../.."
PROXIES=synflow,synflow_ssnr,synflow_ssnr_layerwise
run() {  # run SPACE TASK FILE: a finished file is compressed beside it (FILE.gz, the one committed); a run
    # stopped part-way may be committed as FILE.partial.gz: it is resumed from there
    [ -e "$3.gz" ] && return 0
    mkdir -p "$(dirname "$3")"
    if [ -e "$3.partial.gz" ] && [ ! -e "$3" ]; then gunzip -c "$3.partial.gz" > "$3"; fi
    python -m zcjax.score --space "$1" --task "$2" --trained --proxies "$PROXIES" --output "$3" --resume \
        --strategy eager --no-progress
    gzip -9 "$3" && rm -f "$3.partial.gz"
}
nb201_naslib() {  # nb201_naslib DATASET: the full space with NASLib's network (1-2 h a dataset, 2 cores); a run
    # stopped part-way may be committed as .partial.gz: it is resumed from there
    out="results/nb201/$1_naslib_ssnr.jsonl"
    [ -e "$out.gz" ] && return 0
    if [ -e "$out.partial.gz" ] && [ ! -e "$out" ]; then gunzip -c "$out.partial.gz" > "$out"; fi
    python -m zcjax.score --all --dataset "$1" --option variant=naslib --proxies "$PROXIES" \
        --strategy batched --chunk-size 1 --init-seed 0 --output "$out" --resume --no-progress
    gzip -9 "$out" && rm -f "$out.partial.gz"
}
if [ -z "${1:-}" ]; then
    nb201_naslib cifar10
    nb201_naslib cifar100
fi
if [ "${1:-}" != tnb101 ]; then
    run nb301 cifar10 results/nb301/cifar10_trained_ssnr.jsonl
fi
if [ "${1:-}" != nb301 ]; then
    for task in jigsaw class_object class_scene; do
        run tnb101_micro "$task" "results/tnb101_micro/${task}_trained_ssnr.jsonl"
    done
fi
python results/ssnr/table1.py
