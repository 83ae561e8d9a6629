"""NAS-Bench-Macro search space (Su et al., "Prioritized Architecture Sampling with
Monte-Carlo Tree Search", CVPR 2021): 8 searchable layers, 3 choices each, CIFAR-10."""

from .arch import (
    CHOICES,
    DOWNSAMPLING_LAYERS,
    NUM_ARCHS,
    NUM_CHOICES,
    NUM_LAYERS,
    STAGES,
    arch_at,
    canonical_arch,
    format_arch,
    index_of,
    neighbours,
    parse_arch,
    to_choices,
)
from .benchmark import metric, record
from .space import MacroSpace

__all__ = [
    "CHOICES", "DOWNSAMPLING_LAYERS", "NUM_ARCHS", "NUM_CHOICES", "NUM_LAYERS", "STAGES", "MacroSpace", "arch_at",
    "canonical_arch", "format_arch", "index_of", "metric", "neighbours", "parse_arch", "record", "to_choices",
]


def __getattr__(name: str):
    # The network imports flax; load it on first use.
    if name in ("MacroNetwork", "MixedMacroNetwork", "InvertedResidual", "Shortcut", "layer_mask", "numpy_init",
                "to_mixed_params"):
        from . import network

        return getattr(network, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
