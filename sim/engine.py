"""Batched Monte Carlo of real ReLU networks (THEORY.md §1–3, §9).

Many independent networks are simulated at once: the weights of a chunk of networks are one
``(t, n_l, n_{l-1})`` tensor drawn in place from an explicit ``torch.Generator`` and applied with
``torch.bmm``. Nothing touches global RNG state.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import numpy as np
import torch

from ..bounds.errors import DomainError, check_choice, check_int, check_real

__all__ = ["NetworkSample", "sample_networks", "sample_inputs", "choose_path", "estimate_seconds", "PATHS"]


@dataclass(frozen=True)
class NetworkSample:
    """What :func:`sample_networks` records (float64 numpy arrays, shape (T, L, N)).

    ``sq_ratio[t, l, i] = ‖h_l(x_i)‖² / ‖x_i‖²`` (l = 1..L stored at index l − 1);
    ``layer_ratio[t, l, i] = ‖h_l‖² / ‖h_{l-1}‖²`` (0 once the input is killed);
    ``grad_ratio[t, l, i] = ‖∂ℓ_i/∂W_l‖_F² / (‖x_i‖² ‖δ_L‖²)`` when ``grads`` (else None);
    ``path`` is the sampler that ran: "real", "gram" or "norm"; ``last_gram`` holds the last
    layer's normalized Gram matrices (pairwise cosines follow from it) for "real" and "gram".
    """

    widths: tuple
    fan: str
    gain: float
    trials: int
    sq_ratio: np.ndarray
    layer_ratio: np.ndarray
    grad_ratio: Optional[np.ndarray]
    path: str
    dtype: str
    device: str
    seconds: float
    last_gram: Optional[np.ndarray] = None   # (T, N, N) Gram matrix h_L(x_i)·h_L(x_j) / (‖x_i‖‖x_j‖)


def sample_inputs(n0: int, samples: int, *, correlation: float, generator: torch.Generator,
                  dtype=torch.float64, device="cpu") -> torch.Tensor:
    """N unit-norm inputs in R^{n0} with pairwise correlation ≈ ``correlation`` (in [0, 1)).

    x_i ∝ √c·g₀ + √(1 − c)·g_i with g's i.i.d. standard normal vectors, then normalized to unit
    norm; the inner product of two inputs tends to c as n0 grows. ``samples`` is N. The generator
    draws g₀ first, then g_1..g_N (nothing else is touched).

    >>> x = sample_inputs(16, 3, correlation=0.5, generator=torch.Generator().manual_seed(0))
    >>> tuple(x.shape), [round(float(v), 12) for v in x.norm(dim=1)]
    ((3, 16), [1.0, 1.0, 1.0])
    """
    n0 = check_int("n0", n0, lo=1)
    samples = check_int("samples", samples, lo=1)
    c = check_real("correlation", correlation, lo=0.0, hi=1.0, hi_open=True)
    _check_generator(generator)
    if dtype not in _DTYPES:
        raise DomainError(f"dtype must be torch.float32 or torch.float64; got {dtype!r}")
    g0 = torch.randn(1, n0, generator=generator, dtype=dtype, device=device)
    g = torch.randn(samples, n0, generator=generator, dtype=dtype, device=device)
    x = math.sqrt(c) * g0 + math.sqrt(1.0 - c) * g
    return x / x.norm(dim=1, keepdim=True)


_DTYPES = (torch.float64, torch.float32)   # float32 is tested against float64 (test_engine_law)


def _check_generator(generator) -> None:
    # a None generator would make torch draw from (and advance) the global RNG: refuse it
    if not isinstance(generator, torch.Generator):
        raise DomainError(f"generator must be a torch.Generator (global RNG state is never used); "
                          f"got {generator!r}")


def _check_inputs(inputs, n0: int) -> None:
    if not isinstance(inputs, torch.Tensor):
        raise DomainError(f"inputs must be a torch.Tensor of shape (N, {n0}); got {type(inputs).__name__}")
    if inputs.ndim != 2 or inputs.shape[1] != n0 or inputs.shape[0] < 1:
        raise DomainError(f"inputs must have shape (N, {n0}) with N ≥ 1; got {tuple(inputs.shape)}")
    if not inputs.is_floating_point() or not bool(torch.isfinite(inputs).all()):
        raise DomainError("inputs must be finite real numbers; got a NaN, infinite or non-float entry")
    zero = (inputs == 0).all(dim=1).nonzero()
    if len(zero):
        i = int(zero[0, 0])
        raise DomainError(f"inputs[{i}] must have a nonzero norm (ratios are relative to ‖x_i‖²); "
                          f"got the zero vector")


PATHS = ("auto", "real", "gram", "norm")
# Cost model used by path="auto" (seconds per random number and per flop, float64 on the 2-core
# reference machine; only the ratio matters for the choice, and every candidate path is exact).
_SEC_PER_RANDOM = 1.7e-8
_SEC_PER_FLOP = 7e-11


def _cost_real(widths, N):
    return sum(a * b * (_SEC_PER_RANDOM + 2 * N * _SEC_PER_FLOP) for a, b in zip(widths[:-1], widths[1:]))


def _cost_gram(widths, N):
    c, r = 0.0, min(widths[0], N)
    for b in widths[1:]:
        c += b * r * (_SEC_PER_RANDOM + 2 * N * _SEC_PER_FLOP) + 2 * b * N * N * _SEC_PER_FLOP
        r = min(b, N)
    return c


def estimate_seconds(widths, samples: int, path: str) -> float:
    """Rough seconds per network of a sampler (float64, 2 cores) from the cost model."""
    if path == "norm":
        return 2e-6 * len(widths)
    return _cost_gram(widths, samples) if path == "gram" else _cost_real(widths, samples)


def choose_path(widths, samples: int, grads: bool) -> str:
    """The fastest exact sampler for this design: "norm" (one input), "gram" or "real"."""
    if grads:
        return "real"
    if samples == 1:
        return "norm"
    return "gram" if _cost_gram(widths, samples) < _cost_real(widths, samples) else "real"


def sample_networks(widths: Sequence[int], inputs: torch.Tensor, trials: int, *, fan: str,
                    gain: float = 2.0, generator: torch.Generator, dtype=torch.float64,
                    device="cpu", grads: bool = False, memory_budget: float = 2**30,
                    progress: Optional[Callable[[int, int], None]] = None,
                    path: str = "auto", last_gram: bool = False, act=None,
                    weight_var: Optional[Sequence[float]] = None) -> NetworkSample:
    """Simulate ``trials`` independent ReLU nets with Gaussian weights on the same inputs.

    ``path`` picks the sampler; every one samples the exact joint law of the recorded norms for
    Gaussian weights and zero bias (THEORY.md §2, §9), and each is tested against the real network:

    * ``"real"`` — real networks: weights drawn, batched matmuls (needed for ``grads``);
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
    slope U[l, u] drawn per unit, per input, per pass — torch's RReLU in training mode) or linear;
    only the real path simulates those. ``weight_var`` overrides the per-layer weight variances
    (e.g. GH21's σ_s²) instead of gain/fan.

    Layer l: z_l = W_l h_{l-1}, h_l = relu(z_l), zero bias, W_l entries i.i.d. N(0, v_l) with
    v_l = gain/n_{l-1} (fan="in") or gain/n_l (fan="out"); He is gain 2.
    With ``grads``, each input i has the loss ℓ_i = ⟨e, h_L(x_i)⟩ with e ~ N(0, I) drawn once per
    network, so δ_L = e ⊙ 1[z_L > 0]; errors are back-propagated through the same weights,
    δ_{l-1} = (W_lᵀ δ_l) ⊙ 1[z_{l-1} > 0], and ‖∂ℓ_i/∂W_l‖_F = ‖δ_l‖·‖h_{l-1}‖ (rank one). AB19
    (Arpit & Bengio, arXiv 1901.03611) property (ii) concerns these norms; the backward pass is
    done by hand with the forward weights (no autograd) and is tested equal to autograd.

    Arguments: ``widths`` = (n_0, n_1, ..., n_L), input dimension then layer widths (integers ≥ 1);
    ``inputs`` an (N, n_0) float tensor of nonzero rows, the same for every network; ``trials``
    the number T of independent networks; ``fan`` "in" or "out" (no default); ``gain`` > 0;
    ``generator`` an explicit ``torch.Generator`` on ``device`` (required: global RNG state is
    never used); ``dtype`` float64 (default) or float32; ``memory_budget`` bytes for one chunk of
    networks (largest weight tensor plus activations; with ``grads`` all weights); ``progress``
    is called as ``progress(done, total)`` after each chunk.

    Returns a :class:`NetworkSample` (float64 numpy arrays of shape (T, L, N)). Raises
    DomainError (a ValueError) for an invalid argument, e.g. ``widths[1] must be an integer ≥ 1;
    got 0``.

    Estimators built on the result are plain sample means/frequencies over the T networks, which
    are i.i.d. given the inputs: a mean of f(ratio) has standard error sd(f)/√T (use
    ``sim.stats.mean_ci``); a frequency k/T has the Binomial law (``sim.stats.clopper_pearson``).
    The N inputs share each network's weights, so values for different inputs are dependent.
    The generator controls every weight and e (and RReLU slopes); the chunks of networks are drawn
    in order, so a result is a function of the seed, the arguments and the chunk size (which
    ``memory_budget`` and the device set). Assumptions: Gaussian weights, zero biases.

    >>> x = torch.ones(1, 64, dtype=torch.float64)
    >>> s = sample_networks([64, 64, 64], x, 100, fan="out", generator=torch.Generator().manual_seed(0),
    ...                     path="real", grads=True)
    >>> s.sq_ratio.shape, s.grad_ratio.shape, s.path
    ((100, 2, 1), (100, 2, 1), 'real')
    >>> bool(abs(s.layer_ratio.mean() - 1.0) < 4 * (5 / 64 / 200) ** 0.5)  # E ρ = 1, Var ρ = 5/n
    True
    """
    widths = tuple(check_int(f"widths[{i}]", w, lo=1) for i, w in enumerate(widths))
    if len(widths) < 2:
        raise DomainError(f"widths must list the input dimension and ≥ 1 layer width; got {widths}")
    T = check_int("trials", trials, lo=1)
    fan = check_choice("fan", fan, ("in", "out"))
    gain = check_real("gain", gain, lo=0.0, lo_open=True)
    _check_inputs(inputs, widths[0])
    _check_generator(generator)
    if dtype not in _DTYPES:
        raise DomainError(f"dtype must be torch.float32 or torch.float64; got {dtype!r}")
    memory_budget = check_real("memory_budget", memory_budget, lo=0.0, lo_open=True)
    for name, flag in (("grads", grads), ("last_gram", last_gram)):
        if not isinstance(flag, bool):
            raise DomainError(f"{name} must be True or False; got {flag!r}")
    if progress is not None and not callable(progress):
        raise DomainError(f"progress must be a callable progress(done, total) or None; got {progress!r}")
    path = check_choice("path", path, PATHS)
    N = inputs.shape[0]
    non_relu = act is not None and act.kind != "relu"
    if weight_var is not None:
        weight_var = [check_real(f"weight_var[{i}]", v, lo=0.0, lo_open=True) for i, v in enumerate(weight_var)]
        if len(weight_var) != len(widths) - 1:
            raise DomainError(f"weight_var must give one variance per layer ({len(widths) - 1}); got {len(weight_var)}")
    if path == "auto":
        path = "real" if non_relu else choose_path(widths, N, grads)
    if non_relu and path != "real":
        raise DomainError(f"activation {act.kind!r} needs path='real'; got path={path!r}")
    if grads and path != "real":
        raise DomainError(f"grads=True needs path='real' (the reduced samplers do not carry the "
                          f"backward pass); got path={path!r}")
    if path == "norm" and N != 1:
        raise DomainError(f"path='norm' samples one input; got {N} inputs (use 'gram')")
    kw = dict(widths=widths, trials=T, fan=fan, gain=gain, generator=generator, dtype=dtype,
              device=device, memory_budget=memory_budget, progress=progress, weight_var=weight_var)
    if path == "norm":
        return _sample_norm(inputs, **kw)
    if path == "gram":
        return _sample_gram(inputs, last_gram=last_gram, **kw)
    return _sample_real(inputs, grads=grads, last_gram=last_gram, act=act, **kw)


def _variances(widths, fan, gain, weight_var=None):
    if weight_var is not None:
        return list(weight_var)
    return [gain / (a if fan == "in" else b) for a, b in zip(widths[:-1], widths[1:])]


def _sample_norm(inputs, *, widths, trials, fan, gain, generator, dtype, device, memory_budget,
                 progress, weight_var) -> NetworkSample:
    t0 = time.perf_counter()
    T, L = trials, len(widths) - 1
    v = torch.tensor(_variances(widths, fan, gain, weight_var), dtype=dtype, device=device)
    n = torch.tensor(widths[1:], dtype=dtype, device=device)
    chunk = int(max(1, min(T, memory_budget // (8 * L * 8))))
    lr = np.empty((T, L, 1))
    done = 0
    while done < T:
        t = min(chunk, T - done)
        K = torch.binomial(n.expand(t, L).contiguous(), torch.full((t, L), 0.5, dtype=dtype, device=device),
                           generator=generator)
        alive = K > 0
        g = torch._standard_gamma(torch.where(alive, 0.5 * K, torch.ones_like(K)), generator=generator)
        q = torch.where(alive, 2.0 * g, torch.zeros_like(g))        # χ²_K, with χ²_0 = 0
        lr[done:done + t, :, 0] = (v * q).cpu().numpy()
        done += t
        if progress is not None:
            progress(done, T)
    # once a layer kills the input, later ratios are 0/0 := 0
    dead = np.cumprod(lr[:, :, 0] > 0, axis=1) == 0
    lr[:, :, 0][dead] = 0.0
    sq = np.cumprod(lr, axis=1)
    return NetworkSample(widths, fan, gain, T, sq, lr, None, "norm", str(dtype).replace("torch.", ""),
                         str(device), time.perf_counter() - t0)


def _sample_gram(inputs, *, widths, trials, fan, gain, generator, dtype, device, memory_budget,
                 progress, last_gram, weight_var) -> NetworkSample:
    t0 = time.perf_counter()
    T, L = trials, len(widths) - 1
    x = inputs.to(dtype=dtype, device=device)
    N = x.shape[0]
    x_sq = (x * x).sum(dim=1)
    v = _variances(widths, fan, gain, weight_var)
    R0 = torch.linalg.qr(x.T, mode="r").R if widths[0] > N else x.T        # (r0, N)
    itemsize = torch.tensor([], dtype=dtype).element_size()
    per_net = 3 * max(widths[1:]) * (N + min(max(widths), N))
    chunk = int(max(1, min(T, memory_budget // (per_net * itemsize))))
    sq = np.empty((T, L, N))
    lr = np.empty((T, L, N))
    gl = np.empty((T, N, N)) if last_gram else None
    xn = x_sq.sqrt()
    done = 0
    while done < T:
        t = min(chunk, T - done)
        R = R0.unsqueeze(0).expand(t, -1, -1)
        prev = x_sq.unsqueeze(0).expand(t, -1)
        for l in range(L):
            n_out, r = widths[l + 1], R.shape[1]
            A = torch.randn((t, n_out, r), generator=generator, dtype=dtype, device=device)
            A.mul_(math.sqrt(v[l]))
            H = torch.relu(torch.bmm(A, R))                          # (t, n_out, N)
            cur = (H * H).sum(dim=1)
            sq[done:done + t, l] = (cur / x_sq).cpu().numpy()
            lr[done:done + t, l] = torch.where(prev > 0, cur / torch.where(prev > 0, prev, 1), 0).cpu().numpy()
            prev = cur
            if l + 1 < L:
                R = torch.linalg.qr(H, mode="r").R if n_out > N else H
        if last_gram:
            gl[done:done + t] = (torch.bmm(H.transpose(1, 2), H) / (xn[:, None] * xn[None, :])).cpu().numpy()
        done += t
        if progress is not None:
            progress(done, T)
    return NetworkSample(widths, fan, gain, T, sq, lr, None, "gram", str(dtype).replace("torch.", ""),
                         str(device), time.perf_counter() - t0, gl)


def _sample_real(inputs, *, widths, trials, fan, gain, generator, dtype, device, memory_budget,
                 progress, grads, last_gram, act, weight_var) -> NetworkSample:
    # Layout: activations are rows, h is (t, N, n). The weights keep the (t, n_out, n_in) draw order
    # (so a seed means the same W_l on every path and in the tests), and the forward product is
    # h @ W_lᵀ: for few inputs that batched row-times-matrix product streams W once at memory
    # bandwidth, about 3x faster on CPU than W @ h with h as columns. Weight sampling then takes
    # ~90% of the time (benchmarks: width 512, depth 20).
    T = trials
    t0 = time.perf_counter()
    x = inputs.to(dtype=dtype, device=device)
    N = x.shape[0]
    L = len(widths) - 1
    x_sq = (x * x).sum(dim=1)                                   # (N,)
    # chunk size: the largest weight tensor plus activations of a chunk within the budget
    # (with grads every layer's weights and masks are kept for the backward pass)
    itemsize = torch.tensor([], dtype=dtype).element_size()
    per_net = max(a * b for a, b in zip(widths[:-1], widths[1:])) + 3 * N * max(widths)
    if grads:
        per_net += sum(a * b for a, b in zip(widths[:-1], widths[1:])) + N * sum(widths[1:])
    chunk = int(max(1, min(T, memory_budget // (per_net * itemsize))))
    sq = np.empty((T, L, N))
    lr = np.empty((T, L, N))
    gl = np.empty((T, N, N)) if last_gram else None
    xn = x_sq.sqrt()
    gr = np.empty((T, L, N)) if grads else None
    bufs: dict = {}
    variances = _variances(widths, fan, gain, weight_var)
    kind = "relu" if act is None else act.kind
    if grads and kind != "relu":
        raise DomainError("grads=True is implemented for ReLU networks only")
    done = 0
    while done < T:
        t = min(chunk, T - done)
        h = x.unsqueeze(0).expand(t, -1, -1)                   # (t, N, n0)
        norms = torch.empty((t, L + 1, N), dtype=dtype, device=device)   # ‖h_l‖², l = 0..L
        norms[:, 0] = x_sq
        weights, masks = [], []
        for l in range(L):
            n_in, n_out = widths[l], widths[l + 1]
            # one buffer per layer shape (per layer with grads), allocated once for a full chunk
            # and sliced for the last, shorter one: no re-allocation, no fresh page faults
            key = (n_out, n_in, l if grads else -1)
            W = bufs.get(key)
            if W is None:
                W = bufs[key] = torch.empty((chunk, n_out, n_in), dtype=dtype, device=device)
            W = W[:t]
            # N(0, v_l) drawn scaled in place: the same numbers as randn(...) * std, one pass
            W.normal_(0.0, math.sqrt(variances[l]), generator=generator)
            z = torch.bmm(h, W.transpose(1, 2))                # (t, N, n_out)
            if grads:
                weights.append(W)
                masks.append(z > 0)
            if kind == "relu":
                h = torch.relu(z)
            elif kind == "linear":
                h = z
            elif kind == "leaky":
                h = torch.where(z > 0, z, act.slope * z)
            else:                                              # RReLU: slope per unit, input, pass
                c = torch.rand((t, n_out, N), generator=generator, dtype=dtype, device=device).transpose(1, 2)
                c = c * (act.upper - act.lower) + act.lower
                h = torch.where(z > 0, z, c * z)
            norms[:, l + 1] = (h * h).sum(dim=2)
        prev, cur = norms[:, :-1], norms[:, 1:]
        sq[done:done + t] = (cur / x_sq).cpu().numpy()
        # once a layer kills the input, later ratios are 0/0 := 0
        lr[done:done + t] = torch.where(prev > 0, cur / torch.where(prev > 0, prev, 1), 0).cpu().numpy()
        if last_gram:
            gl[done:done + t] = (torch.bmm(h, h.transpose(1, 2)) / (xn[:, None] * xn[None, :])).cpu().numpy()
        if grads:
            # ℓ_i = ⟨e, h_L(x_i)⟩: δ_L = e ⊙ 1[z_L > 0]; δ_{l-1} = (W_lᵀ δ_l) ⊙ 1[z_{l-1} > 0]
            e = torch.randn((t, 1, widths[-1]), generator=generator, dtype=dtype, device=device)
            d = e * masks[-1]                                  # δ_L as rows, (t, N, n_L)
            g = torch.empty((t, L, N), dtype=dtype, device=device)
            for l in range(L - 1, -1, -1):
                g[:, l] = (d * d).sum(dim=2)                    # ‖δ_l‖²
                if l > 0:
                    d = torch.bmm(d, weights[l]) * masks[l - 1]
            dL = g[:, -1]
            # ‖∂ℓ_i/∂W_l‖_F² = ‖δ_l‖²·‖h_{l-1}‖² (rank one), normalized by ‖x_i‖²·‖δ_L‖² (0 if δ_L = 0)
            gr[done:done + t] = (g * prev / (x_sq * torch.where(dL > 0, dL, 1)).unsqueeze(1)).cpu().numpy()
        done += t
        if progress is not None:
            progress(done, T)
    return NetworkSample(widths, fan, gain, T, sq, lr, gr, "real", str(dtype).replace("torch.", ""),
                         str(device), time.perf_counter() - t0, gl)
