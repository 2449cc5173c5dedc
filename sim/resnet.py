"""Residual networks (HR18; docs/theory.md): Monte Carlo of real residual MLPs at initialization."""
from __future__ import annotations

import math

import numpy as np
import torch

from ..bounds.errors import check_int

from .variance import _batches

__all__ = ["sample_residual"]


@torch.no_grad()
def sample_residual(blocks: int, width: int, branch_width: int, eta: float, trials: int, *,
                    schedule: str = "const", generator: torch.Generator, dtype=torch.float64) -> np.ndarray:
    """(trials, blocks) array of ‖x_b‖²/‖x_0‖² for x ← x + η_b W₂ relu(W₁ x), W₁ of variance
    2/n (m × n), W₂ of variance 1/m (n × m), η_b by ``schedule`` (const, inv = η/b, invsqrt = η/√b);
    x_0 = e_1 (by rotation invariance any x_0 has the same law)."""
    from ..bounds.resnet import residual_growth

    B = check_int("blocks", blocks, lo=1)
    n = check_int("width", width, lo=1)
    m = check_int("branch_width", branch_width, lo=1)
    T = check_int("trials", trials, lo=1)
    etas = residual_growth(B, n, m, eta, schedule=schedule)["eta"]
    out = np.empty((T, B))
    for a, b in _batches(T, 2 * n * m):
        t = b - a
        x = torch.zeros((t, n, 1), dtype=dtype)
        x[:, 0, 0] = 1.0
        for k in range(B):
            W1 = torch.randn((t, m, n), generator=generator, dtype=dtype) * math.sqrt(2.0 / n)
            W2 = torch.randn((t, n, m), generator=generator, dtype=dtype) * math.sqrt(1.0 / m)
            x = x + float(etas[k]) * torch.bmm(W2, torch.relu(torch.bmm(W1, x)))
            out[a:b, k] = (x**2).sum(dim=(1, 2)).numpy()
    return out
