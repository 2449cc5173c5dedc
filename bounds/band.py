r"""Exact single-input probabilities that the squared-norm ratio stays in a band (docs/theory.md §3).

The squared-norm ratio after l layers is the product :math:`\Pi_l=\prod_{j\le l}\rho_j` of
independent copies of ρ (:mod:`bounds.rho`), so :math:`\log\Pi_l` is a random walk.

* ``p_stay(n, L, band)`` = P(Π_l ∈ band for every l ≤ L) — the walk confined to the band;
* ``p_last(n, L, band)`` = P(Π_L ∈ band) — only the last layer is constrained.

Both are computed by a convolution recursion on a grid of M cells whose edges align with the
band's edges (log space). Layer 1 is exact (cell probabilities from the exact CDF of ρ); each later
layer moves the mass of a cell from its centre with the exact cell probabilities of log ρ. The
failure probability is accumulated as a sum of positive exit masses (mass × exact tail
probability), never as 1 − p, so it keeps its relative accuracy down to 1e-300. The grid is
refined (M → 2M) until the failure probability changes by less than ``rtol`` (relative); the last
change is reported as the achieved tolerance. [derived]
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

import mpmath as mp

from . import rho
from .death import logp_dead_point, logp_dead_uniform
from .errors import (COUNT, OPEN_UNIT, WIDTHS, CostLimitError, Integral, Interval, Options, OrNone, Real,
                     constrain)
from .numerics import logsumexp

__all__ = ["BandResult", "band_probability", "band_for_eps", "COST_LIMIT", "ProductLaw",
           "product_law", "NORMS", "LAYERS"]

#: The norm a band constrains: the squared norm ratio or the plain norm ratio.
NORMS = Options(("squared", "plain"))
#: Which layers must stay in the band: every hidden layer, or the last one only.
LAYERS = Options(("all", "last"))

#: Largest depth × cells × log2(cells) the recursion is allowed to spend (about 10 s here).
COST_LIMIT = 4e9
_MAX_CELLS = 1 << 14
_FFT_MIN_FAIL = 1e-11  # below this failure probability the direct (relative-accurate) convolution is used


@dataclass(frozen=True)
class BandResult:
    """Result of :func:`band_probability`.

    ``p_in`` is P(stay in the band) (layers="all") or P(end in the band) (layers="last");
    ``logp_fail`` is log(1 - p_in) computed without cancellation (Richardson-extrapolated over
    grid levels); ``tolerance`` is the achieved absolute numerical error of ``p_in`` and
    ``p_fail``: the change of the extrapolate between the last two refinements, plus any mass that
    left the grid for layers="last"; ``rel_tolerance`` = tolerance / p_fail.
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


def _log_cell_probs(n: int, edges: np.ndarray) -> np.ndarray:
    """log P(log ρ ∈ (edges[i], edges[i+1]]), each computed on the side of its own tail."""
    r = np.exp(edges)
    out = np.full(len(edges) - 1, -np.inf)
    # each side of the mean only needs its own tail (the straddling cell needs one of each)
    lc = np.full(r.shape, np.nan)
    ls = np.full(r.shape, np.nan)
    low = edges <= 0.0
    low[1:] |= edges[:-1] < 0.0
    high = edges >= 0.0
    high[:-1] |= edges[1:] > 0.0
    if np.any(low):
        lc[low] = rho.log_cdf(n, r[low])
    if np.any(high):
        ls[high] = rho.log_sf(n, r[high])
    a, b = edges[:-1], edges[1:]
    below = b <= 0.0
    # cdf(b) - cdf(a) on the lower side, sf(a) - sf(b) on the upper side
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        lo_diff = lc[1:] + np.log(-np.expm1(np.minimum(lc[:-1] - lc[1:], 0.0)))
        hi_diff = ls[:-1] + np.log(-np.expm1(np.minimum(ls[1:] - ls[:-1], 0.0)))
    out[below] = lo_diff[below]
    out[~below] = hi_diff[~below]
    # a cell straddling 0: use 1 - cdf(a) - sf(b)
    straddle = (a < 0.0) & (b > 0.0)
    if np.any(straddle):
        la, lb = lc[:-1][straddle], ls[1:][straddle]
        out[straddle] = np.log1p(-(np.exp(la) + np.exp(lb)))
    return out


def _lae(a: float, b: float) -> float:
    """log(e^a + e^b) for floats that may both be −inf (numpy warns there)."""
    if a == -math.inf:
        return float(b)
    if b == -math.inf:
        return float(a)
    return float(np.logaddexp(a, b))


def _minus_atom(log_cdf_vals, log_atom: float):
    """log(P(ρ ≤ r) − P(ρ = 0)) from log P(ρ ≤ r): the finite part of the lower tail."""
    x = np.asarray(log_cdf_vals, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        d = np.where(x > log_atom, x + np.log1p(-np.exp(np.minimum(log_atom - x, 0.0))), -np.inf)
    return float(d) if d.ndim == 0 else d


def _convolve(m: np.ndarray, kernel: np.ndarray, exact: bool) -> np.ndarray:
    if exact:
        c = np.convolve(m, kernel)
    else:
        size = len(m) + len(kernel) - 1
        nfft = 1 << (size - 1).bit_length()
        c = np.fft.irfft(np.fft.rfft(m, nfft) * np.fft.rfft(kernel, nfft), nfft)[:size]
        np.maximum(c, 0.0, out=c)
    return c


def _recursion(n: int, depth: int, A: float, B: float, cells: int, layers: str, pad: int,
               exact_conv: bool, log_dead: float = -math.inf):
    """One grid: returns (logp_fail, p_in_from_mass, lost_mass). ``log_dead`` is log P(some layer
    kills the input) (:func:`bounds.death.logp_dead_uniform`; used for layers="last")."""
    M = cells
    h = (B - A) / M
    G = M + 2 * pad                      # grid cells (band cells plus padding on each side)
    lo_edge = A - pad * h
    edges = lo_edge + h * np.arange(G + 1)
    centers = lo_edge + h * (np.arange(G) + 0.5)
    # layer 1, exact
    logm = _log_cell_probs(n, edges)
    log_atom = -n * math.log(2.0)                  # P(ρ = 0): the layer kills the input
    lc_lo = rho.log_cdf(n, math.exp(lo_edge))
    if layers == "last":
        lc_lo = _minus_atom(lc_lo, log_atom)         # dead inputs are counted exactly, below
    ls_hi = rho.log_sf(n, math.exp(lo_edge + G * h))
    log_lost = _lae(lc_lo, ls_hi)                   # mass off the grid after layer 1
    m = np.exp(logm)
    if depth == 1 or layers == "all":
        log_exits = [float(np.logaddexp(rho.log_cdf(n, math.exp(A)), rho.log_sf(n, math.exp(B))))]
    else:
        log_exits = []
    if depth > 1:
        offs = np.arange(-(G - 1), G) * h
        kernel = np.exp(_log_cell_probs(n, np.concatenate([offs - 0.5 * h, [offs[-1] + 0.5 * h]])))
        if layers == "all":
            # exit probability from each cell centre (band = whole grid, pad = 0)
            t_up = rho.log_sf(n, np.exp(B - centers))
            t_lo = rho.log_cdf(n, np.exp(A - centers))
            log_t = np.logaddexp(t_up, t_lo)
        else:
            t_up = rho.log_sf(n, np.exp(edges[-1] - centers))
            t_lo = _minus_atom(rho.log_cdf(n, np.exp(edges[0] - centers)), log_atom)
            log_t_grid = np.logaddexp(t_up, t_lo)
        for _ in range(2, depth + 1):
            with np.errstate(divide="ignore"):
                logm = np.log(m)
            if layers == "all":
                log_exits.append(logsumexp(logm + log_t))
            else:
                log_lost = _lae(log_lost, logsumexp(logm + log_t_grid))
            c = _convolve(m, kernel, exact_conv)
            m = c[G - 1: 2 * G - 1]
    if layers == "last":
        inside = m[pad: pad + M]
        outside = np.concatenate([m[:pad], m[pad + M:]])
        # dead inputs (some layer with K = 0) end outside the band for sure: 1 − (1 − 2^{-n})^L
        with np.errstate(divide="ignore"):
            lf = _lae(_lae(logsumexp(np.log(outside)) if outside.size else -math.inf, log_lost), log_dead)
        return lf, float(inside.sum()), math.exp(log_lost)
    return logsumexp(np.array(log_exits)), float(m.sum()), 0.0


@constrain(width=COUNT, depth=COUNT, lo=OPEN_UNIT, hi=Interval(Real, 1, None, closed="neither"), layers=LAYERS,
           rtol=OPEN_UNIT, cells=OrNone(Interval(Integral, 2, None, closed="left")))
def band_probability(width, depth, lo, hi, *, layers: str = "all", rtol: float = 1e-6,
                     cells: int | None = None) -> BandResult:
    r"""Exact probability that a single input's squared-norm ratio stays in ``[lo, hi]``.

    layers="all": :math:`p_{stay}=P(\forall l\le L:\ \prod_{j\le l}\rho_j\in[lo,hi])`;
    layers="last": :math:`p_{last}=P(\prod_{j\le L}\rho_j\in[lo,hi])`.

    Args:
        width: n ≥ 1, the (constant) width of every layer.
        depth: L ≥ 1, the number of ReLU layers.
        lo, hi: the band for the squared-norm ratio, 0 < lo < 1 < hi (see :func:`band_for_eps`).
        layers: "all" or "last".
        rtol: relative change of the failure probability at which grid refinement stops.
        cells: force a number of band cells (no refinement); for tests.

    Returns a :class:`BandResult` with the achieved tolerance. Raises :class:`DomainError` on bad
    arguments and :class:`CostLimitError` if the cost (depth × cells × log cells) would exceed
    :data:`COST_LIMIT`. Source: [derived] docs/theory.md §3. Assumptions: Gaussian weights, zero bias, He scaling
    (fan-in with equal widths, or fan-out).

    >>> r = band_probability(100, 1, 0.9, 1.1); round(r.p_in, 10) == round(float(rho.cdf(100, 1.1) - rho.cdf(100, 0.9)), 10)
    True
    """
    n, L = width, depth
    A, B = math.log(lo), math.log(hi)
    lm = rho.log_moments(n)
    sd1 = math.sqrt(lm.var)
    if L == 1:
        lf = float(np.logaddexp(rho.log_cdf(n, lo), rho.log_sf(n, hi)))
        return BandResult(n, L, lo, hi, layers, -math.expm1(lf), lf, 1e-15, 1e-13, 0)
    if cells is None:
        M = int(min(_MAX_CELLS // 2, max(32, math.ceil(6.0 * (B - A) / sd1))))
    else:
        M = cells
    pad = 0
    if layers == "last":
        spread = 8.0 * sd1 * math.sqrt(L) + abs(lm.mean) * L + 2.0 * sd1
        pad = int(math.ceil(spread / ((B - A) / M)))
    cost = lambda M_, pad_: L * (M_ + 2 * pad_) * max(1.0, math.log2(M_ + 2 * pad_)) * 2
    if cost(M, pad) > COST_LIMIT:
        raise CostLimitError(
            f"exact band probability at width={n}, depth={L} needs a grid of "
            f"{M + 2 * pad} cells × {L} layers, beyond this tool's cost limit; "
            "use the Chernoff or product bounds"
        )
    # Grid refinement M → 2M → 4M …; the discretization error of log p_fail is O(h²) (cell
    # centres), so each pair of levels gives a Richardson extrapolate R = f_2M + (f_2M − f_M)/3.
    # The reported tolerance is the change of the extrapolate between the last two levels.
    levels: list = []
    extrap: list = []
    exact_conv = False
    log_dead = float(logp_dead_uniform(n, L)) if layers == "last" else -math.inf
    while True:
        lf, p_mass, lost = _recursion(n, L, A, B, M, layers, pad, exact_conv, log_dead)
        if not exact_conv and lf < math.log(_FFT_MIN_FAIL):
            exact_conv = True
            levels, extrap = [], []
            continue
        if cells is not None:
            tol_abs = max(1e-15, lost)
            return BandResult(n, L, lo, hi, layers, -math.expm1(lf), lf, tol_abs,
                              tol_abs / max(math.exp(lf), 1e-320), M)
        levels.append(lf)
        if len(levels) >= 2:
            extrap.append(levels[-1] + (levels[-1] - levels[-2]) / 3.0)
        if len(extrap) >= 2:
            best = extrap[-1]
            rel = abs(math.expm1(extrap[-1] - extrap[-2])) + lost / max(math.exp(best), 1e-320)
            last_level = 2 * M > _MAX_CELLS or cost(2 * M, 2 * pad) > COST_LIMIT
            if rel <= rtol or last_level:
                p_fail = math.exp(best)
                return BandResult(n, L, lo, hi, layers, -math.expm1(best), best, rel * p_fail, rel, M)
        # (the mass that leaves the grid is reported in the tolerance; pad doubles in cells to
        # keep the same physical extent)
        pad *= 2
        M *= 2


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
