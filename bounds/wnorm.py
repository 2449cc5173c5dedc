r"""Weight-normalized ReLU layers: the exact one-layer law and the minimum width (AB19 v1; docs/theory.md §12).

A weight-normalized layer has rows w_i = g·v_i/‖v_i‖ (``torch.nn.utils.parametrizations.weight_norm``
with its magnitude set to g for every row): every row has norm g, the *gain*. With Gaussian draws
v_i the directions θ_i = v_i/‖v_i‖ are i.i.d. uniform on the sphere S^{m−1}, m = n_{l−1} the fan-in,
so for any fixed input h ≠ 0 the pre-activations are ⟨w_i, h⟩ = g‖h‖u_i with u_i = ⟨θ_i, ĥ⟩ i.i.d.,

.. math:: u_i^2\sim\mathrm{Beta}\big(\tfrac12,\tfrac{m-1}2\big),\qquad \mathrm{sign}(u_i)\ \text{independent, fair},

and the layer's squared-norm ratio is

.. math:: X=\frac{\|h_l\|^2}{\|h_{l-1}\|^2}=g^2\sum_{i=1}^{n}u_i^2\,1[u_i>0]
          = g^2\sum_{j\le K}B_j,\qquad K\sim\mathrm{Bin}(n,\tfrac12),\ B_j\sim\mathrm{Beta}(\tfrac12,\tfrac{m-1}2),

independent of h_{l−1} (rotation invariance), so a deep network's ratio is a product of
independent copies, exactly as for Gaussian weights (:mod:`bounds.rho`). For m = 1, u² = 1 and
X = g²K (a lattice). [derived; the setting is AB19 v1's weight-normalized networks]

What is exact here and what is a bound:

* mean, variance, gain, integer moments E X^j (a log-space convolution power of the per-unit
  moment sequence, every term positive), the MGF (Kummer's function, mpmath): exact;
* the Chernoff rate (any tilt gives a valid bound; the tilt is Newton's root of Λ′ = r): exact
  Legendre transform up to mpmath's working precision;
* the CDF (:func:`cdf`): a lattice discretization (cells of the Beta law taken exactly from the
  regularized incomplete beta function, each cell's mass split between its ends so that its first
  moment is exact, the n-fold sum by one FFT power), three grids and two Richardson extrapolates;
  the reported tolerance is the change between the extrapolates plus the wrapped and truncated
  masses (Bernstein's inequality) — a *stated* tolerance, not a proven one;
* real moments E X^p: upper bound (E X^{⌈p⌉})^{p/⌈p⌉} (Lyapunov's inequality);
* widths: ``chernoff_per_layer`` (this law's rate), ``chernoff_product`` (Doob's maximal
  inequality with this law's exact integer moments on the upper side; the per-layer Chernoff
  bound on the lower side, since Π_l ≤ lo forces some layer below lo^{1/L}); ``exact_union`` is
  p_stay and p_last by the band recursion of :mod:`bounds.band` run with this law (its
  :class:`bounds.band.OneLayerLaw` interface), with the law's stated tolerance propagated and added
  to the failure probability before the union over inputs.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import mpmath as mp
import numpy as np

from . import rho
from .band import LAYERS, NORMS, BandResult, OneLayerLaw, band_probability
from .errors import COUNT, OPEN_UNIT, POSITIVE, CostLimitError, DomainError, Interval, Options, OrNone, Real, constrain
from .numerics import logsumexp
from .report import Report, fmt_logp, fmt_p

__all__ = [
    "m_sym", "n_sym", "g_sym", "t_sym", "r_sym",
    "BETA_MOMENT_EXPR", "MEAN_EXPR", "VAR_EXPR", "GAIN_EXPR", "UNIT_MGF_EXPR", "MGF_EXPR",
    "norm_preserving_gain", "mean_ratio", "var_ratio", "log_mgf", "log_moments_int", "moment",
    "log_moment_bound", "rate", "cdf", "sf", "CdfResult", "law_cdf",
    "METHODS", "SOURCES", "min_width", "min_widths", "width_report", "prob_report", "derive_wnorm",
    "WIDTH_MAX",
]

_EXPR_NAMES = ("m_sym", "n_sym", "g_sym", "t_sym", "r_sym", "BETA_MOMENT_EXPR", "MEAN_EXPR", "VAR_EXPR",
               "GAIN_EXPR", "UNIT_MGF_EXPR", "MGF_EXPR")


@lru_cache(maxsize=None)
def _symbolic() -> dict:
    import sympy as sy

    m = sy.Symbol("m", positive=True, integer=True)       # fan-in n_{l-1}
    n = sy.Symbol("n", positive=True, integer=True)       # width n_l
    g = sy.Symbol("g", positive=True)                     # gain: the norm of every row
    t = sy.Symbol("t", real=True)
    r = sy.Symbol("r", nonnegative=True, integer=True)
    half = sy.Rational(1, 2)
    # E (u²)^r for u² ~ Beta(1/2, (m-1)/2)
    beta_r = sy.gamma(half + r) * sy.gamma(m / 2) / (sy.gamma(half) * sy.gamma(m / 2 + r))
    eb1 = sy.gammasimp(beta_r.subs(r, 1))
    eb2 = sy.gammasimp(beta_r.subs(r, 2))
    # one unit: Z = g² u² 1[u > 0]; E Z^r = g^{2r} E(u²)^r / 2 for r ≥ 1
    ez1, ez2 = g**2 * eb1 / 2, g**4 * eb2 / 2
    mean = sy.factor(n * ez1)
    var = sy.factor(n * (ez2 - ez1**2))
    gain = sy.solve(sy.Eq(mean, 1), g)[0]
    unit_mgf = half + half * sy.hyper([half], [m / 2], g**2 * t)
    return {
        "m_sym": m, "n_sym": n, "g_sym": g, "t_sym": t, "r_sym": r,
        "BETA_MOMENT_EXPR": beta_r, "MEAN_EXPR": mean, "VAR_EXPR": var, "GAIN_EXPR": gain,
        "UNIT_MGF_EXPR": unit_mgf, "MGF_EXPR": unit_mgf**n,
    }


def __getattr__(name):
    if name in _EXPR_NAMES:
        return _symbolic()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


#: Fan-ins and widths are exact in doubles up to 2^53; beyond, every function here refuses.
WIDTH_MAX = 2**53
_SIZE = Interval(Real, 1, WIDTH_MAX, closed="both")
_FAN = {"fan_in": COUNT, "width": COUNT}
_GAIN = OrNone(POSITIVE)


def _check_size(fan_in, width):
    for name, v in (("fan_in", fan_in), ("width", width)):
        if v > WIDTH_MAX:
            raise CostLimitError("{" + name + "} " f"{v:.4g} is beyond 2^53 = {WIDTH_MAX:.4g}, where widths stop being "
                                 "exact in doubles; the weight-normalized law is not evaluated there",
                                 param=name, names=(name,))


def _gain(fan_in, width, gain) -> float:
    return math.sqrt(2.0 * fan_in / width) if gain is None else float(gain)


def _g2(fan_in, width, gain) -> float:
    """g² (the norm-preserving 2m/n formed directly, not as a rounded square root squared)."""
    return 2.0 * fan_in / width if gain is None else float(gain) ** 2


# --- closed forms (the fast path of the expressions above; agreement is a test) ------------------
@constrain(**_FAN)
def norm_preserving_gain(fan_in, width) -> float:
    r"""The gain that keeps E‖h_l‖² = ‖h_{l−1}‖²: :math:`g=\sqrt{2n_{l-1}/n_l}` (solves E X = 1).

    Args: fan_in m = n_{l−1} ≥ 1, width n = n_l ≥ 1. Source: [derived] docs/theory.md §12.
    Torch's own weight_norm keeps g = ‖v_i‖ at creation, i.e. rows of norm √(c/fan)·χ_m.

    >>> norm_preserving_gain(64, 64) == math.sqrt(2)
    True
    """
    return math.sqrt(2.0 * fan_in / width)


@constrain(**_FAN, gain=_GAIN)
def mean_ratio(fan_in, width, *, gain=None) -> float:
    r"""E X = g² n/(2m): the mean squared-norm ratio of one weight-normalized ReLU layer (exact).

    ``gain`` None is the norm-preserving gain (E X = 1). g = 1 with m = n gives 1/2.

    >>> mean_ratio(10, 10, gain=1.0)
    0.5
    """
    if gain is None:
        return 1.0
    return _g2(fan_in, width, gain) * width / (2.0 * fan_in)


@constrain(**_FAN, gain=_GAIN)
def var_ratio(fan_in, width, *, gain=None) -> float:
    r"""Var X = g⁴ n [3/(2m(m+2)) − 1/(4m²)] (exact). At the norm-preserving gain with m = n:
    (5n − 2)/(n(n + 2)), below the Gaussian-weight 5/n and tending to it.

    >>> round(var_ratio(8, 8) * 8 * 10, 12)   # (5·8 − 2)/(8·10) · 80
    38.0
    """
    g2 = _g2(fan_in, width, gain)
    m = float(fan_in)
    return g2 * g2 * width * (3.0 / (2.0 * m * (m + 2.0)) - 1.0 / (4.0 * m * m))


# --- the MGF and the rate function ---------------------------------------------------------------
def _unit_mgf(m: int, z):
    """E e^{z u²1[u>0]} = ½ + ½ M(½, m/2, z) (mpmath; m = 1: ½ + ½e^z)."""
    if m == 1:
        return (1 + mp.exp(z)) / 2
    return (1 + mp.hyp1f1(mp.mpf(1) / 2, mp.mpf(m) / 2, z)) / 2


def _unit_mgf_d(m: int, z):
    """d/dz of :func:`_unit_mgf`: ½·(1/m)·M(3/2, m/2 + 1, z) (m = 1: ½e^z)."""
    if m == 1:
        return mp.exp(z) / 2
    return mp.hyp1f1(mp.mpf(3) / 2, mp.mpf(m) / 2 + 1, z) / (2 * m)


@constrain(**_FAN, gain=_GAIN)
def log_mgf(fan_in, width, t, *, gain=None) -> float:
    r"""log E e^{tX} = n log(½ + ½ M(½, m/2, g² t)) for real t (X is bounded: every t is allowed).

    Exact (mpmath, 30 digits). Source: [derived] docs/theory.md §12.

    >>> round(log_mgf(5, 5, 0.0), 15)
    0.0
    """
    _check_size(fan_in, width)
    if isinstance(t, bool) or not math.isfinite(float(t)):
        raise DomainError(f"t must be a finite real number; got {t!r}", param="t")
    g2 = _g2(fan_in, width, gain)
    with mp.workdps(30):
        return float(width * mp.log(_unit_mgf(fan_in, mp.mpf(g2) * mp.mpf(t))))


@lru_cache(maxsize=4096)
def _rate(m: int, n: int, g2: float, r: float) -> float:
    """Per-unit rate I(r) = sup_s [s r − Λ(s)], Λ(s) = log E e^{s n Z}, Z one unit's share of X
    (so P(X ≥ r) ≤ e^{−n I(r)} above the mean, P(X ≤ r) ≤ e^{−n I(r)} below). Newton from the
    Gaussian-weight saddle point; the value at the tilt reached is a valid lower bound on I (every
    tilt gives a Chernoff bound), and the tilt is Newton's root to ~25 digits."""
    with mp.workdps(40):
        R = mp.mpf(r)
        G = mp.mpf(g2)
        mean = G * n / (2 * m)
        if R == mean:
            return 0.0
        c = n * G          # Λ(s) = log(½ + ½M(½, m/2, c s))

        def lam(s):
            return mp.log(_unit_mgf(m, c * s))

        def dlam(s):
            return c * _unit_mgf_d(m, c * s) / _unit_mgf(m, c * s)

        # start: the Gaussian-weight saddle of the same normalized level (rho.saddle_u)
        u = float(rho.saddle_u(float(R / mean)))
        s = mp.mpf(0.25 * (1.0 - 1.0 / (u * u))) / mean
        lo_b, hi_b = (mp.mpf(0), None) if R > mean else (None, mp.mpf(0))
        for _ in range(200):
            f = dlam(s) - R
            if f > 0:
                hi_b = s
            else:
                lo_b = s
            # second derivative by a relative finite difference (Newton's step only; safeguarded)
            d = max(abs(s), 1 / c) * mp.mpf(10) ** -15
            f2 = (dlam(s + d) - dlam(s - d)) / (2 * d)
            step = f / f2 if f2 > 0 else mp.mpf(0)
            s_new = s - step
            if lo_b is not None and hi_b is not None and not (lo_b < s_new < hi_b):
                s_new = (lo_b + hi_b) / 2
            elif lo_b is None and s_new >= hi_b:
                s_new = hi_b - 2 * abs(hi_b - s) - 1 / c
            elif hi_b is None and s_new <= lo_b:
                s_new = lo_b + 2 * abs(s - lo_b) + 1 / c
            if abs(s_new - s) <= mp.mpf(10) ** -28 * (abs(s) + 1 / c):
                s = s_new
                break
            s = s_new
        val = s * R - lam(s)
        return float(max(val, mp.mpf(0)))


@constrain(**_FAN, gain=_GAIN)
def rate(fan_in, width, r, *, gain=None) -> float:
    r"""The Chernoff rate I(r) of one layer: P(X ≥ r) ≤ e^{−nI(r)} for r above E X, P(X ≤ r) ≤
    e^{−nI(r)} below; I(r) = sup_s [s r − n^{-1}log E e^{s n X/n}…] = sup_s [s r − Λ(s)],
    Λ(s) = log(½ + ½M(½, m/2, n g² s)).

    Args: fan_in m, width n, r > 0 (the level of X itself), gain (None: norm-preserving).
    Returns a float ≥ 0 (0 at the mean). Source: [derived] docs/theory.md §12 (Chernoff's bound
    with this law's MGF). As m → ∞ at the norm-preserving gain it tends to :func:`bounds.rho.rate`.

    >>> rate(16, 16, 1.0)
    0.0
    """
    _check_size(fan_in, width)
    if isinstance(r, bool) or not (math.isfinite(float(r)) and float(r) > 0):
        raise DomainError(f"r must be a finite real number > 0; got {r!r}", param="r")
    return _rate(int(fan_in), int(width), _g2(fan_in, width, gain), float(r))


# --- exact integer moments ------------------------------------------------------------------------
_MOMENT_ORDER_MAX = 256   # integer moments up to this order: the product bound's orders p ≤ 256


def _log_conv(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """c_r = log Σ_{s≤r} e^{a_s + b_{r−s}} (every term positive: relative accuracy ~1e-15·r)."""
    P = len(a) - 1
    r = np.arange(P + 1)
    s = np.arange(P + 1)
    idx = r[:, None] - s[None, :]
    ok = idx >= 0
    t = np.where(ok, a[None, :] + b[np.clip(idx, 0, P)], -np.inf)
    return logsumexp(t, axis=1)


@lru_cache(maxsize=256)
def _log_moments_norm(m: int, n: int, P: int) -> np.ndarray:
    """log E X^j, j = 0..P, at the norm-preserving gain (read-only array; exact)."""
    # one unit U = 2m u² 1[u>0] (so X = mean of n units): log E U^r/r! = log ½ + Σ_{i<r} log(2m(½+i)/(m/2+i)) − log r!
    i = np.arange(P, dtype=float)
    steps = np.log(2.0 * m * (0.5 + i) / (0.5 * m + i)) - np.log(i + 1.0)
    a = np.concatenate([[0.0], math.log(0.5) + np.cumsum(steps)])
    # n-fold convolution power of the exponential generating sequence, by binary powering
    acc = None
    base = a
    k = n
    while k:
        if k & 1:
            acc = base if acc is None else _log_conv(acc, base)
        k >>= 1
        if k:
            base = _log_conv(base, base)
    from scipy.special import gammaln

    jj = np.arange(P + 1, dtype=float)
    out = acc + gammaln(jj + 1.0) - jj * math.log(n)
    out[0] = 0.0
    out.setflags(write=False)
    return out


def _moment_cost(n: int, P: int) -> float:
    """Seconds (reference machine) of :func:`_log_moments_norm`: 2·log2(n) convolutions of (P+1)²."""
    return 2.0 * max(1, n.bit_length()) * (P + 1) ** 2 * 2.5e-8


@constrain(**_FAN, order=Interval(Real, 0, _MOMENT_ORDER_MAX, closed="both"), gain=_GAIN)
def log_moments_int(fan_in, width, order, *, gain=None) -> np.ndarray:
    r"""log E X^j for j = 0..order (integer), exact.

    X = (g²/g₀²)·X₀ with g₀ the norm-preserving gain and X₀ the mean of n i.i.d. units
    U = 2m u²1[u>0], E U^r = ½(2m)^r Π_{i<r}(½+i)/(m/2+i); the moments of the sum come from the
    n-th convolution power of the sequence E U^r/r! (binary powering, in log space, every term
    positive). Source: [derived] docs/theory.md §12.

    >>> [round(float(math.exp(v)), 12) for v in log_moments_int(8, 8, 2)]   # 1, 1, 1 + (5n−2)/(n(n+2))
    [1.0, 1.0, 1.475]
    """
    _check_size(fan_in, width)
    P = int(order)
    if P != order:
        raise DomainError(f"order must be an integer; got {order!r}", param="order")
    scale = 0.0 if gain is None else math.log(_g2(fan_in, width, gain) * width / (2.0 * fan_in))
    out = _log_moments_norm(int(fan_in), int(width), max(P, 1))[: P + 1]
    return out + scale * np.arange(P + 1)


@constrain(**_FAN, p=Interval(Real, 0, _MOMENT_ORDER_MAX, closed="both"), gain=_GAIN)
def moment(fan_in, width, p, *, gain=None) -> float:
    """E X^p for an integer p (exact; see :func:`log_moments_int`).

    >>> moment(4, 4, 1)
    1.0
    """
    if int(p) != p:
        raise DomainError(f"p must be an integer (use log_moment_bound for real orders); got {p!r}", param="p")
    return float(math.exp(log_moments_int(fan_in, width, int(p), gain=gain)[int(p)]))


@constrain(**_FAN, p=Interval(Real, 0, _MOMENT_ORDER_MAX, closed="right"), gain=_GAIN)
def log_moment_bound(fan_in, width, p, *, gain=None) -> float:
    r"""Upper bound on log E X^p for real 0 < p ≤ 256: (p/⌈p⌉)·log E X^{⌈p⌉} (Lyapunov's
    inequality, ‖X‖_p ≤ ‖X‖_q for p ≤ q), exact at integers.

    >>> log_moment_bound(8, 8, 2) == float(log_moments_int(8, 8, 2)[2])
    True
    """
    q = int(math.ceil(p))
    return float(p / q * log_moments_int(fan_in, width, q, gain=gain)[q])


# --- the CDF: lattice discretization, three grids, Richardson ----------------------------------------
_CELLS_PER_SCALE = 24      # level-0 cells per 1/m (the scale of u²); levels 1 and 2 double it twice
_LEVELS = (_CELLS_PER_SCALE, 2 * _CELLS_PER_SCALE, 4 * _CELLS_PER_SCALE)
_FFT_MAX = 1 << 21         # largest FFT of one grid level (≈ 0.7 s and 0.1 GiB with the temporaries): widths ≲ 2.5e5
_T_FFT = 1.5e-8            # seconds per nfft·log2(nfft) (as bounds.band)
_TAIL_LOG = -60.0          # the Beta law is cut where its upper tail is below e^-60 (mass counted)


@dataclass(frozen=True)
class CdfResult:
    """P(X ≤ x) at the requested points with its stated absolute tolerance."""

    x: np.ndarray
    cdf: np.ndarray
    tolerance: float
    p_zero: float
    cells: int


def _grid_plan(m: int, n: int, cps: int) -> tuple:
    """(h, J, i_lo, N, wrap) for one grid: u² cells of width h = 1/(cps·m) up to J cells, the sum's
    window [i_lo·h, (i_lo + N)·h) on the lattice, and Bernstein's bound on the mass outside."""
    from scipy.special import betaincc

    h = 1.0 / (cps * m)
    # cut the Beta law where its upper tail is below e^_TAIL_LOG
    tau = h
    while tau < 1.0 and betaincc(0.5, 0.5 * (m - 1), tau) > math.exp(_TAIL_LOG):
        tau *= 1.5
    tau = min(tau, 1.0)
    J = max(1, int(math.ceil(tau / h)))
    mu = n / (2.0 * m)
    s2 = n * (3.0 / (2.0 * m * (m + 2.0)) - 1.0 / (4.0 * m * m))
    c = 80.0     # Bernstein: P(|T − μ| ≥ w) ≤ 2 exp(−w²/(2(nσ² + τw/3))) ≤ 2e^-40 at this w
    w = (c * tau / 3.0 + math.sqrt((c * tau / 3.0) ** 2 + 4 * c * s2)) / 2.0
    lo = max(0.0, mu - w)
    hi = min(n * tau, mu + w)
    i_lo = int(math.floor(lo / h))
    span = int(math.ceil(hi / h)) - i_lo + J + 2
    N = 1 << max(4, (span - 1).bit_length())
    wrap = 2.0 * math.exp(-40.0) if (lo > 0 or hi < n * tau) else 0.0
    return h, J, i_lo, N, wrap


def _cdf_cost(m: int, n: int) -> tuple:
    """(seconds, largest FFT) of :func:`cdf` at fan-in m, width n (three grid levels)."""
    s, nmax = 0.0, 0
    for cps in _LEVELS:
        N = _grid_plan(m, n, cps)[3]
        s += 3 * _T_FFT * N * math.log2(N)
        nmax = max(nmax, N)
    return s, nmax


@lru_cache(maxsize=6)
def _lattice_table(m: int, n: int, cps: int) -> tuple:
    """P(T ≤ t, K ≥ 2), T = Σ_{i≤n} u_i²1[u_i>0], on one grid of step h: each cell [jh, (j+1)h) of the
    Beta law splits its exact mass between its two ends so that its exact first moment is kept
    (E[B; B ∈ cell] from the Beta(3/2, (m−1)/2) law, since u·f_{1/2,β}(u) = E B·f_{3/2,β}(u)); the
    mean of the lattice sum is then exact and its variance exceeds the true one by O(h²). The CDF is
    read at the lattice's midpoints and interpolated linearly. Returns (midpoints, cumulative
    masses, P(K ≥ 2), truncated + wrapped mass, FFT round-off bound); read-only arrays, cached."""
    from scipy.special import betainc

    h, J, i_lo, N, wrap = _grid_plan(m, n, cps)
    edges = np.minimum(h * np.arange(J + 1), 1.0)
    F = betainc(0.5, 0.5 * (m - 1), edges)
    G = betainc(1.5, 0.5 * (m - 1), edges)
    p = 0.5 * np.diff(F)                        # mass of cell j (u > 0 and u² in the cell)
    mu = 0.5 / m * np.diff(G)                   # its first moment
    right = np.clip((mu - edges[:-1] * p) / h, 0.0, p)
    left = p - right
    trunc = 0.5 * (1.0 - F[-1])
    k = np.zeros(N)                             # the active part (u > 0); the atom u ≤ 0 is the ½ below
    j = np.arange(J)
    np.add.at(k, j % N, left)
    np.add.at(k, (j + 1) % N, right)
    act = np.fft.rfft(k)
    ks = 0.5 + act
    with np.errstate(under="ignore"):
        # K ≥ 2 only: the terms K = 0 (atom 2^-n at 0) and K = 1 (n·2^-n·Beta CDF, whose density is
        # singular at 0) are added exactly by the caller
        spec = ks ** n - 0.5 ** n - n * 0.5 ** (n - 1) * act
    a = i_lo % N                                # index 0 of the window is lattice point i_lo
    shift = np.exp(2j * np.pi * ((np.arange(len(spec)) * a) % N) / N)
    c = np.fft.irfft(spec * shift, N)
    with np.errstate(under="ignore"):
        powsum = float(np.sum(np.abs(ks) ** n))
    roundoff = N * ((n + 8) * 2.3e-16 * 2.0 * powsum / N + 2.3e-16 * math.log2(N) * float(np.abs(c).max()))
    c = np.maximum(c, 0.0)
    cum = np.cumsum(c)                          # P(T_lattice ≤ (i_lo + i)·h)
    xs = (i_lo + np.arange(N) + 0.5) * h        # … read at the midpoints
    total = 1.0 - 2.0 ** -n * (1.0 + n)        # P(K ≥ 2)
    if i_lo == 0:                               # the law of T given K ≥ 2 has no atom: CDF 0 at t = 0
        xs, cum = np.concatenate([[0.0], xs]), np.concatenate([[0.0], cum])
    xs.setflags(write=False)
    cum.setflags(write=False)
    return xs, cum, total, n * trunc + wrap, roundoff


def _lattice_cdf(m: int, n: int, cps: int, t: np.ndarray) -> tuple:
    """(P(T ≤ t, K ≥ 2) on one grid, truncated + wrapped mass, FFT round-off bound): linear
    interpolation on the table's uniform midpoints (indexed directly: np.interp would check the
    2^21-point table on every call), 0 below it and P(K ≥ 2) above."""
    xs, cum, total, err, roundoff = _lattice_table(m, n, cps)
    t = np.asarray(t, dtype=float)
    h = 1.0 / (cps * m)                              # the grid's step (as _grid_plan)
    first = 1 if xs[0] == 0.0 and len(xs) > 1 else 0
    x1 = xs[first]                                   # the first midpoint
    with np.errstate(invalid="ignore"):
        u = (t - x1) / h
    i = np.clip(np.floor(u), -1, len(xs) - first - 1)
    frac = u - i
    j = (i + first).astype(np.int64)
    lo_v = np.where(i >= 0, cum[np.clip(j, 0, len(cum) - 1)], 0.0)
    hi_v = cum[np.clip(j + 1, 0, len(cum) - 1)]
    out = lo_v + (hi_v - lo_v) * frac
    if first:                                        # between 0 and the first midpoint
        out = np.where(i < 0, cum[1] * np.clip(t / x1, 0.0, 1.0), out)
    else:
        out = np.where(i < 0, 0.0, out)
    out = np.where(t >= xs[-1], total, out)
    return out, err, roundoff


def _extrapolates(m: int, n: int, t: np.ndarray) -> tuple:
    """(R₁, R₂, cut + round-off): the Richardson extrapolates of P(T ≤ t, K ≥ 2) from the grids
    (24, 48) and (48, 96) cells per 1/m (the lattice's error is O(h²): its corrections shrink 4×
    per halving, tested)."""
    v, e, r = zip(*(_lattice_cdf(m, n, c, t) for c in _LEVELS))
    return v[1] + (v[1] - v[0]) / 3.0, v[2] + (v[2] - v[1]) / 3.0, max(e) + max(r)


@lru_cache(maxsize=16)
def _global_tolerance(m: int, n: int) -> float:
    """The largest change between the two Richardson extrapolates over the finest grid's points,
    plus the cut masses and the round-off bounds: the stated absolute tolerance of every CDF value
    of the (m, n) law."""
    xs = _lattice_table(m, n, _LEVELS[-1])[0]
    r1, r2, extra = _extrapolates(m, n, xs)
    return float(np.max(np.abs(r2 - r1))) + extra


def _alive_cdf(m: int, n: int, t: np.ndarray) -> np.ndarray:
    """P(T ≤ t, T > 0) (no atom; every K ≥ 1), elementwise for t ≥ 0: K = 1 exact, K ≥ 2 on the
    lattice (the second Richardson extrapolate); m = 1 and n = 1 exact."""
    from scipy.special import bdtr, betainc

    t = np.asarray(t, dtype=float)
    p0 = 2.0 ** -n
    if m == 1:
        k = np.floor(t + 1e-12)
        with np.errstate(invalid="ignore"):
            return np.where(t < 1.0 - 1e-12, 0.0, bdtr(np.clip(k, 0, n), n, 0.5) - p0)
    one = n * p0 * betainc(0.5, 0.5 * (m - 1), np.clip(t, 0.0, 1.0))
    if n == 1:
        return one
    return one + np.maximum(_extrapolates(m, n, t)[1], 0.0)


def _alive_sf(m: int, n: int, t: np.ndarray) -> np.ndarray:
    """P(T > t) for t ≥ 0 (the K = 1 tail exact by the complementary incomplete beta; the K ≥ 2
    tail as P(K ≥ 2) minus the lattice CDF: absolute accuracy, as the CDF's)."""
    from scipy.special import bdtrc, betaincc

    t = np.asarray(t, dtype=float)
    p0 = 2.0 ** -n
    if m == 1:
        return bdtrc(np.clip(np.floor(t + 1e-12), 0, n), n, 0.5)
    one = n * p0 * betaincc(0.5, 0.5 * (m - 1), np.clip(t, 0.0, 1.0))
    if n == 1:
        return one
    total = _lattice_table(m, n, _CELLS_PER_SCALE)[2]
    return one + np.maximum(total - _extrapolates(m, n, t)[1], 0.0)


def _log(p: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.log(np.maximum(p, 0.0))


@dataclass(frozen=True, eq=True)
class WnormLaw(OneLayerLaw):
    """The weight-normalized one-layer law of X (fan-in m, width n, g²) as a
    :class:`bounds.band.OneLayerLaw`, so that the band recursion of :mod:`bounds.band` gives p_stay
    and p_last for weight-normalized networks. Its CDF is the lattice evaluation of
    :func:`law_cdf` (cached tables), and ``cdf_tolerance`` the stated tolerance over every point;
    the band recursion adds its propagation to its own tolerance. Build it with :func:`wnorm_law`
    (which checks the cost first)."""

    fan_in: int
    width: int
    g2: float

    far_mass = 0.0          # the cut and wrapped masses are inside cdf_tolerance
    t_point = 2e-7          # one interpolation in the cached tables

    @property
    def cdf_tolerance(self) -> float:
        if self.fan_in == 1 or self.width == 1:
            return 1e-15
        return _global_tolerance(self.fan_in, self.width)

    def log_cdf_alive(self, x):
        with np.errstate(over="ignore", under="ignore"):
            t = np.exp(np.asarray(x, dtype=float)) / self.g2
        return _log(_alive_cdf(self.fan_in, self.width, t))

    def log_sf(self, x):
        with np.errstate(over="ignore", under="ignore"):
            t = np.exp(np.asarray(x, dtype=float)) / self.g2
        return _log(_alive_sf(self.fan_in, self.width, t))

    def log_moments(self) -> rho.LogMoments:
        """Mean and variance of log X given X > 0: the K = 1 part exactly (log of a Beta variable:
        ψ(½) − ψ(m/2), ψ₁(½) − ψ₁(m/2)), the K ≥ 2 part from the fine lattice (it sizes the grids
        only)."""
        from scipy.special import polygamma, psi

        m, n = self.fan_in, self.width
        p0 = 2.0 ** -n
        lg = math.log(self.g2)
        if m == 1:
            k = np.arange(1, n + 1, dtype=float)
            from scipy.special import gammaln

            w = np.exp(gammaln(n + 1.0) - gammaln(k + 1.0) - gammaln(n - k + 1.0) - n * math.log(2.0))
            w /= w.sum()
            lk = np.log(k)
            mean = float(np.sum(w * lk))
            return rho.LogMoments(lg + mean, float(np.sum(w * (lk - mean) ** 2)), p0)
        a, b = 0.5, 0.5 * (m - 1)
        m1, v1 = float(psi(a) - psi(a + b)), float(polygamma(1, a) - polygamma(1, a + b))
        if n == 1:
            return rho.LogMoments(lg + m1, v1, p0)
        xs, cum, total, _, _ = _lattice_table(m, n, 2 * _CELLS_PER_SCALE)
        c = np.diff(np.concatenate([[0.0], cum]))
        lx = np.log(np.maximum(xs - 0.5 * (xs[1] - xs[0]), 0.25 * (xs[1] - xs[0])))
        w2 = float(c.sum())
        m2 = float(np.sum(c * lx) / w2)
        v2 = float(np.sum(c * (lx - m2) ** 2) / w2)
        w1 = n * p0
        W = w1 + w2
        mean = (w1 * m1 + w2 * m2) / W
        var = (w1 * (v1 + (m1 - mean) ** 2) + w2 * (v2 + (m2 - mean) ** 2)) / W
        return rho.LogMoments(lg + mean, var, p0)


def _band_width_one(depth: int, lo: float, hi: float, g2: float, layers: str) -> BandResult:
    """p_stay / p_last at width 1 = fan-in 1, exactly: X = g² with probability ½, else 0, so
    Π_l = g^{2l} with probability 2^{-l} (and 0 otherwise)."""
    ls = range(1, depth + 1) if layers == "all" else (depth,)
    inside = all(lo <= math.exp(l * math.log(g2)) <= hi for l in ls)
    p_in = 2.0 ** -depth if inside else 0.0
    lf = math.log1p(-p_in) if p_in < 1.0 else -math.inf
    return BandResult(1, depth, lo, hi, layers, p_in, lf, 1e-15, 1e-15 / max(-math.expm1(lf), 1e-300), 0, "exact")


def _band_wn(width: int, depth: int, lo: float, hi: float, layers: str, rtol: float, gain=None) -> BandResult:
    """p_stay (layers="all") or p_last for weight-normalized layers of equal widths (fan-in = width):
    the band recursion of :mod:`bounds.band` with :class:`WnormLaw` (width 1 exactly)."""
    if width == 1:
        return _band_width_one(depth, lo, hi, _g2(1, 1, gain), layers)
    return band_probability(width, depth, lo, hi, layers=layers, rtol=rtol, law=wnorm_law(width, width, gain=gain))


def wnorm_law(fan_in: int, width: int, *, gain=None) -> WnormLaw:
    """:class:`WnormLaw` for these sizes, refused (:class:`CostLimitError`) before any work where
    a grid would need an FFT above 2^23 points."""
    _check_size(fan_in, width)
    m, n = int(fan_in), int(width)
    if m > 1 and n > 1:
        secs, nmax = _cdf_cost(m, n)
        if nmax > _FFT_MAX:
            raise CostLimitError("the weight-normalized law at {width} " f"{n:,} needs an FFT of {nmax:,} points "
                                 f"(about {secs:.3g} s), beyond this tool's limit of {_FFT_MAX:,}", names=("width",))
    return WnormLaw(m, n, _g2(m, n, gain))


@constrain(**_FAN, gain=_GAIN)
def law_cdf(fan_in, width, x, *, gain=None) -> CdfResult:
    r"""P(X ≤ x) for one weight-normalized ReLU layer, with its stated tolerance.

    .. math:: P(X\le x)=\sum_{k=0}^{n}\binom nk 2^{-n}\,P\Big(\sum_{j\le k}B_j\le x/g^2\Big),\quad B_j\sim\mathrm{Beta}(\tfrac12,\tfrac{m-1}2)

    m = 1: exact, X = g²K. m ≥ 2: the per-unit law is discretized on cells of width h = 1/(24m)
    (then h/2, h/4) with exact cell probabilities (regularized incomplete beta), each cell's mass
    split between its ends so that its first moment is exact; the law of the n-fold sum is one FFT
    power on a window of ±(Bernstein, e^-40) around the mean; the CDF between lattice points is
    interpolated; Richardson steps (error O(h²)) combine the grids (24, 48) and (48, 96), and the
    second extrapolate is the value. The terms K = 0 (the atom 2^{-n}) and K = 1 (n·2^{-n} times the Beta CDF,
    whose density is singular at 0) are exact; the lattice carries K ≥ 2. ``tolerance`` (absolute) = the change
    between the two extrapolates +
    the truncated Beta tail (n·e^-60/2) + the window's outside mass (Bernstein) + an FFT round-off
    bound. This tolerance is stated, not proven (the O(h²) behaviour is the assumption).
    Raises :class:`CostLimitError` before the work if a grid would need an FFT above 2^23 points.
    Source: [derived] docs/theory.md §12.

    >>> r = law_cdf(1, 3, [0.0, 1.0, 2.0, 6.0], gain=1.0); [round(float(v), 12) for v in r.cdf]
    [0.125, 0.5, 0.875, 1.0]
    """
    _check_size(fan_in, width)
    m, n = int(fan_in), int(width)
    xa = np.atleast_1d(np.asarray(x, dtype=float))
    if not np.all(np.isfinite(xa)):
        raise DomainError(f"x must be finite; got {x!r}", param="x")
    t = xa / _g2(fan_in, width, gain)
    p0 = 2.0 ** -n
    if m == 1:                                   # u² = 1: X = g²K exactly
        from scipy.special import bdtr

        k = np.floor(t + 1e-12)
        vals = np.where(t < 0, 0.0, bdtr(np.clip(k, 0, n), n, 0.5))
        return CdfResult(xa, vals, 1e-15, p0, 0)
    if n == 1:                                   # one unit: ½ + ½·P(u² ≤ t), exact
        from scipy.special import betainc

        vals = np.where(t < 0, 0.0, 0.5 + 0.5 * betainc(0.5, 0.5 * (m - 1), np.clip(t, 0.0, 1.0)))
        return CdfResult(xa, vals, 1e-15, p0, 0)
    secs, nmax = _cdf_cost(m, n)
    if nmax > _FFT_MAX:
        raise CostLimitError("the weight-normalized CDF at {fan_in} " f"{m:,} and " "{width} " f"{n:,} needs an FFT "
                             f"of {nmax:,} points (about {secs:.3g} s), beyond this tool's limit of {_FFT_MAX:,}",
                             names=("fan_in", "width"))
    from scipy.special import betainc

    r1, r2, extra = _extrapolates(m, n, t)
    exact = p0 * (1.0 + n * betainc(0.5, 0.5 * (m - 1), np.clip(t, 0.0, 1.0)))    # K = 0 and K = 1
    vals = np.where(t < 0, 0.0, np.clip(exact + np.maximum(r2, 0.0), 0.0, 1.0))
    tol = (float(np.max(np.abs(r2 - r1))) if r2.size else 0.0) + extra
    return CdfResult(xa, vals, min(tol, 1.0), p0, _grid_plan(m, n, _LEVELS[-1])[3])


@constrain(**_FAN, gain=_GAIN)
def cdf(fan_in, width, x, *, gain=None) -> np.ndarray:
    """P(X ≤ x) (values only; see :func:`law_cdf` for the tolerance)."""
    return law_cdf(fan_in, width, x, gain=gain).cdf


@constrain(**_FAN, gain=_GAIN)
def sf(fan_in, width, x, *, gain=None) -> np.ndarray:
    """P(X > x) = 1 − P(X ≤ x) (absolute tolerance as :func:`law_cdf`)."""
    return 1.0 - law_cdf(fan_in, width, x, gain=gain).cdf


# --- minimum width (equal widths, norm-preserving gain) ---------------------------------------------
METHODS = ("authors_formula", "chernoff_per_layer", "chernoff_product", "exact_union")
SOURCES = {
    "authors_formula": "authors' code (AB19 v1 Fig. 6 curve; Gaussian-weight formula, unchanged)",
    "chernoff_per_layer": "derived (per-layer Chernoff with the weight-normalized rate + union bound)",
    "chernoff_product": "derived (Doob with exact integer moments; per-layer Chernoff lower side)",
    "exact_union": "derived (p_stay by the band recursion with this law + union; stated tolerance)",
}
_EXACT_RTOL = 1e-4     # as bounds.width: relative tolerance of the band recursion when deciding the width
DESIGN = {"depth": COUNT, "samples": COUNT, "delta": OPEN_UNIT, "eps": OPEN_UNIT, "norm": NORMS, "layers": LAYERS}
_ASSUMPTIONS = ("weight-normalized rows: every row of W_l has norm g = √(2n_{l−1}/n_l) (√2 for equal widths), "
                "directions uniform on the sphere (Gaussian draws, torch's weight_norm at init with g set)",
                "zero bias", "every layer, and the input, of the same width n (fan-in m = n)")


def _rates_wn(n: int, depth: int, lo: float, hi: float) -> tuple:
    with mp.workdps(60):
        r_hi = float(1 + mp.expm1(mp.log(mp.mpf(hi)) / depth))
        r_lo = float(1 + mp.expm1(mp.log(mp.mpf(lo)) / depth))
    if not (r_lo < 1.0 < r_hi):
        raise CostLimitError(f"the per-layer band (1 ± about {{eps}}/{{depth}}) rounds to 1 in doubles at depth {depth}; "
                             "the weight-normalized rates are evaluated in doubles at the band's edges",
                             names=("eps", "depth"))
    return _rate(n, n, 2.0, r_hi), _rate(n, n, 2.0, r_lo)


def _log_fail_per_layer_wn(n: int, depth: int, samples: int, lo: float, hi: float) -> float:
    i_hi, i_lo = _rates_wn(n, depth, lo, hi)
    return float(math.log(samples) + math.log(depth) + np.logaddexp(-n * i_hi, -n * i_lo))


def _log_fail_product_wn(n: int, depth: int, lo: float, hi: float, layers: str) -> float:
    """Upper side: the smaller of min over integer p ≤ 256 of L·log E X^p − p·log hi (Doob's maximal
    inequality for the submartingale Π_l^p, p ≥ 1; Markov for the last layer) and L·e^{−nI(hi^{1/L})}
    (Π_l ≥ hi forces some X_j ≥ hi^{1/L}); lower side: Π_l ≤ lo for some l ≤ L forces some layer j
    with X_j ≤ lo^{1/L}, so it is at most L·e^{−nI(lo^{1/L})}. Never above the per-layer bound."""
    lm = _log_moments_norm(n, n, _MOMENT_ORDER_MAX)
    p = np.arange(1, _MOMENT_ORDER_MAX + 1, dtype=float)
    i_hi, i_lo = _rates_wn(n, depth, lo, hi)
    upper = min(float(np.min(depth * lm[1:] - p * math.log(hi))), math.log(depth) - n * i_hi)
    lower = math.log(depth) - n * i_lo
    return float(np.logaddexp(min(upper, 0.0), lower))


@constrain(method=Options(METHODS), **DESIGN)
def min_width(method, depth, samples, delta, eps, *, norm="squared", layers="all"):
    r"""Minimum width n (every layer and the input of width n, gain √2) for which ``method``
    guarantees the ε-band for N inputs with probability ≥ 1 − δ, for weight-normalized rows.

    Methods as :func:`bounds.width.min_width`, with this law: ``authors_formula`` unchanged (the
    authors' Gaussian-weight curve, labelled); ``chernoff_per_layer`` (this law's rate);
    ``chernoff_product`` (Doob's maximal inequality with exact integer moments of X on the upper
    side, the per-layer Chernoff bound on the lower side); ``exact_union``: N·(p_fail + tolerance)
    with p_fail from the band recursion of :mod:`bounds.band` run with :class:`WnormLaw` (refused
    where the propagated tolerance is not below δ/(2N)). Returns a
    :class:`bounds.width.WidthResult`. Raises :class:`CostLimitError` where the width would pass
    2^53, or (product) where the cost model of the moments is exceeded.
    Source: [derived] docs/theory.md §12; AB19 (arXiv 1901.03611).

    >>> min_width("chernoff_per_layer", 2, 1, 0.1, 0.5).min_width > 0
    True
    """
    from . import width as W

    L, N = depth, samples
    log_delta = math.log(delta)
    if method == "authors_formula":
        notes = ("AB19's plotting formula (Gaussian weights); unchanged for weight norm; not a proven bound",)
        return W.WidthResult(method, W._authors_width(L, N, delta, eps), SOURCES[method], math.nan, notes)
    lo_b, hi_b = W.checked_band(eps, norm)
    _rates_wn(2, L, lo_b, hi_b)                # refuses a band that rounds to 1 before any work
    # the Gaussian-weight per-layer width is the start (the weight-normalized rate is close to it)
    i_min = float(min(W._per_layer_rates(L, lo_b, hi_b)))
    if not i_min > 0:
        raise CostLimitError("the per-layer rate underflows here: a larger {eps} or a smaller {depth} is needed",
                             names=("eps", "depth"))
    guess = (math.log(2 * N * L) - log_delta) / i_min
    if guess > 0.5 * WIDTH_MAX:
        raise CostLimitError(f"the weight-normalized width would be about {guess:.3g}, above half of 2^53 = {WIDTH_MAX:.3g} "
                             "(this law is evaluated up to 2^53); a larger {eps} or a smaller {depth} is needed",
                             names=("eps", "depth"))
    start = max(1, int(math.ceil(guess)))
    two = False
    if method == "chernoff_per_layer":
        f = lambda n, fine: _log_fail_per_layer_wn(n, L, N, lo_b, hi_b)  # noqa: E731
        notes: tuple = ()
    elif method == "exact_union":
        start = W._clt_width(L, N, delta, lo_b, hi_b, layers)
        if start > WIDTH_MAX:
            raise CostLimitError(f"the exact width would be near {start:.3g}, beyond 2^53", names=())

        def f(n, fine):
            # N·(p_fail + tolerance): the band recursion's own and the law's stated tolerance are
            # added, so that the width meets δ whatever the numerical error within the tolerance
            r = _band_wn(n, L, lo_b, hi_b, layers, _EXACT_RTOL if fine else 1e-2)
            return math.log(N) + float(np.logaddexp(r.logp_fail, math.log(max(r.tolerance, 1e-320))))

        # the law's tolerance (≈ τ(2 + 4L)) must sit well below δ/N, or no width can certify δ
        tau = wnorm_law(max(start, 2), max(start, 2)).cdf_tolerance * (2.0 + 4.0 * L)
        if tau * N > 0.5 * delta:
            raise CostLimitError(f"the weight-normalized CDF's stated tolerance propagates to about {tau:.2g} per input "
                                 f"(width {start:,}), not below δ/(2N) = {delta / (2 * N):.2g}: the band recursion "
                                 "cannot certify this {delta}; the Chernoff methods can", names=("delta",))
        two = True
        notes = ("p_stay from the band recursion with the weight-normalized law; its tolerance (the law's stated CDF "
                 "tolerance propagated, and the recursion's own) is added to the failure probability",)
    else:
        secs = _moment_cost(max(start, 2), _MOMENT_ORDER_MAX) * 40
        if secs > 60.0:
            raise CostLimitError(f"the product bound's moments need about {secs:.3g} s at widths near {start:.3g}",
                                 names=())
        f = lambda n, fine: math.log(N) + _log_fail_product_wn(n, L, lo_b, hi_b, layers)  # noqa: E731
        notes = ("upper side: Doob with integer orders p ≤ 256 (or the per-layer bound where smaller); "
                 "lower side: the per-layer Chernoff bound",)
    f = W._memo(f)
    n_star = W._solve(f, log_delta, start, two_levels=two, n_max=WIDTH_MAX, log_offset=math.log(N))
    if n_star is None:
        raise CostLimitError(f"the {method} bound needs a width above 2^53 here", names=())
    return W.WidthResult(method, n_star, SOURCES[method], f(n_star, True), notes)


@constrain(**DESIGN)
def min_widths(depth, samples, delta, eps, *, norm="squared", layers="all") -> list:
    """:func:`min_width` for the four methods; a method that cannot answer gives ``min_width=None``
    with the reason in its notes."""
    from .width import WidthResult

    out = []
    for m in METHODS:
        try:
            out.append(min_width(m, depth, samples, delta, eps, norm=norm, layers=layers))
        except CostLimitError as e:
            if m == METHODS[0]:
                raise
            out.append(WidthResult(m, None, SOURCES[m], math.nan, (f"not computed: {e}",)))
    return out


@constrain(**DESIGN)
def width_report(depth, samples, delta, eps, *, norm="squared", layers="all") -> Report:
    """What ``initbounds width --weight-norm`` prints: the four methods for weight-normalized rows.

    ``as_dict()`` = {"inputs", "weight_norm": {"gain", "fan_in"}, "methods": [name, min_width,
    source, log_failure_bound, and ``min_width_not_computed`` (the reason) where min_width is null]}.

    >>> r = width_report(2, 1, 0.1, 0.5)
    >>> [m["name"] for m in r.as_dict()["methods"]][-1]
    'exact_union'
    """
    res = min_widths(depth, samples, delta, eps, norm=norm, layers=layers)
    inputs = {"depth": depth, "samples": samples, "delta": delta, "eps": eps, "norm": norm, "layers": layers,
              "weight_norm": True}
    methods = []
    for r in res:
        d = {"name": r.name, "min_width": None if r.min_width is None else int(r.min_width), "source": r.source,
             "log_failure_bound": None if math.isnan(r.log_failure) else r.log_failure}
        if r.min_width is None:
            d["min_width_not_computed"] = r.notes[0] if r.notes else "not computed"
        methods.append(d)
    data = {"inputs": inputs, "weight_norm": {"gain": "sqrt(2 n_{l-1}/n_l) = sqrt(2)", "fan_in": "n (equal widths)"},
            "methods": methods}
    rows = tuple((r.name, "—" if r.min_width is None else f"{r.min_width:,}",
                  "—" if math.isnan(r.log_failure) else fmt_logp(r.log_failure), r.source) for r in res)
    return Report(
        title=(f"Minimum width, weight-normalized rows (gain √2): L={depth}, N={samples}, δ={delta:g}, ε={eps:g} "
               f"({norm} norm, {layers} layers)"),
        rows=rows, data=data, columns=("method", "min width", "failure bound at that width", "source"),
        lines=tuple(f"note ({r.name}): {note}" for r in res for note in r.notes),
        assumptions=_ASSUMPTIONS)


@constrain(width=COUNT, depth=COUNT, eps=OPEN_UNIT, samples=COUNT, norm=NORMS, gain=_GAIN)
def prob_report(width, depth, eps, samples=1, *, norm="squared", gain=None) -> Report:
    r"""What ``initbounds prob --weight-norm`` prints: one weight-normalized layer's law (m = n) and
    the bounds on P(some of N inputs leaves the ε-band) at this width.

    Rows: the gain, E X and Var X (exact), E‖h_L‖²/‖x‖² = (E X)^L (exact), P(X ≤ 0) = 2^{-n}; the
    per-layer Chernoff bound (any gain: the band is per layer) and the product bound (the
    norm-preserving gain only: Doob needs E X = 1); p_stay and p_last from the band recursion of
    :mod:`bounds.band` with :class:`WnormLaw` (any gain), with their stated tolerance, and the union
    bound N·(1 − p_stay). Where the band recursion refuses (its cost model, or the law's FFT), the
    JSON value is null beside a ``p_stay_not_computed`` reason.

    >>> r = prob_report(64, 3, 0.5); round(r.as_dict()["mean_ratio"], 12)
    1.0
    """
    from .width import checked_band

    n, L = width, depth
    if n > WIDTH_MAX:
        raise CostLimitError("{width} must be ≤ 2^53 = " f"{WIDTH_MAX:.4g} for the weight-normalized law (widths are "
                             f"exact in doubles up to there); got {n}", param="width")
    g0 = math.sqrt(2.0)
    g = g0 if gain is None else float(gain)
    lo, hi = checked_band(eps, norm)
    mean = mean_ratio(n, n, gain=gain)
    var = var_ratio(n, n, gain=gain)
    with mp.workdps(30):
        log_mean_L = float(L * mp.log(mp.mpf(g) ** 2 / 2))
    # per-layer: each layer's ratio in [lo^{1/L}, hi^{1/L}] (a band on X itself, whatever the mean)
    with mp.workdps(60):
        r_hi = float(1 + mp.expm1(mp.log(mp.mpf(hi)) / L))
        r_lo = float(1 + mp.expm1(mp.log(mp.mpf(lo)) / L))
    g2 = g * g
    if not (r_lo < 1.0 < r_hi):
        raise CostLimitError("the per-layer band rounds to 1 in doubles at this {eps} and {depth}", names=("eps", "depth"))
    i_hi = _rate(n, n, g2, r_hi) if r_hi > mean else 0.0
    i_lo = _rate(n, n, g2, r_lo) if r_lo < mean else 0.0
    per_layer = float(math.log(samples) + math.log(L) + np.logaddexp(-n * i_hi, -n * i_lo))
    product, product_why = None, None
    if gain is None or abs(g - g0) <= 1e-15 * g0:
        product = math.log(samples) + _log_fail_product_wn(n, L, lo, hi, "all")
    else:
        product_why = ("Doob's inequality needs the norm-preserving gain √2 (E X = 1, so Π_l^p is a submartingale); "
                       f"got gain {g:g}")
    res, why = {}, {}
    for layers in ("all", "last"):
        try:
            res[layers] = _band_wn(n, L, lo, hi, layers, 1e-4, gain=gain)
        except CostLimitError as e:
            res[layers], why[layers] = None, str(e)
    stay, last = res["all"], res["last"]
    data = {
        "inputs": {"width": n, "depth": L, "eps": eps, "samples": samples, "norm": norm, "weight_norm": True,
                   "gain": g},
        "gain": g, "norm_preserving_gain": g0, "mean_ratio": mean, "var_ratio": var,
        "log_mean_sq_ratio_L": log_mean_L,
        "p_zero_layer": 2.0 ** -n,
        "chernoff_per_layer": min(1.0, math.exp(min(per_layer, 0.0))),
        "log_chernoff_per_layer": per_layer,
        "chernoff_product": None if product is None else min(1.0, math.exp(min(product, 0.0))),
        "p_stay": None if stay is None else stay.p_in,
        "p_last": None if last is None else last.p_in,
        "p_fail_union": None if stay is None else min(1.0, samples * stay.p_fail),
        "log_p_fail_union": None if stay is None else math.log(samples) + stay.logp_fail,
        "tolerance": max((r.tolerance for r in (stay, last) if r is not None), default=None),
    }
    if "all" in why:
        data["p_stay_not_computed"] = why["all"]
    if "last" in why:
        data["p_last_not_computed"] = why["last"]
    if product_why:
        data["chernoff_product_not_computed"] = product_why
    rows = (
        ("gain g (every row's norm)", f"{g:.6g}", "input" if gain is not None else "derived: √(2m/n) = √2"),
        ("E X = E‖h_l‖²/‖h_{l−1}‖²  (g² n/(2m))", f"{mean:.6g}", "derived, exact"),
        ("Var X", f"{var:.6g}", "derived, exact"),
        (f"E‖h_L‖²/‖x‖² = (E X)^L, L = {L}", f"{math.exp(log_mean_L):.6g}", "derived, exact"),
        ("P(X = 0) = 2^{-n}", fmt_p(2.0 ** -n), "derived, exact"),
        ("per-layer Chernoff bound (N inputs)", fmt_logp(min(0.0, per_layer)), "derived"),
        ("product (Doob) bound (N inputs)", "—" if product is None else fmt_logp(min(0.0, product)),
         "derived" if product is not None else "not computed"),
        ("p_stay  (every layer in band, one input)", "—" if stay is None else fmt_p(stay.p_in),
         "not computed" if stay is None else "derived, stated tolerance"),
        ("p_last  (last layer in band, one input)", "—" if last is None else fmt_p(last.p_in),
         "not computed" if last is None else "derived, stated tolerance"),
        (f"union bound over N = {samples}: N·(1 − p_stay)", "—" if stay is None else
         fmt_logp(min(0.0, math.log(samples) + stay.logp_fail)), "not computed" if stay is None else "derived"),
    )
    lines = tuple(f"{'p_stay' if k == 'all' else 'p_last'}: not computed ({v})" for k, v in why.items())
    if data["tolerance"] is not None:
        lines += (f"tolerance of p_stay, p_last (absolute; the law's stated CDF tolerance propagated, and the "
                  f"recursion's own): {data['tolerance']:.1e}",)
    if product_why:
        lines += (f"product bound: not computed ({product_why})",)
    return Report(title=f"Weight-normalized width {n:,} (fan-in {n:,}), depth {L}, ε = {eps:g} ({norm} norm)",
                  rows=rows, data=data, lines=lines, assumptions=_ASSUMPTIONS[1:] + (
                      f"weight-normalized rows of norm g = {g:.6g}, directions uniform on the sphere",))


# --- derivation -------------------------------------------------------------------------------------
def derive_wnorm():
    """The derivation behind ``initbounds width --weight-norm`` / ``prob --weight-norm``."""
    import sympy as sy

    from .derivation import Derivation, Step

    S = _symbolic()
    m, n, g, r = S["m_sym"], S["n_sym"], S["g_sym"], S["r_sym"]
    k = sy.Symbol("k", integer=True, nonnegative=True)
    X = sy.Symbol("X")
    bm = S["BETA_MOMENT_EXPR"]
    var_norm = sy.factor(S["VAR_EXPR"].subs(g, S["GAIN_EXPR"]).subs(m, n))
    lim_var = sy.limit(n * S["VAR_EXPR"].subs(g, S["GAIN_EXPR"]), m, sy.oo)
    # the m → ∞ limit of one unit's moments at the norm-preserving gain: E(2m u²)^r → E(2ζ²)^r
    unit_lim = sy.Tuple(*[sy.limit(sy.gammasimp((2 * m) ** j * bm.subs(r, j)), m, sy.oo) for j in (1, 2, 3)])
    steps = (
        Step("A weight-normalized row is w = g·v/‖v‖; with Gaussian v its direction is uniform on the sphere "
             "S^{m−1}, so ⟨w, h⟩ = g‖h‖u with u the first coordinate of a uniform unit vector: B = u² ~ Beta(1/2, "
             "(m−1)/2), and sign(u) is a fair coin independent of u². Its moments:",
             sy.Eq(sy.Symbol("E[B^r]"), bm), citation="AB19 v1",
             assumptions=("rows of norm g", "directions uniform (Gaussian draws)", "zero bias")),
        Step("The layer ratio is g² times the sum over the active rows (u > 0) of u²: K ~ Bin(n, 1/2) "
             "terms, independent of the input's direction, hence of the previous layers.",
             sy.Eq(X, g**2 * sy.Sum(sy.Symbol("B_j"), (sy.Symbol("j"), 1, sy.Symbol("K")))), citation="AB19 v1"),
        Step("Mean and variance (sympy, from the Beta moments).",
             sy.Tuple(sy.Eq(sy.Symbol("E[X]"), S["MEAN_EXPR"]), sy.Eq(sy.Symbol("Var[X]"), S["VAR_EXPR"])),
             citation="AB19 v1"),
        Step("The gain that preserves E‖h‖² solves E X = 1; torch's weight_norm sets g = ‖v‖ at creation instead.",
             sy.Eq(g, S["GAIN_EXPR"]), citation="AB19 v1"),
        Step("At that gain with m = n: the variance, below the Gaussian-weight 5/n; and n·Var X tends to 5 as m → ∞.",
             sy.Tuple(sy.Eq(sy.Symbol("Var[X]"), var_norm), sy.Eq(sy.Symbol("lim n Var[X]"), lim_var)),
             citation="AB19 v1"),
        Step("The moments of 2m·u² (orders 1, 2, 3) tend to those of 2ζ², ζ ~ N(0,1) (2, 12, 120): at the "
             "norm-preserving gain the law of X tends to ρ (bounds.rho) as the fan-in grows.", unit_lim, citation="AB19 v1"),
        Step("MGF (Kummer's function; X is bounded, so it is entire): the Chernoff rate of each tail is its "
             "Legendre transform.", sy.Eq(sy.Symbol("E[exp(t X)]"), S["MGF_EXPR"]), citation="AB19 v1"),
        Step("Exact CDF: a binomial mixture of sums of k Beta variables (evaluated on a lattice with a stated "
             "tolerance).",
             sy.Eq(sy.Symbol("P(X <= x)"), sy.Sum(sy.binomial(n, k) * 2 ** (-n) * sy.Function("F_k")(sy.Symbol("x") / g**2),
                                                  (k, 0, n))), citation="AB19 v1"),
        Step("Product bound, upper side: Doob's maximal inequality for Π_l^p with exact integer moments; lower side: "
             "Π_l ≤ lo forces some X_j ≤ lo^{1/L}, so the per-layer Chernoff bound covers it.",
             sy.Le(sy.Symbol("P(fail)"), sy.Symbol("h") ** (-sy.Symbol("p")) * sy.Symbol("E[X^p]") ** sy.Symbol("L")
                   + sy.Symbol("L") * sy.exp(-n * sy.Symbol("I_-"))),
             citation="AB19 v1", assumptions=("p a positive integer ≤ 256", "g = √(2m/n)")),
        Step("p_stay: the band recursion of the Gaussian-weight case run with this law's cell probabilities (the "
             "layer ratios are again independent); its stated tolerance is added before the union over N inputs.",
             sy.Le(sy.Symbol("P(fail)"), sy.Symbol("N") * (1 - sy.Symbol("p_stay") + sy.Symbol("tolerance"))),
             citation="AB19 v1"),
    )
    return Derivation("Weight-normalized ReLU layers: the exact one-layer law and the minimum width (AB19 v1)", steps)
