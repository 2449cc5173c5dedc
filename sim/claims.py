"""The claim registry: each claim pairs a value from ``bounds`` with a simulation of real networks.

A claim has a kind:

* ``identity`` — an exact value of ours; passes when the simulated confidence interval covers it
  (or a KS test does not reject). A failure is a *toolkit failure*.
* ``upper_bound`` — a bound of ours on a probability; passes unless the simulated probability is
  significantly above it (one-sided Clopper–Pearson). A failure is a *toolkit failure*.
* ``paper_bound`` — a formula from a paper or its authors' code; a violation is a *finding*
  about the paper ("violated"), never a failure of the toolkit.
* ``approximation`` — an approximation we state openly; the measured gap is reported.

All intervals use a per-claim level corrected by Bonferroni for the claims run together, so a
clean run is not red by chance (total family-wise error ``alpha``, default 1e-3).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np
import torch

from ..bounds import rho
from ..bounds.band import band_for_eps, band_probability
from ..bounds.width import METHODS, SOURCES, min_width

from . import stats
from .engine import sample_inputs, sample_networks

__all__ = ["Claim", "ClaimResult", "CLAIMS", "run_claims", "VALIDATE_DESIGN"]

#: The design the width claims are checked on: small enough to simulate every method's width.
VALIDATE_DESIGN = {"depth": 3, "samples": 4, "delta": 0.1, "eps": 0.5, "correlation": 0.5}
#: Budget of sampled weights per claim (random numbers); trials are capped to fit it.
_WEIGHT_BUDGET = 1.0e9


@dataclass(frozen=True)
class ClaimResult:
    name: str
    kind: str
    theory: float
    estimate: float
    ci: tuple
    verdict: str          # "pass", "FAIL" (toolkit failure), "violated" (paper finding), "gap"
    source: str
    detail: str = ""
    trials: int = 0
    seconds: float = 0.0
    path: str = ""

    @property
    def toolkit_failure(self) -> bool:
        return self.verdict == "FAIL"

    def as_dict(self) -> dict:
        return {
            "name": self.name, "kind": self.kind, "theory": self.theory,
            "estimate": self.estimate, "ci": list(self.ci), "verdict": self.verdict,
            "source": self.source, "detail": self.detail, "trials": self.trials,
            "seconds": round(self.seconds, 3), "path": self.path,
        }


@dataclass(frozen=True)
class Ctx:
    """What a claim's simulation gets: trials, an explicit generator, the confidence level, a
    progress callback, the sampler path ("auto" picks the fastest exact one; "real" forces real
    networks) and the torch device."""

    trials: int
    gen: torch.Generator
    level: float
    progress: Optional[Callable]
    path: str = "auto"
    device: str = "cpu"
    paths_used: list = field(default_factory=list)   # the samplers that actually ran

    def sample(self, widths, x, trials=None, **kw):
        s = sample_networks(widths, x.to(self.device), trials or self.trials, generator=self.gen,
                            progress=self.progress, device=self.device,
                            path="real" if kw.get("grads") else self.path, **kw)
        self.paths_used.append(s.path)
        return s


@dataclass(frozen=True)
class Claim:
    name: str
    kind: str
    description: str
    source: str
    run: Callable = field(repr=False)   # run(ctx: Ctx) -> ClaimResult
    default_trials: int = 4000


def _trials_for(ctx, widths) -> int:
    """Trials capped so that real networks draw at most _WEIGHT_BUDGET weights (reduced paths
    draw far fewer random numbers and are not capped)."""
    if ctx.path != "real":
        return ctx.trials
    per_net = sum(a * b for a, b in zip(widths[:-1], widths[1:]))
    return int(max(50, min(ctx.trials, _WEIGHT_BUDGET // max(per_net, 1))))


def _ratio_sample(ctx, width, depth=1, dtype=torch.float64):
    x = torch.ones(1, width, dtype=dtype)
    return ctx.sample([width] * (depth + 1), x, fan="out", dtype=dtype)


# --- one-layer law -----------------------------------------------------------------------------
def _rho_mean(ctx):
    n = 64
    s = _ratio_sample(ctx, n)
    x = s.layer_ratio[:, 0, 0]
    m, lo, hi = stats.mean_ci(x, ctx.level)
    ok = lo <= 1.0 <= hi
    return ClaimResult("rho_mean", "identity", 1.0, m, (lo, hi), "pass" if ok else "FAIL",
                       "derived (THEORY §2)", f"E ρ = 1 at width {n}", len(x))


def _rho_var(ctx):
    n = 64
    s = _ratio_sample(ctx, n)
    d2 = (s.layer_ratio[:, 0, 0] - 1.0) ** 2
    m, lo, hi = stats.mean_ci(d2, ctx.level)
    th = 5.0 / n
    ok = lo <= th <= hi
    return ClaimResult("rho_var", "identity", th, m, (lo, hi), "pass" if ok else "FAIL",
                       "derived (THEORY §2)", f"Var ρ = 5/n at width {n}", len(d2))


def _rho_cdf(ctx):
    n = 16
    s = _ratio_sample(ctx, n)
    x = s.layer_ratio[:, 0, 0]
    stat, pval = stats.ks_test(x, lambda r: rho.cdf(n, np.maximum(r, 0.0)))
    crit = stats.ks_critical(len(x), ctx.level)
    ok = stat <= crit
    return ClaimResult("rho_cdf_ks", "identity", 0.0, float(stat), (0.0, crit),
                       "pass" if ok else "FAIL", "derived (THEORY §2)",
                       f"KS distance to the exact CDF at width {n} (interval: [0, critical "
                       f"distance]); p-value {pval:.3g}", len(x))


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
        name = "p_stay" if layers == "all" else "p_last"
        return ClaimResult(name, "identity", exact.p_in, k / T, (a, b), "pass" if ok else "FAIL",
                           "derived (THEORY §3.3)",
                           f"width {n}, depth {L}, ε = {eps}; numerical tolerance {exact.tolerance:.1e}", T)
    return run


# --- width methods: simulated failure probability at each method's width ------------------------
def _width_claim(method):
    def run(ctx):
        d = VALIDATE_DESIGN
        L, N, delta, eps = d["depth"], d["samples"], d["delta"], d["eps"]
        n = min_width(method, L, N, delta, eps).min_width
        widths = [n] * (L + 1)
        T = _trials_for(ctx, widths)
        x = sample_inputs(n, N, correlation=d["correlation"], generator=ctx.gen, dtype=torch.float32,
                          device=ctx.device)
        s = ctx.sample(widths, x, T, fan="out", dtype=torch.float32)
        lo, hi = band_for_eps(eps, "squared")
        r = s.sq_ratio
        fail = ~((r >= lo) & (r <= hi)).all(axis=(1, 2))
        k = int(fail.sum())
        a, b = stats.clopper_pearson(k, T, ctx.level)
        violated = a > delta          # simulated failure probability significantly above δ
        paper = method == "authors_formula"
        verdict = ("violated" if violated else "pass") if paper else ("FAIL" if violated else "pass")
        return ClaimResult(f"width_{method}", "paper_bound" if paper else "upper_bound", delta,
                           k / T, (a, b), verdict, SOURCES[method],
                           f"width {n}: P(some of N={N} inputs leaves the ε={eps} band in "
                           f"{L} layers) vs δ = {delta}", T)
    return run


# --- gradient side (ii): the independence approximation ---------------------------------------
def _gradient(ctx):
    n, L = 64, 4
    x = torch.ones(1, n, dtype=torch.float64)
    s = ctx.sample([n] * (L + 1), x, fan="in", grads=True)
    g = s.grad_ratio[:, :, 0]                         # (T, L)
    # independence approximation: G_l is a product of L − 1 independent ρ's, E G² = (1 + 5/n)^{L−1}
    th = (1.0 + 5.0 / n) ** (L - 1)
    m, lo, hi = stats.mean_ci((g**2).mean(axis=1), ctx.level)
    gap = m / th - 1.0
    return ClaimResult("gradient_independence", "approximation", th, m, (lo, hi), "gap",
                       "derived (AB19 property ii, independence approximation)",
                       f"mean over layers of E G_l² at width {n}, depth {L}; relative gap "
                       f"{gap:+.4f} (O(1/n) = {1.0 / n:.4f} per layer expected)", len(g))


# --- the exact reduced samplers against the real network (THEORY.md §9, issue 6) ---------------
def _equivalence(kind):
    def run(ctx):
        import scipy.stats as st

        child = int(torch.randint(0, 2**62, (1,), generator=ctx.gen, device=ctx.device))
        g2 = torch.Generator(device=ctx.device).manual_seed(child)
        real = Ctx(ctx.trials, g2, ctx.level, None, "real", ctx.device)
        if kind == "norm":
            widths, x = [32, 64, 48, 64, 64], torch.ones(1, 32, dtype=torch.float64)
        else:
            widths = [40, 128, 96, 128]
            x = sample_inputs(40, 4, correlation=0.7, generator=ctx.gen, device=ctx.device)
        fast = Ctx(ctx.trials, ctx.gen, ctx.level, ctx.progress, kind, ctx.device)
        a = fast.sample(widths, x, fan="in", last_gram=kind == "gram")
        b = real.sample(widths, x, fan="in", last_gram=kind == "gram")
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
        ok = pmin >= 1.0 - per
        what = "final norm" if kind == "norm" else "4 final norms and 6 pairwise cosines"
        return ClaimResult(f"sampler_{kind}_vs_real", "identity", 0.0, dmax, (0.0, crit),
                           "pass" if ok else "FAIL", "derived (THEORY §2, §9)",
                           f"two-sample KS, {kind} sampler vs real networks, widths {widths}: "
                           f"{what}; smallest p-value {pmin:.3g}", ctx.trials, path=f"{kind}+real")
    return run


# --- neuron death (RR20; THEORY §7) ----------------------------------------------------------------
_DEATH_WIDTHS = (2, 3, 2, 4)


def _death_point(ctx):
    from ..bounds.death import liveness

    w = _DEATH_WIDTHS
    s = ctx.sample([5, *w], torch.ones(1, 5, dtype=torch.float64), fan="in")
    alive = s.sq_ratio[:, -1, 0] > 0
    k, T = int(alive.sum()), len(alive)
    a, b = stats.clopper_pearson(k, T, ctx.level)
    th = liveness(w).p_alive_point
    return ClaimResult("death_point", "identity", th, k / T, (a, b), "pass" if a <= th <= b else "FAIL",
                       "derived (RR20 claim; THEORY §7)", f"P(x alive) = Π(1 − 2^-n_l), widths {list(w)}", T)


def _death_set(ctx):
    from ..bounds.death import liveness

    from .death import sample_alive_on_set

    w, m, n0 = (3, 3, 3), 8, 5
    data = torch.randn(m, n0, generator=ctx.gen, dtype=torch.float64)
    alive = sample_alive_on_set(w, data, ctx.trials, generator=ctx.gen).any(axis=1)
    k, T = int(alive.sum()), len(alive)
    a, b = stats.clopper_pearson(k, T, ctx.level)
    lv = liveness(w)
    ok = b >= lv.lower and a <= lv.upper
    return ClaimResult("death_set_bounds", "bounds", lv.lower, k / T, (a, b), "pass" if ok else "FAIL",
                       "derived (RR20 claim; THEORY §7)",
                       f"lower {lv.lower:.4f} ≤ P(alive on S) ≤ upper {lv.upper:.6f}; {m} Gaussian points "
                       f"in R^{n0}, widths {list(w)}", T, path="real")


def _death_orthant(ctx):
    from ..bounds.death import liveness

    from .death import sample_alive_on_set

    n, n0 = 2, 3
    data = torch.eye(n0, dtype=torch.float64)    # the basis spans the orthant's extreme rays
    alive = sample_alive_on_set((n,), data, ctx.trials, generator=ctx.gen).any(axis=1)
    k, T = int(alive.sum()), len(alive)
    a, b = stats.clopper_pearson(k, T, ctx.level)
    th = liveness((n,), input_dim=n0).upper      # 1 − 2^{-n n0}
    return ClaimResult("death_orthant_one_layer", "identity", th, k / T, (a, b),
                       "pass" if a <= th <= b else "FAIL", "derived (RR20 claim; THEORY §7)",
                       f"one layer of {n} on the {n0} basis vectors: 1 − 2^-{n * n0}", T, path="real")


def _sign_flip(ctx):
    from .death import make_mlp
    from .death import sign_flip_

    depth, width, m = 8, 3, 200
    T = min(ctx.trials, 300)
    data = torch.randn(m, 6, generator=ctx.gen, dtype=torch.float64)
    mins, means = {}, {}
    for mode in ("layer", "unit", "greedy"):
        fr = []
        for _ in range(T):
            model = make_mlp(6, [width] * depth, 2, generator=ctx.gen)
            before = [p.detach().abs().clone() for p in model.parameters()]
            rep = sign_flip_(model, data, mode=mode)
            if not all(torch.equal(b, p.detach().abs()) for b, p in zip(before, model.parameters())):
                raise AssertionError("sign flip changed a magnitude")
            fr.append(rep.living_fraction[-1])
        mins[mode], means[mode] = min(fr), float(np.mean(fr))
    g = 2.0 ** -depth
    worst = min(mins.values())
    return ClaimResult("sign_flip_guarantee", "lower_bound", g, worst, (worst, max(means.values())),
                       "pass" if worst >= g else "FAIL", "paper claim (RR20), proof derived",
                       f"depth {depth}, width {width}, {m} points; min/mean living fraction: " +
                       ", ".join(f"{k} {mins[k]:.3f}/{means[k]:.3f}" for k in mins) +
                       f" (guarantee 2^-{depth} = {g:.4f})", T, path="real")


def _direction(ctx):
    from .death import direction_spread

    depths = [1, 4, 16]
    d = direction_spread(8, depths, 64, ctx.trials, generator=ctx.gen)
    d1, dk = d[:, 0], d[:, -1]
    ok_rows = ~np.isnan(d1) & ~np.isnan(dk)
    diff = d1[ok_rows] - dk[ok_rows]
    m, lo, hi = stats.mean_ci(diff, ctx.level)
    return ClaimResult("direction_spread", "trend", 0.0, m, (lo, hi), "pass" if lo > 0 else "FAIL",
                       "derived (RR20 v2 assumption; THEORY §7)",
                       f"D_1 − D_16 (width 8, 64 points): D falls with depth; mean D at depths {depths}: " +
                       ", ".join(f"{np.nanmean(d[:, i]):.3f}" for i in range(len(depths))), int(ok_rows.sum()),
                       path="real")


def _digits(ctx):
    from .death import digits_liveness

    r = digits_liveness(depth=20, width=3, trials=8, seed=int(torch.randint(0, 2**31, (1,), generator=ctx.gen)))
    best = max(("layer", "unit", "greedy"), key=lambda k: r[k]["mean"])
    ok = min(r[k]["min"] for k in ("layer", "unit", "greedy")) >= r["guarantee"]
    return ClaimResult("death_digits", "measurement", r["guarantee"], r[best]["mean"],
                       (min(r[k]["min"] for k in ("layer", "unit", "greedy")), r[best]["mean"]),
                       "pass" if ok else "FAIL", "measured (RR20 scheme on scikit-learn digits)",
                       f"1797 digits through 20 layers of width 3: living fraction He {r['he']['mean']:.3f}, "
                       f"layer {r['layer']['mean']:.3f}, unit {r['unit']['mean']:.3f}, greedy "
                       f"{r['greedy']['mean']:.3f} (means over {r['trials']} nets)", r["trials"], path="real")


# --- fractional-moment-preserving init (GH21; THEORY §4) ---------------------------------------
_MOMENT_ACTS = {"relu": {}, "leaky": {"slope": 0.3}, "rrelu": {"lower": 1 / 8, "upper": 1 / 3}, "linear": {}}


def _moment_claim(kind):
    def run(ctx):
        from ..bounds.moments import activation, sigma2

        s, d = 1.0, 64
        a = activation(kind, **_MOMENT_ACTS[kind])
        v = sigma2(a, d, s)
        x = torch.ones(1, d, dtype=torch.float64)
        smp = ctx.sample([d, d], x, fan="out", act=a, weight_var=[v])
        r = smp.sq_ratio[:, 0, 0] ** (s / 2)
        m, lo, hi = stats.mean_ci(r, ctx.level)
        return ClaimResult(f"moment_{kind}", "identity", 1.0, m, (lo, hi),
                           "pass" if lo <= 1.0 <= hi else "FAIL", "derived (GH21 claim; THEORY §4)",
                           f"E(‖h₁‖/‖x‖)^s = 1 with σ_s² = {v:.10g} ({a.label()}, s = {s:g}, d = {d}; "
                           "one layer: higher depths are heavy-tailed, THEORY's testing caution)", len(r))
    return run


def _lognorm(ctx):
    from ..bounds.moments import activation, log_norm_params, sigma2

    s, d, k = 1.0, 64, 20
    a = activation("relu")
    v = sigma2(a, d, s)
    smp = ctx.sample([d] * (k + 1), torch.ones(1, d, dtype=torch.float64), fan="out", weight_var=[v] * k)
    last = smp.sq_ratio[:, -1, 0]
    alive = last > 0
    y = 0.5 * np.log(last[alive])
    ln = log_norm_params(a, d, s, k)
    level = stats.bonferroni(ctx.level, 2)
    m, lo, hi = stats.mean_ci(y, level)
    m2, lo2, hi2 = stats.mean_ci((y - ln.mean_at_depth) ** 2, level)
    ok = lo <= ln.mean_at_depth <= hi and lo2 <= ln.var_at_depth <= hi2
    return ClaimResult("lognorm_depth", "identity", ln.mean_at_depth, m, (lo, hi), "pass" if ok else "FAIL",
                       "derived (GH21 claim; THEORY §4)",
                       f"log(‖h_k‖/‖x‖) at depth {k}, ReLU d = {d}, s = {s:g}: mean kμ_s = {ln.mean_at_depth:.5f}; "
                       f"variance kς² = {ln.var_at_depth:.5f} vs {m2:.5f} [{lo2:.5f}, {hi2:.5f}]", int(alive.sum()))


def _small_output(ctx):
    from ..bounds.moments import activation, p_small_output, sigma2

    d, k, t = 64, 20, 0.3
    a = activation("relu")
    so = p_small_output(a, d, 1.0, k, t)
    level = stats.bonferroni(ctx.level, 2)
    est, cis, oks = [], [], []
    for s, th in ((1.0, so.p_exact), (2.0, so.p_exact_he)):
        v = sigma2(a, d, s)
        smp = ctx.sample([d] * (k + 1), torch.ones(1, d, dtype=torch.float64), fan="out", weight_var=[v] * k)
        hit = smp.sq_ratio[:, -1, 0] <= t * t
        kk, T = int(hit.sum()), len(hit)
        lo, hi = stats.clopper_pearson(kk, T, level)
        est.append(kk / T)
        cis.append((lo, hi))
        oks.append(lo - so.tolerance <= th <= hi + so.tolerance)
    return ClaimResult("small_output_relu", "identity", so.p_exact, est[0], cis[0],
                       "pass" if all(oks) else "FAIL", "derived (GH21 claim; THEORY §4)",
                       f"P(‖h_k‖ ≤ {t}‖x‖), ReLU d = {d}, k = {k}: s = 1 exact {so.p_exact:.5f} vs "
                       f"{est[0]:.5f}; He exact {so.p_exact_he:.5f} vs {est[1]:.5f} [{cis[1][0]:.4f}, "
                       f"{cis[1][1]:.4f}] (s < 2 avoids small outputs)", ctx.trials)


def _tail_index(ctx):
    from ..bounds.moments import activation

    from .moments import hill_bootstrap, sample_biased_chain

    s, d, depth = 1.0, 4, 200
    x = sample_biased_chain(activation("relu"), d, s, depth, ctx.trials, generator=ctx.gen)
    kk = max(50, ctx.trials // 30)
    seed = int(torch.randint(0, 2**31, (1,), generator=ctx.gen))
    est, lo, hi = hill_bootstrap(x, kk, rng=np.random.default_rng(seed), level=ctx.level, resamples=300)
    return ClaimResult("tail_index", "approximation", s, est, (lo, hi), "gap",
                       "derived (GH21 claim; Kesten's condition)",
                       f"Hill estimator (top {kk} of {ctx.trials}) of ‖x_L‖ for biased ReLU chains x_l = "
                       f"σ_s relu(W x) + b, width {d}, {depth} layers, s = {s:g}: predicted tail index s "
                       "(Hill's estimator is biased at finite k)", ctx.trials, path="real")


def _lognorm_law(ctx):
    from ..bounds.band import product_law
    from ..bounds.moments import activation, sigma2

    s, d, k = 1.0, 64, 20
    v = sigma2(activation("relu"), d, s)
    law = product_law([d] * k)
    tol = law.tolerance
    smp = ctx.sample([d] * (k + 1), torch.ones(1, d, dtype=torch.float64), fan="out", weight_var=[v] * k)
    # log(‖h_k‖²/‖x‖²) = k log(σ² d/2) + log Π ρ_j: test the simulated log Π against the exact law
    y = np.log(smp.sq_ratio[:, -1, 0]) - k * math.log(v * d / 2)
    stat, p = stats.ks_test(y, law.log_cdf_at)
    crit = stats.ks_critical(len(y), ctx.level) + tol
    return ClaimResult("lognorm_law_ks", "identity", 0.0, stat, (0.0, crit), "pass" if stat <= crit else "FAIL",
                       "derived (THEORY §2, §4)",
                       f"KS distance between simulated log‖h_{k}‖ (ReLU d = {d}, σ_s, s = {s:g}) and the "
                       f"exact product law (grid tolerance {tol:.1e}); p-value {p:.3g}", len(y))


# --- length variance, Jacobians, residual nets (HR18, H18; THEORY §5) ---------------------------
#: β = Σ 1/n_j designs for the law claims: (width, depth) with β = depth/width.
_LAW_DESIGNS = {"0.1": (100, 10), "1": (10, 10), "5": (8, 40)}


def _length_law_claim(beta):
    def run(ctx):
        from ..bounds.variance import length_law

        n, L = _LAW_DESIGNS[beta]
        law = length_law([n] * L)
        smp = ctx.sample([n] * (L + 1), torch.ones(1, n, dtype=torch.float64), fan="in")
        r = smp.sq_ratio[:, -1, 0]                      # = M_L/M_0 at equal widths
        alive = r > 0
        level = stats.bonferroni(ctx.level, 2)
        # the atom (dead inputs) by Clopper–Pearson, the law given alive by KS
        k = int((~alive).sum())
        lo, hi = stats.clopper_pearson(k, len(r), level)
        pd = law.p_dead
        cond = lambda t: (law.law.log_cdf_at(t) - pd) / (1.0 - pd)   # noqa: E731
        stat, p = stats.ks_test(np.log(r[alive]), cond)
        crit = stats.ks_critical(int(alive.sum()), level) + law.tolerance / (1.0 - pd)
        ok = stat <= crit and lo <= pd <= hi
        return ClaimResult(f"length_law_beta{beta.replace('.', '')}_ks", "identity", 0.0, stat, (0.0, crit),
                           "pass" if ok else "FAIL", "derived (THEORY §2, §5; HR18's FM2)",
                           f"log(M_d/M_0) at width {n}, depth {L} (β = {L / n:g}): KS distance {stat:.4f} vs "
                           f"critical {crit:.4f} (p = {p:.3g}); P(dead) exact {pd:.4g} vs {k / len(r):.4g} "
                           f"[{lo:.4g}, {hi:.4g}]; P(off by > 2×) exact {law.p_off_by(2.0):.4f}", len(r))
    return run


def _fm2_moment(ctx):
    from ..bounds.variance import length_moments

    widths = [32, 32, 24, 40]          # β ≈ 0.097: moments are estimable (THEORY's caution)
    smp = ctx.sample(widths, torch.ones(1, 32, dtype=torch.float64), fan="in")
    m = smp.sq_ratio[:, -1, 0] * widths[0] / widths[-1]
    th = length_moments(widths[1:])
    est, lo, hi = stats.mean_ci(m**2, ctx.level)
    return ClaimResult("fm2_second_moment", "identity", th.second_moment_ratio, est, (lo, hi),
                       "pass" if lo <= th.second_moment_ratio <= hi else "FAIL", "derived (HR18 claim; THEORY §5)",
                       f"E M_d²/M_0² = Π(1 + 5/n_j) at widths {widths} (β = {th.beta:.3f})", len(m))


def _fm1_bias(ctx):
    from ..bounds.variance import length_moments

    from .variance import sample_lengths

    widths, cases = [16, 16, 16, 16, 16], ((2.0, 0.5), (1.5, 1.0), (2.5, 0.2))
    level = stats.bonferroni(ctx.level, len(cases))
    oks, parts, first = [], [], None
    for c, s2 in cases:
        m = sample_lengths(widths, torch.ones(16), ctx.trials, weight_var=c, bias_var=s2, generator=ctx.gen)[:, -1]
        th = length_moments(widths[1:], weight_var=c, bias_var=s2)
        est, lo, hi = stats.mean_ci(m, level)
        oks.append(lo <= th.mean_with_bias <= hi)
        parts.append(f"c = {c:g}, s² = {s2:g}: {th.mean_with_bias:.5f} vs {est:.5f} [{lo:.5f}, {hi:.5f}] ({th.fm1})")
        first = first or (th.mean_with_bias, est, (lo, hi))
    return ClaimResult("fm1_bias", "identity", first[0], first[1], first[2], "pass" if all(oks) else "FAIL",
                       "derived (HR18 claim; THEORY §5)",
                       "E M_d (M_0 = 1) with biases, 4 layers of width 16: " + "; ".join(parts), ctx.trials, path="real")


def _jacobian(ctx):
    from ..bounds.variance import jacobian_moments

    from .variance import sample_jacobian_entry

    n0, hidden = 8, [16, 16, 16]
    level = stats.bonferroni(ctx.level, 4)
    oks, parts, first = [], [], None
    for out in ("linear", "relu"):
        z = sample_jacobian_entry(n0, hidden, ctx.trials, output=out, generator=ctx.gen)
        th = jacobian_moments(n0, hidden, output=out)
        e2, lo2, hi2 = stats.mean_ci(z**2, level)
        e4, lo4, hi4 = stats.mean_ci(z**4, level)
        oks += [lo2 <= th.second <= hi2, lo4 <= th.fourth <= hi4]
        parts.append(f"{out} output: E Z² = {th.second:.5f} vs {e2:.5f} [{lo2:.5f}, {hi2:.5f}], E Z⁴ = "
                     f"{th.fourth:.5f} vs {e4:.5f} [{lo4:.5f}, {hi4:.5f}] (ratio {th.ratio:.4f})")
        first = first or (th.fourth, e4, (lo4, hi4))
    return ClaimResult("jacobian_moments", "identity", first[0], first[1], first[2], "pass" if all(oks) else "FAIL",
                       "derived (H18 claim; THEORY §5)",
                       f"n0 = {n0}, hidden {hidden}, output variance c/n with c = 1: " + "; ".join(parts),
                       ctx.trials, path="real")


def _residual(ctx):
    from ..bounds.resnet import residual_growth

    from .resnet import sample_residual

    B, n, m, eta = 20, 16, 16, 0.5
    scheds = ("const", "inv", "invsqrt")
    level = stats.bonferroni(ctx.level, 2 * len(scheds))
    oks, parts, first = [], [], None
    for sc in scheds:
        r = sample_residual(B, n, m, eta, ctx.trials, schedule=sc, generator=ctx.gen)[:, -1]
        g = residual_growth(B, n, m, eta, schedule=sc)
        th1, th2 = math.exp(g["log_mean"][-1]), math.exp(g["log_second"][-1])
        e1, lo1, hi1 = stats.mean_ci(r, level)
        e2, lo2, hi2 = stats.mean_ci(r**2, level)
        oks += [lo1 <= th1 <= hi1, lo2 <= th2 <= hi2]
        parts.append(f"{sc}: E = {th1:.4g} vs {e1:.4g} [{lo1:.4g}, {hi1:.4g}], E² = {th2:.4g} vs {e2:.4g}")
        first = first or (th1, e1, (lo1, hi1))
    return ClaimResult("residual_growth", "identity", first[0], first[1], first[2], "pass" if all(oks) else "FAIL",
                       "derived (HR18 claim; THEORY §5)",
                       f"‖x_B‖²/‖x_0‖² after {B} blocks (n = m = {n}, η = {eta}): " + "; ".join(parts),
                       ctx.trials, path="real")


def _nongaussian(ctx):
    from ..bounds.variance import second_moment

    from .variance import sample_lengths

    n0, hidden = 8, [16, 16, 16]
    x = torch.zeros(n0)
    x[0] = math.sqrt(n0)               # a spiky input (q = 1): the weight kurtosis matters most
    laws = ("uniform", "rademacher", "laplace")
    level = stats.bonferroni(ctx.level, len(laws))
    oks, parts, first = [], [], None
    for law in laws:
        m = sample_lengths([n0, *hidden], x, ctx.trials, weights=law, generator=ctx.gen)[:, -1]
        th = second_moment(hidden, input_dim=n0, weights=law, input_flatness=1.0).second_moment
        est, lo, hi = stats.mean_ci(m**2, level)
        oks.append(lo <= th <= hi)
        parts.append(f"{law}: {th:.4f} vs {est:.4f} [{lo:.4f}, {hi:.4f}]")
        first = first or (th, est, (lo, hi))
    gauss = second_moment(hidden, input_dim=n0).second_moment
    return ClaimResult("nongaussian_second_moment", "identity", first[0], first[1], first[2],
                       "pass" if all(oks) else "FAIL", "derived (THEORY §5: depends on κ_w − 3 and the input)",
                       f"E M_d²/M_0² (He fan-in, n0 = {n0}, hidden {hidden}, x = √n0·e_1; Gaussian "
                       f"{gauss:.4f}): " + "; ".join(parts), ctx.trials, path="real")


CLAIMS: dict[str, Claim] = {}


def _register(name, kind, description, source, run, default_trials=4000):
    CLAIMS[name] = Claim(name, kind, description, source, run, default_trials)


_register("rho_mean", "identity", "E ρ = 1", "derived", _rho_mean, 50000)
_register("rho_var", "identity", "Var ρ = 5/n", "derived", _rho_var, 50000)
_register("rho_cdf_ks", "identity", "exact CDF of ρ vs simulation (KS)", "derived", _rho_cdf, 50000)
_register("p_stay", "identity", "exact p_stay vs simulated frequency", "derived", _band_claim("all"), 50000)
_register("p_last", "identity", "exact p_last vs simulated frequency", "derived", _band_claim("last"), 50000)
for _m in METHODS:
    _register(f"width_{_m}", "paper_bound" if _m == "authors_formula" else "upper_bound",
              f"P(some of N inputs fails) at the {_m} width ≤ δ", SOURCES[_m], _width_claim(_m), 10000)
_register("sampler_norm_vs_real", "identity", "norm-only sampler = real networks (KS)", "derived",
          _equivalence("norm"), 4000)
_register("sampler_gram_vs_real", "identity", "Gram sampler = real networks (KS, norms and cosines)",
          "derived", _equivalence("gram"), 3000)
_register("death_point", "identity", "P(x alive) = Π(1 − 2^-n_l)", "derived", _death_point, 50000)
_register("death_set_bounds", "bounds", "lower ≤ P(alive on S) ≤ upper", "derived", _death_set, 20000)
_register("death_orthant_one_layer", "identity", "one layer on the orthant: 1 − 2^-(n n0)", "derived",
          _death_orthant, 50000)
_register("sign_flip_guarantee", "lower_bound", "living fraction after sign flips ≥ 2^-k", "paper",
          _sign_flip, 60)
_register("direction_spread", "trend", "D_k falls with depth", "derived", _direction, 2000)
_register("death_digits", "measurement", "sign flips on real data (digits)", "measured", _digits, 8)
for _k in _MOMENT_ACTS:
    _register(f"moment_{_k}", "identity", f"σ_s preserves E‖h‖^s ({_k})", "derived", _moment_claim(_k), 20000)
_register("lognorm_depth", "identity", "log-norm mean kμ_s and variance kς² at depth k", "derived",
          _lognorm, 50000)
_register("lognorm_law_ks", "identity", "exact law of log‖h_k‖ vs simulation (KS)", "derived",
          _lognorm_law, 50000)
for _b in _LAW_DESIGNS:
    _register(f"length_law_beta{_b.replace('.', '')}_ks", "identity", f"exact law of M_d/M_0 at β = {_b} (KS + atom)",
              "derived", _length_law_claim(_b), 20000)
_register("fm2_second_moment", "identity", "E M_d²/M_0² = Π(1 + 5/n_j) (β ≈ 0.1)", "derived", _fm2_moment, 50000)
_register("fm1_bias", "identity", "E M_d with biases and c ≠ 2 (FM1)", "derived", _fm1_bias, 20000)
_register("jacobian_moments", "identity", "E Z², E Z⁴ of the input–output Jacobian (H18)", "derived", _jacobian, 40000)
_register("residual_growth", "identity", "E‖x_B‖², E‖x_B‖⁴ for const, 1/b, 1/√b schedules", "derived",
          _residual, 6000)
_register("nongaussian_second_moment", "identity", "E M_d² for uniform, Rademacher, Laplace weights", "derived",
          _nongaussian, 30000)
_register("small_output_relu", "identity", "exact P(small output) under σ_s and He", "derived",
          _small_output, 50000)
_register("tail_index", "approximation", "tail index of biased chains = s (Hill)", "derived",
          _tail_index, 12000)
_register("gradient_independence", "approximation",
          "weight-gradient norms vs the independence approximation", "derived", _gradient, 4000)

# --- activation regions (HR19; THEORY §6) ---
from .regions import (claim_regions_crofton_deep, claim_regions_depth_flat,  # noqa: E402
                      claim_regions_first_layer_1d, claim_regions_one_layer_2d)

_register("regions_first_layer_1d", "identity", "first-layer breakpoints along a segment = n·θ/π", "derived",
          claim_regions_first_layer_1d, 20000)
_register("regions_crofton_deep", "identity", "deeper layers' breakpoints = n_l/π × lifted angular length (Crofton)",
          "derived", claim_regions_crofton_deep, 20000)
_register("regions_one_layer_2d", "identity", "one layer, 2-D window: 1 + n·P_line + C(n,2)·P_pair (grid never above)",
          "derived", claim_regions_one_layer_2d, 20000)
_register("regions_depth_flat", "paper_bound", "regions at fixed #neurons do not grow with depth (HR19)", "paper",
          claim_regions_depth_flat, 2000)


def run_claims(names=None, *, trials: int | None = None, seed: int = 0, alpha: float = 1e-3,
               progress=None, path: str = "auto", device: str = "cpu") -> list[ClaimResult]:
    """Run claims (all by default) with explicit generators derived from ``seed``.

    ``trials`` overrides each claim's default number of simulated networks. ``alpha`` is the
    family-wise error level; each claim uses confidence level 1 − alpha/m (Bonferroni).
    ``path="real"`` forces real networks everywhere (default: the fastest exact sampler, which
    the ``sampler_*_vs_real`` claims check against real networks). ``device`` is a torch device.
    ``progress(name, done, total)`` is called as simulations advance.
    """
    from ..bounds.errors import DomainError, check_choice

    names = list(CLAIMS) if not names else list(names)
    unknown = [n for n in names if n not in CLAIMS]
    if unknown:
        raise DomainError(f"unknown claim {unknown[0]!r}; valid claims: {', '.join(CLAIMS)}")
    check_choice("path", path, ("auto", "real"))
    level = stats.bonferroni(1.0 - alpha, len(names))
    out = []
    for name in names:
        c = CLAIMS[name]
        gen = torch.Generator(device=device).manual_seed(seed + sum(map(ord, name)))
        cb = (lambda done, total, _n=name: progress(_n, done, total)) if progress else None
        ctx = Ctx(trials or c.default_trials, gen, level, cb, path, device)
        t0 = time.perf_counter()
        res = c.run(ctx)
        used = res.path or "+".join(dict.fromkeys(ctx.paths_used))
        out.append(ClaimResult(**{**res.__dict__, "seconds": time.perf_counter() - t0, "path": used}))
    return out
