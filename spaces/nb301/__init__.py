"""NAS-Bench-301 / DARTS search space (Siems et al., 2020; Liu et al., DARTS, ICLR 2019): a normal and a
reduction cell, 4 nodes with 2 edges each, 7 operations, CIFAR-10."""

from .arch import (
    ARCH_LENGTH,
    CELLS,
    NUM_ARCHS,
    NUM_NODES,
    NUM_OPS,
    OPS,
    compact,
    distance,
    format_arch,
    format_compact,
    from_genotype,
    genotype,
    neighbours,
    parse_arch,
    reduction_layers,
    to_arch,
)
from .benchmark import naslib_counts, naslib_scores, record, val_accuracy
from .space import NB301Space

__all__ = [
    "ARCH_LENGTH", "CELLS", "NUM_ARCHS", "NUM_NODES", "NUM_OPS", "OPS", "NB301Space", "compact", "distance",
    "format_arch", "format_compact", "from_genotype", "genotype", "naslib_counts", "naslib_scores",
    "neighbours", "parse_arch", "record", "reduction_layers", "to_arch", "val_accuracy",
]


def __getattr__(name: str):
    # The network imports flax; load it on first use.
    if name in ("NB301Network", "Cell", "ReLUConvBN", "FactorizedReduce", "SepConv", "DilConv", "Pool", "numpy_init"):
        from . import network

        return getattr(network, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
