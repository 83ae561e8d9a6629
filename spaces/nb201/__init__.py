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
from .network import NB201Network, build_network, conv_pattern, layer_mask, to_mixed_params
from .torch_weights import load_state_dict, load_torch_params, params_from_torch, torch_module_name, torch_state_from_params

__all__ = [
    "NB201Network",
    "build_network",
    "conv_pattern",
    "layer_mask",
    "load_state_dict",
    "load_torch_params",
    "params_from_torch",
    "to_mixed_params",
    "torch_module_name",
    "torch_state_from_params",
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
