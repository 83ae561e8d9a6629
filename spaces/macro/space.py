"""NAS-Bench-Macro as a :class:`~zcjax.spaces.space.Space` plug-in (registered as ``'nas_bench_macro'``)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from ..space import Arch, Space, SpaceNetwork
from . import arch as _arch
from . import benchmark


class MacroSpace(Space):
    """NAS-Bench-Macro (Su et al., CVPR 2021): 8 layers x 3 choices, 6,561 architectures, CIFAR-10.

    The canonical form is the 8 choices (0 identity, 1 MB3_K3, 2 MB6_K5),
    the string form the benchmark's 8 digits; the enumeration order is
    ``itertools.product`` (the string as a base-3 number). Ground truth is
    the mean CIFAR-10 test accuracy (percent) of 3 trainings.
    """

    name = "nas_bench_macro"
    tasks = ("cifar10",)
    arch_as_data = True
    cpu_strategies = ("batched",)  # bench/RESULTS.md, space_strategies
    choices = (_arch.NUM_CHOICES,) * _arch.NUM_LAYERS

    def canonical(self, arch: str | Sequence[int] | np.ndarray) -> Arch:
        return _arch.to_choices(arch)

    def format(self, arch: str | Sequence[int] | np.ndarray) -> str:
        return _arch.format_arch(arch)

    @property
    def size(self) -> int:
        return _arch.NUM_ARCHS

    def enumerate(self) -> Iterator[Arch]:
        return iter(itertools.product(range(_arch.NUM_CHOICES), repeat=_arch.NUM_LAYERS))

    def index(self, arch: Any) -> int:
        return _arch.index_of(arch)

    def arch_at(self, index: int) -> Arch:
        return _arch.arch_at(index)

    def neighbours(self, arch: Any) -> list[Arch]:
        return _arch.neighbours(arch)

    def network(self, arch: Any, task: str | None = None, arch_as_data: bool = False,
                **options: Any) -> SpaceNetwork:
        """The :class:`~zcjax.spaces.macro.network.MacroNetwork` of ``arch``.

        Args:
          arch: the architecture.
          task: 'cifar10' (the only one).
          arch_as_data: give the :class:`~zcjax.spaces.macro.network.MixedMacroNetwork`
            (every candidate, the architecture an input in ``args``, its
            ``layer_mask``): one program for all architectures, every
            candidate computed. Its params and flops through score_model
            count every candidate's BatchNorm: use the static network for those.
          **options: MacroNetwork fields (``stem_channels``, ``head_channels``, ``stages``...).

        Returns:
          The :class:`SpaceNetwork`: NHWC 32x32x3 input, 10 classes, flax
          ``nn.BatchNorm`` scored in training mode (batch statistics; the
          ``batch_stats`` updates are discarded), synflow with every BatchNorm
          dropped (ModelSpec's default; ``synflow_bn`` keeps them).
        """
        from .network import MacroNetwork, MixedMacroNetwork, layer_mask

        self.check_task(task)
        if arch_as_data:
            choices = np.asarray(self.canonical(arch), np.int32)
            return SpaceNetwork(module=MixedMacroNetwork(num_classes=10, **options), input_shape=(32, 32, 3),
                                num_classes=10, args=(choices,),
                                spec_fields={"synflow_batchnorm": "drop", "train_kwargs": {"train": True},
                                             "mutable": ("batch_stats",), "layer_mask": layer_mask})
        module = MacroNetwork(self.canonical(arch), num_classes=10, **options)
        return SpaceNetwork(module=module, input_shape=(32, 32, 3), num_classes=10,
                            spec_fields={"synflow_batchnorm": "drop", "train_kwargs": {"train": True},
                                         "mutable": ("batch_stats",)})

    def shared_variables(self, arch: Any, variables: Any, task: str | None = None, **options: Any) -> Any:
        """The static network's variables in :class:`~zcjax.spaces.macro.network.MixedMacroNetwork`'s tree.

        The candidates ``arch`` does not select take one fixed fill (drawn
        once per network size from seed 0); they are computed but never
        selected, so they change no score.
        """
        from .network import to_mixed_params

        self.check_task(task)
        fill = self._fill(tuple(sorted(options.items())))
        return to_mixed_params(variables, self.canonical(arch), fill)

    def _fill(self, options: tuple[tuple[str, Any], ...]) -> Any:
        cache = self.__dict__.setdefault("_fills", {})
        if options not in cache:
            from .network import numpy_init

            mixed = self.network(self.arch_at(0), arch_as_data=True, **dict(options))
            cache[options] = numpy_init(mixed.shapes(), np.random.default_rng(0))
        return cache[options]

    def ground_truth(self, task: str | None = None, metric: str = "mean_acc") -> dict[Arch, Any]:
        """``{arch: value}`` for all 6,561 architectures.

        Args:
          task: 'cifar10'.
          metric: 'mean_acc' (default; percent), 'test_acc' (the 3 runs),
            'std', 'params' or 'flops'.
        """
        self.check_task(task)
        return benchmark.metric(metric)

    def canonical_network(self, arch: Any) -> Arch:
        """The benchmark's representative of ``arch``'s network (see :func:`~zcjax.spaces.macro.arch.canonical_arch`)."""
        return _arch.canonical_arch(arch)
