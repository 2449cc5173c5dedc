r"""Exact single-input probabilities that the squared-norm ratio stays in a band (docs/theory.md §3).

The squared-norm ratio after l layers is the product :math:`\Pi_l=\prod_{j\le l}\rho_j` of
independent copies of ρ (:mod:`bounds.rho`), so :math:`\log\Pi_l` is a random walk.

* ``p_stay(n, L, band)`` = P(Π_l ∈ band for every l ≤ L) — the walk confined to the band;
* ``p_last(n, L, band)`` = P(Π_L ∈ band) — only the last layer is constrained.

p_stay is computed on a grid of M cells whose edges align with the band's edges (log space);
p_last on a grid of h = sd(log ρ)/res covering the band and the walk, with the last layer taken
exactly from each cell centre. Layer 1 is exact (cell probabilities from the exact CDF of ρ; the
alive lower tail summed without the atom ρ = 0); each later layer moves the mass of a cell from
its centre with the exact cell probabilities of log ρ. The failure probability is accumulated as
a sum of positive exit masses (mass × exact tail probability), never as 1 − p. The later layers
use the cheapest of (by a cost model of time and memory checked before the work): FFT
convolutions (only at failure probabilities ≥ 1e-11: their round-off is absolute), direct
convolutions, binary powering of the non-negative transfer matrix (p_stay, cost M³·log L), or one
FFT of the kernel's spectrum raised to the power L − 2 (p_last). The direct and matrix paths add
only non-negative terms, so the failure probability keeps its relative accuracy down to about
1e-313; their cost is set by the grid, not by how small the probability is (a smaller one
comes with a band that is wider in standard deviations, hence more cells and levels). The grid is refined (h → h/2) with
Richardson extrapolation until the failure probability changes by less than ``rtol``
(relative); the last change, the mass off the grid and the round-off bounds are reported as the
achieved tolerance. [derived]
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

import mpmath as mp

from . import rho
from .death import logp_dead_point, logp_dead_uniform
from .errors import (COUNT, OPEN_UNIT, WIDTHS, CostLimitError, DomainError, Integral, Interval, Options, OrNone,
                     Real, constrain)
from .numerics import log_binomial_half, log_chi2_cdf, logsumexp

__all__ = ["BandResult", "band_probability", "band_for_eps", "COST_LIMIT", "ProductLaw",
           "product_law", "NORMS", "LAYERS", "OneLayerLaw"]

#: The norm a band constrains: the squared norm ratio or the plain norm ratio.
NORMS = Options(("squared", "plain"))
#: Which layers must stay in the band: every hidden layer, or the last one only.
LAYERS = Options(("all", "last"))

#: Largest estimated running time (seconds, on the 2-core reference machine) of one call. The
#: estimate counts every algorithm: the one-layer CDF evaluations, and the FFT, direct or
#: transfer-matrix steps, for every grid level that will run; it is checked before the work.
COST_LIMIT = 2.0
#: Largest estimated working memory (bytes) of one call, checked with the time.
MEMORY_LIMIT = 1 << 30
_LOG2 = math.log(2.0)
_FFT_MIN_FAIL = 1e-11  # below this failure probability only the non-negative algorithms are used
_CELLS_PER_SD = 6      # level-0 resolution: cells per standard deviation of one layer's log ρ
_LOG_KERNEL_EPS = -745.0   # one-layer kernels stop where the tail is below e^-745 (below doubles)
_LOG_GRID_EPS = -46.0      # layers="last": the grid reaches where one layer's tail is below e^-46 …
_GRID_SDS = 12.0           # … beyond 12 standard deviations of the walk (the mass off it is counted)
_MIN_LEVELS, _MAX_LEVELS = 2, 10
#: Below e^-720 (≈ 1e-313) the failure probability has no relative accuracy (the one-layer
#: kernels and layer-1 masses are cut where their tails fall below e^-745): rel_tolerance ≥ 1 there.
_LOG_REL_FLOOR = -720.0
_UNDERFLOW = 1e-320       # absolute round-off bound per cell and step once masses are subnormal (2^-1074 per operation)
# Cost model (seconds per unit), measured on the reference machine (2 shared cores) with
# /tmp-free numpy; deliberately on the slow side.
_T_STEP = 6e-5        # python overhead of one layer step
_T_FFT = 1.5e-8       # per nfft·log2(nfft) of one FFT convolution
_T_MAC = 1.5e-9       # per multiply-add of a direct (np.convolve) step
_T_GEMM = 5e-10       # per multiply-add of a matrix product (transfer-matrix doubling)
_CHUNK = 2_000_000    # elements of the largest temporary matrix of one CDF evaluation


class OneLayerLaw:
    """The interface through which the recursion may take another one-layer law than ρ's.

    Every private function below takes ``n``: an int (the Gaussian-weight law of :mod:`bounds.rho`
    at width n, the default, evaluated exactly as before) or an instance of a subclass of this
    class (hashable: results are cached by it) that provides

    * ``width`` — n, with an atom P(X = 0) = 2^{-n} (every unit of the layer inactive);
    * ``log_cdf_alive(x)`` — log P(log X ≤ x, X > 0) and ``log_sf(x)`` — log P(log X > x), for an
      array x (−inf where the probability is 0);
    * ``log_moments()`` — a :class:`bounds.rho.LogMoments` of log X given X > 0 (sizes the grids);
    * ``far_mass`` — the one-layer mass whose tails are not evaluated (counted in the tolerance),
      ``t_point`` — seconds per CDF point (the cost model), and ``cdf_tolerance`` — the absolute
      error of any CDF value, propagated into the reported tolerance (:func:`_law_err`).

    bounds.wnorm's weight-normalized law is one; tests check that a subclass wrapping ρ's own
    functions gives the same probabilities as the default.
    """

    width: int
    far_mass: float = 0.0
    t_point: float = 1e-5
    cdf_tolerance: float = 0.0

    def log_cdf_alive(self, x):  # pragma: no cover - interface
        raise NotImplementedError

    def log_sf(self, x):  # pragma: no cover - interface
        raise NotImplementedError

    def log_moments(self):  # pragma: no cover - interface
        raise NotImplementedError


def _is_law(n) -> bool:
    return isinstance(n, OneLayerLaw)


def _atom(n) -> float:
    """P(X = 0) = 2^{-n}."""
    return 2.0 ** -(n.width if _is_law(n) else n)


def _log_atom(n) -> float:
    return -(n.width if _is_law(n) else n) * _LOG2


def _lm(n):
    """Mean and variance of log X given X > 0 (rho.log_moments for the default law)."""
    return n.log_moments() if _is_law(n) else rho.log_moments(n)


def _law_err(n, layers: int) -> float:
    """Absolute error carried by a law's CDF tolerance τ (0 for the default law): τ(2 + 4L).

    A CDF error δF with |δF| ≤ τ changes the layer-1 masses' total by ≤ 2τ; at each later step it
    moves the probability of the event by |∫ f d(δ kernel)| = |∫ δF df| ≤ τ·TV(f), with f the
    probability of the event from a given position, which is 0 outside the band and (stated, not
    proved) unimodal inside, so TV(f) ≤ 2; the exits add 2τ per layer."""
    tau = n.cdf_tolerance if _is_law(n) else 0.0
    return tau * (2.0 + 4.0 * layers) if tau else 0.0


def _t_point(n) -> float:
    """Seconds per one-layer CDF/SF evaluation point (binomial sum for n ≤ 200, contour above)."""
    if _is_law(n):
        return n.t_point
    return 1.5e-5 + 1e-7 * (n + 1) if n <= rho._SUM_MAX else 1.1e-5


def _chunked(f, n: int, r: np.ndarray) -> np.ndarray:
    """f(n, r) on chunks of r, so that the (points × terms) temporaries stay below _CHUNK."""
    r = np.asarray(r, dtype=float)
    per = max(256, _CHUNK // (min(n, 20000) + 64))
    if r.size <= per:
        return np.atleast_1d(f(n, r)).astype(float)
    return np.concatenate([np.atleast_1d(f(n, r[i:i + per])) for i in range(0, r.size, per)])


def _exp(x):
    with np.errstate(over="ignore", under="ignore"):
        return np.exp(x)


@dataclass(frozen=True)
class BandResult:
    """Result of :func:`band_probability`.

    ``p_in`` is P(stay in the band) (layers="all") or P(end in the band) (layers="last");
    ``logp_fail`` is log(1 - p_in) computed without cancellation (Richardson-extrapolated over
    grid levels); ``tolerance`` is the achieved absolute numerical error of ``p_in`` and
    ``p_fail``: the change of the extrapolate between the last two refinements, plus the mass that
    left the grid or the kernels' ranges and the round-off bounds of the algorithm used;
    ``rel_tolerance`` = tolerance / p_fail. ``cells``: band cells of the finest grid
    (layers="all"), or cells per standard deviation of one layer's log ρ (layers="last");
    ``method``: "exact" (depth 1), "fft", "direct" or "doubling".
    """

    width: int
    depth: int
    lo: float
    hi: float
    layers: str
    p_in: float
    logp_fail: float
    tolerance: float
    rel_tolerance: float
    cells: int
    method: str = "exact"

    @property
    def p_fail(self) -> float:
        return math.exp(self.logp_fail)


@constrain(eps=OPEN_UNIT, norm=NORMS)
def band_for_eps(eps: float, norm: str) -> tuple[float, float]:
    """The band [lo, hi] for the squared-norm ratio that |ratio − 1| ≤ ε means.

    norm="squared": [1 − ε, 1 + ε]; norm="plain" (|‖h‖/‖x‖ − 1| ≤ ε): [(1 − ε)², (1 + ε)²].

    >>> band_for_eps(0.5, "plain")
    (0.25, 2.25)
    """
    if norm == "squared":
        return 1.0 - eps, 1.0 + eps
    return (1.0 - eps) ** 2, (1.0 + eps) ** 2


_X_NEAR = (math.log(rho._CONTOUR_RMIN), math.log(rho._CONTOUR_RMAX))


@lru_cache(maxsize=256)
def _far_mass(n: int) -> float:
    """P(0 < ρ < 0.02) + P(ρ > 100) for n > 200 (0 for n ≤ 200): the one-layer mass outside the
    range where the tails are evaluated by the saddle-point contour (beyond, each point costs a
    binomial sum of up to 20,000 terms). The recursion treats that mass as certain to stay where
    it is told (kernels and layer-1 cells are cut there) and counts it in the tolerance."""
    if _is_law(n):
        return n.far_mass
    if n <= rho._SUM_MAX:
        return 0.0
    lo_tail = _minus_atom(rho.log_cdf(n, rho._CONTOUR_RMIN), -n * _LOG2)
    return math.exp(_lae(lo_tail, rho.log_sf(n, rho._CONTOUR_RMAX)))


def _alive_sum(n: int, x: np.ndarray) -> np.ndarray:
    """log Σ_{k≥1} C(n,k)2^{-n} P(χ²_k ≤ n e^x/2) for n ≤ 200: the alive lower tail, summed without
    the atom (log P(ρ ≤ r) − atom would cancel catastrophically once the alive part is below
    1e-16 of 2^{-n}, e.g. width 2 beyond log ρ < −40)."""
    k = np.arange(1, n + 1, dtype=float)
    lw = log_binomial_half(n, k)
    with np.errstate(over="ignore", under="ignore"):
        y = 0.5 * n * np.exp(np.asarray(x, dtype=float))
    out = logsumexp(lw[None, :] + log_chi2_cdf(k[None, :], y[:, None], rescue=False), axis=1)
    bad = np.nonzero((out < math.log(1e-280)) & (y > 0))[0]
    if bad.size:
        kk, yy = np.broadcast_arrays(k[None, :], y[bad, None])
        out[bad] = logsumexp(lw[None, :] + log_chi2_cdf(kk, yy, rescue=True), axis=1)
    return out


def _lcdf_alive(n: int, x) -> np.ndarray:
    """log P(log ρ ≤ x, ρ > 0); for n > 200, x below the contour range reads as 0 and x above it
    as 1 − 2^{-n} (error ≤ :func:`_far_mass`)."""
    x = np.atleast_1d(np.asarray(x, dtype=float))
    if _is_law(n):
        return np.asarray(n.log_cdf_alive(x), dtype=float)
    if n <= rho._SUM_MAX:
        return _chunked(_alive_sum, n, x)
    out = np.full(x.shape, math.log1p(-(2.0 ** -n)))
    out[x < _X_NEAR[0]] = -np.inf
    near = (x >= _X_NEAR[0]) & (x <= _X_NEAR[1])
    if np.any(near):
        out[near] = _minus_atom(_chunked(rho.log_cdf, n, _exp(x[near])), -n * _LOG2)
    return out


def _lcdf(n: int, x) -> np.ndarray:
    """log P(log ρ ≤ x), the atom ρ = 0 included."""
    return np.logaddexp(_lcdf_alive(n, x), _log_atom(n))


def _lsf(n: int, x) -> np.ndarray:
    """log P(log ρ > x); for n > 200, x above the contour range reads as 0 and x below it as 1."""
    x = np.atleast_1d(np.asarray(x, dtype=float))
    if _is_law(n):
        return np.asarray(n.log_sf(x), dtype=float)
    if n <= rho._SUM_MAX:
        return _chunked(rho.log_sf, n, _exp(x))
    out = np.zeros(x.shape)
    out[x > _X_NEAR[1]] = -np.inf
    near = (x >= _X_NEAR[0]) & (x <= _X_NEAR[1])
    if np.any(near):
        out[near] = _chunked(rho.log_sf, n, _exp(x[near]))
    return out


def _log_cell_probs(n: int, edges: np.ndarray) -> np.ndarray:
    """log P(log ρ ∈ (edges[i], edges[i+1]]), each computed on the side of its own tail (every
    edge evaluated once: lower tails below 0, upper tails above, both for the straddling cell)."""
    edges = np.asarray(edges, dtype=float)
    out = np.full(len(edges) - 1, -np.inf)
    lc = np.full(edges.shape, np.nan)
    ls = np.full(edges.shape, np.nan)
    low = edges <= 0.0
    low[1:] |= edges[:-1] < 0.0
    high = edges >= 0.0
    high[:-1] |= edges[1:] > 0.0
    if np.any(low):
        lc[low] = _lcdf_alive(n, edges[low])          # the atom cancels in the differences
    if np.any(high):
        ls[high] = _lsf(n, edges[high])
    a, b = edges[:-1], edges[1:]
    below = b <= 0.0
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        lo_diff = lc[1:] + np.log(-np.expm1(np.minimum(lc[:-1] - lc[1:], 0.0)))
        hi_diff = ls[:-1] + np.log(-np.expm1(np.minimum(ls[1:] - ls[:-1], 0.0)))
        out[below] = lo_diff[below]
        out[~below] = hi_diff[~below]
        straddle = (a < 0.0) & (b > 0.0)
        if np.any(straddle):
            la, lb = lc[:-1][straddle], ls[1:][straddle]
            out[straddle] = np.log1p(-np.minimum(np.exp(la) + np.exp(lb) + _atom(n), 1.0))
    out[np.isnan(out)] = -np.inf
    return out


def _lae(a: float, b: float) -> float:
    """log(e^a + e^b) for floats that may both be −inf (numpy warns there)."""
    if a == -math.inf:
        return float(b)
    if b == -math.inf:
        return float(a)
    return float(np.logaddexp(a, b))


def _log_exit(n, A: float, B: float) -> float:
    """log P(log X ≤ A or log X > B), the atom X = 0 included."""
    if _is_law(n):
        return float(np.logaddexp(_lcdf(n, np.array([A]))[0], _lsf(n, np.array([B]))[0]))
    return float(np.logaddexp(rho.log_cdf(n, math.exp(A)), rho.log_sf(n, math.exp(B))))


def _minus_atom(log_cdf_vals, log_atom: float):
    """log(P(ρ ≤ r) − P(ρ = 0)) from log P(ρ ≤ r): the finite part of the lower tail."""
    x = np.asarray(log_cdf_vals, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        d = np.where(x > log_atom, x + np.log1p(-np.exp(np.minimum(log_atom - x, 0.0))), -np.inf)
    return float(d) if d.ndim == 0 else d


def _log_alive_below(n: int, x: np.ndarray) -> np.ndarray:
    """log P(log ρ ≤ x, ρ > 0) elementwise."""
    return _lcdf_alive(n, x)


def _log_above(n: int, x: np.ndarray) -> np.ndarray:
    """log P(log ρ > x) elementwise."""
    return _lsf(n, x)



def _fft_conv(m: np.ndarray, k: np.ndarray) -> np.ndarray:
    size = len(m) + len(k) - 1
    nfft = 1 << (size - 1).bit_length()
    c = np.fft.irfft(np.fft.rfft(m, nfft) * np.fft.rfft(k, nfft), nfft)[:size]
    np.maximum(c, 0.0, out=c)
    return c


def _log_dot(m: np.ndarray, log_w: np.ndarray, log_m: np.ndarray | None = None) -> float:
    """log Σ_i m_i e^{log_w_i} for m ≥ 0, without underflow of the products."""
    if log_m is None:
        with np.errstate(divide="ignore"):
            log_m = np.log(m)
    return logsumexp(log_m + log_w)


@dataclass(frozen=True)
class _Kernel:
    """Cell probabilities of one layer's log ρ at offsets −j_lo … j_hi cells of size h."""

    j_lo: int
    j_hi: int
    k: np.ndarray
    log_cut: float     # log of the alive mass beyond the offsets kept (per step)


def _reach(n: int, lm, log_eps: float = _LOG_KERNEL_EPS, from_mean: bool = False) -> tuple:
    """Distances below and above 0 (or the mean) beyond which one layer's alive tails are below
    e^{log_eps} (geometric search from one standard deviation; the far range of n > 200 reads
    as empty, see :func:`_far_mass`)."""
    sd = math.sqrt(lm.var)
    out = []
    for lower in (True, False):
        t = sd
        for _ in range(80):
            x = np.array([lm.mean - t if lower else lm.mean + t])
            v = float((_log_alive_below(n, x) if lower else _log_above(n, x))[0])
            if v < log_eps:
                break
            t *= 1.5
        # (a distance from 0 is never negative: a law whose mean sits beyond its own reach on one side)
        out.append(t if from_mean else max(t - lm.mean if lower else t + lm.mean, 0.0))
    return tuple(out)


@lru_cache(maxsize=64)
def _reach_cached(n: int, log_eps: float) -> tuple:
    """:func:`_reach` at the cut e^{log_eps} (cached per width)."""
    return _reach(n, _lm(n), log_eps)


def _kernel(n: int, h: float, j_lo: int, j_hi: int) -> _Kernel:
    offs = np.arange(-j_lo, j_hi + 1)
    edges = np.concatenate([(offs - 0.5) * h, [(j_hi + 0.5) * h]])
    k = _exp(_log_cell_probs(n, edges))
    cut = _lae(float(_log_alive_below(n, np.array([edges[0]]))[0]), float(_log_above(n, np.array([edges[-1]]))[0]))
    return _Kernel(j_lo, j_hi, k, cut)


# --- layers="all": the walk killed on leaving [A, B] ---------------------------------------------

def _stay_geometry(M: int, reach: tuple, B_minus_A: float) -> tuple:
    h = B_minus_A / M
    j_lo = int(min(M - 1, math.ceil(reach[0] / h) + 1))
    j_hi = int(min(M - 1, math.ceil(reach[1] / h) + 1))
    return h, j_lo, j_hi


def _steps_cost(steps: int, cells: int, K: int, method: str) -> tuple:
    """(seconds, bytes) of ``steps`` convolution steps of a ``cells``-cell grid with a K-cell kernel,
    by FFT or directly (shared by both layer settings' cost models)."""
    if method == "fft":
        nfft = 1 << (cells + K - 2).bit_length()
        return steps * (_T_STEP + _T_FFT * nfft * math.log2(nfft)), 8.0 * 6 * nfft
    return steps * (_T_STEP + _T_MAC * cells * K), 0.0


def _stay_cost(n: int, L: int, M: int, j_lo: int, j_hi: int, method: str) -> tuple:
    """(seconds, bytes) of one level of the layers="all" recursion."""
    K = j_lo + j_hi + 1 if L > 2 else 0
    # CDF points: every layer-1 cell and the tails to M cells on each side (fewer on the levels
    # that cut them at the reach: an upper bound)
    t = (M + 2 * max(M, K // 2) + 4) * _t_point(n)
    mem = 8.0 * (6 * M + 2 * K) + 8.0 * min(3 * M + K, _CHUNK)
    if L == 1 or L == 2:
        return t, mem
    if method in ("fft", "direct"):
        dt, dm = _steps_cost(L - 2, M, K, method)
        t, mem = t + dt, mem + dm
    else:  # doubling: one squaring and two matrix–vector products per bit of L − 1
        bits = (L - 1).bit_length()
        t += bits * (_T_GEMM * M**3 + 3 * _T_STEP + 3e-9 * M * M)
        mem += 8.0 * 4 * M * M
    return t, mem


def _half_point_tails(n: int, h: float, i_lo: int, i_hi: int) -> tuple:
    """LC[i] = log P(log ρ ≤ −(i+½)h, ρ > 0), i = 0..i_lo, and LS[i] = log P(log ρ > (i+½)h),
    i = 0..i_hi: every tail the layers="all" recursion needs (kernel edges and exits from the cell
    centres are both half-integer multiples of h), each evaluated once."""
    LC = _lcdf_alive(n, -(np.arange(i_lo + 1) + 0.5) * h)
    LS = _lsf(n, (np.arange(i_hi + 1) + 0.5) * h)
    return LC, LS


def _kernel_from_tails(n: int, LC: np.ndarray, LS: np.ndarray, j_lo: int, j_hi: int) -> _Kernel:
    with np.errstate(divide="ignore", invalid="ignore"):
        up = LS[:j_hi] + np.log(-np.expm1(np.minimum(LS[1:j_hi + 1] - LS[:j_hi], 0.0)))        # j = 1..j_hi
        dn = LC[:j_lo] + np.log(-np.expm1(np.minimum(LC[1:j_lo + 1] - LC[:j_lo], 0.0)))        # j = -1..-j_lo
        mid = np.log1p(-min(math.exp(LC[0]) + math.exp(LS[0]) + _atom(n), 1.0))
    logk = np.concatenate([dn[::-1], [mid], up])
    logk[np.isnan(logk)] = -np.inf
    cut = _lae(float(LC[j_lo]), float(LS[j_hi]))
    return _Kernel(j_lo, j_hi, _exp(logk), cut)


@lru_cache(maxsize=256)
def _stay_level(n: int, L: int, A: float, B: float, M: int, reach: tuple, method: str, cut: bool = False):
    """One grid of M band cells: (log p_fail, absolute error bound of round-off/cut mass).
    Cached: a width search asks the same width at a coarse and then a fine tolerance, whose
    levels coincide up to the coarser one's last (and the final evaluation repeats one).

    ``cut``: evaluate the layer-1 cells and the exit tails only up to ``reach`` (beyond, they are
    below the reach's cut and read as 0; the dropped mass, ≤ L times the tails at the reach, is
    added to the error bound). Without it every cell is exact in log space, which keeps layer 2
    right far below e^-745 (depth 2: log p_fail ≈ −148,900 at width 10^7, ε = 0.677)."""
    h, j_lo, j_hi = _stay_geometry(M, reach, B - A)
    edges = A + h * np.arange(M + 1)
    edges[-1] = B
    # layer 1, exact, on the cells the one-layer law reaches (beyond reach[0] below 0 and reach[1]
    # above, its alive tails are below e^-745: the same cut as the kernels')
    i0, i1 = _span(A, h, M, -reach[0], reach[1]) if cut else (0, M)
    logm = np.full(M, -np.inf)
    logm[i0:i1] = _log_cell_probs(n, edges[i0:i1 + 1])
    log_exit = _log_exit(n, A, B)
    # the tails at half-integer multiples of h up to the reach (j_lo, j_hi cells; j ≤ M − 1):
    # beyond, every exit probability from a cell centre is below the cut and reads as 0
    LC, LS = _half_point_tails(n, h, j_lo if cut else M - 1, j_hi if cut else M - 1)
    j_lo_t, j_hi_t = len(LC) - 1, len(LS) - 1
    cut_err = 0.0
    if cut:   # exits from beyond the tails kept, and layer-1 cells dropped beyond the reach
        cut_err = L * ((math.exp(LC[-1]) if j_lo_t < M - 1 else 0.0) + (math.exp(LS[-1]) if j_hi_t < M - 1 else 0.0)
                       + (math.exp(float(_log_alive_below(n, np.array([-reach[0]]))[0])) if i0 > 0 else 0.0)
                       + (math.exp(float(_log_above(n, np.array([reach[1]]))[0])) if i1 < M else 0.0))
    # exit probability from each cell centre at the next layer (the atom ρ = 0 included):
    # A − c_i = −(i+½)h, B − c_i = (M−1−i+½)h
    LCm = np.full(M, -np.inf)
    LCm[:j_lo_t + 1] = LC[:M]
    LSm = np.full(M, -np.inf)
    LSm[:j_hi_t + 1] = LS[:M]
    log_t = np.logaddexp(np.logaddexp(LCm, _log_atom(n)), LSm[::-1])
    # layer 2 from the exact layer-1 masses, in log space
    log_exit = _lae(log_exit, _log_dot(None, log_t, logm))
    far = L * _far_mass(n) + cut_err        # one-layer mass beyond the contour range (n > 200)
    far += _law_err(n, L)                   # another law's CDF tolerance (0 for ρ's)
    if L == 2:
        return log_exit, far
    ker = _kernel_from_tails(n, LC, LS, j_lo, j_hi)
    # jumps beyond M − 1 cells leave the band from any cell (exact); a cut at the kernel's reach
    # (tails below e^-745) drops at most that mass per step
    cut = j_lo < M - 1 or j_hi < M - 1
    log_cut = ker.log_cut
    if _is_law(n):
        # only the sides actually cut count (a side reaching M − 1 cells leaves the band exactly); a
        # law far from norm-preserving has a heavy side there (ρ's default path is unchanged)
        log_cut = _lae(float(LC[j_lo]) if j_lo < M - 1 else -math.inf, float(LS[j_hi]) if j_hi < M - 1 else -math.inf)
    err = (L - 2) * math.exp(log_cut) if cut and log_cut > -745 else 0.0
    m = _exp(logm)
    err += far
    if method == "doubling":
        return _stay_doubling(m, ker, log_t, L - 2, log_exit, err, M)
    fft_err = 0.0
    for _ in range(2, L):                     # m is the mass after layer l − 1; exits at layer l + 1
        if method == "direct":
            c = np.convolve(m, ker.k)
        else:
            c = _fft_conv(m, ker.k)
            # FFT round-off: ≤ ε·log2(nfft)·max|c| per cell (max-norm model), on every cell
            fft_err += 2.3e-16 * math.log2(len(c)) * float(c.max()) * M
        m = c[ker.j_lo: ker.j_lo + M]
        log_exit = _lae(log_exit, _log_dot(m, log_t))
    err += fft_err if method == "fft" else (L - 2) * M * _UNDERFLOW
    return log_exit, err


def _stay_doubling(m1: np.ndarray, ker: _Kernel, log_t: np.ndarray, N: int, log_exit: float,
                   err: float, M: int):
    """Σ_{j=1}^{N} m1 T^j t by binary powering of the (non-negative) transfer matrix T.

    P = T^{2^b} (scaled to max 1, log scale kept) and Q = Σ_{j<2^b} T^j t (exit within 2^b
    layers, ≤ 1): Q ← Q + P Q, P ← P². Every entry is a sum of non-negative terms, so relative
    accuracy is kept (no cancellation); cost (bits of N) × M³.
    """
    i = np.arange(M)
    idx = i[None, :] - i[:, None] + ker.j_lo
    ok = (idx >= 0) & (idx < len(ker.k))
    T = np.where(ok, ker.k[np.clip(idx, 0, len(ker.k) - 1)], 0.0)      # T[i, j]: cell i → j
    t = _exp(log_t)
    # exits at layer 3 … L + 0: mass after layer 2 is m1 T; the exits of layer l + 1 are m_l · t
    P, log_p = T, 0.0
    s = float(P.max()) or 1.0
    P, log_p = P / s, math.log(s)
    Q = t.copy()
    r = m1 @ T                                  # mass after layer 2
    log_r = 0.0
    acc = -math.inf
    k = N                                        # exits at layers 3 … L: Σ_{j=0}^{N-1} m_2 T^j t
    first = True
    while k:
        if not first:
            Q = Q + _exp(log_p) * (P @ Q)
            P = P @ P
            s = float(P.max()) or 1.0
            P, log_p = P / s, 2.0 * log_p + math.log(s)
        first = False
        if k & 1:
            v = float(r @ Q)
            if v > 0:
                acc = _lae(acc, log_r + math.log(v))
            r = r @ P
            s = float(r.max()) or 1.0
            r, log_r = r / s, log_r + log_p + math.log(s)
        k >>= 1
    return _lae(log_exit, acc), err + N.bit_length() * M * M * _UNDERFLOW


# --- layers="last": the free walk, the band only at the last layer -------------------------------

def _last_geometry(n: int, L: int, A: float, B: float, res: int, lm, reach: tuple, grid_reach: tuple):
    """Spacing h, grid origin x0 and cells G for the law of log Π_{L-1}, kernel offsets."""
    sd1 = math.sqrt(lm.var)
    h = sd1 / res
    spread = _GRID_SDS * sd1 * math.sqrt(max(L - 1, 1))
    lo_x = min(A, (L - 1) * lm.mean) - spread - grid_reach[0]
    hi_x = max(B, (L - 1) * lm.mean) + spread + grid_reach[1]
    x0 = math.floor(lo_x / h) * h
    G = int(math.ceil((hi_x - x0) / h))
    j_lo = int(min(G, math.ceil(reach[0] / h) + 1))
    j_hi = int(min(G, math.ceil(reach[1] / h) + 1))
    return h, x0, G, j_lo, j_hi


def _last_cost(n: int, L: int, G: int, j_lo: int, j_hi: int, method: str, band_cells: int = 0) -> tuple:
    K = j_lo + j_hi + 1 if L > 2 else 0
    reach_cells = j_lo + j_hi + 2
    t = (min(G, reach_cells) + K + 2 * min(G, band_cells + reach_cells) + 8) * _t_point(n) + 1e-8 * G
    mem = 8.0 * (6 * G + 2 * K) + 8.0 * min(4 * G + K, _CHUNK)
    steps = max(L - 2, 0)
    if steps == 0:
        return t, mem
    if method in ("fft", "direct"):
        dt, dm = _steps_cost(steps, G, K, method)
        t, mem = t + dt, mem + dm
    else:  # "power": one FFT of the spectrum raised to the power L − 2 on a doubled period
        nfft = 1 << (2 * G + K).bit_length()
        t += 4 * _T_FFT * nfft * math.log2(nfft) + 20 * _T_STEP
        mem += 8.0 * 8 * nfft
    return t, mem


@lru_cache(maxsize=256)
def _last_level(n: int, L: int, A: float, B: float, res: int, lm, reach: tuple, grid_reach: tuple,
                method: str):
    """One resolution: (log p_fail without the dead atom, absolute error bound, log mass off grid)."""
    h, x0, G, j_lo, j_hi = _last_geometry(n, L, A, B, res, lm, reach, grid_reach)
    edges = x0 + h * np.arange(G + 1)
    centers = x0 + h * (np.arange(G) + 0.5)
    # one layer moves log Π by X ∈ [−reach[0], reach[1]] up to mass e^-745 (counted in cut1)
    cut1 = _lae(float(_log_alive_below(n, np.array([-reach[0]]))[0]), float(_log_above(n, np.array([reach[1]]))[0]))
    err = L * _far_mass(n) + (L * math.exp(cut1) if cut1 > -745 else 0.0)
    err += _law_err(n, L)                   # another law's CDF tolerance (0 for ρ's)
    # layer 1, exact (alive), on the cells the one-layer law reaches
    i0, i1 = _span(x0, h, G, -reach[0], reach[1])
    logm = np.full(G, -np.inf)
    logm[i0:i1] = _log_cell_probs(n, edges[i0:i1 + 1])
    # mass beyond the grid is off it (counted as failure and in the tolerance); mass beyond the
    # one-layer reach inside the grid is below e^-745 (in the tolerance only)
    t_lo = float(_log_alive_below(n, edges[i0:i0 + 1])[0])
    t_hi = float(_log_above(n, edges[i1:i1 + 1])[0])
    log_off = _lae(t_lo if i0 == 0 else -math.inf, t_hi if i1 == G else -math.inf)
    err += (math.exp(t_lo) if i0 > 0 else 0.0) + (math.exp(t_hi) if i1 < G else 0.0)
    if L > 2:
        ker = _kernel(n, h, j_lo, j_hi)
        if ker.log_cut > -745:
            err += (L - 2) * math.exp(ker.log_cut)
        m = _exp(logm)
        if method == "power":
            N = 1 << (2 * G + len(ker.k)).bit_length()
            kk = np.zeros(N)
            kk[np.arange(-j_lo, j_hi + 1) % N] = ker.k
            ks, ms = np.fft.rfft(kk), np.fft.rfft(m, N)
            with np.errstate(under="ignore", divide="ignore"):
                spec = ms * ks ** (L - 2)
                # round-off: the power's relative error per frequency ≤ (L + 8)·ε, spread over
                # the cells by the inverse transform, plus the transforms' own ε·log N
                ak = _exp((L - 2) * np.log(np.abs(ks)))
            c = np.maximum(np.fft.irfft(spec, N), 0.0)
            e_cell = (2.0 / N) * float(np.sum(ak * np.abs(ms))) * (L + 8) * 2.3e-16 \
                + 2.3e-16 * math.log2(N) * float(c.max())
            m = c[:G]
            off = float(c[G:].sum())                 # mass off the grid (wrapped into the guard)
            log_off = _lae(log_off, math.log(off) if off > 0 else -math.inf)
            err += G * e_cell + off
        else:
            off = 0.0
            for _ in range(2, L):
                c = np.convolve(m, ker.k) if method == "direct" else _fft_conv(m, ker.k)
                m = c[j_lo: j_lo + G]
                off += float(c[:j_lo].sum()) + float(c[j_lo + G:].sum())
            log_off = _lae(log_off, math.log(off) if off > 0 else -math.inf)
            err += (L - 2) * G * (4e-16 if method == "fft" else _UNDERFLOW)
        with np.errstate(divide="ignore"):
            logm = np.log(m)
    # the last layer, exactly from each cell centre that can reach the band; from the others the
    # input ends outside for sure if the last layer keeps it alive, 1 − 2^{-n} (up to the mass
    # beyond the reach, counted above; the dead atom is counted separately)
    j0, j1 = _span(x0, h, G, A - reach[1], B + reach[0])
    log_out = np.full(G, math.log1p(-_atom(n)))
    log_out[j0:j1] = np.logaddexp(_log_alive_below(n, A - centers[j0:j1]), _log_above(n, B - centers[j0:j1]))
    return logsumexp(logm + log_out), err, log_off


def _span(x0: float, h: float, G: int, a: float, b: float) -> tuple:
    """Cells [i0, i1) of the grid x0 + h·[0, G] that meet [a, b]."""
    i0 = int(min(G, max(0, math.floor((a - x0) / h))))
    i1 = int(min(G, max(i0, math.ceil((b - x0) / h))))
    return i0, i1


def _refuse(n: int, L: int, layers: str, what: str, secs: float, mem: float) -> CostLimitError:
    return CostLimitError(
        "the exact band probability at {width} " + f"{n} and " + "{depth} " + f"{L} (layers={layers}) "
        f"needs {what}: about {secs:.3g} s and {mem / 2**20:.3g} MiB, beyond this tool's cost limit "
        f"({COST_LIMIT:g} s, {MEMORY_LIMIT / 2**20:.0f} MiB); use the Chernoff or product bounds",
        names=("width", "depth"))


@constrain(width=COUNT, depth=COUNT, lo=OPEN_UNIT, hi=Interval(Real, 1, None, closed="neither"), layers=LAYERS,
           rtol=OPEN_UNIT, cells=OrNone(Interval(Integral, 2, None, closed="left")))
def band_probability(width, depth, lo, hi, *, layers: str = "all", rtol: float = 1e-6,
                     cells: int | None = None, law: OneLayerLaw | None = None) -> BandResult:
    r"""Exact probability that a single input's squared-norm ratio stays in ``[lo, hi]``.

    layers="all": :math:`p_{stay}=P(\forall l\le L:\ \prod_{j\le l}\rho_j\in[lo,hi])`;
    layers="last": :math:`p_{last}=P(\prod_{j\le L}\rho_j\in[lo,hi])`.

    Args:
        width: n ≥ 1, the (constant) width of every layer (n ≤ 2^53, where the one-layer law is
            exact in doubles).
        depth: L ≥ 1, the number of ReLU layers.
        lo, hi: the band for the squared-norm ratio, 0 < lo < 1 < hi (see :func:`band_for_eps`).
        layers: "all" or "last".
        rtol: relative change of the failure probability at which grid refinement stops.
        cells: force the level-0 resolution (band cells for "all", cells per standard deviation of
            one layer's log ρ for "last"); two levels are still run. For tests.
        law: None (the Gaussian-weight law ρ of :mod:`bounds.rho`), or another one-layer law of
            the ratio X with the atom P(X = 0) = 2^{-width} (:class:`OneLayerLaw`, e.g.
            ``bounds.wnorm.WnormLaw``); its CDF tolerance is added to the reported tolerance.

    Algorithms (docs/theory.md §3). Layers 1 and 2 are exact in log space (cell probabilities and
    exit probabilities from the exact one-layer CDF). Later layers move each cell's mass from its
    centre with the exact cell probabilities of log ρ, by the cheapest of: an FFT convolution
    (only where the failure probability is ≥ 1e-11: its round-off is absolute), a direct
    convolution, or (layers="all") binary powering of the non-negative transfer matrix, cost
    M³·log L; (layers="last") one FFT of the kernel's spectrum raised to the power L − 2. The
    direct and matrix algorithms add only non-negative terms, so the failure probability keeps its
    relative accuracy down to about e^-720 ≈ 1e-313 (below, ``rel_tolerance`` ≥ 1: the one-layer
    tails are cut at e^-745; there two grid levels are run, no more). The grid is refined (h → h/2) with Richardson extrapolation until
    ``rtol`` or the cost limit; the reported tolerance is then honest, not necessarily ≤ rtol.

    Returns a :class:`BandResult` with the achieved tolerance. Raises :class:`DomainError` on bad
    arguments and :class:`CostLimitError`, before the work, if the two coarsest grid levels would
    need more than :data:`COST_LIMIT` seconds or :data:`MEMORY_LIMIT` bytes by the cost model
    (every algorithm and the one-layer CDF evaluations counted), or if width > 2^53.
    Source: [derived] docs/theory.md §3. Assumptions: Gaussian weights, zero bias, He scaling
    (fan-in with equal widths, or fan-out).

    >>> r = band_probability(100, 1, 0.9, 1.1); round(r.p_in, 10) == round(float(rho.cdf(100, 1.1) - rho.cdf(100, 0.9)), 10)
    True
    """
    n, L = width, depth
    if n > rho.WIDTH_EXACT_MAX:
        raise CostLimitError("{width} must be ≤ 2^53 = " f"{rho.WIDTH_EXACT_MAX:.4g} for the exact band "
                             f"probability (the one-layer law is exact in doubles up to there); got {n}; "
                             "use the Chernoff or product bounds", param="width", names=("width",))
    A, B = math.log(lo), math.log(hi)
    if law is not None:
        if not isinstance(law, OneLayerLaw) or law.width != width:
            raise DomainError(f"law must be a bounds.band.OneLayerLaw of width {width}; got {law!r}", param="law")
        n = law
        if L == 1:
            lf = _log_exit(n, A, B)
            tol = 2.0 * law.cdf_tolerance + 1e-15
            return BandResult(width, L, lo, hi, layers, -math.expm1(lf), lf, tol, tol / max(math.exp(lf), 1e-320), 0,
                              "exact")
    if L == 1:
        lf = float(np.logaddexp(rho.log_cdf(n, lo), rho.log_sf(n, hi)))
        return BandResult(n, L, lo, hi, layers, -math.expm1(lf), lf, 1e-15, 1e-13, 0, "exact")
    lm = _lm(n)
    sd1 = math.sqrt(lm.var)
    reach = _reach(n, lm)
    if layers == "all":
        M0 = cells if cells is not None else int(max(32, math.ceil(_CELLS_PER_SD * (B - A) / sd1)))
        log_dead = -math.inf

        def geometry(i):
            M = M0 << i
            h, j_lo, j_hi = _stay_geometry(M, reach, B - A)
            return M, j_lo, j_hi

        def cost(i, method):
            M, j_lo, j_hi = geometry(i)
            return _stay_cost(n, L, M, j_lo, j_hi, method)

        def run(i, method):
            # once a level has estimated the failure probability p, the one-layer tails need only
            # reach down to e^-12·rtol·p/L (not e^-745): the mass cut beyond, ≤ 2L times that, is
            # counted in the tolerance (≤ 1e-5·rtol of p), and the grids' kernels shrink (issue 11)
            # (also the layer-1 cells and exit tails beyond the reach are skipped then, where p is
            # above e^-720: below, layer 2's exact log-space sum over every cell is what is right)
            r = reach
            cut = bool(levels) and min(levels) > _LOG_REL_FLOOR
            if cut:
                log_eps = 5.0 * math.floor((min(levels) + math.log(rtol) - math.log(L) - 12.0) / 5.0)
                if log_eps > _LOG_KERNEL_EPS + 5.0:
                    r = _reach_cached(n, log_eps)
            lf, err = _stay_level(n, L, A, B, M0 << i, r, method, cut)
            return lf, err, -math.inf

        methods = ("direct", "doubling", "fft")
        label = lambda i: M0 << i     # noqa: E731
    else:
        res0 = cells if cells is not None else _CELLS_PER_SD
        grid_reach = _reach(n, lm, _LOG_GRID_EPS, from_mean=True)
        log_dead = float(logp_dead_uniform(width, L))

        def cost(i, method):
            h, x0, G, j_lo, j_hi = _last_geometry(n, L, A, B, res0 << i, lm, reach, grid_reach)
            return _last_cost(n, L, G, j_lo, j_hi, method, int(math.ceil((B - A) / h)) + 2)

        def run(i, method):
            lf, err, log_off = _last_level(n, L, A, B, res0 << i, lm, reach, grid_reach, method)
            return _lae(_lae(lf, log_off), log_dead), err + math.exp(log_off), log_off

        methods = ("direct", "power", "fft")
        label = lambda i: res0 << i     # noqa: E731

    # the FFT is tried first where it is cheapest; a level that finds the failure probability
    # below 1e-11 switches to the non-negative algorithms (cost checked again before them)
    fft_ok = True

    def best(i):
        """(seconds, bytes, method) of the cheapest allowed algorithm at level i."""
        opts = []
        for mth in methods:
            if mth in ("fft", "power") and not fft_ok:
                continue
            if L <= 2 and mth != methods[0]:
                continue
            s, b = cost(i, mth)
            if b <= MEMORY_LIMIT:
                opts.append((s, b, mth))
        if not opts:
            s, b = cost(i, methods[0])
            return s, b, methods[0]
        return min(opts)

    def cost_text(i):
        return f"{label(i):,} {'band cells' if layers == 'all' else 'cells per sd'}"

    # the two coarsest levels must fit, by the model, before any work
    (s0, b0, m0), (s1, b1, m1) = best(0), best(1)
    if s0 + s1 > COST_LIMIT or max(b0, b1) > MEMORY_LIMIT:
        raise _refuse(width, L, layers, f"grids of {cost_text(0)} and {cost_text(1)} ({m0}, {m1})",
                      s0 + s1, max(b0, b1))
    spent = 0.0
    levels: list = []
    extrap: list = []
    errs: list = []
    i, done = 0, None
    while True:
        s, b, method = best(i)
        if spent + s > COST_LIMIT or b > MEMORY_LIMIT:
            if len(levels) >= _MIN_LEVELS:
                break                       # the honest tolerance of the levels run is reported
            if method in ("fft", "power") or fft_ok:
                raise _refuse(width, L, layers, f"a grid of {cost_text(i)} ({method})", spent + s, b)
            raise _refuse(width, L, layers, "the non-negative algorithms (the failure probability is below "
                          f"{_FFT_MIN_FAIL:g}) on a grid of {cost_text(i)} ({method})", spent + s, b)
        lf, err, _ = run(i, method)
        spent += s
        if method in ("fft", "power") and (lf < math.log(_FFT_MIN_FAIL) or err > 0.25 * rtol * math.exp(lf)):
            fft_ok = False                  # FFT round-off is absolute: start again without it
            levels, extrap, errs = [], [], []
            i = 0
            continue
        levels.append(lf)
        errs.append(err)
        done = (i, method)
        if lf < _LOG_REL_FLOOR - 50.0:
            break                           # no relative accuracy is claimed down there: one level
        if len(levels) >= 2:
            extrap.append(levels[-1] + (levels[-1] - levels[-2]) / 3.0)
            if cells is not None or i + 1 >= _MAX_LEVELS or _rel_change(levels, extrap) <= rtol:
                break
            if extrap[-1] < _LOG_REL_FLOOR:
                break                       # below e^-720 rel_tolerance ≥ 1 anyway: finer grids buy nothing
        i += 1
    best_lf = min(extrap[-1] if extrap else levels[-1], 0.0)
    p_fail = math.exp(best_lf)
    if p_fail == 0.0 and _is_law(n):
        # another law whose tails read exactly 0 here (ρ's are exact in log space): only its
        # absolute tolerance is known
        return BandResult(width, L, lo, hi, layers, 1.0, best_lf, min(float(errs[-1]), 1.0), math.inf,
                          label(done[0]), done[1])
    rel = _rel_change(levels, extrap) + errs[-1] / max(p_fail, 1e-320)
    if best_lf < _LOG_REL_FLOOR:
        rel = max(rel, 1.0)
    tol = min(rel * p_fail, 1.0)
    return BandResult(width, L, lo, hi, layers, max(0.0, -math.expm1(best_lf)), best_lf, tol, rel, label(done[0]),
                      done[1])


def _rel_change(levels: list, extrap: list) -> float:
    """Relative error estimate of the extrapolated failure probability: the change between the
    last two extrapolates (three levels or more), or the size of the Richardson step (two)."""
    if len(extrap) >= 2:
        return abs(math.expm1(extrap[-1] - extrap[-2]))
    if extrap:
        return abs(math.expm1(extrap[-1] - levels[-1])) * 3.0
    return 1.0


@dataclass(frozen=True)
class ProductLaw:
    """The exact law of log Π_j ρ_j for per-layer widths, on a grid (see :func:`product_law`).

    ``edges`` are cell edges in log Π; ``cdf[i]`` = P(log Π ≤ edges[i]) including the atom of dead
    inputs (Π = 0, probability ``p_dead``); ``tolerance`` bounds the absolute error of any CDF
    value (grid refinement change + mass outside the kernels' ranges + one cell's mass for values
    read between edges).
    """

    edges: np.ndarray
    cdf: np.ndarray
    p_dead: float
    tolerance: float
    cells: int

    def log_cdf_at(self, x) -> np.ndarray:
        """P(log Π ≤ x) by linear interpolation between edges (0 ≤ value ≤ 1)."""
        return np.clip(np.interp(x, self.edges, self.cdf, left=self.p_dead, right=1.0), 0.0, 1.0)

    def p_below(self, r: float) -> float:
        """P(Π ≤ r) for r ≥ 0 (the dead atom included)."""
        return self.p_dead if r <= 0 else float(self.log_cdf_at(math.log(r)))

    def p_above(self, r: float) -> float:
        """P(Π > r)."""
        return 1.0 - self.p_below(r)

    def density(self) -> tuple:
        """(cell centres, density of log Π given alive) for plotting."""
        h = np.diff(self.edges)
        return 0.5 * (self.edges[:-1] + self.edges[1:]), np.diff(self.cdf) / h / max(1.0 - self.p_dead, 1e-300)


def _tail_reach(n: int, mean: float, side: str, log_eps: float = -46.0) -> float:
    """Distance t from the mean of log ρ (width n) beyond which the alive mass on ``side`` is
    below e^{log_eps} (doubling search on the exact tails)."""
    t = 1.0
    for _ in range(60):
        if side == "lo":
            lv = _minus_atom(rho.log_cdf(n, math.exp(mean - t)), -n * math.log(2.0))
        else:
            lv = rho.log_sf(n, math.exp(mean + t))
        if lv < log_eps:
            return t
        t *= 2.0
    return t


def _product_grid(counts: dict, stats: dict, mu: float, h: float, J: int):
    """One grid level of :func:`product_law`: masses of log Π − μ at cells j·h, j ∈ [−J, J], the
    masses beyond on each side, and the alive mass lost outside the kernels' ranges."""
    spans, kernels, lost = [], [], 0.0
    for n, (m, lo_t, hi_t) in stats.items():
        i_lo = -int(math.ceil(min(lo_t, (2 * J + 1) * h) / h))
        i_hi = int(math.ceil(min(hi_t, (2 * J + 1) * h) / h))
        idx = np.arange(i_lo, i_hi + 1)
        edges = m + np.concatenate([(idx - 0.5) * h, [(i_hi + 0.5) * h]])
        k = np.exp(_log_cell_probs(n, edges))
        alive = -math.expm1(-n * math.log(2.0))
        lost += counts[n] * max(alive - float(k.sum()), 0.0)
        kernels.append((n, idx, k))
        spans.append(i_hi - i_lo)
    N = 1 << int(math.ceil(math.log2(2 * (2 * J + 1) + max(spans) + 2)))
    spec = np.ones(N // 2 + 1, dtype=complex)
    for n, idx, k in kernels:
        a = np.zeros(N)
        np.add.at(a, idx % N, k)
        spec *= np.fft.rfft(a) ** counts[n]
    r = np.maximum(np.fft.irfft(spec, N), 0.0)
    j = np.arange(-J, J + 1)
    inside = r[j % N]
    below = float(r[N // 2: N - J].sum())
    return inside, below, lost


@constrain(widths=WIDTHS, cells=Interval(Integral, 64, None, closed="left"))
def product_law(widths, *, cells: int = 8192) -> ProductLaw:
    r"""The exact law of :math:`\log\prod_j\rho_j` for layers of widths n_1..n_L (docs/theory.md §2).

    The layer ratios are independent with the one-layer laws of :mod:`bounds.rho`, so the law of
    the log-product is the convolution of the per-layer laws of log ρ_j. Each is discretized with
    its exact cell probabilities on a grid of spacing h (cells centred on the layer's mean of
    log ρ), equal widths are combined by powers of their discrete Fourier transforms, and the
    grid is refined once (h → h/2); the O(h²) discretization error is removed by one Richardson
    step whose size is reported in ``tolerance`` (absolute, on CDF values; conservative by 10–1000×
    in tests) together with the mass outside the kernels' ranges and the interpolation error.
    The atom of dead inputs, P(Π = 0) = 1 − Π_j (1 − 2^{−n_j}), is exact.

    ``cells``: cells of the finer grid over the mean ± 22 sd of log Π (raised automatically so
    that h ≤ sd/8 of the narrowest layer). Raises :class:`CostLimitError` beyond 2^21 cells.
    Source: [derived] docs/theory.md §2 (the master reduction), §6 (the exact law of M_d/M_0).

    >>> law = product_law([16, 16, 16])
    >>> round(law.p_dead, 6) == round(1 - (1 - 2**-16)**3, 6)
    True
    """
    from collections import Counter

    w, M = widths, cells
    counts = Counter(w)
    stats, mu, var = {}, 0.0, 0.0
    for n, k in counts.items():
        lm = rho.log_moments(n)
        mu += k * lm.mean
        var += k * lm.var
        stats[n] = (lm.mean, _tail_reach(n, lm.mean, "lo"), _tail_reach(n, lm.mean, "hi"))
    sd = math.sqrt(var)
    min_sd = min(math.sqrt(rho.log_moments(n).var) for n in counts)
    h = min(44.0 * sd / M, min_sd / 8.0)
    J = int(math.ceil(22.0 * sd / h))
    if 2 * J + 1 > 1 << 21:
        raise CostLimitError(f"the exact law needs {2 * J + 1:,} grid cells (> 2^21) for these widths; "
                             "use the moments or the log-normal approximation")
    p_dead = float(mp.exp(logp_dead_point(w)))      # the atom of dead inputs, exact (bounds.death)
    levels = []
    for hh, JJ in ((2 * h, (J + 1) // 2), (h, J)):
        inside, below, lost = _product_grid(counts, stats, mu, hh, JJ)
        edges = mu + hh * (np.arange(-JJ, JJ + 2) - 0.5)
        cdf = p_dead + below + np.concatenate([[0.0], np.cumsum(inside)])
        levels.append((edges, np.minimum(cdf, 1.0), lost))
    (e1, c1, _), (e2, c2, lost2) = levels
    # the cell discretization errs by O(h²): one Richardson step, its size is the tolerance
    corr = (c2 - np.interp(e2, e1, c1)) / 3.0
    c2 = np.clip(c2 + corr, 0.0, 1.0)
    c2 = np.maximum.accumulate(c2)
    refine = float(np.max(np.abs(corr)))
    # reading between edges: linear interpolation errs by at most h²/8 · max|F''| (F the CDF),
    # bounded by the largest second difference of the CDF on the grid (a factor 2 for safety)
    interp = float(np.max(np.abs(np.diff(c2, 2)))) / 4 if len(c2) > 2 else 0.0
    return ProductLaw(e2, c2, p_dead, refine + lost2 + interp, len(e2) - 1)
