"""Monte Carlo checks of neuron death (RR20; THEORY.md §7) on real networks and on real data."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .signflip import living_fraction, sign_flip_

__all__ = ["sample_alive_on_set", "make_mlp", "digits_liveness", "direction_spread"]


@torch.no_grad()
def sample_alive_on_set(widths, data: torch.Tensor, trials: int, *, generator: torch.Generator,
                        bias: bool = False) -> np.ndarray:
    """(trials, m) boolean array: point i alive through every ReLU layer of network t.

    Batched real networks with N(0, 2/fan-in) weights (symmetric) and, with ``bias``, N(0, 1)
    biases; ``widths`` = (n_1, ..., n_k) with n_0 = data.shape[1].
    """
    T, m = trials, data.shape[0]
    dims = [data.shape[1], *widths]
    h = data.T.unsqueeze(0).expand(T, -1, -1).to(torch.float64)
    alive = torch.ones(T, m, dtype=torch.bool)
    for a, b in zip(dims[:-1], dims[1:]):
        W = torch.randn((T, b, a), generator=generator, dtype=torch.float64) * (2.0 / a) ** 0.5
        z = torch.bmm(W, h)
        if bias:
            z = z + torch.randn((T, b, 1), generator=generator, dtype=torch.float64)
        h = torch.relu(z)
        alive &= (h > 0).any(dim=1)
    return alive.numpy()


def make_mlp(n0: int, widths, n_out: int, *, generator: torch.Generator) -> nn.Sequential:
    """A float64 nn.Sequential MLP with He (fan-in, kaiming_normal_) weights and zero biases on
    every layer, the linear output layer included; every weight comes from ``generator``."""
    layers, a = [], n0
    for b in [*widths, n_out]:
        lin = nn.Linear(a, b, dtype=torch.float64)
        nn.init.kaiming_normal_(lin.weight, mode="fan_in", nonlinearity="relu", generator=generator)
        nn.init.zeros_(lin.bias)
        layers += [lin, nn.ReLU()]
        a = b
    return nn.Sequential(*layers[:-1])


def digits_liveness(*, depth: int = 20, width: int = 3, trials: int = 40, seed: int = 0) -> dict:
    """Living fraction of scikit-learn's bundled digits (1797 × 64, loaded offline, standardized)
    through a deep narrow He-initialized MLP, before and after each sign-flip mode.

    Returns mean and minimum over ``trials`` networks of the final living fraction per method.
    """
    from sklearn.datasets import load_digits

    X = load_digits().data
    X = (X - X.mean(axis=0)) / (X.std(axis=0) + 1e-12)
    data = torch.tensor(X, dtype=torch.float64)
    g = torch.Generator().manual_seed(seed)
    res = {"he": [], "layer": [], "unit": [], "greedy": []}
    for _ in range(trials):
        base = make_mlp(64, [width] * depth, 10, generator=g)
        res["he"].append(living_fraction(base, data)[-1])
        state = {k: v.clone() for k, v in base.state_dict().items()}
        for mode in ("layer", "unit", "greedy"):
            base.load_state_dict(state)
            res[mode].append(sign_flip_(base, data, mode=mode).living_fraction[-1])
    return {k: {"mean": float(np.mean(v)), "min": float(np.min(v))} for k, v in res.items()} | {
        "points": int(data.shape[0]), "depth": depth, "width": width, "trials": trials,
        "guarantee": 2.0 ** -depth}


@torch.no_grad()
def direction_spread(width: int, depths, points: int, trials: int, *, generator: torch.Generator) -> np.ndarray:
    """D_k = 1 − ‖mean_x u(x)‖² over living points (u = h_k/‖h_k‖), per network and depth.

    Batched over ``trials`` square He networks of ``width`` on ``points`` Gaussian inputs;
    returns (trials, len(depths)) with NaN where fewer than 2 points are alive.
    """
    x = torch.randn(points, width, generator=generator, dtype=torch.float64)
    out = np.full((trials, len(depths)), np.nan)
    h = x.T.unsqueeze(0).expand(trials, -1, -1)                 # (T, width, points)
    for k in range(1, max(depths) + 1):
        W = torch.randn((trials, width, width), generator=generator, dtype=torch.float64) * (2.0 / width) ** 0.5
        h = torch.relu(torch.bmm(W, h))
        if k in depths:
            nrm = h.norm(dim=1)                                   # (T, points)
            live = nrm > 0
            u = torch.where(live[:, None, :], h / torch.where(live, nrm, 1.0)[:, None, :], 0.0)
            cnt = live.sum(dim=1)
            mean_u = u.sum(dim=2) / cnt.clamp(min=1)[:, None]
            d = 1.0 - (mean_u**2).sum(dim=1)
            d[cnt < 2] = float("nan")
            out[:, depths.index(k)] = d.numpy()
    return out
