"""The cancellation-free kernels of ``bounds.numerics`` against mpmath at 50 digits.

Every reference value is computed here with mpmath inside a local precision context; no golden
numbers. Tolerances are stated floating-point budgets (a few units in the last place of the
largest term the kernel adds), not fitted to the output.
"""
from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest
from hypothesis import example, given, settings, strategies as st

from initbounds.bounds.numerics import (cexpm1, clog1p, log_binomial_half, log_chi2_cdf, log_chi2_sf,
                             log_gamma_ratio, logsumexp)

DPS = 50


def _ref_log_gamma_ratio(a, p):
    with mp.workdps(DPS):
        return mp.loggamma(mp.mpf(a) + mp.mpf(p)) - mp.loggamma(mp.mpf(a))


def _ref_log_binomial_half(n, k):
    with mp.workdps(DPS + 20):  # log C(n, k) of size ~n·log 2 ≤ 8e14: 20 guard digits
        return mp.log(mp.binomial(n, k)) - n * mp.log(2)


# --- log Γ(a+p) − log Γ(a) -----------------------------------------------------------------------


@pytest.mark.parametrize("a", [0.5, 1.0, 3.5, 39.9, 40.0, 41.0, 1e3, 1e6, 1e9, 1e12, 1e15])
@pytest.mark.parametrize("p", [-0.3, 0.3, 1.5, 300.0])
def test_log_gamma_ratio_against_mpmath(a, p):
    ref = _ref_log_gamma_ratio(a, p)
    got = float(log_gamma_ratio(a, p))
    if a >= 40 and a + p >= 40:
        # Stirling branch: relative 1e-14 of the value, even at a = 1e15 where a difference of
        # gammaln values loses 8 digits
        assert abs(got - ref) <= 1e-14 * abs(ref)
    else:
        # gammaln branch (a or a + p < 40): a difference of two correctly rounded values, so the
        # budget is a few ulps of the larger of the two (see the xfail below for small p)
        with mp.workdps(DPS):
            scale = abs(mp.loggamma(a)) + abs(mp.loggamma(mp.mpf(a) + p))
        assert abs(got - ref) <= 1e-14 * abs(ref) + 4 * 2.0**-52 * scale


def test_log_gamma_ratio_small_order_below_the_stirling_branch():
    a, p = 30.0, 1e-10
    ref = _ref_log_gamma_ratio(a, p)
    assert abs(float(log_gamma_ratio(a, p)) - ref) <= 1e-13 * abs(ref)


def test_log_gamma_ratio_at_a_1e12_keeps_the_digits_gammaln_loses():
    """At a = 1e12 the difference gammaln(a+p) − gammaln(a) has ~5 wrong digits; we keep 14."""
    from scipy.special import gammaln

    for p in (0.3, -0.3, 300.0):
        ref = _ref_log_gamma_ratio(1e12, p)
        naive = gammaln(1e12 + p) - gammaln(1e12)
        got = float(log_gamma_ratio(1e12, p))
        assert abs(got - ref) <= 1e-14 * abs(ref)
        assert abs(naive - ref) > 1e3 * abs(got - ref)  # the point of the Stirling branch


def test_log_gamma_ratio_broadcasts():
    a = np.array([[0.5], [50.0], [1e12]])
    p = np.array([-0.3, 0.3, 300.0])
    got = log_gamma_ratio(a, p)
    assert got.shape == (3, 3)
    for i in range(3):
        for j in range(3):
            ref = _ref_log_gamma_ratio(a[i, 0], p[j])
            assert abs(got[i, j] - ref) <= 1e-14 * abs(ref)


# --- log[C(n, k) 2^{-n}] ---------------------------------------------------------------------------


def _ks(n):
    """k values that exercise both branches (k or n−k below / above 40) and the centre."""
    ks = {0, 1, 2, 39, 40, 41, n // 3, n // 2, n // 2 + 1, n - 41, n - 40, n - 39, n - 1, n}
    s = math.isqrt(n)
    ks |= {n // 2 - 3 * s, n // 2 + 7 * s}
    return sorted(k for k in ks if 0 <= k <= n)


@pytest.mark.parametrize("n", [1, 2, 3, 10, 79, 80, 81, 1000, 10**6, 2**30, 2**50])
def test_log_binomial_half_against_mpmath(n):
    ks = _ks(n)
    got = log_binomial_half(n, np.array(ks, dtype=float))
    for k, g in zip(ks, got):
        ref = _ref_log_binomial_half(n, k)
        # relative 1e-13 of the value; for log(C(n,k)/2^n) near 0 (n = 1, 2) an absolute 1e-15
        assert abs(g - ref) <= 1e-13 * abs(ref) + 1e-15, (n, k)


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 2**50), frac=st.floats(0.0, 1.0))
@example(n=1, frac=0.0).via("width 1")
@example(n=2**50, frac=0.5).via("width 2^50, centre")
def test_log_binomial_half_property(n, frac):
    k = min(n, int(round(frac * n)))
    ref = _ref_log_binomial_half(n, k)
    got = float(log_binomial_half(n, k))
    assert abs(got - ref) <= 1e-13 * abs(ref) + 1e-15
    # symmetric in k ↔ n − k, exactly
    assert float(log_binomial_half(n, n - k)) == got


# --- complex log1p / expm1 -------------------------------------------------------------------------


def _small_complex(mag, seed):
    rng = np.random.default_rng(seed)  # seed: only picks test points
    return [complex(*(rng.standard_normal(2) * mag)) for _ in range(8)]


@pytest.mark.parametrize("mag", [1e-300, 1e-200, 1e-20, 1e-10, 1e-5, 1e-2, 0.3])
def test_clog1p_cexpm1_against_mpmath(mag):
    # 1 + w must be formed at enough digits to keep w: dps ≥ 50 + |log10 mag|
    dps = DPS + int(-math.log10(mag)) + 10
    for w in _small_complex(mag, seed=int(-math.log10(mag)) + 1):
        with mp.workdps(dps):
            lref = mp.log(1 + mp.mpc(w))
            eref = mp.expm1(mp.mpc(w))
            lerr = abs(mp.mpc(complex(clog1p(w))) - lref) / abs(lref)
            eerr = abs(mp.mpc(complex(cexpm1(w))) - eref) / abs(eref)
        # a few ulps, relative to |value| (numpy's own complex log1p fails this by orders)
        assert lerr <= 4e-16, (w, float(lerr))
        assert eerr <= 4e-16, (w, float(eerr))


@pytest.mark.parametrize("w", [1e-20j, 1e-20 + 0j, -1e-20 + 1e-30j, 1e-8 + 1e-8j, -0.5 + 1e-3j])
def test_clog1p_cexpm1_on_and_near_the_axes(w):
    with mp.workdps(DPS + 40):
        lref, eref = mp.log(1 + mp.mpc(w)), mp.expm1(mp.mpc(w))
        assert abs(mp.mpc(complex(clog1p(w))) - lref) <= 4e-16 * abs(lref)
        assert abs(mp.mpc(complex(cexpm1(w))) - eref) <= 4e-16 * abs(eref)


def test_clog1p_cexpm1_are_inverse():
    w = np.array(_small_complex(1e-3, seed=7))
    np.testing.assert_allclose(cexpm1(clog1p(w)), w, rtol=1e-15, atol=0)


# --- χ² tails in log space ----------------------------------------------------------------------


def _ref_log_chi2(k, x, upper):
    with mp.workdps(DPS):
        a, h = mp.mpf(k) / 2, mp.mpf(x) / 2
        if upper:
            return mp.log(mp.gammainc(a, h, mp.inf, regularized=True))
        return mp.log(mp.gammainc(a, 0, h, regularized=True))


# far tails: log-probabilities from -180 down to -70000 (most far below the smallest double)
FAR_CDF = [(1, 1e-300), (10, 1e-30), (100, 1.0), (1000, 10.0), (2000, 50.0), (4000, 1e-3),
           (10**5, 1e4), (3, 1e-250)]
FAR_SF = [(1, 4000.0), (1, 1e4), (2, 4000.0), (10, 4500.0), (100, 5000.0), (1000, 8000.0),
          (4000, 9000.0), (10**5, 1.3e5)]


@pytest.mark.parametrize("k, x, upper, below", [(k, x, False, -180) for k, x in FAR_CDF]
                         + [(k, x, True, -800) for k, x in FAR_SF])
def test_log_chi2_far_tails(k, x, upper, below):
    ref = _ref_log_chi2(k, x, upper=upper)
    assert ref < below  # a genuine tail point (upper ones far beyond double range)
    got = float((log_chi2_sf if upper else log_chi2_cdf)(k, x))
    assert abs(got - ref) <= 1e-13 * abs(ref)


def test_values_near_e_minus_2000():
    """The brief's regime: probabilities ~e^-2000, both tails, vectorized."""
    k = np.array([1.0, 2.0, 10.0, 100.0])
    x = np.array([4000.0, 4000.0, 4500.0, 5000.0])
    got = log_chi2_sf(k, x)
    ref = [_ref_log_chi2(a, b, True) for a, b in zip(k, x)]
    for g, r in zip(got, ref):
        assert -2300 < r < -1900
        assert abs(g - r) <= 1e-13 * abs(r)
    k2 = np.array([1000.0, 2000.0])
    x2 = np.array([10.0, 50.0])
    for g, r in zip(log_chi2_cdf(k2, x2), [_ref_log_chi2(a, b, False) for a, b in zip(k2, x2)]):
        assert -2800 < r < -1800
        assert abs(g - r) <= 1e-13 * abs(r)


@pytest.mark.parametrize("k, x", [(1, 1e-3), (2, 1.0), (3, 0.5), (7, 30.0), (50, 3.0),
                                  (1000, 1000.0), (10, 1e-30)])
def test_log_chi2_bulk_both_sides(k, x):
    """In the bulk, log F and log(1 − F) to an absolute 1e-13 (the log of a number near 1)."""
    for upper, f in ((False, log_chi2_cdf), (True, log_chi2_sf)):
        ref = _ref_log_chi2(k, x, upper)
        assert abs(float(f(k, x)) - ref) <= 1e-13 * max(1.0, abs(ref))


def test_chi2_with_zero_degrees_of_freedom_is_the_point_mass_at_zero():
    for x in (0.0, 1e-300, 1.0, 1e6):
        assert log_chi2_cdf(0, x) == 0.0          # P(χ²_0 ≤ x) = 1
        assert log_chi2_sf(0, x) == -np.inf       # P(χ²_0 > x) = 0
    # vectorized with mixed k; k = 0 entries follow the convention, the others the law
    k = np.array([0.0, 1.0, 2.0, 0.0])
    x = np.array([1.0, 1.0, 1.0, 5.0])
    c, s = log_chi2_cdf(k, x), log_chi2_sf(k, x)
    assert c[0] == 0.0 and c[3] == 0.0 and s[0] == -np.inf and s[3] == -np.inf
    assert abs(c[2] - math.log(-math.expm1(-0.5))) <= 1e-15   # χ²_2 is Exp(mean 2)
    assert abs(s[2] - (-0.5)) <= 1e-15
    # at x = 0 a continuous law (k ≥ 1) has cdf 0, sf 1
    assert log_chi2_cdf(3, 0.0) == -np.inf and log_chi2_sf(3, 0.0) == 0.0


def test_logsumexp_edge_cases():
    assert logsumexp(np.array([-np.inf, -np.inf])) == -np.inf
    assert logsumexp(np.array([-2000.0, -2000.0])) == pytest.approx(-2000.0 + math.log(2.0),
                                                                      abs=1e-12)
    out = logsumexp(np.array([[0.0, -np.inf], [-np.inf, -np.inf]]), axis=1)
    assert out[0] == 0.0 and out[1] == -np.inf and not np.any(np.isnan(out))


@pytest.mark.parametrize("a, p", [(0.5, 0.5), (3.0, -1.2), (45.0, -3.2), (5e6, 1.5), (1e12, 0.3),
                                  (1e12, -0.3), (2.0, 300.0), (1e15, 7.0)])
def test_log_gamma_ratio(a, p):
    with mp.workdps(50):
        ref = mp.loggamma(mp.mpf(a) + mp.mpf(p)) - mp.loggamma(mp.mpf(a))
    assert float(log_gamma_ratio(a, p)) == pytest.approx(float(ref), rel=1e-14, abs=1e-14)


@pytest.mark.parametrize("n, k", [(1, 0), (10, 3), (1000, 41), (10**7, 5 * 10**6 + 100),
                                  (10**7, 10**6), (2**50, 2**49 + 3), (2**40, 17)])
def test_log_binomial_half(n, k):
    with mp.workdps(60):
        ref = mp.log(mp.binomial(n, k)) - n * mp.log(2)
    assert float(log_binomial_half(n, k)) == pytest.approx(float(ref), rel=1e-14, abs=1e-13)


@pytest.mark.parametrize("w", [1e-9 + 1e-9j, -3e-12 + 2e-10j, 0.3 + 2j])
def test_complex_log1p_expm1(w):
    with mp.workdps(40):
        l_ref = complex(mp.log(1 + mp.mpc(w)))
        e_ref = complex(mp.exp(mp.mpc(w)) - 1)
    assert abs(complex(clog1p(w)) - l_ref) <= 1e-15 * abs(l_ref)
    assert abs(complex(cexpm1(w)) - e_ref) <= 1e-15 * abs(e_ref)


def test_log_chi2_tails_beyond_double_range():
    k = np.array([1.0, 3.0, 50.0, 100.0])
    x = np.array([2000.0, 3000.0, 5000.0, 4000.0])
    with mp.workdps(40):
        ref = [float(mp.log(mp.gammainc(a / 2, b / 2, mp.inf, regularized=True))) for a, b in zip(k, x)]
    np.testing.assert_allclose(log_chi2_sf(k, x), ref, rtol=1e-12)
    x2 = np.array([1e-300, 1e-200, 1e-30, 1e-5])
    with mp.workdps(40):
        ref2 = [float(mp.log(mp.gammainc(a / 2, 0, b / 2, regularized=True))) for a, b in zip(k, x2)]
    np.testing.assert_allclose(log_chi2_cdf(k, x2), ref2, rtol=1e-12)
    # chi^2_0 is the point mass at 0
    assert log_chi2_cdf(0.0, 1.0) == 0.0 and log_chi2_sf(0.0, 1.0) == -np.inf


# --- issue 11 (cold start): numpy/math paths instead of importing scipy.special, equal to it ---------
@settings(max_examples=200, deadline=None)
@given(x=st.floats(20.0, 1e15))
def test_digamma_trigamma_series_equal_scipy(x):
    """Issue 11: rho.log_moments' ψ and ψ₁ at arguments ≥ 20 come from asymptotic series (no scipy
    import on `initbounds width`'s path); they equal scipy's values up to rounding."""
    from scipy import special as sp

    from initbounds.bounds.numerics import digamma, trigamma
    a = np.array([x, x + 0.5, 2 * x])
    np.testing.assert_allclose(digamma(a), sp.digamma(a), rtol=2e-15, atol=0)
    np.testing.assert_allclose(trigamma(a), sp.polygamma(1, a), rtol=2e-15, atol=0)


def test_digamma_trigamma_below_the_series_range_are_scipys():
    from scipy import special as sp

    from initbounds.bounds.numerics import digamma, trigamma
    a = np.arange(1, 200) / 2.0
    assert np.array_equal(digamma(a), sp.digamma(a)) and np.array_equal(trigamma(a), sp.polygamma(1, a))


@settings(max_examples=100, deadline=None)
@given(x=st.lists(st.floats(1e-6, 1e6), min_size=1, max_size=50))
def test_gammaln_and_log_factorial_and_xlogy_equal_scipy(x):
    """Issue 11: math.lgamma (few points), a log k! table and numpy's x·log y replace scipy's
    gammaln and xlogy on the width path; equal up to rounding (absolute 1e-13 on logs)."""
    from scipy import special as sp

    from initbounds.bounds import numerics as nu
    a = np.array(x)
    np.testing.assert_allclose(nu._gammaln(a), sp.gammaln(a), rtol=1e-15, atol=1e-14)
    k = np.floor(a[a < 64])
    np.testing.assert_allclose(nu._log_factorial(k), sp.gammaln(k + 1.0), rtol=1e-15, atol=1e-14)
    y = a[::-1]
    z = np.where(np.arange(len(a)) % 3 == 0, 0.0, a)
    np.testing.assert_allclose(nu._xlogy(z, y), sp.xlogy(z, y), rtol=1e-15, atol=0)


def test_the_width_command_path_does_not_import_scipy():
    """Issue 11 (cold start, 1.0 s → 0.6 s here): `initbounds width --depth 10 --samples 100 --delta
    0.05 --eps 0.3` imported scipy.special (~0.2–0.4 s) for functions its sizes do not need."""
    import subprocess
    import sys

    code = ("import sys; from initbounds.bounds.width import min_widths; "
            "min_widths(10, 100, 0.05, 0.3); print('scipy.special' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
