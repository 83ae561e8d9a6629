"""The one registry of proxy names.

Each proxy names the passes it needs; the scorer runs each needed pass once and
every proxy that needs it reads from it. Two engines compute them: the
NAS-Bench-201 engine (:mod:`zcjax.engine`, every proxy) and the model engine
(:mod:`zcjax.model_scoring`, any Flax model and the other spaces: the
proxies of "Zero-Cost Proxies for Lightweight NAS" and their SSNR). A proxy
lists the engines that compute it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable


ENGINES = ("nb201", "model")


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
      engines: the engines that compute it: 'nb201' (:mod:`zcjax.engine`) and
        'model' (:mod:`zcjax.model_scoring`).
      revision: 1, raised by one whenever a change of definition changes its
        values. A results file records the revisions above 1 of its proxies
        (:func:`revisions`), so that a run never resumes a file written under
        another definition.
      constants: the names of the constants the caller must give (e.g.
        ``ScoreConfig.reg_swap``); a proxy with constants is computed only when
        named, never as part of 'all' or 'data-free'.
      float64: what of it is computed in float64 when a run's precision is
        float32 ('' for nothing). Results files record the names of the
        run's proxies that have one (:func:`precision_setting`), not this text.
    """

    name: str
    passes: tuple[str, ...]
    per_parameter: bool
    needs_data: bool
    description: str
    engines: tuple[str, ...] = ENGINES
    revision: int = 1
    constants: tuple[str, ...] = ()
    float64: str = ""


_LINEARISED = "the linearised network"
_JACOBIAN = "statistics of the float32 input Jacobian"
_KERNEL = "log-determinant of the float32 kernel"

PROXIES: dict[str, Proxy] = {p.name: p for p in (
    Proxy("grad_norm", ("loss",), False, True, "sum over layers of ||dL/dW||"),
    Proxy("snip", ("loss",), True, True, "sum |W * dL/dW|"),
    Proxy("grasp", ("loss", "hessian"), True, True, "sum -W * (H dL/dW), Hessian-vector product"),
    Proxy("fisher", ("loss",), True, True, "sum over channels of 0.5 E[(sum z dL/dz)^2] x fan_in"),
    Proxy("jacob_cov", ("jacobian",), False, True, "eigenvalue score of the correlation of input Jacobians",
          float64=_JACOBIAN),
    Proxy("plain", ("loss",), True, True, "sum W * dL/dW"),
    Proxy("synflow", ("synflow",), True, False, "sum |W * dR/dW|, |.|-linearised net, BN only in reductions, float64",
          float64=_LINEARISED),
    Proxy("synflow_bn", ("synflow_bn",), True, False, "synflow with every BatchNorm kept", float64=_LINEARISED),
    Proxy("l2_norm", ("shape",), False, False, "sum over layers of ||W||"),
    Proxy("params", ("shape",), False, False, "number of parameters of the layers the cell uses"),
    Proxy("flops", ("shape",), False, False, "multiply-adds of conv/linear layers for one image"),
    # Proxies published after the paper (docs/PROXIES.md gives the definitions we follow).
    Proxy("nwot", ("relu",), False, True, "log|det K|, K: how many ReLU units each pair of images agree on (NASWOT)",
          float64=_KERNEL),
    Proxy("nwot_randn", ("relu_randn",), False, False, "nwot on the 64 fixed N(0, 1) images of the Gaussian-input "
          "proxies instead of the minibatch (AZ-NAS's and VKDNW's NB201 protocol)", float64=_KERNEL),
    Proxy("swap", ("swap",), False, True, "distinct activation patterns of the ReLU units over 16 images (SWAP)"),
    Proxy("reg_swap", ("swap", "shape"), False, True, "swap x exp(-(P / 1000 - mu)^2 / sigma), P the parameter "
          "count (reg-SWAP; mu, sigma: --reg-swap)", constants=("mu", "sigma")),
    Proxy("meco", ("meco",), False, True, "sum of min eigenvalues of the channel correlation of every module's "
          "output on one image (MeCo)"),
    Proxy("meco_opt", ("meco_opt",), False, True, "meco on 8 random channels of each module's output, scaled "
          "by C / 8 (MeCo_opt)"),
    Proxy("meco_randn", ("meco_randn",), False, False, "meco on one fixed N(0, 1) input instead of the "
          "minibatch (MeCo's measure file; 64 x 64 on NAS-Bench-201)"),
    Proxy("zico", ("zico",), False, True, "sum over layers of log sum mean|g| / std(g) over 2 half-batches (ZiCo)"),
    # az_expressivity and az_progressivity were revision 2 for a while (29a0fe6, withdrawn in c01e845: files of that
    # window record it and are refused); their next revision, if any, is 3.
    Proxy("az_expressivity", ("az",), False, False, "sum over blocks of the eigenvalue entropy of the feature "
          "covariance, Gaussian input (AZ-NAS)", ("nb201",)),
    Proxy("az_progressivity", ("az",), False, False, "smallest increase of that entropy from block to block "
          "(AZ-NAS)", ("nb201",)),
    Proxy("az_trainability", ("az",), False, False, "mean over blocks of 2 - s - 1/s, s: spectral norm of the "
          "block's Jacobian probed with Rademacher vectors (AZ-NAS)", ("nb201",)),
    Proxy("zen", ("zen",), False, False, "log |f(x) - f(x + 0.01 e)| before pooling + sum of log BatchNorm "
          "scales, Gaussian x (Zen-NAS)", ("nb201",)),
    Proxy("te_ntk", ("ntk",), False, True, "-condition number of the NTK of the minibatch (TE-NAS)",
          float64="condition number of the float32 NTK"),
    Proxy("te_linear_regions", ("linear_regions",), False, False, "distinct ReLU activation patterns of 64 Gaussian "
          "images (TE-NAS)"),
    Proxy("vkdnw_entropy", ("vkdnw",), False, False, "entropy of the deciles of the Fisher spectrum of element 0 of "
          "the first 128 tensors, eval-mode BatchNorm, Gaussian input (VKDNW)", ("nb201",)),
    Proxy("vkdnw_dim", ("vkdnw",), False, False, "number of parameter tensors of the xautodl network, "
          "21 + 45 k for k conv edges a cell (VKDNW)", ("nb201",)),
    Proxy("epe_nas", ("jacobian",), False, True, "sum over classes of |sum log(|corr| + 1e-5)| of the input "
          "Jacobians (EPE-NAS)", float64=_JACOBIAN),
)}

PAPER_PROXIES = ("grad_norm", "snip", "grasp", "fisher", "jacob_cov", "plain", "synflow", "synflow_bn", "l2_norm",
                 "params", "flops")
"""The proxies of "Zero-Cost Proxies for Lightweight NAS" (and plain, synflow_bn, l2_norm, params, flops)."""

SSNR_SUFFIXES = ("_ssnr", "_ssnr_layerwise")


def ssnr_names(saliencies: Iterable[str] | None = None) -> list[str]:
    """The SSNR result names (``<saliency>_ssnr``, ``<saliency>_ssnr_layerwise``)."""
    names = [p.name for p in PROXIES.values() if p.per_parameter] if saliencies is None else list(saliencies)
    return [n + s for n in names for s in SSNR_SUFFIXES]


def all_names(engine: str | None = None) -> list[str]:
    """Every name an engine can compute (None: any engine), proxies first, then SSNR."""
    names = list(PROXIES) + ssnr_names()
    return names if engine is None else [n for n in names if engine in PROXIES[base_proxy(n)].engines]


def base_proxy(name: str) -> str:
    """The proxy whose saliency a result name reads (``snip_ssnr`` -> ``snip``)."""
    for suffix in SSNR_SUFFIXES[::-1]:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def float64_proxies() -> tuple[str, ...]:
    """The proxies with a part computed in float64 under the float32 precision (:attr:`Proxy.float64`)."""
    return tuple(p.name for p in PROXIES.values() if p.float64)


LINEARISED_PASSES = frozenset({"synflow", "synflow_bn"})
"""The passes of the float64 linearised network (synflow's): they run in the float64 stage only."""


def float32_part(name: str) -> bool:
    """Whether a result name's proxy has a part in the float32 stage: it reads a pass besides the linearised network's
    (:data:`LINEARISED_PASSES`). False for synflow, synflow_bn and their SSNR, computed wholly in float64."""
    return not set(PROXIES[base_proxy(name)].passes) <= LINEARISED_PASSES


def handoff_proxies() -> tuple[str, ...]:
    """The proxies whose float32 part hands an array to their float64 part (jacob_cov's Jacobians, nwot's kernel)."""
    return tuple(p for p in float64_proxies() if float32_part(p))


def precision_setting(names: Iterable[str], precision: str = "float32") -> str:
    """What a run of ``names`` computes in which precision, as its results file records it.

    'float64: every proxy' for the float64 precision; for float32, 'float32' and the run's proxies with a float64
    part (:attr:`Proxy.float64` says which part), in registry order: e.g. ``'float32; float64 parts: synflow,
    nwot'``.
    """
    if precision == "float64":
        return "float64: every proxy"
    used = {base_proxy(n) for n in names}
    parts = [p for p in float64_proxies() if p in used]
    return "float32" + ("; float64 parts: " + ", ".join(parts) if parts else "")


def revisions(names: Iterable[str]) -> dict[str, int]:
    """{proxy: revision} of the proxies behind ``names`` whose definition was revised (revision > 1)."""
    return {p: PROXIES[p].revision for p in sorted({base_proxy(n) for n in names}) if PROXIES[p].revision > 1}


def with_revisions(settings: dict) -> dict:
    """``settings`` (a results file's, with its ``proxies``) plus ``revisions`` where any proxy was revised.

    Files of unrevised proxies keep the settings they always had, so they resume as before.
    """
    revised = revisions(settings["proxies"])
    return {**settings, "revisions": revised} if revised else settings


def resolve(names: str | Iterable[str], engine: str | None = None) -> tuple[str, ...]:
    """Validates a proxy selection.

    Args:
      names: 'all', 'data-free', 'paper' (the paper's proxies and their SSNR:
        :data:`PAPER_PROXIES`), a comma-separated string, or an iterable of names.
        'all' and 'data-free' leave out the proxies that need constants
        (:attr:`Proxy.constants`): those are computed only when named.
      engine: 'nb201' or 'model': 'all' and 'data-free' stand for the names
        that engine computes, and a name it does not compute is refused.
        None: every registered name.

    Returns:
      The names, de-duplicated, in registry order.

    Raises:
      ValueError: naming every unknown name and listing the valid ones.
    """
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    names = list(names)
    valid = all_names(engine)
    selected: set[str] = set()
    for name in names:
        if name == "all":
            selected.update(n for n in valid if not PROXIES[base_proxy(n)].constants)
        elif name == "paper":
            selected.update(n for n in valid if base_proxy(n) in PAPER_PROXIES)
        elif name == "data-free":
            selected.update(n for n in valid if not PROXIES[base_proxy(n)].needs_data
                            and not PROXIES[base_proxy(n)].constants)
        else:
            selected.add(name)
    elsewhere = sorted(n for n in selected if n not in valid and n in all_names())
    if elsewhere:
        raise ValueError(f"{', '.join(elsewhere)}: not computed by the {engine} engine yet (the NAS-Bench-201 engine "
                         f"computes them: zcjax.score_cells / python -m zcjax.score)")
    unknown = sorted(n for n in selected if n not in valid)
    if unknown:
        raise ValueError(f"unknown proxy name(s) {', '.join(unknown)}; valid: all, data-free, paper, "
                         f"{', '.join(valid)}")
    if not selected:
        raise ValueError("no proxy selected")
    return tuple(n for n in valid if n in selected)


RELU_PASSES = frozenset({"relu", "relu_randn", "swap", "linear_regions"})
"""The passes that read every ReLU the network applies (nwot, nwot_randn, swap, reg_swap, te_linear_regions): a network
holding every candidate op (an arch-as-data network of the model engine) applies the unused ones too."""


def reads_relus(names: Iterable[str]) -> list[str]:
    """The names of a selection whose proxy reads every ReLU (see :data:`RELU_PASSES`)."""
    return [n for n in names if set(PROXIES[base_proxy(n)].passes) & RELU_PASSES]


GROUPS = ("all", "data-free", "paper")


def named(names: str | Iterable[str]) -> set[str]:
    """The names a selection gives one by one, not through a group ('all', 'data-free', 'paper')."""
    if isinstance(names, str):
        names = names.split(",")
    return {n.strip() for n in names if n.strip() and n.strip() not in GROUPS}


def registry_order(names: Iterable[str]) -> tuple[str, ...]:
    """Registered result names, de-duplicated, in registry order."""
    wanted = set(names)
    return tuple(n for n in all_names() if n in wanted)


def needed_passes(names: Iterable[str]) -> frozenset[str]:
    """The passes a selection needs."""
    return frozenset(p for n in names for p in PROXIES[base_proxy(n)].passes)
