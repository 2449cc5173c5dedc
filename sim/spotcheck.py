"""A seconds-long simulation spot-check of one design (used by ``initbounds check``)."""
from __future__ import annotations

import time

import numpy as np
import torch

from ..bounds.band import band_for_eps

from . import stats
from .core import Stream
from .engine import choose_path, estimate_seconds, sample_inputs, sample_networks

__all__ = ["spot_check", "SPOT_SECONDS"]

#: Time the spot-check may spend sampling (estimated from the engine's cost model, float32).
SPOT_SECONDS = 5.0


def spot_check(*, depth: int, width: int, samples: int, eps: float, trials: int, seed: int,
               correlation: float = 0.5, norm: str = "squared", path: str = "auto",
               device: str = "cpu") -> dict:
    """Simulate ``trials`` He-initialized ReLU nets (fan-out) on ``samples`` correlated inputs.

    Estimator: the fraction of networks in which some input leaves the ε-band at some layer, with
    a 95% Clopper–Pearson interval; also the worst |‖h_l‖²/‖x‖² − 1| seen. The sampler is the
    fastest exact one (``path="auto"``) unless ``path="real"``; the number of networks is capped
    so that sampling takes about :data:`SPOT_SECONDS` (``trials_capped`` says so). The seed is the
    run seed of the stream ``Stream(seed, "spotcheck")`` (inputs from its child "inputs", the
    networks chunk by chunk from the stream). Runs in float32 (tested to sample the same law as
    float64 in tests/sim).
    """
    t0 = time.perf_counter()
    widths = [width] * depth
    chosen = choose_path(widths, samples, grads=False, input_dim=width) if path == "auto" else path
    per_net = estimate_seconds(widths, samples, chosen, input_dim=width) / 4.0      # float32 is ~4-5x faster
    T = int(min(trials, SPOT_SECONDS // per_net)) if per_net > 0 else trials
    if T < 1:
        return {"trials": 0, "skipped": f"one network takes about {per_net:.3g} s to simulate, more "
                f"than the spot-check's {SPOT_SECONDS:g} s; run `initbounds validate` or a smaller width"}
    stream = Stream(seed, "spotcheck")
    x = sample_inputs(width, samples, correlation=correlation, stream=stream, dtype=torch.float32,
                      device=device)
    s = sample_networks(widths, x, T, fan="out", stream=stream, dtype=torch.float32,
                        path=chosen, device=device)
    lo, hi = band_for_eps(eps, norm)
    r = s.sq_ratio
    fail = ~((r >= lo) & (r <= hi)).all(axis=(1, 2))
    k = int(fail.sum())
    a, b = stats.clopper_pearson(k, T, 0.95)
    return {
        "trials": T, "trials_capped": T < trials, "failures": k, "estimate": k / T,
        "ci": [a, b], "level": 0.95, "worst_deviation": float(np.max(np.abs(r - 1.0))),
        "path": s.path, "seconds": time.perf_counter() - t0,
    }
