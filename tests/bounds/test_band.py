"""Exact band probabilities of the product walk Π_l = ρ_1⋯ρ_l (docs/theory.md §3).

Identities (depth 1 is the one-layer law), orderings (p_last ≥ p_stay), the reported tolerance
against an independent finer-grid reference, relative accuracy of tiny failure probabilities,
monotonicity in width, and a Monte Carlo check with an exact sampler of ρ.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import example, given, settings, strategies as st
from scipy import stats

from initbounds.bounds import rho
from initbounds.bounds.band import BandResult, band_for_eps, band_probability
from initbounds.bounds.errors import DomainError

#: Level of every statistical decision in this file (the suite's shared α).
ALPHA = 1e-4


# --- depth 1 is the one-layer law ------------------------------------------------------------------


@pytest.mark.parametrize("n, eps", [(1, 0.5), (5, 0.5), (100, 0.2), (5000, 0.05), (10**6, 0.01)])
@pytest.mark.parametrize("layers", ["all", "last"])
def test_depth_one_is_the_one_layer_law(n, eps, layers):
    lo, hi = band_for_eps(eps, "squared")
    r = band_probability(n, 1, lo, hi, layers=layers)
    # the failure probability is the union of the two tails, computed in log space: exactly
    assert r.logp_fail == float(np.logaddexp(rho.log_cdf(n, lo), rho.log_sf(n, hi)))
    # and p_in = cdf(hi) − cdf(lo) up to the rounding of that subtraction and of cdf + sf = 1
    assert abs(r.p_in - float(rho.cdf(n, hi) - rho.cdf(n, lo))) <= 1e-14
    assert r.depth == 1 and r.width == n


# --- orderings and ranges -------------------------------------------------------------------------


# (issue 11: the two slow corners once listed here — width ≲ 20 with layers="last", and wide bands
# with p_fail < 1e-11 — are now inside the cost model; see tests/bounds/test_band_reference.py.)
@settings(max_examples=10, deadline=None)
@given(n=st.integers(30, 1000), L=st.integers(2, 6), eps=st.floats(0.1, 0.5),
       norm=st.sampled_from(["squared", "plain"]))
@example(n=30, L=6, eps=0.5, norm="plain").via("narrow layers, wide band")
@example(n=1000, L=6, eps=0.5, norm="plain").via("wide layers, wide band, tiny p_fail")
def test_p_last_at_least_p_stay_and_both_in_unit_interval(n, L, eps, norm):
    lo, hi = band_for_eps(eps, norm)
    s = band_probability(n, L, lo, hi, layers="all")
    t = band_probability(n, L, lo, hi, layers="last")
    for r in (s, t):
        assert isinstance(r, BandResult)
        assert 0.0 <= r.p_in <= 1.0 and 0.0 <= r.p_fail <= 1.0
        assert not math.isnan(r.logp_fail) and r.logp_fail <= 0.0
        assert r.tolerance >= 0.0
    # {stay in the band at every layer} ⊂ {end in the band}, up to the two numerical tolerances
    assert s.p_in <= t.p_in + s.tolerance + t.tolerance


# --- the reported tolerance is achieved -----------------------------------------------------------


def _richardson_reference(n, L, lo, hi, layers, cells):
    """Independent reference: the Richardson extrapolates of forced grids at and beyond the
    result's finest resolution.

    A forced ``cells`` runs the two levels (cells, 2·cells) and returns their extrapolate. The
    result's estimate extrapolates (cells/2, cells); the extrapolates (cells, 2·cells) and
    (2·cells, 4·cells) are sharper, and their difference bounds the reference's own error
    (O(h⁴) after one Richardson step, so it shrinks about 16× per level).
    """
    f1, f2 = (band_probability(n, L, lo, hi, layers=layers, cells=c * cells) for c in (1, 2))
    return f2.p_in, abs(f2.p_in - f1.p_in)


@pytest.mark.parametrize("n, L, eps", [(100, 5, 0.5), (2000, 10, 0.2)])
@pytest.mark.parametrize("layers", ["all", "last"])
def test_reported_tolerance_is_achieved(n, L, eps, layers):
    lo, hi = band_for_eps(eps, "squared")
    r = band_probability(n, L, lo, hi, layers=layers)
    ref, ref_err = _richardson_reference(n, L, lo, hi, layers, r.cells)
    assert ref_err <= 0.1 * r.tolerance           # the reference is 10× sharper than the claim
    assert abs(r.p_in - ref) <= r.tolerance - ref_err
    assert r.rel_tolerance == pytest.approx(r.tolerance / r.p_fail, rel=1e-12)


# --- tiny failure probabilities ------------------------------------------------------------------


def test_tiny_failure_probability_keeps_relative_accuracy():
    """p_fail ~ e^-51, far below what 1 − p_in could resolve; sandwiched by independent results.

    max_l P(Π_l ∉ band) ≤ P(∃l: Π_l ∉ band) ≤ Σ_l P(Π_l ∉ band), each P(Π_l ∉ band) computed by
    layers="last" at depth l, and P(Π_1 ∉ band) = cdf(lo) + sf(hi) exactly. (The brief's point
    n = 20000, L = 3, ε = 0.2 has p_fail = e^-25.7 ≈ 7e-12, not below 1e-16; ε = 0.3 is.)
    """
    n, L, eps = 20000, 3, 0.3
    lo, hi = band_for_eps(eps, "squared")
    r = band_probability(n, L, lo, hi)
    assert r.logp_fail < math.log(1e-16) - 10
    assert r.p_in == 1.0                          # 1 − p_fail rounds to 1: only log space helps
    per_depth = [band_probability(n, l, lo, hi, layers="last") for l in range(1, L + 1)]
    layer_one = float(np.logaddexp(rho.log_cdf(n, lo), rho.log_sf(n, hi)))
    assert per_depth[0].logp_fail == layer_one
    # the method's own claim: relative accuracy 1e-3 or better on every value used here
    for x in [r, *per_depth]:
        assert x.rel_tolerance <= 1e-3
    slack = math.log1p(1e-3)
    assert r.logp_fail >= layer_one
    assert r.logp_fail >= max(x.logp_fail for x in per_depth) - slack
    upper = float(np.logaddexp.reduce([x.logp_fail for x in per_depth]))
    assert r.logp_fail <= upper + slack


# --- monotone in width ----------------------------------------------------------------------------


@settings(max_examples=12, deadline=None)
@given(layers_n=st.one_of(st.tuples(st.just("all"), st.integers(1, 400)),
                          st.tuples(st.just("last"), st.integers(30, 400))),  # (see above)
       dn=st.integers(1, 200), L=st.integers(1, 4), eps=st.floats(0.2, 0.6))
@example(layers_n=("all", 1), dn=1, L=4, eps=0.6).via("width 1 → 2")
def test_failure_probability_decreases_in_width(layers_n, dn, L, eps):
    layers, n = layers_n
    lo, hi = band_for_eps(eps, "squared")
    a = band_probability(n, L, lo, hi, layers=layers)
    b = band_probability(n + dn, L, lo, hi, layers=layers)
    assert b.p_fail <= a.p_fail + a.tolerance + b.tolerance


def test_dead_input_atom_is_not_numerical_uncertainty():
    """Regression (reported by this suite): for layers="last" the atom of dead inputs (Π = 0 for
    ever, probability 1 − (1 − 2^-n)^L) was counted as numerical uncertainty (tolerance 0.4375 at
    n = 2, L = 2 on every grid); it is certain failure."""
    n, L = 2, 2
    r = band_probability(n, L, 0.9, 1.1, layers="last", cells=64)
    p_dead = -math.expm1(L * math.log1p(-(2.0**-n)))       # certain failure, not uncertainty
    assert r.tolerance < 0.01 * p_dead


# --- Monte Carlo with the exact sampler of ρ -----------------------------------------------------

#: Seed of the Monte Carlo test (written down so a failure can be reproduced; AB19's arXiv id).
SEED = 1901_03611


def test_band_probabilities_against_exact_sampling_of_rho():
    """p_stay and p_last at n = 200, L = 10, ε = 0.3 inside Clopper–Pearson intervals at α = 1e-4.

    ρ is sampled from its exact law: K ~ Bin(n, ½), ρ = (2/n)·χ²_K with χ²_K = 2·Gamma(K/2)
    (Gamma(0) = 0 gives the atom at K = 0). T = 200000 walks: the interval's half-width is at most
    z_{1−α/2}·√(¼/T) ≈ 3.9 × 0.0011 ≈ 0.0044, so an error of half a percentage point in either
    probability (e.g. an off-by-one layer, a wrong band edge, a missing atom) is detected, while
    the numerical tolerance of band_probability (~1e-7) is far below it. Sampling takes < 0.5 s.
    """
    n, L, eps, T = 200, 10, 0.3, 200_000
    lo, hi = band_for_eps(eps, "squared")
    rng = np.random.default_rng(SEED)
    K = rng.binomial(n, 0.5, size=(T, L))
    walk = np.cumprod((2.0 / n) * 2.0 * rng.standard_gamma(0.5 * K), axis=1)
    inside = (walk >= lo) & (walk <= hi)
    hits = {"all": int(inside.all(axis=1).sum()), "last": int(inside[:, -1].sum())}
    for layers, x in hits.items():
        p = band_probability(n, L, lo, hi, layers=layers).p_in
        low = stats.beta.ppf(ALPHA / 2, x, T - x + 1) if x > 0 else 0.0
        high = stats.beta.ppf(1 - ALPHA / 2, x + 1, T - x) if x < T else 1.0
        assert low <= p <= high, (layers, x / T, (low, high), p)


# --- arguments ------------------------------------------------------------------------------------


@pytest.mark.parametrize("call, msg", [
    (lambda: band_probability(0, 2, 0.9, 1.1), "width must be an integer ≥ 1; got 0"),
    (lambda: band_probability(10, 0, 0.9, 1.1), "depth must be an integer ≥ 1; got 0"),
    (lambda: band_probability(10, True, 0.9, 1.1), "depth must be an integer ≥ 1; got True"),
    (lambda: band_probability(10, 2, 1.0, 1.1), "lo must be in (0, 1); got 1.0"),
    (lambda: band_probability(10, 2, 0.9, 1.0), "hi must be in (1, inf); got 1.0"),
    (lambda: band_probability(10, 2, 0.9, float("nan")),
     "hi must be a real number in (1, inf); got nan"),
    (lambda: band_probability(10, 2, 0.9, 1.1, layers="some"),
     "layers must be one of 'all', 'last'; got 'some'"),
    (lambda: band_probability(10, 2, 0.9, 1.1, rtol=0), "rtol must be in (0, 1); got 0"),
    (lambda: band_probability(10, 2, 0.9, 1.1, cells=1), "cells must be an integer ≥ 2; got 1"),
    (lambda: band_for_eps(0, "squared"), "eps must be in (0, 1); got 0"),
    (lambda: band_for_eps(0.1, "sq"), "norm must be one of 'squared', 'plain'; got 'sq'"),
])
def test_bad_input_messages(call, msg):
    with pytest.raises(DomainError) as info:
        call()
    assert str(info.value) == msg


def test_plain_band_is_the_squared_band_of_the_norm():
    assert band_for_eps(0.25, "squared") == (0.75, 1.25)
    assert band_for_eps(0.25, "plain") == (0.75**2, 1.25**2)


def test_depth_one_is_the_one_layer_law_band_and_width():
    for n, eps in [(5, 0.5), (100, 0.2), (5000, 0.05)]:
        lo, hi = band_for_eps(eps, "squared")
        r = band_probability(n, 1, lo, hi)
        expect = float(rho.cdf(n, hi) - rho.cdf(n, lo))
        assert r.p_in == pytest.approx(expect, abs=1e-14)


@pytest.mark.parametrize("n, L, eps", [(100, 5, 0.5), (2000, 10, 0.2), (20, 4, 0.6)])
@pytest.mark.parametrize("layers", ["all", "last"])
def test_reported_tolerance_is_achieved_band_and_width(n, L, eps, layers):
    lo, hi = band_for_eps(eps, "squared")
    r = band_probability(n, L, lo, hi, layers=layers, rtol=1e-5)
    ref = band_probability(n, L, lo, hi, layers=layers, rtol=1e-11)
    assert abs(r.p_in - ref.p_in) <= r.tolerance
    assert ref.tolerance < r.tolerance


def test_p_last_at_least_p_stay_and_in_unit_interval():
    for n, L in [(50, 3), (400, 12)]:
        lo, hi = band_for_eps(0.3, "plain")
        s = band_probability(n, L, lo, hi, layers="all")
        t = band_probability(n, L, lo, hi, layers="last")
        assert 0.0 <= s.p_in <= t.p_in + t.tolerance <= 1.0 + t.tolerance


def test_tiny_failure_probabilities_keep_relative_accuracy():
    """max_l P(Π_l ∉ band) ≤ P(fail) ≤ Σ_l P(Π_l ∉ band), each side computed independently."""
    n, L, eps = 60000, 3, 0.2
    lo, hi = band_for_eps(eps, "squared")
    r = band_probability(n, L, lo, hi)
    assert r.logp_fail < math.log(1e-16)          # far below what 1 − p could resolve
    per_depth = [band_probability(n, l, lo, hi, layers="last").logp_fail for l in range(1, L + 1)]
    slack = 1e-3
    assert r.logp_fail >= max(per_depth) - slack
    assert r.logp_fail <= float(np.logaddexp.reduce(per_depth)) + slack


@settings(max_examples=15, deadline=None)
@given(n=st.integers(5, 3000), L=st.integers(2, 6))
def test_failure_decreases_with_width(n, L):
    lo, hi = band_for_eps(0.4, "squared")
    a = band_probability(n, L, lo, hi, rtol=1e-6)
    b = band_probability(2 * n, L, lo, hi, rtol=1e-6)
    assert b.logp_fail <= a.logp_fail + a.rel_tolerance + b.rel_tolerance


def test_band_probabilities_against_chisquare_walks():
    """p_stay and p_last vs walks of exactly sampled ρ (numpy seed 20251123).

    T = 200000 walks resolve a probability near 0.3–0.6 to ±0.005 at α = 1e-4 (Clopper–Pearson).
    """
    n, L, eps, T = 200, 10, 0.3, 200000
    rng = np.random.default_rng(20251123)
    K = rng.binomial(n, 0.5, size=(T, L))
    q = np.where(K > 0, rng.chisquare(np.maximum(K, 1)), 0.0)
    prod = np.cumprod(2.0 * q / n, axis=1)
    lo, hi = band_for_eps(eps, "squared")
    inside = (prod >= lo) & (prod <= hi)
    for layers, hits in (("all", inside.all(axis=1)), ("last", inside[:, -1])):
        k = int(hits.sum())
        a = stats.beta.ppf(ALPHA / 4, k, T - k + 1)
        b = stats.beta.ppf(1 - ALPHA / 4, k + 1, T - k)
        p = band_probability(n, L, lo, hi, layers=layers).p_in
        assert a <= p <= b, (layers, k / T, p)


def test_band_argument_checks():
    with pytest.raises(DomainError, match=r"^lo must be in \(0, 1\); got 1.2$"):
        band_probability(10, 2, 1.2, 1.5)
    with pytest.raises(DomainError, match=r"^layers must be one of 'all', 'last'; got 'some'$"):
        band_probability(10, 2, 0.5, 1.5, layers="some")


@pytest.mark.parametrize("n, L, lo, hi", [(2000, 20, 0.8, 1.25), (64, 8, 0.5, 1.5), (300000, 30, 0.95, 1.05)])
def test_adaptive_kernel_reach_error_is_counted(n, L, lo, hi):
    """Issue 11 (speed): after a first grid level, layers="all" cuts the one-layer tails at
    e^-12·rtol·p/L instead of e^-745 (smaller kernels and fewer tail evaluations), counting
    the mass beyond the cut (L times the tails there) in the tolerance. The same grid level with the full e^-745 reach (the reference)
    must agree within that counted amount plus the levels' own round-off bounds."""
    import math

    from initbounds.bounds import band, rho

    A, B = math.log(lo), math.log(hi)
    full = band._reach(n, rho.log_moments(n))
    p = band_probability(n, L, lo, hi, rtol=1e-6).p_fail
    log_eps = 5.0 * math.floor((math.log(p) + math.log(1e-6) - math.log(L) - 12.0) / 5.0)
    cut = band._reach_cached(n, log_eps)
    assert cut[0] < full[0] and cut[1] < full[1]
    M = 256
    lf_full, e_full = band._stay_level.__wrapped__(n, L, A, B, M, full, "direct", False)
    lf_cut, e_cut = band._stay_level.__wrapped__(n, L, A, B, M, cut, "direct", True)
    assert e_cut >= e_full                           # the cut mass is counted
    assert abs(math.exp(lf_cut) - math.exp(lf_full)) <= e_full + e_cut + 1e-13 * math.exp(lf_full)  # + summation rounding
    assert e_cut <= 1e-6 * p * 1e-3 + e_full        # and negligible beside rtol·p


def test_depth_two_far_below_the_double_range_keeps_every_layer1_cell():
    """Issue 11: skipping layer-1 cells beyond the one-layer reach (a speed-up) lost layer 2's exact
    log-space sum at width 10^7, depth 2, ε = 0.67694: log p_fail fell from ≈ −148,900 to the first
    layer's −332,771. Independent check: the walk leaves the band at layer 2 with at least
    P(ρ₁ ∈ cell)·P(ρ₂ beyond the edge from the cell's far side), maximised over cells (rho's tails)."""
    import math

    from initbounds.bounds import rho

    n, eps = 10**7, 0.67694
    r = band_probability(n, 2, 1 - eps, 1 + eps)
    x = np.linspace(0.05, 0.45, 81)          # layer-1 log ρ in [x, x + dx]; then exit above log(1 + ε)
    dx = 1e-3
    B = math.log(1 + eps)
    lower = max(float(np.logaddexp(rho.log_sf(n, math.exp(a)), -np.inf)
                      + math.log(-math.expm1(float(rho.log_sf(n, math.exp(a + dx))) - float(rho.log_sf(n, math.exp(a))))))
                + float(rho.log_sf(n, math.exp(B - a))) for a in x)
    assert r.logp_fail >= lower
    assert r.logp_fail < -1e5            # and far below the first layer's exit alone is not it
    assert r.logp_fail > float(np.logaddexp(rho.log_cdf(n, 1 - eps), rho.log_sf(n, 1 + eps)))
