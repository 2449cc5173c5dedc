"""Heavy tails of biased deep chains under σ_s (GH21; THEORY.md §4 "Heavy tails")."""
from __future__ import annotations

import math

import numpy as np
import torch

from bounds.moments import Activation, sigma2

__all__ = ["sample_biased_chain", "hill_estimator", "hill_bootstrap"]


@torch.no_grad()
def sample_biased_chain(act: Activation, width: int, s: float, depth: int, trials: int, *,
                        generator: torch.Generator, bias_std: float = 1.0) -> np.ndarray:
    """‖x_L‖ for ``trials`` independent chains x_l = σ_s φ(W_l x_{l−1}) + b_l, W_l standard
    Gaussian d×d, b_l ~ N(0, bias_std² I), x_0 = 0 (ReLU, leaky or linear), batched over chains.

    E‖σ_s φ(W u)‖^s = 1 for every unit u is Kesten's condition: the stationary norm has a
    power-law tail with index s.
    """
    sd = math.sqrt(sigma2(act, width, s))
    x = torch.zeros(trials, width, 1, dtype=torch.float64)
    for _ in range(depth):
        W = torch.randn((trials, width, width), generator=generator, dtype=torch.float64)
        z = torch.bmm(W, x)
        if act.kind == "relu":
            z = torch.relu(z)
        elif act.kind == "leaky":
            z = torch.where(z > 0, z, act.slope * z)
        elif act.kind != "linear":
            raise ValueError(f"activation {act.kind!r} is not supported by the chain sampler")
        x = sd * z + bias_std * torch.randn((trials, width, 1), generator=generator, dtype=torch.float64)
    return x.norm(dim=(1, 2)).numpy()


def hill_estimator(x: np.ndarray, k: int) -> float:
    """Hill's estimator of the tail index from the k largest values: 1/mean(log(X_(i)/X_(k+1)))."""
    xs = np.sort(np.asarray(x, dtype=float))[::-1]
    return float(1.0 / np.mean(np.log(xs[:k] / xs[k])))


def hill_bootstrap(x: np.ndarray, k: int, *, rng: np.random.Generator, level: float = 0.95,
                   resamples: int = 500) -> tuple:
    """(estimate, lo, hi): Hill's estimator with a percentile bootstrap interval."""
    x = np.asarray(x, dtype=float)
    est = hill_estimator(x, k)
    boots = [hill_estimator(x[rng.integers(0, len(x), len(x))], k) for _ in range(resamples)]
    a = 1.0 - level
    return est, float(np.quantile(boots, a / 2)), float(np.quantile(boots, 1 - a / 2))
