"""NAS-Bench-201 search space."""

from .arch import EDGES, NUM_ARCHS, NUM_EDGES, NUM_NODES, NUM_OPS, OPS, arch_to_ops, neighbours, ops_to_arch, parse_arch
from .benchmark import (
    DATASETS,
    SPLITS,
    DatasetInfo,
    accuracies,
    accuracy,
    accuracy_columns,
    all_archs,
    all_ops,
    arch_at,
    dataset_info,
    index_of,
    parse_indices,
)

__all__ = [
    "DATASETS",
    "EDGES",
    "NUM_ARCHS",
    "NUM_EDGES",
    "NUM_NODES",
    "NUM_OPS",
    "OPS",
    "SPLITS",
    "DatasetInfo",
    "accuracies",
    "accuracy",
    "accuracy_columns",
    "all_archs",
    "all_ops",
    "arch_at",
    "arch_to_ops",
    "dataset_info",
    "index_of",
    "neighbours",
    "ops_to_arch",
    "parse_arch",
    "parse_indices",
]
