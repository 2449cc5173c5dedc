"""Intervals and tests of sim/stats.py: defining identities, exact coverage, properties, errors.

Complements test_estimators.py. Binomial intervals are checked against the equations that define
them (scipy.stats.binom tails), not against typed-in numbers.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import example, given, settings, strategies as st
from scipy import stats as sst

from initbounds.bounds.errors import DomainError
from initbounds.sim import stats


# --- binomial intervals ---------------------------------------------------------------------------


@pytest.mark.parametrize("k, n", [(1, 10), (5, 10), (9, 10), (3, 1000), (500, 1000)])
@pytest.mark.parametrize("level", [0.9, 0.99])
def test_clopper_pearson_solves_its_defining_equations(k, n, level):
    """lo solves P(X ≥ k | lo) = α/2 and hi solves P(X ≤ k | hi) = α/2 (X ~ Bin(n, p))."""
    a = 1 - level
    lo, hi = stats.clopper_pearson(k, n, level)
    assert sst.binom.sf(k - 1, n, lo) == pytest.approx(a / 2, rel=1e-9)
    assert sst.binom.cdf(k, n, hi) == pytest.approx(a / 2, rel=1e-9)
    # one-sided bounds at level (1 + level)/2 are the two ends
    assert stats.clopper_pearson_lower(k, n, 1 - a / 2) == pytest.approx(lo, rel=1e-12)
    assert stats.clopper_pearson_upper(k, n, 1 - a / 2) == pytest.approx(hi, rel=1e-12)


def test_clopper_pearson_ends_and_closed_forms():
    assert stats.clopper_pearson(0, 10, 0.95)[0] == 0.0
    assert stats.clopper_pearson_lower(0, 10, 0.95) == 0.0
    assert stats.clopper_pearson(10, 10, 0.95)[1] == 1.0
    assert stats.clopper_pearson_upper(10, 10, 0.95) == 1.0
    # k = 0: P(X = 0 | p) = (1 − p)^n = α/2 gives hi = 1 − (α/2)^{1/n}; k = n: lo = (α/2)^{1/n}
    assert stats.clopper_pearson(0, 20, 0.9)[1] == pytest.approx(1 - 0.05 ** (1 / 20), rel=1e-12)
    assert stats.clopper_pearson(20, 20, 0.9)[0] == pytest.approx(0.05 ** (1 / 20), rel=1e-12)
    assert stats.wilson(0, 7, 0.95)[0] == 0.0 and stats.wilson(7, 7, 0.95)[1] == 1.0


@pytest.mark.parametrize("n, p", [(20, 0.03), (20, 0.5), (100, 0.1), (300, 0.99)])
def test_clopper_pearson_exact_coverage_is_at_least_the_level(n, p):
    """Coverage Σ_k P(X = k)·1[p ∈ CI(k)] computed exactly over all k (no simulation)."""
    for level in (0.9, 0.99):
        ks = np.arange(n + 1)
        cover = sum(sst.binom.pmf(k, n, p) for k in ks if stats.clopper_pearson(int(k), n, level)[0] <= p
                    <= stats.clopper_pearson(int(k), n, level)[1])
        assert cover >= level
        upper = sum(sst.binom.pmf(k, n, p) for k in ks if p <= stats.clopper_pearson_upper(int(k), n, level))
        lower = sum(sst.binom.pmf(k, n, p) for k in ks if stats.clopper_pearson_lower(int(k), n, level) <= p)
        assert upper >= level and lower >= level


def test_wilson_solves_the_score_equation():
    """Wilson's ends are the two p with |p̂ − p| = z·√(p(1 − p)/n)."""
    k, n, level = 7, 40, 0.95
    z = sst.norm.ppf(0.975)
    for p in stats.wilson(k, n, level):
        assert abs(k / n - p) == pytest.approx(z * math.sqrt(p * (1 - p) / n), rel=1e-10)


@settings(max_examples=200, deadline=None)
@given(n=st.integers(1, 10**6), frac=st.floats(0, 1), level=st.floats(0.5, 0.999999))
@example(n=1, frac=0.0, level=0.999999)
@example(n=1, frac=1.0, level=0.5)
@example(n=10**6, frac=1e-6, level=0.99)
def test_intervals_contain_k_over_n_and_are_ordered(n, frac, level):
    k = int(round(frac * n))
    for f in (stats.wilson, stats.clopper_pearson):
        lo, hi = f(k, n, level)
        assert isinstance(lo, float) and isinstance(hi, float)
        assert 0.0 <= lo <= k / n <= hi <= 1.0
    lo1 = stats.clopper_pearson_lower(k, n, level)
    hi1 = stats.clopper_pearson_upper(k, n, level)
    assert 0.0 <= lo1 <= k / n <= hi1 <= 1.0
    # a one-sided bound at the same level is tighter than the two-sided interval's end
    lo2, hi2 = stats.clopper_pearson(k, n, level)
    assert lo2 <= lo1 and hi1 <= hi2


@settings(max_examples=100, deadline=None)
@given(n=st.integers(1, 5000), frac=st.floats(0, 1), a=st.floats(0.5, 0.99), b=st.floats(0.5, 0.99))
def test_higher_level_gives_a_wider_interval(n, frac, a, b):
    k = int(round(frac * n))
    lo_a, hi_a = stats.clopper_pearson(k, n, min(a, b))
    lo_b, hi_b = stats.clopper_pearson(k, n, max(a, b))
    assert lo_b <= lo_a and hi_a <= hi_b


# --- means ----------------------------------------------------------------------------------------


def test_mean_ci_formula():
    x = np.array([2.0, 4.0, 9.0, 1.0])
    m, lo, hi = stats.mean_ci(x, 0.9)
    half = sst.norm.ppf(0.95) * x.std(ddof=1) / 2.0
    assert (m, lo, hi) == pytest.approx((4.0, 4.0 - half, 4.0 + half), rel=1e-14)
    # no support known: a constant sample keeps the (collapsed) normal ends — documented; with the
    # support, the exact interval of issue 11 (next tests)
    assert stats.mean_ci([3.0, 3.0], 0.99) == (3.0, 3.0, 3.0)
    assert stats.mean_ci([3.0, 3.0], 0.99, lo=0, hi=10)[2] > 3.0


def test_bootstrap_is_reproducible_and_blocked_resampling_is_unbiased():
    """A sample larger than one block (2^22 indices / 2^13 values = 512 resamples per block):
    same rng seed, same interval; and the interval agrees with the normal one for normal data.

    Normal data, T = 8192 (seed 5): the bootstrap quantiles estimate m ± z·s/√T; with 1200
    resamples their own Monte Carlo error is about 4% of the half-width, so a 15% agreement
    check decides nothing by chance.
    """
    x = np.random.default_rng(5).normal(size=8192)
    a = stats.bootstrap_mean_ci(x, 0.9, rng=np.random.default_rng(1), resamples=1200)
    b = stats.bootstrap_mean_ci(x, 0.9, rng=np.random.default_rng(1), resamples=1200)
    assert a == b
    m, lo, hi = stats.mean_ci(x, 0.9)
    assert a[0] == m
    assert abs((a[2] - a[1]) / (hi - lo) - 1) < 0.15
    assert abs((a[1] + a[2]) / 2 - m) < 0.15 * (hi - lo) / 2


# --- KS and Bonferroni ----------------------------------------------------------------------------


def test_ks_statistic_and_decision():
    x = np.linspace(0.005, 0.995, 100)
    d, p = stats.ks_test(x, lambda v: np.clip(v, 0.0, 1.0))
    assert d == pytest.approx(0.005, abs=1e-12) and p > 0.99
    # a clearly wrong law is rejected: uniforms against Exp(1) (seed 2)
    u = np.random.default_rng(2).uniform(size=2000)
    d, p = stats.ks_test(u, lambda v: 1 - np.exp(-np.maximum(v, 0.0)))
    assert p < 1e-10 and d > stats.ks_critical(2000, 0.9999)


def test_bonferroni():
    assert stats.bonferroni(0.95, 1) == 0.95
    assert stats.bonferroni(0.99, 4) == pytest.approx(0.9975, rel=1e-15)
    assert stats.bonferroni(1 - 1e-4, 2) == pytest.approx(1 - 5e-5, rel=1e-15)


# --- argument checks ------------------------------------------------------------------------------


@pytest.mark.parametrize("call, msg", [
    (lambda: stats.clopper_pearson(3, 2), "k must be an integer in [0, 2]; got 3"),
    (lambda: stats.clopper_pearson(-1, 2), "k must be an integer in [0, 2]; got -1"),
    (lambda: stats.clopper_pearson(True, 2), "k must be an integer in [0, 2]; got True"),
    (lambda: stats.clopper_pearson(1.5, 2), "k must be an integer in [0, 2]; got 1.5"),
    (lambda: stats.wilson(0, 0), "n must be an integer ≥ 1; got 0"),
    (lambda: stats.clopper_pearson_upper(1, 5, 0.0), "level must be in (0, 1); got 0.0"),
    (lambda: stats.clopper_pearson_lower(1, 5, 1), "level must be in (0, 1); got 1"),
    (lambda: stats.wilson(1, 5, float("nan")), "level must be a real number in (0, 1); got nan"),
    (lambda: stats.wilson(1, 5, True), "level must be a real number in (0, 1); got True"),
    (lambda: stats.mean_ci([1.0], 0.9), "x must hold at least 2 values; got 1"),
    (lambda: stats.mean_ci([1.0, float("inf")], 0.9), "x must be finite"),
    (lambda: stats.bootstrap_mean_ci([1.0, 2.0], 0.9, rng=np.random.default_rng(0), resamples=10),
     "resamples must be an integer ≥ 100; got 10"),
    (lambda: stats.bootstrap_mean_ci([1.0, 2.0], 0.9, rng=0), "rng must be a numpy.random.Generator; got 0"),
    (lambda: stats.ks_test([], lambda v: v), "samples must hold at least 1 value; got 0"),
    (lambda: stats.ks_test([0.5, float("nan")], lambda v: v), "samples must be finite"),
    (lambda: stats.ks_test([0.5], "uniform"),
     "cdf must be a callable cdf(values) -> probabilities; got 'uniform'"),
    (lambda: stats.ks_critical(0, 0.9), "n must be an integer ≥ 1; got 0"),
    (lambda: stats.bonferroni(0.95, 0), "m must be an integer ≥ 1; got 0"),
])
def test_errors(call, msg):
    with pytest.raises(ValueError) as e:        # DomainError is a ValueError
        call()
    assert isinstance(e.value, DomainError)
    assert str(e.value) == msg


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 5000), frac=st.floats(0, 1), level=st.floats(0.5, 0.9999))
def test_intervals_contain_the_observed_fraction(n, frac, level):
    k = int(round(frac * n))
    for f in (stats.wilson, stats.clopper_pearson):
        lo, hi = f(k, n, level)
        assert 0.0 <= lo <= k / n <= hi <= 1.0
    assert stats.clopper_pearson_lower(k, n, level) <= k / n <= stats.clopper_pearson_upper(k, n, level)


def test_clopper_pearson_edge_cases_and_known_values():
    assert stats.clopper_pearson(0, 10, 0.95)[0] == 0.0
    assert stats.clopper_pearson(10, 10, 0.95)[1] == 1.0
    # rule of three: the one-sided 95% upper bound for 0/n is 1 − 0.05^{1/n}
    assert stats.clopper_pearson_upper(0, 100, 0.95) == pytest.approx(1 - 0.05 ** (1 / 100), rel=1e-12)


def test_mean_ci_coverage_is_statistical():
    """95% normal intervals over 2000 independent samples of size 200 (seed 7): the number of
    misses is Binomial(2000, 0.05) up to the CLT error; accept 60..140 (≈ ±4.5 sd)."""
    rng = np.random.default_rng(7)
    misses = 0
    for _ in range(2000):
        m, lo, hi = stats.mean_ci(rng.exponential(size=200), 0.95)
        misses += not (lo <= 1.0 <= hi)
    assert 60 <= misses <= 140


def test_bootstrap_matches_normal_for_a_large_sample():
    rng = np.random.default_rng(3)
    x = rng.normal(size=4000)
    m1, lo1, hi1 = stats.mean_ci(x, 0.9)
    m2, lo2, hi2 = stats.bootstrap_mean_ci(x, 0.9, rng=np.random.default_rng(4), resamples=4000)
    assert m1 == m2
    assert abs((hi2 - lo2) / (hi1 - lo1) - 1) < 0.1


def test_ks_and_bonferroni():
    assert stats.bonferroni(0.99, 10) == pytest.approx(0.999)
    assert stats.ks_critical(100, 0.95) == pytest.approx(0.134, abs=1e-3)
    x = np.random.default_rng(0).uniform(size=500)
    d, p = stats.ks_test(x, lambda v: np.clip(v, 0, 1))
    assert d <= stats.ks_critical(500, 0.999)


@pytest.mark.parametrize("call, msg", [
    (lambda: stats.wilson(3, 2), "k must be an integer in [0, 2]; got 3"),
    (lambda: stats.clopper_pearson(1, 0), "n must be an integer ≥ 1; got 0"),
    (lambda: stats.mean_ci([1.0, 2.0], 1.0), "level must be in (0, 1); got 1.0"),
    (lambda: stats.mean_ci([1.0], 0.9), "x must hold at least 2 values; got 1"),
])
def test_errors_estimators(call, msg):
    with pytest.raises(DomainError) as e:
        call()
    assert str(e.value) == msg


# --- degenerate samples: issue 11 -----------------------------------------------------------------
#: Per-test error level of the Monte Carlo decisions (the suite's ALPHA).
ALPHA = 1e-4


def _issue11_cases():
    """The two samples of issue 11 with their exact means from bounds.regions (independent of sim):
    200 networks of width 50 with σ_b² = 1e12 along the default segment — every count is 1 region
    (0 breakpoints), exact mean 1 + 3.18e-5; 200 one-unit networks in the window [−√2, √2]² with
    σ_b² = 0.01 — every count is 2, exact mean 1.998."""
    from initbounds.bounds.regions import (default_segment, first_layer_segment, max_regions_plane,
                                           max_regions_segment, one_layer_regions_2d, square_window)

    x0, x1 = default_segment(2)
    seg = first_layer_segment(x0, x1, 50, bias_var=1e12)
    win = one_layer_regions_2d(1, square_window(math.sqrt(2.0)), bias_var=0.01)
    return [(np.ones(200), seg.regions, 1, max_regions_segment((50,))),
            (np.zeros(200), seg.breakpoints, 0, 50),
            (np.full(200, 2.0), win.regions, 1, max_regions_plane((1,)))]


@pytest.mark.parametrize("case", range(3))
@pytest.mark.parametrize("estimator", ["mean_ci", "bootstrap_mean_ci", "atom_mean_ci"])
def test_issue11_zero_variance_sample_gets_a_positive_width_interval_around_the_truth(case, estimator):
    """issue 11: all-equal samples gave [0, 0] around 3.2e-5 and [2, 2] around 1.998."""
    x, truth, lo, hi = _issue11_cases()[case]
    assert 0 < abs(truth - x[0]) < 1e-2                        # the truth is not the observed value
    kw = {"rng": np.random.default_rng(0)} if estimator == "bootstrap_mean_ci" else {}
    m, a, b = getattr(stats, estimator)(x, 0.95, lo=lo, hi=hi, **kw)
    assert m == x[0] and b > a and a <= truth <= b
    assert lo <= a and b <= hi


def test_issue11_atom_interval_closed_form_at_zero_variance():
    """k = 0 of T: q = 1 − (1 − level)^{1/T} (rule of three), the interval v + q·[lo − v, hi − v]."""
    for v, lo, hi in ((0.0, 0.0, 50.0), (2.0, 1.0, 2.0), (1.0, 1.0, 51.0), (3.0, 0.0, 7.0)):
        q = 1 - 0.05 ** (1 / 200)
        _, a, b = stats.atom_mean_ci(np.full(200, v), 0.95, lo=lo, hi=hi)
        assert (a, b) == pytest.approx((v - q * (v - lo), v + q * (hi - v)), rel=1e-12, abs=1e-15)


def _coverage(draw, truth, estimator, reps, level, rng):
    hits = 0
    for _ in range(reps):
        _, a, b = estimator(draw(rng), level)
        hits += a <= truth <= b
    return hits


@pytest.mark.parametrize("n, p", [(5, 0.001), (5, 0.3), (20, 0.01), (20, 0.05), (50, 0.02), (20, 0.97)])
@pytest.mark.parametrize("which", ["atom_mean_ci", "mean_ci"])
def test_issue11_coverage_at_small_n_and_extreme_p(n, p, which):
    """Coverage by simulation (seed 11): 3000 samples of n Bernoulli(p) values, and of n counts
    1 + Bin(50, p/50) on the support [1, 51] (a region count of a 50-unit layer); the interval must
    cover the true mean. Decision: the one-sided Clopper–Pearson upper bound (level 1 − ALPHA) on
    the true coverage from the hits must reach the nominal 0.95 — a failing interval (the old
    collapsed one covers about (1 − p)^n less often) is rejected. Each case stays a plain
    statistical decision at ALPHA: nothing is tuned or retried."""
    rng = np.random.default_rng(11)
    est = getattr(stats, which)
    reps, level = 3000, 0.95
    hits = _coverage(lambda r: (r.random(n) < p).astype(float), p,
                     lambda x, lv: est(x, lv, lo=0, hi=1), reps, level, rng)
    assert stats.clopper_pearson_upper(hits, reps, 1 - ALPHA) >= level, hits / reps
    hits = _coverage(lambda r: 1.0 + r.binomial(50, p / 50, size=n), 1 + p,
                     lambda x, lv: est(x, lv, lo=1, hi=51), reps, level, rng)
    assert stats.clopper_pearson_upper(hits, reps, 1 - ALPHA) >= level, hits / reps


def test_issue11_the_old_normal_interval_fails_the_coverage_decision():
    """The decision above can fail: the plain normal interval (no support) at n = 20, p = 0.01
    covers only when a sample holds a 1, about 1 − 0.99^20 = 18% of the time."""
    rng = np.random.default_rng(11)
    reps = 3000
    hits = _coverage(lambda r: (r.random(20) < 0.01).astype(float), 0.01,
                     lambda x, lv: stats.mean_ci(x, lv), reps, 0.95, rng)
    assert stats.clopper_pearson_upper(hits, reps, 1 - ALPHA) < 0.95


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 6), min_size=2, max_size=60), st.floats(0.5, 0.999))
def test_issue11_mean_intervals_stay_in_the_support_and_contain_the_mean(values, level):
    x = np.asarray(values, float)
    for est in (stats.atom_mean_ci, stats.mean_ci):
        m, a, b = est(x, level, lo=0, hi=6)
        assert 0 <= a <= m <= b <= 6 and b > a
    m, a, b = stats.bootstrap_mean_ci(x, level, lo=0, hi=6, rng=np.random.default_rng(0), resamples=200)
    assert 0 <= a <= b <= 6 and b > a


def test_issue11_atom_interval_errors():
    with pytest.raises(DomainError, match=r"x must lie in its support \[lo, hi\] = \[0, 1\]"):
        stats.atom_mean_ci([0.0, 2.0], lo=0, hi=1)
    with pytest.raises(DomainError, match="lo ≤ hi"):
        stats.mean_ci([0.0, 1.0], lo=2, hi=1)


def test_issue11_median_interval_of_a_law_with_an_atom_covers():
    """median_ci needs no fix for issue 11: with an atom holding more than half the law, samples
    often have x_(j) = x_(n−j+1) = v and the point [v, v] is right. Coverage by simulation (seed
    11, 3000 samples of 15 values, P(X = 2) = 0.6, else uniform on [0, 5]; median 2), decided by
    Clopper–Pearson at ALPHA against 0.95."""
    rng = np.random.default_rng(11)
    reps, hits = 3000, 0
    for _ in range(reps):
        x = np.where(rng.random(15) < 0.6, 2.0, rng.uniform(0, 5, 15))
        lo, hi = stats.median_ci(x, 0.95)
        hits += lo <= 2.0 <= hi
    assert stats.clopper_pearson_upper(hits, reps, 1 - ALPHA) >= 0.95
