"""Command line: score the architectures of a search space with zero-cost proxies.

    python -m zcjax.score --sample 8 --seed 0 --proxies all --output scores.jsonl
    python -m zcjax.score --space nas_bench_macro --sample 8 --proxies data-free --output macro.jsonl

One row per cell: ``index``, ``arch``, one field per proxy (NaN as null), and,
for NAS-Bench-201, the benchmark accuracies of the chosen dataset (other
spaces: ``accuracy``, their ground truth for the task, where known). Rows are written as they are
scored; ``--resume`` continues an interrupted run without losing or
duplicating a row. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections.abc import Sequence
from typing import Any

import jax
import numpy as np

from . import __version__, _cli, compile_cache, distributed, provenance, registry, space_scoring
from . import spaces
from .data import get_minibatch, load_batch_file
from .engine import STRATEGIES, ScoreConfig, Scorer
from .proxies.activation import check_reg_swap
from .results import RowWriter
from .spaces.nb201 import benchmark
from .spaces.nb201.arch import NUM_ARCHS
from .spaces.nb201.network import BIAS_INITS, WEIGHT_INITS


class UsageError(ValueError):
    """A bad combination of command-line arguments."""


def select_cells(arch: Sequence[str] = (), archs_file: str | None = None, indices: str | None = None,
                 sample: int | None = None, seed: int = 0, all_cells: bool = False) -> list[tuple[int, str]]:
    """The (benchmark index, arch string) pairs a run scores, in order, without duplicates.

    Raises:
      UsageError / ValueError / FileNotFoundError: with a message naming the problem.
    """
    cells: list[int] = []
    for a in arch:
        cells.append(benchmark.index_of(a))
    if archs_file is not None:
        cells.extend(space_scoring.read_archs_file(archs_file, benchmark.index_of))
    if indices is not None:
        cells.extend(benchmark.parse_indices(indices))
    if sample is not None:
        if not 0 < sample <= NUM_ARCHS:
            raise UsageError(f"--sample must be between 1 and {NUM_ARCHS}, got {sample}")
        cells.extend(int(i) for i in np.random.default_rng(seed).choice(NUM_ARCHS, sample, replace=False))
    if all_cells:
        cells.extend(range(NUM_ARCHS))
    if not cells:
        raise UsageError("no cells selected: use --arch, --archs-file, --indices, --sample or --all")
    unique = list(dict.fromkeys(cells))
    return [(i, benchmark.arch_at(i)) for i in unique]


def output_columns(proxies: Sequence[str], dataset: str) -> list[str]:
    """Column order of the results: index, arch, proxies, accuracies."""
    return ["index", "arch", *proxies, *benchmark.accuracy_columns(dataset)]


def run_settings(config: ScoreConfig, x: np.ndarray | None = None, y: np.ndarray | None = None,
                 torch_weights: str | None = None) -> dict[str, Any]:
    """The settings that determine a run's rows, as recorded beside its results file.

    Two runs may write to one file only if these are equal: the space and
    dataset, the proxies, the initial weights (seed and schemes, or a hash of
    imported weights), the network size, the precision, the minibatch (a hash
    of ``x`` and ``y``; None when no proxy reads data), the zcjax version and the
    revisions of revised proxies (:func:`zcjax.registry.revisions`).
    How cells are run (strategy, chunk size) is not a setting: it changes
    values only at float32 rounding.
    """
    if torch_weights is not None:
        init: dict[str, Any] = {"torch_weights": provenance.file_fingerprint(torch_weights)}
    else:
        init = {"seed": config.init_seed, "weight_init": config.weight_init, "bias_init": config.bias_init}
    minibatch = None
    if config.needs_data and x is not None:
        minibatch = provenance.minibatch_record(x, y)
    settings = {"space": "nb201", "dataset": config.dataset, "proxies": list(config.proxies), "init": init,
                "network": {"channels": config.channels, "cells_per_stage": config.cells_per_stage,
                            # Recorded only when not the default, so that files written before it existed resume.
                            **({"variant": config.variant} if config.variant != "reference" else {})},
                "precision": registry.precision_setting(config.proxies, config.precision),
                "minibatch": minibatch, "zcjax": __version__}
    settings.update(provenance.constants_record(config.reg_swap))
    return registry.with_revisions(settings)


def run_scoring(cells: Sequence[tuple[int, str]], config: ScoreConfig, output: str = "-", *,
                x: np.ndarray | None = None, y: np.ndarray | None = None, resume: bool = False,
                torch_weights: str | None = None, progress: bool = True,
                info: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Scores cells and writes each row to ``output`` as soon as it is ready.

    Args:
      cells: (index, arch) pairs, e.g. from :func:`select_cells`.
      config: proxies, dataset, seeds, strategy.
      output: .jsonl or .csv path, or '-' for JSON lines on stdout. Its settings
        (:func:`run_settings`) are recorded beside it.
      x: (N, 3, H, W) normalised minibatch; y: its labels. Needed by data proxies.
      resume: skip the cells already in ``output``, which must have been made
        with the same settings.
      torch_weights: PyTorch-layout weights for the single cell.
      progress: show a progress bar on stderr.
      info: provenance recorded with this run but not compared (e.g. the
        minibatch's source).

    Returns:
      The rows scored in this call.

    Raises:
      zcjax.results.OutputBusy / SettingsMismatch / OutputError: see
        :class:`zcjax.results.RowWriter`.
    """
    from tqdm.auto import tqdm

    accuracy = benchmark.accuracy_columns(config.dataset)
    rows = []
    writes = distributed.is_writer()
    progress = progress and writes
    info = {"strategy": config.strategy, "chunk_size": config.chunk_size, "cells": len(cells),
            **provenance.platform_entry(), **(info or {})}
    with RowWriter(output if writes else None, output_columns(config.proxies, config.dataset), resume=resume,
                   settings=run_settings(config, x, y, torch_weights), info=info) as writer:
        if jax.process_count() > 1:  # process 0's file decides what is left to do
            writer.done = distributed.broadcast_indices(writer.done, NUM_ARCHS)
        todo = [(i, a) for i, a in cells if i not in writer.done]
        if writes and resume and len(todo) < len(cells):
            print(f"resuming {output}: {len(cells) - len(todo)} of {len(cells)} cells already scored",
                  file=sys.stderr)
        scorer = Scorer(config, x, y)
        if torch_weights is not None:
            from .spaces.nb201.torch_weights import load_state_dict, params_from_torch

            if len(cells) != 1:
                raise UsageError("--torch-weights needs exactly one --arch")
            if config.variant != "reference":
                raise UsageError("--torch-weights reads the reference network's layout, not --option variant=naslib")
            index, arch = cells[0]
            params = params_from_torch(load_state_dict(torch_weights), scorer.network(arch))
            stream = ({"index": index, "arch": arch, **scorer.score_params(arch, params)} for _ in todo)
        else:
            stream = scorer.score(todo)
        bar = tqdm(total=len(todo), unit="cell", disable=not progress or not todo, file=sys.stderr,
                   desc=f"scoring ({scorer.strategy_for(a for _, a in todo)})")
        for row in stream:
            row.update({c: float(v[row["index"]]) for c, v in accuracy.items()})
            writer.write(row)
            rows.append(row)
            bar.update()
        bar.close()
    return rows


def _reg_swap_constants(text: str) -> tuple[float, float]:
    """``MU,SIGMA`` as two floats (argparse type)."""
    parts = text.split(",")
    try:
        if len(parts) != 2:
            raise ValueError
        return check_reg_swap(parts)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e) if "positive" in str(e) else
                                         f"expected MU,SIGMA (two numbers), got {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m zcjax.score", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"zcjax {__version__}")
    p.add_argument("--space", default="nb201",
                   help="search space (default nb201); registered: " + ", ".join(spaces.names()))
    p.add_argument("--dataset", "--task", dest="dataset", default=None,
                   help="the space's task: for nb201 cifar10 | cifar100 | ImageNet16-120 (default: the space's first)")
    cells = p.add_argument_group("cells (any combination; duplicates are scored once)")
    cells.add_argument("--arch", action="append", default=[], metavar="STR", help="an arch string (repeatable)")
    cells.add_argument("--archs-file", metavar="FILE", help="one arch string per line")
    cells.add_argument("--indices", metavar="SPEC", help="benchmark indices, e.g. 0-99,200")
    cells.add_argument("--sample", type=int, metavar="N", help="N cells drawn at random (with --seed)")
    cells.add_argument("--seed", type=int, default=0, help="seed of --sample (default 0)")
    cells.add_argument("--all", action="store_true", help="every architecture of the space (nb201: all 15,625)")
    cells.add_argument("--trained", action="store_true",
                       help="the architectures the space's benchmark trained for the task (its ground truth)")
    p.add_argument("--proxies", default="all",
                   help="comma-separated names, 'all', 'paper' (the paper's proxies and their SSNR) or "
                        "'data-free' (default all); known: "
                        + ", ".join(registry.all_names()))
    p.add_argument("--reg-swap", metavar="MU,SIGMA", type=_reg_swap_constants, default=None,
                   help="reg_swap's constants: swap x exp(-(P/1000 - MU)^2 / SIGMA), MU in thousands of parameters, "
                        "SIGMA in their square; "
                        "needed with reg_swap (the SWAP code holds no values: they set the model size preferred)")
    data = p.add_argument_group("data")
    data.add_argument("--batch-size", type=int, default=64, help="minibatch size (default 64)")
    data.add_argument("--data-dir", help="folder with cifar-10-batches-py, cifar-100-python or ImageNet16 pickles "
                                         "(default: the CIFAR-10 images shipped in the package)")
    data.add_argument("--data-seed", type=int, default=None,
                      help="draw the minibatch at random with this seed (default: the first images)")
    data.add_argument("--batch-file", help=".npz with x (N,3,H,W) float32 normalised and y (N,) int")
    init = p.add_argument_group("weights")
    init.add_argument("--init-seed", type=int, default=0, help="seed of every cell's initial weights (default 0)")
    init.add_argument("--weight-init", default="pytorch", choices=WEIGHT_INITS)
    init.add_argument("--bias-init", default="pytorch", choices=BIAS_INITS)
    init.add_argument("--precision", default="float32", choices=("float32", "float64"),
                      help="float32 (the reference's; synflow and the eigenvalue ends in float64) or float64 "
                           "(every proxy, for exact comparison with a float64 reference)")
    init.add_argument("--torch-weights", metavar="FILE", help="PyTorch-layout weights (.npz/.pt) for one --arch")
    init.add_argument("--option", action="append", default=[], metavar="NAME=VALUE",
                      help="a network option of the space (JSON value; repeatable), e.g. stem_channels=16; "
                           "nb201: channels, cells_per_stage, variant (reference or naslib)")
    run = p.add_argument_group("run")
    run.add_argument("--output", "-o", default="-", help=".jsonl or .csv file, or - for JSON lines on stdout")
    run.add_argument("--resume", action="store_true", help="continue an interrupted run in --output")
    run.add_argument("--strategy", default="auto", choices=STRATEGIES,
                     help="how cells run: op by op (eager; nb201: its layers compiled once), a program per cell, "
                          "or one batched program (README)")
    run.add_argument("--chunk-size", type=int, help="cells per batched program call")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    run.add_argument("--compile-cache", metavar="DIR", default=compile_cache.default_dir(),
                     help="keep compiled programs here for later runs, or 'off' (default: $ZCJAX_COMPILE_CACHE, "
                          "else ~/.cache/zcjax/xla)")
    multi = p.add_argument_group("multi-host (jax.distributed; process 0 writes --output)")
    multi.add_argument("--distributed", action="store_true",
                       help="join a multi-host run whose processes JAX detects (SLURM, Cloud TPU, ...)")
    multi.add_argument("--coordinator", metavar="HOST:PORT", help="address of process 0")
    multi.add_argument("--num-processes", type=int, metavar="N", help="number of processes")
    multi.add_argument("--process-id", type=int, metavar="I", help="this process's rank (0 to N-1)")
    return p


def _show_warning(message: Warning | str, category: type[Warning], *args: Any, **kwargs: Any) -> None:
    """Prints a warning as one line above the progress bar (tqdm.write), not on it."""
    from tqdm.auto import tqdm

    tqdm.write(f"warning: {message}", file=sys.stderr)


def _score_space(space: Any, args: argparse.Namespace, argv: Sequence[str] | None) -> None:
    """The run of ``zcjax.score`` for a space other than NAS-Bench-201 (:mod:`zcjax.space_scoring`)."""
    for flag, given in (("--torch-weights", args.torch_weights), ("--chunk-size", args.chunk_size),
                        ("--weight-init", args.weight_init != "pytorch"), ("--bias-init", args.bias_init != "pytorch"),
                        ("--distributed", args.distributed or args.coordinator or args.num_processes is not None),
                        ("--precision", args.precision != "float32")):
        if given:
            raise UsageError(f"{flag} is for nb201 only, not space {space.name}")
    if args.resume and args.output == "-":
        raise UsageError("--resume needs an --output file")
    if args.batch_size < 1:
        raise UsageError(f"--batch-size must be positive, got {args.batch_size}")
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        config = space_scoring.SpaceScoreConfig(space=space.name, task=args.dataset, proxies=args.proxies,
                                                init_seed=args.init_seed, strategy=args.strategy,
                                                options=space_scoring.parse_options(args.option),
                                                reg_swap=args.reg_swap)
    archs = space_scoring.select_archs(space, config.task, args.arch, args.archs_file, args.indices, args.sample,
                                       args.seed, args.all, args.trained)
    x = y = source = None
    if config.needs_data:
        net = space.network(archs[0], config.task, **dict(config.options))
        if args.batch_file:
            x, y = load_batch_file(args.batch_file, num_classes=net.num_classes)
            source = {"batch_file": os.path.abspath(args.batch_file)}
        else:
            dataset = space.dataset(config.task)
            if dataset is None:
                raise UsageError(f"no images ship for task {config.task} of space {space.name}: give --batch-file "
                                 f"(x of shape (N, {', '.join(map(str, net.input_shape))}) or NCHW) "
                                 f"or use --proxies data-free")
            x, y = get_minibatch(dataset, args.batch_size, data_dir=args.data_dir, seed=args.data_seed)
            source = {"data_dir": args.data_dir and os.path.abspath(args.data_dir), "data_seed": args.data_seed}
        space_scoring.to_input_layout(x, net.input_shape)  # a wrong shape fails here, before any output
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = _show_warning
        space_scoring.run_space_scoring(
            archs, config, args.output, x=x, y=y, resume=args.resume, progress=not args.no_progress,
            info={"minibatch_source": source, "argv": list(sys.argv[1:] if argv is None else argv)})


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status (0, or 2 with a one-line message on stderr)."""
    parser = build_parser()
    args = parser.parse_args(argv)

    def body() -> None:
        space = spaces.get(args.space)
        if space.name != "nb201":
            compile_cache.enable(args.compile_cache)
            return _score_space(space, args, argv)
        if args.distributed or args.coordinator or args.num_processes is not None or args.process_id is not None:
            if not args.distributed and args.coordinator is None:
                raise UsageError("--num-processes/--process-id need --coordinator (or use --distributed)")
            distributed.initialize(args.coordinator, args.num_processes, args.process_id)
        compile_cache.enable(args.compile_cache)
        options = space_scoring.parse_options(args.option)
        unknown = sorted(set(options) - {"channels", "cells_per_stage", "variant"})
        if unknown:
            raise UsageError(f"unknown nb201 --option {unknown[0]!r}; nb201 takes channels, cells_per_stage, variant")
        if args.trained:
            args.all = True
        config = ScoreConfig(proxies=args.proxies, dataset=args.dataset or "cifar10", init_seed=args.init_seed,
                             strategy=args.strategy, chunk_size=args.chunk_size,
                             weight_init=args.weight_init, bias_init=args.bias_init, precision=args.precision,
                             reg_swap=args.reg_swap, **options)
        cells = select_cells(args.arch, args.archs_file, args.indices, args.sample, args.seed, args.all)
        if args.torch_weights and (len(args.arch) != 1 or len(cells) != 1):
            raise UsageError("--torch-weights needs exactly one --arch and no other cell selection")
        if args.resume and args.output == "-":
            raise UsageError("--resume needs an --output file")
        if args.batch_size < 1:
            raise UsageError(f"--batch-size must be positive, got {args.batch_size}")
        x = y = None
        source = None
        if config.needs_data:
            info = benchmark.dataset_info(config.dataset)
            if args.batch_file:
                x, y = load_batch_file(args.batch_file, image_size=info.image_size, num_classes=info.num_classes)
                source = {"batch_file": os.path.abspath(args.batch_file)}
            else:
                x, y = get_minibatch(config.dataset, args.batch_size, data_dir=args.data_dir, seed=args.data_seed)
                source = {"data_dir": args.data_dir and os.path.abspath(args.data_dir), "data_seed": args.data_seed}
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.showwarning = _show_warning
            run_scoring(cells, config, args.output, x=x, y=y, resume=args.resume,
                        torch_weights=args.torch_weights, progress=not args.no_progress,
                        info={"minibatch_source": source, "argv": list(sys.argv[1:] if argv is None else argv)})

    return _cli.run(parser.prog, body, "rerun with --resume to continue")


if __name__ == "__main__":
    sys.exit(main())
