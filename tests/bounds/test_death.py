"""Neuron death (RR20, docs/theory.md §5): exact survival, bounds, width calculators (issue 4)."""
from __future__ import annotations

import math
from fractions import Fraction

import mpmath as mp
import pytest
from hypothesis import example, given, settings, strategies as st

from initbounds.bounds.errors import DomainError
from initbounds.bounds.death import (derive_death, liveness, liveness_uniform, min_constant_width, sign_flip_guarantee,
                             schedule_limit, schedule_widths)


def test_exact_small_cases_with_fractions():
    w = [2, 3, 1]
    exact = 1
    for n in w:
        exact *= 1 - Fraction(1, 2**n)
    lv = liveness(w)
    assert lv.p_alive_point == pytest.approx(float(exact), rel=1e-15)
    assert lv.p_dead_point == pytest.approx(float(1 - exact), rel=1e-15)
    up = (1 - Fraction(1, 2 ** (3 * 2))) * (1 - Fraction(1, 2 ** (1 * 3)))
    assert lv.upper == pytest.approx(float(up), rel=1e-15)
    assert lv.sign_flip_guarantee == 2.0**-3
    # one layer on the orthant: exactly 1 − 2^{-n n0}; biases: n (n0 + 1)
    assert liveness([3], input_dim=2).upper == pytest.approx(1 - 2.0**-6, rel=1e-15)
    assert liveness([3], input_dim=2, bias=True).upper == pytest.approx(1 - 2.0**-9, rel=1e-15)


@settings(max_examples=40, deadline=None)
@given(w=st.lists(st.integers(1, 40), min_size=1, max_size=12))
def test_bounds_sandwich_and_probabilities(w):
    lv = liveness(w)
    assert 0.0 <= lv.lower <= lv.upper <= 1.0
    assert lv.p_alive_point + lv.p_dead_point == pytest.approx(1.0, abs=1e-15)
    assert lv.sign_flip_guarantee <= 1.0


def test_uniform_equals_list():
    for n, k in [(1, 1), (4, 3), (7, 10)]:
        assert liveness_uniform(n, k).as_dict() == liveness([n] * k).as_dict()


def test_extreme_depth_and_tiny_probabilities_are_exact():
    lv = liveness_uniform(1, 10**6)                      # (1/2)^{10^6}
    assert lv.log_p_alive_point == pytest.approx(-1e6 * math.log(2), rel=1e-15)
    assert lv.log10_sign_flip_guarantee == pytest.approx(-1e6 * math.log10(2), rel=1e-15)
    lv = liveness_uniform(100, 10)                       # P(dead) ≈ 10·2^-100 ≈ 7.9e-30
    assert lv.p_dead_point == pytest.approx(10 * 2.0**-100, rel=1e-12)
    lv = liveness_uniform(2000, 10**6)                   # P(dead) ≈ 10^6·2^-2000: below doubles
    with mp.workdps(30):
        ref = mp.log10(10**6 * mp.power(2, -2000))
    assert lv.log10_p_dead_point == pytest.approx(float(ref), rel=1e-12)
    assert lv.p_alive_point == 1.0


@settings(max_examples=40, deadline=None)
@given(k=st.integers(1, 10**6), p=st.floats(1e-6, 1 - 1e-9))
@example(k=10**6, p=0.5).via("deep")
def test_min_constant_width_is_smallest(k, p):
    n = min_constant_width(k, p)
    assert liveness_uniform(n, k).log_p_alive_point >= math.log(p) - 1e-12
    if n > 1:
        assert liveness_uniform(n - 1, k).log_p_alive_point < math.log(p)


def test_schedules():
    assert schedule_widths(3, 2.0, 1.0) == [3, 5, 5]   # ⌈2·log₂(l+1) + 1⌉: 3, ⌈4.17⌉, 5
    s = schedule_limit(2.0, 1.0)
    assert s.converges and 0 < s.lower <= s.upper < 1 and s.upper - s.lower < 1e-4
    assert not schedule_limit(1.0, 3.0).converges        # c = 1: Σ 2^-n_l diverges


def test_derivation_prints_the_schedule_condition():
    import sympy as sy

    text = derive_death().to_text()
    assert "c > 1" in text                                   # sympy's convergence condition
    assert "[paper; RR20]" in text and "[derived; RR20]" in text
    # the printed constant-width solution is the one min_constant_width evaluates
    sol = next(s.expr for s in derive_death().steps if s.text.startswith("Constant width"))
    k, p = sy.Symbol("k", positive=True, integer=True), sy.Symbol("p", positive=True)
    n_real = float(sol.rhs.subs({k: 100, p: sy.Rational(99, 100)}))
    assert min_constant_width(100, 0.99) == math.ceil(n_real)


@pytest.mark.parametrize("call, msg", [
    (lambda: liveness([]), "widths must list at least one layer width; got ()"),
    (lambda: liveness([3, 0]), "widths[1] must be an integer ≥ 1; got 0"),
    (lambda: liveness("44"), "widths must be a sequence of integers ≥ 1; got '44'"),
    (lambda: min_constant_width(3, 1.0), "target must be in (0, 1); got 1.0"),
    (lambda: liveness_uniform(2, 0), "depth must be an integer ≥ 1; got 0"),
])
def test_errors(call, msg):
    with pytest.raises(DomainError) as e:
        call()
    assert str(e.value) == msg


# --- P(dead) once, exactly (the issue: band and moments computed it in floats) -----------------------
@pytest.mark.parametrize("widths", [[64] * 100, [16] * 8, [1], [3, 5, 2000], [1100] * 3])
def test_logp_dead_point_is_exact(widths):
    import mpmath as mp

    from initbounds.bounds.death import logp_dead_point, logp_dead_uniform

    with mp.workdps(60 + int(0.31 * max(widths))):     # enough digits that 1 − Π does not cancel
        ref = mp.log(1 - mp.fprod(1 - mp.mpf(2) ** -n for n in widths))
        assert abs(logp_dead_point(widths) - ref) < mp.mpf(10) ** -30 * abs(ref)
        if len(set(widths)) == 1:
            assert abs(logp_dead_uniform(widths[0], len(widths)) - ref) < mp.mpf(10) ** -30 * abs(ref)


def test_band_and_moments_use_the_exact_dead_probability():
    """STYLE's bad example: 1 − (1 − 2^-64)^100 in floats is 0; the exact value is 5.42e-18."""
    import mpmath as mp

    from initbounds.bounds.band import product_law
    from initbounds.bounds.death import logp_dead_point
    from initbounds.bounds.moments import activation, moment_report, p_small_output

    exact = float(mp.exp(logp_dead_point([64] * 100)))
    assert exact == pytest.approx(5.421010862427522e-18, rel=1e-15)
    assert product_law([64] * 100).p_dead == exact
    assert product_law([16] * 8).p_dead == 0.00012206379344092586      # correctly rounded (floats: ...585)
    so = p_small_output(activation("relu"), 64, 1.0, 100, 0.01)
    clt_alive = p_small_output(activation("linear"), 64, 1.0, 100, 0.01)     # no dead mass for linear
    assert so.p_clt > exact and clt_alive.p_clt > 0
    r = moment_report("relu", s=1, width=8, depth=50).as_dict()
    assert r["survival_at_depth"] == pytest.approx((1 - 2.0**-8) ** 50, rel=1e-14)


def test_liveness_names_the_lower_bound_truthfully():
    """Liveness.p_dead_upper was a lower bound on P(dead on S): now p_dead_set_lower (the JSON key)."""
    lv = liveness([2, 3])
    assert not hasattr(lv, "p_dead_upper")
    assert lv.p_dead_set_lower == pytest.approx(1 - lv.upper) and lv.as_dict()["p_dead_set_lower"] == lv.p_dead_set_lower
    assert lv.p_dead_set_lower <= lv.p_dead_point


def test_death_report_rows_and_json():
    from initbounds.bounds.death import death_report

    r = death_report(widths=[4, 4, 4], points=100, target=0.99)
    d = r.as_dict()
    assert d["expected_live_points"] == pytest.approx(100 * (15 / 16) ** 3) and d["min_constant_width"] >= 1
    assert r.title == "Neuron death at initialization: 4,4,4" and all(len(row) == 3 for row in r.rows)
    with pytest.raises(DomainError) as e:
        death_report(width=4)
    assert str(e.value) == "width needs depth" and e.value.param == "depth"
    assert e.value.spell({"width": "--width", "depth": "--depth"}.get) == "--width needs --depth"


@settings(max_examples=40, deadline=None)
@given(k=st.integers(1, 10**5))
@example(k=1).via("one layer")
@example(k=1074).via("smallest subnormal")
@example(k=1075).via("below double range")
def test_sign_flip_guarantee_is_two_to_the_minus_depth(k):
    """Issue 10: 2^-k is computed once, in bounds.death (sim's sign flip and digits check call it)."""
    g = sign_flip_guarantee(k)
    assert g == (math.ldexp(1.0, -k) if k <= 1074 else 0.0)
    assert g == liveness_uniform(3, k).sign_flip_guarantee


def test_sign_flip_guarantee_domain():
    with pytest.raises(DomainError, match="depth must be an integer ≥ 1; got 0"):
        sign_flip_guarantee(0)


# --- issue 11 (fuzz campaign): schedules of huge widths ------------------------------------------
@given(st.dictionaries(st.integers(1, 3000), st.integers(1, 10**6), min_size=1, max_size=40))
@settings(max_examples=60, deadline=None)
@example({64: 1, 65: 3, 10**6: 2})
@example({64: 1, 70: 2, 64 + 4096: 10**6, 64 + 5000: 1})   # terms left out of the fast sum
def test_sum_log1m_fast_path_against_every_term_in_mpmath(exps):
    """`death --depth 1000000 --schedule 1e15,1` took > 30 s: one mpmath log per distinct width.
    Beyond 10^4 distinct widths, those ≥ 64 sum as −2^-e in log space (forced here for small
    dictionaries); reference: every term log1p(−2^-e) at 60 digits."""
    from collections import Counter

    from initbounds.bounds import death

    from unittest import mock

    with mock.patch.object(death, "_LOG1M_EXACT_MAX", 0):
        got = death._sum_log1m(Counter(exps))
    with mp.workdps(60):
        ref = mp.fsum(c * mp.log1p(-mp.power(2, -e)) for e, c in exps.items())
        assert abs(got - ref) <= mp.mpf("1e-14") * abs(ref)


def test_sum_log1m_beyond_the_double_range_of_exponents(monkeypatch):
    """Products of widths (the liveness bound's exponents) beyond 1e308 are summed relative to the
    smallest; reference −c·2^-e summed in mpmath."""
    from collections import Counter

    from initbounds.bounds import death

    e0 = 10**400
    monkeypatch.setattr(death, "_LOG1M_EXACT_MAX", 0)
    got = death._sum_log1m(Counter({e0: 3, e0 + 1: 2, 2 * e0: 1}))
    with mp.workdps(40):
        ref = -(3 * mp.power(2, -e0) + 2 * mp.power(2, -(e0 + 1)))
        assert abs(mp.log(-got) - mp.log(-ref)) < 1e-12


def test_schedule_beyond_doubles_is_refused_naming_schedule():
    from initbounds.bounds.death import schedule_widths

    with pytest.raises(DomainError) as e:
        schedule_widths(10**6, 1e308, 1.0)
    assert e.value.param == "schedule"
