"""Monte Carlo of length moments with any weight law and biases, Jacobians and residual blocks
(HR18, H18; THEORY.md §5). Real networks, batched over networks, explicit generators.

Predicted values come from :mod:`bounds.variance`; nothing here re-implements a formula.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch

from ..bounds.errors import check_choice, check_int, check_real
from ..bounds.variance import WEIGHT_LAWS

from .engine import sample_networks

__all__ = ["draw_weights", "sample_lengths", "sample_jacobian_entry", "sample_length_ratios"]


def draw_weights(shape, var, law: str, *, generator: torch.Generator, dtype=torch.float64, device="cpu"):
    """I.i.d. symmetric weights of variance ``var`` with the named law (gaussian, uniform,
    rademacher, laplace), drawn from ``generator``.

    Uniform: U[−a, a] with a = √(3 var); Rademacher: ±√var; Laplace of scale √(var/2): a random
    sign times an Exp(1) variable drawn by inversion of a uniform.
    """
    check_choice("weights", law, WEIGHT_LAWS)
    kw = dict(generator=generator, dtype=dtype, device=device)
    if law == "gaussian":
        return torch.randn(shape, **kw) * math.sqrt(var)
    u = torch.rand(shape, **kw)
    if law == "uniform":
        return (2 * u - 1) * math.sqrt(3 * var)
    if law == "rademacher":
        return torch.where(u < 0.5, -1.0, 1.0).to(dtype) * math.sqrt(var)
    # Laplace by inversion: sign · Exp(1) · b with b = √(var/2)
    e = -torch.log1p(-torch.rand(shape, **kw))
    return torch.where(u < 0.5, -e, e) * math.sqrt(var / 2)


def _batches(trials: int, per_net: int, budget: float = 2e7):
    """Split ``trials`` networks into chunks of at most ``budget`` weights."""
    step = max(1, int(budget // max(per_net, 1)))
    for a in range(0, trials, step):
        yield a, min(trials, a + step)


@torch.no_grad()
def sample_lengths(widths: Sequence[int], x, trials: int, *, weights: str = "gaussian", weight_var=2.0,
                   bias_var=0.0, generator: torch.Generator, dtype=torch.float64) -> np.ndarray:
    """(trials, d) array of M_j/M_0, M_j = ‖h_j‖²/n_j, for real ReLU nets on the input ``x``.

    ``widths`` = (n_0, n_1, …, n_d); weights i.i.d. of the named law with variance c/fan-in;
    biases N(0, s²) (Gaussian). ``weight_var`` c and ``bias_var`` s² are scalars. Each row is one
    independent network; ``generator`` controls every draw. Estimator of E M_d²: the sample mean of
    the last column squared, standard error sd/√trials.
    """
    w = [check_int(f"widths[{i}]", v, lo=1) for i, v in enumerate(widths)]
    T = check_int("trials", trials, lo=1)
    c = check_real("weight_var", weight_var, lo=0.0, lo_open=True)
    s2 = check_real("bias_var", bias_var, lo=0.0)
    x = torch.as_tensor(x, dtype=dtype).reshape(-1)
    m0 = float((x**2).sum()) / w[0]
    out = np.empty((T, len(w) - 1))
    per_net = sum(a * b for a, b in zip(w[:-1], w[1:]))
    for a, b in _batches(T, per_net):
        h = x.expand(b - a, -1).unsqueeze(-1)
        for j, (n_in, n_out) in enumerate(zip(w[:-1], w[1:])):
            W = draw_weights((b - a, n_out, n_in), c / n_in, weights, generator=generator, dtype=dtype)
            z = torch.bmm(W, h)
            if s2 > 0:
                z = z + torch.randn((b - a, n_out, 1), generator=generator, dtype=dtype) * math.sqrt(s2)
            h = torch.relu(z)
            out[a:b, j] = ((h**2).sum(dim=(1, 2)) / n_out / m0).numpy()
    return out


@torch.no_grad()
def sample_jacobian_entry(input_dim: int, hidden: Sequence[int], trials: int, *, out_var: float = 1.0,
                          output: str = "linear", generator: torch.Generator, dtype=torch.float64) -> np.ndarray:
    """Z = ∂y_1/∂x_1 for ``trials`` nets x → ReLU layers (He fan-in, widths ``hidden``) → output
    unit of variance ``out_var``/n_{d−1}, linear or ReLU (``output``), at the input x = (1, …, 1).
    One entry per network (the entries of one network are dependent). H18's Z_pq."""
    n0 = check_int("input_dim", input_dim, lo=1)
    hs = [check_int(f"hidden[{i}]", v, lo=1) for i, v in enumerate(hidden)]
    T = check_int("trials", trials, lo=1)
    c = check_real("out_var", out_var, lo=0.0, lo_open=True)
    check_choice("output", output, ("linear", "relu"))
    dims = [n0, *hs]
    out = np.empty(T)
    per_net = sum(a * b for a, b in zip(dims[:-1], dims[1:])) + hs[-1]
    for a, b in _batches(T, per_net):
        t = b - a
        h = torch.ones((t, n0, 1), dtype=dtype)
        Ws, masks = [], []
        for n_in, n_out in zip(dims[:-1], dims[1:]):
            W = torch.randn((t, n_out, n_in), generator=generator, dtype=dtype) * math.sqrt(2.0 / n_in)
            z = torch.bmm(W, h)
            masks.append((z > 0).to(dtype))
            Ws.append(W)
            h = torch.relu(z)
        v = torch.randn((t, 1, hs[-1]), generator=generator, dtype=dtype) * math.sqrt(c / hs[-1])
        if output == "relu":                                 # d relu(v·h)/dh = 1[v·h > 0] v
            v = v * (torch.bmm(v, h) > 0).to(dtype)
        for W, m in zip(reversed(Ws), reversed(masks)):
            v = torch.bmm(v * m.transpose(1, 2), W)        # (t, 1, n_in)
        out[a:b] = v[:, 0, 0].numpy()
    return out


def sample_length_ratios(widths: Sequence[int], trials: int, *, weight_var=2.0, generator: torch.Generator,
                         device="cpu", path: str = "auto") -> np.ndarray:
    """M_d/M_0 for ``trials`` Gaussian ReLU nets with hidden widths n_1..n_d (fan-in, Var W_j =
    c_j/n_{j−1}, zero bias; ``weight_var`` c scalar or per layer), by the engine's fastest exact
    sampler (``path="real"`` forces real networks). The input has n_0 = n_1 (the law of M_d/M_0
    does not depend on n_0 or on the input)."""
    from ..bounds.death import parse_widths

    w = list(parse_widths(widths))
    cs = list(weight_var) if hasattr(weight_var, "__iter__") else [weight_var] * len(w)
    dims = [w[0], *w]
    x = torch.ones(1, w[0], dtype=torch.float64)
    smp = sample_networks(dims, x.to(device), trials, fan="in", generator=generator, device=device, path=path,
                          weight_var=[c / a for c, a in zip(cs, dims[:-1])])
    return smp.sq_ratio[:, -1, 0] * dims[0] / dims[-1]
