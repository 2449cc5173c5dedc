"""Estimators with confidence intervals (THEORY.md §9)."""
from __future__ import annotations

import math

import numpy as np
from scipy import stats as st

from bounds.errors import DomainError, check_int, check_real

__all__ = ["wilson", "clopper_pearson", "clopper_pearson_upper", "clopper_pearson_lower",
           "mean_ci", "bootstrap_mean_ci", "ks_test", "ks_critical", "bonferroni"]


def _level(level) -> float:
    return check_real("level", level, lo=0.0, hi=1.0, lo_open=True, hi_open=True)


def _kn(k, n):
    n = check_int("n", n, lo=1)
    k = check_int("k", k, lo=0, hi=n)
    return k, n


def wilson(k, n, level=0.95) -> tuple:
    """Wilson score interval for a binomial proportion k/n at confidence ``level``.

    >>> [round(v, 4) for v in wilson(5, 10, 0.95)]
    [0.2366, 0.7634]
    """
    k, n = _kn(k, n)
    z = st.norm.ppf(0.5 + _level(level) / 2.0)
    ph = k / n
    den = 1.0 + z * z / n
    c = (ph + z * z / (2 * n)) / den
    h = z * math.sqrt(ph * (1 - ph) / n + z * z / (4 * n * n)) / den
    # at k = 0 and k = n the interval ends exactly at 0 and 1 (rounding would move them)
    lo = 0.0 if k == 0 else max(0.0, c - h)
    hi = 1.0 if k == n else min(1.0, c + h)
    return lo, hi


def clopper_pearson(k, n, level=0.95) -> tuple:
    """Exact (Clopper–Pearson) two-sided interval for a binomial proportion.

    >>> clopper_pearson(0, 10, 0.95)[0]
    0.0
    """
    k, n = _kn(k, n)
    a = 1.0 - _level(level)
    lo = 0.0 if k == 0 else float(st.beta.ppf(a / 2, k, n - k + 1))
    hi = 1.0 if k == n else float(st.beta.ppf(1 - a / 2, k + 1, n - k))
    return lo, hi


def clopper_pearson_upper(k, n, level=0.95) -> float:
    """One-sided exact upper confidence bound for a binomial proportion."""
    k, n = _kn(k, n)
    a = 1.0 - _level(level)
    return 1.0 if k == n else float(st.beta.ppf(1 - a, k + 1, n - k))


def clopper_pearson_lower(k, n, level=0.95) -> float:
    """One-sided exact lower confidence bound for a binomial proportion."""
    k, n = _kn(k, n)
    a = 1.0 - _level(level)
    return 0.0 if k == 0 else float(st.beta.ppf(a, k, n - k + 1))


def mean_ci(x, level=0.95) -> tuple:
    """(mean, lo, hi): normal interval mean ± z·s/√T with the sample standard error.

    >>> mean_ci([1.0, 2.0, 3.0], 0.95)[0]
    2.0
    """
    x = np.asarray(x, dtype=float).ravel()
    if x.size < 2:
        raise DomainError(f"x must hold at least 2 values; got {x.size}")
    if not np.all(np.isfinite(x)):
        raise DomainError("x must be finite")
    z = st.norm.ppf(0.5 + _level(level) / 2.0)
    m = float(x.mean())
    se = float(x.std(ddof=1) / math.sqrt(x.size))
    return m, m - z * se, m + z * se


def bootstrap_mean_ci(x, level=0.95, *, rng: np.random.Generator, resamples: int = 2000) -> tuple:
    """(mean, lo, hi): percentile bootstrap interval for the mean; ``rng`` is explicit."""
    x = np.asarray(x, dtype=float).ravel()
    if x.size < 2:
        raise DomainError(f"x must hold at least 2 values; got {x.size}")
    resamples = check_int("resamples", resamples, lo=100)
    a = 1.0 - _level(level)
    idx = rng.integers(0, x.size, size=(resamples, x.size))
    means = x[idx].mean(axis=1)
    return float(x.mean()), float(np.quantile(means, a / 2)), float(np.quantile(means, 1 - a / 2))


def ks_test(samples, cdf) -> tuple:
    """One-sample Kolmogorov–Smirnov test against a vectorized CDF: (statistic, p-value)."""
    r = st.kstest(np.asarray(samples, dtype=float).ravel(), cdf)
    return float(r.statistic), float(r.pvalue)


def ks_critical(n, level=0.95) -> float:
    """Critical one-sample KS distance: P(D_n ≤ d) = level under the null (scipy's kstwo law).

    >>> round(ks_critical(100, 0.95), 4)
    0.1340
    """
    n = check_int("n", n, lo=1)
    return float(st.kstwo.ppf(_level(level), n))


def bonferroni(level, m) -> float:
    """Per-check confidence level for m simultaneous checks at family-wise ``level``.

    >>> bonferroni(0.99, 10)
    0.999
    """
    level = _level(level)
    m = check_int("m", m, lo=1)
    return 1.0 - (1.0 - level) / m
