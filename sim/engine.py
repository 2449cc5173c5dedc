"""Batched Monte Carlo of real ReLU networks (docs/theory.md §1, §2, §3, §9).

Many independent networks are simulated at once on the network core (:mod:`sim.core`): a run is
cut into fixed chunks of networks, each drawn from its own generator of the caller's
:class:`~sim.core.Stream`, and whole chunks are processed together as one batch within the memory
budget. Nothing touches global RNG state, and a result does not depend on the budget.
"""
from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import numpy as np
import torch

from ..bounds.errors import COUNT, DomainError, check_choice, check_int, check_real

from .core import (HE_GAIN, Batch, NetworkSpec, Run, Stream, _check_stream, chunk_size, draw_params, forward,
                   iter_params)

__all__ = ["NetworkSample", "sample_networks", "sample_networks_on", "plan_chunks", "chunk_blocks",
           "count_band_failures", "join_samples", "sample_inputs", "choose_path", "estimate_seconds", "PATHS"]


@dataclass(frozen=True)
class NetworkSample:
    """What :func:`sample_networks` records (float64 numpy arrays, shape (T, L, N)).

    ``sq_ratio[t, l, i] = ‖h_l(x_i)‖² / ‖x_i‖²`` (l = 1..L stored at index l − 1);
    ``layer_ratio[t, l, i] = ‖h_l‖² / ‖h_{l-1}‖²`` (0 once the input is killed);
    ``grad_ratio[t, l, i] = ‖∂ℓ_i/∂W_l‖_F² / (‖x_i‖² ‖δ_L‖²)`` when ``grads`` (else None);
    ``path`` is the sampler that ran: "real", "gram" or "norm"; ``last_gram`` holds the last
    layer's normalized Gram matrices (pairwise cosines follow from it) for "real" and "gram".
    ``widths`` are the layer widths n_1..n_L (``input_dim`` is n_0); ``weight_var`` the gain c
    (None when ``variances`` were given); ``chunk`` the networks per chunk and ``chunks`` the chunk
    indices whose networks are the rows (ascending).
    """

    input_dim: int
    widths: tuple
    fan: str
    weight_var: object
    trials: int
    sq_ratio: np.ndarray
    layer_ratio: np.ndarray
    grad_ratio: Optional[np.ndarray]
    path: str
    dtype: str
    device: str
    seconds: float
    last_gram: Optional[np.ndarray] = None   # (T, N, N) Gram matrix h_L(x_i)·h_L(x_j) / (‖x_i‖‖x_j‖)
    chunk: int = 0
    chunks: tuple = ()


def sample_inputs(n0: int, samples: int, *, correlation: float, stream: Stream,
                  dtype=torch.float64, device="cpu") -> torch.Tensor:
    """N unit-norm inputs in R^{n0} with pairwise correlation ≈ ``correlation`` (in [0, 1)).

    x_i ∝ √c·g₀ + √(1 − c)·g_i with g's i.i.d. standard normal vectors, then normalized to unit
    norm; the inner product of two inputs tends to c as n0 grows. ``samples`` is N. The numbers
    come from ``stream.child("inputs").generator(0)``: g₀ first, then g_1..g_N (so the same
    stream may also be given to :func:`sample_networks`, whose weights come from the stream itself).

    >>> x = sample_inputs(16, 3, correlation=0.5, stream=Stream(0, "doc"))
    >>> tuple(x.shape), [round(float(v), 12) for v in x.norm(dim=1)]
    ((3, 16), [1.0, 1.0, 1.0])
    """
    n0 = check_int("n0", n0, lo=1)
    samples = check_int("samples", samples, lo=1)
    c = check_real("correlation", correlation, lo=0.0, hi=1.0, hi_open=True)
    _check_stream(stream)
    if dtype not in _DTYPES:
        raise DomainError(f"dtype must be torch.float32 or torch.float64; got {dtype!r}")
    generator = stream.child("inputs").generator(0, device)
    g0 = torch.randn(1, n0, generator=generator, dtype=dtype, device=device)
    g = torch.randn(samples, n0, generator=generator, dtype=dtype, device=device)
    x = math.sqrt(c) * g0 + math.sqrt(1.0 - c) * g
    return x / x.norm(dim=1, keepdim=True)


_DTYPES = (torch.float64, torch.float32)   # float32 is tested against float64 (test_engine)


def _check_inputs(inputs) -> int:
    if not isinstance(inputs, torch.Tensor):
        raise DomainError(f"inputs must be a torch.Tensor of shape (N, n0); got {type(inputs).__name__}")
    if inputs.ndim != 2 or inputs.shape[0] < 1 or inputs.shape[1] < 1:
        raise DomainError(f"inputs must have shape (N, n0) with N, n0 ≥ 1; got {tuple(inputs.shape)}")
    if not inputs.is_floating_point() or not bool(torch.isfinite(inputs).all()):
        raise DomainError("inputs must be finite real numbers; got a NaN, infinite or non-float entry")
    zero = (inputs == 0).all(dim=1).nonzero()
    if len(zero):
        i = int(zero[0, 0])
        raise DomainError(f"inputs[{i}] must have a nonzero norm (ratios are relative to ‖x_i‖²); "
                          f"got the zero vector")
    return int(inputs.shape[1])


PATHS = ("auto", "real", "gram", "norm")
# Cost model used by path="auto" (seconds per random number and per flop, float64 on the 2-core
# reference machine; only the ratio matters for the choice, and every candidate path is exact).
_SEC_PER_RANDOM = 1.7e-8
_SEC_PER_FLOP = 7e-11
# The one-input sampler's seconds per layer and network: measured 0.12-0.23 µs (float64, widths
# 16-4096, depths 2-10^5, 10-2·10^5 networks; issue 16), with a margin.
_SEC_PER_NORM_LAYER = 3e-7


def _cost_real(dims, N):
    return sum(a * b * (_SEC_PER_RANDOM + 2 * N * _SEC_PER_FLOP) for a, b in zip(dims[:-1], dims[1:]))


def _cost_gram(dims, N):
    c, r = 0.0, min(dims[0], N)
    for b in dims[1:]:
        c += b * r * (_SEC_PER_RANDOM + 2 * N * _SEC_PER_FLOP) + 2 * b * N * N * _SEC_PER_FLOP
        r = min(b, N)
    return c


def estimate_seconds(widths, samples: int, path: str, *, input_dim: int) -> float:
    """Rough seconds per network of a sampler (float64, 2 cores) from the cost model;
    ``widths`` n_1..n_L, ``input_dim`` n_0."""
    dims = (input_dim, *widths)
    if path == "norm":
        return _SEC_PER_NORM_LAYER * len(widths)
    return _cost_gram(dims, samples) if path == "gram" else _cost_real(dims, samples)


def choose_path(widths, samples: int, grads: bool, *, input_dim: int) -> str:
    """The fastest exact sampler for this design: "norm" (one input), "gram" or "real"
    (``widths`` n_1..n_L, ``input_dim`` n_0)."""
    if grads:
        return "real"
    if samples == 1:
        return "norm"
    dims = (input_dim, *widths)
    return "gram" if _cost_gram(dims, samples) < _cost_real(dims, samples) else "real"


def sample_networks(widths: Sequence[int], inputs: torch.Tensor, trials: int, *, fan: str,
                    weight_var=HE_GAIN, variances: Optional[Sequence[float]] = None, stream: Stream,
                    dtype=torch.float64, device="cpu", grads: bool = False,
                    memory_budget: Optional[float] = None, chunks: Optional[Sequence[int]] = None,
                    progress: Optional[Callable[[int, int], None]] = None,
                    path: str = "auto", last_gram: bool = False, act=None) -> NetworkSample:
    """Simulate ``trials`` independent ReLU nets with Gaussian weights on the same inputs.

    ``path`` picks the sampler; every one samples the exact joint law of the recorded norms for
    Gaussian weights and zero bias (docs/theory.md §2, §9), and each is tested against the real network:

    * ``"real"`` — real networks (:mod:`sim.core`): weights drawn, batched matmuls (needed for
      ``grads``);
    * ``"gram"`` — N inputs: given a factor R_{l-1} (r×N, RᵀR = H_{l-1}ᵀH_{l-1}, r ≤ min(n, N)),
      the pre-activations are Z_l = √v_l·A·R_{l-1} with A an n_l×r standard normal matrix (their
      rows are i.i.d. N(0, v_l G_{l-1})); R_l comes from a QR factorization of relu(Z_l), which
      also handles rank deficiency. n_l·r random numbers per layer instead of n_l·n_{l-1};
    * ``"norm"`` — one input: ‖h_l‖² = v_l‖h_{l-1}‖²·χ²_{K_l}, K_l ~ Bin(n_l, ½), drawn directly:
      O(depth) per network;
    * ``"auto"`` (default) — the cheapest exact one: "real" with ``grads``, "norm" for N = 1,
      else "gram" or "real" by a cost model. The result's ``path`` says which ran.

    ``last_gram=True`` also records the last layer's normalized Gram matrices (T×N×N; pairwise
    cosines follow), for "real" and "gram".

    ``act`` (a :class:`bounds.moments.Activation`; default ReLU) selects leaky ReLU, RReLU (a
    slope U[l, u] drawn per unit, per input, per pass — torch's RReLU in training mode — from
    ``stream.child("noise")``) or linear; only the real path simulates those.

    Layer l: z_l = W_l h_{l-1}, h_l = relu(z_l), zero bias, W_l entries i.i.d. N(0, v_l) with
    v_l = c_l/n_{l-1} (fan="in") or c_l/n_l (fan="out"), c = ``weight_var`` (scalar or per layer;
    He is :data:`sim.core.HE_GAIN` = 2), or v_l = ``variances[l]`` when given (e.g. GH21's σ_s²).
    With ``grads``, each input i has the loss ℓ_i = ⟨e, h_L(x_i)⟩ with e ~ N(0, I) drawn once per
    network, so δ_L = e ⊙ 1[z_L > 0]; errors are back-propagated through the same weights,
    δ_{l-1} = (W_lᵀ δ_l) ⊙ 1[z_{l-1} > 0], and ‖∂ℓ_i/∂W_l‖_F = ‖δ_l‖·‖h_{l-1}‖ (rank one). AB19
    (Arpit & Bengio, arXiv 1901.03611) property (ii) concerns these norms; the backward pass is
    done by hand with the forward weights (no autograd) and is tested equal to autograd.

    Arguments: ``widths`` = (n_1, ..., n_L), the layer widths (integers ≥ 1; n_0 is the inputs'
    width); ``inputs`` an (N, n_0) float tensor of nonzero rows, the same for every network;
    ``trials`` the number T of independent networks; ``fan`` "in" or "out" (no default);
    ``stream`` a :class:`sim.core.Stream` (required: global RNG state is never used); ``dtype``
    float64 (default) or float32; ``memory_budget`` bytes for one batch of networks (default
    :data:`sim.core.MEMORY_BUDGET`; it never changes the result); ``chunks`` the chunk indices to
    run, in that order (default all; rows follow ascending chunk index); ``progress`` is called as
    ``progress(done, total)`` after each batch.

    Returns a :class:`NetworkSample` (float64 numpy arrays of shape (T, L, N)). Raises
    DomainError (a ValueError) for an invalid argument, e.g. ``widths[1] must be an integer ≥ 1;
    got 0``.

    Estimators built on the result are plain sample means/frequencies over the T networks, which
    are i.i.d. given the inputs: a mean of f(ratio) has standard error sd(f)/√T (use
    ``sim.stats.mean_ci``); a frequency k/T has the Binomial law (``sim.stats.clopper_pearson``).
    The N inputs share each network's weights, so values for different inputs are dependent.
    Seeding: the networks are cut into chunks of ``result.chunk`` networks (fixed by the design and
    path); chunk k draws every weight and e from ``stream.generator(k)`` (RReLU slopes from
    ``stream.child("noise").generator(k)``), so a result is a function of the stream, the
    arguments and the path only. Assumptions: Gaussian weights, zero biases.

    >>> x = torch.ones(1, 64, dtype=torch.float64)
    >>> s = sample_networks([64, 64], x, 100, fan="out", stream=Stream(0, "doc"), path="real", grads=True)
    >>> s.sq_ratio.shape, s.grad_ratio.shape, s.path
    ((100, 2, 1), (100, 2, 1), 'real')
    >>> bool(abs(s.layer_ratio.mean() - 1.0) < 4 * (5 / 64 / 200) ** 0.5)  # E ρ = 1, Var ρ = 5/n
    True
    """
    widths, T, spec, path, elements = _checked(widths, inputs, trials, fan, weight_var, variances, stream, dtype,
                                               grads, last_gram, path, act)
    N, n0 = inputs.shape
    # The Gram sampler runs on one thread: LAPACK's QR returns different (equally valid) factors
    # on one and two threads, and the sampler multiplies the factor by the drawn Gaussian matrix,
    # so the thread count would change which networks a seed draws (measured: ratios 0.02 apart).
    run = Run(stream, T, network_elements=elements, itemsize=torch.tensor([], dtype=dtype).element_size(),
              memory_budget=memory_budget, chunks=chunks, device=device, progress=progress,
              parallel=path != "gram")
    t0 = time.perf_counter()
    x = inputs.to(dtype=dtype, device=device)
    rec = _Records(run.rows, len(widths), N, grads, last_gram)
    sampler = {"norm": _batch_norm, "gram": _batch_gram, "real": _batch_real}[path]
    state: dict = {}
    for batch in run:
        sampler(spec, x, batch, rec, dtype=dtype, grads=grads, last_gram=last_gram, state=state)
    if path == "norm":
        # once a layer kills the input, later ratios are 0/0 := 0
        lr = rec.lr[:, :, 0]
        lr[np.cumprod(lr > 0, axis=1) == 0] = 0.0
        rec.sq[:] = np.cumprod(rec.lr, axis=1)
    return NetworkSample(n0, widths, fan, None if variances is not None else spec.weight_var, run.rows, rec.sq,
                         rec.lr, rec.gr, path, str(dtype).replace("torch.", ""), str(device),
                         time.perf_counter() - t0, rec.gl, run.chunk, tuple(c.index for c in run.chunks))


def chunk_blocks(n_chunks: int, chunk: int, seconds_per_network: float, task_seconds: float,
                 max_chunks: Optional[int] = None) -> list:
    """Consecutive chunk indices cut into tasks of about ``task_seconds`` each by the cost model
    (at least one chunk per task, at most ``max_chunks``: a memory cap on what a task returns). A
    function of the design only, never of the scheduler, so a task's key names the same networks
    on every run.

    >>> chunk_blocks(5, 100, 0.01, 2.0)
    [[0, 1], [2, 3], [4]]
    """
    per = max(1, int(task_seconds // max(chunk * seconds_per_network, 1e-12)))
    if max_chunks is not None:
        per = max(1, min(per, max_chunks))
    return [list(range(a, min(n_chunks, a + per))) for a in range(0, n_chunks, per)]


def join_samples(parts: Sequence[NetworkSample]) -> NetworkSample:
    """One :class:`NetworkSample` from samples of disjoint chunk sets of one run (same design,
    stream and path), rows in ascending chunk order: equal, array for array, to one call that ran
    all those chunks (each chunk draws from its own generator)."""
    parts = sorted(parts, key=lambda s: s.chunks[0])
    first = parts[0]

    def cat(name):
        arrays = [getattr(s, name) for s in parts]
        return None if arrays[0] is None else np.concatenate(arrays, axis=0)

    return dataclasses.replace(
        first, trials=sum(s.trials for s in parts), sq_ratio=cat("sq_ratio"), layer_ratio=cat("layer_ratio"),
        grad_ratio=cat("grad_ratio"), last_gram=cat("last_gram"), seconds=sum(s.seconds for s in parts),
        chunks=tuple(k for s in parts for k in s.chunks))


def plan_chunks(widths, inputs: torch.Tensor, trials: int, **kwargs) -> tuple:
    """(path, chunk, n_chunks) of ``sample_networks(widths, inputs, trials, **kwargs)`` without
    running it: the sampler that would run and how its networks are cut into chunks."""
    k = dict(kwargs)
    path = check_choice("path", k.pop("path", "auto"), PATHS)
    widths, T, spec, path, elements = _checked(
        widths, inputs, trials, k.get("fan"), k.get("weight_var", HE_GAIN), k.get("variances"), k.get("stream"),
        k.get("dtype", torch.float64), k.get("grads", False), k.get("last_gram", False), path, k.get("act"))
    chunk = chunk_size(elements)
    return path, chunk, -(-T // chunk)


def count_band_failures(widths, inputs: torch.Tensor, trials: int, lo: float, hi: float, *, layers: str = "all",
                        block: Sequence[int], **kwargs) -> tuple:
    """(failures, networks) among the chunks ``block`` of ``sample_networks(widths, inputs,
    trials, **kwargs)``: a network fails when some input's ‖h_l‖²/‖x‖² leaves [lo, hi] at some
    layer (``layers="all"``) or at the last (``"last"``). Integer counts: the counts of disjoint
    blocks add up to the whole run's, in any order (certify's and sweep's tasks)."""
    s = sample_networks(widths, inputs, trials, chunks=list(block), **kwargs)
    r = s.sq_ratio if layers == "all" else s.sq_ratio[:, -1:, :]
    return int((~((r >= lo) & (r <= hi)).all(axis=(1, 2))).sum()), s.trials


def _sample_block(widths, inputs, trials, kwargs, block):
    """One task of :func:`sample_networks_on` (module level: Dask workers import it by name)."""
    return sample_networks(widths, inputs, trials, chunks=block, **kwargs)


def sample_networks_on(executor, widths: Sequence[int], inputs: torch.Tensor, trials: int, *, stream: Stream,
                       progress: Optional[Callable[[int, int], None]] = None, task_seconds: Optional[float] = None,
                       **kwargs) -> NetworkSample:
    """:func:`sample_networks` run as tasks on ``executor`` (:func:`sim.scheduler.connect`): the
    run's chunks are cut into tasks of about ``task_seconds`` (default
    :data:`sim.scheduler.TASK_SECONDS`) by :func:`chunk_blocks`, task k named
    ``"<stream name>/<first chunk>-<last chunk>"``, and the results joined in chunk order
    (:func:`join_samples`). The result equals ``sample_networks(widths, inputs, trials,
    stream=stream, **kwargs)`` array for array, whatever the executor and the task order;
    ``progress(done, total)`` counts networks. ``memory_budget`` and ``chunks`` are not taken
    (tasks are whole chunk blocks); the inputs travel to the workers on the CPU.

    >>> from initbounds.sim.scheduler import connect
    >>> x = torch.ones(1, 8, dtype=torch.float64)
    >>> with connect() as ex:
    ...     a = sample_networks_on(ex, [8, 8], x, 3000, fan="in", stream=Stream(0, "doc"), task_seconds=1e-9)
    >>> b = sample_networks([8, 8], x, 3000, fan="in", stream=Stream(0, "doc"))
    >>> bool((a.sq_ratio == b.sq_ratio).all()), len(a.chunks) > 1
    (True, True)
    """
    from .scheduler import TASK_SECONDS, Task

    for bad in ("chunks", "memory_budget"):
        if bad in kwargs:
            raise DomainError(f"{bad} is not taken by sample_networks_on (its tasks are whole chunk blocks)")
    k = dict(kwargs)
    path, chunk, n_chunks = plan_chunks(widths, inputs, trials, stream=stream, **k)
    k.pop("path", None)
    widths, T = tuple(widths), int(trials)
    per_net = estimate_seconds(widths, inputs.shape[0], path, input_dim=inputs.shape[1])
    blocks = chunk_blocks(n_chunks, chunk, per_net, TASK_SECONDS if task_seconds is None else task_seconds)
    device = k.pop("device", "cpu")
    k.update(stream=stream, path=path)
    x = inputs.detach().cpu()
    tasks = [Task(f"{stream.name}/{b[0]}-{b[-1]}", _sample_block, (widths, x, T, {**k, "device": device}, b))
             for b in blocks]
    sizes = {t.key: sum(min(chunk, T - c * chunk) for c in b) for t, b in zip(tasks, blocks)}
    done = [0]

    def on_result(task, _):
        done[0] += sizes[task.key]

    results = executor.map(tasks, on_result=on_result,
                           progress=None if progress is None else (lambda i, n: progress(done[0], T)))
    return join_samples(list(results.values()))


def _checked(widths, inputs, trials, fan, weight_var, variances, stream, dtype, grads, last_gram, path, act) -> tuple:
    """The checked arguments of :func:`sample_networks`: (widths, T, spec, path, network_elements)."""
    if isinstance(widths, (str, bytes)) or not hasattr(widths, "__iter__"):
        raise DomainError(f"widths must be a sequence of layer widths n_1, ..., n_L; got {widths!r}")
    widths = COUNT.validate_all("widths", widths)
    if not widths:
        raise DomainError("widths must list ≥ 1 layer width (n_1, ..., n_L; n_0 comes from the inputs); got ()")
    T = check_int("trials", trials, lo=1)
    fan = check_choice("fan", fan, ("in", "out"))
    _check_inputs(inputs)
    _check_stream(stream)
    if dtype not in _DTYPES:
        raise DomainError(f"dtype must be torch.float32 or torch.float64; got {dtype!r}")
    for name, flag in (("grads", grads), ("last_gram", last_gram)):
        if not isinstance(flag, bool):
            raise DomainError(f"{name} must be True or False; got {flag!r}")
    path = check_choice("path", path, PATHS)
    spec, path, elements = _design(widths, inputs, fan, weight_var, variances, grads, path, act)
    return widths, T, spec, path, elements


def _design(widths, inputs, fan, weight_var, variances, grads, path, act) -> tuple:
    """(spec, path, network_elements) of a checked :func:`sample_networks` call: the network, the
    sampler that runs ("auto" resolved) and one network's working set, which fixes the chunk size."""
    N, n0 = inputs.shape
    spec_kw = {} if act is None else {"act": act}
    spec = NetworkSpec(n0, widths, fan=fan, weight_var=weight_var, variances=variances, **spec_kw)
    non_relu = spec.act.kind != "relu"
    if path == "auto":
        path = "real" if non_relu else choose_path(widths, N, grads, input_dim=n0)
    if non_relu and path != "real":
        raise DomainError(f"activation {spec.act.kind!r} needs path='real'; got path={path!r}")
    if grads and path != "real":
        raise DomainError(f"grads=True needs path='real' (the reduced samplers do not carry the "
                          f"backward pass); got path={path!r}")
    if grads and non_relu:
        raise DomainError("grads=True is implemented for ReLU networks only")
    if path == "norm" and N != 1:
        raise DomainError(f"path='norm' samples one input; got {N} inputs (use 'gram')")
    dims = spec.dims
    if path == "norm":
        elements = 8 * len(widths)
    elif path == "gram":
        elements = 3 * max(widths) * (N + min(max(dims), N))
    else:
        elements = max(a * b for a, b in zip(dims[:-1], dims[1:])) + 3 * N * max(dims)
        if grads:
            elements += spec.weights_per_network + N * sum(widths)
    return spec, path, elements


class _Records:
    def __init__(self, T, L, N, grads, last_gram):
        self.sq = np.empty((T, L, N))
        self.lr = np.empty((T, L, N))
        self.gr = np.empty((T, L, N)) if grads else None
        self.gl = np.empty((T, N, N)) if last_gram else None


def _ratios(norms: torch.Tensor, x_sq: torch.Tensor):
    """(sq_ratio, layer_ratio) from ‖h_l‖², l = 0..L, shape (t, L + 1, N): 0/0 := 0 once dead."""
    prev, cur = norms[:, :-1], norms[:, 1:]
    return cur / x_sq, torch.where(prev > 0, cur / torch.where(prev > 0, prev, 1), 0)


def _batch_norm(spec, x, batch: Batch, rec, *, dtype, state, **_):
    L, t = spec.depth, batch.size
    if "v" not in state:                  # once per run (a depth-10^6 run has one network per chunk)
        state["v"] = torch.tensor(spec.layer_variances(), dtype=dtype, device=batch.device)
        state["n"] = torch.tensor(spec.widths, dtype=dtype, device=batch.device)
    v = state["v"]
    n = state["n"].expand(t, L).contiguous()
    half = torch.full((t, L), 0.5, dtype=dtype, device=batch.device)
    K = torch.empty((t, L), dtype=dtype, device=batch.device)
    for rows, g in batch.each():                                  # per chunk: K_1..K_L, then the gammas
        K[rows] = torch.binomial(n[rows], half[rows], generator=g)
    alive = K > 0
    shape = torch.where(alive, 0.5 * K, torch.ones_like(K))
    gam = torch.empty_like(K)
    for rows, g in batch.each():
        gam[rows] = torch._standard_gamma(shape[rows], generator=g)
    q = torch.where(alive, 2.0 * gam, torch.zeros_like(gam))    # χ²_K, with χ²_0 = 0
    batch.place(rec.lr, (v * q).unsqueeze(-1))


def _batch_gram(spec, x, batch: Batch, rec, *, dtype, last_gram, state, **_):
    dims, t, N = spec.dims, batch.size, x.shape[0]
    v = spec.layer_variances()
    if "R0" not in state:
        x_sq = (x * x).sum(dim=1)
        state["x_sq"], state["xn"] = x_sq, x_sq.sqrt()
        state["R0"] = torch.linalg.qr(x.T, mode="r").R if dims[0] > N else x.T        # (r0, N)
    x_sq, xn = state["x_sq"], state["xn"]
    R = state["R0"].unsqueeze(0).expand(t, -1, -1)
    norms = torch.empty((t, spec.depth + 1, N), dtype=dtype, device=batch.device)
    norms[:, 0] = x_sq
    for l in range(spec.depth):
        n_out, r = dims[l + 1], R.shape[1]
        A = batch.normal((n_out, r), std=math.sqrt(v[l]), dtype=dtype)
        H = torch.relu(torch.bmm(A, R))                          # (t, n_out, N)
        norms[:, l + 1] = (H * H).sum(dim=1)
        if l + 1 < spec.depth:
            R = torch.linalg.qr(H, mode="r").R if n_out > N else H
    sq, lr = _ratios(norms, x_sq)
    batch.place(rec.sq, sq)
    batch.place(rec.lr, lr)
    if last_gram:
        batch.place(rec.gl, torch.bmm(H.transpose(1, 2), H) / (xn[:, None] * xn[None, :]))


def _batch_real(spec, x, batch: Batch, rec, *, dtype, grads, last_gram, state):
    # Layout: activations are rows, h is (t, N, n), and the forward product is h @ W_lᵀ: for few
    # inputs that batched row-times-matrix product streams W once at memory bandwidth, about 3x
    # faster on CPU than W @ h with h as columns. Weight sampling then takes ~90% of the time
    # (benchmarks: width 512, depth 20). Without grads each layer is drawn into a reused buffer.
    t, N, L = batch.size, x.shape[0], spec.depth
    if "x_sq" not in state:
        state["x_sq"] = (x * x).sum(dim=1)
        state["buffers"] = {}
    x_sq = state["x_sq"]
    norms = torch.empty((t, L + 1, N), dtype=dtype, device=batch.device)   # ‖h_l‖², l = 0..L
    norms[:, 0] = x_sq
    masks = []

    def record(l, z, h):
        norms[:, l + 1] = (h * h).sum(dim=2)
        if grads:
            masks.append(z > 0)

    if grads:
        params = draw_params(spec, batch, dtype=dtype)
    else:
        params = iter_params(spec, batch, dtype=dtype, buffers=state["buffers"])
    h = forward(spec, x.unsqueeze(0), params, noise=batch, record=record)
    sq, lr = _ratios(norms, x_sq)
    batch.place(rec.sq, sq)
    batch.place(rec.lr, lr)
    if last_gram:
        xn = x_sq.sqrt()
        batch.place(rec.gl, torch.bmm(h, h.transpose(1, 2)) / (xn[:, None] * xn[None, :]))
    if grads:
        # ℓ_i = ⟨e, h_L(x_i)⟩, e drawn after the weights: δ_L = e ⊙ 1[z_L > 0];
        # δ_{l-1} = (W_lᵀ δ_l) ⊙ 1[z_{l-1} > 0]
        e = batch.normal((1, spec.widths[-1]), dtype=dtype)
        d = e * masks[-1]                                      # δ_L as rows, (t, N, n_L)
        g = torch.empty((t, L, N), dtype=dtype, device=batch.device)
        for l in range(L - 1, -1, -1):
            g[:, l] = (d * d).sum(dim=2)                        # ‖δ_l‖²
            if l > 0:
                d = torch.bmm(d, params[l].weight) * masks[l - 1]
        dL = g[:, -1]
        prev = norms[:, :-1]
        # ‖∂ℓ_i/∂W_l‖_F² = ‖δ_l‖²·‖h_{l-1}‖² (rank one), normalized by ‖x_i‖²·‖δ_L‖² (0 if δ_L = 0)
        batch.place(rec.gr, g * prev / (x_sq * torch.where(dL > 0, dL, 1)).unsqueeze(1))
