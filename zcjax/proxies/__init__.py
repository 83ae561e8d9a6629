"""The proxies' saliencies and scores, as pure functions over parameter trees.

Each takes the layer trees of one network (kernels, their gradients,
activations) and returns a tree of per-parameter saliencies or a score; the
fused stages of :mod:`zcjax.scoring` combine them. All are jit- and
vmap-able; ``synflow_saliency`` needs ``jax.enable_x64(True)``.
"""

from .fisher import fisher_saliency
from .gradient import grad_norm_layers, plain_saliency, snip_saliency
from .hessian import grasp_saliency, hessian_vector_product, linearize_gradient
from .jacobian import jacob_cov_score
from .ssnr import layer_moments, ssnr, ssnr_of_moments
from .static import flops_layers, l2_norm_layers, param_count
from .synflow import synflow_saliency

__all__ = [
    "fisher_saliency", "flops_layers", "grad_norm_layers", "grasp_saliency", "hessian_vector_product",
    "jacob_cov_score", "l2_norm_layers", "layer_moments", "linearize_gradient", "param_count", "plain_saliency",
    "snip_saliency", "ssnr", "ssnr_of_moments", "synflow_saliency",
]
