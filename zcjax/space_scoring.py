"""Scoring the architectures of any registered search space (:class:`zcjax.spaces.Space`).

Each architecture's network comes from ``space.network(arch, task, **options)``
and is scored by :func:`zcjax.score_model` with the space's conventions.
Three strategies:

* ``per-cell``: the architecture's own static network, one compiled program
  per distinct network;
* ``eager``: the same static network run op by op (``score_model(jit=False)``):
  no program of its own, each primitive's executable shared by every network
  with the same layer shapes; on a CPU, where a large network's program takes
  seconds to compile, the cheaper way through many distinct cells (measured in
  bench/RESULTS.md, ``depthwise`` section);
* ``batched``: for a space with ``arch_as_data`` networks, one network holding
  every candidate with the architecture as an input, so one compiled program
  serves every architecture (each architecture's weights still its own).

NAS-Bench-201 has its own engine (:class:`zcjax.Scorer`, with eager and
vmapped strategies and golden parity); :func:`scorer_for` picks it for
``'nb201'`` and this one for every other space.

An architecture's weights come from ``fold_in(key(init_seed), tag)``, where
the tag is its index in a finite space and a hash of its string form
otherwise, so an architecture gets the same weights whatever else is in the
run.
"""

from __future__ import annotations

import dataclasses
import json
import warnings
import zlib
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from . import provenance, registry
from .proxies.activation import reg_swap_constants
from .spaces.space import STRATEGIES

SPACE_STRATEGIES = ("auto", *STRATEGIES)


def _auto_preferences(space: Any) -> tuple[str, ...]:
    """The strategies ``auto`` tries in order before per-cell: batched on an accelerator, on a CPU the space's
    measured :attr:`~zcjax.spaces.Space.cpu_strategies`."""
    return ("batched",) if jax.local_devices()[0].platform != "cpu" else tuple(space.cpu_strategies)


def _space(space: Any) -> Any:
    from zcjax import spaces

    return spaces.get(space) if isinstance(space, str) else space


@dataclasses.dataclass(frozen=True)
class SpaceScoreConfig:
    """What to compute for the architectures of a space, and how.

    Attributes:
      space: the registered space's name.
      task: one of the space's tasks (None: its first); canonicalised.
      proxies: result names (see :func:`zcjax.registry.resolve`).
      init_seed: seed of every architecture's initial weights.
      strategy: 'auto', 'per-cell', 'eager' or 'batched' (see the module docstring).
      options: the space's network options (e.g. ``{'stem_channels': 16}``),
        as a tuple of ``(name, value)`` pairs (sorted; JSON values).
      reg_swap: reg_swap's ``(mu, sigma)``, needed when it is asked for
        (see :class:`zcjax.ScoreConfig`).
    """

    space: str = "nas_bench_macro"
    task: str | None = None
    proxies: tuple[str, ...] = ("all",)
    init_seed: int = 0
    strategy: str = "auto"
    options: tuple[tuple[str, Any], ...] = ()
    reg_swap: tuple[float, float] | None = None

    def __post_init__(self):
        space = _space(self.space)
        object.__setattr__(self, "space", space.name)
        object.__setattr__(self, "task", space.check_task(self.task))
        asked = registry.named(self.proxies)
        object.__setattr__(self, "proxies", registry.resolve(self.proxies, engine="model"))
        relus = registry.reads_relus(self.proxies)
        auto_batched = _auto_preferences(space)[:1] == ("batched",)
        if relus and space.arch_as_data and (self.strategy == "batched" or (self.strategy == "auto" and auto_batched)):
            if not any(n in asked for n in relus):  # from a group: left out, so the one program serves every arch
                warnings.warn(f"{', '.join(relus)} left out: {'it reads' if len(relus) == 1 else 'they read'} every "
                              f"ReLU the network applies, and the arch-as-data network of space {space.name} applies "
                              "every candidate's (name them, with --strategy per-cell, to score them)", stacklevel=3)
                object.__setattr__(self, "proxies", tuple(n for n in self.proxies if n not in relus))
                relus = []
        if self.strategy not in SPACE_STRATEGIES:
            raise ValueError(f"unknown strategy {self.strategy!r} for space {space.name}; "
                             f"expected one of {', '.join(SPACE_STRATEGIES)}")
        if self.strategy == "batched" and not space.arch_as_data:
            raise ValueError(f"space {space.name} has no arch-as-data network: use --strategy per-cell")
        if self.strategy == "batched" and relus:
            raise ValueError(f"{', '.join(relus)} {'reads' if len(relus) == 1 else 'read'} every ReLU the network applies, "
                             f"and the arch-as-data network of space {space.name} applies every candidate's: "
                             "use --strategy per-cell")
        object.__setattr__(self, "options", tuple(sorted(dict(self.options).items())))
        object.__setattr__(self, "reg_swap", reg_swap_constants(self.proxies, self.reg_swap))
        if self.strategy == "eager" and self.needs_data:
            warnings.warn("--strategy eager keeps every layer's residuals of the minibatch proxies' passes (an NB301 "
                          "cell with the paper's proxies outgrew 22 GB) and runs them op by op (a small NB301 cell took "
                          "over 15 minutes on 2 cores); per-cell needs far less memory and time", stacklevel=3)

    @property
    def needs_data(self) -> bool:
        return any(registry.PROXIES[registry.base_proxy(n)].needs_data for n in self.proxies)

    def resolved_strategy(self) -> str:
        """The strategy ``auto`` stands for.

        On an accelerator: batched where the space has an arch-as-data network and no proxy reads every ReLU
        (:func:`zcjax.registry.reads_relus`), else per-cell. On a CPU: the first of the space's
        :attr:`~zcjax.spaces.Space.cpu_strategies` that the run allows, else per-cell; eager only when no
        proxy reads the minibatch (op by op, the gradient and Hessian passes keep every layer's residuals at
        the minibatch's size: an NB301 cell with the paper's proxies outgrew 22 GB, and was no faster).
        """
        if self.strategy != "auto":
            return self.strategy
        space = _space(self.space)
        allowed = {"batched": space.arch_as_data and not registry.reads_relus(self.proxies),
                   "eager": not self.needs_data, "per-cell": True}
        return next((s for s in _auto_preferences(space) if allowed[s]), "per-cell")


def weight_tag(space: Any, arch: Any) -> int:
    """The int an architecture's weights are folded from: its index, or a CRC-32 of its string form."""
    space = _space(space)
    if space.size is not None:
        return int(space.index(arch))
    return zlib.crc32(space.format(arch).encode()) & 0x7FFFFFFF


def arch_key(init_seed: int, space: Any, arch: Any) -> jax.Array:
    """The key of an architecture's initial weights."""
    return jax.random.fold_in(jax.random.key(init_seed), weight_tag(space, arch))


def to_input_layout(x: np.ndarray, input_shape: Sequence[int]) -> np.ndarray:
    """A minibatch in the network's layout: NCHW images are moved to NHWC when the network takes NHWC.

    Raises:
      ValueError: the inputs fit neither layout (one line naming both shapes).
    """
    x = np.asarray(x, np.float32)
    shape = tuple(int(d) for d in input_shape)
    if tuple(x.shape[1:]) == shape:
        return x
    if x.ndim == 4 and tuple(x.shape[2:]) + (x.shape[1],) == shape:
        return np.transpose(x, (0, 2, 3, 1))
    raise ValueError(f"inputs of shape {tuple(x.shape)} do not fit the network's input {shape} "
                     f"(batch axis first; NCHW images are moved to NHWC)")


class SpaceScorer:
    """Scores architectures of one space and task with the proxies of a :class:`SpaceScoreConfig`.

    Args:
      config: what to compute.
      x: a minibatch (NCHW images, or already in the network's layout); may be
        None when only data-free proxies are asked for.
      y: its integer labels.
    """

    def __init__(self, config: SpaceScoreConfig, x: np.ndarray | None = None, y: np.ndarray | None = None):
        self.config = config
        self.space = _space(config.space)
        if config.needs_data and (x is None or y is None):
            raise ValueError("the selected proxies need a minibatch (x, y)")
        self._x, self._y = x, y
        self._batch: dict[tuple[int, ...], tuple[jax.Array, jax.Array]] = {}
        self._strategy = config.resolved_strategy()

    def network(self, arch: Any, arch_as_data: bool = False) -> Any:
        """The :class:`~zcjax.spaces.SpaceNetwork` this scorer builds for ``arch``."""
        options = dict(self.config.options)
        if arch_as_data:
            options["arch_as_data"] = True
        return self.space.network(arch, self.config.task, **options)

    def strategy_for(self, archs: Iterable[Any] = ()) -> str:
        """The strategy this run uses (``auto`` resolved)."""
        return self._strategy

    def _minibatch(self, input_shape: tuple[int, ...]) -> tuple[jax.Array, jax.Array] | None:
        if not self.config.needs_data:
            return None
        if input_shape not in self._batch:
            x = to_input_layout(self._x, input_shape)
            self._batch[input_shape] = jnp.asarray(x), jnp.asarray(np.asarray(self._y, np.int32))
        return self._batch[input_shape]

    def score_one(self, arch: Any) -> dict[str, Any]:
        """The row of one architecture: ``index`` (finite spaces), ``arch`` (string form) and one value per proxy."""
        canonical = self.space.canonical(arch)
        names = self.config.proxies
        key = arch_key(self.config.init_seed, self.space, canonical)
        static = self.network(canonical)
        sizes = [n for n in ("params", "flops") if n in names]
        computed = [n for n in names if n not in sizes]
        # Weights always come from the static network's init, so both strategies score the same weights;
        # params and flops read their shapes (or, when nothing else is asked, the shapes alone).
        variables = static.init(key) if computed else static.shapes()
        values = static.score(variables, None, sizes) if sizes else {}
        if computed:
            net = static
            if self.strategy_for() == "batched":
                net = self.network(canonical, arch_as_data=True)
                variables = self.space.shared_variables(canonical, variables, self.config.task,
                                                        **dict(self.config.options))
            values.update(net.score(variables, self._minibatch(tuple(net.input_shape)), computed, key,
                                    reg_swap=self.config.reg_swap, jit=self.strategy_for() != "eager"))
        row: dict[str, Any] = {}
        if self.space.size is not None:
            row["index"] = int(self.space.index(canonical))
        row["arch"] = self.space.format(canonical)
        row.update({n: values[n] for n in names})
        return row

    def score(self, archs: Sequence[Any]) -> Iterator[dict[str, Any]]:
        """Rows for ``archs`` in order, each as soon as it is scored (see :meth:`score_one`)."""
        for arch in archs:
            yield self.score_one(arch)


def space_settings(config: SpaceScoreConfig, x: np.ndarray | None = None, y: np.ndarray | None = None) -> dict:
    """The settings that determine a run's rows (compared on ``--resume``; see :mod:`zcjax.provenance`)."""
    from . import __version__

    minibatch = None
    if config.needs_data and x is not None:
        minibatch = provenance.minibatch_record(x, y)
    return registry.with_revisions({
        "space": config.space, "dataset": config.task, "proxies": list(config.proxies),
        "init": {"seed": config.init_seed, "scheme": "space default"},
        "network": json.loads(json.dumps(dict(config.options))),
        "precision": registry.precision_setting(config.proxies),
        "minibatch": minibatch, "zcjax": __version__,
        **provenance.constants_record(config.reg_swap)})


__all__ = ["SPACE_STRATEGIES", "SpaceScoreConfig", "SpaceScorer", "arch_key", "space_settings", "to_input_layout",
           "weight_tag"]


def parse_options(items: Sequence[str]) -> dict[str, Any]:
    """``['stem_channels=16', 'stages=[1,1,1]']`` -> ``{'stem_channels': 16, 'stages': [1, 1, 1]}`` (JSON values,
    else the string).

    Raises:
      ValueError: an item without ``=``.
    """
    options: dict[str, Any] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"--option takes NAME=VALUE, got {item!r}")
        try:
            options[name.strip()] = json.loads(value)
        except json.JSONDecodeError:
            options[name.strip()] = value
    return {k: tuple(v) if isinstance(v, list) else v for k, v in options.items()}


def read_archs_file(path: str, parse: Any) -> list[Any]:
    """``parse`` of each line of an archs file (one architecture per line; blank lines and ``#`` comments skipped).

    Raises:
      FileNotFoundError: no such file.
      ValueError: a line ``parse`` refuses, as ``'<path> line <n>: <why>'``.
    """
    import os

    if not os.path.isfile(path):
        raise FileNotFoundError(f"no such archs file: {path}")
    out = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            if line.strip() and not line.lstrip().startswith("#"):
                try:
                    out.append(parse(line.strip()))
                except ValueError as err:
                    raise ValueError(f"{path} line {n}: {err}") from None
    return out


def select_archs(space: Any, task: str | None = None, arch: Sequence[str] = (), archs_file: str | None = None,
                 indices: str | None = None, sample: int | None = None, seed: int = 0, all_archs: bool = False,
                 trained: bool = False) -> list[tuple[int, ...]]:
    """The canonical architectures a run scores, in order, without duplicates.

    Args:
      space: a space or its name.
      task: the task (for ``trained``).
      arch: architecture strings.
      archs_file: a file with one architecture string per line (``#`` comments).
      indices: positions in a finite space's enumeration, e.g. ``'0-9,20'``.
      sample: this many architectures drawn by ``space.sample(seed, n)``.
      seed: the seed of ``sample``.
      all_archs: every architecture of a finite space.
      trained: the architectures the space's benchmark trained for ``task``.

    Raises:
      ValueError / FileNotFoundError: one line naming the problem.
    """
    from .spaces.nb201.benchmark import parse_indices

    space = _space(space)
    archs: list[tuple[int, ...]] = [space.canonical(a) for a in arch]
    if archs_file is not None:
        archs.extend(read_archs_file(archs_file, space.canonical))
    if (indices is not None or all_archs) and space.size is None:
        raise ValueError(f"space {space.name} cannot be enumerated: use --arch, --archs-file, --sample or --trained")
    if indices is not None:
        for i in parse_indices(indices, space.size):
            archs.append(space.arch_at(i))
    if sample is not None:
        if space.size is not None and not 0 < sample <= space.size:
            raise ValueError(f"--sample must be between 1 and {space.size}, got {sample}")
        if sample < 1:
            raise ValueError(f"--sample must be positive, got {sample}")
        archs.extend(space.sample(seed, sample))
    if all_archs:
        archs.extend(space.enumerate())
    if trained:
        try:
            archs.extend(space.ground_truth(task))
        except NotImplementedError:
            raise ValueError(f"space {space.name} has no trained architectures for --trained") from None
    if not archs:
        raise ValueError("no architectures selected: use --arch, --archs-file, --indices, --sample, --all or --trained")
    return list(dict.fromkeys(archs))


def ground_truth_or_none(space: Any, task: str) -> dict[tuple[int, ...], Any] | None:
    """The space's ground truth for ``task``, or None when it has none."""
    try:
        return _space(space).ground_truth(task)
    except NotImplementedError:
        return None


def output_columns(space: Any, proxies: Sequence[str], task: str) -> list[str]:
    """Column order: ``index`` (finite spaces), ``arch``, the proxies, ``accuracy`` (when the space has ground truth)."""
    space = _space(space)
    head = ["index", "arch"] if space.size is not None else ["arch"]
    tail = ["accuracy"] if ground_truth_or_none(space, task) is not None else []
    return [*head, *proxies, *tail]


def run_space_scoring(archs: Sequence[Any], config: SpaceScoreConfig, output: str = "-", *,
                      x: np.ndarray | None = None, y: np.ndarray | None = None, resume: bool = False,
                      progress: bool = True, info: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Scores ``archs`` of ``config.space`` and writes each row to ``output`` as soon as it is ready.

    Rows: ``index`` (finite spaces), ``arch`` (the string form), one field per
    proxy (NaN as null) and ``accuracy``, the space's ground truth for the
    task (null for an architecture the benchmark did not train). The file's
    settings (:func:`space_settings`) are recorded beside it; ``resume``
    skips the architectures already there (same settings only).

    Raises:
      zcjax.results.OutputBusy / SettingsMismatch / OutputError: see :class:`zcjax.results.RowWriter`.
    """
    import sys

    from tqdm.auto import tqdm

    from .results import RowWriter

    space = _space(config.space)
    truth = ground_truth_or_none(space, config.task)
    columns = output_columns(space, config.proxies, config.task)
    key = "index" if space.size is not None else "arch"
    scorer = SpaceScorer(config, x, y)
    info = {"strategy": scorer.strategy_for(), "cells": len(archs), **provenance.platform_entry(), **(info or {})}
    rows = []
    with RowWriter(output, columns, resume=resume, settings=space_settings(config, x, y), kind="scores",
                   key=key, info=info) as writer:
        todo = [space.canonical(a) for a in archs]
        todo = [a for a in todo if (space.index(a) if key == "index" else space.format(a)) not in writer.done]
        if resume and len(todo) < len(archs):
            print(f"resuming {output}: {len(archs) - len(todo)} of {len(archs)} architectures already scored",
                  file=sys.stderr)
        bar = tqdm(total=len(todo), unit="arch", disable=not progress or not todo, file=sys.stderr,
                   desc=f"scoring {space.name} ({scorer.strategy_for()})")
        for arch, row in zip(todo, scorer.score(todo)):
            if truth is not None:
                value = truth.get(arch)
                row["accuracy"] = None if value is None else float(value)
            writer.write(row)
            rows.append(row)
            bar.update()
        bar.close()
    return rows


__all__ += ["ground_truth_or_none", "output_columns", "parse_options", "read_archs_file", "run_space_scoring",
            "select_archs"]
