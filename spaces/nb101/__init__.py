"""NAS-Bench-101 search space (Ying et al., "NAS-Bench-101: Towards Reproducible Neural
Architecture Search", ICML 2019): cells of up to 7 vertices and 9 edges, 3 ops, CIFAR-10."""

from .arch import (
    ARCH_LEN,
    EDGES,
    MAX_EDGES,
    NASLIB_OPS,
    NUM_CELLS,
    NUM_VERTICES,
    OPS,
    SHORT_OPS,
    benchmark_spec,
    canonical_arch,
    cell_hash,
    cell_spec,
    distance,
    format_arch,
    naslib_key,
    neighbours,
    parse_arch,
    prune,
    pruned_spec,
    random_arch,
    same_cell,
    sample_archs,
    spec_hash,
    vertex_channels,
)
from .benchmark import metric, naslib_flops, rows
from .space import NB101Space

__all__ = [
    "ARCH_LEN", "EDGES", "MAX_EDGES", "NASLIB_OPS", "NUM_CELLS", "NUM_VERTICES", "NB101Space", "OPS", "SHORT_OPS",
    "benchmark_spec", "canonical_arch", "cell_hash", "cell_spec", "distance", "format_arch", "metric",
    "naslib_flops", "naslib_key", "neighbours", "parse_arch", "prune", "pruned_spec", "random_arch", "rows",
    "same_cell", "sample_archs", "spec_hash", "vertex_channels",
]


def __getattr__(name: str):
    # The network imports flax; load it on first use.
    if name in ("NB101Network", "Cell", "ConvBnRelu", "build", "numpy_init"):
        from . import network

        return getattr(network, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
