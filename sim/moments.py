"""Fractional-moment-preserving initialization (GH21; docs/theory.md §4): heavy tails of biased deep
chains under σ_s, and the figures of ``initbounds figure gh21`` (theory over simulation)."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch

from ..bounds.band import product_law
from ..bounds.errors import check_int, check_real
from ..bounds.moments import (Activation, activation, log_norm_params, log_q_order, p_small_output, sigma2,
                              sigma2_he, sigma2_large_width)

from . import stats
from .claims import ClaimSet, Evidence
from .core import NetworkSpec, Run, Stream, forward, iter_params
from .engine import sample_networks
from .plots import figure_name, histogram_bins

__all__ = ['sample_biased_chain', 'hill_estimator', 'hill_bootstrap', 'figures_gh21', 'CLAIMS']


@torch.no_grad()
def sample_biased_chain(act: Activation, width: int, s: float, depth: int, trials: int, *,
                        stream: Stream, bias_std: float = 1.0, memory_budget: Optional[float] = None,
                        chunks: Optional[Sequence[int]] = None) -> np.ndarray:
    """‖x_L‖ for ``trials`` independent chains x_l = σ_s φ(W_l x_{l−1}) + b_l, W_l standard
    Gaussian d×d, b_l ~ N(0, bias_std² I), x_0 = 0, batched over chains on the network core.

    σ_s φ(W x) = φ(σ_s W x) for these positively homogeneous φ, so a chain is a
    :class:`~sim.core.NetworkSpec` with ``variances`` σ_s² and biases after the activation
    (``bias_position="post"``). E‖σ_s φ(W u)‖^s = 1 for every unit u is Kesten's condition: the
    stationary norm has a power-law tail with index s. Chunk k of the chains draws W_1, b_1, W_2,
    … from ``stream.generator(k)`` (RReLU slopes from ``stream.child("noise")``).
    """
    d = check_int("width", width, lo=1)
    L = check_int("depth", depth, lo=1)
    sb = check_real("bias_std", bias_std, lo=0.0)
    spec = NetworkSpec(d, (d,) * L, fan="out", variances=(sigma2(act, d, s),) * L, bias_var=sb * sb,
                       act=act, bias_position="post")
    run = Run(stream, trials, network_elements=spec.max_layer_elements + 4 * d, memory_budget=memory_budget,
              chunks=chunks)
    out = np.empty(run.rows)
    x0 = torch.zeros((1, 1, d), dtype=torch.float64)
    buffers: dict = {}
    for batch in run:
        h = forward(spec, x0, iter_params(spec, batch, buffers=buffers), noise=batch)
        batch.place(out, h.norm(dim=(1, 2)))
    return out


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


def figures_gh21(out_dir: str, *, seed: int = 0, trials: int = 20000, progress=None, fmt: str = "png") -> list:
    """The four GH21 figures (see :func:`_figures_gh21`), drawn in the toolkit's style."""
    from .plots import style

    with style():
        return _figures_gh21(out_dir, seed=seed, trials=trials, progress=progress, fmt=fmt)


def _figures_gh21(out_dir: str, *, seed: int, trials: int, progress, fmt: str) -> list:
    """Write four figures to ``out_dir`` in format ``fmt`` (png, svg or pdf: :data:`sim.plots.FIGURE_FORMATS`)
    and return their paths.

    1. σ_s against s for widths 30, 40, 50 (ReLU): exact curves; dots estimate σ_s from simulated
       one-layer nets, σ̂_s = (mean Q^{s/2})^{-1/s};
    2. σ_s² − 2/d against d on log-log axes (s = 1): exact values, the sympy series 5(2−s)/(2d²)
       (slope −2);
    3. the density of log‖h_100‖ − log‖x‖ for ReLU at width 64, He against s = 1: CLT curves
       (peaks at −2.005 and −1.020, sd 1.44) over histograms of simulated networks;
    4. moment blow-up after 500 layers (s = 1, width 64): log E‖h_500‖^q = 500 Λ(q), Λ convex with
       Λ(0) = Λ(s) = 0, against simulated log-means (which underestimate above s: heavy tails).
    Simulations use the fastest exact sampler; panel p's networks come from the stream
    ``Stream(seed, "figures.gh21").child(<panel and design>)``.
    """
    from .plots import caption, new_figure, save_figure

    figure_name("gh21", fmt)                     # checks fmt before the work
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    relu = activation("relu")
    root = Stream(seed, "figures.gh21")
    paths = []
    design = f"seed {seed}, {trials:,} simulated networks per curve (stream figures.gh21)"

    def finish(fig, ax, stem: str, i: int) -> None:
        name = figure_name(stem, fmt)
        ax.legend()
        caption(fig, design)
        save_figure(fig, str(out / name))
        paths.append(str(out / name))
        if progress:
            progress(i, 4)

    # 1. σ_s vs s
    fig, ax = new_figure(width=6.4, height=4.4)
    ss = np.linspace(0.1, 2.0, 40)
    for d, col in ((30, "tab:blue"), (40, "tab:orange"), (50, "tab:green")):
        ax.plot(ss, [math.sqrt(sigma2(relu, d, s)) for s in ss], color=col, label=f"exact, d = {d}")
        smp = sample_networks([d], torch.ones(1, d, dtype=torch.float64), trials, fan="out",
                              variances=[1.0], stream=root.child(f"sigma_vs_s/d={d}"))
        q = smp.sq_ratio[:, 0, 0]                 # ‖h₁‖²/‖x‖² with σ² = 1: Q itself
        pts = np.array([0.5, 1.0, 1.5, 2.0])
        # σ̂_s = (mean Q^{s/2})^{-1/s}: a monotone map of a mean, so the mean's interval maps to σ̂'s
        est, lo, hi = [], [], []
        for s in pts:
            m, a, b = stats.mean_ci(q ** (s / 2))
            est.append(m ** (-1.0 / s))
            lo.append(b ** (-1.0 / s))
            hi.append(a ** (-1.0 / s))
        est, lo, hi = np.array(est), np.array(lo), np.array(hi)
        ax.errorbar(pts, est, yerr=[est - lo, hi - est], fmt="o", color=col, ms=4, capsize=3,
                    label=f"simulated, d = {d} (95% CI)")
    ax.set_xlabel("moment order s")
    ax.set_ylabel("σ_s: weight std preserving E‖h‖^s")
    ax.set_title("ReLU layer of width d (d = fan-in = fan-out)")
    finish(fig, ax, "gh21_sigma_vs_s", 1)

    # 2. log-log slope of σ_s² − 2/d
    fig, ax = new_figure(width=6.4, height=4.4)
    ds = np.unique(np.geomspace(8, 4000, 25).astype(int))
    he = [sigma2_he(relu, int(d)) for d in ds]                       # 2/d
    exact = [sigma2(relu, int(d), 1.0) - h for d, h in zip(ds, he)]
    series = [sigma2_large_width(relu, int(d), 1.0) - h for d, h in zip(ds, he)]   # 5(2 − s)/(2d²)
    ax.loglog(ds, exact, "o", label="exact σ_s² − 2/d (s = 1)")
    ax.loglog(ds, series, "-", label="series 5(2−s)/(2d²): slope −2")
    slope = np.polyfit(np.log(ds), np.log(exact), 1)[0]
    ax.set_title(f"σ_s² − He's 2/d at s = 1: fitted log-log slope {slope:.3f}")
    ax.set_xlabel("layer width d")
    ax.set_ylabel("σ_s² − 2/d  (exact, no simulation)")
    finish(fig, ax, "gh21_slope", 2)

    # 3. density of log‖h_100‖
    fig, ax = new_figure(width=6.4, height=4.4)
    d, k = 64, 100
    for s, col in ((2.0, "tab:red"), (1.0, "tab:blue")):
        v = sigma2(relu, d, s)
        ln = log_norm_params(relu, d, s, k)
        smp = sample_networks([d] * k, torch.ones(1, d, dtype=torch.float64), trials, fan="out",
                              variances=[v] * k, stream=root.child(f"lognorm_density/s={s:g}"))
        y = 0.5 * np.log(smp.sq_ratio[:, -1, 0][smp.sq_ratio[:, -1, 0] > 0])
        ax.hist(y, bins=histogram_bins(len(y)), density=True, alpha=0.35, color=col,
                label=f"simulated, {'He' if s == 2 else f's = {s:g}'}")
        xs = np.linspace(y.min(), y.max(), 300)
        m, sd = ln.mean_at_depth, math.sqrt(ln.var_at_depth)
        ax.plot(xs, np.exp(-0.5 * ((xs - m) / sd) ** 2) / (sd * math.sqrt(2 * math.pi)), color=col,
                label=f"{'He' if s == 2 else f's = {s:g}'}: N({m:.3f}, {sd:.2f}²)")
    ax.set_xlabel("log‖h_100‖ − log‖x‖")
    ax.set_ylabel("probability density")
    ax.set_title("ReLU, width 64, depth 100: CLT law (lines) vs simulation")
    finish(fig, ax, "gh21_lognorm_density", 3)

    # 4. moment blow-up after 500 layers
    fig, ax = new_figure(width=6.4, height=4.4)
    d, k, s = 64, 500, 1.0
    v = sigma2(relu, d, s)
    qs = np.linspace(0.1, 3.0, 30)
    # Λ(q) = (q/2) log σ² + log E Q^{q/2} (any order: moments above s = 2 are needed here)
    lam = [q / 2 * math.log(v) + float(log_q_order(relu, d, q / 2)) for q in qs]
    ax.plot(qs, [k * x for x in lam], label="theory: log E‖h_500‖^q = 500 Λ(q)")
    smp = sample_networks([d] * k, torch.ones(1, d, dtype=torch.float64), trials, fan="out",
                          variances=[v] * k, stream=root.child("moment_blowup"))
    r = smp.sq_ratio[:, -1, 0]
    with np.errstate(divide="ignore"):
        lr = 0.5 * np.log(r)
    sim = []
    for q in qs:
        a = q * lr
        mx = np.max(a)
        sim.append(mx + math.log(np.mean(np.exp(a - mx))))
    ax.plot(qs, sim, "o", ms=4, label=f"simulation: log of the sample mean ({trials:,} networks)")
    # a sample mean of e^{qX} (X = log‖h‖, sd √(500 Λ''(0)) large) is dominated by draws that a sample
    # of this size does not contain: it needs about e^{Var(qX)} networks to see the moment. Mark the
    # orders beyond reach and say so on the figure.
    sd = float(np.std(lr[np.isfinite(lr)]))
    # the mean is dominated by draws near log‖h‖ = μ + q·sd², the sample reaches μ + sd·√(2 log T): with
    # one sd of margin it is trustworthy while q·sd ≤ √(2 log T) − 1
    reach = (math.sqrt(2.0 * math.log(trials)) - 1.0) / sd
    ax.axvspan(reach, qs[-1], color="tab:red", alpha=0.08,
               label=f"q > {reach:.2f}: needs ≫ {trials:,} networks (e^((q·sd)²/2))")
    ax.annotate("heavy tail: the sample mean underestimates here,\nthe theory is not wrong", (0.98, 0.05),
                xycoords="axes fraction", ha="right", va="bottom", fontsize=8, color="tab:red")
    ax.axvline(s, color="grey", ls=":", lw=1)
    ax.axhline(0, color="grey", lw=0.5)
    ax.set_xlabel("moment order q")
    ax.set_ylabel("log E‖h_500‖^q / ‖x‖^q")
    ax.set_title("s = 1, width 64, 500 layers: moments above s explode, below s vanish")
    finish(fig, ax, "gh21_moment_blowup", 4)
    return paths


# --- claims for `initbounds validate` (docs/theory.md §4) -------------------------------------------
CLAIMS = ClaimSet()
_MOMENT_ACTS = {"relu": {}, "leaky": {"slope": 0.3}, "rrelu": {"lower": 1 / 8, "upper": 1 / 3}, "linear": {}}


def _moment_claim(kind):
    def run(ctx):
        s, d = 1.0, 64
        a = activation(kind, **_MOMENT_ACTS[kind])
        v = sigma2(a, d, s)
        x = torch.ones(1, d, dtype=torch.float64)
        smp = ctx.sample([d], x, fan="out", act=a, variances=[v])
        r = smp.sq_ratio[:, 0, 0] ** (s / 2)
        m, lo, hi = stats.mean_ci(r, ctx.level)
        return Evidence(1.0, m, (lo, hi), lo <= 1.0 <= hi,
                        f"E(‖h₁‖/‖x‖)^s = 1 with σ_s² = {v:.10g} ({a.label()}, s = {s:g}, d = {d}; "
                        "one layer: higher depths are heavy-tailed and sample moments mislead)", len(r))
    return run


for _k in _MOMENT_ACTS:
    CLAIMS.claim(f"moment_{_k}", "identity", f"σ_s preserves E‖h‖^s ({_k})", "derived (GH21 claim; docs/theory.md §4)",
                 trials=20000)(_moment_claim(_k))


@CLAIMS.claim("lognorm_depth", "identity", "log-norm mean kμ_s and variance kς² at depth k",
              "derived (GH21 claim; docs/theory.md §4)", trials=50000)
def _lognorm(ctx):
    s, d, k = 1.0, 64, 20
    a = activation("relu")
    v = sigma2(a, d, s)
    smp = ctx.sample([d] * k, torch.ones(1, d, dtype=torch.float64), fan="out", variances=[v] * k)
    last = smp.sq_ratio[:, -1, 0]
    alive = last > 0
    y = 0.5 * np.log(last[alive])
    ln = log_norm_params(a, d, s, k)
    level = stats.bonferroni(ctx.level, 2)
    m, lo, hi = stats.mean_ci(y, level)
    m2, lo2, hi2 = stats.mean_ci((y - ln.mean_at_depth) ** 2, level)
    ok = lo <= ln.mean_at_depth <= hi and lo2 <= ln.var_at_depth <= hi2
    return Evidence(ln.mean_at_depth, m, (lo, hi), ok,
                    f"log(‖h_k‖/‖x‖) at depth {k}, ReLU d = {d}, s = {s:g}: mean kμ_s = {ln.mean_at_depth:.5f}; "
                    f"variance kς² = {ln.var_at_depth:.5f} vs {m2:.5f} [{lo2:.5f}, {hi2:.5f}]", int(alive.sum()))


@CLAIMS.claim("lognorm_law_ks", "identity", "exact law of log‖h_k‖ vs simulation (KS)",
              "derived (docs/theory.md §2, §4)", trials=50000)
def _lognorm_law(ctx):
    s, d, k = 1.0, 64, 20
    v = sigma2(activation("relu"), d, s)
    law = product_law([d] * k)
    tol = law.tolerance
    smp = ctx.sample([d] * k, torch.ones(1, d, dtype=torch.float64), fan="out", variances=[v] * k)
    # log(‖h_k‖²/‖x‖²) = k log(σ² d/2) + log Π ρ_j: test the simulated log Π against the exact law
    y = np.log(smp.sq_ratio[:, -1, 0]) - k * math.log(v * d / 2)
    stat, p = stats.ks_test(y, law.log_cdf_at)
    crit = stats.ks_critical(len(y), ctx.level) + tol
    return Evidence(0.0, stat, (0.0, crit), stat <= crit,
                    f"KS distance between simulated log‖h_{k}‖ (ReLU d = {d}, σ_s, s = {s:g}) and the "
                    f"exact product law (grid tolerance {tol:.1e}); p-value {p:.3g}", len(y))


@CLAIMS.claim("small_output_relu", "identity", "exact P(small output) under σ_s and He",
              "derived (GH21 claim; docs/theory.md §4)", trials=50000)
def _small_output(ctx):
    d, k, t = 64, 20, 0.3
    a = activation("relu")
    so = p_small_output(a, d, 1.0, k, t)
    level = stats.bonferroni(ctx.level, 2)
    est, cis, oks = [], [], []
    for s, th in ((1.0, so.p_exact), (2.0, so.p_exact_he)):
        v = sigma2(a, d, s)
        smp = ctx.sample([d] * k, torch.ones(1, d, dtype=torch.float64), fan="out", variances=[v] * k,
                         label=f"s={s:g}")
        hit = smp.sq_ratio[:, -1, 0] <= t * t
        kk, T = int(hit.sum()), len(hit)
        lo, hi = stats.clopper_pearson(kk, T, level)
        est.append(kk / T)
        cis.append((lo, hi))
        oks.append(lo - so.tolerance <= th <= hi + so.tolerance)
    return Evidence(so.p_exact, est[0], cis[0], all(oks),
                    f"P(‖h_k‖ ≤ {t}‖x‖), ReLU d = {d}, k = {k}: s = 1 exact {so.p_exact:.5f} vs "
                    f"{est[0]:.5f}; He exact {so.p_exact_he:.5f} vs {est[1]:.5f} [{cis[1][0]:.4f}, "
                    f"{cis[1][1]:.4f}] (s < 2 avoids small outputs)", ctx.trials)


@CLAIMS.claim("tail_index", "approximation", "tail index of biased chains = s (Hill)",
              "derived (GH21 claim; Kesten's condition; docs/theory.md §4)", trials=12000)
def _tail_index(ctx):
    s, d, depth = 1.0, 4, 200
    x = sample_biased_chain(activation("relu"), d, s, depth, ctx.trials, stream=ctx.stream)
    kk = max(50, ctx.trials // 30)
    est, lo, hi = hill_bootstrap(x, kk, rng=ctx.stream.child("bootstrap").numpy(), level=ctx.level, resamples=300)
    return Evidence(s, est, (lo, hi), None,
                    f"Hill estimator (top {kk} of {ctx.trials}) of ‖x_L‖ for biased ReLU chains x_l = "
                    f"σ_s relu(W x) + b, width {d}, {depth} layers, s = {s:g}: predicted tail index s "
                    "(Hill's estimator is biased at finite k)", ctx.trials, path="real")
