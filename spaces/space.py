"""The contract of a search space (:class:`Space`) and of its networks (:class:`SpaceNetwork`).

A search space names its architectures, draws and lists them, says which are
one edit apart, builds each one's Flax linen network with what
:func:`zcjax.score_model` needs to score it, and gives the accuracies a
benchmark measured. Architectures have two forms:

* the **canonical form**, a tuple of ints (hashable, comparable, the key of
  every mapping a space returns);
* the **string form**, the benchmark's own spelling (``parse`` and ``format``
  convert, and ``parse(format(a)) == a``).

Every method that takes an architecture accepts either form. A space is
registered by name (:mod:`zcjax.spaces.registry`) and looked up with
``zcjax.spaces.get(name)``; docs/SPACES.md says how to add one.
"""

from __future__ import annotations

import abc
import dataclasses
import functools
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

Arch = tuple[int, ...]


@dataclasses.dataclass(frozen=True)
class SpaceNetwork:
    """One architecture's network, with what :func:`zcjax.score_model` needs to score it.

    Attributes:
      module: the ``flax.linen`` module; it takes inputs of shape
        ``(N, *input_shape)`` (its own layout, e.g. NHWC) and returns
        ``(N, num_classes)`` logits.
      input_shape: one input's shape, without the batch axis, in the module's
        layout (e.g. ``(32, 32, 3)``).
      num_classes: the number of logits (the labels' range).
      args: further positional inputs of the module after ``x`` (e.g. an
        architecture passed as data); ``()`` for a static network.
      spec_fields: the :class:`zcjax.ModelSpec` fields that score this network
        as the space intends (``synflow_batchnorm``, ``batchnorm_types``,
        ``mutable``, ``layer_mask``, ``output_methods``...). ``input_shape`` is
        added by :meth:`spec`.
      init_args: positional inputs of ``module.init`` after the key (default: a
        zero input of ``input_shape`` and ``args``).
    """

    module: Any
    input_shape: tuple[int, ...]
    num_classes: int
    args: tuple[Any, ...] = ()
    spec_fields: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    init_args: tuple[Any, ...] | None = None

    def _init_inputs(self) -> tuple[Any, ...]:
        if self.init_args is not None:
            return self.init_args
        import jax.numpy as jnp

        return (jnp.zeros((1, *self.input_shape), jnp.float32), *self.args)

    def init(self, key: Any) -> Any:
        """The network's initial variables, ``{'params': ..., ...}``, drawn from ``key`` (a JAX key)."""
        return self.module.init(key, *self._init_inputs())

    def shapes(self) -> Any:
        """The variables' shapes and dtypes (``jax.eval_shape``: no memory), enough for params and flops."""
        import jax

        return jax.eval_shape(lambda: self.module.init(jax.random.key(0), *self._init_inputs()))

    def spec(self, variables: Any = None, **overrides: Any) -> Any:
        """The :class:`zcjax.ModelSpec` that scores this network.

        Args:
          variables: the variables (default None: give them to score_model).
          **overrides: ModelSpec fields that replace the space's.

        Returns:
          A ``zcjax.ModelSpec``.
        """
        from zcjax.model import ModelSpec

        fields = {"input_shape": tuple(self.input_shape), **dict(self.spec_fields), **overrides}
        return ModelSpec(self.module, variables, **fields)

    def score(self, variables: Any = None, batch: tuple[Any, Any] | None = None, proxies: str | Sequence[str] = "all",
              key: Any = None, reg_swap: tuple[float, float] | None = None, jit: bool = True,
              **overrides: Any) -> dict[str, float]:
        """Scores the network with :func:`zcjax.score_model` (the space's conventions, this network's ``args``).

        Args:
          variables: the variables; None draws them from ``key`` (``shapes()``
            when only params and flops are asked).
          batch: ``(x, y)`` in the module's layout, or None for data-free proxies.
          proxies: names, 'all' or 'data-free'.
          key: a JAX key for the initial weights (and rng streams).
          reg_swap: reg_swap's ``(mu, sigma)``, when it is asked for.
          jit: False runs the proxies op by op, no program of this network's
            own (:func:`zcjax.score_model`).
          **overrides: ModelSpec fields that replace the space's.

        Returns:
          ``{proxy: value}`` as :func:`zcjax.score_model` returns it.
        """
        from zcjax.model_scoring import score_model

        if variables is None:
            from zcjax.registry import resolve

            if set(resolve(proxies, engine="model")) <= {"params", "flops"}:
                variables = self.shapes()
            else:
                if key is None:
                    raise ValueError("give variables or a key to draw them from")
                variables = self.init(key)
        return score_model(self.spec(**overrides), variables, batch, proxies, key, args=self.args, reg_swap=reg_swap,
                           jit=jit)


def as_rng(key_or_rng: Any) -> np.random.Generator:
    """A NumPy generator from an int seed, a ``np.random.Generator`` (used as is) or a JAX key.

    A JAX key (typed, or a raw uint32 key) seeds a new generator with its key
    data, so the same key always gives the same draws.

    Raises:
      TypeError: for anything else (floats, None, strings).
    """
    if isinstance(key_or_rng, np.random.Generator):
        return key_or_rng
    if isinstance(key_or_rng, (int, np.integer)) and not isinstance(key_or_rng, bool):
        if key_or_rng < 0:
            raise ValueError(f"a seed must be a non-negative int, got {key_or_rng}")
        return np.random.default_rng(int(key_or_rng))
    try:
        import jax

        if isinstance(key_or_rng, jax.Array):
            data = key_or_rng
            if jax.dtypes.issubdtype(data.dtype, jax.dtypes.prng_key):
                data = jax.random.key_data(data)
            words = np.asarray(data)
            if words.dtype == np.uint32 and words.ndim == 1:
                return np.random.default_rng([int(w) for w in words])
    except ImportError:  # pragma: no cover - jax is a dependency
        pass
    raise TypeError(f"expected an int seed, a numpy Generator or a JAX key, got {type(key_or_rng).__name__}")


STRATEGIES = ("per-cell", "eager", "batched")
"""How a space's architectures can be scored (:mod:`zcjax.space_scoring`): a program per architecture, op by op, or
one program for every architecture (:attr:`Space.arch_as_data`)."""


class Space(abc.ABC):
    """A search space: its architectures, their networks and their known accuracies.

    Subclasses set :attr:`name` and :attr:`tasks` and implement
    :meth:`canonical`, :meth:`format`, :meth:`neighbours`, :meth:`network`
    and, for a finite space, :meth:`enumerate` (and :attr:`size`). The
    defaults here derive :meth:`parse`, :meth:`sample`, :meth:`distance`,
    :meth:`index` and :meth:`arch_at` from those; override them where the
    space has something faster or its own order.

    Attributes:
      name: the registry name (e.g. ``'nb201'``).
      tasks: the tasks the space has networks (and possibly ground truth) for,
        e.g. ``('cifar10', 'cifar100', 'ImageNet16-120')``; the first is the default.
      arch_as_data: whether the space has one network for every architecture
        (see below).
    """

    name: str = ""
    tasks: tuple[str, ...] = ()
    #: True when ``network(arch, task, arch_as_data=True)`` gives one module for
    #: every architecture (the architecture an input in ``args``, unused
    #: candidates masked by ``layer_mask``): the engine then compiles one
    #: program for the whole space (``--strategy batched``).
    arch_as_data: bool = False
    #: What ``--strategy auto`` runs on a CPU: the first of these that the run allows, else 'per-cell'.
    #: 'batched' needs :attr:`arch_as_data` and no proxy that reads every ReLU; 'eager' no proxy that reads
    #: the minibatch (op by op, the gradient and Hessian passes keep every layer's residuals at the
    #: minibatch's size). Set from measurements of the space (bench/RESULTS.md, ``space_strategies``).
    cpu_strategies: tuple[str, ...] = ()
    #: For a product space (every combination of per-position values is an
    #: architecture and the canonical form is those values): the number of
    #: values at each position, e.g. ``(5,) * 6`` for NAS-Bench-201. None
    #: otherwise. ``zcjax.search`` runs tabular searches on product spaces
    #: whose positions all have the same number of values.
    choices: tuple[int, ...] | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        unknown = [s for s in cls.cpu_strategies if s not in STRATEGIES]
        if unknown or ("batched" in cls.cpu_strategies and not cls.arch_as_data):
            raise TypeError(f"{cls.__name__}.cpu_strategies {cls.cpu_strategies!r}: expected "
                            f"{', '.join(map(repr, STRATEGIES))} (batched only with arch_as_data)")

    def dataset(self, task: str | None = None) -> str | None:
        """The image dataset of :mod:`zcjax.data` that feeds ``task`` (e.g. ``'cifar10'``), or None.

        The data-dependent proxies of a task with None need a batch file of
        the network's input shape. The default: the task itself when it is
        one of zcjax.data's datasets.
        """
        task = self.check_task(task)
        from zcjax.data import DATASETS

        return task if task in DATASETS else None

    # ----------------------------------------------------------------- encodings

    @abc.abstractmethod
    def canonical(self, arch: str | Sequence[int] | np.ndarray) -> Arch:
        """Validates an architecture, in either form, into its canonical tuple.

        Args:
          arch: a string (the benchmark's form) or a sequence of ints.

        Returns:
          The canonical tuple of Python ints.

        Raises:
          ValueError: if ``arch`` is not an architecture of this space (one
            line naming what is wrong).
        """

    def parse(self, s: str) -> Arch:
        """Parses the string form into the canonical tuple.

        Raises:
          ValueError: if ``s`` is not a string, or not an architecture of this space.
        """
        if not isinstance(s, str):
            raise ValueError(f"{self.name}: expected an arch string, got {type(s).__name__}")
        return self.canonical(s)

    @abc.abstractmethod
    def format(self, arch: str | Sequence[int] | np.ndarray) -> str:
        """The string form of an architecture (``parse(format(a)) == canonical(a)``).

        Raises:
          ValueError: if ``arch`` is not an architecture of this space.
        """

    # ----------------------------------------------------------------- the set

    @property
    def size(self) -> int | None:
        """The number of architectures, or None for a space too large to list."""
        return None

    def enumerate(self) -> Iterator[Arch]:
        """Every architecture, in the space's index order (finite spaces only).

        Raises:
          NotImplementedError: the space is not finite (or too large to list).
        """
        raise NotImplementedError(f"{self.name} cannot be enumerated")

    def index(self, arch: Any) -> int:
        """The position of ``arch`` in :meth:`enumerate` (override for speed).

        Raises:
          ValueError: if ``arch`` is not an architecture of this space.
          NotImplementedError: the space is not finite.
        """
        target = self.canonical(arch)
        for i, a in enumerate(self.enumerate()):
            if a == target:
                return i
        raise ValueError(f"{self.name}: {arch!r} is not in the enumeration")  # pragma: no cover

    def arch_at(self, index: int) -> Arch:
        """The architecture at position ``index`` of :meth:`enumerate` (override for speed).

        Raises:
          ValueError: if ``index`` is out of range.
          NotImplementedError: the space is not finite.
        """
        size = self.size
        if size is None:
            raise NotImplementedError(f"{self.name} cannot be enumerated")
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not 0 <= index < size:
            raise ValueError(f"{self.name}: index must be an int in 0..{size - 1}, got {index!r}")
        for i, a in enumerate(self.enumerate()):
            if i == index:
                return a
        raise AssertionError("unreachable")  # pragma: no cover

    def sample(self, key_or_rng: Any, n: int) -> list[Arch]:
        """``n`` distinct architectures drawn uniformly, reproducibly from the seed.

        The default draws ``n`` distinct indices without replacement
        (``Generator.choice(size, n, replace=False)``) and maps them with
        :meth:`arch_at`; a space that cannot be enumerated overrides it.

        Args:
          key_or_rng: an int seed, a ``np.random.Generator`` (advanced) or a JAX key.
          n: how many; at most :attr:`size`.

        Returns:
          A list of ``n`` canonical tuples, in draw order.

        Raises:
          ValueError: if ``n`` is negative or larger than the space.
        """
        size = self.size
        if size is None:
            raise NotImplementedError(f"{self.name} does not implement sample")
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 0 <= n <= size:
            raise ValueError(f"{self.name}: n must be an int in 0..{size}, got {n!r}")
        indices = as_rng(key_or_rng).choice(size, size=int(n), replace=False)
        return [self.arch_at(int(i)) for i in indices]

    @abc.abstractmethod
    def neighbours(self, arch: Any) -> list[Arch]:
        """The architectures at edit distance 1 from ``arch`` (``arch`` excluded), in a fixed order.

        Raises:
          ValueError: if ``arch`` is not an architecture of this space.
        """

    def distance(self, a: Any, b: Any) -> int:
        """The edit distance: positions of the canonical tuples that differ (override if not Hamming)."""
        x, y = self.canonical(a), self.canonical(b)
        if len(x) != len(y):
            raise ValueError(f"{self.name}: architectures of different lengths ({len(x)}, {len(y)})")
        return sum(int(p != q) for p, q in zip(x, y))

    # ----------------------------------------------------------------- networks and truth

    @abc.abstractmethod
    def network(self, arch: Any, task: str | None = None, **options: Any) -> SpaceNetwork:
        """The network of ``arch`` for ``task``, with its scoring conventions.

        Args:
          arch: the architecture (either form).
          task: one of :attr:`tasks` (default the first): sets the class count
            and input shape.
          **options: space-specific network options (e.g. initialisation
            schemes, width).

        Returns:
          A :class:`SpaceNetwork`.

        Raises:
          ValueError: for a bad architecture or task.
        """

    def shared_variables(self, arch: Any, variables: Any, task: str | None = None, **options: Any) -> Any:
        """A static network's variables placed in the arch-as-data network's tree (spaces with :attr:`arch_as_data`).

        The engine draws an architecture's weights with its static network's
        ``init`` in every strategy and, for ``batched``, moves them here, so
        both strategies score the same weights.

        Args:
          arch: the architecture.
          variables: ``space.network(arch, task, **options).init(key)``.
          task, **options: as :meth:`network`.

        Returns:
          The variables of ``space.network(arch, task, arch_as_data=True, **options)``.

        Raises:
          NotImplementedError: the space has no arch-as-data network.
        """
        raise NotImplementedError(f"{self.name} has no arch-as-data network")

    def ground_truth(self, task: str | None = None, **options: Any) -> dict[Arch, float]:
        """The accuracies a benchmark measured for ``task``: ``{canonical arch: accuracy}``.

        Only the architectures the benchmark trained are keys (for a tabular
        space, every one). The values and their units are the space's (say so
        in its docstring), higher is better.

        Raises:
          ValueError: for an unknown task or option.
          NotImplementedError: the space has no known accuracies.
        """
        raise NotImplementedError(f"{self.name} has no ground truth")

    def check_task(self, task: str | None) -> str:
        """The task's canonical name (``None`` is the first of :attr:`tasks`).

        Raises:
          ValueError: if the task is not one of :attr:`tasks`.
        """
        if task is None:
            return self.tasks[0]
        if task not in self.tasks:
            raise ValueError(f"unknown task {task!r} for space {self.name}; valid tasks are {', '.join(self.tasks)}")
        return task

    def __repr__(self) -> str:
        size = self.size
        return f"<Space {self.name}: {'?' if size is None else f'{size:,}'} architectures, tasks {list(self.tasks)}>"


def hamming_neighbours(arch: Arch, choices: Callable[[int], int]) -> list[Arch]:
    """All tuples one position away from ``arch``, position-major then by value.

    Args:
      arch: a canonical tuple.
      choices: the number of values of position i.
    """
    return [arch[:i] + (v,) + arch[i + 1:] for i in range(len(arch)) for v in range(choices(i)) if v != arch[i]]


DATA_PACKAGE = "zcjax._data"
DATA_FOLDER = "spaces"


def ground_truth_files() -> list[str]:
    """The ground-truth files shipped in ``zcjax/_data/spaces/`` (see PROVENANCE.md there)."""
    from importlib import resources

    folder = resources.files(DATA_PACKAGE).joinpath(DATA_FOLDER)
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".jsonl.gz"))


@functools.lru_cache(maxsize=8)
def _rows(filename: str) -> tuple[dict[str, Any], ...]:
    import gzip
    import json
    from importlib import resources

    source = resources.files(DATA_PACKAGE).joinpath(DATA_FOLDER, filename)
    if not source.is_file():
        raise FileNotFoundError(f"no ground-truth file {filename!r} in {DATA_PACKAGE}/{DATA_FOLDER}; "
                                f"shipped: {', '.join(ground_truth_files())}")
    with source.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as text:
        return tuple(json.loads(line) for line in text if line.strip())


def ground_truth_rows(filename: str) -> list[dict[str, Any]]:
    """The rows of a shipped ground-truth file (one JSON object per line, gzip), read through importlib.resources.

    Args:
      filename: e.g. ``'nas_bench_macro_cifar10.jsonl.gz'`` (see :func:`ground_truth_files`).

    Returns:
      A new list of the row dicts (shallow copies: the file is read once and cached).

    Raises:
      FileNotFoundError: no such file in the package.
    """
    return [dict(row) for row in _rows(filename)]
