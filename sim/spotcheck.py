"""A seconds-long simulation spot-check of one design (used by ``initbounds check``)."""
from __future__ import annotations

import math
import time

import numpy as np
import torch

from ..bounds.band import band_for_eps
from ..bounds.errors import POSITIVE

from . import stats
from .core import Stream
from .engine import choose_path, estimate_seconds, sample_inputs, sample_networks

__all__ = ["spot_check", "spot_cost", "networks_within", "SPOT_SECONDS"]

#: Default time (seconds) the spot-check may spend: sampling the inputs and the networks, by the
#: cost model below; ``initbounds check --spot-seconds`` changes it.
SPOT_SECONDS = 5.0


# The spot-check's cost model (float32, measured on the 2-core reference machine while other jobs
# held its cores, issue 11). A network costs about _PER_NET_FACTOR × the engine's float64 model
# (measured 0.3–5× on these designs: 2048×6 and 1024×8 gram, 256×4 real, 64×20000 norm); every
# batch also pays a fixed cost per layer (a QR per layer on the gram path: measured 2–8 ms);
# drawing the inputs costs about _SEC_PER_INPUT_NUMBER per number ((N + 1)·n0 numbers: 9.3 s at
# n0 = 10^7, N = 16).
# Re-measured on the quiet machine at the end of issue 11: check's default design (gram, 2048×6, 16
# inputs) ran 384 networks in 0.6 s (0.0016 s each) where the factor 3 predicted 0.013 s each, so
# the default check cut its 2,000 networks to 384; the factor is 0.5 (about 0.002 s each there: all
# 2,000 within the 5 s budget on a quiet machine, up to 2–5× longer while other jobs hold the cores).
_PER_NET_FACTOR = 0.5
_PER_LAYER = {"gram": 5e-3, "real": 3e-3, "norm": 2e-5}
_SEC_PER_INPUT_NUMBER = 6e-8
_STARTUP = 0.1


def spot_cost(*, depth: int, width: int, samples: int, path: str = "auto") -> dict:
    """The spot-check's cost model: the sampler, the fixed seconds (inputs, per-layer overhead)
    and the seconds per network. Computed from the design only (no sampling), so the number of
    networks a budget buys is a function of the arguments, not of the machine's load.

    >>> c = spot_cost(depth=6, width=2048, samples=16)
    >>> c["path"], c["fixed_seconds"] < 1, c["seconds_per_network"] < 0.1
    ('gram', True, True)
    """
    widths = [width] * depth
    chosen = choose_path(widths, samples, grads=False, input_dim=width) if path == "auto" else path
    per_net = _PER_NET_FACTOR * estimate_seconds(widths, samples, chosen, input_dim=width)
    fixed = _STARTUP + _PER_LAYER[chosen] * depth + _SEC_PER_INPUT_NUMBER * (samples + 1) * width
    return {"path": chosen, "fixed_seconds": fixed, "seconds_per_network": per_net}


def networks_within(budget: float, trials: int, *, depth: int, width: int, samples: int, path: str = "auto") -> int:
    """How many of ``trials`` networks the cost model fits in ``budget`` seconds (0: not one).

    >>> networks_within(5.0, 10, depth=3, width=64, samples=1)
    10
    """
    c = spot_cost(depth=depth, width=width, samples=samples, path=path)
    if c["seconds_per_network"] <= 0:
        return trials
    return int(min(trials, max(budget - c["fixed_seconds"], 0.0) // c["seconds_per_network"]))


def spot_check(*, depth: int, width: int, samples: int, eps: float, trials: int, seed: int,
               correlation: float = 0.5, norm: str = "squared", path: str = "auto",
               device: str = "cpu", budget: float = SPOT_SECONDS, progress=None) -> dict:
    """Simulate up to ``trials`` He-initialized ReLU nets (fan-out) on ``samples`` correlated inputs,
    as many as the time ``budget`` (seconds) buys by the cost model :func:`spot_cost`.

    Estimator: the fraction of networks in which some input leaves the ε-band at some layer, with
    a 95% Clopper–Pearson interval; also the worst |‖h_l‖²/‖x‖² − 1| seen. The sampler is the
    fastest exact one (``path="auto"``) unless ``path="real"``. The number of networks T is
    decided before any sampling: T = min(trials, ⌊(budget − fixed)/per network⌋). When T <
    ``trials`` the result says so (``trials_capped``, ``trials_requested``, ``note``) and gives the
    budget that runs them all (``budget_for_all``); when not even one network fits, nothing is
    sampled and ``skipped`` says why, with the cost. ``progress(done, total)`` is called after each
    batch of networks. The seed is the run seed of the stream ``Stream(seed, "spotcheck")``
    (inputs from its child "inputs", the networks chunk by chunk from the stream), so a capped
    result is the one ``trials=T`` gives. Runs in float32 (tested to sample the same law as float64
    in tests/sim).
    """
    budget = POSITIVE.validate("budget", budget)
    t0 = time.perf_counter()
    cost = spot_cost(depth=depth, width=width, samples=samples, path=path)
    chosen, fixed, per_net = cost["path"], cost["fixed_seconds"], cost["seconds_per_network"]
    T = networks_within(budget, trials, depth=depth, width=width, samples=samples, path=path)
    need = math.ceil(fixed + trials * per_net)
    base = {"trials_requested": trials, "budget_seconds": budget, "estimated_seconds_per_network": per_net,
            "estimated_fixed_seconds": fixed, "budget_for_all": need}
    if T < 1:
        one = fixed + per_net
        return {**base, "trials": 0, "trials_capped": True,
                "skipped": f"the inputs and one network take about {_secs(one)} to simulate ({chosen} sampler), "
                           f"more than the budget of {budget:g} s; --spot-seconds {math.ceil(one)} runs one network, "
                           f"--spot-seconds {need} all {trials:,}"}
    stream = Stream(seed, "spotcheck")
    x = sample_inputs(width, samples, correlation=correlation, stream=stream, dtype=torch.float32,
                      device=device)
    s = sample_networks([width] * depth, x, T, fan="out", stream=stream, dtype=torch.float32,
                        path=chosen, device=device, progress=progress)
    lo, hi = band_for_eps(eps, norm)
    r = s.sq_ratio
    fail = ~((r >= lo) & (r <= hi)).all(axis=(1, 2))
    k = int(fail.sum())
    a, b = stats.clopper_pearson(k, T, 0.95)
    note = None
    if T < trials:
        note = (f"{T:,} of the {trials:,} requested networks: the budget of {budget:g} s buys {T:,} "
                f"(about {_secs(per_net)} each); --spot-seconds {need} runs all {trials:,}")
    return {
        **base, "trials": T, "trials_capped": T < trials, "note": note, "failures": k, "estimate": k / T,
        "ci": [a, b], "level": 0.95, "worst_deviation": float(np.max(np.abs(r - 1.0))),
        "path": s.path, "seconds": time.perf_counter() - t0,
    }


def _secs(x: float) -> str:
    return f"{x:.2g} s" if x < 10 else f"{x:,.0f} s"
