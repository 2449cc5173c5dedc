"""Norm preservation and the minimum width (AB19; docs/theory.md §2, §3, §9): the claims that check
the one-layer law, the band probabilities, each width method and the exact reduced samplers
against simulated networks (the samplers are :func:`initbounds.sim.engine.sample_networks`)."""
from __future__ import annotations

import math

import numpy as np
import torch

from ..bounds import rho
from ..bounds.band import band_for_eps, band_probability
from ..bounds.band import product_law
from ..bounds.gradient import gradient_moments
from ..bounds.width import GRADIENT_SOURCES, METHODS, SOURCES, min_width

from . import stats
from .claims import ClaimSet, Ctx, Evidence
from .core import Layer, NetworkSpec, Run, draw_params, forward
from .engine import sample_inputs

__all__ = ["CLAIMS", "VALIDATE_DESIGN", "sample_gradient_ratios"]

#: The design the width claims are checked on: small enough to simulate every method's width.
VALIDATE_DESIGN = {"depth": 3, "samples": 4, "delta": 0.1, "eps": 0.5, "correlation": 0.5}
#: The design of the gradient width claim (smaller: real networks with a backward pass).
GRADIENT_DESIGN = {"depth": 3, "samples": 2, "delta": 0.2, "eps": 0.6, "correlation": 0.5}
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


def band_claim(layers, sample, *, law=None, what: str = "width", design=None):
    """A claim run comparing the exact p_stay (layers="all") or p_last with the simulated frequency
    on ``design`` (default :data:`_BAND`: width, depth, ε): ``sample(ctx, n, L)`` returns (T, L) squared norm ratios, ``law`` the
    one-layer law of the band recursion (None: Gaussian weights). Covered if the Clopper–Pearson
    interval, widened by the recursion's tolerance, holds the exact value."""
    d = _BAND if design is None else design

    def run(ctx):
        n, L, eps = d["width"], d["depth"], d["eps"]
        lo, hi = band_for_eps(eps, "squared")
        exact = band_probability(n, L, lo, hi, layers=layers, rtol=1e-6, **({} if law is None else {"law": law(n)}))
        r = sample(ctx, n, L)
        inside = (r >= lo) & (r <= hi)
        hit = inside.all(axis=1) if layers == "all" else inside[:, -1]
        k, T = int(hit.sum()), len(hit)
        a, b = stats.clopper_pearson(k, T, ctx.level)
        ok = a - exact.tolerance <= exact.p_in <= b + exact.tolerance
        return Evidence(exact.p_in, k / T, (a, b), ok,
                        f"{what} {n}, depth {L}, ε = {eps}; numerical tolerance {exact.tolerance:.1e}", T)
    return run


def _gaussian_ratios(ctx, n, L):
    return _ratio_sample(ctx, n, depth=L, dtype=torch.float32).sq_ratio[:, :, 0]


CLAIMS.claim("p_stay", "identity", "exact p_stay vs simulated frequency", "derived (docs/theory.md §3)",
             trials=50000)(band_claim("all", _gaussian_ratios))
CLAIMS.claim("p_last", "identity", "exact p_last vs simulated frequency", "derived (docs/theory.md §3)",
             trials=50000)(band_claim("last", _gaussian_ratios))


# --- width methods: simulated failure probability at each method's width ------------------------
def _width_claim(method, prop="activations"):
    """At ``method``'s width for ``prop`` (a small design), the simulated probability that some of
    the N inputs leaves the band is not significantly above δ (Clopper–Pearson)."""
    grads = prop == "gradients"

    def run(ctx):
        d = GRADIENT_DESIGN if grads else VALIDATE_DESIGN
        L, N, delta, eps = d["depth"], d["samples"], d["delta"], d["eps"]
        n = min_width(method, L, N, delta, eps, property=prop).min_width
        T = _trials_for(ctx, [n] * (L + 1))
        dtype = torch.float64 if grads else torch.float32     # the backward pass runs in float64
        x = sample_inputs(n, N, correlation=d["correlation"], stream=ctx.stream, dtype=dtype, device=ctx.device)
        if grads:
            r = ctx.sample([n] * L, x, T, fan="in", grads=True).grad_ratio
        else:
            r = ctx.sample([n] * L, x, T, fan="out", dtype=dtype).sq_ratio
        lo, hi = band_for_eps(eps, "squared")
        fail = ~((r >= lo) & (r <= hi)).all(axis=(1, 2))
        k = int(fail.sum())
        a, b = stats.clopper_pearson(k, T, ctx.level)
        what = "has a weight-gradient ratio outside" if grads else "leaves"
        # the bound holds unless the simulated failure probability is significantly above δ
        return Evidence(delta, k / T, (a, b), a <= delta,
                        f"width {n}: P(some of N={N} inputs {what} the ε={eps} band in {L} layers) vs δ = {delta}", T)
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


# --- gradient side (ii): the exact law, against real networks differentiated by autograd ------------
def sample_gradient_ratios(widths, trials: int, *, stream, device="cpu", dtype=torch.float64,
                           progress=None) -> np.ndarray:
    """G_l = ‖∂ℓ/∂W_l‖_F² / (‖δ_L‖² ‖x‖²) for l = 1..L on ``trials`` real networks, by torch.autograd.

    Networks from the core (He fan-in, n_0 = n_1, zero bias, Gaussian weights), one input
    x = (1, …, 1), the loss ℓ = ⟨e, h_L⟩ with e ~ N(0, I) drawn per network after its weights
    (``stream.child("e")``); δ_L = e ⊙ 1[z_L > 0]; G_l = 0 when δ_L = 0. Returns a (T, L) array.
    (:func:`sim.engine.sample_networks` with ``grads=True`` computes the same by a hand-written
    backward pass; this one uses autograd, as an independent check.)
    """
    widths = tuple(int(w) for w in widths)
    spec = NetworkSpec(widths[0], widths, fan="in")
    L, nL = len(widths), widths[-1]
    run = Run(stream, trials, network_elements=spec.weights_per_network + sum(widths), device=device,
              progress=progress)
    out = np.empty((run.rows, L))
    x = torch.ones(1, 1, widths[0], dtype=dtype, device=device)
    for batch in run:
        params = draw_params(spec, batch, dtype=dtype)
        Ws = [W.requires_grad_(True) for W, _ in params]
        h = forward(spec, x, [Layer(W, None) for W in Ws])               # (t, 1, n_L)
        e = batch.normal((1, nL), dtype=dtype, label="e")
        grads = torch.autograd.grad((e * h).sum(), Ws)
        with torch.no_grad():
            d2 = ((e * (h > 0)) ** 2).sum(dim=(1, 2))                      # ‖δ_L‖² per network
            g = torch.stack([(gr * gr).sum(dim=(1, 2)) for gr in grads], dim=1)   # (t, L)
            G = torch.where(d2[:, None] > 0, g / (float(widths[0]) * torch.where(d2 > 0, d2, 1.0))[:, None],
                            torch.zeros_like(g))
        batch.place(out, G)
    return out


def _gradient_cdf(n: int, L: int):
    """P(G_l ≤ x) for L layers of width n under He: B·ρ_1⋯ρ_{L−1} (bounds.gradient.gradient_law)."""
    alive = -math.expm1(-n * math.log(2.0))
    if L == 1:
        return lambda x: np.where(np.asarray(x) < 1.0, 1.0 - alive, 1.0)
    law = product_law([n] * (L - 1))
    return lambda x: (1.0 - alive) + alive * np.array([law.p_below(float(v)) for v in np.atleast_1d(x)])


_GRAD = {"width": 16, "depth": 4}


@CLAIMS.claim("gradient_law", "identity", "each G_l = ‖∂ℓ/∂W_l‖²/(‖δ_L‖²‖x‖²) has the law of B·ρ_1⋯ρ_{L−1} (KS)",
              "derived (AB19 property ii; docs/theory.md §3, the gradient side)", trials=20000)
def _gradient_law(ctx):
    n, L = _GRAD["width"], _GRAD["depth"]
    G = sample_gradient_ratios([n] * L, ctx.trials, stream=ctx.stream.child("autograd"), device=ctx.device,
                               progress=ctx.progress)
    ctx.paths_used.append("real")
    cdf = _gradient_cdf(n, L)
    res = [stats.ks_test(G[:, l], cdf) for l in range(L)]
    per = stats.bonferroni(ctx.level, L)
    crit = stats.ks_critical(len(G), per)
    dmax = max(d for d, _ in res)
    return Evidence(0.0, dmax, (0.0, crit), dmax <= crit,
                    f"real networks (autograd), width {n}, depth {L}: largest KS distance of the {L} G_l to the "
                    f"exact law (interval: [0, Bonferroni critical distance]); smallest p-value "
                    f"{min(p for _, p in res):.3g}", len(G), path="real")


@CLAIMS.claim("gradient_second_moment", "identity",
              "E G_l² = (1 − 2^-n)(1 + 5/n)^(L−1) exactly (the former independence approximation)",
              "derived (AB19 property ii; docs/theory.md §3, the gradient side)", trials=4000)
def _gradient(ctx):
    n, L = 64, 4
    x = torch.ones(1, n, dtype=torch.float64)
    s = ctx.sample([n] * L, x, fan="in", grads=True)
    g = s.grad_ratio[:, :, 0]                         # (T, L), hand-written backward pass
    th = float(np.mean(gradient_moments([n] * L).second))   # the same for every l
    m, lo, hi = stats.mean_ci((g**2).mean(axis=1), ctx.level)
    return Evidence(th, m, (lo, hi), lo <= th <= hi,
                    f"mean over the {L} layers of E G_l² at width {n}, depth {L} (engine's backward pass)", len(g))


CLAIMS.claim("width_gradients_exact_union", "upper_bound",
             "P(some of N inputs' G_l leaves the band) at the exact_union gradient width ≤ δ",
             GRADIENT_SOURCES["exact_union"], trials=2000)(_width_claim("exact_union", "gradients"))
