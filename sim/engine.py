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

__all__ = ["NetworkSample", "sample_networks", "sample_inputs"]


@dataclass(frozen=True)
class NetworkSample:
    """What :func:`sample_networks` records (float64 numpy arrays, shape (T, L, N)).

    ``sq_ratio[t, l, i] = ‖h_l(x_i)‖² / ‖x_i‖²`` (l = 1..L stored at index l − 1);
    ``layer_ratio[t, l, i] = ‖h_l‖² / ‖h_{l-1}‖²`` (0 once the input is killed);
    ``grad_ratio[t, l, i] = ‖∂ℓ_i/∂W_l‖_F² / (‖x_i‖² ‖δ_L‖²)`` when ``grads`` (else None).
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


def sample_networks(widths: Sequence[int], inputs: torch.Tensor, trials: int, *, fan: str,
                    gain: float = 2.0, generator: torch.Generator, dtype=torch.float64,
                    device="cpu", grads: bool = False, memory_budget: float = 2**30,
                    progress: Optional[Callable[[int, int], None]] = None) -> NetworkSample:
    """Simulate ``trials`` independent ReLU nets with Gaussian weights on the same inputs.

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
        raise ValueError(f"inputs must have shape (N, {widths[0]}); got {tuple(inputs.shape)}")
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
    gr = np.empty((T, L, N)) if grads else None
    bufs: dict = {}
    done = 0
    while done < T:
        t = min(chunk, T - done)
        h = x.T.unsqueeze(0).expand(t, -1, -1)                 # (t, n0, N)
        prev = x_sq.unsqueeze(0).expand(t, -1)                 # (t, N)
        weights, masks, hs = [], [], []
        for l in range(L):
            n_in, n_out = widths[l], widths[l + 1]
            std = math.sqrt(gain / (n_in if fan == "in" else n_out))
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
            h = torch.relu(z)
            cur = (h * h).sum(dim=1)                           # (t, N)
            sq[done:done + t, l] = (cur / x_sq).cpu().numpy()
            lr[done:done + t, l] = torch.where(prev > 0, cur / torch.where(prev > 0, prev, 1), 0).cpu().numpy()
            prev = cur
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
    return NetworkSample(widths, fan, gain, T, sq, lr, gr, "real-network", str(dtype).replace("torch.", ""),
                         str(device), time.perf_counter() - t0)
