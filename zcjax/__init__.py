"""zcjax: zero-cost proxies for neural architecture search, in JAX.

Score NAS-Bench-201 cells with grad_norm, snip, grasp, fisher, jacob_cov, plain,
synflow, synflow_bn, l2_norm, params, flops and the saliency SSNR, matching the
PyTorch reference of "Zero-Cost Proxies for Lightweight NAS" (``score_cells``,
``Scorer``); score any Flax model the same way (``score_model``, ``ModelSpec``).
Search spaces are plug-ins (``zcjax.spaces.get``), the search algorithms live in
``zcjax.search``, and result files carry their settings (``zcjax.results``).
"""

from . import compile_cache
from .engine import NumericalWarning, ScoreConfig, Scorer, cell_key, score_cells
from .model import ModelSpec
from .model_scoring import score_model
from .registry import PROXIES, Proxy, all_names, resolve
from .scoring import cross_entropy, float32_stage, float64_stage

__version__ = "0.1.0"

__all__ = [
    "ModelSpec", "NumericalWarning", "PROXIES", "compile_cache", "Proxy", "ScoreConfig", "Scorer", "all_names",
    "cell_key", "cross_entropy", "float32_stage", "float64_stage", "resolve", "score_cells", "score_model",
]
