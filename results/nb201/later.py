"""The later proxies and the zero-shot ensembles on NAS-Bench-201, beside the published values.

    python results/nb201/later.py            # writes results/nb201/later.md

Reads the committed score files of the 1,000-cell sample (seed 0) and joins them on
their cells (zcjax.evaluate): the paper's proxies (run_data_sample.sh, CIFAR-10),
the later data proxies (run_later_sample.sh, CIFAR-10) and AZ-NAS's scores under
its own initialisation (run_az_sample.sh, every dataset), meco_randn
(run_meco_randn_sample.sh, every dataset), nwot_randn (run_nwot_randn_sample.sh,
every dataset), and for CIFAR-100 and
ImageNet16-120 the full-space data-free files (run_data_free.sh), restricted to the
sample's cells, VKDNW's scores (run_vkdnw_sample.sh, every dataset), Zen-NAS's and
TE-NAS's (run_zen_te_sample.sh: zen and te_linear_regions every dataset, te_ntk
CIFAR-10). A file
not finished (still being written, or stopped part-way as .partial.gz) is not
joined, which would cut every row to its cells: its rows come after the others,
on its own cells, and say so.

Three kinds of rows:
* each proxy alone;
* zero-shot ensembles whose members are fixed here, before any evaluation
  (ENSEMBLES): nothing is fitted to accuracy;
* a member selection that does look at accuracy, reported in its own column and
  only cross-validated: greedy forward selection of up to 4 log-rank members on one
  half of the cells, Spearman on the other half (both ways, seeded halves); and
  reg_swap's two constants, which the SWAP code does not hold, fitted the same way.
"""

from __future__ import annotations

import os
import sys

import numpy as np

from zcjax import ensemble, evaluate
from zcjax.proxies.activation import reg_swap_score
from zcjax.stats import spearman
from zcjax.provenance import PARTIAL, base_path
from zcjax.results import find_results_file, is_finished

HERE = os.path.dirname(os.path.abspath(__file__))
DATASETS = ("cifar10", "cifar100", "ImageNet16-120")
LATER = ("nwot", "nwot_randn", "swap", "meco", "meco_opt", "meco_randn", "zico", "epe_nas", "te_ntk",
         "te_linear_regions", "zen", "az_expressivity", "az_progressivity", "az_trainability", "vkdnw_dim",
         "vkdnw_entropy")
PUBLISHED = {  # Spearman, CIFAR-10 / CIFAR-100 / ImageNet16-120 (docs/PROXIES.md)
    "nwot_randn": (0.762, 0.799, 0.794), "zico": (0.802, 0.809, 0.779),
    "zen": (0.103, 0.072, 0.109),
    "te_nas": (0.722, 0.723, 0.709), "az_nas": (0.913, 0.900, 0.886), "meco": (0.894, 0.883, 0.845),
    "synflow": (0.74, 0.76, 0.75), "jacob_cov": (0.73, 0.71, 0.71),
    "vkdnw": (0.815, 0.829, 0.814), "vkdnw_agg": (0.919, 0.919, 0.906),
}
PROTOCOL = {
    "nwot": "ours: the run's minibatch of 64, each ReLU once; VKDNW's table (.762 / .799 / .794) fed 64 Gaussian "
            "images: see nwot_randn",
    "nwot_randn": "Kaiming fan-in weights, zero biases, 64 Gaussian images (the protocol of VKDNW's table, from "
                  "AZ-NAS's notebook); each ReLU once",
    "meco": "ours: the first image of the minibatch; theirs: one augmented training image",
    "zico": "ours: the two halves (32 + 32) of the minibatch; theirs (AZ-NAS port): two batches of 64",
    "epe_nas": "ours: the minibatch of 64; theirs: 256 images",
    "az_nas": "Kaiming fan-in weights, zero biases, 64 Gaussian images (as theirs); FLOPs: ours",
    "meco_opt": "ours: the first image of the minibatch, 8 channels per tap from a fixed key; theirs: unseeded",
    "meco_randn": "ours: one fixed N(0, 1) 64x64 image; theirs (MeCo's measure file): a new randn image per call",
    "zen": "N(0, 1) weights, zero biases, 64 Gaussian images (as theirs); the cells whose output ignores the input "
           "are NaN here and left out, as for every proxy (ranked last: the NaN last column); the published "
           "row is VKDNW's table, run with AZ-NAS's port of the same code: the gap is not explained (real "
           "images or either term alone: 0.26-0.66, zen_variants.md)",
    "te_linear_regions": "64 Gaussian images, PyTorch's default init (as theirs); it saturates: 64 regions (one per "
                         "image) for 983 of the 1,000 cells, 1 for the 17 whose output ignores the input",
    "te_nas": "te_ntk on the shipped minibatch of 64, te_linear_regions on 64 Gaussian images, PyTorch's default "
              "init (as the per-architecture port in AZ-NAS's repository, which the published row used)",
    "vkdnw": "Kaiming fan-in weights, zero biases, 64 Gaussian images, eval-mode BatchNorm at its initial statistics "
             "(as theirs); theirs: the ~9,445 cells of GRAF's feature file, mean of 5 seeds",
    "vkdnw_agg": "ours: VKDNW_single's score ranked with the others (theirs: its log dense rank added); jacob_cov "
                 "at PyTorch's default init on the shipped minibatch (theirs: Kaiming); AZ-NAS's scores as az_nas",
}
# A proxy run under another protocol, in a file of its own: {dataset: {label: (file, column, protocol)}}.
VARIANTS = {
    "cifar10": {"zico (64 + 64)": ("cifar10_sample1000_zico128.jsonl", "zico",
                                   "two batches of 64: the halves of a minibatch of 128 (the AZ-NAS port's)")},
}
# Zero-shot ensembles, members fixed a priori: one per family of signal (gradient
# saliency, input Jacobian, activations), and AZ-NAS's data-free four with synflow's SSNR.
ENSEMBLES = {
    "cifar10": ("rank:synflow_ssnr_layerwise+jacob_cov",
                "rank:synflow_ssnr_layerwise+jacob_cov+meco",
                "rank:synflow_ssnr_layerwise+jacob_cov+meco+nwot",
                "az_nas",
                "rank:az_expressivity+az_progressivity+az_trainability+flops+synflow_ssnr_layerwise",
                "rank:az_expressivity+az_progressivity+az_trainability+flops+synflow_ssnr_layerwise+jacob_cov+meco",
                "vkdnw_agg", "te_nas"),
    "data-free": ("az_nas", "vkdnw",
                  "rank:az_expressivity+az_progressivity+az_trainability+flops+synflow_ssnr_layerwise",
                  "rank:az_expressivity+az_trainability+synflow_ssnr_layerwise",
                  # The same two with the data-free MeCo (added in session 12, members fixed before
                  # ImageNet16-120 and CIFAR-10 were evaluated; CIFAR-100 had been looked at).
                  "rank:az_expressivity+az_progressivity+az_trainability+flops+synflow_ssnr_layerwise+meco_randn",
                  "rank:az_expressivity+az_trainability+synflow_ssnr_layerwise+meco_randn",
                  # The same two with the data-free NASWOT (added in session 21, members fixed before nwot_randn
                  # was evaluated on any dataset).
                  "rank:az_expressivity+az_progressivity+az_trainability+flops+synflow_ssnr_layerwise+meco_randn"
                  "+nwot_randn",
                  "rank:az_expressivity+az_trainability+synflow_ssnr_layerwise+meco_randn+nwot_randn",
                  # The last with VKDNW_single (added in session 23, members fixed before this ensemble was
                  # evaluated on any dataset; vkdnw alone had been, on CIFAR-10 and 210 ImageNet16-120 cells).
                  "rank:az_expressivity+az_trainability+synflow_ssnr_layerwise+meco_randn+nwot_randn+vkdnw"),
}


def _file(name: str) -> str | None:
    """The file to read for ``name``: done (.gz), being written, or stopped part-way (.partial.gz)."""
    return find_results_file(os.path.join(HERE, name))


def _files(dataset: str) -> tuple[list[str], list[str]]:
    """The files to join on their cells, and those stopped part-way (each evaluated alone, on its own cells)."""
    names = ([f"{dataset}_sample1000_all.jsonl", f"{dataset}_sample1000_later.jsonl",
              f"{dataset}_sample1000_meco_opt.jsonl"] if dataset == "cifar10"
             else [f"{dataset}_data_free.jsonl"]) + [f"{dataset}_sample1000_az.jsonl",
                                                      f"{dataset}_sample1000_meco_randn.jsonl",
                                                      f"{dataset}_sample1000_nwot_randn.jsonl",
                                                      f"{dataset}_sample1000_vkdnw.jsonl",
                                                      f"{dataset}_sample1000_zen.jsonl",
                                                      f"{dataset}_sample1000_te_lr.jsonl"] + (
        ["cifar10_sample1000_te_ntk.jsonl"] if dataset == "cifar10" else [])
    found = [p for n in names if (p := _file(n))]
    return [p for p in found if is_finished(p)], [p for p in found if not is_finished(p)]


def _cv_selection(scores: dict[str, np.ndarray], acc: np.ndarray, candidates: list[str], k: int = 4,
                  seed: int = 0) -> tuple[float, list[list[str]]]:
    """Held-out Spearman of greedy log-rank member selection, 2 folds both ways."""
    order = np.random.default_rng(seed).permutation(acc.size)
    folds = order[: acc.size // 2], order[acc.size // 2:]
    held, chosen = [], []
    for fit, test in (folds, folds[::-1]):
        members: list[str] = []
        best = -np.inf
        for _ in range(k):
            trials = {}
            for c in candidates:
                if c in members:
                    continue
                trial = members + [c]
                rho = spearman(ensemble.log_rank({m: scores[m][fit] for m in trial}, trial), acc[fit])
                if np.isfinite(rho):
                    trials[c] = rho
            if not trials:
                break
            pick = max(trials, key=lambda c: trials[c])
            if trials[pick] <= best:
                break
            members.append(pick)
            best = trials[pick]
        held.append(spearman(ensemble.log_rank({m: scores[m][test] for m in members}, members), acc[test]))
        chosen.append(members)
    return float(np.mean(held)), chosen


def _reg_swap_cv(swap: np.ndarray, params: np.ndarray, acc: np.ndarray, seed: int = 0) -> tuple[float, list]:
    """Held-out Spearman of reg-SWAP with (mu, sigma) fitted on the other half, 2 folds both ways.

    The SWAP code holds no constants (docs/PROXIES.md), so this row looks at accuracy and says so: a grid of
    mu over the sizes the space holds (thousands of parameters) and sigma over five decades, each half's best
    pair scored on the other half.
    """
    size = params / 1e3
    mus = np.quantile(size[np.isfinite(size)], np.linspace(0.0, 1.0, 21))
    sigmas = np.var(size[np.isfinite(size)]) * np.logspace(-2, 3, 11)
    order = np.random.default_rng(seed).permutation(acc.size)
    folds = order[: acc.size // 2], order[acc.size // 2:]
    held, fitted = [], []
    for fit, test in (folds, folds[::-1]):
        best = max(((spearman(reg_swap_score(swap[fit], params[fit], mu, sigma), acc[fit]), mu, sigma)
                    for mu in mus for sigma in sigmas), key=lambda t: t[0] if np.isfinite(t[0]) else -np.inf)
        fitted.append(best[1:])
        held.append(spearman(reg_swap_score(swap[test], params[test], *best[1:]), acc[test]))
    return float(np.mean(held)), fitted


def _fmt(v: float) -> str:
    return "–" if v is None or not np.isfinite(v) else f"{v:.3f}"


def _nan_last(values: np.ndarray, acc: np.ndarray) -> str:
    """Spearman rho with the NaN cells ranked below every number (the ensembles' rule), or '' when there are none."""
    values = np.asarray(values, dtype=np.float64)
    return _fmt(spearman(ensemble.member_ranks(values), acc)) if np.isnan(values).any() else ""


def main() -> int:
    out = ["# The later proxies and zero-shot ensembles on NAS-Bench-201 (1,000-cell sample)", "",
           "Made by `python results/nb201/later.py` from the score files named below; Spearman rho with the "
           "benchmark's test accuracy (200 epochs, mean over seeds; the later papers' column) and, in brackets, "
           "with the validation accuracy. Published values: docs/PROXIES.md.", "",
           "Two rules for a cell a proxy cannot score (NaN: e.g. a cell whose output ignores its input). A proxy's "
           "own row leaves those cells out ('cells' counts the rest); an ensemble ranks them below every number, as "
           "the references do (AZ-NAS maps NaN to -inf), so its row is over all the cells. The 'NaN last' column "
           "puts a proxy on the ensembles' footing: its rho (test) with its NaN cells ranked last, over all the "
           "cells; those cells are mostly poor ones, so it is the higher figure.", ""]
    for dataset in DATASETS:
        files, alone = _files(dataset)
        if not files:  # the sample's other proxies: every table is on their cells
            if alone:
                out += [f"## {dataset}", "", "Only unfinished files: " + ", ".join(
                    f"`{os.path.basename(f)}`" for f in alone) + "; rerun when the others exist.", ""]
            continue
        loaded = {split: evaluate.load_joined(files, dataset, split) for split in ("test", "val")}
        _, indices, scores, acc_test, _ = loaded["test"]
        acc_val = loaded["val"][3]
        out += [f"## {dataset}", "", "Files: " + ", ".join(f"`{os.path.basename(f)}`" for f in files)
                + f"; {indices.size} cells shared.", "",
                "| proxy | cells | rho test [val] | NaN last | published | protocol |",
                "| --- | --- | --- | --- | --- | --- |"]
        names = [n for n in (*LATER, "synflow", "synflow_ssnr_layerwise", "jacob_cov", "flops") if n in scores]
        groups = ("cifar10", "data-free") if dataset == "cifar10" else ("data-free",)
        specs = [s for s in dict.fromkeys(s for g in groups for s in ENSEMBLES[g])
                 if all(c in scores for c in ensemble.parse(s).needs(scores))]
        col = DATASETS.index(dataset)
        for name in names + specs:
            values = scores[name] if name in scores else ensemble.parse(name)(scores)
            cells = int(np.sum(np.isfinite(values)))
            pub = PUBLISHED.get(name)
            out.append(f"| {name} | {cells} | {_fmt(spearman(values, acc_test))} [{_fmt(spearman(values, acc_val))}] "
                       f"| {_nan_last(values, acc_test)} | {_fmt(pub[col]) if pub else ''} "
                       f"| {PROTOCOL.get(name, '')} |")
        # Runs of one proxy under another protocol (their own files: the column would clash in the join).
        for label, (filename, name, protocol) in VARIANTS.get(dataset, {}).items():
            path = _file(filename)
            if path is None:
                continue
            rows = {split: evaluate.load_joined([path], dataset, split) for split in ("test", "val")}
            variant_indices, values, acc = rows["test"][1], rows["test"][2][name], rows["test"][3]
            pub = PUBLISHED.get(name)
            # The run's own protocol on the same cells (a variant file may be partial).
            same = np.isin(indices, variant_indices)
            base = spearman(scores[name][same], acc_test[same]) if name in scores else np.nan
            out.append(f"| {label} | {int(np.sum(np.isfinite(values)))} | {_fmt(spearman(values, acc))} "
                       f"[{_fmt(spearman(rows['val'][2][name], rows['val'][3]))}] | {_nan_last(values, acc)} "
                       f"| {_fmt(pub[col]) if pub else ''} "
                       f"| {protocol} (`{filename}`{', stopped part-way' if path.endswith(PARTIAL) else ''}); "
                       f"{name} as above on the same cells: {_fmt(base)} |")
        # Runs not finished, each on its own cells.
        for path in alone:  # joined with the finished files on its own cells (a join cuts to the common cells)
            part = {split: evaluate.load_joined(files + [path], dataset, split) for split in ("test", "val")}
            own = evaluate.load_joined([path], dataset, "test")[2]
            joined = part["test"][2]
            shown = [n for n in LATER if n in own] + [
                s for s in dict.fromkeys(s for g in groups for s in ENSEMBLES[g])
                if all(c in joined for c in ensemble.parse(s).needs(joined))
                and any(c in own for c in ensemble.parse(s).needs(joined))]
            for name in shown:
                rho, cells, test = {}, 0, None
                for split, (_, _, cols, acc, _) in part.items():
                    values = cols[name] if name in cols else ensemble.parse(name)(cols)
                    rho[split] = spearman(values, acc)
                    cells = int(np.sum(np.isfinite(values)))
                    if split == "test":
                        test = _nan_last(values, acc)
                pub = PUBLISHED.get(name)
                out.append(f"| {name} | {cells} | {_fmt(rho['test'])} [{_fmt(rho['val'])}] "
                           f"| {test} | {_fmt(pub[col]) if pub else ''} | {PROTOCOL.get(name, '')} "
                           f"(`{os.path.basename(base_path(path))}`, not finished: "
                           f"{part['test'][1].size} cells) |")
        candidates = [n for n in names if n != "flops"] + ["flops"]
        rho, chosen = _cv_selection(scores, acc_test, candidates)
        out += ["", f"Member selection fitted on accuracy (2-fold cross-validated, greedy log-rank, up to 4): held-out "
                f"rho {_fmt(rho)}; members chosen on each half: "
                + "; ".join("+".join(c) for c in chosen) + "."]
        if "swap" in scores and "params" in scores:
            rho, fitted = _reg_swap_cv(scores["swap"], scores["params"], acc_test)
            out += ["", f"reg_swap, its (mu, sigma) fitted on accuracy (2-fold cross-validated grid; the SWAP code "
                    f"holds no values): held-out rho {_fmt(rho)} (swap alone {_fmt(spearman(scores['swap'], acc_test))}"
                    f"; the published reg-SWAP, 0.90, is CIFAR-100's validation accuracy, whose images we do not hold); "
                    "(mu, sigma) fitted on each half, "
                    "thousands of parameters and their square: " + "; ".join(f"({mu:.0f}, {sigma:.3g})" for mu, sigma in fitted) + "."]
        out.append("")
    text = "\n".join(out) + "\n"
    with open(os.path.join(HERE, "later.md"), "w") as f:
        f.write(text)
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
