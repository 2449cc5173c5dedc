r"""One network core for every sampler in :mod:`sim`: a network description, parameters drawn in
batches from per-chunk generators, one forward pass, and the chunking and seeding that distribute.

Three pieces, each small and composable:

* :class:`NetworkSpec` — what a network is: input dimension, layer widths, weight law (Gaussian,
  uniform, Rademacher, Laplace: unit-variance draws scaled to Var W = c/fan), gain ``weight_var``
  c per layer (the same meaning as in :mod:`bounds`), or direct per-layer ``variances``, biases,
  activation (a :class:`bounds.moments.Activation`: ReLU, leaky, RReLU, linear), a linear output
  layer, and residual blocks x ← x + η_b W₂ φ(W₁ x).
* :func:`draw_params` / :func:`iter_params` — the parameters of a batch of t networks, weights of
  shape (t, n_out, n_in) and biases (t, n_out), drawn chunk by chunk from the chunks' own
  generators; :func:`forward` — one pass on inputs (t or 1, N, n_in), rows as activations,
  calling ``record(l, z, h)`` after each layer so callers keep only what they need.
* :class:`Stream`, :class:`Run`, :class:`Batch` — seeding and chunking. A run of T networks is
  cut into chunks of a fixed number of networks that depends on the design only (never on the
  memory budget or on how many workers run it). Chunk k draws from its own ``torch.Generator``
  seeded from (run seed, stable hash of the task name, k) through ``numpy.random.SeedSequence``;
  the memory budget only decides how many whole chunks are processed together. A result is
  therefore bit-identical whatever the budget and whatever order the chunks are run in, and a
  subset of chunks can run elsewhere and be concatenated (rows come in ascending chunk order).
* :func:`thread_policy` — while a :class:`Run` hands out a batch, torch runs on one thread when
  the batch is small (below :data:`PARALLEL_ELEMENTS` elements) or the machine is loaded, and on
  its default threads (capped by the idle cores) otherwise; the environment variable ``INITBOUNDS_THREADS`` (:data:`THREADS_ENV`) overrides it
  (a number, or ``default``). torch's setting is restored after each batch. Threads never change
  a result.

The same stream always gives the same numbers: give every sampler call its own stream
(``stream.child(label)``); a sampler that draws more than one kind of number (inputs, per-pass
RReLU slopes) takes children of its stream for them, documented on the sampler.

>>> spec = NetworkSpec(4, (8, 8), fan="in")
>>> run = Run(Stream(0, "doc"), 10, network_elements=spec.max_layer_elements)
>>> out = []
>>> for batch in run:
...     h = forward(spec, torch.ones(1, 1, 4, dtype=torch.float64), iter_params(spec, batch))
...     out.append(h.shape[0])
>>> sum(out), run.chunk
(10, 1024)
"""
from __future__ import annotations

import hashlib
import math
import os
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from typing import Callable, Iterable, Iterator, NamedTuple, Optional, Sequence

import numpy as np
import torch

from ..bounds.errors import COUNT, CostLimitError, DomainError, Interval, Real, check_choice, check_int, check_real
from ..bounds.moments import Activation, sigma2_he
from ..bounds.variance import WEIGHT_LAWS

__all__ = [
    "HE_GAIN", "MEMORY_BUDGET", "require_memory", "CHUNK_ELEMENTS", "CHUNK_NETWORKS",
    "THREADS_ENV", "PARALLEL_ELEMENTS", "policy_threads", "thread_policy", "gain_for",
    "stable_hash", "Stream", "Chunk", "Batch", "Run", "chunk_size",
    "NetworkSpec", "Layer", "fill_weights_", "iter_params", "draw_params", "apply_activation", "forward",
]

#: He et al. 2015 (arXiv 1502.01852, eq. 10): Var W = 2/fan-in keeps E‖h‖² through ReLU layers. It
#: is the s = 2 case of GH21's σ_s² (``bounds.moments.sigma2_he(relu, d)·d = 2``; a test checks it).
#: The gain c of every sampler defaults to it.
HE_GAIN = 2.0

#: Bytes that one batch of networks may hold (weights plus working tensors, as each sampler
#: estimates them). The only memory budget in :mod:`sim`; it never changes a result.
MEMORY_BUDGET = 2**30

def require_memory(nbytes: float, what: str, *, names: tuple = ()) -> None:
    """Refuse, before any work, a design whose one network alone needs more than
    :data:`MEMORY_BUDGET` bytes (chunking cannot split a network): CostLimitError stating the
    estimate. ``what`` names the work, with the driving parameters as ``{name}`` templates (the
    command line spells them as its options, e.g. ``--widths``).

    >>> require_memory(2**20, "one small network")
    >>> require_memory(80 * 2**30, "the first layer")
    Traceback (most recent call last):
    ...
    initbounds.bounds.errors.CostLimitError: the first layer needs about 80 GiB for one network, over the memory budget of 1 GiB (sim.core.MEMORY_BUDGET)
    """
    if nbytes > MEMORY_BUDGET:
        raise CostLimitError(f"{what} needs about {nbytes / 2**30:.3g} GiB for one network, over the memory budget of "
                             f"{MEMORY_BUDGET / 2**30:g} GiB (sim.core.MEMORY_BUDGET)", names=names)


#: A chunk holds at most this many elements of working set (≤ 8 MiB in float64) ...
CHUNK_ELEMENTS = 2**20
#: ... and at most this many networks: enough chunks to spread a run over workers.
CHUNK_NETWORKS = 1024


# --- threads ---------------------------------------------------------------------------------------
#: Environment variable overriding the thread policy: a positive integer (that many torch threads
#: for every batch) or ``default`` (leave torch's own setting alone, e.g. OMP_NUM_THREADS).
THREADS_ENV = "INITBOUNDS_THREADS"

#: Working-set elements of one batch (network elements × networks) from which a batch may use more
#: than one torch thread; smaller batches run on one. Measured with benchmarks/threads.py
#: (issue 11; benchmarks/threads.json): on the 2-core machine shared with other work, one thread
#: was faster for every sampler and size measured — 3× to 60× faster than two threads for the
#: region counters and 3× to 14× for the Gram and batched real samplers — because torch's threads
#: wait on each other at every operation when another process holds a core. A second thread can
#: only pay on large batches of a quiet machine (at most 2× on 2 cores: a 2048² matmul), hence
#: this threshold (128 MiB of float64) and the load check of :func:`policy_threads`.
PARALLEL_ELEMENTS = 2**24


def _idle_cores() -> int:
    """Cores not taken by other processes: CPUs available to us minus the 1-minute load average,
    counting this process's own running thread back (at least 1)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        return cpus
    return max(1, min(cpus, int(cpus - load + 1.0)))


def policy_threads(elements: float) -> Optional[int]:
    """The torch threads for a batch whose working set is ``elements`` elements.

    ``$INITBOUNDS_THREADS`` (:data:`THREADS_ENV`) overrides: a positive integer is used as is,
    ``default`` returns None (torch's own setting, e.g. from OMP_NUM_THREADS). Otherwise 1 below
    :data:`PARALLEL_ELEMENTS`, and above it torch's default threads capped by the idle cores
    (CPUs minus the 1-minute load average, this process counted back): on a loaded machine,
    one thread. Threads never change a result: every sampler's numbers come from per-chunk
    generators, and tests/sim/test_core.py checks the samplers give the same bits at 1 and 2
    threads; the Gram sampler, whose QR factor differs with the thread count, always runs on one
    (``Run(parallel=False)``).

    >>> policy_threads(1000) if THREADS_ENV not in os.environ else 1
    1
    """
    env = os.environ.get(THREADS_ENV, "").strip()
    if env:
        if env.lower() == "default":
            return None
        if not env.isdigit() or int(env) < 1:
            raise DomainError(f"{THREADS_ENV} must be a positive integer or 'default'; got {env!r}")
        return int(env)
    if elements < PARALLEL_ELEMENTS:
        return 1
    return max(1, min(_default_threads(), _idle_cores()))


def _default_threads() -> int:
    """torch's number of threads when the policy is not in force (read once, before any change)."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = torch.get_num_threads()
    return _DEFAULT


_DEFAULT: Optional[int] = None


@contextmanager
def thread_policy(elements: float, parallel: bool = True):
    """Run the body with :func:`policy_threads` (``elements``) torch threads — one thread, whatever
    ``$INITBOUNDS_THREADS`` says, when ``parallel`` is False — and restore torch's setting
    afterwards (even on an error). Yields the number of threads in force.

    >>> before = torch.get_num_threads()
    >>> with thread_policy(10) as n:
    ...     pass
    >>> torch.get_num_threads() == before
    True
    """
    want = policy_threads(elements) if parallel else 1
    before = torch.get_num_threads()
    if want is None or want == before:
        yield before
        return
    torch.set_num_threads(want)
    try:
        yield want
    finally:
        torch.set_num_threads(before)

_DTYPES = (torch.float64, torch.float32)
RELU = Activation("relu")


def gain_for(act: Optional[Activation] = None) -> float:
    """The s = 2 gain c (Var W = c/fan preserves E‖h‖²) of an activation, from
    ``bounds.moments.sigma2_he``: 2 for ReLU (He), 1 for linear (LeCun), 2/(1 + E c²) otherwise.

    >>> gain_for(), gain_for(Activation("linear"))
    (2.0, 1.0)
    """
    return float(sigma2_he(act or RELU, 1))


# --- seeding ---------------------------------------------------------------------------------------
def stable_hash(name: str) -> int:
    """A 64-bit integer from the UTF-8 bytes of ``name`` (BLAKE2b, 8-byte digest, little endian):
    the same on every machine and Python version (never Python's salted ``hash``).

    >>> stable_hash("abc") == int.from_bytes(hashlib.blake2b(b"abc", digest_size=8).digest(), "little")
    True
    """
    if not isinstance(name, str):
        raise DomainError(f"name must be a str; got {name!r}")
    return int.from_bytes(hashlib.blake2b(name.encode("utf-8"), digest_size=8).digest(), "little")


@dataclass(frozen=True)
class Stream:
    """A named source of independent generators: ``generator(k)`` is chunk k's torch generator,
    seeded with the first 64-bit word of ``SeedSequence([seed, stable_hash(name), k])``.

    ``child(label)`` is the stream named ``name/label``. Streams with different names (or seeds,
    or chunk indices) give independent numbers; the same (seed, name, k) always the same numbers.

    >>> s = Stream(0, "rho_mean")
    >>> torch.equal(torch.randn(3, generator=s.generator(2)), torch.randn(3, generator=s.generator(2)))
    True
    >>> s.child("inputs").name
    'rho_mean/inputs'
    """

    seed: int
    name: str

    def __post_init__(self):
        object.__setattr__(self, "seed", check_int("seed", self.seed, lo=0))
        if not isinstance(self.name, str) or not self.name:
            raise DomainError(f"name must be a non-empty str; got {self.name!r}")

    @cached_property
    def key(self) -> int:
        """stable_hash(name)."""
        return stable_hash(self.name)

    def child(self, label) -> "Stream":
        """The stream named ``name/label`` (same run seed)."""
        label = str(label)
        if not label:
            raise DomainError("label must be non-empty")
        return Stream(self.seed, f"{self.name}/{label}")

    def seed_sequence(self, index: int = 0) -> np.random.SeedSequence:
        index = check_int("index", index, lo=0)
        return np.random.SeedSequence([self.seed, self.key, index])

    def seed_of(self, index: int = 0) -> int:
        """The 64-bit seed of chunk ``index``."""
        return int(self.seed_sequence(index).generate_state(1, dtype=np.uint64)[0])

    def generator(self, index: int = 0, device="cpu") -> torch.Generator:
        """A fresh ``torch.Generator`` on ``device`` for chunk ``index``."""
        return torch.Generator(device=device).manual_seed(self.seed_of(index))

    def numpy(self, index: int = 0) -> np.random.Generator:
        """A numpy generator (PCG64) from the same seed sequence as ``generator(index)``; use one
        of the two per (stream, index), e.g. ``stream.child("bootstrap").numpy()``."""
        return np.random.default_rng(self.seed_sequence(index))


def _check_stream(stream) -> Stream:
    if not isinstance(stream, Stream):
        raise DomainError(f"stream must be a sim.core.Stream (explicit seeding; global RNG state is never "
                          f"used); got {stream!r}")
    return stream


# --- chunking --------------------------------------------------------------------------------------
def chunk_size(network_elements: int) -> int:
    """Networks per chunk for a design whose one network holds ``network_elements`` elements of
    working set: min(CHUNK_NETWORKS, CHUNK_ELEMENTS // network_elements), at least 1."""
    e = max(1, int(network_elements))
    return max(1, min(CHUNK_NETWORKS, CHUNK_ELEMENTS // e))


@dataclass(frozen=True)
class Chunk:
    """Networks ``start .. start + size − 1`` of a run (chunk ``index``), stored at rows
    ``row .. row + size − 1`` of the run's result arrays."""

    index: int
    start: int
    size: int
    row: int


class Batch:
    """Whole chunks processed together: chunk ``parts[i][0]`` sits at rows ``parts[i][1] ..`` of
    every batch tensor, and each chunk draws only from its own generators.

    ``generators(label)`` are the chunks' generators of ``stream`` (label None: the parameters)
    or of ``stream.child(label)`` (e.g. "noise" for per-pass RReLU slopes); they are created once
    per batch and advance as the chunk draws, so a chunk's numbers do not depend on its batch.
    """

    def __init__(self, stream: Stream, parts: Sequence[tuple], device="cpu"):
        self.stream = stream
        self.parts = tuple(parts)
        self.device = device
        self.size = sum(c.size for c, _ in self.parts)
        self._gens: dict = {}

    @classmethod
    def single(cls, stream: Stream, index: int, device="cpu", size: int = 1) -> "Batch":
        """A batch of one chunk: chunk ``index`` holding ``size`` networks."""
        return cls(_check_stream(stream), [(Chunk(check_int("index", index, lo=0), 0, size, 0), 0)], device)

    @property
    def chunks(self) -> tuple:
        return tuple(c for c, _ in self.parts)

    def generators(self, label: Optional[str] = None) -> list:
        g = self._gens.get(label)
        if g is None:
            s = self.stream if label is None else self.stream.child(label)
            g = self._gens[label] = [s.generator(c.index, self.device) for c, _ in self.parts]
        return g

    def each(self, label: Optional[str] = None) -> Iterator[tuple]:
        """(rows, generator) per chunk: ``rows`` the chunk's slice of the batch dimension."""
        for (c, o), g in zip(self.parts, self.generators(label)):
            yield slice(o, o + c.size), g

    def fill_(self, tensor: torch.Tensor, draw: Callable, label: Optional[str] = None) -> torch.Tensor:
        """``draw(view, generator)`` on each chunk's rows of ``tensor`` (leading dimension = size)."""
        for rows, g in self.each(label):
            draw(tensor[rows], g)
        return tensor

    def normal(self, shape, *, std: float = 1.0, dtype=torch.float64, label: Optional[str] = None) -> torch.Tensor:
        """A (size, *shape) tensor of N(0, std²) entries, chunk by chunk."""
        t = torch.empty((self.size, *shape), dtype=dtype, device=self.device)
        return self.fill_(t, lambda v, g: v.normal_(0.0, std, generator=g), label)

    def uniform(self, shape, lo: float = 0.0, hi: float = 1.0, *, dtype=torch.float64,
                label: Optional[str] = None) -> torch.Tensor:
        """A (size, *shape) tensor of U[lo, hi) entries, chunk by chunk."""
        t = torch.empty((self.size, *shape), dtype=dtype, device=self.device)
        return self.fill_(t, lambda v, g: v.uniform_(lo, hi, generator=g), label)

    def place(self, out: np.ndarray, values) -> None:
        """Write the batch rows ``values`` (torch or numpy, leading dimension = size) into the run's
        result array ``out`` at each chunk's rows."""
        v = values.detach().cpu().numpy() if isinstance(values, torch.Tensor) else np.asarray(values)
        for c, o in self.parts:
            out[c.row:c.row + c.size] = v[o:o + c.size]


class Run:
    """The chunks of one sampler call and the batches they are processed in.

    ``trials`` networks are cut into chunks of ``chunk`` networks (default
    ``chunk_size(network_elements)``): chunk k holds networks k·chunk .. min((k+1)·chunk, T) − 1.
    ``chunks`` (default all, ascending) selects which chunks run and in which order; result rows
    always follow ascending chunk index, so results of disjoint subsets concatenate to the whole.
    Each batch is one chunk: batched BLAS and LAPACK kernels give different last bits for the same
    matrix in batches of different sizes (measured on the Gram sampler in float32 and float64), so
    a batch never mixes chunks and a chunk's numbers — bit for bit, not only their law — do not
    depend on which other chunks run, in which order, in which task or process, on the progress
    callback or on ``memory_budget``. A chunk (at most :data:`CHUNK_ELEMENTS` elements of working
    set, or one network) is the unit of memory; ``memory_budget`` is checked and kept for the
    callers that pass it (it changed only the grouping of chunks, which no longer happens).
    Iterating yields :class:`Batch` objects and calls ``progress(done, rows)`` once before the
    first (done = 0: a bar shows while the first batch runs) and after each one. Each batch runs
    under :func:`thread_policy`, or on one thread when ``parallel`` is False (a sampler whose draws
    would depend on the thread count).
    """

    def __init__(self, stream: Stream, trials: int, *, network_elements: int, itemsize: int = 8,
                 chunk: Optional[int] = None, memory_budget: Optional[float] = None,
                 chunks: Optional[Sequence[int]] = None, device="cpu",
                 progress: Optional[Callable[[int, int], None]] = None, parallel: bool = True):
        self.stream = _check_stream(stream)
        self.trials = check_int("trials", trials, lo=1)
        self.network_elements = max(1, int(network_elements))
        self.chunk = chunk_size(self.network_elements) if chunk is None else check_int("chunk", chunk, lo=1)
        budget = MEMORY_BUDGET if memory_budget is None else check_real("memory_budget", memory_budget, lo=0.0,
                                                                        lo_open=True)
        self.per_batch = max(1, int(budget // (self.network_elements * itemsize)))
        self.n_chunks = -(-self.trials // self.chunk)
        if chunks is None:
            order = list(range(self.n_chunks))
        else:
            if isinstance(chunks, (str, bytes)) or not hasattr(chunks, "__iter__"):
                raise DomainError(f"chunks must be a sequence of chunk indices; got {chunks!r}")
            order = [check_int(f"chunks[{i}]", k, lo=0, hi=self.n_chunks - 1) for i, k in enumerate(chunks)]
            if not order:
                raise DomainError("chunks must list at least one chunk index; got none")
            if len(set(order)) != len(order):
                raise DomainError(f"chunks must not repeat an index; got {list(chunks)}")
        rows, row = {}, 0
        for k in sorted(order):
            rows[k] = row
            row += min(self.chunk, self.trials - k * self.chunk)
        self.rows = row
        self.order = [Chunk(k, k * self.chunk, min(self.chunk, self.trials - k * self.chunk), rows[k]) for k in order]
        self.device = device
        if progress is not None and not callable(progress):
            raise DomainError(f"progress must be a callable progress(done, total) or None; got {progress!r}")
        self.progress = progress
        self.parallel = parallel

    @property
    def chunks(self) -> tuple:
        """The selected chunks in ascending index (= result row) order."""
        return tuple(sorted(self.order, key=lambda c: c.index))

    def _groups(self):
        for c in self.order:
            yield [c]

    def __iter__(self) -> Iterator[Batch]:
        done = 0
        if self.progress is not None:
            self.progress(0, self.rows)
        for group in self._groups():
            parts, o = [], 0
            for c in group:
                parts.append((c, o))
                o += c.size
            batch = Batch(self.stream, parts, self.device)
            with thread_policy(batch.size * self.network_elements if self.device == "cpu" else 0, self.parallel):
                yield batch
            done += batch.size
            if self.progress is not None:
                self.progress(done, self.rows)

    def whole(self) -> Batch:
        """All selected chunks as one batch (in row order), whatever the budget."""
        parts, o = [], 0
        for c in self.chunks:
            parts.append((c, o))
            o += c.size
        return Batch(self.stream, parts, self.device)


# --- networks --------------------------------------------------------------------------------------
def _per_layer(name: str, value, L: int, *, positive: bool) -> tuple:
    if isinstance(value, (str, bytes)):
        raise DomainError(f"{name} must be a real number or one per layer; got {value!r}")
    if not hasattr(value, "__iter__"):                 # one value for every layer: checked once
        return (check_real(name, value, lo=0.0, lo_open=positive),) * L
    vals = tuple(value)
    if len(vals) != L:
        raise DomainError(f"{name} must give one value per layer ({L}); got {len(vals)}")
    return Interval(Real, 0.0, None, closed="right" if positive else "both").validate_all(name, vals)


@dataclass(frozen=True)
class NetworkSpec:
    """A fully connected network (or residual MLP) at initialization.

    Layer l (l = 1..L) maps n_{l−1} → n_l with n_0 = ``input_dim`` and (n_1..n_L) = ``widths``:
    z_l = W_l h_{l−1} + b_l, h_l = φ(z_l) (``bias_position="pre"``) or h_l = φ(W_l h_{l−1}) + b_l
    ("post", GH21's biased chains); the last layer is linear when ``linear_output``.

    * ``fan`` "in" or "out" (no default): Var W_l = c_l/n_{l−1} or c_l/n_l;
    * ``weight_var`` c (scalar or per layer; He is :data:`HE_GAIN` = 2) — the meaning of
      ``weight_var`` in :mod:`bounds`; ``variances`` overrides Var W_l directly (σ_l² per layer);
    * ``weights``: "gaussian", "uniform", "rademacher", "laplace" (unit-variance draws scaled;
      kurtoses 3, 9/5, 1, 6 as ``bounds.variance.weight_kurtosis``);
    * ``bias_var``: Var b_l (scalar or per layer; 0 draws no bias), Gaussian;
    * ``act``: a :class:`bounds.moments.Activation` (default ReLU);
    * ``residual``: branch scales (η_1..η_B); then the layers pair up as blocks
      x ← x + η_b W_{2b} φ(W_{2b−1} x), widths (m, n, m, n, …) with n = input_dim (see
      :meth:`residual_mlp`); no biases;
    * ``weight_norm``: None (default), or the gain g_l (scalar or per layer) of weight-normalized
      rows: each row v_i of the drawn W_l is replaced by g_l·v_i/‖v_i‖, so every row has norm
      g_l. This is ``torch.nn.utils.parametrizations.weight_norm(layer, dim=0)`` with its
      magnitude parameter set to g_l for every row (at creation torch sets it to ‖v_i‖, which
      leaves the layer unchanged; our g is the row norm *after* that assignment). The draws are
      the same as without it (the direction of a Gaussian row is uniform on the sphere), so a
      spec without ``weight_norm`` gives the same bits as before the option existed. The weight
      law's variance no longer matters (it cancels); docs/theory.md, weight-normalized networks.

    >>> NetworkSpec(3, (4, 5), fan="in").layer_variances()
    (0.6666666666666666, 0.5)
    """

    input_dim: int
    widths: tuple
    fan: str
    weight_var: object = HE_GAIN
    variances: Optional[tuple] = None
    bias_var: object = 0.0
    weights: str = "gaussian"
    act: Activation = RELU
    linear_output: bool = False
    bias_position: str = "pre"
    residual: Optional[tuple] = None
    weight_norm: object = None

    def __post_init__(self):
        n0 = check_int("input_dim", self.input_dim, lo=1)
        if isinstance(self.widths, (str, bytes)) or not hasattr(self.widths, "__iter__"):
            raise DomainError(f"widths must be a sequence of integers ≥ 1; got {self.widths!r}")
        w = COUNT.validate_all("widths", self.widths)        # fast for long lists of ints (depth 10^6)
        if not w:
            raise DomainError("widths must list at least one layer width; got ()")
        L = len(w)
        set_ = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731
        set_("input_dim", n0)
        set_("widths", w)
        set_("fan", check_choice("fan", self.fan, ("in", "out")))
        set_("weight_var", _per_layer("weight_var", self.weight_var, L, positive=True))
        if self.variances is not None:
            set_("variances", _per_layer("variances", self.variances, L, positive=True))
        set_("bias_var", _per_layer("bias_var", self.bias_var, L, positive=False))
        check_choice("weights", self.weights, WEIGHT_LAWS)
        if not isinstance(self.act, Activation):
            raise DomainError(f"act must be a bounds.moments.Activation; got {self.act!r}")
        check_choice("bias_position", self.bias_position, ("pre", "post"))
        if not isinstance(self.linear_output, bool):
            raise DomainError(f"linear_output must be True or False; got {self.linear_output!r}")
        if self.residual is not None:
            etas = tuple(check_real(f"residual[{i}]", e, lo=0.0) for i, e in enumerate(self.residual))
            if 2 * len(etas) != L or any(w[2 * b + 1] != n0 for b in range(len(etas))):
                raise DomainError(f"residual blocks need widths (m, n, m, n, ...) with n = input_dim = {n0}, "
                                  f"two layers per block; got widths {w} for {len(etas)} blocks")
            if any(self.bias_var) or self.linear_output:
                raise DomainError("residual blocks take no biases and no linear output layer")
            set_("residual", etas)
        if self.weight_norm is not None:
            set_("weight_norm", _per_layer("weight_norm", self.weight_norm, L, positive=True))

    @classmethod
    def residual_mlp(cls, width: int, branch_width: int, etas, *, fan: str = "in", weight_var=(HE_GAIN, 1.0),
                     weights: str = "gaussian", act: Activation = RELU) -> "NetworkSpec":
        """Blocks x ← x + η_b W₂ φ(W₁ x), W₁ (m × n) of variance c₁/n, W₂ (n × m) of variance c₂/m
        (fan-in; default c₁ = 2 (He), c₂ = 1: HR18's and ``bounds.resnet``'s convention)."""
        n = check_int("width", width, lo=1)
        m = check_int("branch_width", branch_width, lo=1)
        etas = tuple(etas)
        c = tuple(weight_var)
        if len(c) != 2:
            raise DomainError(f"weight_var must be (c₁, c₂) for the two layers of a block; got {weight_var!r}")
        return cls(n, (m, n) * len(etas), fan=fan, weight_var=c * len(etas), weights=weights, act=act,
                   residual=etas)

    @property
    def depth(self) -> int:
        """Number of weight layers L."""
        return len(self.widths)

    @property
    def dims(self) -> tuple:
        """(n_0, n_1, ..., n_L)."""
        return (self.input_dim, *self.widths)

    def layer_variances(self) -> tuple:
        """Var W_l per layer: ``variances`` if given, else c_l/fan_l."""
        if self.variances is not None:
            return self.variances
        d = self.dims
        return tuple(c / (d[l] if self.fan == "in" else d[l + 1]) for l, c in enumerate(self.weight_var))

    @property
    def weights_per_network(self) -> int:
        d = self.dims
        return sum(a * b for a, b in zip(d[:-1], d[1:]))

    @property
    def max_layer_elements(self) -> int:
        """The largest weight matrix plus a bias (elements of one network)."""
        d = self.dims
        return max(a * b + b for a, b in zip(d[:-1], d[1:]))


class Layer(NamedTuple):
    """One layer of a batch of networks: ``weight`` (t, n_out, n_in), ``bias`` (t, n_out) or None."""

    weight: torch.Tensor
    bias: Optional[torch.Tensor]


_SQRT3 = math.sqrt(3.0)


def fill_weights_(tensor: torch.Tensor, law: str, *, std: float, generator: torch.Generator) -> torch.Tensor:
    """Fill ``tensor`` in place with i.i.d. symmetric entries of standard deviation ``std``.

    gaussian N(0, std²); uniform U[−√3·std, √3·std]; rademacher ±std; laplace: an Exp(1) draw
    times a random sign (one Bernoulli(½) draw per entry, after the exponentials), times std/√2.
    Kurtoses 3, 9/5, 1, 6 (``bounds.variance.weight_kurtosis``).
    """
    if law == "gaussian":
        return tensor.normal_(0.0, std, generator=generator)
    if law == "uniform":
        return tensor.uniform_(-_SQRT3 * std, _SQRT3 * std, generator=generator)
    if law == "rademacher":
        return tensor.bernoulli_(0.5, generator=generator).mul_(2.0).sub_(1.0).mul_(std)
    if law == "laplace":
        tensor.exponential_(1.0, generator=generator)
        sign = torch.empty_like(tensor).bernoulli_(0.5, generator=generator).mul_(2.0).sub_(1.0)
        return tensor.mul_(sign).mul_(std / math.sqrt(2.0))
    raise DomainError(f"weights must be one of {', '.join(repr(w) for w in WEIGHT_LAWS)}; got {law!r}")


def iter_params(spec: NetworkSpec, batch: Batch, *, dtype=torch.float64, buffers: Optional[dict] = None
                ) -> Iterator[Layer]:
    """The layers of ``batch.size`` networks, drawn one at a time as the caller asks for them.

    Each chunk draws, from its own parameter generator, W_1 then b_1 (if Var b_1 > 0), W_2, b_2, …
    — the same numbers whether the layers are kept (:func:`draw_params`) or streamed. With
    ``buffers`` (a dict the caller keeps across batches), each weight is drawn into a reused buffer
    of its shape: valid only until the next layer of that shape is drawn (streaming forward).
    """
    if dtype not in _DTYPES:
        raise DomainError(f"dtype must be torch.float32 or torch.float64; got {dtype!r}")
    d, t = spec.dims, batch.size
    variances = spec.layer_variances()
    for l in range(spec.depth):
        shape = (d[l + 1], d[l])
        if buffers is None:
            W = torch.empty((t, *shape), dtype=dtype, device=batch.device)
        else:
            # a residual block draws its two layers before using them: they never share a buffer
            key = (shape, l % 2 if spec.residual is not None else 0)
            buf = buffers.get(key)
            if buf is None or buf.shape[0] < t or buf.dtype != dtype:
                buf = buffers[key] = torch.empty((t, *shape), dtype=dtype, device=batch.device)
            W = buf[:t]
        std = math.sqrt(variances[l])
        batch.fill_(W, lambda v, g: fill_weights_(v, spec.weights, std=std, generator=g))
        if spec.weight_norm is not None:
            # weight-normalized rows: w_i = g·v_i/‖v_i‖ (no random numbers drawn here)
            W.mul_(spec.weight_norm[l] / torch.linalg.vector_norm(W, dim=2, keepdim=True))
        b = None
        if spec.bias_var[l] > 0:
            b = batch.normal((d[l + 1],), std=math.sqrt(spec.bias_var[l]), dtype=dtype)
        yield Layer(W, b)


def draw_params(spec: NetworkSpec, batch: Batch, *, dtype=torch.float64) -> list:
    """All layers of ``batch.size`` networks as a list of :class:`Layer` (see :func:`iter_params`).

    >>> spec = NetworkSpec(2, (3, 4), fan="in", bias_var=1.0)
    >>> p = draw_params(spec, Batch.single(Stream(0, "doc"), 0, size=5))
    >>> [tuple(W.shape) for W, b in p], [tuple(b.shape) for W, b in p]
    ([(5, 3, 2), (5, 4, 3)], [(5, 3), (5, 4)])
    """
    return list(iter_params(spec, batch, dtype=dtype))


def apply_activation(act: Activation, z: torch.Tensor, noise: Optional[Batch] = None) -> torch.Tensor:
    """φ(z) for a batch (leading dimension = networks). RReLU draws a slope U[l, u] per network,
    input and unit, per pass (torch's RReLU in training mode) from ``noise``'s "noise" generators."""
    if act.kind == "relu":
        return torch.relu(z)
    if act.kind == "linear":
        return z
    if act.kind == "leaky":
        return torch.where(z > 0, z, act.slope * z)
    if noise is None:
        raise DomainError("an RReLU forward pass needs noise=<the Batch> (its slopes are random)")
    if noise.size != z.shape[0]:
        raise DomainError(f"noise must be the batch of these {z.shape[0]} networks; got a batch of {noise.size}")
    c = torch.empty_like(z)
    noise.fill_(c, lambda v, g: v.uniform_(act.lower, act.upper, generator=g), "noise")
    return torch.where(z > 0, z, c * z)


def _affine(h: torch.Tensor, W: torch.Tensor, b: Optional[torch.Tensor]) -> torch.Tensor:
    if h.shape[0] != W.shape[0]:
        h = h.expand(W.shape[0], -1, -1)
    if b is None:
        return torch.bmm(h, W.transpose(1, 2))
    return torch.baddbmm(b.unsqueeze(1), h, W.transpose(1, 2))


def forward(spec: NetworkSpec, x: torch.Tensor, params: Iterable[Layer], *, noise: Optional[Batch] = None,
            record: Optional[Callable] = None) -> torch.Tensor:
    """One forward pass of a batch of t networks; returns the last activations (t, N, n_L).

    ``x`` (t or 1, N, n_0): inputs as rows (one set shared by every network when its leading
    dimension is 1); ``params`` a list of :class:`Layer` or :func:`iter_params` (streamed);
    ``noise`` the batch (needed for RReLU). ``record(l, z, h)`` is called after layer l = 0..L−1
    with its pre-activation z = W_l h + b and output h (t, N, n_l); for residual blocks, after
    block l with the branch pre-activation z = W₁x and the new state h = x + η W₂ φ(z).
    """
    if x.ndim != 3 or x.shape[2] != spec.input_dim:
        raise DomainError(f"x must have shape (t or 1, N, {spec.input_dim}); got {tuple(x.shape)}")
    it = iter(params)
    h = x
    if spec.residual is not None:
        for k, eta in enumerate(spec.residual):
            (W1, _), (W2, _) = next(it), next(it)
            z = _affine(h, W1, None)
            u = _affine(apply_activation(spec.act, z, noise), W2, None)
            h = h + eta * u
            if record is not None:
                record(k, z, h)
        return h
    last = spec.depth - 1
    for l in range(spec.depth):
        W, b = next(it)
        if spec.bias_position == "pre":
            z = _affine(h, W, b)
            h = z if (l == last and spec.linear_output) else apply_activation(spec.act, z, noise)
        else:
            z = _affine(h, W, None)
            h = z if (l == last and spec.linear_output) else apply_activation(spec.act, z, noise)
            if b is not None:
                h = h + b.unsqueeze(1)
        if record is not None:
            record(l, z, h)
    return h
