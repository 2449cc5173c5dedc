"""Confidence intervals and tests in sim.stats."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from bounds.errors import DomainError
from sim import stats


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
def test_errors(call, msg):
    with pytest.raises(DomainError) as e:
        call()
    assert str(e.value) == msg
