r"""The one-layer law of a ReLU layer: the normalized squared-norm ratio ρ (docs/theory.md §2).

For Gaussian weights and zero bias, conditional on :math:`h_{l-1}\neq 0`,
:math:`\|h_l\|^2 = v_l\|h_{l-1}\|^2 Q_l` with :math:`Q_l\sim\chi^2_K`, :math:`K\sim\mathrm{Bin}(n,\tfrac12)`,
independent of :math:`h_{l-1}`. The normalized ratio

.. math:: \rho = \frac{2}{n}\chi^2_K

is the squared-norm ratio of one layer under He initialization (fan-out: ‖h_l‖²/‖h_{l-1}‖²;
fan-in: M_l/M_{l-1} with M = ‖h‖²/n). Its layer copies are independent, so the ratio after L
layers is exactly a product of L independent copies. [derived; the setting is AB19's]

Every quantity here is defined once as a sympy expression (``*_EXPR``) and evaluated either by the
mpmath function generated from it (:func:`canonical`) or by a fast log-space path tested equal to it:

* binomial sums are taken in log space over the k that matter; for large n the sum over integer k
  is replaced by a strided sum (Poisson summation: the summand is smooth on the scale √n, so the
  aliasing error is below e^{-2π²·64});
* the CDF for n > 200 and 0.02 ≤ r ≤ 100 is the exact Bromwich inversion of the MGF along a line
  through the saddle point, evaluated by the trapezoidal rule (relative error ~1e-13, also for
  probabilities far below 1e-300); outside that range, exact binomial sums.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import mpmath as mp
import numpy as np

from .errors import COUNT, POSITIVE, CostLimitError, DomainError, Interval, Real, check_int, check_real, constrain
from .numerics import (
    cexpm1,
    clog1p,
    digamma,
    digamma_minus_log,
    log_binomial_half,
    log_chi2_cdf,
    log_chi2_sf,
    log_gamma_ratio,
    logsumexp,
    trigamma,
)

__all__ = [
    "n_sym", "k_sym", "p_sym", "t_sym", "r_sym",
    "MOMENT_EXPR", "MGF_EXPR", "CDF_EXPR", "LAMBDA_EXPR", "UNIT_MGF_EXPR",
    "unit_moments", "canonical",
    "log_moment", "moment", "log_mgf", "log_cdf", "log_sf", "cdf", "sf",
    "LogMoments", "log_moments", "p_zero",
    "rate", "rate_plus", "rate_minus", "saddle_u",
]

# --- symbols and the canonical expressions ------------------------------------------------------
# Built on first use (module __getattr__), so that numerical use of this module does not pay for
# importing sympy: `initbounds width` starts in a fraction of a second.
_EXPR_NAMES = ("n_sym", "k_sym", "p_sym", "t_sym", "r_sym", "zeta_sym",
               "MOMENT_EXPR", "UNIT_MGF_EXPR", "LAMBDA_EXPR", "MGF_EXPR", "CDF_EXPR")


@lru_cache(maxsize=None)
def _symbolic() -> dict:
    import sympy as sy

    n = sy.Symbol("n", positive=True, integer=True)
    k = sy.Symbol("k", integer=True, nonnegative=True)
    p = sy.Symbol("p", positive=True)
    t = sy.Symbol("t", real=True)
    r = sy.Symbol("r", positive=True)
    half = sy.Rational(1, 2)
    w = sy.binomial(n, k) * 2 ** (-n)
    unit_mgf = half + half * (1 - 4 * t) ** (-half)
    return {
        "n_sym": n, "k_sym": k, "p_sym": p, "t_sym": t, "r_sym": r,
        "zeta_sym": sy.Symbol("zeta", real=True),
        # E ρ^p = (4/n)^p Σ_{k≥1} C(n,k) 2^{-n} Γ(k/2+p)/Γ(k/2)   (p > 0)
        "MOMENT_EXPR": (4 / n) ** p * sy.Sum(w * sy.gamma(k / 2 + p) / sy.gamma(k / 2), (k, 1, n)),
        # per-unit MGF of Y = 2·1[ζ>0]·ζ²: E e^{tY} = 1/2 + 1/2 (1 - 4t)^{-1/2}   (t < 1/4)
        "UNIT_MGF_EXPR": unit_mgf,
        # Λ(t) = log E e^{tY}, the cumulant generating function of one unit
        "LAMBDA_EXPR": sy.log(unit_mgf),
        # E e^{tρ} = [1/2 + 1/2 (1 - 4t/n)^{-1/2}]^n   (t < n/4)
        "MGF_EXPR": unit_mgf.subs(t, t / n) ** n,
        # P(ρ ≤ r) = 2^{-n} + Σ_{k≥1} C(n,k) 2^{-n} P(χ²_k ≤ n r/2)
        "CDF_EXPR": 2 ** (-n) + sy.Sum(w * sy.lowergamma(k / 2, n * r / 4) / sy.gamma(k / 2), (k, 1, n)),
    }


def __getattr__(name):
    if name in _EXPR_NAMES:
        return _symbolic()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_LOG2 = math.log(2.0)
_SUM_MAX = 200          # CDF by the binomial sum up to this width, by saddle-point inversion above
_FULL_SUM_MAX = 4096    # moments: every k up to this width; windowed and strided above
# Trapezoidal rule on the Bromwich line: step 0.4/√K''(c), 41 nodes (to 16/√K''(c)). Aliasing
# error < e^{-2π·3/0.4} (pole at distance ≥ 3/√K''), truncation < e^{-128} (Gaussian decay).
_CONTOUR_STEP = 0.4
_CONTOUR_NODES = 41


@lru_cache(maxsize=None)
def unit_moments() -> dict:
    """Derive E Y, E Y², Var Y and the per-unit MGF of Y = 2·1[ζ>0]·ζ² by sympy integration.

    Returns a dict of sympy objects; ``E Y = 1`` and ``Var Y = 5`` are what make
    E ρ = 1 and Var ρ = 5/n (ρ is the mean of n independent copies of Y).

    >>> unit_moments()["var"]
    5
    """
    import sympy as sy

    z = _symbolic()["zeta_sym"]
    t_sym = _symbolic()["t_sym"]
    phi = sy.exp(-(z**2) / 2) / sy.sqrt(2 * sy.pi)
    ey = sy.integrate(2 * z**2 * phi, (z, 0, sy.oo))
    ey2 = sy.integrate(4 * z**4 * phi, (z, 0, sy.oo))
    s = sy.Symbol("s", negative=True)  # the MGF integral converges for s < 1/4; derive for s < 0
    mgf = sy.Rational(1, 2) + sy.integrate(sy.exp(2 * s * z**2) * phi, (z, 0, sy.oo))
    return {
        "mean": sy.nsimplify(ey),
        "second": sy.nsimplify(ey2),
        "var": sy.nsimplify(ey2 - ey**2),
        "mgf": sy.simplify(mgf.subs(s, t_sym)),
    }


def canonical(expr, dps: int = 50, **values):
    """Evaluate a canonical sympy expression with mpmath at ``dps`` digits (the reference path).

    Symbols are given by name (``n=7, p=1.5``); floats are converted exactly. Slow: O(n) mpmath
    terms for the binomial sums. Used to test the fast paths, and by derivations.

    >>> float(canonical(MOMENT_EXPR, n=7, p=2))  # 1 + 5/7
    1.7142857142857142
    """
    import sympy as sy

    syms = sorted(expr.free_symbols, key=lambda s: s.name)
    f = sy.lambdify(syms, expr, modules="mpmath")
    with mp.workdps(dps):
        args = []
        for s in syms:
            v = values[s.name]
            args.append(int(v) if s.is_integer else mp.mpf(v))
        return f(*args)


# --- argument checks ------------------------------------------------------------------------------
#: Widths are exact as doubles up to 2^53; beyond, the log-space sums lose ~1e-7 in absolute
#: accuracy of log E ρ^p (a known limit, pinned by an xfail test in tests/bounds/test_rho.py).
WIDTH_EXACT_MAX = 2**53


#: The widths every function of this module takes: n ≥ 1.
_WIDTH = {"width": COUNT}


# --- binomial-weighted sums ----------------------------------------------------------------------
def _window_params(n: int):
    half = math.ceil(12.0 * math.sqrt(n))
    return half, max(1, int(math.sqrt(n) / 16.0)), max(1, half // 2)


@lru_cache(maxsize=256)
def _window(n: int, k_min: int, qcenter: int):
    """A strided grid of k and log[C(n,k) 2^{-n}] around a quantized centre (cached).

    The window is ±(12√n + q) around ``qcenter`` (q = 6√n is the quantization step, so any centre
    within q/2 is covered by ±12√n ≥ ±24 sd of a tilted binomial bump); the stride is
    s ≤ √n/16 (Poisson summation: aliasing error < e^{-2π²·64} for a bump of sd ≥ √n/(2·…)).
    """
    half, stride, q = _window_params(n)
    k0 = max(k_min, qcenter - half - q)
    k1 = min(n, qcenter + half + q)
    k = np.arange(k0, k1 + 1, stride, dtype=float)
    lw = log_binomial_half(n, k)
    k.setflags(write=False)
    lw.setflags(write=False)
    return k, lw, float(stride)


@lru_cache(maxsize=64)
def _full_log_weights(n: int):
    """k = 0..n and log[C(n,k) 2^{-n}] (read-only arrays, cached per width)."""
    k = np.arange(0, n + 1, dtype=float)
    lw = log_binomial_half(n, k)
    k.setflags(write=False)
    lw.setflags(write=False)
    return k, lw


def _tilted_center(n: int, p: float, k_min: int) -> float:
    """Approximate argmax of C(n,k)·Γ(k/2+p)/Γ(k/2): root of log((n−k)/k) + ½log(1 + 2p/k) = 0."""
    a = max(float(k_min), -2.0 * p) + 1e-9
    b = float(n)
    for _ in range(80):
        k = 0.5 * (a + b)
        g = math.log((n - k) / k) + 0.5 * math.log1p(2.0 * p / k) if k < n else -math.inf
        if g > 0:
            a = k
        else:
            b = k
    return 0.5 * (a + b)


def _binomial_logsumexp(n: int, extra, center: float, k_min: int) -> float:
    """log Σ_{k=k_min}^{n} C(n,k) 2^{-n} exp(extra(k)) for a summand that is a (tilted) binomial bump.

    Every k for n ≤ _FULL_SUM_MAX; above, a strided window (:func:`_window`) around ``center``,
    moved if the peak of the summand sits near an edge of the window.
    """
    if n <= _FULL_SUM_MAX:
        k, lw = _full_log_weights(n)
        return logsumexp(lw[k_min:] + extra(k[k_min:]))
    half, stride, q = _window_params(n)
    for _ in range(200):
        qc = int(round(center / q)) * q
        k, lw, s = _window(n, k_min, qc)
        t = lw + extra(k)
        i = int(np.argmax(t))
        edge = len(k) // 8
        at_lo, at_hi = i < edge, i >= len(k) - edge
        if not (at_lo or at_hi) or (at_lo and k[0] <= k_min) or (at_hi and k[-1] + s > n):
            return logsumexp(t) + math.log(s)
        center = k[i] + (half if at_hi else -half)
    raise CostLimitError(f"width {n} is beyond the range where the binomial sums are exact "
                         f"(about 2^53 = {WIDTH_EXACT_MAX:.3g}); use the per-layer Chernoff method", param="width")


@constrain(**_WIDTH)
def log_moment(width, p, *, k_min: int = 1) -> float:
    r"""log E[ρ^p · 1{K ≥ k_min}] for the normalized one-layer ratio ρ of a width-``width`` layer.

    .. math:: \log\Big[(4/n)^p \sum_{k\ge k_{\min}} \binom{n}{k}2^{-n}\frac{\Gamma(k/2+p)}{\Gamma(k/2)}\Big]

    Args:
        width: n ≥ 1, the layer width (AB19's m).
        p: real order; p > -k_min/2 (negative orders need the truncation K ≥ k_min, since
           P(ρ = 0) = 2^{-n} and the K = 1 term has no moments of order ≤ -1/2).
        k_min: smallest number of active units kept (1 ≤ k_min ≤ n).

    Returns the exact value (log space) for p > 0 and k_min = 1, i.e. log E ρ^p.
    Source: [derived] docs/theory.md §2. Assumptions: Gaussian weights, zero bias.

    >>> round(math.exp(log_moment(10, 2)), 12)   # E ρ² = 1 + 5/n
    1.5
    """
    n = width
    k_min = check_int("k_min", k_min, lo=1, hi=n)
    p = check_real("p", p, lo=-k_min / 2.0, lo_open=True)

    center = _tilted_center(n, p, k_min) if n > _FULL_SUM_MAX else 0.0
    s = _binomial_logsumexp(n, lambda k: log_gamma_ratio(0.5 * k, p), center, k_min)
    return p * math.log(4.0 / n) + s


@constrain(width=COUNT, p=POSITIVE)
def moment(width, p) -> float:
    """E ρ^p for p > 0 (see :func:`log_moment`). E ρ = 1, E ρ² = 1 + 5/n.

    >>> moment(4, 1)
    1.0
    """
    return math.exp(log_moment(width, p))


@constrain(**_WIDTH)
def log_mgf(width, t):
    r"""log E e^{tρ} = n log(1/2 + 1/2 (1 - 4t/n)^{-1/2}) for real or complex t with Re t < n/4.

    Evaluated as n·log1p(½·expm1(-½·log1p(-4t/n))), accurate for n up to 10^18.

    >>> round(float(log_mgf(10, 0.0)), 15)
    0.0
    """
    n = float(width)
    t_in = t
    t = np.asarray(t)
    if not np.all(np.isfinite(t)):
        raise DomainError(f"t must be finite; got {t_in!r}", param="t")
    if np.any(np.real(t) >= n / 4.0):
        raise DomainError(f"t must satisfy Re t < width/4 = {n / 4.0:g}; got {t_in!r}", param="t")
    if np.iscomplexobj(t):
        inner = cexpm1(-0.5 * clog1p(-4.0 * t / n))
        return n * clog1p(0.5 * inner)
    inner = np.expm1(-0.5 * np.log1p(-4.0 * t / n))
    out = n * np.log1p(0.5 * inner)
    return float(out) if out.ndim == 0 else out


# --- the saddle point of the per-unit cumulant Λ(s) = log((1 + u)/2), u = (1 - 4s)^{-1/2} -----
def saddle_u(r):
    """The positive root u of 2u³ - r u - r = 0 (Λ'(s) = r with u = (1-4s)^{-1/2}), elementwise.

    Λ'(s) = 2u³/(1+u), so the saddle point of the Legendre transform at r is s = (1 - u⁻²)/4;
    u > 1 iff r > 1 (upper tail), u < 1 iff r < 1.
    """
    r = np.asarray(r, dtype=float)
    u = 1.0 + r  # f(1+r) > 0 and f is convex on u > 0: Newton decreases monotonically to the root
    for _ in range(200):
        f = 2.0 * u**3 - r * u - r
        step = f / (6.0 * u**2 - r)
        u = u - step
        if np.all(np.abs(step) <= 1e-15 * u):
            break
    return u


def _lambda_dd(u):
    """Λ''(s) in terms of u = (1-4s)^{-1/2}: 4u⁵(3 + 2u)/(1 + u)²."""
    return 4.0 * u**5 * (3.0 + 2.0 * u) / (1.0 + u) ** 2


def _log_tail_contour(n: int, r: np.ndarray, upper: bool) -> np.ndarray:
    """log P(ρ > r) (upper) or log P(ρ < r) (lower) by Bromwich inversion of the MGF.

    P(ρ > r) = (1/2πi)∫_{c-i∞}^{c+i∞} e^{K(z) - zr} dz/z for 0 < c < n/4, and
    P(ρ < r) = -(1/2πi)∫ … for c < 0 (plus the atom 2^{-n} at 0, added separately),
    with K(z) = n Λ(z/n). The line passes through the saddle point (or at distance ≥ 3/√K''(c)
    from the pole at 0), and the integral is taken by the trapezoidal rule with step 0.4/√K''(c)
    over [0, 16/√K''(c)], factoring out e^{K(c) - cr} so that the result is relative.
    """
    nf = float(n)
    u = saddle_u(r)
    s = 0.25 * (1.0 - 1.0 / (u * u))
    sd0 = math.sqrt(5.0 / nf)           # √K''(0)
    cmin = 3.0 / sd0
    c = nf * s
    if upper:
        c = np.maximum(c, cmin)
        c = np.minimum(c, 0.249 * nf)  # stays inside the strip of analyticity
    else:
        c = np.minimum(c, -cmin)
    uc = (1.0 - 4.0 * c / nf) ** -0.5
    sdc = np.sqrt(_lambda_dd(uc) / nf)
    h = _CONTOUR_STEP / sdc
    j = np.arange(0, _CONTOUR_NODES, dtype=float)
    tt = h[:, None] * j[None, :]
    z = c[:, None] + 1j * tt
    kc = np.asarray(log_mgf(n, c), dtype=float)
    kz = log_mgf(n, z)
    g = np.exp(kz - kc[:, None] - 1j * tt * r[:, None]) / z
    g = g.real
    g[:, 0] *= 0.5
    integral = (h / math.pi) * g.sum(axis=1)
    if not upper:
        integral = -integral
    with np.errstate(divide="ignore", invalid="ignore"):
        out = kc - c * r + np.log(np.maximum(integral, 0.0))
    if not upper:
        out = np.logaddexp(out, -nf * _LOG2)
    return out


def _log_cdf_sum(n: int, r: np.ndarray, upper: bool) -> np.ndarray:
    k = np.arange(0, n + 1, dtype=float)
    lw = log_binomial_half(n, k)
    x = 0.5 * n * r
    if upper:
        terms = lw[None, :] + log_chi2_sf(k[None, :], x[:, None], rescue=False)
    else:
        terms = lw[None, :] + log_chi2_cdf(k[None, :], x[:, None], rescue=False)
    out = logsumexp(terms, axis=1)
    # rescue points whose terms underflowed double precision
    bad = np.nonzero(out < math.log(1e-280))[0]
    if bad.size:
        f = log_chi2_sf if upper else log_chi2_cdf
        kk, xx = np.broadcast_arrays(k[None, :], x[bad, None])
        out[bad] = logsumexp(lw[None, :] + f(kk, xx, rescue=True), axis=1)
    return out


_CONTOUR_RMIN, _CONTOUR_RMAX = 0.02, 100.0
_FAR_SUM_MAX = 200000
_FAR_VECTOR_MAX = 20000


def _log_tail_line(n: int, r_arr: np.ndarray, upper: bool) -> np.ndarray:
    """Saddle-point Bromwich inversion; the tail on the far side of the mean is the complement
    of a probability ≥ 1/2-ish, each side computed on its own line of integration."""
    out = np.empty(r_arr.shape, dtype=float)
    if r_arr.size == 0:
        return out
    above = r_arr > 1.0
    near = upper == above
    if np.any(near):
        out[near] = _log_tail_contour(n, r_arr[near], upper)
    far = ~near
    if np.any(far):
        other = _log_tail_contour(n, r_arr[far], not upper)
        out[far] = np.log1p(-np.exp(np.minimum(other, 0.0)))
    return out


def _log_tail_far(n: int, r_arr: np.ndarray, upper: bool) -> np.ndarray:
    """Binomial sum for r far from the mean: every k for n ≤ _FAR_SUM_MAX, else a strided window
    around the dominant k (found on a coarse grid)."""
    if n <= _FAR_VECTOR_MAX:          # one (points × k) matrix, every k
        return _log_cdf_sum(n, r_arr, upper)
    out = np.empty(r_arr.shape, dtype=float)
    f = log_chi2_sf if upper else log_chi2_cdf
    for i, r in enumerate(r_arr):
        x = 0.5 * n * r

        def extra(k, x=x):
            return f(k, np.full_like(k, x), rescue=True)

        if n <= _FAR_SUM_MAX:
            k, lw = _full_log_weights(n)
            out[i] = logsumexp(lw + extra(k))
        else:
            coarse = np.unique(np.linspace(0, n, 4001).round())
            center = float(coarse[int(np.argmax(log_binomial_half(n, coarse) + extra(coarse)))])
            half = math.ceil(24.0 * math.sqrt(n))
            if center < half or center > n - half:
                # the summand peaks at an end of 0..n, where the strided (Poisson) sum does not
                # apply: sum every k of the end region exactly
                k = np.arange(0, 2 * half + 1, dtype=float)
                if center > n - half:
                    k = float(n) - k
                out[i] = logsumexp(log_binomial_half(n, k) + extra(k))
            else:
                out[i] = _binomial_logsumexp(n, extra, center, 0)
    return out


def _log_tail(n: int, r, upper: bool):
    if isinstance(r, bool) or (isinstance(r, np.ndarray) and r.dtype == bool):
        raise DomainError(f"r must be finite and ≥ 0; got {r!r}", param="r")
    r_arr = np.atleast_1d(np.asarray(r, dtype=float))
    if np.any(~np.isfinite(r_arr)) or np.any(r_arr < 0):
        raise DomainError(f"r must be finite and ≥ 0; got {r!r}", param="r")
    out = np.empty(r_arr.shape, dtype=float)
    if n <= _SUM_MAX:
        out[...] = _log_cdf_sum(n, r_arr, upper)
    else:
        # the saddle-point line is used for 0.02 ≤ r ≤ 100 (relative error < 1e-12 there for n > 200);
        # beyond, the binomial sum (every k up to _FAR_SUM_MAX, strided above) is exact and cheap
        # for the few such points
        far_out = (r_arr < _CONTOUR_RMIN) | (r_arr > _CONTOUR_RMAX)
        if np.any(far_out):
            out[far_out] = _log_tail_far(n, r_arr[far_out], upper)
        r_in = ~far_out
        out[r_in] = _log_tail_line(n, r_arr[r_in], upper)
    np.minimum(out, 0.0, out=out)
    # (a log-probability; summation rounding may not push it above 0)
    if upper:
        out[r_arr == 0] = math.log1p(-2.0 ** -n) if n < 1100 else -0.0
    else:
        out[r_arr == 0] = -n * _LOG2
    return float(out[0]) if np.ndim(r) == 0 else out


@constrain(**_WIDTH)
def log_cdf(width, r):
    r"""log P(ρ ≤ r), exact (relative accuracy ~1e-13 in log space, also far in the tails).

    .. math:: P(\rho\le r) = 2^{-n} + \sum_{k=1}^{n}\binom{n}{k}2^{-n} F_{\chi^2_k}(nr/2)

    Args:
        width: n ≥ 1. r: array of thresholds ≥ 0.

    Source: [derived] docs/theory.md §2 (CDF). For n > 200 evaluated by saddle-point Bromwich
    inversion of the MGF (exact up to quadrature error, tested against the sum).

    >>> round(math.exp(log_cdf(1, 0.0)), 12)   # the atom P(ρ = 0) = 1/2
    0.5
    """
    return _log_tail(width, r, upper=False)


@constrain(**_WIDTH)
def log_sf(width, r):
    """log P(ρ > r), exact (see :func:`log_cdf`)."""
    return _log_tail(width, r, upper=True)


@constrain(**_WIDTH)
def cdf(width, r):
    """P(ρ ≤ r) (see :func:`log_cdf`)."""
    return np.exp(log_cdf(width, r))


@constrain(**_WIDTH)
def sf(width, r):
    """P(ρ > r) (see :func:`log_cdf`)."""
    return np.exp(log_sf(width, r))


@constrain(**_WIDTH)
def p_zero(width) -> float:
    """P(ρ = 0) = 2^{-n}: every unit of the layer is inactive and the layer kills its input."""
    return 2.0 ** -width


@dataclass(frozen=True)
class LogMoments:
    """Mean and variance of log ρ given ρ > 0, and the probability of the atom ρ = 0."""

    mean: float
    var: float
    p_zero: float


@constrain(**_WIDTH)
def log_moments(width) -> LogMoments:
    r"""E[log ρ | K ≥ 1] and Var[log ρ | K ≥ 1] with P(ρ = 0) = 2^{-n} beside them.

    log ρ = log(2/n) + log χ²_K; E[log χ²_k] = ψ(k/2) + log 2, Var[log χ²_k] = ψ₁(k/2), so
    E log ρ = log(4/n) + E ψ(K/2), Var log ρ = E ψ₁(K/2) + Var ψ(K/2), with K conditioned on
    K ≥ 1 (weights C(n,k)/(2^n - 1)). Large n: mean ≈ -5/(2n), var ≈ 5/n.
    Source: [derived] docs/theory.md §2 (Log).

    >>> lm = log_moments(10**6); round(lm.var * 10**6, 3)
    5.0
    """
    n = width

    if n <= _FULL_SUM_MAX:
        k, lw = _full_log_weights(n)
        k, lw = k[1:], lw[1:]
        lw = lw - logsumexp(lw)  # normalizes over K ≥ 1
        w = np.exp(lw)
        psi = digamma(0.5 * k)
        m = float(np.sum(w * psi))
        var = float(np.sum(w * trigamma(0.5 * k)) + np.sum(w * (psi - m) ** 2))
        return LogMoments(mean=math.log(4.0 / n) + m, var=var, p_zero=2.0 ** -n)
    if n >= _LOG_MOMENTS_SERIES:
        # the next terms are O(1/n²): a few ulps of the leading terms from here on
        return LogMoments(mean=-2.5 / n, var=5.0 / n, p_zero=0.0)
    # log(4/n) + ψ(K/2) = x + [log1p(x) − x] + [ψ(K/2) − log(K/2)] with x = (2K − n)/n, and E x = 0
    # exactly (E K = n/2; conditioning on K ≥ 1 moves it by 2^-n). The mean is the expectation of
    # the two brackets, each O(1/n) and formed without cancellation (2k − n is exact in doubles
    # below 2^53; the window keeps K/2 ≥ 20); summing x itself would leave the weights' rounding
    # (1e-13 of terms of size 1/√n) in a result of size 1/n.
    _, _, q = _window_params(n)
    k, lw, _ = _window(n, 1, int(round(0.5 * n / q)) * q)
    lw = lw - logsumexp(lw)  # normalizes (the stride cancels; P(K = 0) is far below the window)
    w = np.exp(lw)
    x = (2.0 * k - n) / n
    f = _log1p_minus_x(x) + digamma_minus_log(0.5 * k)
    m = float(np.sum(w * f))
    var = float(np.sum(w * trigamma(0.5 * k)) + np.sum(w * (x + f - m) ** 2))
    return LogMoments(mean=m, var=var, p_zero=2.0 ** -n)


def _log1p_minus_x(x: np.ndarray) -> np.ndarray:
    """log(1 + x) − x elementwise for x > −1: direct where |x| ≥ 0.1, else its series
    −x²/2 + x³/3 − … to x^24 (the first omitted term is below 1e-25 of the result)."""
    out = np.log1p(x) - x
    small = np.abs(x) < 0.1
    if np.any(small):
        xs = x[small]
        acc = np.zeros_like(xs)
        for j in range(24, 1, -1):
            acc = xs * (acc + (-1.0) ** (j + 1) / j)
        out[small] = xs * acc
    return out


#: From this width on, :func:`log_moments` is −5/(2n), 5/n: the O(1/n²) corrections change the
#: leading terms by a few parts in 10^16 at most (relative), i.e. a few ulps.
_LOG_MOMENTS_SERIES = 2 ** 53


# --- the rate function (Legendre transform of Λ) -------------------------------------------------
def rate(r) -> mp.mpf:
    r"""The Cramér rate function I(r) = sup_s [s r - Λ(s)] of one unit, for r > 0 (mpmath value).

    Stationarity Λ'(s) = r is the cubic 2u³ - r u - r = 0 in u = (1 - 4s)^{-1/2}; with its
    unique positive root, s = (1 - u⁻²)/4 and I(r) = s r - log((1 + u)/2).
    P(ρ ≥ r) ≤ e^{-n I(r)} for r > 1 and P(ρ ≤ r) ≤ e^{-n I(r)} for r < 1 (Chernoff).
    ``r`` may be an mpf; precision is raised locally so that I(1 ± ε) keeps ~15 digits for
    ε down to 1e-12 (I ≈ ε²/10 there).

    >>> float(rate(1))
    0.0
    """
    if isinstance(r, bool) or not (isinstance(r, mp.mpf) or np.isfinite(float(r))):
        raise DomainError(f"r must be a finite real number > 0; got {r!r}", param="r")
    r = mp.mpf(r)
    if not r > 0 or not mp.isfinite(r):
        raise DomainError(f"r must be a finite real number > 0; got {r}", param="r")
    off = abs(r - 1)
    extra = 0 if off == 0 else max(0, int(-2 * mp.log10(off)))
    with mp.workdps(mp.mp.dps + 25 + extra):
        r = mp.mpf(r)
        if r == 1:
            return mp.mpf(0)
        u = 1 + r
        for _ in range(500):
            f = 2 * u**3 - r * u - r
            step = f / (6 * u**2 - r)
            u -= step
            if abs(step) < mp.mpf(10) ** (-(mp.mp.dps - 5)) * u:
                break
        s = (1 - 1 / u**2) / 4
        val = s * r - mp.log((1 + u) / 2)
    return +val


@constrain(eps=POSITIVE)
def rate_plus(eps) -> mp.mpf:
    """I₊(ε) = I(1 + ε): Chernoff rate of the upper tail P(ρ ≥ 1 + ε) ≤ e^{-n I₊(ε)}."""
    with mp.workdps(mp.mp.dps + 40):  # 1 + ε must not round ε away
        return +rate(1 + mp.mpf(eps))


@constrain(eps=Interval(Real, 0, 1, closed="right"))
def rate_minus(eps) -> mp.mpf:
    """I₋(ε) = I(1 - ε) for 0 < ε < 1; I₋(1) = log 2 (the atom P(ρ = 0) = 2^{-n})."""
    if eps == 1.0:
        return mp.log(2)
    with mp.workdps(mp.mp.dps + 40):
        return +rate(1 - mp.mpf(eps))
