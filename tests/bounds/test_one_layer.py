"""The one-layer law of ρ (THEORY.md §2): fast paths vs the canonical sympy/mpmath expressions."""
from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest
from hypothesis import example, given, settings, strategies as st
from scipy import optimize

from bounds import rho
from bounds.errors import DomainError
from bounds.numerics import (cexpm1, clog1p, log_binomial_half, log_chi2_cdf, log_chi2_sf,
                             log_gamma_ratio)

# --- numerics against mpmath at 50 digits ------------------------------------------------------


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


# --- identities ----------------------------------------------------------------------------------


def test_unit_moments_derived_by_sympy():
    um = rho.unit_moments()
    assert um["mean"] == 1 and um["var"] == 5 and um["second"] == 6


@pytest.mark.parametrize("n", [1, 2, 7, 100, 10**4, 10**7])
def test_first_two_moments(n):
    assert math.exp(rho.log_moment(n, 1)) == pytest.approx(1.0, rel=1e-13)
    # E ρ² − 1 = 5/n; compare log E ρ² with log1p(5/n) in absolute terms (it is ~5/n)
    assert rho.log_moment(n, 2) == pytest.approx(math.log1p(5.0 / n), rel=1e-7, abs=1e-14)


@pytest.mark.parametrize("n", [1, 3, 8, 25, 60])
@pytest.mark.parametrize("p", [0.3, 1.0, 2.5, 7.0])
def test_moment_fast_path_equals_canonical(n, p):
    ref = rho.canonical(rho.MOMENT_EXPR, n=n, p=p)
    assert math.exp(rho.log_moment(n, p)) == pytest.approx(float(ref), rel=1e-12)


@pytest.mark.parametrize("n", [1, 4, 30, 150, 200])
@pytest.mark.parametrize("r", [0.05, 0.5, 0.97, 1.0, 1.4, 4.0])
def test_cdf_fast_path_equals_canonical(n, r):
    ref = rho.canonical(rho.CDF_EXPR, n=n, r=r)
    assert float(rho.cdf(n, r)) == pytest.approx(float(ref), rel=1e-12, abs=1e-300)


@pytest.mark.parametrize("n", [201, 777, 2000])
def test_saddlepoint_inversion_equals_binomial_sum(n):
    r = np.array([0.05, 0.3, 0.8, 0.999, 1.0, 1.001, 1.3, 2.0, 3.5, 10.0])
    for upper in (False, True):
        fast = rho.log_sf(n, r) if upper else rho.log_cdf(n, r)
        ref = rho._log_cdf_sum(n, r, upper)
        np.testing.assert_allclose(fast, ref, rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize("n", [1, 5, 300, 10**6, 10**12])
def test_cdf_and_sf_are_complementary(n):
    r = np.array([0.2, 0.9, 1.0, 1.1, 3.0])
    total = np.exp(rho.log_cdf(n, r)) + np.exp(rho.log_sf(n, r))
    np.testing.assert_allclose(total, 1.0, atol=1e-12)


def test_atom_at_zero():
    for n in (1, 3, 40):
        assert float(rho.cdf(n, 0.0)) == pytest.approx(2.0**-n, rel=1e-14)
    assert rho.log_cdf(2000, 0.0) == pytest.approx(-2000 * math.log(2.0))


def test_mgf_matches_canonical_and_has_mean_one():
    for n, t in [(3, 0.2), (50, -4.0), (1000, 100.0)]:
        ref = mp.log(rho.canonical(rho.MGF_EXPR, n=n, t=t))
        assert rho.log_mgf(n, t) == pytest.approx(float(ref), rel=1e-13)
    # d/dt log E e^{tρ} at 0 is E ρ = 1 (central difference, step 1e-5, error O(h²))
    h = 1e-5
    for n in (2, 10**6, 10**12):
        d = (rho.log_mgf(n, h) - rho.log_mgf(n, -h)) / (2 * h)
        assert d == pytest.approx(1.0, abs=1e-8)


def test_log_moments():
    lm = rho.log_moments(10**6)
    assert lm.var * 10**6 == pytest.approx(5.0, rel=1e-3)
    assert lm.mean * 10**6 == pytest.approx(-2.5, rel=1e-3)
    n = 3  # direct mpmath sum over k ≥ 1 with digamma/trigamma
    with mp.workdps(30):
        w = [mp.binomial(n, k) / (2**n - 1) for k in range(1, n + 1)]
        psi = [mp.digamma(mp.mpf(k) / 2) for k in range(1, n + 1)]
        m = mp.fsum(a * b for a, b in zip(w, psi))
        v = mp.fsum(a * mp.psi(1, mp.mpf(k) / 2) for a, k in zip(w, range(1, n + 1))) + \
            mp.fsum(a * (b - m) ** 2 for a, b in zip(w, psi))
    lm = rho.log_moments(n)
    assert lm.mean == pytest.approx(float(mp.log(mp.mpf(4) / n) + m), rel=1e-12)
    assert lm.var == pytest.approx(float(v), rel=1e-12)


# --- rate functions ------------------------------------------------------------------------------


@pytest.mark.parametrize("r", [0.05, 0.5, 0.9, 1.1, 1.5, 3.0, 20.0])
def test_rate_equals_brute_force_legendre_transform(r):
    lam = lambda s: math.log(0.5 + 0.5 / math.sqrt(1 - 4 * s))  # noqa: E731
    res = optimize.minimize_scalar(lambda s: -(s * r - lam(s)), bounds=(-1e6, 0.25 - 1e-12),
                                   method="bounded", options={"xatol": 1e-14})
    assert float(rho.rate(r)) == pytest.approx(-res.fun, rel=1e-8, abs=1e-12)


def test_rate_agrees_with_the_sympy_series():
    """I±(ε) equals its sympy-derived series up to the O(ε⁵) remainder (|coefficient| < 1 here)."""
    from bounds.width import _syms, rate_series

    _eps = _syms()["eps"]

    plus, minus = (s.removeO() for s in rate_series())
    for eps in (1e-2, 1e-3, 1e-6, 1e-9, 1e-12):
        with mp.workdps(60):
            sp_val = float(plus.subs(_eps, eps).evalf(60))
            sm_val = float(minus.subs(_eps, eps).evalf(60))
        assert abs(float(rho.rate_plus(eps)) - sp_val) <= eps**5 + 4e-16 * sp_val
        assert abs(float(rho.rate_minus(eps)) - sm_val) <= eps**5 + 4e-16 * sm_val
    assert float(rho.rate_minus(1.0)) == pytest.approx(math.log(2.0))


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 10**6), eps=st.floats(1e-3, 0.9))
@example(n=1, eps=0.5).via("width 1")
@example(n=2**40, eps=1e-3).via("width 2^40")
def test_chernoff_bounds_hold(n, eps):
    assert rho.log_sf(n, 1 + eps) <= -n * float(rho.rate_plus(eps)) + 1e-9
    assert rho.log_cdf(n, 1 - eps) <= -n * float(rho.rate_minus(eps)) + 1e-9


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 10**9), r=st.floats(0.0, 50.0))
def test_probabilities_in_unit_interval(n, r):
    c, s = float(rho.cdf(n, r)), float(rho.sf(n, r))
    assert 0.0 <= c <= 1.0 and 0.0 <= s <= 1.0
    assert not math.isnan(c) and not math.isnan(s)


def test_bad_input_messages():
    with pytest.raises(DomainError, match=r"^width must be an integer ≥ 1; got 0$"):
        rho.log_moment(0, 1)
    with pytest.raises(DomainError, match=r"^width must be an integer ≥ 1; got True$"):
        rho.log_moment(True, 1)
    with pytest.raises(DomainError, match=r"^width must be an integer ≥ 1; got 2.5$"):
        rho.cdf(2.5, 1.0)
    with pytest.raises(DomainError, match=r"^p must be in \(-0.5, inf\); got -1"):
        rho.log_moment(10, -1.0)


@pytest.mark.parametrize("n", [256, 2000])
def test_far_tails_beyond_the_saddle_line(n):
    """Regression (issue 3): ρ < 0.02 or ρ > 100 used to break the saddle-point line."""
    r = np.array([1e-9, 1e-3, 0.01, 150.0, 1000.0])
    np.testing.assert_allclose(rho.log_cdf(n, r), rho._log_cdf_sum(n, r, False), rtol=1e-12)
    np.testing.assert_allclose(rho.log_sf(n, r), rho._log_cdf_sum(n, r, True), rtol=1e-12)
