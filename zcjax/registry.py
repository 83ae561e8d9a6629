"""The one registry of proxy names.

Each proxy names the passes it needs; the scorer runs each needed pass once and
every proxy that needs it reads from it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable


@dataclasses.dataclass(frozen=True)
class Proxy:
    """A zero-cost proxy.

    Attributes:
      name: registry name (the column in results).
      passes: the computations it reads: 'loss' (forward + backward of the loss
        on the minibatch), 'hessian' (a Hessian-vector product), 'jacobian' (input
        gradients), 'synflow' / 'synflow_bn' (float64 linearised network), 'shape'
        (parameters and shapes only).
      per_parameter: it has a per-parameter saliency, so its SSNR is defined.
      needs_data: it reads the minibatch.
      description: one line.
    """

    name: str
    passes: tuple[str, ...]
    per_parameter: bool
    needs_data: bool
    description: str


PROXIES: dict[str, Proxy] = {p.name: p for p in (
    Proxy("grad_norm", ("loss",), False, True, "sum over layers of ||dL/dW||"),
    Proxy("snip", ("loss",), True, True, "sum |W * dL/dW|"),
    Proxy("grasp", ("loss", "hessian"), True, True, "sum -W * (H dL/dW), Hessian-vector product"),
    Proxy("fisher", ("loss",), True, True, "sum over channels of 0.5 E[(sum z dL/dz)^2] x fan_in"),
    Proxy("jacob_cov", ("jacobian",), False, True, "eigenvalue score of the correlation of input Jacobians"),
    Proxy("plain", ("loss",), True, True, "sum W * dL/dW"),
    Proxy("synflow", ("synflow",), True, False, "sum |W * dR/dW|, |.|-linearised net, BN only in reductions, float64"),
    Proxy("synflow_bn", ("synflow_bn",), True, False, "synflow with every BatchNorm kept"),
    Proxy("l2_norm", ("shape",), False, False, "sum over layers of ||W||"),
    Proxy("params", ("shape",), False, False, "number of parameters of the layers the cell uses"),
    Proxy("flops", ("shape",), False, False, "multiply-adds of conv/linear layers for one image"),
)}

SSNR_SUFFIXES = ("_ssnr", "_ssnr_layerwise")


def ssnr_names(saliencies: Iterable[str] | None = None) -> list[str]:
    """The SSNR result names (``<saliency>_ssnr``, ``<saliency>_ssnr_layerwise``)."""
    names = [p.name for p in PROXIES.values() if p.per_parameter] if saliencies is None else list(saliencies)
    return [n + s for n in names for s in SSNR_SUFFIXES]


def all_names() -> list[str]:
    """Every name the scorer can compute, proxies first, then SSNR."""
    return list(PROXIES) + ssnr_names()


def base_proxy(name: str) -> str:
    """The proxy whose saliency a result name reads (``snip_ssnr`` -> ``snip``)."""
    for suffix in SSNR_SUFFIXES[::-1]:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def resolve(names: str | Iterable[str]) -> tuple[str, ...]:
    """Validates a proxy selection.

    Args:
      names: 'all', 'data-free', a comma-separated string, or an iterable of names.

    Returns:
      The names, de-duplicated, in registry order.

    Raises:
      ValueError: naming every unknown name and listing the valid ones.
    """
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    names = list(names)
    valid = all_names()
    selected: set[str] = set()
    for name in names:
        if name == "all":
            selected.update(valid)
        elif name == "data-free":
            selected.update(n for n in valid if not PROXIES[base_proxy(n)].needs_data)
        else:
            selected.add(name)
    unknown = sorted(n for n in selected if n not in valid)
    if unknown:
        raise ValueError(f"unknown proxy name(s) {', '.join(unknown)}; valid: all, data-free, {', '.join(valid)}")
    if not selected:
        raise ValueError("no proxy selected")
    return tuple(n for n in valid if n in selected)


def needed_passes(names: Iterable[str]) -> frozenset[str]:
    """The passes a selection needs."""
    return frozenset(p for n in names for p in PROXIES[base_proxy(n)].passes)
