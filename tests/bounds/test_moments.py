"""Fractional-moment-preserving initialization (GH21, docs/theory.md §4) — issue 3."""
from __future__ import annotations

import math

import mpmath as mp
import pytest
from hypothesis import given, settings, strategies as st

from initbounds.bounds.errors import DomainError
from initbounds.bounds.moments import (REFERENCE_TABLE, _log_moment_integral, activation, authors_sigma2,
                            derive_moment, log_moment_q, log_norm_params, log_q_moments, sigma2,
                            sigma2_he, sigma2_large_width)


def _act(kind, par):
    if kind == "leaky":
        return activation("leaky", slope=par)
    if kind == "rrelu":
        return activation("rrelu", lower=par[0], upper=par[1])
    return activation(kind)


@pytest.mark.parametrize("key", list(REFERENCE_TABLE))
def test_reference_table_to_nine_digits(key):
    ref = REFERENCE_TABLE[key]
    assert sigma2(_act(*key), 64, 1.0) == pytest.approx(ref, rel=2e-9)


@pytest.mark.parametrize("kind", ["relu", "linear"])
@pytest.mark.parametrize("d", [1, 5, 64, 1000, 10**6])
@pytest.mark.parametrize("s", [0.3, 1.0, 1.7])
def test_general_integral_equals_closed_forms(kind, d, s):
    a = activation(kind)
    with mp.workdps(30):
        integral = _log_moment_integral(a, d, s / 2)
    assert float(integral) == pytest.approx(float(log_moment_q(a, d, s)), rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("d", [1, 4, 20])
def test_leaky_integral_equals_hypergeometric_sum(d):
    """docs/theory.md §4's leaky closed form M_d(p) 2^{-d} Σ_k C(d,k) 2F1(−p, (d−k)/2; d/2; 1 − a²) at 30 digits."""
    a, s = 0.3, 1.2
    p = mp.mpf(s) / 2
    with mp.workdps(30):
        md = 2**p * mp.gamma(mp.mpf(d) / 2 + p) / mp.gamma(mp.mpf(d) / 2)
        ref = md * mp.fsum(mp.binomial(d, k) * mp.hyp2f1(-p, mp.mpf(d - k) / 2, mp.mpf(d) / 2, 1 - mp.mpf(a) ** 2)
                           for k in range(d + 1)) / 2**d
    assert float(log_moment_q(activation("leaky", slope=a), d, s)) == pytest.approx(float(mp.log(ref)), rel=1e-12)


def test_special_slopes_reduce_to_relu_and_linear():
    for d in (3, 64):
        assert sigma2(activation("leaky", slope=0.0), d, 1.0) == pytest.approx(sigma2(activation("relu"), d, 1.0), rel=1e-12)
        assert sigma2(activation("leaky", slope=1.0), d, 1.0) == pytest.approx(sigma2(activation("linear"), d, 1.0), rel=1e-12)


def test_s_equal_two_is_he_and_lecun():
    for d in (1, 64, 10**6):
        assert sigma2(activation("relu"), d, 2.0) == pytest.approx(2.0 / d, rel=1e-15)
        assert sigma2(activation("linear"), d, 2.0) == pytest.approx(1.0 / d, rel=1e-15)
        assert sigma2(activation("leaky", slope=0.5), d, 2.0) == pytest.approx(2.0 / (1.25 * d), rel=1e-15)
        # continuity s → 2 of the exact value
        assert sigma2(activation("relu"), d, 2.0 - 1e-7) == pytest.approx(2.0 / d, rel=1e-6)
    r = activation("rrelu", lower=0.1, upper=0.5)
    assert sigma2_he(r, 10) == pytest.approx(2 / ((1 + (0.01 + 0.05 + 0.25) / 3) * 10), rel=1e-15)


@settings(max_examples=25, deadline=None)
@given(s=st.floats(0.05, 1.95), kind=st.sampled_from(["relu", "linear", "leaky"]))
def test_sigma_decreases_in_s_and_he_is_the_smallest(s, kind):
    a = activation(kind, slope=0.4) if kind == "leaky" else activation(kind)
    v1 = sigma2(a, 32, s)
    v2 = sigma2(a, 32, min(2.0, s + 0.05))
    assert v2 <= v1 * (1 + 1e-12)
    assert sigma2_he(a, 32) <= v1 * (1 + 1e-12)


def test_large_width_series():
    """|exact − series| = O(d^-3): the scaled error d³·|Δ| stays bounded as d grows."""
    for kind in ("relu", "linear"):
        a = activation(kind)
        errs = [abs(sigma2(a, d, 1.0) - sigma2_large_width(a, d, 1.0)) * d**3 for d in (100, 1000, 10000)]
        assert max(errs) < 50 and errs[-1] <= 1.5 * errs[0]
        # the authors' approximations coincide with the sympy series for ReLU and linear
        assert sigma2_large_width(a, 64, 1.0) == pytest.approx(authors_sigma2(a, 64, 1.0), rel=1e-14)


def test_log_moments_identities():
    # leaky with a = 1 is linear: the Frullani integrals reproduce ψ(d/2) + log 2 and ψ₁(d/2)
    for d in (3, 64):
        m, v, _ = log_q_moments(activation("leaky", slope=1.0), d)
        assert m == pytest.approx(float(mp.digamma(d / 2) + mp.log(2)), rel=1e-12)
        assert v == pytest.approx(float(mp.psi(1, d / 2)), rel=1e-10)
    # docs/theory.md §4: ReLU, width 64, depth 100: log-norm peaks at −2.005 (He) and −1.020 (s = 1), sd 1.44
    he = log_norm_params(activation("relu"), 64, 2.0, 100)
    s1 = log_norm_params(activation("relu"), 64, 1.0, 100)
    assert he.mean_at_depth == pytest.approx(-2.005, abs=5e-4)
    assert s1.mean_at_depth == pytest.approx(-1.020, abs=5e-4)
    assert math.sqrt(s1.var_at_depth) == pytest.approx(1.44, abs=5e-3)
    assert he.var == s1.var   # ς² does not depend on s
    # large width: μ ≈ −sκ/8, ς² ≈ κ/4 with κ = 5/d for ReLU
    big = log_norm_params(activation("relu"), 10**6, 1.0)
    assert big.mu == pytest.approx(-5e-6 / 8, rel=1e-3) and big.var == pytest.approx(5e-6 / 4, rel=1e-3)


def test_derivation_contains_he_and_lecun():
    import sympy as sy

    steps = derive_moment().steps
    d = sy.Symbol("d", positive=True)
    by_text = {s.text.split(":")[0]: s.expr for s in steps}
    he = next(e for t, e in by_text.items() if t.startswith("ReLU (m₁ = 1/2"))
    lecun = next(e for t, e in by_text.items() if t.startswith("Linear at s = 2"))
    assert sy.simplify(he.rhs - 2 / d) == 0 and sy.simplify(lecun.rhs - 1 / d) == 0
    assert all(s.source == "derived" and s.citation == "GH21" for s in steps)


@pytest.mark.parametrize("call, msg", [
    (lambda: activation("leaky", slope=1.5), "slope must be in [0, 1]; got 1.5"),
    (lambda: activation("rrelu", lower=0.5, upper=0.2), "lower must be < upper for rrelu; got lower=0.5, upper=0.2"),
    (lambda: sigma2(activation("relu"), 64, 0.0), "s must be in (0, 2]; got 0.0"),
    (lambda: sigma2(activation("relu"), 64, 2.5), "s must be in (0, 2]; got 2.5"),
    (lambda: sigma2(activation("relu"), 0, 1.0), "width must be an integer ≥ 1; got 0"),
    (lambda: activation("tanh"), "activation must be one of 'relu', 'leaky', 'rrelu', 'linear'; got 'tanh'"),
])
def test_errors(call, msg):
    with pytest.raises(DomainError) as e:
        call()
    assert str(e.value) == msg


def test_he_comparison_uses_the_same_fan_as_sigma_s():
    """Issue 11: with --fan in the He value beside σ_s² is 2/d_in (same per-unit form), not 2/d."""
    from initbounds.bounds.moments import moment_report, sigma2_he

    out = moment_report("relu", s=1, width=512, in_width=784, fan="in").as_dict()
    assert out["he_sigma2"] == pytest.approx(2 / 784, rel=1e-12)
    assert out["sigma2"] == pytest.approx(out["sigma2_norm_preserving"] * 512 / 784, rel=1e-12)
    fan_out = moment_report("relu", s=1, width=512, in_width=784, fan="out").as_dict()
    assert fan_out["he_sigma2"] == sigma2_he(activation("relu"), 512) == pytest.approx(2 / 512)


def test_leaky_defaults_to_torchs_slope_and_says_so():
    """Issue 11: `--activation leaky` without a slope was ReLU (a = 0); it is torch's 0.01, printed."""
    from initbounds.bounds.moments import LEAKY_SLOPE, moment_report

    assert LEAKY_SLOPE == 0.01 and activation("leaky").slope == 0.01
    rep = moment_report("leaky", s=1, width=64)
    assert rep["inputs"]["slope"] == 0.01 and "a = 0.01" in rep.title
    assert rep["sigma2"] == sigma2(activation("leaky", slope=0.01), 64, 1)
    assert rep["sigma2"] != sigma2(activation("relu"), 64, 1)


# --- issue 11: small s in log space, p_small_output at depth, the exact path's speed -------------------
def _log_sigma2_reference(kind: str, d: int, s: float, dps: int) -> mp.mpf:
    """log σ_s² = −(2/s) log E Q^{s/2} by the closed forms at ``dps`` digits (independent of the code):
    ReLU E Q^p = Σ_{k≥1} C(d,k) 2^{−d} 2^p Γ(k/2 + p)/Γ(k/2); linear 2^p Γ(d/2 + p)/Γ(d/2)."""
    with mp.workdps(dps):
        p = mp.mpf(s) / 2
        if kind == "relu":
            eq = mp.fsum(mp.binomial(d, k) * mp.power(2, -d) * mp.power(2, p) * mp.gamma(mp.mpf(k) / 2 + p)
                         / mp.gamma(mp.mpf(k) / 2) for k in range(1, d + 1))
        else:
            eq = mp.power(2, p) * mp.gamma(mp.mpf(d) / 2 + p) / mp.gamma(mp.mpf(d) / 2)
        return -2 * mp.log(eq) / mp.mpf(s)


@pytest.mark.parametrize("kind, d, s", [("relu", 81, 1e-300), ("relu", 2, 1e-6), ("relu", 100, 5e-324),
                                        ("relu", 64, 1e-7), ("relu", 5, 3e-6), ("linear", 16, 1e-300),
                                        ("linear", 3, 5e-324), ("relu", 64, 1.0)])
def test_issue11_log_sigma2_small_s_against_mpmath(kind, d, s):
    """Issue 11: `moment --s 1e-300 --width 81` (and s = 1e-6 at d = 2, s = 5e-324) crashed at
    log(sigma2(...)): the float sum lost log(1 − 2^{−d}) against p·E log Q. log σ_s² agrees with the
    closed form at 400 digits to 1e-9 relative (the cumulant series' next term is p³κ₃)."""
    from initbounds.bounds.moments import log_sigma2

    got = log_sigma2(activation(kind), d, s)
    ref = _log_sigma2_reference(kind, d, s, 420)
    assert math.isfinite(got)
    assert abs(got - float(ref)) <= 1e-9 * max(1.0, abs(float(ref)))


@pytest.mark.parametrize("kind, par", [("leaky", 0.3), ("rrelu", (1 / 8, 1 / 3))])
def test_issue11_series_below_1e6_meets_the_integral(kind, par):
    """The cumulant series used below p = 10^{-6} equals the general integral evaluated at 40 digits
    at p = 5e-7 (where both are valid): independent paths."""
    from initbounds.bounds.moments import log_sigma2

    a = _act(kind, par)
    s = 1e-6
    with mp.workdps(40):
        ref = -2 * _log_moment_integral(a, 16, mp.mpf(s) / 2) / s
    assert log_sigma2(a, 16, s) == pytest.approx(float(ref), rel=1e-8)


def test_issue11_sigma2_beyond_doubles_is_null_beside_its_log_and_refusals_name_s():
    from initbounds.bounds.moments import moment_report

    out = moment_report("relu", s=1e-300, width=81, depth=1).as_dict()
    ref = float(_log_sigma2_reference("relu", 81, 1e-300, 420))
    assert out["sigma2"] is None and out["sigma"] is None and out["log_sigma2"] == pytest.approx(ref, rel=1e-12)
    assert 0.0 <= out["p_small_output"] <= 1.0 and math.isfinite(out["mu"])
    with pytest.raises(DomainError) as e:             # |log σ²| = 2 log 2/s > 10^300: stated range for s
        sigma2(activation("relu"), 1, 1e-300)
    assert e.value.param == "s" and "s must be ≥" in str(e.value)
    with pytest.raises(DomainError) as e:             # σ² = e^{8e275}: a float cannot hold it
        sigma2(activation("relu"), 81, 1e-300)
    assert e.value.param == "s"


def test_issue11_small_threshold_below_the_double_range_is_the_dead_atom():
    """`moment --s 1 --width 100 --depth 2 --small 1e-300` crashed (t² underflow). P(‖h_2‖ ≤ t‖x‖) at
    t = 1e-300 is P(dead) = 1 − (1 − 2^{−100})² (mpmath) up to the alive part, which the reported
    tolerance (a Chernoff bound) covers."""
    from initbounds.bounds.moments import p_small_output

    so = p_small_output(activation("relu"), 100, 1.0, 2, 1e-300)
    with mp.workdps(60):
        dead = float(1 - (1 - mp.power(2, -100)) ** 2)
    assert abs(so.p_exact - dead) <= so.tolerance + 4e-16 * dead     # (+ rounding of e^{log P(dead)})
    assert so.tolerance <= 1e-3 * dead


def test_issue11_depth_beyond_the_double_range_of_the_product_is_answered():
    """`moment --s 1.85621 --width 175 --depth 1000000` named the internal `lo`; now finite (CLT beyond
    2·10^4 layers, labelled), and P(‖h_k‖ ≤ 0.01‖x‖) ≈ 1: log‖h_k‖ has mean kμ_s ≈ −6698 with sd ≈ 85."""
    from initbounds.bounds.moments import moment_report

    out = moment_report("relu", s=1.85621, width=175, depth=1_000_000).as_dict()
    assert out["p_small_output_method"] == "CLT"
    z = (math.log(0.01) - out["log_norm_mean"]) / math.sqrt(out["log_norm_var"])
    assert z > 40 and out["p_small_output"] == 1.0


def test_issue11_exact_small_output_is_fast_and_agrees_with_monte_carlo():
    """`moment --activation relu --s 1 --width 2000 --depth 200 --small 0.5` took 80 s (band recursion).
    Now < 2 s, and P(Π ρ_j ≤ r) agrees with a Monte Carlo of Π ρ_j (ρ = (2/n)χ²_K, K ~ Bin(n, 1/2);
    seed 11, 2·10^5 draws; Clopper–Pearson at α = 1e-4, widened by the stated tolerance)."""

    import numpy as np
    from scipy import stats as st_

    from initbounds.bounds.moments import log_sigma2, p_small_output
    so = p_small_output(activation("relu"), 2000, 1.0, 200, 0.5)
    n, k, N = 2000, 200, 200_000
    log_r = 2 * math.log(0.5) - k * (log_sigma2(activation("relu"), n, 1.0) + math.log(n / 2))
    rng = np.random.default_rng(11)
    tot = np.zeros(N)
    for _ in range(k):
        kk = rng.binomial(n, 0.5, size=N)
        tot += np.log(2.0 / n * rng.chisquare(kk))
    x = int(np.sum(tot <= log_r))
    lo = st_.beta.ppf(5e-5, x, N - x + 1)
    hi = st_.beta.ppf(1 - 5e-5, x + 1, N - x)
    assert lo - so.tolerance <= so.p_exact <= hi + so.tolerance


def test_issue11_relu_log_moments_series_coefficients():
    """issue 11: from width 2^53 on, ReLU's (E log Q, Var log Q) are log(d/2) − 5/(2d) and 5/d. The
    next terms, from exact binomial sums in mpmath (40 digits, independent of bounds.rho), are
    −4.1/d² and +18.6/d² and settle as d doubles, so the leading terms are within 4/d ≤ 5e-16
    relative from 2^53 on."""
    import mpmath as mp

    from initbounds.bounds import moments

    def exact(n):
        with mp.workdps(40):
            w = [mp.binomial(n, k) for k in range(1, n + 1)]
            z = mp.fsum(w)
            psi = [mp.digamma(mp.mpf(k) / 2) for k in range(1, n + 1)]
            m = mp.fsum(a * b for a, b in zip(w, psi)) / z
            v = (mp.fsum(a * mp.psi(1, mp.mpf(k) / 2) for a, k in zip(w, range(1, n + 1)))
                 + mp.fsum(a * (b - m) ** 2 for a, b in zip(w, psi))) / z
            mean_log_rho = mp.log(mp.mpf(4) / n) + m
            return float((mean_log_rho + mp.mpf(5) / (2 * n)) * n * n), float((v - mp.mpf(5) / n) * n * n)

    (m1, v1), (m2, v2) = exact(300), exact(600)
    for m in (m1, m2):
        assert -4.2 < m < -4.0
    for v in (v1, v2):
        assert 18.4 < v < 18.9
    assert abs(m2 - m1) < 0.05 and abs(v2 - v1) < 0.2
    relu = moments.activation("relu")
    d = moments._LOG_Q_SERIES_WIDTH
    mean, var, surv = moments.log_q_moments(relu, d)
    with mp.workdps(40):
        assert mean == pytest.approx(float(mp.log(mp.mpf(d) / 2) - mp.mpf(5) / (2 * d)), rel=1e-15)
        assert var == pytest.approx(float(mp.mpf(5) / d), rel=1e-15)
    assert surv == 1.0


def test_issue11_small_output_far_below_the_bulk_is_exact_where_band_answers():
    """Issue 11 (integration): `check`'s default design printed P(‖h_6‖ < 1% ‖x‖) = 1.36e-118 (half
    a Chernoff bound, the same under σ_s and He) where the band recursion answers ~0 with relative
    accuracy; the band recursion is tried first again. Reference: the Chernoff bound itself (the
    value must lie well below it); at width 64, depth 100 the band's tolerance (not the
    convolution's 3e-5) comes back."""
    from initbounds.bounds.moments import _log_chernoff_lower, activation, p_small_output

    r = p_small_output(activation("relu"), 2048, 1.0, 6, 0.01)
    assert r.p_exact < math.exp(_log_chernoff_lower(2048, 6, math.log(1e-4))) / 2
    r64 = p_small_output(activation("relu"), 64, 1.0, 100, 0.01)
    assert r64.tolerance < 1e-3 * r64.p_exact
