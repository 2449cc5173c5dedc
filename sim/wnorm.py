"""Weight-normalized networks (AB19 v1; docs/theory.md §12): a sampler of real weight-normalized
networks built on the core, and the claims that check :mod:`bounds.wnorm` against them (and one
against torch's own ``weight_norm`` parametrization)."""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch

from ..bounds import wnorm
from ..bounds.band import band_for_eps
from ..bounds.errors import DomainError, check_int
from . import stats
from .claims import ClaimSet, Evidence
from .core import NetworkSpec, Run, Stream, forward, iter_params
from .engine import sample_inputs

__all__ = ["CLAIMS", "VALIDATE_DESIGN", "sample_wnorm_ratios", "preserving_gains"]

#: The design the width claims are checked on (small enough to simulate every method's width).
VALIDATE_DESIGN = {"depth": 2, "samples": 2, "delta": 0.2, "eps": 0.6, "correlation": 0.5}

CLAIMS = ClaimSet()


def preserving_gains(dims: Sequence[int]) -> tuple:
    """The norm-preserving gain √(2 n_{l−1}/n_l) of every layer of dims = (n_0, …, n_L)
    (:func:`bounds.wnorm.norm_preserving_gain`)."""
    return tuple(wnorm.norm_preserving_gain(a, b) for a, b in zip(dims[:-1], dims[1:]))


def sample_wnorm_ratios(widths: Sequence[int], inputs: torch.Tensor, trials: int, *, gains=None,
                        stream: Stream, dtype=torch.float64, device="cpu", progress=None) -> np.ndarray:
    """‖h_l(x_i)‖²/‖x_i‖² of ``trials`` real weight-normalized ReLU networks, shape (T, L, N).

    The networks come from :mod:`sim.core` (``NetworkSpec(weight_norm=gains)``: Gaussian rows
    rescaled to norm g_l, zero bias), the same inputs (N, n_0) for every network; ``gains`` None is
    the norm-preserving gain of every layer. Each network is independent, so a mean over the T
    rows has standard error sd/√T; a frequency is Binomial. Seeding: chunk k of the run draws from
    ``stream.generator(k)`` (the core's chunks), so the result depends on the stream only.

    >>> r = sample_wnorm_ratios([8, 8], torch.ones(1, 8, dtype=torch.float64), 5, stream=Stream(0, "doc"))
    >>> r.shape
    (5, 2, 1)
    """
    widths = tuple(check_int(f"widths[{i}]", w, lo=1) for i, w in enumerate(widths))
    if inputs.ndim != 2:
        raise DomainError(f"inputs must be an (N, n0) tensor; got shape {tuple(inputs.shape)}")
    n0 = int(inputs.shape[1])
    dims = (n0, *widths)
    g = preserving_gains(dims) if gains is None else gains
    spec = NetworkSpec(n0, widths, fan="in", weight_norm=g)
    T = check_int("trials", trials, lo=1)
    N, L = int(inputs.shape[0]), len(widths)
    x = inputs.to(device=device, dtype=dtype)
    x2 = (x * x).sum(dim=1)
    out = np.empty((T, L, N))
    run = Run(stream, T, network_elements=spec.max_layer_elements + N * max(dims), device=device, progress=progress)
    for batch in run:
        rows = torch.empty((batch.size, L, N), dtype=dtype, device=device)

        def record(l, z, h, rows=rows):
            rows[:, l, :] = (h * h).sum(dim=2) / x2

        forward(spec, x.unsqueeze(0), iter_params(spec, batch, dtype=dtype), record=record)
        batch.place(out, rows)
    return out


def _ones(n: int) -> torch.Tensor:
    return torch.ones(1, n, dtype=torch.float64)


def _ks_alive(x: np.ndarray, m: int, n: int, gain=None) -> tuple:
    """KS test of the ratios X > 0 against the law of X given X > 0, (F(x) − 2^{-n})/(1 − 2^{-n})
    (KS assumes a continuous law: the atom P(X = 0) = 2^{-n} is removed). Returns (statistic,
    p-value, sample size, the CDF's stated tolerance scaled to the conditional law)."""
    alive = x[x > 0]
    p0 = 2.0 ** -n
    stat, pval = stats.ks_test(alive, lambda r: (wnorm.cdf(m, n, r, gain=gain) - p0) / (1.0 - p0))
    tol = wnorm.law_cdf(m, n, np.quantile(alive, np.linspace(0.0, 1.0, 41)), gain=gain).tolerance / (1.0 - p0)
    return stat, pval, len(alive), tol


# --- the one-layer law against real weight-normalized networks -------------------------------------
_ONE = {"fan_in": 12, "width": 16}


@CLAIMS.claim("wnorm_mean", "identity", "E X = g²n/(2m) (weight-normalized layer)", "derived (docs/theory.md §12)",
              trials=40000)
def _mean(ctx):
    m, n = _ONE["fan_in"], _ONE["width"]
    g = 1.3
    x = sample_wnorm_ratios([n], _ones(m), ctx.trials, gains=(g,), stream=ctx.stream.child("net"),
                            device=ctx.device)[:, 0, 0]
    th = wnorm.mean_ratio(m, n, gain=g)
    mu, lo, hi = stats.mean_ci(x, ctx.level, lo=0.0, hi=g * g * n)
    return Evidence(th, mu, (lo, hi), lo <= th <= hi, f"fan-in {m}, width {n}, gain {g}", len(x))


@CLAIMS.claim("wnorm_var", "identity", "Var X = g⁴n[3/(2m(m+2)) − 1/(4m²)]", "derived (docs/theory.md §12)",
              trials=40000)
def _var(ctx):
    m, n = _ONE["fan_in"], _ONE["width"]
    x = sample_wnorm_ratios([n], _ones(m), ctx.trials, stream=ctx.stream.child("net"), device=ctx.device)[:, 0, 0]
    d2 = (x - wnorm.mean_ratio(m, n)) ** 2
    th = wnorm.var_ratio(m, n)
    mu, lo, hi = stats.mean_ci(d2, ctx.level, lo=0.0)
    return Evidence(th, mu, (lo, hi), lo <= th <= hi, f"norm-preserving gain, fan-in {m}, width {n}", len(x))


@CLAIMS.claim("wnorm_cdf_ks", "identity", "the weight-normalized one-layer CDF vs real networks (KS)",
              "derived (docs/theory.md §12)", trials=40000)
def _cdf(ctx):
    m, n = 6, 5
    x = sample_wnorm_ratios([n], _ones(m), ctx.trials, stream=ctx.stream.child("net"), device=ctx.device)[:, 0, 0]
    stat, pval, k, tol = _ks_alive(x, m, n)
    crit = stats.ks_critical(k, ctx.level) + tol     # the CDF's stated tolerance widens the band
    return Evidence(0.0, float(stat), (0.0, crit), stat <= crit,
                    f"KS distance of X given X > 0 at fan-in {m}, width {n} (interval: [0, critical distance + CDF "
                    f"tolerance {tol:.1e}]); p-value {pval:.3g}", k)


@CLAIMS.claim("wnorm_torch_parametrization", "identity",
              "torch's weight_norm (g set to the gain) follows the weight-normalized law (KS)",
              "derived (docs/theory.md §12)", trials=2000)
def _torch_wn(ctx):
    from torch.nn.utils.parametrizations import weight_norm

    m, n, g = 7, 4, 0.8
    lin = weight_norm(torch.nn.Linear(m, n, bias=False).double(), name="weight", dim=0)
    x = _ones(m)
    gen = ctx.stream.child("torch").generator(0)
    out = np.empty(ctx.trials)
    with torch.no_grad():
        lin.parametrizations.weight.original0.fill_(g)          # every row's norm is g
        v = lin.parametrizations.weight.original1
        for i in range(ctx.trials):
            v.normal_(0.0, 1.0, generator=gen)                  # a Gaussian direction per row
            h = torch.relu(lin(x))
            out[i] = float((h * h).sum() / (x * x).sum())
    stat, pval, k, tol = _ks_alive(out, m, n, gain=g)
    crit = stats.ks_critical(k, ctx.level) + tol
    return Evidence(0.0, float(stat), (0.0, crit), stat <= crit,
                    f"torch.nn.utils.parametrizations.weight_norm on nn.Linear({m}, {n}) with g = {g}, X given X > 0; "
                    f"p-value {pval:.3g}", k)


# --- gains over depth -----------------------------------------------------------------------------
def _depth_claim(gain_kind):
    def run(ctx):
        if gain_kind == "preserving":
            dims = (16, 24, 12, 20, 16)
            gains, th = None, 1.0
            what = f"norm-preserving gains √(2n_{{l−1}}/n_l), widths {list(dims)}"
        else:
            dims = (16,) * 5
            gains = (1.0,) * 4
            th = math.prod(wnorm.mean_ratio(a, b, gain=1.0) for a, b in zip(dims[:-1], dims[1:]))   # 2^-L
            what = f"g = 1, equal widths {dims[0]}: (1/2)^L = {th:g}"
        r = sample_wnorm_ratios(list(dims[1:]), _ones(dims[0]), ctx.trials, gains=gains,
                                stream=ctx.stream.child("net"), device=ctx.device)[:, -1, 0]
        mu, lo, hi = stats.mean_ci(r, ctx.level, lo=0.0)
        return Evidence(th, mu, (lo, hi), lo <= th <= hi, f"E‖h_L‖²/‖x‖² at depth {len(dims) - 1}: {what}", len(r))
    return run


CLAIMS.claim("wnorm_gain_preserves", "identity", "the gain √(2n_{l−1}/n_l) keeps E‖h_L‖² = ‖x‖²",
             "derived (docs/theory.md §12)", trials=40000)(_depth_claim("preserving"))
CLAIMS.claim("wnorm_gain_one_halves", "identity", "gain 1 halves E‖h‖² per layer (2^−L, equal widths)",
             "derived (docs/theory.md §12)", trials=40000)(_depth_claim("one"))


# --- band probabilities over depth ----------------------------------------------------------------
_BAND = {"width": 48, "depth": 6, "eps": 0.5}


def _wnorm_ratios(ctx, n, L):
    return sample_wnorm_ratios([n] * L, _ones(n), ctx.trials, stream=ctx.stream.child("net"), dtype=torch.float32,
                               device=ctx.device)[:, :, 0]


def _band_claim(layers):
    from .width import band_claim

    inner = band_claim(layers, _wnorm_ratios, law=lambda n: wnorm.wnorm_law(n, n), what="weight-normalized width",
                       design=_BAND)

    def run(ctx):          # (declared here: a topic's claims run from its own module)
        return inner(ctx)
    return run


CLAIMS.claim("wnorm_p_stay", "identity", "weight norm: p_stay (band recursion with this law) vs frequency",
             "derived (docs/theory.md §12)", trials=20000)(_band_claim("all"))
CLAIMS.claim("wnorm_p_last", "identity", "weight norm: p_last (band recursion with this law) vs frequency",
             "derived (docs/theory.md §12)", trials=20000)(_band_claim("last"))


# --- each width method's failure probability in simulation ---------------------------------------
def _width_claim(method):
    def run(ctx):
        d = VALIDATE_DESIGN
        L, N, delta, eps = d["depth"], d["samples"], d["delta"], d["eps"]
        n = wnorm.min_width(method, L, N, delta, eps).min_width
        x = sample_inputs(n, N, correlation=d["correlation"], stream=ctx.stream, device=ctx.device)
        r = sample_wnorm_ratios([n] * L, x, ctx.trials, stream=ctx.stream.child("net"), dtype=torch.float32,
                                device=ctx.device)
        lo, hi = band_for_eps(eps, "squared")
        fail = ~((r >= lo) & (r <= hi)).all(axis=(1, 2))
        k, T = int(fail.sum()), len(fail)
        a, b = stats.clopper_pearson(k, T, ctx.level)
        return Evidence(delta, k / T, (a, b), a <= delta,
                        f"weight-normalized width {n}: P(some of N={N} inputs leaves the ε={eps} band in {L} layers) "
                        f"vs δ = {delta}", T)
    return run


for _m in wnorm.METHODS:
    CLAIMS.claim(f"wnorm_width_{_m}", "paper_bound" if _m == "authors_formula" else "upper_bound",
                 f"weight norm: P(some of N inputs fails) at the {_m} width ≤ δ", wnorm.SOURCES[_m],
                 trials=1000)(_width_claim(_m))
