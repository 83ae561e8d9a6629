"""The model contract: what the proxies need from any Flax model.

A :class:`ModelSpec` says how to call a model and which of its parameters are
scored; :func:`zcjax.score_model` (in :mod:`zcjax.model_scoring`) reads it.
The user's module needs no change: the per-layer quantities the proxies need
come from Flax's own mechanisms, applied from outside the module.

* The saliency layers are the parameters a filter over parameter paths picks
  (default: every leaf named ``kernel``, i.e. the weights of ``nn.Conv`` and
  ``nn.Dense``). The module that owns such a parameter is its *layer*.
* fisher needs each layer's output z and dL/dz. A method interceptor
  (``nn.intercept_methods``) around the layers' ``__call__`` adds a zero
  perturbation to the output (``Module.perturb``, collection
  :data:`PERTURBATIONS`) and sows it (``Module.sow``, collection
  :data:`OUTPUTS`); the gradient of the perturbation is dL/dz. The sown
  shapes also give flops.
* synflow's treatment of BatchNorm is an interceptor too: a dropped
  BatchNorm returns its input unchanged.

A layer called several times (shared weights) has one output per call; fisher
and flops add up the calls. A layer never called through an intercepted method
gets fisher 0 and flops 0.
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
from flax import linen as nn
from flax import traverse_util

from .scoring import cross_entropy

Path = tuple[str, ...]
Tree = Any

PERTURBATIONS = "zcjax_perturbations"
OUTPUTS = "zcjax_outputs"
MODULE_OUTPUTS = "zcjax_module_outputs"
_CALL = "zcjax_call"  # variable name of a layer's k-th call: f"{_CALL}{k}"
SYNFLOW_BATCHNORM = ("keep", "drop")


class ContractError(ValueError):
    """The model does not follow the contract (raised as is by ``score_model``)."""


def is_kernel(path: Path, leaf: Any) -> bool:
    """The default saliency filter: parameters named ``kernel`` (Conv, ConvTranspose, Dense, DenseGeneral)."""
    del leaf
    return path[-1] == "kernel"


def _takes(fn: Callable[..., Any], name: str) -> bool:
    try:
        return name in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


@dataclasses.dataclass(frozen=True, eq=False)
class ModelSpec:
    """How the proxies call a Flax model and which parameters they score.

    The model is called as
    ``apply_fn(variables, x, *args, mutable=[...], **train_kwargs)`` (plus
    ``rngs=`` when a key is given), which is :meth:`flax.linen.Module.apply`'s
    signature: it returns ``(output, updated_collections)``, and the output is
    the logits, (N, classes) for the default loss. The updated collections
    (e.g. new ``batch_stats``) are discarded.

    Attributes:
      model: a ``flax.linen.Module``, or a function with ``Module.apply``'s
        signature (e.g. ``functools.partial(module.apply, method=...)`` or a
        ``TrainState.apply_fn``).
      variables: the variables: ``{'params': ..., **other collections}``.
        Collections other than ``params`` (BatchNorm's ``batch_stats``) pass
        through unchanged. May be None when given to the scoring functions.
      saliency: ``filter(path, leaf) -> bool`` over the ``params`` tree, path a
        tuple of keys; the parameters it picks are the saliency tensors
        (default :func:`is_kernel`). Each is one "layer" of the SSNR and of
        the per-layer sums.
      loss: ``loss(logits, labels) -> scalar`` (default mean softmax
        cross-entropy with integer labels, ``optax``).
      train_kwargs: keyword arguments that put the model in the mode scored,
        passed to every call. None (default): ``{'train': True}`` if ``model``
        is a module whose ``__call__`` takes ``train``, else ``{}``. With the
        default ``mutable``, a ``train=True`` module's BatchNorm normalises with
        the statistics of the current batch, as the reference does; pass
        ``{'train': False}`` and ``mutable=()`` to score with the running
        statistics instead.
      mutable: the collections the call may update (default
        ``('batch_stats',)``; ``()`` for none). Their updates are discarded.
      synflow_batchnorm: which BatchNorm layers synflow keeps: ``'drop'``
        (default, the reference's intent: the |.|-linearised network has none),
        ``'keep'`` (all; that is ``synflow_bn``), or ``keep(path) -> bool`` over
        the BatchNorm module's path. The NAS-Bench-201 reference's quirk (BN
        only in the reduction blocks) is
        ``lambda path: path[0].startswith('reduction')``. A dropped BatchNorm
        returns its input. ``synflow_bn`` always keeps every BatchNorm.
      batchnorm_types: the module classes that are BatchNorm
        (default ``(nn.BatchNorm,)``).
      output_methods: the methods of a layer whose return value is its output z
        for fisher and flops (default ``('__call__',)``).
      layer_mask: optional ``mask(params, *args) -> tree`` of 0/1 scalars
        shaped like the saliency tree (nested dicts of the picked leaves):
        which layers the architecture uses, for networks that hold unused
        candidate layers. Default: every picked layer counts.
      input_shape: the shape of one input, without the batch axis (synflow's
        all-ones input; flops without a batch). Default: taken from the batch.
      rng_names: the rng streams given a key when ``score_model`` gets one
        (default ``('dropout',)``).
    """

    model: Any
    variables: Any = None
    saliency: Callable[[Path, Any], bool] = is_kernel
    loss: Callable[[jax.Array, jax.Array], jax.Array] = cross_entropy
    train_kwargs: Mapping[str, Any] | None = None
    mutable: Sequence[str] = ("batch_stats",)
    synflow_batchnorm: str | Callable[[Path], bool] = "drop"
    batchnorm_types: tuple[type, ...] = (nn.BatchNorm,)
    output_methods: tuple[str, ...] = ("__call__",)
    layer_mask: Callable[..., Tree] | None = None
    input_shape: tuple[int, ...] | None = None
    rng_names: tuple[str, ...] = ("dropout",)

    def __post_init__(self):
        if not (isinstance(self.model, nn.Module) or callable(self.model)):
            raise ValueError(f"model must be a flax.linen Module or an apply function, got {type(self.model).__name__}")
        if isinstance(self.synflow_batchnorm, str) and self.synflow_batchnorm not in SYNFLOW_BATCHNORM:
            raise ValueError(f"synflow_batchnorm must be 'keep', 'drop' or a function of the path, "
                             f"got {self.synflow_batchnorm!r}")
        if not isinstance(self.synflow_batchnorm, str) and not callable(self.synflow_batchnorm):
            raise ValueError(f"synflow_batchnorm must be 'keep', 'drop' or a function of the path, "
                             f"got {type(self.synflow_batchnorm).__name__}")
        if isinstance(self.mutable, str):
            object.__setattr__(self, "mutable", (self.mutable,))
        object.__setattr__(self, "mutable", tuple(self.mutable or ()))
        object.__setattr__(self, "batchnorm_types", tuple(self.batchnorm_types))
        object.__setattr__(self, "output_methods", tuple(self.output_methods))
        if self.input_shape is not None:
            object.__setattr__(self, "input_shape", tuple(int(d) for d in self.input_shape))
        if self.train_kwargs is None:
            takes_train = isinstance(self.model, nn.Module) and _takes(type(self.model).__call__, "train")
            object.__setattr__(self, "train_kwargs", {"train": True} if takes_train else {})
        else:
            object.__setattr__(self, "train_kwargs", dict(self.train_kwargs))

    @property
    def apply_fn(self) -> Callable[..., Any]:
        """The function that calls the model (``Module.apply`` for a module)."""
        return self.model.apply if isinstance(self.model, nn.Module) else self.model

    def replace(self, **changes: Any) -> ModelSpec:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    def static_key(self) -> tuple:
        """The fields that determine the traced program (not the variables); for caching compiled stages."""
        return (self.model, self.saliency, self.loss, tuple(sorted(self.train_kwargs.items())), self.mutable,
                self.synflow_batchnorm, self.batchnorm_types, self.output_methods, self.layer_mask,
                self.input_shape, self.rng_names)

    # The saliency layers.
    def saliency_paths(self, params: Tree) -> list[Path]:
        """The paths of the saliency parameters in ``params``, in leaf order."""
        flat = flatten(params)
        return [p for p, leaf in flat.items() if self.saliency(p, leaf)]

    def owners(self, params: Tree) -> dict[Path, Path]:
        """{saliency parameter path: path of the module that owns it}."""
        return {p: p[:-1] for p in self.saliency_paths(params)}

    def keep_batchnorm(self) -> Callable[[Path], bool] | None:
        """synflow's rule as ``keep(path)``; None when every BatchNorm stays."""
        if self.synflow_batchnorm == "keep":
            return None
        if self.synflow_batchnorm == "drop":
            return lambda path: False
        return self.synflow_batchnorm

    def call(self, variables: Tree, x: jax.Array, args: Sequence[Any] = (), *, mutable: Sequence[str] = (),
             rngs: Any = None, interceptors: Sequence[Callable[..., Any]] = ()) -> tuple[jax.Array, Tree]:
        """``(output, updated collections)`` of one call, under the given method interceptors.

        Args:
          variables: all collections.
          x: the input batch.
          args: further positional inputs (e.g. an architecture as data).
          mutable: collections to make mutable besides ``self.mutable``.
          rngs: rng keys, or None.
          interceptors: ``nn.intercept_methods`` interceptors, outermost first.
        """
        kwargs = dict(self.train_kwargs)
        if rngs is not None:
            kwargs["rngs"] = rngs
        apply_fn = self.apply_fn
        with contextlib.ExitStack() as stack:
            if getattr(apply_fn, "runs_interceptors", False):  # it runs them on its own modules (zcjax.model_nnx)
                kwargs["interceptors"] = tuple(interceptors)
            else:
                for interceptor in interceptors:
                    stack.enter_context(nn.intercept_methods(interceptor))
            out = apply_fn(variables, x, *args, mutable=list(mutable) + list(self.mutable), **kwargs)
        if not (isinstance(out, tuple) and len(out) == 2):
            raise ContractError("the model's apply function must return (output, updated collections) when "
                                "given mutable=, as flax.linen.Module.apply does")
        return out


def flatten(tree: Tree) -> dict[Path, Any]:
    """A nested mapping as ``{path tuple: leaf}``."""
    return traverse_util.flatten_dict(_to_dict(tree))


def _to_dict(tree: Tree) -> Any:
    if isinstance(tree, Mapping):
        return {k: _to_dict(v) for k, v in tree.items()}
    return tree


def select(params: Tree, paths: Sequence[Path]) -> Tree:
    """The saliency tree: nested dicts holding only the leaves at ``paths``."""
    flat = flatten(params)
    return traverse_util.unflatten_dict({p: flat[p] for p in paths})


def merge(params: Tree, weights: Tree) -> Tree:
    """``params`` (as nested dicts) with the leaves of the saliency tree ``weights`` put in."""
    flat = flatten(params)
    flat.update(flatten(weights))
    return traverse_util.unflatten_dict(flat)


def get_path(tree: Tree, path: Path) -> Any:
    for key in path:
        if not isinstance(tree, Mapping) or key not in tree:
            return None
        tree = tree[key]
    return tree


def call_name(k: int) -> str:
    return f"{_CALL}{k}"


def layer_interceptor(owners: frozenset[Path], methods: tuple[str, ...]) -> Callable[..., Any]:
    """An interceptor that perturbs and sows the output of every call of a saliency layer.

    The k-th call of the layer at module path P gets the zero perturbation
    ``perturbations[P]['zcjax_call<k>']`` (collection :data:`PERTURBATIONS`)
    added to its output, and sows the result under the same name (collection
    :data:`OUTPUTS`). Make a new one for every traced call: it counts calls.
    """
    calls: dict[Path, int] = {}

    def interceptor(next_fun, args, kwargs, context):
        out = next_fun(*args, **kwargs)
        if context.method_name not in methods or not isinstance(out, jax.Array):
            return out
        path = context_path(context)
        if path not in owners:
            return out
        k = calls.get(path, 0)
        calls[path] = k + 1
        if hasattr(context, "perturb"):  # a non-linen module (zcjax.model_nnx)
            out = context.perturb(call_name(k), out)
            context.sow(call_name(k), out)
        else:
            out = context.module.perturb(call_name(k), out, collection=PERTURBATIONS)
            context.module.sow(OUTPUTS, call_name(k), out)
        return out

    return interceptor


def context_path(context: Any) -> Path:
    """The path of the module an interceptor sees: a linen module's ``path``, or the context's own."""
    path = getattr(context, "path", None)
    return tuple(context.module.path) if path is None else tuple(path)


def module_output_interceptor() -> Callable[..., Any]:
    """An interceptor that sows the output of every module's ``__call__`` (MeCo's hooks on every module).

    Each array output with at least 3 axes (a batch, positions, channels last)
    is sown into :data:`MODULE_OUTPUTS` as ``(output, 1.0)``, a tap of
    :mod:`zcjax.proxies.activation`; functions such as ``nn.relu`` are not
    modules and are not seen.
    """
    def interceptor(next_fun, args, kwargs, context):
        out = next_fun(*args, **kwargs)
        if context.method_name == "__call__" and isinstance(out, jax.Array) and out.ndim >= 3:
            if hasattr(context, "perturb"):  # a non-linen module (zcjax.model_nnx)
                raise ContractError("meco reads every module's output, which zcjax.model_nnx does not tap yet")
            context.module.sow(MODULE_OUTPUTS, "module_output", (out, jnp.ones((), out.dtype)))
        return out

    return interceptor


def batchnorm_interceptor(types: tuple[type, ...], keep: Callable[[Path], bool]) -> Callable[..., Any]:
    """An interceptor under which every BatchNorm (a module of ``types``) that ``keep`` rejects returns its input."""

    def interceptor(next_fun, args, kwargs, context):
        module = context.module
        if context.method_name == "__call__" and isinstance(module, types) and not keep(context_path(context)):
            return args[0] if args else next(iter(kwargs.values()))
        return next_fun(*args, **kwargs)

    return interceptor


def layer_calls(outputs: Tree, owner: Path) -> list[Any]:
    """The sown outputs of every call of the layer at ``owner``, in call order."""
    node = get_path(outputs, owner) or {}
    out = []
    while call_name(len(out)) in node:
        out.append(node[call_name(len(out))][0])
    return out


def default_mask(weights: Tree) -> Tree:
    """Every saliency layer counts: a float32 1 per leaf."""
    return jax.tree.map(lambda _: jnp.float32(1.0), weights)


__all__ = ["ContractError", "MODULE_OUTPUTS", "ModelSpec", "OUTPUTS", "PERTURBATIONS", "batchnorm_interceptor", "context_path",
           "default_mask", "flatten", "is_kernel", "layer_interceptor", "merge", "module_output_interceptor", "select"]
