"""Scoring engine: many NAS-Bench-201 cells, each with every requested proxy.

Three strategies compute the same numbers:

* ``eager``: the cell's network runs op by op from Python, its layers
  (convolution with ReLU, bias and fisher's perturbation; BatchNorm; pools)
  each a small compiled program shared by every cell of the space; the
  gradient passes (the loss's, grasp's Hessian-vector product, the input
  Jacobian, synflow's) run the cell as a tape of fused units
  (:mod:`zcjax.tape_passes`), four programs per unit kind and shape. A new
  cell compiles nothing once the first few cells have compiled the layers
  (most of it in the first cell; bench/RESULTS.md has the cold-start figures).
* ``per-cell``: one program per cell (the architecture is Python structure),
  or, for cells that share a conv pattern in the run, one per pattern (which
  edges hold a 3x3 or a 1x1 convolution is structure; the none / avg_pool /
  skip edges are data), so 729 programs cover the 15,625 cells. Cheapest to
  run, but each program compiles (about 9-20 s on CPU with every proxy).
* ``batched``: one program for every cell (the architecture is data), vmapped
  over a chunk of cells and sharded over all local devices. Compiles once. The
  cells' parameters are initialised on the devices by a compiled init program
  of their own (vmapped and sharded the same way) and passed on.

``auto`` picks batched on accelerators; on CPU, whichever of the three costs
less for the run's cells by the measured compile and run times (:data:`CPU_COSTS`).
Every cell's weights come from ``fold_in(key(init_seed), benchmark index)``,
so a cell gets the same weights whatever else is in the run, in either
strategy; its scores agree across programs up to float32 rounding.
"""

from __future__ import annotations

import collections
import dataclasses
import math
import warnings
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from . import distributed, registry
from .proxies.activation import reg_swap_constants
from .scoring import float32_stage, float64_stage, split_names
from .spaces.nb201 import benchmark
from .spaces.nb201.arch import arch_to_ops, ops_to_arch
from .spaces.nb201.network import NB201Network, check_variant, conv_pattern
from .tape_passes import TapePasses

STRATEGIES = ("auto", "eager", "per-cell", "batched")
PRECISIONS = ("float32", "float64")
# Seconds measured on the 2-vCPU development CPU with a minibatch of 64 (bench/RESULTS.md,
# bench/NOTES.md), keyed by whether a proxy needs data: compile and run per cell of a
# static cell program, of a conv-pattern program, of the batched program, and the eager
# layers' compilation (spread over the first few cells) and run per cell. Costs measured on
# slower machines of the class are scaled to one machine by A/B runs in the same session.
CPU_COSTS = {True: {"cell": (9.2, 1.07), "pattern": (20.0, 1.7), "batched": (100.0, 5.3), "eager": (24.0, 2.1)},
             False: {"cell": (5.5, 0.19), "pattern": (7.0, 0.22), "batched": (43.0, 0.14), "eager": (13.0, 0.3)}}
# What a pass adds to those, where it changes the choice: VKDNW's ten backward passes (bench/NOTES.md,
# sessions 14 and 15: static cell and arch-as-data program measured alone in session 15, its edges
# through lax.switch; eager beside other runs, an upper bound; the pattern programs' figure is the
# static cell's, not measured with their switch edges). Measured with 10 classes; a pass in
# PER_CLASS_PASSES runs once per class, so its run time scales with the class count.
PASS_CPU_COSTS = {"vkdnw": {"cell": (10.0, 3.9), "pattern": (10.0, 3.9), "batched": (20.0, 5.0),
                            "eager": (35.0, 3.5)}}
PER_CLASS_PASSES = frozenset({"vkdnw"})


class NumericalWarning(UserWarning):
    """A proxy came out NaN or infinite for a cell; its value is recorded as NaN."""


@dataclasses.dataclass(frozen=True)
class ScoreConfig:
    """What to compute and how.

    Attributes:
      proxies: result names (see :func:`zcjax.registry.resolve`).
      dataset: 'cifar10', 'cifar100' or 'ImageNet16-120' (class count, input size).
      init_seed: seed of every cell's initial weights.
      strategy: 'auto', 'eager', 'per-cell' or 'batched' (see the module docstring).
      chunk_size: cells per batched program call (rounded up to the device count).
      weight_init: 'pytorch', 'kaiming', 'xavier' or 'zero'.
      bias_init: 'pytorch', 'zero' or 'one'.
      channels: channels of the first stage (16 in the benchmark; smaller for tests).
      cells_per_stage: cells per stage (5 in the benchmark).
      variant: the network, 'reference' (the zero-cost paper's) or 'naslib'
        (NASLib's: affine cell BatchNorms, no cell conv bias, synflow without
        BatchNorm); see :class:`~zcjax.spaces.nb201.NB201Network`.
      precision: 'float32' (the reference's: float32, with synflow, synflow_bn and
        the float64 ends of jacob_cov, epe_nas, nwot and te_ntk in float64) or
        'float64' (every proxy in float64, a separate program: for exact
        comparison with a float64 reference; the weights are drawn in float32
        and cast, so both precisions score the same networks).
      reg_swap: reg-SWAP's ``(mu, sigma)``: mu in thousands of parameters, sigma in their square
        (:func:`zcjax.proxies.activation.reg_swap_score`); needed when
        ``reg_swap`` is asked for, and only then.
    """

    proxies: tuple[str, ...] = ("all",)
    dataset: str = "cifar10"
    init_seed: int = 0
    strategy: str = "auto"
    chunk_size: int | None = None
    weight_init: str = "pytorch"
    bias_init: str = "pytorch"
    channels: int = 16
    cells_per_stage: int = 5
    precision: str = "float32"
    variant: str = "reference"
    reg_swap: tuple[float, float] | None = None

    def __post_init__(self):
        object.__setattr__(self, "proxies", registry.resolve(self.proxies, engine="nb201"))
        object.__setattr__(self, "reg_swap", reg_swap_constants(self.proxies, self.reg_swap))
        object.__setattr__(self, "dataset", benchmark.dataset_info(self.dataset).name)
        if self.strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {self.strategy!r}; expected one of {', '.join(STRATEGIES)}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"unknown precision {self.precision!r}; expected one of {', '.join(PRECISIONS)}")
        check_variant(self.variant)

    @property
    def needs_data(self) -> bool:
        return any(registry.PROXIES[registry.base_proxy(n)].needs_data for n in self.proxies)


def cell_key(init_seed: int, index: int) -> jax.Array:
    """The key of a cell's initial weights."""
    return jax.random.fold_in(jax.random.key(init_seed), index)


def _to_nhwc(x: np.ndarray) -> jax.Array:
    return jnp.asarray(np.transpose(np.asarray(x, np.float32), (0, 2, 3, 1)))


class Scorer:
    """Scores cells with the proxies of a :class:`ScoreConfig`.

    Args:
      config: what to compute.
      x: (N, 3, H, W) normalised images (NCHW, as the reference and batch files);
        may be None when only data-free proxies are asked for.
      y: (N,) integer labels.
    """

    def __init__(self, config: ScoreConfig, x: np.ndarray | None = None, y: np.ndarray | None = None):
        self.config = config
        info = benchmark.dataset_info(config.dataset)
        self.num_classes, self.image_size = info.num_classes, info.image_size
        if x is None:
            if config.needs_data:
                raise ValueError("the selected proxies need a minibatch (x, y)")
            x = np.zeros((1, 3, self.image_size, self.image_size), np.float32)
            y = np.zeros((1,), np.int64)
        if x.ndim != 4 or x.shape[1] != 3 or x.shape[2:] != (self.image_size, self.image_size):
            raise ValueError(f"images must be (N, 3, {self.image_size}, {self.image_size}) for "
                             f"{config.dataset}, got {tuple(x.shape)}")
        self.x, self.y = _to_nhwc(x), jnp.asarray(np.asarray(y, np.int32))
        self.f32_names, self.f64_names = split_names(config.proxies)
        self._per_cell_cache: dict[tuple[int, ...], tuple[Any, Any]] = {}
        self._batched: tuple[Any, Any] | None = None
        self.devices = jax.local_devices()

    def _network(self, arch: tuple[int, ...] | None) -> NB201Network:
        c = self.config
        return NB201Network(arch=arch, num_classes=self.num_classes, channels=c.channels,
                            cells_per_stage=c.cells_per_stage, weight_init=c.weight_init, bias_init=c.bias_init,
                            variant=c.variant)

    def network(self, arch: Any = None) -> NB201Network:
        """The network this scorer builds for ``arch`` (None: the arch-as-data network)."""
        return self._network(None if arch is None else tuple(arch_to_ops(arch)))

    def strategy_for(self, archs: Iterable[Any], processes: int = 1) -> str:
        """The strategy ``auto`` resolves to for a run over ``archs`` (split over ``processes``).

        On accelerators: batched. On CPU: whichever the measured costs of this
        machine class (:data:`CPU_COSTS`, plus :data:`PASS_CPU_COSTS` for the
        passes that change the choice) say is cheapest, counting a compile
        per distinct conv pattern for per-cell, one for batched, and the
        layers' one-off compilation for eager.
        """
        return self._strategy(_cells_per_pattern(tuple(arch_to_ops(a)) for a in archs), processes)

    def _strategy(self, counts: collections.Counter, processes: int) -> str:
        """:meth:`strategy_for`, from the run's cells per conv pattern."""
        if self.config.strategy != "auto":
            return self.config.strategy
        if self.devices[0].platform != "cpu":
            return "batched"
        costs = dict(CPU_COSTS[self.config.needs_data])
        for name in registry.needed_passes(self.config.proxies) & PASS_CPU_COSTS.keys():
            scale = self.num_classes / 10 if name in PER_CLASS_PASSES else 1.0
            extra = PASS_CPU_COSTS[name]
            costs = {k: (c + extra[k][0], r + scale * extra[k][1]) for k, (c, r) in costs.items()}
        per_cell = 0.0
        for n in counts.values():
            compile_s, run_s = costs["cell" if n == 1 else "pattern"]
            per_cell += compile_s + run_s * n / processes
        totals = {"per-cell": per_cell}
        for strategy in ("eager", "batched"):
            compile_s, run_s = costs[strategy]
            totals[strategy] = compile_s + run_s * counts.total() / processes
        return min(totals, key=totals.get)

    # Per-cell programs: a static cell's own, or one shared by a conv pattern (nb201.conv_pattern).
    def _per_cell_programs(self, ops: tuple[int, ...], shared: bool = False):
        pattern = conv_pattern(ops) if shared else ops
        if pattern not in self._per_cell_cache:
            model, stage32, stage64 = self._cell_stages(pattern)
            self._per_cell_cache[pattern] = (model, jax.jit(stage32), jax.jit(stage64))
        return self._per_cell_cache[pattern]

    def _cell_stages(self, arch: tuple[int, ...], eager: bool = False):
        """A static cell's network and its two stages as plain functions (jitted, or with ``eager`` run op by op).

        Eagerly, the gradient passes run through the cell's fused tape
        (:class:`~zcjax.tape_passes.TapePasses`); traced, through JAX's autodiff.
        """
        model = self._network(arch)
        f32_names, f64_names, size = self.f32_names, self.f64_names, self.image_size
        passes = TapePasses(model) if eager else None

        def stage32(params, cell_ops, x, y):
            return float32_stage(model, f32_names, params, cell_ops, x, y, gradient_passes=passes,
                                 reg_swap=self.config.reg_swap)

        def stage64(params, cell_ops, handoff):
            return float64_stage(model, f64_names, params, cell_ops, size, handoff, gradient_passes=passes)

        return model, stage32, stage64

    def score_params(self, arch: Any, params: Any) -> dict[str, float]:
        """Scores one cell with given parameters (e.g. imported PyTorch weights).

        Runs the cell's own network: eagerly where the strategy (``auto``: on
        CPU) says so, else as its compiled per-cell program.
        """
        ops = tuple(arch_to_ops(arch))
        if self._strategy(collections.Counter([conv_pattern(ops)]), 1) == "eager":
            _, stage32, stage64 = self._cell_stages(ops, eager=True)
        else:
            _, stage32, stage64 = self._per_cell_programs(ops)
        return self._finish(ops, self._run_stages(stage32, stage64, params, jnp.asarray(ops, jnp.int32)))

    def _run_stages(self, stage32, stage64, params, *extra):
        if self.config.precision == "float64":
            with jax.enable_x64(True):
                out32 = stage32(_to_float64(params), *extra, self.x.astype(jnp.float64), self.y) \
                    if self.f32_names else {}
        else:
            out32 = stage32(params, *extra, self.x, self.y) if self.f32_names else {}
        handoff = out32.pop("handoff", {}) if self.f32_names else {}
        out64 = {}
        if self.f64_names:
            with jax.enable_x64(True):
                out64 = stage64(params, *extra, handoff)
        return jax.device_get({**out32, **out64})

    def _finish(self, ops: tuple[int, ...], values: dict[str, Any]) -> dict[str, float]:
        row = {n: float(values[n]) for n in self.config.proxies if n in values}
        bad = [n for n, v in row.items() if not math.isfinite(v)]
        if bad:
            warnings.warn(f"{', '.join(bad)} not finite for {ops_to_arch(ops)}: recorded as NaN",
                          NumericalWarning, stacklevel=3)
            row.update({n: math.nan for n in bad})
        return row

    # Batched program.
    def _init_fn(self, model: NB201Network):
        # Initialisation is its own program: inside a scoring program its unrolled
        # threefry hashes doubled the compile time, in both stages.
        x0 = jnp.zeros((1, self.image_size, self.image_size, 3), jnp.float32)
        return lambda key_data, ops: model.init(jax.random.wrap_key_data(key_data), x0, ops)["params"]

    def _batched_programs(self):
        if self._batched is None:
            model = self._network(None)
            f32_names, f64_names, size = self.f32_names, self.f64_names, self.image_size
            reg_swap = self.config.reg_swap
            init = self._init_fn(model)

            def over_cells(fn, *args):
                # One cell per device runs unbatched: vmapped kernels become grouped
                # convolutions, 2x slower and 6x longer to compile on CPU.
                if jax.tree.leaves(args)[0].shape[0] == 1:
                    return jax.tree.map(lambda v: v[None], fn(*jax.tree.map(lambda a: a[0], args)))
                return jax.vmap(fn)(*args)

            def stage32(params, ops, x, y):
                return over_cells(lambda p, o: float32_stage(model, f32_names, p, o, x, y, reg_swap=reg_swap),
                                  params, ops)

            def stage64(params, ops, handoff):
                return over_cells(lambda p, o, h: float64_stage(model, f64_names, p, o, size, h), params, ops, handoff)

            # shard_map: every device runs the vmapped program on its own cells. (Left
            # to the SPMD partitioner, the vmapped grouped convolutions came out wrong
            # when sharded over the cell axis: logits off by 0.18 on 4 CPU devices.)
            mesh = Mesh(np.array(self.devices), ("cells",))
            cells, shared = PartitionSpec("cells"), PartitionSpec()

            def on_devices(fn, in_specs):
                return jax.jit(jax.shard_map(fn, mesh=mesh, in_specs=in_specs, out_specs=cells, check_vma=False))

            self._batched = (on_devices(lambda k, o: over_cells(init, k, o), (cells, cells)),
                             on_devices(stage32, (cells, cells, shared, shared)),
                             on_devices(stage64, (cells, cells, cells)))
        return self._batched

    def _single_cell_programs(self):
        if not hasattr(self, "_single"):
            model = self._network(None)
            f32_names, f64_names, size = self.f32_names, self.f64_names, self.image_size
            self._single = (
                jax.jit(self._init_fn(model)),
                jax.jit(lambda p, o, x, y: float32_stage(model, f32_names, p, o, x, y,
                                                         reg_swap=self.config.reg_swap)),
                jax.jit(lambda p, o, h: float64_stage(model, f64_names, p, o, size, h)))
        return self._single

    def _chunk_size(self) -> int:
        n_dev = len(self.devices)
        size = self.config.chunk_size or (1 if self.devices[0].platform == "cpu" else 32) * n_dev
        return -(-size // n_dev) * n_dev

    def score(self, cells: Sequence[tuple[int, str | Sequence[int]]]) -> Iterator[dict[str, Any]]:
        """Scores cells, yielding one row per cell in input order.

        Args:
          cells: (benchmark index, arch) pairs.

        Yields:
          {'index', 'arch', <proxy>: float, ...}, NaN where a proxy failed numerically.
        """
        cells = [(int(i), tuple(arch_to_ops(a))) for i, a in cells]
        counts = _cells_per_pattern(o for _, o in cells)
        if jax.process_count() > 1:
            yield from self._score_distributed(cells, counts)
        else:
            yield from self._score_local(cells, self._strategy(counts, 1), counts)

    def _score_distributed(self, cells: list[tuple[int, tuple[int, ...]]],
                           counts: collections.Counter) -> Iterator[dict[str, Any]]:
        """Every process scores its share of each round on its local devices; all get every row."""
        n_proc, me = jax.process_count(), jax.process_index()
        share = self._chunk_size()
        names = list(self.config.proxies)
        strategy = self._strategy(counts, n_proc)
        for start in range(0, len(cells), n_proc * share):
            block = cells[start:start + n_proc * share]
            values = np.full((share, len(names)), np.nan)
            for j, row in enumerate(self._score_local(block[me * share:(me + 1) * share], strategy, counts)):
                values[j] = [row[n] for n in names]
            gathered = distributed.allgather(values)
            for k, (index, ops) in enumerate(block):
                yield {"index": index, "arch": ops_to_arch(ops),
                       **dict(zip(names, gathered[k // share, k % share].tolist()))}

    def _score_local(self, cells: list[tuple[int, tuple[int, ...]]], strategy: str,
                     counts: collections.Counter) -> Iterator[dict[str, Any]]:
        """Scores cells on this process's devices; ``counts``: the whole run's cells per conv pattern."""
        if not cells:
            return
        if strategy in ("per-cell", "eager"):
            # A pattern's program compiles and runs slower than a static cell's
            # (about 1.3x): it is used only for patterns with several cells in the run.
            for index, ops in cells:
                if strategy == "eager":
                    model, stage32, stage64 = self._cell_stages(ops, eager=True)
                else:
                    model, stage32, stage64 = self._per_cell_programs(ops, counts[conv_pattern(ops)] > 1)
                cell_ops = jnp.asarray(ops, jnp.int32)
                params = init_params(model, cell_key(self.config.init_seed, index), self.x[:1], cell_ops)
                values = self._run_stages(stage32, stage64, params, cell_ops)
                yield {"index": index, "arch": ops_to_arch(ops), **self._finish(ops, values)}
            return
        chunk = self._chunk_size()
        if chunk == 1 and len(self.devices) == 1:
            # One cell at a time on one device: the arch-as-data program without
            # vmap/shard_map (vmapped kernels become grouped convolutions: 2x slower on CPU).
            init, stage32, stage64 = self._single_cell_programs()
            for index, cell_ops in cells:
                ops = jnp.asarray(cell_ops, jnp.int32)
                params = init(jax.random.key_data(cell_key(self.config.init_seed, index)), ops)
                values = self._run_stages(stage32, stage64, params, ops)
                yield {"index": index, "arch": ops_to_arch(cell_ops), **self._finish(cell_ops, values)}
            return
        init, stage32, stage64 = self._batched_programs()
        shard = NamedSharding(Mesh(np.array(self.devices), ("cells",)), PartitionSpec("cells"))
        for start in range(0, len(cells), chunk):
            part = cells[start:start + chunk]
            padded = part + [part[-1]] * (chunk - len(part))
            # Raw key data, not typed keys: sharded typed key arrays gave other random bits.
            keys = jax.device_put(jnp.stack([jax.random.key_data(cell_key(self.config.init_seed, i))
                                             for i, _ in padded]), shard)
            ops = jax.device_put(jnp.asarray([o for _, o in padded], jnp.int32), shard)
            values = self._run_stages(stage32, stage64, init(keys, ops), ops)
            for j, (index, cell_ops) in enumerate(part):
                row_values = {n: v[j] for n, v in values.items()}
                yield {"index": index, "arch": ops_to_arch(cell_ops), **self._finish(cell_ops, row_values)}


def init_params(model: NB201Network, key: jax.Array, x: jax.Array, ops: jax.Array) -> Any:
    """``model.init(key, x, ops)['params']``, without running the network on ``x``.

    Flax's ``lazy_init`` traces the forward on the shape of ``x`` and runs only
    what the parameters depend on (their initialisers): the same values, bit for
    bit, without the eager forward pass and its per-shape programs.
    """
    return model.lazy_init(key, jax.ShapeDtypeStruct(x.shape, x.dtype), ops, mutable=["params"])["params"]


def _to_float64(tree: Any) -> Any:
    """Every floating leaf as float64 (call inside ``jax.enable_x64(True)``)."""
    return jax.tree.map(lambda a: a.astype(jnp.float64) if jnp.issubdtype(a.dtype, jnp.floating) else a, tree)


def _cells_per_pattern(archs: Iterable[tuple[int, ...]]) -> collections.Counter:
    return collections.Counter(conv_pattern(ops) for ops in archs)


def _as_cell(cell: Any) -> tuple[int, Any]:
    """An (index, arch) pair from a benchmark index, an arch (string or 6 ops) or a pair."""
    if isinstance(cell, (int, np.integer)) and not isinstance(cell, bool):
        return int(cell), benchmark.arch_at(cell)
    if isinstance(cell, str) or (isinstance(cell, (tuple, list, np.ndarray)) and len(cell) == 6):
        return benchmark.index_of(cell), cell
    if isinstance(cell, (tuple, list)) and len(cell) == 2:
        return int(cell[0]), cell[1]
    raise ValueError(f"a cell must be a benchmark index, an arch string, 6 op indices or an (index, arch) pair; "
                     f"got {cell!r}")


_SCORERS: collections.OrderedDict[tuple[Any, ...], Scorer] = collections.OrderedDict()
_SCORER_CACHE_SIZE = 4


def _scorer(config: ScoreConfig, x: np.ndarray | None, y: np.ndarray | None) -> Scorer:
    """A Scorer for (config, minibatch), reused across calls so its compiled programs are kept."""
    from .provenance import fingerprint

    key = (config, None if x is None else fingerprint(np.asarray(x), np.asarray(y)))
    if key in _SCORERS:
        _SCORERS.move_to_end(key)
    else:
        _SCORERS[key] = Scorer(config, x, y)
        while len(_SCORERS) > _SCORER_CACHE_SIZE:
            _SCORERS.popitem(last=False)
    return _SCORERS[key]


def score_cells(cells: Sequence[Any], config: ScoreConfig | None = None,
                x: np.ndarray | None = None, y: np.ndarray | None = None) -> list[dict[str, Any]]:
    """Scores cells and returns the rows (see :meth:`Scorer.score`).

    Args:
      cells: each a benchmark index, an arch string, 6 op indices, or an
        (index, arch) pair.
      config: what to compute (default: every proxy on CIFAR-10).
      x, y: the minibatch, when a proxy needs data.

    The :class:`Scorer` of the last few (config, minibatch) pairs is kept, so
    repeated calls reuse its compiled programs instead of compiling again.
    """
    config = ScoreConfig() if config is None else config
    return list(_scorer(config, x, y).score([_as_cell(c) for c in cells]))
