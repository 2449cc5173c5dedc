"""Cancellation-free numerical kernels shared by the ``bounds`` modules.

Everything here is a fast path for an expression defined symbolically elsewhere; each function
is tested against mpmath at high precision in ``tests/bounds/test_numerics.py``.
"""
from __future__ import annotations

import math

import mpmath as mp
import numpy as np


def _sp():
    """scipy.special, imported on first use (~0.2 s): paths that need none of it (e.g. the
    Stirling branches at large arguments) do not pay for it at start-up."""
    from scipy import special

    return special

__all__ = [
    "log_gamma_ratio",
    "log_binomial_half",
    "logsumexp",
    "clog1p",
    "cexpm1",
    "log_chi2_cdf",
    "log_chi2_sf",
]

_LOG2 = math.log(2.0)
# Stirling remainder coefficients B_{2m} / (2m (2m-1)), m = 1..5.
_STIRLING = (1.0 / 12.0, -1.0 / 360.0, 1.0 / 1260.0, -1.0 / 1680.0, 1.0 / 1188.0)
_STIRLING_MIN = 40.0


def _stirling_tail(x):
    inv = 1.0 / x
    inv2 = inv * inv
    acc = np.zeros_like(x)
    for c in reversed(_STIRLING):
        acc = acc * inv2 + c
    return acc * inv


def log_gamma_ratio(a, p):
    r"""Return :math:`\log\Gamma(a+p) - \log\Gamma(a)` without cancellation, elementwise.

    ``a > 0`` and ``a + p > 0`` (arrays broadcast). For ``a, a + p ≥ 40`` it uses the Stirling
    difference :math:`(a-\tfrac12)\log(1+p/a) + p\log(a+p) - p + S(a+p) - S(a)` (relative error
    below 1e-15 even at ``a = 10^{15}``, where a difference of ``gammaln`` loses 8+ digits).

    >>> float(log_gamma_ratio(0.5, 0.5))  # log(Γ(1)/Γ(1/2)) = -log(√π)
    -0.5723649429247001
    """
    a = np.asarray(a, dtype=float)
    p = np.asarray(p, dtype=float)
    a, p = np.broadcast_arrays(a, p)
    out = np.empty(a.shape, dtype=float)
    big = (a >= _STIRLING_MIN) & (a + p >= _STIRLING_MIN)
    if np.any(big):
        ab, pb = a[big], p[big]
        out[big] = (
            (ab - 0.5) * np.log1p(pb / ab)
            + pb * np.log(ab + pb)
            - pb
            + (_stirling_tail(ab + pb) - _stirling_tail(ab))
        )
    tiny = ~big & (np.abs(p) < 1e-3) & (a > 0)
    if np.any(tiny):
        # Taylor series in p: p ψ(a) + p² ψ₁(a)/2 + p³ ψ₂(a)/6 + p⁴ ψ₃(a)/24 (no cancellation)
        at, pt = a[tiny], p[tiny]
        out[tiny] = (pt * _sp().digamma(at) + pt**2 * _sp().polygamma(1, at) / 2
                     + pt**3 * _sp().polygamma(2, at) / 6 + pt**4 * _sp().polygamma(3, at) / 24)
    small = ~big & ~tiny
    if np.any(small):
        out[small] = _gammaln(a[small] + p[small]) - _gammaln(a[small])
    return out


#: log k! for k = 0 … 63 (math.lgamma: the same values as scipy's gammaln up to rounding)
_LOG_FACTORIAL = np.array([math.lgamma(k + 1.0) for k in range(64)])


def _log_factorial(k: np.ndarray) -> np.ndarray:
    """log k! elementwise: a table for integers below 64, scipy's gammaln otherwise."""
    if k.size and np.all((k >= 0) & (k < 64) & (k == np.floor(k))):
        return _LOG_FACTORIAL[k.astype(np.int64)]
    return _sp().gammaln(k + 1.0)


_LGAMMA = np.frompyfunc(math.lgamma, 1, 1)


def _gammaln(x: np.ndarray) -> np.ndarray:
    """log|Γ(x)| elementwise: math.lgamma for a few thousand points (no scipy import; the same
    values as scipy's gammaln up to rounding), scipy's gammaln for more."""
    if x.size <= 4096 and np.all(x > 0):
        return _LGAMMA(x).astype(float)
    return _sp().gammaln(x)


_PSI_MIN = 20.0   # the asymptotic series below keep double precision (relative 1e-18) from here up


def digamma(x) -> np.ndarray:
    """ψ(x) elementwise for x > 0: the asymptotic series where every x ≥ 20 (no scipy import,
    the same values as scipy's digamma up to rounding), scipy's digamma otherwise."""
    x = np.asarray(x, dtype=float)
    if not (x.size and np.all(x >= _PSI_MIN)):
        return _sp().digamma(x)
    z = 1.0 / (x * x)
    tail = z * (1/12 - z * (1/120 - z * (1/252 - z * (1/240 - z * (1/132 - z * (691/32760 - z / 12))))))
    return np.log(x) - 0.5 / x - tail


def digamma_minus_log(x) -> np.ndarray:
    """ψ(x) − log x elementwise for x ≥ 20 by the asymptotic series alone (no cancellation: at
    x ~ 10^12 the difference ψ(x) − log x ≈ −1/(2x) would lose every digit if formed from ψ(x))."""
    x = np.asarray(x, dtype=float)
    if not (x.size and np.all(x >= _PSI_MIN)):
        raise ValueError("digamma_minus_log needs every x ≥ 20")
    z = 1.0 / (x * x)
    tail = z * (1/12 - z * (1/120 - z * (1/252 - z * (1/240 - z * (1/132 - z * (691/32760 - z / 12))))))
    return -0.5 / x - tail


def trigamma(x) -> np.ndarray:
    """ψ₁(x) elementwise for x > 0: the asymptotic series where every x ≥ 20, scipy's
    polygamma(1, x) otherwise (see :func:`digamma`)."""
    x = np.asarray(x, dtype=float)
    if not (x.size and np.all(x >= _PSI_MIN)):
        return _sp().polygamma(1, x)
    z = 1.0 / (x * x)
    tail = z * (1/6 - z * (1/30 - z * (1/42 - z * (1/30 - z * (5/66 - z * (691/2730 - z * 7/6))))))
    return (1.0 + 0.5 / x + tail) / x


def _xlogy(x, y):
    """x·log(y), 0 where x = 0 (scipy.special.xlogy's definition, in numpy: no scipy import)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x == 0, 0.0, x * np.log(y))


def _n_kl_half(n, k):
    """n · KL(k/n ‖ ½) = k log(2k/n) + (n-k) log(2(n-k)/n), without cancellation near k = n/2."""
    d = (2.0 * k - n) / n
    out = np.empty(d.shape, dtype=float)
    small = np.abs(d) < 0.5
    if np.any(small):
        ds = d[small]
        d2 = ds * ds
        acc = np.zeros_like(ds)
        term = np.ones_like(ds)
        for j in range(1, 80):
            term = term * d2
            acc = acc + term / (j * (2.0 * j - 1.0))
            if np.all(term <= 1e-17 * acc):
                break
        out[small] = 0.5 * n[small] * acc if np.ndim(n) else 0.5 * n * acc
    big = ~small
    if np.any(big):
        kb = k[big]
        nb = n[big] if np.ndim(n) else n
        out[big] = _xlogy(kb, 2.0 * kb / nb) + _xlogy(nb - kb, 2.0 * (nb - kb) / nb)
    return out


def log_binomial_half(n: float, k):
    r"""Return :math:`\log\big[\binom{n}{k} 2^{-n}\big]` for integer ``0 ≤ k ≤ n``, elementwise.

    For ``k, n-k ≥ 40`` it uses :math:`-n\,\mathrm{KL}(k/n\,\|\,\tfrac12) + \tfrac12\log\frac{n}{2\pi k(n-k)}
    + S(n) - S(k) - S(n-k)` (Stirling), which keeps full relative accuracy up to n ~ 10^15 where a
    difference of ``gammaln`` values loses 8 digits.

    >>> round(float(log_binomial_half(4, 2)), 12)  # log(6/16)
    -0.980829253012
    """
    k = np.asarray(k, dtype=float)
    n = float(n)
    kk = np.minimum(k, n - k)  # symmetric in k <-> n-k
    out = np.empty(kk.shape, dtype=float)
    big = kk >= _STIRLING_MIN
    if np.any(big):
        kb = kk[big]
        nb = np.full(kb.shape, n)
        out[big] = (
            -_n_kl_half(nb, kb)
            + 0.5 * np.log(n / (2.0 * math.pi * kb * (n - kb)))
            + (_stirling_tail(nb) - _stirling_tail(kb) - _stirling_tail(n - kb))
        )
    small = ~big
    if np.any(small):
        ks = kk[small]
        out[small] = log_gamma_ratio(n - ks + 1.0, ks) - _log_factorial(ks) - n * _LOG2
    return out


def logsumexp(x, axis=None):
    """Stable log Σ exp(x); returns -inf for an all -inf input (never NaN)."""
    x = np.asarray(x, dtype=float)
    m = np.max(x, axis=axis, keepdims=True)
    m_safe = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(divide="ignore"):
        s = np.log(np.sum(np.exp(x - m_safe), axis=axis, keepdims=True)) + m_safe
    s = np.where(np.isneginf(m), -np.inf, s)
    if axis is None:
        return float(s.reshape(()))
    return np.squeeze(s, axis=axis)


def clog1p(w):
    """Complex log(1 + w), accurate for small |w| (numpy's complex log1p is not)."""
    w = np.asarray(w, dtype=complex)
    x, y = w.real, w.imag
    re = 0.5 * np.log1p(2.0 * x + x * x + y * y)
    im = np.arctan2(y, 1.0 + x)
    return re + 1j * im


def cexpm1(z):
    """Complex exp(z) - 1, accurate for small |z|."""
    z = np.asarray(z, dtype=complex)
    x, y = z.real, z.imag
    s = np.sin(0.5 * y)
    re = np.expm1(x) * np.cos(y) - 2.0 * s * s
    im = np.exp(x) * np.sin(y)
    return re + 1j * im


_TINY = 1e-280


def _log_gammainc_series(a, x):
    """log P(a, x) by the series x^a e^{-x}/Γ(a+1) Σ_j x^j/((a+1)…(a+j)); for x < a + 1."""
    term = np.ones_like(a)
    acc = np.ones_like(a)
    for j in range(1, 400):
        term = term * x / (a + j)
        acc = acc + term
        if np.all(term < 1e-17 * acc):
            break
    return a * np.log(x) - x - _sp().gammaln(a + 1.0) + np.log(acc)


def _log_gammaincc_cf(a, x):
    """log Q(a, x) by the Legendre continued fraction (modified Lentz); for x ≥ a + 1."""
    tiny = 1e-300
    b = x + 1.0 - a
    c = np.full_like(a, 1.0 / tiny)
    d = 1.0 / b
    f = d.copy()
    for i in range(1, 400):
        an = -i * (i - a)
        b = b + 2.0
        d = an * d + b
        d = np.where(np.abs(d) < tiny, tiny, d)
        c = b + an / c
        c = np.where(np.abs(c) < tiny, tiny, c)
        d = 1.0 / d
        delta = d * c
        f = f * delta
        if np.all(np.abs(delta - 1.0) < 4e-16):
            break
    return a * np.log(x) - x - _sp().gammaln(a) + np.log(f)


def _log_gammainc_tail(a, x, upper: bool):
    """log of the regularized incomplete gamma in the regime where it underflows doubles."""
    a = np.asarray(a, dtype=float)
    x = np.asarray(x, dtype=float)
    out = np.empty(a.shape, dtype=float)
    ser = x < a + 1.0
    if upper:
        # far upper tails have x > a + 1; the rare other points fall back to mpmath
        if np.any(~ser):
            out[~ser] = _log_gammaincc_cf(a[~ser], x[~ser])
        for i in np.nonzero(ser)[0]:
            with mp.workdps(30):
                out[i] = float(mp.log(mp.gammainc(a[i], x[i], mp.inf, regularized=True)))
    else:
        if np.any(ser):
            out[ser] = _log_gammainc_series(a[ser], x[ser])
        for i in np.nonzero(~ser)[0]:
            with mp.workdps(30):
                out[i] = float(mp.log(mp.gammainc(a[i], 0, x[i], regularized=True)))
    return out


def _log_chi2(k, x, upper: bool, rescue: bool):
    k = np.asarray(k, dtype=float)
    x = np.asarray(x, dtype=float)
    k, x = np.broadcast_arrays(k, x)
    a = 0.5 * k
    h = 0.5 * np.maximum(x, 0.0)
    out = np.empty(k.shape, dtype=float)
    zero_k = k == 0
    pos = ~zero_k
    with np.errstate(divide="ignore", under="ignore"):
        if upper:
            v = _sp().gammaincc(np.where(pos, a, 1.0), h)
        else:
            v = _sp().gammainc(np.where(pos, a, 1.0), h)
        out[...] = np.log(v)
    # chi^2_0 is the point mass at 0: cdf 1, sf 0 (for x >= 0).
    out[zero_k] = -np.inf if upper else 0.0
    if rescue:
        bad = pos & (v < _TINY) & (h > 0)
        if np.any(bad):
            out[bad] = _log_gammainc_tail(a[bad], h[bad], upper)
    return out


def log_chi2_cdf(k, x, *, rescue: bool = True):
    r"""log P(χ²_k ≤ x), elementwise, with χ²_0 ≡ 0 (so the value is 0 for k = 0).

    Values that underflow double precision are recomputed with mpmath when ``rescue``.
    """
    return _log_chi2(k, x, upper=False, rescue=rescue)


def log_chi2_sf(k, x, *, rescue: bool = True):
    r"""log P(χ²_k > x), elementwise, with χ²_0 ≡ 0 (so the value is -inf for k = 0)."""
    return _log_chi2(k, x, upper=True, rescue=rescue)
