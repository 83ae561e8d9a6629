"""NAS-Bench-301 / DARTS as a :class:`~zcjax.spaces.space.Space` plug-in (registered as ``'nb301'``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..space import Arch, Space, SpaceNetwork, as_rng
from . import arch as _arch
from . import benchmark


class NB301Space(Space):
    """NAS-Bench-301 (Siems et al., 2020), the DARTS cell space: about 1.08e18 architectures, CIFAR-10.

    The canonical form is 32 ints (per cell, normal then reduction, per node
    0..3, two ``(input, op)`` pairs, the smaller input first; ops index
    :data:`~zcjax.spaces.nb301.arch.OPS`, NASLib's order), the string form the
    DARTS ``Genotype(...)`` repr; ``parse`` also reads NASLib's compact key.
    The space is not enumerated (``size`` is None). Ground truth: the
    NAS-Bench-301 CIFAR-10 validation accuracy (percent) of the 725 cells of
    NAS-Bench-Suite-Zero; :meth:`naslib_scores` gives NASLib's proxies for them.
    """

    name = "nb301"
    tasks = ("cifar10",)
    cpu_strategies = ("eager",)  # bench/RESULTS.md, space_strategies

    def canonical(self, arch: str | Sequence[int] | np.ndarray) -> Arch:
        return _arch.to_arch(arch)

    def format(self, arch: str | Sequence[int] | np.ndarray) -> str:
        return _arch.format_arch(arch)

    def sample(self, key_or_rng: Any, n: int) -> list[Arch]:
        """``n`` distinct architectures drawn uniformly as NASLib samples them (see :func:`~zcjax.spaces.nb301.arch.sample`).

        Raises:
          ValueError: if ``n`` is not a non-negative int.
        """
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise ValueError(f"{self.name}: n must be a non-negative int, got {n!r}")
        return _arch.sample(as_rng(key_or_rng), int(n))

    def neighbours(self, arch: Any) -> list[Arch]:
        return _arch.neighbours(arch)

    def distance(self, a: Any, b: Any) -> int:
        """Single-edge edits (one op or one input) from ``a`` to ``b``; not Hamming (the edges of a node are unordered)."""
        return _arch.distance(a, b)

    def network(self, arch: Any, task: str | None = None, **options: Any) -> SpaceNetwork:
        """The :class:`~zcjax.spaces.nb301.network.NB301Network` of ``arch``.

        Args:
          arch: the architecture.
          task: 'cifar10' (the only one).
          **options: NB301Network fields: ``channels`` (C, default 32; even),
            ``layers`` (cells, default 8), ``stem_multiplier`` (3): the
            defaults are the network of NASLib's shipped scores (DARTS'
            evaluation network is ``channels=36, layers=20``).

        Returns:
          The :class:`SpaceNetwork`: NHWC 32x32x3 input, 10 classes, flax
          ``nn.BatchNorm`` scored in training mode (batch statistics; the
          ``batch_stats`` updates are discarded), synflow with every
          BatchNorm dropped (NASLib's synflow).

        Raises:
          ValueError: a bad architecture, task or option.
        """
        from .network import NB301Network

        self.check_task(task)
        allowed = {"channels", "layers", "stem_multiplier"}
        unknown = sorted(set(options) - allowed)
        if unknown:
            raise ValueError(f"unknown nb301 network option(s) {', '.join(unknown)}; valid are {', '.join(sorted(allowed))}")
        for key in allowed & set(options):
            value = options[key]
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"nb301 network option {key} must be a positive int, got {value!r}")
        if options.get("channels", 32) % 2:
            raise ValueError(f"nb301 network option channels must be even (FactorizedReduce), got {options['channels']}")
        module = NB301Network(self.canonical(arch), num_classes=10, **{k: int(v) for k, v in options.items()})
        return SpaceNetwork(module=module, input_shape=(32, 32, 3), num_classes=10,
                            spec_fields={"synflow_batchnorm": "drop", "train_kwargs": {"train": True},
                                         "mutable": ("batch_stats",)})

    def ground_truth(self, task: str | None = None) -> dict[Arch, float]:
        """``{arch: NAS-Bench-301 CIFAR-10 validation accuracy (percent)}`` for the 725 cells of NAS-Bench-Suite-Zero.

        Raises:
          ValueError: for a task other than 'cifar10'.
        """
        self.check_task(task)
        return benchmark.val_accuracy()

    def naslib_scores(self, proxy: str, task: str | None = None) -> dict[Arch, float]:
        """NASLib's value of ``proxy`` for the 725 cells (see :func:`~zcjax.spaces.nb301.benchmark.naslib_scores`)."""
        self.check_task(task)
        return benchmark.naslib_scores(proxy)
