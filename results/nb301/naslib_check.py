"""Our later proxies on NAS-Bench-301 cells against NASLib's own scores of the same cells (an independent check).

    python results/nb301/naslib_check.py             # scores (resumable), then writes naslib_check.md
    python results/nb301/naslib_check.py --table     # the table only, from the file as it stands

NASLib (NAS-Bench-Suite-Zero) scored the 725 trained NB301 cells with its own
PyTorch networks and data; `zcjax/_data/spaces/` ships those scores. This scores a
seeded sample of those cells with zcjax's NB301 network (`zcjax.score --space
nb301`, the shipped CIFAR-10 minibatch of 64, PyTorch's default init) for the
proxies NASLib also computed that read the ReLUs or the input Jacobian: nwot (read
off the model's jaxpr, `zcjax.relu_taps`), epe_nas and jacob_cov. The values are
not expected to be equal (other networks' code, images and batch); the rankings
are: the table gives, per proxy, Spearman rho between our scores and NASLib's on
the same cells, and each one's rho with the benchmark's validation accuracy.

A second file scores the first 40 of the cells again with another minibatch of
64 shipped images (``--data-seed 1``): how our own rankings agree across
minibatches is the bar for how well two implementations on other images can
agree.
"""

from __future__ import annotations

import argparse
import gzip
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SCORES = os.path.join(HERE, "cifar10_naslib_check.jsonl")
ARCHS = os.path.join(HERE, "naslib_check_archs.txt")
PROXIES = {"nwot": "nwot", "epe_nas": "epe_nas", "jacob_cov": "jacov"}  # ours -> NASLib's name
RESEEDED = os.path.join(HERE, "cifar10_naslib_check_data_seed1.jsonl")  # the first RESEEDED_CELLS, another minibatch
RESEEDED_CELLS = 40


def write_archs(cells: int, seed: int = 0) -> None:
    """The first ``cells`` of a seeded permutation of the 725 trained cells, one arch string a line."""
    from zcjax import spaces

    space = spaces.get("nb301")
    trained = list(space.ground_truth("cifar10"))
    order = np.random.default_rng(seed).permutation(len(trained))[:cells]
    with open(ARCHS, "w") as f:
        f.write(f"# {cells} of NB301's {len(trained)} trained cells (seed {seed}): results/nb301/naslib_check.py\n")
        f.writelines(space.format(trained[i]) + "\n" for i in order)


def score(out: str, archs: str, *extra: str) -> None:
    """Scores the cells of ``archs`` into ``out`` (resuming), then gzips it."""
    from zcjax.provenance import PARTIAL

    if os.path.exists(out + ".gz"):
        return
    if os.path.exists(out + PARTIAL) and not os.path.exists(out):
        with gzip.open(out + PARTIAL, "rb") as src, open(out, "wb") as dst:
            shutil.copyfileobj(src, dst)
    subprocess.run([sys.executable, "-m", "zcjax.score", "--space", "nb301", "--task", "cifar10", "--archs-file",
                    archs, "--proxies", ",".join(PROXIES), "--output", out, "--resume", "--no-progress", *extra],
                   cwd=ROOT, check=True)
    with open(out, "rb") as src, gzip.open(out + ".gz", "wb", compresslevel=9) as dst:
        shutil.copyfileobj(src, dst)
    os.remove(out)
    if os.path.exists(out + PARTIAL):
        os.remove(out + PARTIAL)


def _column(rows: list[dict], name: str) -> np.ndarray:
    return np.array([np.nan if r.get(name) is None else r[name] for r in rows], dtype=np.float64)


def table() -> str:
    from zcjax import spaces
    from zcjax.results import find_results_file, is_finished, read_rows
    from zcjax.stats import spearman

    path = find_results_file(SCORES)
    if path is None:
        return "Not run yet: `python results/nb301/naslib_check.py`.\n"
    space = spaces.get("nb301")
    truth = space.ground_truth("cifar10")
    rows = [r for r in read_rows(path) if space.canonical(r["arch"]) in truth]
    archs = [space.canonical(r["arch"]) for r in rows]
    acc = np.array([truth[a] for a in archs], dtype=np.float64)
    lines = [f"{len(rows)} NB301 cells{'' if is_finished(path) else ' (not finished: rerun the script to resume)'}; "
             "Spearman rho.", "",
             "| proxy | ours vs NASLib's (same cells) | ours vs accuracy | NASLib's vs accuracy |",
             "| --- | ---: | ---: | ---: |"]
    reseeded_path = find_results_file(RESEEDED)
    reseeded = {space.canonical(r["arch"]): r for r in read_rows(reseeded_path)} if reseeded_path else {}
    both = [i for i, a in enumerate(archs) if a in reseeded]
    if both:
        lines[2:4] = [lines[2] + f" ours vs ours on another minibatch ({len(both)} cells) |", lines[3] + " ---: |"]
    for ours_name, naslib_name in PROXIES.items():
        ours = _column(rows, ours_name)
        theirs_by_arch = space.naslib_scores(naslib_name)
        theirs = np.array([theirs_by_arch.get(a, np.nan) for a in archs], dtype=np.float64)
        line = f"| {ours_name} | {spearman(ours, theirs):.3f} | {spearman(ours, acc):.3f} | {spearman(theirs, acc):.3f} |"
        if both:
            again = _column([reseeded[archs[i]] for i in both], ours_name)
            line += f" {spearman(ours[both], again):.3f} |"
        lines.append(line)
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cells", type=int, default=100, help="trained cells to score (default 100)")
    parser.add_argument("--table", action="store_true", help="only write the table from the file as it stands")
    args = parser.parse_args()
    sys.path.insert(0, ROOT)
    if not args.table:
        if not os.path.exists(ARCHS):
            write_archs(args.cells)
        with open(ARCHS) as f:
            listed = sum(1 for line in f if line.strip() and not line.startswith("#"))
        if listed != args.cells:
            parser.error(f"{os.path.relpath(ARCHS, ROOT)} lists {listed} cells, not --cells {args.cells}: remove it "
                         f"and {os.path.relpath(SCORES, ROOT)}[.gz] to score another sample")
        score(SCORES, ARCHS)
        with open(ARCHS) as f:
            first = [line for line in f if line.strip() and not line.startswith("#")][:RESEEDED_CELLS]
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
            f.writelines(first)
        try:
            score(RESEEDED, f.name, "--data-seed", "1")
        finally:
            os.remove(f.name)
    text = ("# Later proxies on NAS-Bench-301: ours against NASLib's scores of the same cells\n\n"
            "`python results/nb301/naslib_check.py` (see its docstring).\n\n" + table())
    with open(os.path.join(HERE, "naslib_check.md"), "w") as f:
        f.write(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
