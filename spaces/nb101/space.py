"""NAS-Bench-101 as a :class:`~zcjax.spaces.space.Space` plug-in (registered as ``'nb101'``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..space import Arch, Space, SpaceNetwork, as_rng
from . import arch as _arch
from . import benchmark


class NB101Space(Space):
    """NAS-Bench-101 (Ying et al., ICML 2019): cells of up to 7 vertices and 9 edges, 423,624 distinct, CIFAR-10.

    The canonical form is a cell's 26 ints (21 upper-triangular edge bits of
    the 7 x 7 matrix, row-major, then the ops of vertices 1..5: 0 conv3x3, 1
    conv1x1, 2 maxpool3x3), one per cell (pruned, in the benchmark's own
    vertex order); the string form ``'ops:conv3x3,maxpool3x3|adj:0110,0001,0001,0000'``
    (the pruned spec). :meth:`canonical` also takes NASLib's keys (56 ints, or
    their string) and benchmark spec dicts. :attr:`size` is None (the cells
    are not enumerated; ``arch.NUM_CELLS`` is their number); :meth:`sample`
    draws specs as the benchmark's random search does. Ground truth: NASLib's
    500 rows (292 cells), CIFAR-10 validation accuracy in percent.
    """

    name = "nb101"
    tasks = ("cifar10",)
    arch_as_data = False

    def canonical(self, arch: str | Sequence[int] | np.ndarray) -> Arch:
        return _arch.canonical_arch(arch)

    def parse(self, s: str) -> Arch:
        return _arch.parse_arch(s)

    def format(self, arch: str | Sequence[int] | np.ndarray) -> str:
        return _arch.format_arch(arch)

    def sample(self, key_or_rng: Any, n: int) -> list[Arch]:
        """``n`` distinct cells, reproducibly from the seed, drawn as the benchmark's random specs.

        Each draw is a 7 x 7 matrix of fair upper-triangular bits and 5
        uniform ops, drawn again while it is not a valid cell (or a cell
        already drawn): the benchmark's (and NASLib's) random sampling, not
        uniform over the 423,624 cells.

        Raises:
          ValueError: ``n`` is not an int in 0..423,624.
        """
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 0 <= n <= _arch.NUM_CELLS:
            raise ValueError(f"{self.name}: n must be an int in 0..{_arch.NUM_CELLS}, got {n!r}")
        return _arch.sample_archs(as_rng(key_or_rng), int(n))

    def neighbours(self, arch: Any) -> list[Arch]:
        return _arch.neighbours(arch)

    def distance(self, a: Any, b: Any, max_distance: int = 2) -> int:
        """The fewest :meth:`neighbours` edits from ``a`` to ``b``; ``max_distance + 1`` when farther than that."""
        return _arch.distance(a, b, max_distance)

    def same_cell(self, a: Any, b: Any) -> bool:
        """Whether two archs (any forms) are one cell (isomorphic pruned graphs)."""
        return _arch.same_cell(a, b)

    def cell_hash(self, arch: Any) -> str:
        """The benchmark's MD5 graph hash of the cell (the key of its dataset)."""
        return _arch.cell_hash(arch)

    def network(self, arch: Any, task: str | None = None, keep_order: bool = False, **options: Any) -> SpaceNetwork:
        """The :class:`~zcjax.spaces.nb101.network.NB101Network` of ``arch``.

        Args:
          arch: the cell (any form).
          task: 'cifar10' (the only one).
          keep_order: build the pruned cell in the arch's own vertex order
            (NASLib built its keys so); default the canonical order, the
            benchmark's own spelling. The order matters only where the
            output's channels split unevenly (which vertex gets the extra
            channel).
          **options: NB101Network fields: ``stem_channels`` (128),
            ``num_stacks`` (3), ``cells_per_stack`` (3), ``weight_init``
            ('naslib', default, or 'torch').

        Returns:
          The :class:`SpaceNetwork`: NHWC 32x32x3 input, 10 classes, flax
          ``nn.BatchNorm`` scored in training mode (batch statistics; the
          ``batch_stats`` updates are discarded), synflow with every BatchNorm
          dropped (as NASLib's synflow).

        Raises:
          ValueError: a bad arch, task or option.
        """
        from .network import NB101Network, build

        self.check_task(task)
        unknown = set(options) - {"stem_channels", "num_stacks", "cells_per_stack", "weight_init"}
        if unknown:
            raise ValueError(f"unknown NAS-Bench-101 network options {sorted(unknown)}; valid: "
                             "stem_channels, num_stacks, cells_per_stack, weight_init")
        spec = _arch.pruned_spec(arch) if keep_order else _arch.cell_spec(arch)
        module: NB101Network = build(spec, num_classes=10, **options)
        return SpaceNetwork(module=module, input_shape=(32, 32, 3), num_classes=10,
                            spec_fields={"synflow_batchnorm": "drop", "train_kwargs": {"train": True},
                                         "mutable": ("batch_stats",)})

    def ground_truth(self, task: str | None = None, metric: str = "val_accuracy",
                     reduce: str = "mean") -> dict[Arch, Any]:
        """``{canonical arch: value}`` for the 292 cells of NASLib's 500 rows.

        Args:
          task: 'cifar10'.
          metric: 'val_accuracy' (default; percent, the benchmark's 108-epoch
            validation accuracy of one training run per row) or one of
            NASLib's proxies (see :meth:`naslib_scores`).
          reduce: a cell's rows combined: 'mean' (default), 'first' or 'all' (lists).

        Raises:
          ValueError: an unknown task, metric or reduction.
        """
        self.check_task(task)
        return benchmark.metric(metric, reduce)

    def naslib_scores(self, proxy: str, task: str | None = None, reduce: str = "mean") -> dict[Arch, Any]:
        """NASLib's score of each cell for one proxy, ``{canonical arch: value}``.

        Args:
          proxy: one of ``benchmark.PROXIES`` (``params`` and ``flops`` in
            millions; ``synflow`` is NASLib's log of the sum).
          task: 'cifar10'.
          reduce: as :meth:`ground_truth`.
        """
        self.check_task(task)
        return benchmark.metric(proxy, reduce)
