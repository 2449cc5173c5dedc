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
