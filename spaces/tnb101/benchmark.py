"""TransNAS-Bench-101 ground truth (NASLib's NAS-Bench-Suite-Zero rows) and the reference size counts.

``zcjax/_data/spaces/tnb101_micro_711.jsonl.gz`` holds 711 micro cells and
``tnb101_macro.jsonl.gz`` 725 macro skeletons (662 for the two classification
tasks), for 7 tasks each. A row is ``{space, task, naslib_key, val_accuracy,
naslib_idx, naslib_scores}``: ``val_accuracy`` is the benchmark's final
validation metric of the task (:data:`METRICS`; higher is better for each),
``naslib_scores`` NASLib's zero-cost proxies of the cell, computed with its
PyTorch networks on Taskonomy data: grad_norm, snip, grasp, fisher, jacov,
plain, l2_norm, nwot, epe_nas (-1e8 where NASLib got NaN), and ``params`` and
``flops`` in millions. There is no synflow in these rows (for any task).

NASLib's ``params`` is every trainable parameter of the called modules
(conv kernels, BatchNorm scale and shift, the head's weight and bias; no
running statistics): exactly this package's ``params``. Its ``flops`` is
tensorwatch's count for one input (``x_shape[0] = 1``): each leaf module's
count from its *last* call, with conv multiply-adds, 2 x numel for an affine
BatchNorm's input, numel for a ReLU's input, ``C (H+1) (W+1)`` for the global
average pool (jigsaw: of the concatenated ``9 C`` channels) and ``in x out``
for the linear head (no bias). So jigsaw's counts one tile's encoder. :func:`reference_counts` reproduces both, and the
multiply-adds that ``zcjax.score_model`` counts as ``flops`` (conv and linear
multiply-adds for one input; jigsaw's tiles go through the encoder as a batch,
so one tile's too).
"""

from __future__ import annotations

import functools
from typing import Any

from ..space import ground_truth_rows
from . import arch as _arch

TASKS: tuple[str, ...] = ("class_object", "class_scene", "jigsaw", "room_layout", "segmentsemantic", "normal",
                          "autoencoder")
#: The benchmark's validation metric behind ``val_accuracy``, per task.
METRICS: dict[str, str] = {
    "class_object": "valid_top1 (top-1 accuracy, %)",
    "class_scene": "valid_top1 (top-1 accuracy, %)",
    "jigsaw": "valid_top1 (top-1 accuracy, %)",
    "room_layout": "valid_neg_loss (minus the L2 loss)",
    "segmentsemantic": "valid_acc (pixel accuracy, %)",
    "normal": "valid_ssim (SSIM)",
    "autoencoder": "valid_ssim (SSIM)",
}
#: Outputs of the tasks whose networks this package builds.
NUM_OUTPUTS: dict[str, int] = {"class_object": 100, "class_scene": 63, "jigsaw": 1000, "room_layout": 9}
#: One input's spatial size per task (NASLib's loaders: 256x256 images; jigsaw 9 tiles of 64x64).
INPUT_SIZE: dict[str, int] = {"class_object": 256, "class_scene": 256, "jigsaw": 64, "room_layout": 256}
FILES: dict[str, str] = {"micro": "tnb101_micro_711.jsonl.gz", "macro": "tnb101_macro.jsonl.gz"}


def _canon(space: str):
    if space == "micro":
        return _arch.to_micro
    if space == "macro":
        return _arch.to_macro
    raise ValueError(f"unknown TransNAS-Bench-101 space {space!r}; expected 'micro' or 'macro'")


@functools.lru_cache(maxsize=2)
def _table(space: str) -> dict[str, dict[tuple[int, ...], dict[str, Any]]]:
    canon = _canon(space)
    table: dict[str, dict[tuple[int, ...], dict[str, Any]]] = {task: {} for task in TASKS}
    for row in ground_truth_rows(FILES[space]):
        arch = canon(row["naslib_key"])
        entry = table[row["task"]]
        if arch in entry:
            raise RuntimeError(f"{FILES[space]}: {row['naslib_key']} twice for task {row['task']}")
        entry[arch] = {"val_accuracy": float(row["val_accuracy"]), "naslib_idx": row.get("naslib_idx"),
                       "naslib_scores": dict(row["naslib_scores"])}
    return {task: dict(sorted(rows.items())) for task, rows in table.items()}


def check_task(task: str) -> str:
    """``task`` if it is one of :data:`TASKS`.

    Raises:
      ValueError: otherwise.
    """
    if task not in TASKS:
        raise ValueError(f"unknown TransNAS-Bench-101 task {task!r}; valid tasks are {', '.join(TASKS)}")
    return task


def records(space: str, task: str) -> dict[tuple[int, ...], dict[str, Any]]:
    """One space's and task's rows, ``{arch: {'val_accuracy', 'naslib_idx', 'naslib_scores'}}``, ascending."""
    return {a: dict(r) for a, r in _table(space)[check_task(task)].items()}


def val_accuracy(space: str, task: str) -> dict[tuple[int, ...], float]:
    """``{arch: the task's validation metric}`` (see :data:`METRICS`), ascending by arch."""
    return {a: r["val_accuracy"] for a, r in _table(space)[check_task(task)].items()}


def naslib_scores(space: str, task: str, proxy: str) -> dict[tuple[int, ...], float]:
    """``{arch: NASLib's value of proxy}`` for the rows that have it.

    Raises:
      ValueError: for an unknown task, or a proxy no row of the task has.
    """
    rows = _table(space)[check_task(task)]
    out = {a: r["naslib_scores"][proxy] for a, r in rows.items() if proxy in r["naslib_scores"]}
    if not out:
        names = sorted({k for r in rows.values() for k in r["naslib_scores"]})
        raise ValueError(f"NASLib's TransNAS-Bench-101 {space} rows have no {proxy!r} for task {task}; "
                         f"they have {', '.join(names)}")
    return out


class _Count:
    """Running totals: params, multiply-adds over every call, tensorwatch's flops (last call per module)."""

    def __init__(self) -> None:
        self.params = 0
        self.macs = 0
        self.tensorwatch = 0

    def conv(self, c_in: int, c_out: int, kernel: int, stride: int, h: int, w: int) -> tuple[int, int]:
        pad = kernel // 2
        oh, ow = (h + 2 * pad - kernel) // stride + 1, (w + 2 * pad - kernel) // stride + 1
        size = kernel * kernel * c_in * c_out
        self.params += size
        self.macs += size * oh * ow
        self.tensorwatch += size * oh * ow
        return oh, ow

    def bn(self, c: int, h: int, w: int) -> None:
        self.params += 2 * c
        self.tensorwatch += 2 * c * h * w

    def relu(self, c: int, h: int, w: int) -> None:
        self.tensorwatch += c * h * w

    def relu_conv_bn(self, c_in: int, c_out: int, kernel: int, stride: int, h: int, w: int) -> tuple[int, int]:
        self.relu(c_in, h, w)
        oh, ow = self.conv(c_in, c_out, kernel, stride, h, w)
        self.bn(c_out, oh, ow)
        return oh, ow

    def factorized_reduce(self, c_in: int, c_out: int, stride: int, h: int, w: int) -> tuple[int, int]:
        self.relu(c_in, h, w)
        half = c_out // 2
        oh, ow = self.conv(c_in, half, 1, stride, h, w)
        self.conv(c_in, c_out - half, 1, stride, h, w)
        self.bn(c_out, oh, ow)
        return oh, ow

    def micro_cell(self, ops: tuple[int, ...], c_in: int, c_out: int, stride: int, h: int, w: int) -> tuple[int, int]:
        oh, ow = -(-h // stride), -(-w // stride)
        edge = 0
        for node in range(1, 4):
            for source in range(node):
                op = ops[edge]
                s, c, hh, ww = (stride, c_in, h, w) if source == 0 else (1, c_out, oh, ow)
                if op == 1 and (s != 1 or c != c_out):
                    self.factorized_reduce(c, c_out, s, hh, ww)
                elif op in (2, 3):
                    self.relu_conv_bn(c, c_out, 1 if op == 2 else 3, s, hh, ww)
                edge += 1
        return oh, ow

    def basic_block(self, c_in: int, c_out: int, stride: int, h: int, w: int) -> tuple[int, int]:
        oh, ow = self.relu_conv_bn(c_in, c_out, 3, stride, h, w)
        self.relu_conv_bn(c_out, c_out, 3, 1, oh, ow)
        if stride != 1 or c_in != c_out:
            self.conv(c_in, c_out, 1, stride, h, w)
            self.bn(c_out, oh, ow)
        return oh, ow

    def encoder(self, macro_code: tuple[int, ...], cell: tuple[int, ...] | None, base: int, size: int,
                blocks: int = 2) -> tuple[int, int, int]:
        c = base
        h, w = self.conv(3, c // 2, 3, 2, size, size)
        self.bn(c // 2, h, w)
        h, w = self.relu_conv_bn(c // 2, c, 3, 2, h, w)
        for code in macro_code:
            out = 2 * c if code % 2 == 0 else c
            for j in range(blocks):
                stride = 2 if code > 2 and j == 0 else 1
                if cell is None:
                    h, w = self.basic_block(c, out, stride, h, w)
                else:
                    h, w = self.micro_cell(cell, c, out, stride, h, w)
                c = out
        return c, h, w


def reference_counts(space: str, arch: Any, task: str, base_channels: int = _arch.BASE_CHANNELS,
                     input_size: int | None = None, blocks_per_layer: int = 2) -> dict[str, int]:
    """Parameters and FLOPs of a network, counted from its structure (no network built).

    Args:
      space: 'micro' or 'macro'.
      arch: the architecture (either form).
      task: class_object, class_scene, jigsaw or room_layout.
      base_channels, input_size, blocks_per_layer: as the network's options
        (default 64, the task's :data:`INPUT_SIZE`, 2).

    Returns:
      ``{'params': ..., 'flops': ..., 'naslib_flops': ...}``: ``params`` every
      trainable parameter; ``flops`` the conv and linear multiply-adds for
      one input, what ``zcjax.score_model`` counts (jigsaw: one tile's
      encoder, since the tiles go through the encoder as a batch, and the
      head; a whole jigsaw input costs 9 tiles); ``naslib_flops``
      tensorwatch's count as NASLib's ``flops`` (times 1e6) is (see the
      module docstring; jigsaw's likewise for one tile).
    """
    if task not in NUM_OUTPUTS:
        raise ValueError(f"no TransNAS-Bench-101 network for task {task!r}; "
                         f"networks exist for {', '.join(NUM_OUTPUTS)}")
    if space == "micro":
        macro_code, cell = _arch.MICRO_MACRO_CODE, _arch.to_micro(arch)
    else:
        _canon(space)
        macro_code, cell = _arch.macro_code(arch), None
    size = INPUT_SIZE[task] if input_size is None else input_size
    count = _Count()
    channels, h, w = count.encoder(macro_code, cell, base_channels, size, blocks_per_layer)
    fan_in = channels * (JIGSAW_TILES if task == "jigsaw" else 1)
    outputs = NUM_OUTPUTS[task]
    count.params += fan_in * outputs + outputs
    count.macs += fan_in * outputs
    # AdaptiveAvgPool2d(1) on the (for jigsaw, concatenated) features, and the linear head without its bias.
    count.tensorwatch += fan_in * (h + 1) * (w + 1) + fan_in * outputs
    return {"params": count.params, "flops": count.macs, "naslib_flops": count.tensorwatch}


JIGSAW_TILES = 9
