"""TransNAS-Bench-101 search spaces (Duan et al., "TransNAS-Bench-101: Improving Transferability and
Generalizability of Cross-Task Neural Architecture Search", CVPR 2021): the micro (cell) space,
4,096 cells, and the macro (skeleton) space, 3,256 skeletons, over 7 Taskonomy tasks."""

from .arch import (
    BASE_CHANNELS,
    EDGES,
    MACRO_LAYER_TYPES,
    MICRO_MACRO_CODE,
    MICRO_OPS,
    NUM_EDGES,
    NUM_MICRO_ARCHS,
    NUM_MICRO_OPS,
    all_macro,
    cell_code,
    format_macro,
    format_micro,
    macro_at,
    macro_code,
    macro_distance,
    macro_index,
    macro_neighbours,
    micro_at,
    micro_index,
    micro_neighbours,
    to_macro,
    to_micro,
)
from .benchmark import INPUT_SIZE, METRICS, NUM_OUTPUTS, TASKS, naslib_scores, records, reference_counts, val_accuracy
from .space import MacroSpace, MicroSpace

__all__ = [
    "BASE_CHANNELS", "EDGES", "INPUT_SIZE", "MACRO_LAYER_TYPES", "METRICS", "MICRO_MACRO_CODE", "MICRO_OPS",
    "NUM_EDGES", "NUM_MICRO_ARCHS", "NUM_MICRO_OPS", "NUM_OUTPUTS", "TASKS", "MacroSpace", "MicroSpace", "all_macro",
    "cell_code", "format_macro", "format_micro", "macro_at", "macro_code", "macro_distance", "macro_index",
    "macro_neighbours", "micro_at", "micro_index", "micro_neighbours", "naslib_scores", "records",
    "reference_counts", "to_macro", "to_micro", "val_accuracy",
]


def __getattr__(name: str):
    # The network imports flax; load it on first use.
    if name in ("TNB101Network", "Encoder", "MicroCell", "BasicBlock", "ReLUConvBN", "FactorizedReduce",
                "TileBatchNorm", "mse_loss", "numpy_init"):
        from . import network

        return getattr(network, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
