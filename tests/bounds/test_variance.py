"""Length moments and Jacobian fluctuations (HR18, H18; docs/theory.md §6) — issue 5, first part."""
from __future__ import annotations

import math

import pytest
from hypothesis import given, settings, strategies as st

from initbounds.bounds.errors import DomainError
from initbounds.bounds.variance import jacobian_kurtosis_ratio, length_moments, min_width_for_variance


def test_identities():
    lm = length_moments([10, 10])
    assert lm.second_moment_ratio == pytest.approx(2.25) and lm.var_ratio == pytest.approx(1.25)
    assert lm.beta == pytest.approx(0.2) and lm.mean_ratio == 1.0 and lm.fm1 == "preserved"
    assert length_moments([5] * 4, weight_var=3.0).mean_ratio == pytest.approx(1.5**4)
    assert length_moments([5] * 4, weight_var=1.0).fm1 == "vanishing"
    # with biases: E M_d = Σ_j (s²/2)(c/2)^{d−j} + (c/2)^d, at c = 2: 1 + d s²/2
    assert length_moments([5] * 4, bias_var=0.5).mean_with_bias == pytest.approx(1 + 4 * 0.25)
    # docs/theory.md §6: n0 = 8, hidden 16,16,16, c = 1: E Z⁴ = 3/64 · (1 + 5/16)³ ≈ 0.1060
    assert jacobian_kurtosis_ratio(8, [16, 16, 16]) / 64 == pytest.approx(0.1060, abs=5e-5)


@settings(max_examples=40, deadline=None)
@given(w=st.lists(st.integers(1, 500), min_size=1, max_size=30))
def test_bracket_contains_the_exact_variance(w):
    lm = length_moments(w)
    assert lm.var_bracket[0] <= lm.var_ratio * (1 + 1e-12) and lm.var_ratio <= lm.var_bracket[1] * (1 + 1e-12)


def test_extreme_depth_reports_logs():
    lm = length_moments([100] * 100000)
    assert lm.var_ratio is None and lm.log_second_moment_ratio == pytest.approx(1e5 * math.log1p(0.05))


@pytest.mark.parametrize("d, v", [(10, 1.0), (100, 0.5), (1000, 0.1)])
def test_min_width_for_variance_is_smallest(d, v):
    n = min_width_for_variance(d, v)
    assert (1 + 5 / n) ** d - 1 <= v * (1 + 1e-12)
    assert n == 1 or (1 + 5 / (n - 1)) ** d - 1 > v


# --- issue 5, second part: exact second moment for any weight law, the exact law, derivations ----
import itertools
from fractions import Fraction

import numpy as np

from initbounds.bounds.band import band_probability, product_law
from initbounds.bounds.variance import (WEIGHT_LAWS, derive_variance, length_law,
                             second_moment, transfer_matrix, weight_kurtosis)


@settings(max_examples=40, deadline=None)
@given(w=st.lists(st.integers(1, 300), min_size=1, max_size=12), c=st.floats(0.5, 4.0), n0=st.integers(1, 50))
def test_gaussian_zero_bias_reduces_to_the_product(w, c, n0):
    """κ_w = 3, no bias: the 4×4 recursion gives Π (c/2)²(1 + 5/n_j) for any input."""
    sm = second_moment(w, input_dim=n0, weight_var=c)
    lm = length_moments(w, weight_var=c)
    assert sm.log_second_moment == pytest.approx(lm.log_second_moment_ratio, rel=1e-12, abs=1e-12)
    assert sm.flatness_range[0] == pytest.approx(sm.flatness_range[1], rel=1e-12)


def _gaussian_bias_recursion(w, c, s2):
    """Independent exact check: z | h ~ N(0, c M + s²), so ‖h'‖² = (cM + s²) χ²_K and
    E M' = (c E M + s²)/2, E M'² = E(cM + s²)² (n + 5)/(4n) (Fractions, M_0 = 1)."""
    m1, m2 = Fraction(1), Fraction(1)
    for n in w:
        m1, m2 = (c * m1 + s2) / 2, (c * c * m2 + 2 * c * s2 * m1 + s2 * s2) * Fraction(n + 5, 4 * n)
    return m1, m2


@settings(max_examples=30, deadline=None)
@given(w=st.lists(st.integers(1, 64), min_size=1, max_size=8), c=st.fractions(1, 3), s2=st.fractions(0, 2))
def test_gaussian_with_bias_matches_the_chi_square_recursion(w, c, s2):
    m1, m2 = _gaussian_bias_recursion(w, c, s2)
    sm = second_moment(w, input_dim=3, weight_var=float(c), bias_var=float(s2))
    assert sm.mean == pytest.approx(float(m1), rel=1e-12) and sm.second_moment == pytest.approx(float(m2), rel=1e-12)


def test_rademacher_scalar_input_is_a_binomial():
    """n0 = 1, Rademacher: ‖h‖² = σ²x² K, K ~ Bin(n, ½), so E M² = (n + n²)/(4n²)·c² exactly."""
    for n in (1, 2, 7, 40):
        sm = second_moment([n], input_dim=1, weights="rademacher", weight_var=2.0)
        assert sm.second_moment == pytest.approx((n + n * n) / (4 * n * n) * 4, rel=1e-13)


def test_rademacher_enumeration():
    """Exact enumeration of every sign pattern of a 2-2-2 Rademacher net on x = (1, 3)."""
    x = np.array([1.0, 3.0])
    acc1 = acc2 = 0.0
    for s in itertools.product((-1.0, 1.0), repeat=8):
        W1, W2 = np.array(s[:4]).reshape(2, 2), np.array(s[4:]).reshape(2, 2)
        h = np.maximum(W2 @ np.maximum(W1 @ x, 0), 0)            # σ² = 1/2 · c = 1 per entry (c = 2)
        M = (h**2).sum() / 2 / ((x**2).sum() / 2)
        acc1, acc2 = acc1 + M, acc2 + M * M
    q = (x**4).sum() / (x**2).sum() ** 2
    sm = second_moment([2, 2], input_dim=2, weights="rademacher", weight_var=1.0 * 2, input_flatness=q)
    # the enumeration used unit weights, i.e. Var W = 1 = c/n0 with c = 2
    assert sm.mean == pytest.approx(acc1 / 256, rel=1e-13)
    assert sm.second_moment == pytest.approx(acc2 / 256, rel=1e-13)


@pytest.mark.parametrize("law", WEIGHT_LAWS)
def test_flatness_range_brackets_and_orders_by_kurtosis(law):
    sm = second_moment([16, 16, 16], input_dim=8, weights=law)
    lo, hi = sorted(sm.flatness_range)
    assert lo <= sm.second_moment <= hi
    k = float(weight_kurtosis(law))
    # more kurtosis, more fluctuation when the input is spiky (q = 1)
    assert (sm.flatness_range[1] - sm.flatness_range[0]) * (k - 3) >= 0


def test_second_moment_errors():
    with pytest.raises(DomainError, match="weights must be one of"):
        second_moment([4], input_dim=2, weights="cauchy")
    with pytest.raises(DomainError, match=r"input_flatness must be"):
        second_moment([4], input_dim=4, weights="uniform", input_flatness=0.1)
    with pytest.raises(DomainError, match=r"^weight_var must give one value or one per layer \(2\); got 3$"):
        second_moment([4, 4], input_dim=4, weight_var=[2, 2, 2])


def test_extreme_depth_second_moment_is_finite_in_logs():
    sm = second_moment([100] * 100000, input_dim=10, weights="laplace")
    assert sm.second_moment is None and math.isfinite(sm.log_second_moment) and sm.log_second_moment > 1e3


# --- the exact law of M_d/M_0 ---------------------------------------------------------------------
def test_length_law_dead_atom_is_exact():
    law = product_law([8] * 40)
    assert law.p_dead == pytest.approx(-math.expm1(40 * math.log1p(-2.0**-8)), rel=1e-14)
    assert law.cdf[0] >= law.p_dead and law.log_cdf_at(-1e9) == pytest.approx(law.p_dead, rel=1e-14)


@pytest.mark.parametrize("n, L", [(10, 5), (64, 20), (300, 3)])
def test_length_law_band_matches_band_probability(n, L):
    """P(Π_L ∈ [½, 2]) from the law equals the relative-accurate band recursion."""
    law = length_law([n] * L)
    b = band_probability(n, L, 0.5, 2.0, layers="last", rtol=1e-7)
    assert abs((1 - law.p_off_by(2.0)) - b.p_in) <= law.tolerance + b.tolerance


def test_length_law_mixed_widths_vs_quadrature_of_two_layers():
    """Two layers of different widths: P(ρ_1 ρ_2 ≤ r) = ∫ P(ρ_2 ≤ r/t) dF_1(t), summed over fine
    cells of the exact CDF of ρ_1 (an independent computation). The sum's own error is measured
    by halving its cells; the law must agree within its tolerance plus that error."""
    from initbounds.bounds import rho

    n1, n2, r = 6, 30, 0.7

    def reference(points):
        t = np.exp(np.linspace(-12, 4, points))
        F1 = np.exp(rho.log_cdf(n1, t)) - 2.0**-n1
        mid = np.sqrt(t[1:] * t[:-1])
        # dead first layer, dead second layer, ρ_1 below the grid (then ρ_2 ≤ r/ρ_1 surely), the rest
        return (2.0**-n1 + (1 - 2.0**-n1) * 2.0**-n2 + F1[0] * (1 - 2.0**-n2)
                + float(np.sum(np.diff(F1) * (np.exp(rho.log_cdf(n2, r / mid)) - 2.0**-n2))))

    fine, coarse = reference(40001), reference(20001)
    law = length_law([n1, n2])
    assert law.p_below(r) == pytest.approx(fine, abs=law.tolerance + abs(fine - coarse))


@settings(max_examples=15, deadline=None)
@given(w=st.lists(st.integers(1, 200), min_size=1, max_size=6), c=st.floats(1.0, 3.0))
def test_length_law_properties(w, c):
    law = length_law(w, weight_var=c, cells=1024)
    cdf = law.law.cdf
    assert np.all(np.diff(cdf) >= 0) and 0 <= cdf[0] and cdf[-1] <= 1
    assert law.p_below(0.0) == pytest.approx(law.p_dead)
    assert 0 <= law.p_off_by(2.0) <= 1
    q = law.quantile(0.5) if law.p_dead < 0.5 else None
    if q:
        assert law.p_below(q) == pytest.approx(0.5, abs=2 * law.tolerance + 1e-3)


def test_length_law_extremes():
    assert length_law([10**7] * 3).p_off_by(2.0) == 0.0
    law = length_law([100] * 100000)          # depth 10^5: ~10^5 cells, well under a second
    assert 0.99 < law.p_off_by(2.0) <= 1.0 and law.tolerance < 1e-3


# --- derivations: printed = evaluated ---------------------------------------------------------------
def test_derive_variance_steps_evaluate_to_the_toolkit():

    d = derive_variance()
    steps = {i: s.expr for i, s in enumerate(d.steps)}
    rsol = steps[1].rhs
    syms = {str(s): s for s in rsol.free_symbols}
    for c, s2, depth in ((3.0, 0.5, 7), (1.5, 2.0, 4)):
        val = float(rsol.subs({syms["c"]: c, syms["s^2"]: s2, syms["j"]: depth}))
        assert val == pytest.approx(length_moments([9] * depth, weight_var=c, bias_var=s2).mean_with_bias, rel=1e-12)
    nsol = steps[5].rhs
    ns = {str(s): s for s in nsol.free_symbols}
    for depth, v in ((10, 1.0), (100, 0.5)):
        need = float(nsol.subs({ns["d"]: depth, ns["v"]: v}))
        assert min_width_for_variance(depth, v) == math.ceil(need)
    A = steps[6]
    assert A == transfer_matrix()
    gauss = steps[7].rhs
    gs = {str(s): s for s in gauss.free_symbols}
    assert float(gauss.subs({gs["c_j"]: 2, gs["n_j"]: 10})) == pytest.approx(1.5)
    assert "E Z⁴/(E Z²)²" in d.to_text()


def test_jacobian_moments_linear_and_relu():
    from initbounds.bounds.variance import jacobian_moments, jacobian_kurtosis_ratio

    lin = jacobian_moments(8, [16, 16, 16], out_var=2.0)
    assert lin.second == pytest.approx(2 / 8) and lin.ratio == pytest.approx(jacobian_kurtosis_ratio(8, [16] * 3))
    relu = jacobian_moments(8, [16, 16, 16], out_var=2.0, output="relu")
    assert relu.second == pytest.approx(lin.second / 2) and relu.fourth == pytest.approx(lin.fourth / 2)
    assert relu.ratio == pytest.approx(2 * lin.ratio)
    deep = jacobian_moments(4, [10] * 100000)
    assert deep.fourth is None and deep.log_fourth == pytest.approx(math.log(3 / 16) + 1e5 * math.log1p(0.5))


@settings(max_examples=30, deadline=None)
@given(v=st.floats(0.01, 100.0), d=st.integers(1, 10**6))
def test_width_proportional_to_depth_works_at_every_depth(v, d):
    """α = 5/log(1 + v): (1 + 5/(αd))^d − 1 ≤ v for every d, and α is the limit of n(d)/d."""
    from initbounds.bounds.variance import variance_report

    alpha = variance_report([4], target_var=v)["width_for_target_var"]["width_proportional_to_depth_any_depth"]
    n = math.ceil(alpha * d)
    assert d * math.log1p(5 / n) <= math.log1p(v) * (1 + 1e-12)
    assert min_width_for_variance(d, v) <= n


@settings(max_examples=30, deadline=None)
@given(c=st.floats(0.05, 8.0), w=st.lists(st.integers(1, 200), min_size=1, max_size=6), n0=st.integers(1, 50))
def test_jacobian_gains_scale_the_moments_not_the_ratio(c, w, n0):
    """Issue 11: hidden gains c_j multiply Z by Π √(c_j/2) (ReLU masks are scale-free at zero bias)."""
    from initbounds.bounds.variance import jacobian_moments

    he, g = jacobian_moments(n0, w), jacobian_moments(n0, w, weight_var=c)
    assert g.second == pytest.approx(he.second * (c / 2) ** len(w), rel=1e-12)
    assert g.log_fourth == pytest.approx(he.log_fourth + 2 * len(w) * math.log(c / 2), abs=1e-9)
    assert g.ratio == he.ratio


def test_variance_report_jacobian_for_gaussian_zero_bias_only():
    """Issue 11: the Jacobian rows are derived for Gaussian weights and zero bias; other designs say so."""
    from initbounds.bounds.variance import variance_report

    c = variance_report([16, 16, 16], input_dim=8, weight_var=1 / 3)
    assert c["jacobian_second_moment"] == pytest.approx((1 / 3) / 8 * (1 / 6) ** 3, rel=1e-12)
    for kw in ({"weights": "laplace"}, {"bias_var": 0.1}):
        r = variance_report([16, 16, 16], input_dim=8, **kw)
        assert r["jacobian_kurtosis_ratio"] is None and r["jacobian_second_moment"] is None
        assert any("Jacobian moments: Gaussian weights and zero bias only" in n for n in r["notes"])
        assert not any(row[0].startswith("Jacobian") for row in r.rows)


def test_quantiles_below_the_double_range_are_null_beside_their_logs():
    """Issue 11: 30,000 layers of width 16 printed the median of M_d/M_0 as 0.0."""
    from initbounds.bounds.variance import length_law, variance_report

    law = length_law([16] * 30000)
    assert law.quantile(0.05) == 0.0 and law.log_quantile(0.05) == -math.inf      # the dead atom (p ≈ 0.367)
    assert law.quantile(0.5) is None and -6000 < law.log_quantile(0.5) < -4000
    r = variance_report([16] * 30000)
    assert r["law"]["quantiles"]["0.5"] is None and r["law"]["log_quantiles"]["0.5"] == law.log_quantile(0.5)
    shallow = length_law([16] * 8)
    assert shallow.quantile(0.5) == pytest.approx(math.exp(shallow.log_quantile(0.5)), rel=1e-15)


# --- issue 11 ------------------------------------------------------------------------------------
def test_issue11_quantiles_above_the_double_range_are_null_beside_their_logs():
    """`variance --widths 141×6 --weight-var 1e308` raised OverflowError in quantile. The law of
    M_d/M_0 is the He law shifted by 6·log(c/2) (mpmath), so the log-quantiles are the He ones plus it."""
    import mpmath as mp

    from initbounds.bounds.variance import length_law, variance_report

    out = variance_report([141] * 6, weight_var=1e308).as_dict()["law"]
    he = length_law([141] * 6)
    shift = float(6 * mp.log(mp.mpf(1e308) / 2))
    for p in ("0.05", "0.5", "0.95"):
        assert out["quantiles"][p] is None
        assert out["log_quantiles"][p] == pytest.approx(he.log_quantile(float(p)) + shift, rel=1e-12)


def test_issue11_width_for_a_tiny_variance_target_is_exact_and_fast():
    """`variance --widths 100,100 --target-var 1e-300` hung (the ceiling stepped by 1 at 30 digits).
    The answer n is the least width with (1 + 5/n)² − 1 ≤ v, checked at 700 digits."""

    import mpmath as mp

    from initbounds.bounds.variance import min_width_for_variance
    n = min_width_for_variance(2, 1e-300)
    with mp.workdps(700):
        v = mp.mpf(1e-300)
        assert (1 + mp.mpf(5) / n) ** 2 - 1 <= v < (1 + mp.mpf(5) / (n - 1)) ** 2 - 1


def test_issue11_off_by_two_at_width_1e7_is_below_the_smallest_double_and_fast():
    """`variance --widths 10^7×3` took 21–274 s in the band recursion to return 0. Independent bound
    (Cramér, rho.rate): P(off by > 2×) ≤ 3·2^{−n} + 3[e^{−n I(2^{1/3})} + e^{−n I(2^{−1/3})}] < 1e-320,
    so 0.0 is its value in doubles."""

    import mpmath as mp

    from initbounds.bounds import rho
    from initbounds.bounds.variance import p_length_off_by, variance_report

    n = 10**7
    with mp.workdps(30):
        bound = 3 * (mp.power(2, -n) + mp.exp(-n * rho.rate(mp.cbrt(2))) + mp.exp(-n * rho.rate(1 / mp.cbrt(2))))
    assert bound < mp.mpf("1e-320")
    off = p_length_off_by([n] * 3)
    rep = variance_report([n] * 3)
    assert off["p"] == 0.0 and off["log_p_upper"] < -745 and rep["law"]["p_off_by_2"] == 0.0


def test_issue11_mean_and_var_ratio_logs_beside_values_beyond_doubles():
    """Issue 11 (fuzz campaign): at --weight-var 1e308 the JSON's mean_ratio and var_ratio were null
    with no log. Their logs are now beside them; reference: mpmath at 40 digits."""
    import mpmath as mp

    from initbounds.bounds.variance import variance_report

    d = variance_report([1, 1], weight_var=1e308).as_dict()
    assert d["mean_ratio"] is None and d["var_ratio"] is None
    with mp.workdps(40):
        c = mp.mpf(1e308)
        mean = (c / 2) ** 2
        second = mean ** 2 * (1 + mp.mpf(5)) ** 2
        assert abs(d["log_mean_ratio"] - float(mp.log(mean))) < 1e-12 * float(mp.log(mean))
        assert abs(d["log_var_ratio"] - float(mp.log(second - mean ** 2))) < 1e-12 * float(mp.log(second))
    small = variance_report([4, 4, 7], weight_var=[1.5, 2.0, 2.5]).as_dict()
    assert math.isclose(small["log_mean_ratio"], math.log(small["mean_ratio"]), rel_tol=1e-13, abs_tol=1e-15)
    assert math.isclose(small["log_var_ratio"], math.log(small["var_ratio"]), rel_tol=1e-13)


def test_issue11_check_design_keeps_the_exact_band_answer():
    """Issue 11 (integration): after band gained its own cost model, a stale gate built on the old
    grid rule sent `check`'s default design (6 layers of width 2048) to a Chernoff bound
    (1.27e-7 ± 1.3e-7 instead of 1.7232e-8 ± 1e-15). The exact band answer is back; reference:
    the exact law by convolution (an independent algorithm) within its own tolerance."""
    from initbounds.bounds.band import product_law
    from initbounds.bounds.variance import p_length_off_by

    off = p_length_off_by([2048] * 6, 2.0)
    assert off["method"] == "exact band recursion, relative accuracy"
    law = product_law([2048] * 6)
    ref = law.p_below(0.5) + law.p_above(2.0)
    assert abs(off["p"] - ref) <= off["tolerance"] + law.tolerance
    assert off["tolerance"] < 1e-6 * off["p"]
