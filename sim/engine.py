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

from bounds.errors import DomainError, check_choice, check_int, check_real

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

    x_i ∝ √c·g₀ + √(1 − c)·g_i with g's i.i.d. standard normal vectors (same generator).
    """
    n0 = check_int("n0", n0, lo=1)
    samples = check_int("samples", samples, lo=1)
    c = check_real("correlation", correlation, lo=0.0, hi=1.0, hi_open=True)
    g0 = torch.randn(1, n0, generator=generator, dtype=dtype, device=device)
    g = torch.randn(samples, n0, generator=generator, dtype=dtype, device=device)
    x = math.sqrt(c) * g0 + math.sqrt(1.0 - c) * g
    return x / x.norm(dim=1, keepdim=True)


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
    δ_{l-1} = (W_lᵀ δ_l) ⊙ 1[z_{l-1} > 0], and ‖∂ℓ_i/∂W_l‖_F = ‖δ_l‖·‖h_{l-1}‖ (rank one). AB19's
    property (ii) concerns these norms.

    Estimators built on the result are plain sample means/frequencies over the T networks
    (independent given the inputs). The generator controls every weight and e; chunks of
    networks are drawn in order, so results depend only on the seed (and the chunk size, which
    depends on ``memory_budget``).
    """
    widths = tuple(check_int(f"widths[{i}]", w, lo=1) for i, w in enumerate(widths))
    if len(widths) < 2:
        raise DomainError(f"widths must list the input dimension and ≥ 1 layer width; got {widths}")
    T = check_int("trials", trials, lo=1)
    fan = check_choice("fan", fan, ("in", "out"))
    gain = check_real("gain", gain, lo=0.0, lo_open=True)
    if inputs.ndim != 2 or inputs.shape[1] != widths[0]:
        raise DomainError(f"inputs must have shape (N, {widths[0]}); got {tuple(inputs.shape)}")
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
    T = trials
    t0 = time.perf_counter()
    x = inputs.to(dtype=dtype, device=device)
    N = x.shape[0]
    L = len(widths) - 1
    x_sq = (x * x).sum(dim=1)                                   # (N,)
    # chunk size: the largest weight tensor plus activations of a chunk within the budget
    itemsize = torch.tensor([], dtype=dtype).element_size()
    per_net = max(a * b for a, b in zip(widths[:-1], widths[1:])) + 3 * N * max(widths)
    if grads:
        per_net += sum(a * b for a, b in zip(widths[:-1], widths[1:]))
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
        h = x.T.unsqueeze(0).expand(t, -1, -1)                 # (t, n0, N)
        prev = x_sq.unsqueeze(0).expand(t, -1)                 # (t, N)
        weights, masks, hs = [], [], []
        for l in range(L):
            n_in, n_out = widths[l], widths[l + 1]
            std = math.sqrt(variances[l])
            key = (t, n_out, n_in, l if grads else -1)
            W = bufs.get(key)
            if W is None:
                W = torch.empty((t, n_out, n_in), dtype=dtype, device=device)
                bufs[key] = W
            torch.randn((t, n_out, n_in), generator=generator, dtype=dtype, device=device, out=W)
            W.mul_(std)
            z = torch.bmm(W, h)                                # (t, n_out, N)
            if grads:
                weights.append(W)
                masks.append(z > 0)
                hs.append(h)
            if kind == "relu":
                h = torch.relu(z)
            elif kind == "linear":
                h = z
            elif kind == "leaky":
                h = torch.where(z > 0, z, act.slope * z)
            else:                                              # RReLU: slope per unit, input, pass
                c = torch.rand(z.shape, generator=generator, dtype=dtype, device=device)
                c.mul_(act.upper - act.lower).add_(act.lower)
                h = torch.where(z > 0, z, c * z)
            cur = (h * h).sum(dim=1)                           # (t, N)
            sq[done:done + t, l] = (cur / x_sq).cpu().numpy()
            lr[done:done + t, l] = torch.where(prev > 0, cur / torch.where(prev > 0, prev, 1), 0).cpu().numpy()
            prev = cur
        if last_gram:
            gl[done:done + t] = (torch.bmm(h.transpose(1, 2), h) / (xn[:, None] * xn[None, :])).cpu().numpy()
        if grads:
            e = torch.randn((t, widths[-1], 1), generator=generator, dtype=dtype, device=device)
            d = e * masks[-1]                                  # δ_L, (t, n_L, N)
            dL = (d * d).sum(dim=1)
            for l in range(L - 1, -1, -1):
                hn = (hs[l] * hs[l]).sum(dim=1)                # ‖h_{l-1}‖²
                dn = (d * d).sum(dim=1)
                gr[done:done + t, l] = (dn * hn / (x_sq * torch.where(dL > 0, dL, 1))).cpu().numpy()
                if l > 0:
                    d = torch.bmm(weights[l].transpose(1, 2), d) * masks[l - 1]
        done += t
        if progress is not None:
            progress(done, T)
    return NetworkSample(widths, fan, gain, T, sq, lr, gr, "real", str(dtype).replace("torch.", ""),
                         str(device), time.perf_counter() - t0, gl)
