"""TransNAS-Bench-101 micro and macro as :class:`~zcjax.spaces.space.Space` plug-ins.

Registered as ``'tnb101_micro'`` (:class:`MicroSpace`) and ``'tnb101_macro'``
(:class:`MacroSpace`). See :mod:`zcjax.spaces.tnb101.arch` for the encodings,
:mod:`zcjax.spaces.tnb101.network` for the networks and
:mod:`zcjax.spaces.tnb101.benchmark` for the ground truth.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from ..space import Arch, Space, SpaceNetwork
from . import arch as _arch
from . import benchmark

_NETWORK_OPTIONS = ("base_channels", "input_size", "blocks_per_layer")


class _TNB101Space(Space):
    """What the two TransNAS-Bench-101 spaces share: tasks, networks, ground truth."""

    tasks = benchmark.TASKS
    _kind = ""

    def _encoder(self, arch: Any) -> tuple[tuple[int, ...], tuple[int, ...] | None]:
        raise NotImplementedError

    def network(self, arch: Any, task: str | None = None, base_channels: int = _arch.BASE_CHANNELS,
                input_size: int | None = None, blocks_per_layer: int = 2, **options: Any) -> SpaceNetwork:
        """The network of ``arch`` for ``task``, as the benchmark builds it.

        Args:
          arch: the architecture (either form).
          task: 'class_object' (default; 100 classes, 256x256 images),
            'class_scene' (63 classes, 256x256), 'jigsaw' (1,000 permutation
            classes; an input is 9 tiles, ``(9, 64, 64, 3)``, each through the
            shared encoder) or 'room_layout' (9 regression outputs, 256x256,
            mean squared error as the loss: labels are (N, 9) floats). The
            pixel-output tasks (segmentsemantic, normal, autoencoder) have
            ground truth but no network here.
          base_channels: the stem's output channels (64; any even number, for
            tiny test networks).
          input_size: the images' (jigsaw: the tiles') side (default the
            task's: 256, jigsaw 64).
          blocks_per_layer: blocks per layer (2, the benchmark's; 1 halves
            the depth, for quick tests).
          **options: none other (a ValueError names the first).

        Returns:
          The :class:`SpaceNetwork`: NHWC input (jigsaw: ``(9, H, W, 3)``, the
          tiles), flax ``nn.BatchNorm`` (jigsaw: its subclass
          :class:`~zcjax.spaces.tnb101.network.TileBatchNorm`) scored
          in training mode (batch statistics; the ``batch_stats`` updates are
          discarded), synflow with every BatchNorm dropped (as NASLib's
          synflow, ``bn=False``).

        Raises:
          ValueError: for a bad architecture, task or option.
        """
        from .network import JIGSAW_TILES, TNB101Network, mse_loss

        if options:
            raise ValueError(f"{self.name}: unknown network option {sorted(options)[0]!r}; "
                             f"options are {', '.join(_NETWORK_OPTIONS)}")
        task = self.check_task(task)
        macro_code, cell = self._encoder(arch)
        if task not in benchmark.NUM_OUTPUTS:
            raise ValueError(f"{self.name}: no network for task {task!r} (pixel outputs); networks exist for "
                             f"{', '.join(benchmark.NUM_OUTPUTS)}")
        if isinstance(base_channels, bool) or not isinstance(base_channels, (int, np.integer)) \
                or base_channels < 2 or base_channels % 2:
            raise ValueError(f"{self.name}: base_channels must be an even int >= 2, got {base_channels!r}")
        size = benchmark.INPUT_SIZE[task] if input_size is None else input_size
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 4:
            raise ValueError(f"{self.name}: input_size must be an int >= 4, got {input_size!r}")
        if isinstance(blocks_per_layer, bool) or not isinstance(blocks_per_layer, (int, np.integer)) \
                or blocks_per_layer < 1:
            raise ValueError(f"{self.name}: blocks_per_layer must be an int >= 1, got {blocks_per_layer!r}")
        outputs = benchmark.NUM_OUTPUTS[task]
        tiles = JIGSAW_TILES if task == "jigsaw" else 0
        module = TNB101Network(macro_code, cell, num_classes=outputs, tiles=tiles, base_channels=int(base_channels),
                               blocks_per_layer=int(blocks_per_layer))
        shape = (int(size), int(size), 3)
        fields: dict[str, Any] = {"synflow_batchnorm": "drop", "train_kwargs": {"train": True},
                                  "mutable": ("batch_stats",)}
        if task == "room_layout":
            fields["loss"] = mse_loss
        return SpaceNetwork(module=module, input_shape=(tiles, *shape) if tiles else shape, num_classes=outputs,
                            spec_fields=fields)

    def ground_truth(self, task: str | None = None, **options: Any) -> dict[Arch, float]:
        """``{arch: the benchmark's validation metric}`` for the architectures NASLib's rows hold.

        The metric is the task's (:data:`~zcjax.spaces.tnb101.benchmark.METRICS`):
        top-1 accuracy (%) for class_object, class_scene and jigsaw, minus the
        L2 loss for room_layout, pixel accuracy (%) for segmentsemantic, SSIM
        for normal and autoencoder; higher is better for all.

        Raises:
          ValueError: for an unknown task or any option (there are none).
        """
        if options:
            raise ValueError(f"{self.name}: ground_truth takes no option {sorted(options)[0]!r}")
        return benchmark.val_accuracy(self._kind, self.check_task(task))

    def naslib_scores(self, task: str | None = None, proxy: str = "params") -> dict[Arch, float]:
        """NASLib's value of a zero-cost proxy for each architecture of its rows (``params``, ``flops`` in millions).

        Raises:
          ValueError: for an unknown task, or a proxy the rows lack (synflow, for one).
        """
        return benchmark.naslib_scores(self._kind, self.check_task(task), proxy)

    def reference_counts(self, arch: Any, task: str | None = None, **options: Any) -> dict[str, int]:
        """``params``, ``flops`` (multiply-adds, as score_model) and ``naslib_flops`` counted from the structure.

        See :func:`zcjax.spaces.tnb101.benchmark.reference_counts`; ``options``
        are ``base_channels`` and ``input_size``.
        """
        unknown = set(options) - set(_NETWORK_OPTIONS)
        if unknown:
            raise ValueError(f"{self.name}: unknown option {sorted(unknown)[0]!r}")
        return benchmark.reference_counts(self._kind, self.canonical(arch), self.check_task(task), **options)


class MicroSpace(_TNB101Space):
    """TransNAS-Bench-101 micro (Duan et al., CVPR 2021): one 4-node cell in a fixed skeleton, 4,096 cells.

    The canonical form is the 6 op indices (0 none, 1 skip, 2 conv1x1, 3
    conv3x3) of edges 0->1, 0->2, 1->2, 0->3, 1->3, 2->3, which is NASLib's
    key; the string form the benchmark's net code ``'64-41414-1_00_210'``;
    NASLib's key string ``'(1, 0, 0, 2, 1, 0)'`` is accepted too. Index =
    the ops as a base-4 number; neighbours: one edge's op changed (18).
    Ground truth: NASLib's 711 cells, 7 tasks.
    """

    name = "tnb101_micro"
    _kind = "micro"
    cpu_strategies = ("eager",)  # bench/RESULTS.md, space_strategies

    def canonical(self, arch: str | Sequence[int] | np.ndarray) -> Arch:
        return _arch.to_micro(arch)

    def format(self, arch: str | Sequence[int] | np.ndarray) -> str:
        return _arch.format_micro(arch)

    @property
    def size(self) -> int:
        return _arch.NUM_MICRO_ARCHS

    def enumerate(self) -> Iterator[Arch]:
        return iter(itertools.product(range(_arch.NUM_MICRO_OPS), repeat=_arch.NUM_EDGES))

    def index(self, arch: Any) -> int:
        return _arch.micro_index(arch)

    def arch_at(self, index: int) -> Arch:
        return _arch.micro_at(index)

    def neighbours(self, arch: Any) -> list[Arch]:
        return _arch.micro_neighbours(arch)

    def _encoder(self, arch: Any) -> tuple[tuple[int, ...], tuple[int, ...] | None]:
        return _arch.MICRO_MACRO_CODE, self.canonical(arch)


class MacroSpace(_TNB101Space):
    """TransNAS-Bench-101 macro (Duan et al., CVPR 2021): 4 to 6 layers of ResNet basic blocks, 3,256 skeletons.

    A layer is 1 (normal), 2 (channels x2), 3 (stride 2) or 4 (both); 1 to 4
    layers downsample, 1 to 3 double the channels. The canonical form is
    NASLib's key, the codes padded with zeros to 6 (``(1, 2, 4, 2, 0, 0)``);
    the string form the benchmark's net code ``'64-1242-basic'``. The
    enumeration is the canonical tuples ascending (the codes in
    lexicographic order). Neighbours: the skeletons one layer change,
    deletion or insertion away; :meth:`distance` is that edit distance.
    Ground truth: NASLib's 725 skeletons (662 for the classification tasks), 7 tasks.
    """

    name = "tnb101_macro"
    _kind = "macro"

    def canonical(self, arch: str | Sequence[int] | np.ndarray) -> Arch:
        return _arch.to_macro(arch)

    def format(self, arch: str | Sequence[int] | np.ndarray) -> str:
        return _arch.format_macro(arch)

    @property
    def size(self) -> int:
        return len(_arch.all_macro())

    def enumerate(self) -> Iterator[Arch]:
        return iter(_arch.all_macro())

    def index(self, arch: Any) -> int:
        return _arch.macro_index(arch)

    def arch_at(self, index: int) -> Arch:
        return _arch.macro_at(index)

    def neighbours(self, arch: Any) -> list[Arch]:
        return _arch.macro_neighbours(arch)

    def distance(self, a: Any, b: Any) -> int:
        """The edit distance: layer changes, deletions and insertions between the two skeletons' codes."""
        return _arch.macro_distance(a, b)

    def _encoder(self, arch: Any) -> tuple[tuple[int, ...], tuple[int, ...] | None]:
        return _arch.macro_code(arch), None
