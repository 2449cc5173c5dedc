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
from typing import Callable

import numpy as np
import torch

from bounds import rho
from bounds.band import band_for_eps, band_probability
from bounds.width import METHODS, SOURCES, min_width

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

    @property
    def toolkit_failure(self) -> bool:
        return self.verdict == "FAIL"

    def as_dict(self) -> dict:
        return {
            "name": self.name, "kind": self.kind, "theory": self.theory,
            "estimate": self.estimate, "ci": list(self.ci), "verdict": self.verdict,
            "source": self.source, "detail": self.detail, "trials": self.trials,
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True)
class Claim:
    name: str
    kind: str
    description: str
    source: str
    run: Callable = field(repr=False)   # run(trials, generator, level, progress) -> ClaimResult
    default_trials: int = 4000


def _trials_for(trials: int, widths, inputs: int = 1) -> int:
    per_net = sum(a * b for a, b in zip(widths[:-1], widths[1:]))
    return int(max(50, min(trials, _WEIGHT_BUDGET // max(per_net, 1))))


def _ratio_sample(width, trials, gen, progress, depth=1, dtype=torch.float64):
    x = torch.ones(1, width, dtype=dtype)
    return sample_networks([width] * (depth + 1), x, trials, fan="out", generator=gen,
                           progress=progress, dtype=dtype)


# --- one-layer law -----------------------------------------------------------------------------
def _rho_mean(trials, gen, level, progress):
    n = 64
    s = _ratio_sample(n, trials, gen, progress)
    x = s.layer_ratio[:, 0, 0]
    m, lo, hi = stats.mean_ci(x, level)
    ok = lo <= 1.0 <= hi
    return ClaimResult("rho_mean", "identity", 1.0, m, (lo, hi), "pass" if ok else "FAIL",
                       "derived (THEORY §2)", f"E ρ = 1 at width {n}", len(x))


def _rho_var(trials, gen, level, progress):
    n = 64
    s = _ratio_sample(n, trials, gen, progress)
    d2 = (s.layer_ratio[:, 0, 0] - 1.0) ** 2
    m, lo, hi = stats.mean_ci(d2, level)
    th = 5.0 / n
    ok = lo <= th <= hi
    return ClaimResult("rho_var", "identity", th, m, (lo, hi), "pass" if ok else "FAIL",
                       "derived (THEORY §2)", f"Var ρ = 5/n at width {n}", len(d2))


def _rho_cdf(trials, gen, level, progress):
    n = 16
    s = _ratio_sample(n, trials, gen, progress)
    x = s.layer_ratio[:, 0, 0]
    stat, pval = stats.ks_test(x, lambda r: rho.cdf(n, np.maximum(r, 0.0)))
    crit = stats.ks_critical(len(x), level)
    ok = stat <= crit
    return ClaimResult("rho_cdf_ks", "identity", 0.0, float(stat), (0.0, crit),
                       "pass" if ok else "FAIL", "derived (THEORY §2)",
                       f"KS distance to the exact CDF at width {n} (interval: [0, critical "
                       f"distance]); p-value {pval:.3g}", len(x))


# --- band probabilities ------------------------------------------------------------------------
_BAND = {"width": 64, "depth": 8, "eps": 0.5}


def _band_claim(layers):
    def run(trials, gen, level, progress):
        n, L, eps = _BAND["width"], _BAND["depth"], _BAND["eps"]
        lo, hi = band_for_eps(eps, "squared")
        exact = band_probability(n, L, lo, hi, layers=layers, rtol=1e-6)
        s = _ratio_sample(n, trials, gen, progress, depth=L, dtype=torch.float32)
        r = s.sq_ratio[:, :, 0]
        inside = (r >= lo) & (r <= hi)
        hit = inside.all(axis=1) if layers == "all" else inside[:, -1]
        k, T = int(hit.sum()), len(hit)
        a, b = stats.clopper_pearson(k, T, level)
        ok = a - exact.tolerance <= exact.p_in <= b + exact.tolerance
        name = "p_stay" if layers == "all" else "p_last"
        return ClaimResult(name, "identity", exact.p_in, k / T, (a, b), "pass" if ok else "FAIL",
                           "derived (THEORY §3.3)",
                           f"width {n}, depth {L}, ε = {eps}; numerical tolerance {exact.tolerance:.1e}", T)
    return run


# --- width methods: simulated failure probability at each method's width ------------------------
def _width_claim(method):
    def run(trials, gen, level, progress):
        d = VALIDATE_DESIGN
        L, N, delta, eps = d["depth"], d["samples"], d["delta"], d["eps"]
        n = min_width(method, L, N, delta, eps).min_width
        widths = [n] * (L + 1)
        T = _trials_for(trials, widths, N)
        x = sample_inputs(n, N, correlation=d["correlation"], generator=gen, dtype=torch.float32)
        s = sample_networks(widths, x, T, fan="out", generator=gen, progress=progress,
                            dtype=torch.float32)
        lo, hi = band_for_eps(eps, "squared")
        r = s.sq_ratio
        fail = ~((r >= lo) & (r <= hi)).all(axis=(1, 2))
        k = int(fail.sum())
        a, b = stats.clopper_pearson(k, T, level)
        violated = a > delta          # simulated failure probability significantly above δ
        paper = method == "authors_formula"
        verdict = ("violated" if violated else "pass") if paper else ("FAIL" if violated else "pass")
        return ClaimResult(f"width_{method}", "paper_bound" if paper else "upper_bound", delta,
                           k / T, (a, b), verdict, SOURCES[method],
                           f"width {n}: P(some of N={N} inputs leaves the ε={eps} band in "
                           f"{L} layers) vs δ = {delta}", T)
    return run


# --- gradient side (ii): the independence approximation ---------------------------------------
def _gradient(trials, gen, level, progress):
    n, L = 64, 4
    x = torch.ones(1, n, dtype=torch.float64)
    s = sample_networks([n] * (L + 1), x, trials, fan="in", generator=gen, grads=True,
                        progress=progress)
    g = s.grad_ratio[:, :, 0]                         # (T, L)
    # independence approximation: G_l is a product of L − 1 independent ρ's, E G² = (1 + 5/n)^{L−1}
    th = (1.0 + 5.0 / n) ** (L - 1)
    m, lo, hi = stats.mean_ci((g**2).mean(axis=1), level)
    gap = m / th - 1.0
    return ClaimResult("gradient_independence", "approximation", th, m, (lo, hi), "gap",
                       "derived (AB19 property ii, independence approximation)",
                       f"mean over layers of E G_l² at width {n}, depth {L}; relative gap "
                       f"{gap:+.4f} (O(1/n) = {1.0 / n:.4f} per layer expected)", len(g))


CLAIMS: dict[str, Claim] = {}


def _register(name, kind, description, source, run, default_trials=4000):
    CLAIMS[name] = Claim(name, kind, description, source, run, default_trials)


_register("rho_mean", "identity", "E ρ = 1", "derived", _rho_mean, 20000)
_register("rho_var", "identity", "Var ρ = 5/n", "derived", _rho_var, 20000)
_register("rho_cdf_ks", "identity", "exact CDF of ρ vs simulation (KS)", "derived", _rho_cdf, 20000)
_register("p_stay", "identity", "exact p_stay vs simulated frequency", "derived", _band_claim("all"), 20000)
_register("p_last", "identity", "exact p_last vs simulated frequency", "derived", _band_claim("last"), 20000)
for _m in METHODS:
    _register(f"width_{_m}", "paper_bound" if _m == "authors_formula" else "upper_bound",
              f"P(some of N inputs fails) at the {_m} width ≤ δ", SOURCES[_m], _width_claim(_m), 1000)
_register("gradient_independence", "approximation",
          "weight-gradient norms vs the independence approximation", "derived", _gradient, 4000)


def run_claims(names=None, *, trials: int | None = None, seed: int = 0, alpha: float = 1e-3,
               progress=None) -> list[ClaimResult]:
    """Run claims (all by default) with one explicit generator seeded by ``seed``.

    ``trials`` overrides each claim's default number of simulated networks. ``alpha`` is the
    family-wise error level; each claim uses confidence level 1 − alpha/m (Bonferroni).
    ``progress(name, done, total)`` is called as simulations advance.
    """
    names = list(CLAIMS) if not names else list(names)
    unknown = [n for n in names if n not in CLAIMS]
    if unknown:
        from bounds.errors import DomainError
        raise DomainError(f"unknown claim {unknown[0]!r}; valid claims: {', '.join(CLAIMS)}")
    level = stats.bonferroni(1.0 - alpha, len(names))
    out = []
    for name in names:
        c = CLAIMS[name]
        gen = torch.Generator().manual_seed(seed + sum(map(ord, name)))
        cb = (lambda done, total, _n=name: progress(_n, done, total)) if progress else None
        t0 = time.perf_counter()
        res = c.run(trials or c.default_trials, gen, level, cb)
        out.append(_with_time(res, time.perf_counter() - t0))
    return out


def _with_time(r: ClaimResult, seconds: float) -> ClaimResult:
    return ClaimResult(**{**r.__dict__, "seconds": seconds})
