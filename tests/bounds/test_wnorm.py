"""Weight-normalized layers (AB19 v1; docs/theory.md §12): the one-layer law and the widths.

Identities (sympy expressions = fast paths; Beta moments = mpmath quadrature; integer moments =
the multinomial expansion in exact rationals; the MGF's Taylor series = the moments), special
cases (m = 1 lattice, n = 1 one Beta), the limit m → ∞ (the ρ law of bounds.rho), the CDF against
mpmath quadrature within its stated tolerance, properties with hypothesis (CDF monotone and in
[0, 1]; every method's bound ≥ the exact failure probability; widths monotone), and extreme
inputs. No torch here.
"""
from __future__ import annotations

import math
import random
from fractions import Fraction

import mpmath as mp
import numpy as np
import pytest
import sympy as sy
from hypothesis import example, given, settings, strategies as st

from initbounds.bounds import band, rho, wnorm
from initbounds.bounds.band import band_for_eps
from initbounds.bounds.errors import CostLimitError, DomainError

S = wnorm._symbolic()
m_, n_, g_ = S["m_sym"], S["n_sym"], S["g_sym"]


# --- sympy expressions = fast paths -------------------------------------------------------------------
@pytest.mark.parametrize("m, n, g", [(1, 1, 1.0), (3, 7, 0.4), (64, 16, 2.5), (1000, 3, 1.0)])
def test_mean_and_variance_fast_paths_equal_the_sympy_expressions(m, n, g):
    vals = {m_: m, n_: n, g_: sy.Rational(str(g))}
    assert wnorm.mean_ratio(m, n, gain=g) == pytest.approx(float(S["MEAN_EXPR"].subs(vals)), rel=1e-14)
    assert wnorm.var_ratio(m, n, gain=g) == pytest.approx(float(S["VAR_EXPR"].subs(vals)), rel=1e-13)
    assert wnorm.norm_preserving_gain(m, n) == pytest.approx(float(S["GAIN_EXPR"].subs({m_: m, n_: n})), rel=1e-15)


def test_norm_preserving_gain_gives_mean_one_and_g_one_halves():
    assert sy.simplify(S["MEAN_EXPR"].subs(g_, S["GAIN_EXPR"])) == 1
    assert wnorm.mean_ratio(12, 12) == 1.0
    assert wnorm.mean_ratio(12, 12, gain=1.0) == 0.5
    assert wnorm.norm_preserving_gain(9, 9) == math.sqrt(2.0)


@pytest.mark.parametrize("m", [2, 3, 7, 50])
@pytest.mark.parametrize("r", [1, 2, 3])
def test_beta_moments_equal_quadrature(m, r):
    """E (u²)^r for u the first coordinate of a uniform unit vector in R^m, by quadrature over the
    Beta(1/2, (m−1)/2) density."""
    expr = S["BETA_MOMENT_EXPR"].subs({m_: m, S["r_sym"]: r})
    with mp.workdps(30):
        a, b = mp.mpf(1) / 2, mp.mpf(m - 1) / 2
        # u = sin²φ removes the endpoint singularities of the density
        q = mp.quad(lambda p: 2 * mp.sin(p) ** (2 * (r + a) - 1) * mp.cos(p) ** (2 * b - 1), [0, mp.pi / 2]) / mp.beta(a, b)
        assert abs(mp.mpf(sy.N(expr, 30)) - q) < mp.mpf(10) ** -20 * q


def _exact_moment(m: int, n: int, j: int) -> Fraction:
    """E X^j at the norm-preserving gain, in rationals: X = (1/n) Σ U_i, U = 2m u²1[u>0], by the
    multinomial expansion over the n i.i.d. units (small n only)."""
    mu = [Fraction(1)]
    for r in range(1, j + 1):
        v = Fraction(1, 2) * (2 * m) ** r
        for i in range(r):
            v *= Fraction(2 * i + 1, 2) / Fraction(m + 2 * i, 2)
        mu.append(v)
    # e.g.f. power: E S^j = j!·[t^j] (Σ mu_r t^r/r!)^n
    base = [mu[r] / math.factorial(r) for r in range(j + 1)]
    acc = [Fraction(1)] + [Fraction(0)] * j
    for _ in range(n):
        acc = [sum(acc[s] * base[r - s] for s in range(r + 1)) for r in range(j + 1)]
    return acc[j] * math.factorial(j) / Fraction(n) ** j


@pytest.mark.parametrize("m, n", [(1, 1), (1, 5), (2, 3), (6, 4), (9, 9), (40, 7)])
def test_integer_moments_are_exact(m, n):
    lm = wnorm.log_moments_int(m, n, 6)
    for j in range(7):
        exact = _exact_moment(m, n, j)
        assert math.exp(lm[j]) == pytest.approx(float(exact), rel=1e-12)
    # E X² = 1 + Var X
    assert math.exp(lm[2]) == pytest.approx(1.0 + wnorm.var_ratio(m, n), rel=1e-13)


def test_moments_scale_with_the_gain_and_lyapunov_bound_is_exact_at_integers():
    g = 0.7
    c = wnorm.mean_ratio(5, 8, gain=g)
    assert wnorm.moment(5, 8, 3, gain=g) == pytest.approx(c**3 * wnorm.moment(5, 8, 3), rel=1e-13)
    assert wnorm.log_moment_bound(5, 8, 3) == pytest.approx(float(wnorm.log_moments_int(5, 8, 3)[3]), rel=1e-15)
    # a real order: the Lyapunov bound is above the exact value (quadrature over the exact law is
    # not available; check it against Jensen's lower bound (E X^2)^{p/2} ≤ E X^p for p ≥ 2)
    p = 2.5
    assert wnorm.log_moment_bound(5, 8, p) >= p / 2 * float(wnorm.log_moments_int(5, 8, 2)[2])


@pytest.mark.parametrize("m, n, t", [(1, 4, 0.3), (3, 5, -2.0), (20, 6, 0.8), (200, 10, 1.5)])
def test_log_mgf_matches_its_taylor_series_from_the_exact_moments(m, n, t):
    lm = wnorm.log_moments_int(m, n, 60)
    with mp.workdps(30):
        series = mp.fsum(mp.e ** float(lm[j]) * mp.mpf(t) ** j / mp.factorial(j) for j in range(61))
        assert wnorm.log_mgf(m, n, t) == pytest.approx(float(mp.log(series)), rel=1e-12, abs=1e-13)


# --- the CDF -----------------------------------------------------------------------------------------
def test_m_equal_one_is_the_binomial_lattice():
    n, g = 6, 1.3
    r = wnorm.law_cdf(1, n, [g * g * k for k in range(n + 1)], gain=g)
    exact = np.cumsum([math.comb(n, k) / 2**n for k in range(n + 1)])
    np.testing.assert_allclose(r.cdf, exact, rtol=1e-14)


def test_width_one_is_one_beta_with_an_atom():
    from scipy.special import betainc

    m, g = 5, 1.0
    x = np.array([0.0, 0.01, 0.2, 0.9, 1.0])
    np.testing.assert_allclose(wnorm.cdf(m, 1, x, gain=g), 0.5 + 0.5 * betainc(0.5, 2.0, x), rtol=1e-14)


def _cdf_quad_two(m: int, t: float) -> float:
    """P(T ≤ t), T = u₁²1[u₁>0] + u₂²1[u₂>0] (n = 2), by mpmath quadrature of the Beta convolution."""
    with mp.workdps(20):
        a, b = mp.mpf(1) / 2, mp.mpf(m - 1) / 2
        B = mp.beta(a, b)

        def F(x):
            return mp.betainc(a, b, 0, min(max(x, 0), 1), regularized=True)

        # P(B₁ + B₂ ≤ t) = ∫ f(u) F(t − u) du; substitute u = s² to remove the u^{-1/2} singularity
        up = mp.sqrt(min(t, 1))
        conv = mp.quad(lambda s: 2 * (1 - s * s) ** (b - 1) / B * F(t - s * s), [0, up / 2, up])
        return float(mp.mpf(1) / 4 + F(t) / 2 + conv / 4)


@pytest.mark.parametrize("m", [3, 8])
def test_cdf_within_its_stated_tolerance_of_quadrature(m):
    ts = [0.05, 0.3, 0.7, 1.2]
    r = wnorm.law_cdf(m, 2, ts, gain=1.0)
    for t, v in zip(ts, r.cdf):
        assert abs(v - _cdf_quad_two(m, t)) <= r.tolerance


@pytest.mark.parametrize("m, n", [(40, 40), (3000, 3000), (3, 20)])
def test_lattice_error_is_second_order_for_smooth_laws(m, n):
    """Where the law of the K ≥ 2 part is smooth, the change between grids shrinks about fourfold
    per halving of the cells (ratio in [3.5, 4.5]) and the two extrapolates agree far better than
    the raw grids."""
    xs = wnorm._lattice_table(m, n, wnorm._LEVELS[-1])[0]
    xs = xs[:: max(1, len(xs) // 4000)]
    v = [wnorm._lattice_cdf(m, n, c, xs)[0] for c in wnorm._LEVELS]
    d1, d2 = np.max(np.abs(v[1] - v[0])), np.max(np.abs(v[2] - v[1]))
    assert 3.5 <= d1 / d2 <= 4.5
    r1, r2, _ = wnorm._extrapolates(m, n, xs)
    assert np.max(np.abs(r2 - r1)) < 0.2 * d2


@pytest.mark.parametrize("m, n", [(5, 3), (2, 2), (2, 8), (8, 8), (40, 40)])
def test_stated_tolerance_covers_the_next_refinement(m, n):
    """Small widths have a first-order part (the density of two Beta terms jumps at 0; m = 2 has an
    arcsine singularity at 1): the change between the extrapolates is then the error of the second
    one. Either way, the extrapolate from one more halving (192 cells per 1/m) lies within the
    stated tolerance of the value."""
    xs = wnorm._lattice_table(m, n, wnorm._LEVELS[-1])[0]
    xs = xs[:: max(1, len(xs) // 4000)]
    _, r2, _ = wnorm._extrapolates(m, n, xs)
    v2 = wnorm._lattice_cdf(m, n, wnorm._LEVELS[-1], xs)[0]
    v3 = wnorm._lattice_cdf(m, n, 2 * wnorm._LEVELS[-1], xs)[0]
    r3 = v3 + (v3 - v2) / 3.0
    assert np.max(np.abs(r3 - r2)) <= wnorm._global_tolerance(m, n)


@pytest.mark.parametrize("n", [4, 16])
def test_the_law_tends_to_the_rho_law_as_the_fan_in_grows(n):
    xs = np.array([0.2, 0.7, 1.0, 1.4, 2.5])
    gaps = [float(np.max(np.abs(wnorm.cdf(m, n, xs) - rho.cdf(n, xs)))) for m in (10, 1000, 10**5)]
    assert gaps[0] > gaps[1] > gaps[2]
    assert gaps[2] < 1e-4
    assert wnorm.rate(10**6, n, 1.3) == pytest.approx(float(rho.rate(1.3)), rel=1e-4)
    assert n * wnorm.var_ratio(10**7, n) == pytest.approx(5.0, rel=1e-5)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(m=st.integers(2, 60), n=st.integers(2, 40), xs=st.lists(st.floats(0.0, 4.0), min_size=2, max_size=6))
@example(m=2, n=2, xs=[0.0, 0.001])
def test_cdf_is_monotone_and_in_unit_interval(m, n, xs):
    xs = np.sort(np.array(xs))
    v = wnorm.cdf(m, n, xs)
    assert np.all((v >= 0.0) & (v <= 1.0))
    assert np.all(np.diff(v) >= 0.0)
    assert v[0] >= 2.0 ** -n * (1 - 1e-12)     # the atom at 0


# --- the rate and the width bounds are bounds -------------------------------------------------------
@settings(max_examples=20, deadline=None, derandomize=True)
@given(m=st.integers(2, 40), n=st.integers(2, 40), r=st.floats(0.2, 3.0))
def test_chernoff_bound_is_above_the_exact_tail(m, n, r):
    mean = wnorm.mean_ratio(m, n)
    if abs(r - mean) < 1e-3:
        return
    law = wnorm.law_cdf(m, n, [r])
    tail = float(law.cdf[0]) if r < mean else 1.0 - float(law.cdf[0])
    assert math.exp(-n * wnorm.rate(m, n, r)) >= tail - law.tolerance


@settings(max_examples=15, deadline=None, derandomize=True)
@given(n=st.integers(2, 60), eps=st.floats(0.05, 0.9))
def test_each_method_bounds_the_exact_one_layer_failure(n, eps):
    """Depth 1, one input: the exact failure probability P(X ∉ [1 − ε, 1 + ε]) (the CDF, less its
    tolerance) is below the per-layer and product bounds."""
    lo, hi = band_for_eps(eps, "squared")
    law = wnorm.law_cdf(n, n, [lo, hi])
    exact = float(law.cdf[0] + 1.0 - law.cdf[1]) - 2 * law.tolerance
    assert math.exp(wnorm._log_fail_per_layer_wn(n, 1, 1, lo, hi)) >= exact
    assert math.exp(wnorm._log_fail_product_wn(n, 1, lo, hi, "all")) >= exact


@pytest.mark.parametrize("method", ["chernoff_per_layer", "chernoff_product"])
@pytest.mark.parametrize("design", [(3, 4, 0.1, 0.5), (1, 1, 0.3, 0.9), (10, 100, 1e-6, 0.2)])
def test_min_width_is_the_smallest_width_meeting_delta(method, design):
    L, N, delta, eps = design
    r = wnorm.min_width(method, L, N, delta, eps)
    lo, hi = band_for_eps(eps, "squared")

    def logf(n):
        if method == "chernoff_per_layer":
            return wnorm._log_fail_per_layer_wn(n, L, N, lo, hi)
        return math.log(N) + wnorm._log_fail_product_wn(n, L, lo, hi, "all")

    assert logf(r.min_width) <= math.log(delta)
    assert r.min_width == 1 or logf(r.min_width - 1) > math.log(delta)


def test_method_ordering_and_exact_union_refuses_below_its_tolerance():
    res = {r.name: r for r in wnorm.min_widths(3, 4, 0.1, 0.5)}
    assert res["exact_union"].min_width <= res["chernoff_product"].min_width <= res["chernoff_per_layer"].min_width
    tiny = {r.name: r for r in wnorm.min_widths(3, 4, 1e-12, 0.5)}
    assert tiny["exact_union"].min_width is None and "tolerance" in tiny["exact_union"].notes[0]
    # the authors' curve is the Gaussian-weight one, unchanged
    from initbounds.bounds import width as W

    assert res["authors_formula"].min_width == W.min_width("authors_formula", 3, 4, 0.1, 0.5).min_width


@settings(max_examples=8, deadline=None, derandomize=True)
@given(L=st.integers(1, 6), N=st.integers(1, 50), k=st.integers(1, 3))
def test_per_layer_width_is_monotone_in_depth_samples_and_delta(L, N, k):
    base = wnorm.min_width("chernoff_per_layer", L, N, 0.1, 0.4).min_width
    assert wnorm.min_width("chernoff_per_layer", L + k, N, 0.1, 0.4).min_width >= base
    assert wnorm.min_width("chernoff_per_layer", L, N * (k + 1), 0.1, 0.4).min_width >= base
    assert wnorm.min_width("chernoff_per_layer", L, N, 0.1 / (k + 1), 0.4).min_width >= base


# --- extreme inputs and errors -----------------------------------------------------------------------
def test_extreme_inputs_answer_or_refuse_in_one_line():
    for design in [(10**5, 1, 1e-300, 0.5), (1, 10**9, 1e-300, 1e-6), (100, 1, 1e-300, 0.01)]:
        for r in wnorm.min_widths(*design):
            assert r.min_width is None or r.min_width >= 1
            if r.min_width is None:
                assert len(r.notes) == 1 and "\n" not in r.notes[0]
    assert len(wnorm.log_moments_int(10**7, 10**7, 8)) == 9
    with pytest.raises(CostLimitError, match="2\\^53"):
        wnorm.rate(2**54, 4, 1.1)
    with pytest.raises(CostLimitError, match="FFT"):
        wnorm.law_cdf(10**9, 10**9, [1.0])


def test_bad_arguments_name_the_parameter():
    with pytest.raises(DomainError, match="gain must be in"):
        wnorm.mean_ratio(3, 3, gain=0.0)
    with pytest.raises(DomainError, match="fan_in must be an integer ≥ 1"):
        wnorm.var_ratio(0, 3)
    with pytest.raises(DomainError, match="p must be an integer"):
        wnorm.moment(3, 3, 1.5)
    with pytest.raises(DomainError, match="x must be finite"):
        wnorm.cdf(3, 3, [math.nan])


def test_derivation_steps_and_sympy_results():
    d = wnorm.derive_wnorm()
    text = d.to_text()
    assert "Beta" in text and len(d.steps) == 10
    # the printed limit and the printed m = n variance are sympy's, checked here at random points
    rnd = random.Random(3)
    v = sy.factor(S["VAR_EXPR"].subs(g_, S["GAIN_EXPR"]).subs(m_, n_))
    for _ in range(5):
        k = rnd.randint(1, 10**6)
        assert float(v.subs(n_, k)) == pytest.approx(wnorm.var_ratio(k, k), rel=1e-12)


# --- the band recursion's law interface ----------------------------------------------------------------
class _RhoLaw(band.OneLayerLaw):
    """ρ's own law through the interface: must give the default's probabilities."""

    def __init__(self, n):
        self.width = n

    def __hash__(self):
        return hash(("rho", self.width))

    def __eq__(self, other):
        return isinstance(other, _RhoLaw) and other.width == self.width

    def log_cdf_alive(self, x):
        return band._lcdf_alive(self.width, x)

    def log_sf(self, x):
        return band._lsf(self.width, x)

    def log_moments(self):
        return rho.log_moments(self.width)

    @property
    def far_mass(self):
        return band._far_mass(self.width)


@pytest.mark.parametrize("n, L, layers", [(12, 1, "all"), (40, 5, "all"), (40, 5, "last"), (300, 3, "all")])
def test_law_interface_reproduces_the_default_law(n, L, layers):
    a = band.band_probability(n, L, 0.6, 1.5, layers=layers, rtol=1e-6)
    b = band.band_probability(n, L, 0.6, 1.5, layers=layers, rtol=1e-6, law=_RhoLaw(n))
    assert b.logp_fail == pytest.approx(a.logp_fail, rel=1e-12, abs=1e-14)


def test_weight_normalized_band_tends_to_rho_and_stays_within_its_tolerance():
    law = wnorm.wnorm_law(10**7, 30)           # fan-in 10^7: the law is within 1e-6 of ρ's at width 30
    for layers in ("all", "last"):
        a = band.band_probability(30, 4, 0.5, 1.5, layers=layers)
        b = band.band_probability(30, 4, 0.5, 1.5, layers=layers, law=law)
        assert abs(a.p_in - b.p_in) <= b.tolerance + a.tolerance + 1e-5
    with pytest.raises(DomainError, match="law must be"):
        band.band_probability(31, 2, 0.5, 1.5, law=law)


def test_weight_normalized_depth_one_band_is_the_cdf():
    law = wnorm.wnorm_law(20, 20)
    r = band.band_probability(20, 1, 0.7, 1.3, law=law)
    c = wnorm.law_cdf(20, 20, [0.7, 1.3])
    assert r.p_in == pytest.approx(float(c.cdf[1] - c.cdf[0]), abs=2 * c.tolerance + r.tolerance)


@pytest.mark.parametrize("m, n", [(5, 3), (40, 40), (2000, 2000)])
def test_direct_index_interpolation_equals_np_interp(m, n):
    for cps in wnorm._LEVELS:
        xs, cum, total, _, _ = wnorm._lattice_table(m, n, cps)
        t = np.concatenate([np.linspace(-0.1, 1.2 * xs[-1], 3001), xs[:40], [0.0, xs[0], xs[-1]]])
        np.testing.assert_allclose(wnorm._lattice_cdf(m, n, cps, t)[0], np.interp(t, xs, cum, left=0.0, right=total),
                                   rtol=0, atol=1e-12)


def test_width_one_band_is_exact():
    # X = g² with probability ½, else 0: Π_l = g^{2l} with probability 2^{-l}
    r = wnorm._band_width_one(3, 0.5, 1.5, 1.0, "all")
    assert r.p_in == 0.125
    assert wnorm._band_width_one(3, 0.5, 1.5, 2.0, "all").p_in == 0.0
    assert wnorm._band_width_one(1, 0.5, 2.5, 2.0, "last").p_in == 0.5
