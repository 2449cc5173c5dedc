"""Residual networks (HR18; docs/theory.md): Monte Carlo of real residual MLPs at initialization,
on the network core (:mod:`sim.core`)."""
from __future__ import annotations

import math
from typing import Optional, Sequence

import numpy as np
import torch

from ..bounds.errors import check_int
from ..bounds.resnet import residual_growth

from . import stats
from .claims import ClaimSet, Evidence
from .core import NetworkSpec, Run, Stream, forward, iter_params

__all__ = ["sample_residual", "CLAIMS"]


@torch.no_grad()
def sample_residual(blocks: int, width: int, branch_width: int, eta: float, trials: int, *,
                    schedule: str = "const", stream: Stream, dtype=torch.float64,
                    memory_budget: Optional[float] = None, chunks: Optional[Sequence[int]] = None) -> np.ndarray:
    """(trials, blocks) array of ‖x_b‖²/‖x_0‖² for x ← x + η_b W₂ relu(W₁ x), W₁ of variance
    2/n (m × n), W₂ of variance 1/m (n × m) (``NetworkSpec.residual_mlp``), η_b by ``schedule``
    (const, inv = η/b, invsqrt = η/√b, from ``bounds.resnet.residual_growth``); x_0 = e_1 (by
    rotation invariance any x_0 has the same law). Chunk k of the networks draws W₁, W₂ of block
    1, then of block 2, … from ``stream.generator(k)``. Estimator of E‖x_b‖²/‖x_0‖²: the column
    mean, standard error sd/√trials.
    """
    B = check_int("blocks", blocks, lo=1)
    n = check_int("width", width, lo=1)
    m = check_int("branch_width", branch_width, lo=1)
    etas = residual_growth(B, n, m, eta, schedule=schedule)["eta"]
    spec = NetworkSpec.residual_mlp(n, m, [float(e) for e in etas])
    run = Run(stream, trials, network_elements=2 * n * m + 4 * (n + m), memory_budget=memory_budget, chunks=chunks)
    out = np.empty((run.rows, B))
    x0 = torch.zeros((1, 1, n), dtype=dtype)
    x0[0, 0, 0] = 1.0
    buffers: dict = {}
    for batch in run:
        r = torch.empty((batch.size, B), dtype=dtype)

        def record(b, z, h):
            r[:, b] = (h**2).sum(dim=(1, 2))

        forward(spec, x0, iter_params(spec, batch, dtype=dtype, buffers=buffers), record=record)
        batch.place(out, r)
    return out


# --- claims for `initbounds validate` (docs/theory.md §7) -------------------------------------------
CLAIMS = ClaimSet()


@CLAIMS.claim("residual_growth", "identity", "E‖x_B‖², E‖x_B‖⁴ for const, 1/b, 1/√b schedules",
              "derived (HR18 claim; docs/theory.md §7)", trials=6000)
def _residual(ctx):
    B, n, m, eta = 20, 16, 16, 0.5
    scheds = ("const", "inv", "invsqrt")
    level = stats.bonferroni(ctx.level, 2 * len(scheds))
    oks, parts, first = [], [], None
    for sc in scheds:
        r = sample_residual(B, n, m, eta, ctx.trials, schedule=sc, stream=ctx.stream.child(sc))[:, -1]
        g = residual_growth(B, n, m, eta, schedule=sc)
        th1, th2 = math.exp(g["log_mean"][-1]), math.exp(g["log_second"][-1])
        e1, lo1, hi1 = stats.mean_ci(r, level)
        e2, lo2, hi2 = stats.mean_ci(r**2, level)
        oks += [lo1 <= th1 <= hi1, lo2 <= th2 <= hi2]
        parts.append(f"{sc}: E = {th1:.4g} vs {e1:.4g} [{lo1:.4g}, {hi1:.4g}], E² = {th2:.4g} vs {e2:.4g}")
        first = first or (th1, e1, (lo1, hi1))
    return Evidence(*first, all(oks), f"‖x_B‖²/‖x_0‖² after {B} blocks (n = m = {n}, η = {eta}): " + "; ".join(parts),
                    ctx.trials, path="real")
