"""NAS-Bench-201 as a :class:`~zcjax.spaces.space.Space` plug-in (registered as ``'nb201'``).

A thin adapter over :mod:`zcjax.spaces.nb201`: the canonical form is the 6
op indices (into ``nb201.OPS``) of the edges in ``nb201.EDGES`` order, the
string form the benchmark's arch string, the enumeration order the
benchmark's own index order (0..15624).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from . import nb201
from .space import Arch, Space, SpaceNetwork


def in_reduction_block(path: tuple[str, ...]) -> bool:
    """The NAS-Bench-201 reference's synflow quirk: keep only the reduction blocks' BatchNorm."""
    return bool(path) and path[0].startswith("reduction")


class NB201Space(Space):
    """NAS-Bench-201 (Dong & Yang, ICLR 2020): 15,625 cells, 3 tasks.

    Ground truth is the shipped accuracy table (percent): for ``'cifar10'``
    the benchmark's cifar10-valid run (train on the train half, ``val`` on the
    other half, ``test`` on the test set).
    """

    name = "nb201"
    tasks = tuple(nb201.DATASETS)
    choices = (nb201.NUM_OPS,) * nb201.NUM_EDGES

    def canonical(self, arch: str | Sequence[int] | np.ndarray) -> Arch:
        return nb201.arch_to_ops(arch)

    def format(self, arch: str | Sequence[int] | np.ndarray) -> str:
        return nb201.ops_to_arch(arch)

    @property
    def size(self) -> int:
        return nb201.NUM_ARCHS

    def enumerate(self) -> Iterator[Arch]:
        for row in nb201.all_ops():
            yield tuple(int(o) for o in row)

    def index(self, arch: Any) -> int:
        return nb201.index_of(arch)

    def arch_at(self, index: int) -> Arch:
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not 0 <= index < self.size:
            raise ValueError(f"nb201: index must be an int in 0..{self.size - 1}, got {index!r}")
        return nb201.arch_to_ops(nb201.arch_at(int(index)))

    def neighbours(self, arch: Any) -> list[Arch]:
        return [nb201.parse_arch(s) for s in nb201.neighbours(arch)]

    def check_task(self, task: str | None) -> str:
        if task is None:
            return self.tasks[0]
        try:
            return nb201.dataset_info(task).name
        except ValueError:
            raise ValueError(f"unknown task {task!r} for space nb201; valid tasks are {', '.join(self.tasks)}") from None

    def network(self, arch: Any, task: str | None = None, **options: Any) -> SpaceNetwork:
        """The static-cell network, scored as the engine scores it.

        Args:
          arch: the cell.
          task: 'cifar10' (default), 'cifar100' or 'ImageNet16-120' (aliases as
            ``nb201.dataset_info``): the class count and the image size.
          **options: :class:`~zcjax.spaces.nb201.NB201Network` fields
            (``channels``, ``cells_per_stage``, ``weight_init``, ``bias_init``,
            ``variant``).

        Returns:
          The :class:`SpaceNetwork`: NHWC input, BatchNorm with batch statistics
          (``BatchStatNorm``, no ``batch_stats``), synflow with BatchNorm only in
          the reduction blocks (the reference's quirk), or with none
          (``variant='naslib'``, NASLib's).
        """
        info = nb201.dataset_info(self.check_task(task))
        module = nb201.build_network(arch, info.num_classes, **options)
        from .nb201.network import BatchStatNorm

        return SpaceNetwork(
            module=module,
            input_shape=(info.image_size, info.image_size, 3),
            num_classes=info.num_classes,
            spec_fields={"batchnorm_types": (BatchStatNorm,), "mutable": (),
                         "synflow_batchnorm": "drop" if module.variant == "naslib" else in_reduction_block},
        )

    def ground_truth(self, task: str | None = None, split: str = "val") -> dict[Arch, float]:
        """``{cell: accuracy in percent}`` of every cell.

        Args:
          task: the dataset (default 'cifar10', i.e. cifar10-valid).
          split: 'train', 'val' (default) or 'test'.
        """
        values = nb201.accuracies(self.check_task(task), split)
        return {tuple(int(o) for o in row): float(v) for row, v in zip(nb201.all_ops(), values)}
