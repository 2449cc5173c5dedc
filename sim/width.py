"""Norm preservation and the minimum width (AB19; docs/theory.md §2, §3, §9): the claims that check
the one-layer law, the band probabilities, each width method and the exact reduced samplers
against simulated networks (the samplers are :func:`initbounds.sim.engine.sample_networks`)."""
from __future__ import annotations

import numpy as np
import torch

from ..bounds import rho
from ..bounds.band import band_for_eps, band_probability
from ..bounds.variance import length_moments
from ..bounds.width import METHODS, SOURCES, min_width

from . import stats
from .claims import ClaimSet, Ctx, Evidence
from .engine import sample_inputs

__all__ = ["CLAIMS", "VALIDATE_DESIGN"]

#: The design the width claims are checked on: small enough to simulate every method's width.
VALIDATE_DESIGN = {"depth": 3, "samples": 4, "delta": 0.1, "eps": 0.5, "correlation": 0.5}
#: Budget of sampled weights per claim (random numbers); trials are capped to fit it.
_WEIGHT_BUDGET = 1.0e9

CLAIMS = ClaimSet()


def _trials_for(ctx, dims) -> int:
    """Trials capped so that real networks with ``dims`` = (n0, n1, ..., nL) draw at most
    _WEIGHT_BUDGET weights (reduced paths draw far fewer random numbers and are not capped)."""
    if ctx.path != "real":
        return ctx.trials
    per_net = sum(a * b for a, b in zip(dims[:-1], dims[1:]))
    return int(max(50, min(ctx.trials, _WEIGHT_BUDGET // max(per_net, 1))))


def _ratio_sample(ctx, width, depth=1, dtype=torch.float64):
    x = torch.ones(1, width, dtype=dtype)
    return ctx.sample([width] * depth, x, fan="out", dtype=dtype)


# --- one-layer law -----------------------------------------------------------------------------
@CLAIMS.claim("rho_mean", "identity", "E ρ = 1", "derived (docs/theory.md §2)", trials=50000)
def _rho_mean(ctx):
    n = 64
    s = _ratio_sample(ctx, n)
    x = s.layer_ratio[:, 0, 0]
    th = float(rho.unit_moments()["mean"])                 # E ρ = E Y = 1
    m, lo, hi = stats.mean_ci(x, ctx.level)
    return Evidence(th, m, (lo, hi), lo <= th <= hi, f"E ρ = 1 at width {n}", len(x))


@CLAIMS.claim("rho_var", "identity", "Var ρ = 5/n", "derived (docs/theory.md §2)", trials=50000)
def _rho_var(ctx):
    n = 64
    s = _ratio_sample(ctx, n)
    d2 = (s.layer_ratio[:, 0, 0] - 1.0) ** 2
    m, lo, hi = stats.mean_ci(d2, ctx.level)
    th = float(rho.unit_moments()["var"]) / n             # Var ρ = Var Y / n = 5/n
    return Evidence(th, m, (lo, hi), lo <= th <= hi, f"Var ρ = 5/n at width {n}", len(d2))


@CLAIMS.claim("rho_cdf_ks", "identity", "exact CDF of ρ vs simulation (KS)", "derived (docs/theory.md §2)",
              trials=50000)
def _rho_cdf(ctx):
    n = 16
    s = _ratio_sample(ctx, n)
    x = s.layer_ratio[:, 0, 0]
    stat, pval = stats.ks_test(x, lambda r: rho.cdf(n, np.maximum(r, 0.0)))
    crit = stats.ks_critical(len(x), ctx.level)
    return Evidence(0.0, float(stat), (0.0, crit), stat <= crit,
                    f"KS distance to the exact CDF at width {n} (interval: [0, critical distance]); "
                    f"p-value {pval:.3g}", len(x))


# --- band probabilities ------------------------------------------------------------------------
_BAND = {"width": 64, "depth": 8, "eps": 0.5}


def _band_claim(layers):
    def run(ctx):
        n, L, eps = _BAND["width"], _BAND["depth"], _BAND["eps"]
        lo, hi = band_for_eps(eps, "squared")
        exact = band_probability(n, L, lo, hi, layers=layers, rtol=1e-6)
        s = _ratio_sample(ctx, n, depth=L, dtype=torch.float32)
        r = s.sq_ratio[:, :, 0]
        inside = (r >= lo) & (r <= hi)
        hit = inside.all(axis=1) if layers == "all" else inside[:, -1]
        k, T = int(hit.sum()), len(hit)
        a, b = stats.clopper_pearson(k, T, ctx.level)
        ok = a - exact.tolerance <= exact.p_in <= b + exact.tolerance
        return Evidence(exact.p_in, k / T, (a, b), ok,
                        f"width {n}, depth {L}, ε = {eps}; numerical tolerance {exact.tolerance:.1e}", T)
    return run


CLAIMS.claim("p_stay", "identity", "exact p_stay vs simulated frequency", "derived (docs/theory.md §3)",
             trials=50000)(_band_claim("all"))
CLAIMS.claim("p_last", "identity", "exact p_last vs simulated frequency", "derived (docs/theory.md §3)",
             trials=50000)(_band_claim("last"))


# --- width methods: simulated failure probability at each method's width ------------------------
def _width_claim(method):
    def run(ctx):
        d = VALIDATE_DESIGN
        L, N, delta, eps = d["depth"], d["samples"], d["delta"], d["eps"]
        n = min_width(method, L, N, delta, eps).min_width
        T = _trials_for(ctx, [n] * (L + 1))
        x = sample_inputs(n, N, correlation=d["correlation"], stream=ctx.stream, dtype=torch.float32,
                          device=ctx.device)
        s = ctx.sample([n] * L, x, T, fan="out", dtype=torch.float32)
        lo, hi = band_for_eps(eps, "squared")
        r = s.sq_ratio
        fail = ~((r >= lo) & (r <= hi)).all(axis=(1, 2))
        k = int(fail.sum())
        a, b = stats.clopper_pearson(k, T, ctx.level)
        # the bound holds unless the simulated failure probability is significantly above δ
        return Evidence(delta, k / T, (a, b), a <= delta,
                        f"width {n}: P(some of N={N} inputs leaves the ε={eps} band in {L} layers) vs δ = {delta}",
                        T)
    return run


for _m in METHODS:
    CLAIMS.claim(f"width_{_m}", "paper_bound" if _m == "authors_formula" else "upper_bound",
                 f"P(some of N inputs fails) at the {_m} width ≤ δ", SOURCES[_m], trials=10000)(_width_claim(_m))


# --- the exact reduced samplers against the real network (docs/theory.md §9) -------------------
def _equivalence(kind):
    def run(ctx):
        import scipy.stats as st

        if kind == "norm":
            widths, x = [64, 48, 64, 64], torch.ones(1, 32, dtype=torch.float64)
        else:
            widths = [128, 96, 128]
            x = sample_inputs(40, 4, correlation=0.7, stream=ctx.stream, device=ctx.device)
        fast = Ctx(ctx.trials, ctx.stream, ctx.level, ctx.progress, kind, ctx.device)
        real = Ctx(ctx.trials, ctx.stream, ctx.level, None, "real", ctx.device)
        a = fast.sample(widths, x, fan="in", last_gram=kind == "gram", label=kind)
        b = real.sample(widths, x, fan="in", last_gram=kind == "gram", label="real")
        stats_ = [st.ks_2samp(a.sq_ratio[:, -1, i], b.sq_ratio[:, -1, i]) for i in range(x.shape[0])]
        if kind == "gram":
            for i in range(4):
                for j in range(i + 1, 4):
                    ca = a.last_gram[:, i, j] / np.sqrt(a.last_gram[:, i, i] * a.last_gram[:, j, j])
                    cb = b.last_gram[:, i, j] / np.sqrt(b.last_gram[:, i, i] * b.last_gram[:, j, j])
                    stats_.append(st.ks_2samp(ca, cb))
        m = len(stats_)
        pmin = min(r.pvalue for r in stats_)
        dmax = max(r.statistic for r in stats_)
        per = stats.bonferroni(ctx.level, m)
        crit = stats.ks_critical(max(1, ctx.trials // 2), per)   # two equal samples: n_eff = T/2
        what = "final norm" if kind == "norm" else "4 final norms and 6 pairwise cosines"
        return Evidence(0.0, dmax, (0.0, crit), pmin >= 1.0 - per,
                        f"two-sample KS, {kind} sampler vs real networks, widths {[x.shape[1], *widths]}: {what}; smallest "
                        f"p-value {pmin:.3g}", ctx.trials, path=f"{kind}+real")
    return run


CLAIMS.claim("sampler_norm_vs_real", "identity", "norm-only sampler = real networks (KS)",
             "derived (docs/theory.md §2, §9)", trials=4000)(_equivalence("norm"))
CLAIMS.claim("sampler_gram_vs_real", "identity", "Gram sampler = real networks (KS, norms and cosines)",
             "derived (docs/theory.md §2, §9)", trials=3000)(_equivalence("gram"))


# --- gradient side (ii): the independence approximation ---------------------------------------
@CLAIMS.claim("gradient_independence", "approximation", "weight-gradient norms vs the independence approximation",
              "derived (AB19 property ii, independence approximation; docs/theory.md §3)", trials=4000)
def _gradient(ctx):
    n, L = 64, 4
    x = torch.ones(1, n, dtype=torch.float64)
    s = ctx.sample([n] * L, x, fan="in", grads=True)
    g = s.grad_ratio[:, :, 0]                         # (T, L)
    # independence approximation: G_l is a product of L − 1 independent ρ's, E G² = Π(1 + 5/n)
    th = length_moments([n] * (L - 1)).second_moment_ratio
    m, lo, hi = stats.mean_ci((g**2).mean(axis=1), ctx.level)
    gap = m / th - 1.0
    return Evidence(th, m, (lo, hi), None,
                    f"mean over layers of E G_l² at width {n}, depth {L}; relative gap {gap:+.4f} "
                    f"(O(1/n) = {1.0 / n:.4f} per layer expected)", len(g))
