"""Estimators with confidence intervals (docs/theory.md §9).

Binomial proportions (Wilson, Clopper–Pearson two- and one-sided), means (normal interval with
the sample standard error, percentile bootstrap, and the exact "atom" interval that both fall back
on when a sample sits almost entirely at one value), the one-sample Kolmogorov–Smirnov test and its
critical distance, and the Bonferroni split of a confidence level over simultaneous checks.

Degenerate samples (issue 11). A normal or bootstrap interval built from a sample whose values
are all equal has width 0 — [0, 0] around an exact mean of 3.2e-5 for region counts that are
almost always 1. Both mean intervals therefore take the support [lo, hi] of the variable when it
is known and, when fewer than :data:`CONCENTRATED` values differ from the sample's most frequent
value, return :func:`atom_mean_ci` instead: an exact interval for any law on [lo, hi]
(Clopper–Pearson on how often the variable leaves that value, times the range).
``level`` is always a confidence level in (0, 1) (0.95, not 0.05). Every function returns plain
Python floats; invalid arguments raise DomainError (a ValueError) saying what must hold.
"""
from __future__ import annotations

import math

import numpy as np
from statistics import NormalDist

from ..bounds.errors import DomainError, check_int, check_real

__all__ = ["median_ci", "wilson", "clopper_pearson", "clopper_pearson_upper", "clopper_pearson_lower",
           "CONCENTRATED", "atom_mean_ci", "mean_ci", "bootstrap_mean_ci", "ks_test", "ks_critical", "bonferroni"]


#: A sample with fewer than this many values off its most frequent value is *concentrated*: the
#: normal (CLT) and bootstrap intervals are not trusted there (their width comes from those few
#: values, and is 0 when there are none; the usual "at least 10 successes and failures" rule of
#: the Wald interval), and the exact :func:`atom_mean_ci` is used instead.
CONCENTRATED = 10


def _level(level) -> float:
    return check_real("level", level, lo=0.0, hi=1.0, lo_open=True, hi_open=True)


def _kn(k, n):
    n = check_int("n", n, lo=1)
    k = check_int("k", k, lo=0, hi=n)
    return k, n


def _beta_ppf(q: float, a: float, b: float) -> float:
    """Quantile of Beta(a, b): scipy.special.betaincinv, the function scipy.stats.beta.ppf calls
    (scipy.special instead of scipy.stats saves 0.4 s of import on every spot check)."""
    from scipy.special import betaincinv

    return float(betaincinv(a, b, q))


def _binom_cdf(k: int, n: int) -> float:
    """P(Binomial(n, 1/2) ≤ k), by scipy.special.bdtr (what scipy.stats.binom.cdf evaluates)."""
    from scipy.special import bdtr

    return 0.0 if k < 0 else float(bdtr(k, n, 0.5))


def _sample(x, name="x", at_least=2) -> np.ndarray:
    x = np.asarray(x, dtype=float).ravel()
    if x.size < at_least:
        raise DomainError(f"{name} must hold at least {at_least} value{'s' if at_least != 1 else ''}; got {x.size}")
    if not np.all(np.isfinite(x)):
        raise DomainError(f"{name} must be finite")
    return x


def wilson(k, n, level=0.95) -> tuple:
    """Wilson score interval (lo, hi) for a binomial proportion k/n at confidence ``level``.

    lo, hi = (p̂ + z²/2n ∓ z·√(p̂(1−p̂)/n + z²/4n²)) / (1 + z²/n), z the (1+level)/2 normal
    quantile; it ends exactly at 0 for k = 0 and at 1 for k = n. Approximate coverage.

    >>> [round(v, 4) for v in wilson(5, 10, 0.95)]
    [0.2366, 0.7634]
    """
    k, n = _kn(k, n)
    z = NormalDist().inv_cdf(0.5 + _level(level) / 2.0)
    ph = k / n
    den = 1.0 + z * z / n
    c = (ph + z * z / (2 * n)) / den
    h = z * math.sqrt(ph * (1 - ph) / n + z * z / (4 * n * n)) / den
    # at k = 0 and k = n the interval ends exactly at 0 and 1 (rounding would move them)
    lo = 0.0 if k == 0 else max(0.0, c - h)
    hi = 1.0 if k == n else min(1.0, c + h)
    return lo, hi


def clopper_pearson(k, n, level=0.95) -> tuple:
    """Exact (Clopper–Pearson) two-sided interval (lo, hi) for a binomial proportion.

    lo = Beta⁻¹(α/2; k, n−k+1) (0 when k = 0), hi = Beta⁻¹(1−α/2; k+1, n−k) (1 when k = n),
    α = 1 − level. Coverage is at least ``level`` for every true proportion.

    >>> clopper_pearson(0, 10, 0.95)[0]
    0.0
    >>> [round(v, 4) for v in clopper_pearson(5, 10, 0.95)]
    [0.1871, 0.8129]
    """
    k, n = _kn(k, n)
    a = 1.0 - _level(level)
    lo = 0.0 if k == 0 else float(_beta_ppf(a / 2, k, n - k + 1))
    hi = 1.0 if k == n else float(_beta_ppf(1 - a / 2, k + 1, n - k))
    return lo, hi


def clopper_pearson_upper(k, n, level=0.95) -> float:
    """One-sided exact upper confidence bound Beta⁻¹(level; k+1, n−k) (1 when k = n).

    P(p ≤ bound) ≥ level. For k = 0 it is 1 − (1 − level)^{1/n} (the "rule of three").

    >>> round(clopper_pearson_upper(0, 100, 0.95), 6) == round(1 - 0.05 ** (1 / 100), 6)
    True
    """
    k, n = _kn(k, n)
    a = 1.0 - _level(level)
    return 1.0 if k == n else float(_beta_ppf(1 - a, k + 1, n - k))


def clopper_pearson_lower(k, n, level=0.95) -> float:
    """One-sided exact lower confidence bound Beta⁻¹(1 − level; k, n−k+1) (0 when k = 0).

    P(p ≥ bound) ≥ level. For k = n it is (1 − level)^{1/n}.

    >>> clopper_pearson_lower(0, 50, 0.99)
    0.0
    >>> round(clopper_pearson_lower(100, 100, 0.95), 6) == round(0.05 ** (1 / 100), 6)
    True
    """
    k, n = _kn(k, n)
    a = 1.0 - _level(level)
    return 0.0 if k == 0 else float(_beta_ppf(a, k, n - k + 1))


def _support(lo, hi) -> tuple:
    """(lo, hi) as floats, None meaning no bound (±∞)."""
    try:
        lo = -math.inf if lo is None else float(lo)
        hi = math.inf if hi is None else float(hi)
    except (TypeError, ValueError):
        raise DomainError(f"the support bounds lo, hi must be real numbers or None; got {lo!r}, {hi!r}") from None
    if isinstance(lo, bool) or math.isnan(lo) or math.isnan(hi) or not lo <= hi or lo == math.inf or hi == -math.inf:
        raise DomainError(f"the support bounds must satisfy lo ≤ hi; got lo = {lo}, hi = {hi}")
    return lo, hi


def _mode(x: np.ndarray) -> tuple:
    """(v, k): the most frequent value of x (the smallest on a tie) and how many values differ from it."""
    vals, counts = np.unique(x, return_counts=True)
    i = int(np.argmax(counts))
    return float(vals[i]), int(x.size - counts[i])


def atom_mean_ci(x, level=0.95, *, lo, hi) -> tuple:
    r"""(mean, lo, hi): exact interval for the mean μ of a variable with values in [lo, hi], built
    from how often the sample leaves its most frequent value.

    With v the sample's most frequent value, k the number of the T values that differ from it
    and q = ``clopper_pearson_upper(k, T, level)`` (an exact one-sided upper bound on
    p = P(X ≠ v)), μ = v + E[(X − v)·1{X ≠ v}] lies in [v − q·(v − lo), v + q·(hi − v)] whenever
    p ≤ q. So the interval covers μ with probability ≥ ``level`` for *every* law on [lo, hi]
    (proportions, counts with a known maximum), whatever T, including samples whose values are
    all equal (k = 0: q = 1 − (1 − level)^{1/T}, the rule of three). Exact up to v being chosen
    from the data: only a value of probability ≥ ½ is the majority of a large sample, and when
    k ≥ T/2 the whole range [lo, hi] is returned. Conservative: it ignores where the k other
    values fall, so it is meant for concentrated samples (few values off v); :func:`mean_ci`
    switches to it below :data:`CONCENTRATED` such values. An infinite ``lo`` or ``hi`` (no
    bound known) gives an infinite end.

    >>> m, a, b = atom_mean_ci(np.zeros(200), 0.95, lo=0, hi=50)     # 200 × 0 breakpoints of ≤ 50
    >>> m, a, round(b, 4), round(50 * (1 - 0.05 ** (1 / 200)), 4)
    (0.0, 0.0, 0.7434, 0.7434)
    """
    x = _sample(x, at_least=1)
    level = _level(level)
    a, b = _support(lo, hi)
    if x.min() < a or x.max() > b:
        raise DomainError(f"x must lie in its support [lo, hi] = [{a:g}, {b:g}]; got values in "
                          f"[{x.min():g}, {x.max():g}]")
    m = float(x.mean())
    v, k = _mode(x)
    if 2 * k >= x.size:
        return m, a, b
    q = clopper_pearson_upper(k, x.size, level)
    with np.errstate(invalid="ignore", over="ignore"):
        lo_end = a if math.isinf(a) else v - q * (v - a)
        hi_end = b if math.isinf(b) else v + q * (b - v)
    return m, float(min(lo_end, m)), float(max(hi_end, m))


def mean_ci(x, level=0.95, *, lo=None, hi=None) -> tuple:
    """(mean, lo, hi): normal interval mean ± z·s/√T with the sample standard error, or the exact
    :func:`atom_mean_ci` for a concentrated sample.

    s is the sample standard deviation (ddof = 1), T the number of values, z the (1+level)/2
    normal quantile. Asymptotic (CLT) coverage; needs at least 2 finite values. ``lo``, ``hi``
    (keywords) are the support of the variable when known (0 and n for n Bernoulli trials, 1 and
    the maximum number of regions for region counts): the normal interval is clipped to it and,
    when fewer than :data:`CONCENTRATED` values differ from the most frequent one — where the
    normal interval's width comes from a handful of values, and is 0 when all values are equal
    (issue 11) — :func:`atom_mean_ci` is returned, whose coverage is ≥ ``level`` for every law on
    [lo, hi]. With no bound known on a side, no finite end is honest for a concentrated sample;
    that side keeps the normal end (give the support for bounded data).

    >>> mean_ci([1.0, 2.0, 3.0], 0.95)[0]
    2.0
    >>> [round(v, 4) for v in mean_ci([1.0, 2.0, 3.0], 0.95)[1:]]
    [0.8684, 3.1316]
    >>> [round(v, 4) for v in mean_ci([2.0] * 200, 0.95, lo=1, hi=2)]      # not [2, 2]
    [2.0, 1.9851, 2.0]
    """
    x = _sample(x)
    z = NormalDist().inv_cdf(0.5 + _level(level) / 2.0)
    a, b = _support(lo, hi)
    m = float(x.mean())
    se = float(x.std(ddof=1) / math.sqrt(x.size))
    n_lo, n_hi = max(a, m - z * se), min(b, m + z * se)
    if _mode(x)[1] >= CONCENTRATED:
        return m, n_lo, n_hi
    _, e_lo, e_hi = atom_mean_ci(x, level, lo=a, hi=b)
    return m, (e_lo if math.isfinite(e_lo) else n_lo), (e_hi if math.isfinite(e_hi) else n_hi)


def bootstrap_mean_ci(x, level=0.95, *, rng: np.random.Generator, resamples: int = 2000, lo=None, hi=None
                      ) -> tuple:
    """(mean, lo, hi): percentile bootstrap interval for the mean.

    Like :func:`mean_ci`, a concentrated sample (fewer than :data:`CONCENTRATED` values off its
    most frequent value, where every resample has nearly the same mean and the interval collapses)
    gets :func:`atom_mean_ci` on the support [``lo``, ``hi``] instead (a side with no bound known
    keeps the bootstrap end); otherwise the ends are clipped to the support.

    ``resamples`` resamples of size T drawn with replacement by the explicit ``rng`` (a
    ``numpy.random.Generator``; nothing global is used); lo and hi are the (1−level)/2 and
    (1+level)/2 quantiles of their means. Memory stays bounded (resamples are drawn in blocks).

    >>> x = np.arange(100.0)
    >>> m, lo, hi = bootstrap_mean_ci(x, 0.9, rng=np.random.default_rng(0))
    >>> m, bool(lo < m < hi), bool(hi - lo < 12)
    (49.5, True, True)
    """
    x = _sample(x)
    if not isinstance(rng, np.random.Generator):
        raise DomainError(f"rng must be a numpy.random.Generator; got {rng!r}")
    resamples = check_int("resamples", resamples, lo=100)
    a = 1.0 - _level(level)
    means = np.empty(resamples)
    block = max(1, min(resamples, 2**22 // x.size))        # ≤ 4M indices (32 MiB) at a time
    for i in range(0, resamples, block):
        b = min(block, resamples - i)
        means[i:i + b] = x[rng.integers(0, x.size, size=(b, x.size))].mean(axis=1)
    s_lo, s_hi = _support(lo, hi)
    b_lo = max(s_lo, float(np.quantile(means, a / 2)))
    b_hi = min(s_hi, float(np.quantile(means, 1 - a / 2)))
    if _mode(x)[1] >= CONCENTRATED:
        return float(x.mean()), b_lo, b_hi
    _, e_lo, e_hi = atom_mean_ci(x, 1.0 - a, lo=s_lo, hi=s_hi)
    return float(x.mean()), (e_lo if math.isfinite(e_lo) else b_lo), (e_hi if math.isfinite(e_hi) else b_hi)


def ks_test(samples, cdf) -> tuple:
    """One-sample Kolmogorov–Smirnov test: (statistic D_n, p-value) against a continuous law.

    ``cdf`` is a vectorized callable (numpy array in, array of probabilities out). The p-value
    is scipy's exact/asymptotic two-sided one (scipy.stats.kstest); it assumes a continuous CDF,
    so remove atoms (e.g. ρ = 0) first and test the conditional law.

    >>> x = np.linspace(0.005, 0.995, 100)            # the uniform quantiles: D_n = 0.005
    >>> d, p = ks_test(x, lambda v: np.clip(v, 0.0, 1.0))
    >>> round(d, 6), p > 0.99
    (0.005, True)
    """
    x = _sample(samples, "samples", at_least=1)
    if not callable(cdf):
        raise DomainError(f"cdf must be a callable cdf(values) -> probabilities; got {cdf!r}")
    from scipy import stats as st     # 0.8 s of import, only for this test

    r = st.kstest(x, cdf)
    return float(r.statistic), float(r.pvalue)


def ks_critical(n, level=0.95) -> float:
    """Critical one-sample KS distance: P(D_n ≤ d) = level under the null (scipy's kstwo law).

    >>> round(ks_critical(100, 0.95), 4)
    0.134
    """
    n = check_int("n", n, lo=1)
    from scipy import stats as st

    return float(st.kstwo.ppf(_level(level), n))


def bonferroni(level, m) -> float:
    """Per-check confidence level 1 − (1 − level)/m for m simultaneous checks.

    If each of m checks holds with probability ≥ the returned level, all hold together with
    probability ≥ ``level`` (union bound; no independence needed).

    >>> bonferroni(0.99, 10)
    0.999
    """
    level = _level(level)
    m = check_int("m", m, lo=1)
    return 1.0 - (1.0 - level) / m


def median_ci(x, level: float = 0.95) -> tuple:
    """Distribution-free confidence interval (lo, hi) for a median from order statistics.

    With x_(1) ≤ … ≤ x_(n) sorted, [x_(j), x_(n−j+1)] covers the population median with
    probability ≥ 1 − 2·P(Bin(n, ½) ≤ j − 1); j is the largest index reaching ``level``. Values
    may be +∞ (censored), and so may the ends. (None, None) when no interval reaches ``level``
    with n values (n ≤ 5 at 95 %). Exact coverage for continuous laws, conservative for discrete
    ones such as epoch counts. A sample whose values all equal v gives the point [v, v], and that is
    honest (audited for issue 11): the coverage bound holds for every law, atoms included, and
    such a sample means that more than half the law sits at v, which is then the median.

    >>> median_ci([3, 1, 2, 5, 4, 6, 8, 7], 0.95)      # n = 8: only [min, max] reaches 95 %
    (1.0, 8.0)
    >>> median_ci([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], 0.95)
    (3.0, 10.0)
    >>> median_ci([1, 2, 3], 0.95)
    (None, None)
    >>> median_ci([1] + [math.inf] * 7, 0.95)
    (1.0, inf)
    """
    x = np.sort(np.asarray(x, dtype=float).ravel())
    if x.size < 1 or np.isnan(x).any() or (x == -np.inf).any():
        raise DomainError(f"x must hold at least one value, each real or +inf; got {x.tolist()!r}")
    level = check_real("level", level, lo=0.0, hi=1.0, lo_open=True, hi_open=True)
    n = x.size
    j = 0
    for cand in range(1, n // 2 + 1):
        if 1.0 - 2.0 * _binom_cdf(cand - 1, n) >= level:
            j = cand
    if j == 0:
        return None, None
    return float(x[j - 1]), float(x[n - j])
