r"""Minimum width for norm preservation with probability 1 − δ (AB19; docs/theory.md §3).

Four methods, each a failure bound F(n) on P(some of the N inputs leaves the band at some layer
(or at the last layer)) that is non-increasing in the width n; the minimum width is the smallest
integer n with F(n) ≤ δ (a safeguarded secant from a Gaussian-approximation start, ending with the
neighbour check F(n) ≤ δ < F(n − 1); :func:`_solve`). All bounds are evaluated in log space, so δ down to
1e-300 and ε down to 1e-6 work.

* ``authors_formula`` — [authors' code] AB19's plotting curve, m = (4/ε′) ln(4NL/δ),
  ε′ = (1+ε)^{1/L} − 1. Shown as the authors' formula; ``validate`` shows where it fails.
* ``chernoff_per_layer`` — [derived] every layer's ratio in [lo^{1/L}, hi^{1/L}] (which keeps
  every partial product in the band) by Chernoff + a union bound over N·L events.
* ``chernoff_product`` — [derived] Doob's maximal inequality on the martingale Π ρ_j (upper side)
  and a union over depths of Chernoff bounds on Σ log ρ_j with the atoms of small K handled
  exactly (lower side); union over N inputs.
* ``exact_union`` — [derived] N·(1 − p_stay) with p_stay exact (:mod:`bounds.band`).

:func:`width_report` and :func:`prob_report` are what ``initbounds width`` and ``initbounds prob``
print.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache

import mpmath as mp
import numpy as np

from . import rho
from .band import LAYERS, NORMS, band_for_eps, band_probability
from .errors import COUNT, OPEN_UNIT, CostLimitError, Options, constrain
from .numerics import log_binomial_half, log_gamma_ratio, logsumexp
from .report import Report, fmt_logp, fmt_p

__all__ = [
    "METHODS", "SOURCES", "WidthResult", "log_failure_bound", "min_width", "min_widths",
    "authors_eps_total", "AUTHORS_EXAMPLE", "rate_series", "chernoff_width_solution",
    "derive_width", "width_report", "prob_report",
]

METHODS = ("authors_formula", "chernoff_per_layer", "chernoff_product", "exact_union")
SOURCES = {
    "authors_formula": "authors' code (AB19 v1 Fig. 6 curve)",
    "chernoff_per_layer": "derived (per-layer Chernoff + union bound)",
    "chernoff_product": "derived (Doob maximal inequality + depth union)",
    "exact_union": "derived (exact p_stay + union over inputs)",
}
#: AB19's own worked example of their plotting formula (docs/theory.md §3): ε = 0.15, N = 2000,
#: L = 10, δ = 0.05 gives m ≈ 4060. [authors' code]
AUTHORS_EXAMPLE = {"eps": 0.15, "samples": 2000, "depth": 10, "delta": 0.05, "width": 4060}

_DEPTH_FLOAT_MAX = 10**100  # product and exact methods: depth in floats (the per-layer one takes any depth)
_RATE_MIN = mp.mpf("1e-280")  # per-layer: a smaller rate puts the width beyond the solver's floats
_EXACT_RTOL = 1e-4  # relative tolerance on the exact failure probability when deciding the width
_P_GRID = 64   # orders p (and q) tried by the product bound; any order gives a valid bound


@dataclass(frozen=True)
class WidthResult:
    """Minimum width from one method, with the failure bound it achieves there."""

    name: str
    min_width: int | None            # None: this method cannot answer here (reason in notes)
    source: str
    log_failure: float               # log of the failure bound at min_width (nan for the authors')
    notes: tuple = field(default_factory=tuple)
    width_uncertainty: int = 0       # ± on min_width from the numerical tolerance (exact_union)


#: The properties a width can guarantee (AB19): (i) activation norms, (ii) weight-gradient norms.
PROPERTIES = Options(("activations", "gradients"))
PROPERTY_OR_BOTH = Options(("activations", "gradients", "both"))
#: Each method's source for property (ii) (the law: bounds.gradient; the union: over inputs and layers).
GRADIENT_SOURCES = {
    "authors_formula": SOURCES["authors_formula"],
    "chernoff_per_layer": "derived (exact gradient law; per-layer Chernoff + union bound)",
    "chernoff_product": "derived (exact gradient law; Chernoff on ρ_1⋯ρ_{L−1} + union)",
    "exact_union": "derived (exact gradient law; exact p_last + union over inputs, layers)",
}
_GRADIENT_NOTE = ("property (ii) per layer: an independent Bernoulli(1 − 2^-n) times a product of L − 1 independent "
                  "layer ratios (bounds.gradient, exact); union over the N inputs and over the layers")

#: The design parameters every width method takes: L ≥ 1 layers, N ≥ 1 inputs, δ and ε in (0, 1).
DESIGN = {"depth": COUNT, "samples": COUNT, "delta": OPEN_UNIT, "eps": OPEN_UNIT, "norm": NORMS, "layers": LAYERS}


@constrain(width=COUNT, depth=COUNT, samples=COUNT, delta=OPEN_UNIT)
def authors_eps_total(width, depth, samples, delta) -> float:
    """AB19's plotted total deviation ε_total(m) = (1 + (4/m) ln(4NL/δ))^L − 1. [authors' code]"""
    m, L, N = width, depth, samples
    with mp.workdps(30):
        a = 4 * (mp.log(4) + mp.log(N) + mp.log(L) - mp.log(delta)) / m
        return float(mp.expm1(L * mp.log1p(a)))


def authors_layer_eps(depth, eps):
    """AB19's per-layer tolerance ε_L = (1 + ε)^{1/L} − 1 (an mpmath number at the caller's
    precision): the layer band whose L-fold product is the total band. [authors' code]"""
    return mp.expm1(mp.log1p(mp.mpf(eps)) / depth)


def _authors_width(depth, samples, delta, eps) -> int:
    with mp.workdps(40):
        ep = authors_layer_eps(depth, eps)
        m = 4 / ep * (mp.log(4) + mp.log(samples) + mp.log(depth) - mp.log(mp.mpf(delta)))
        return max(1, int(mp.ceil(m)))


def _per_layer_rates(depth, lo, hi):
    with mp.workdps(60):
        r_hi = 1 + mp.expm1(mp.log(mp.mpf(hi)) / depth)
        r_lo = 1 + mp.expm1(mp.log(mp.mpf(lo)) / depth)
        return rho.rate(r_hi), rho.rate(r_lo)


def _log_fail_per_layer(n, depth, samples, rates) -> float:
    i_hi, i_lo = rates
    with mp.workdps(30 + len(str(n))):   # n·I must keep ~30 digits after its integer part
        v = mp.log(samples) + mp.log(depth) + mp.log(mp.exp(-n * i_hi) + mp.exp(-n * i_lo))
        return float(v)


_FULL_SUM_MAX = 4096   # every k is summed up to this width (as bounds.rho.log_moment does)


_full_log_weights = rho._full_log_weights  # k = 0..n and log[C(n,k) 2^{-n}], cached per width


def _tilted_centers(n: int, ps: np.ndarray, k_min: int) -> np.ndarray:
    """Approximate argmax over k of C(n,k)·Γ(k/2+p)/Γ(k/2), for each order p (vectorized bisection
    on log((n−k)/k) + ½log(1 + 2p/k) = 0, as :func:`bounds.rho._tilted_center`)."""
    a = np.maximum(float(k_min), -2.0 * ps) + 1e-9
    b = np.full(ps.shape, float(n))
    for _ in range(48):   # to ~n·2^-48 < 1 for n ≤ 2^53 after rounding to the window's lattice
        k = 0.5 * (a + b)
        with np.errstate(divide="ignore", invalid="ignore"):
            g = np.log((n - k) / k) + 0.5 * np.log1p(2.0 * ps / k)
        up = (k < n) & (g > 0)
        a, b = np.where(up, k, a), np.where(up, b, k)
    return 0.5 * (a + b)


def _log_moments(n: int, ps, k_min: int = 1) -> np.ndarray:
    r"""log E[ρ^p·1{K ≥ k_min}] for an array of orders p (each > −k_min/2): one vectorized pass.

    The same sum as :func:`bounds.rho.log_moment` (which stays the reference; the agreement is a
    test): :math:`p\log(4/n) + \log\sum_{k\ge k_{min}}\binom nk 2^{-n}\Gamma(k/2+p)/\Gamma(k/2)`,
    over every k for n ≤ 4096, and above over a strided window of ±18√n around each order's tilted
    centre (the window moves while the peak sits in its outer eighth, as there), with stride
    s ≤ √n/8 (rho uses √n/16): a bump of sd about √n/2 ≥ 4s inside the window is summed with a
    relative error below 2·exp(−2π²·16) (Poisson summation). Where the summand is a spike at
    k_min instead (orders near −k_min/2), the strided sum from k_min times s is a left Riemann sum
    of a decreasing sequence, i.e. an over-estimate: a bound that uses it only gets larger (both
    are tests against a direct sum over every k).
    """
    ps = np.atleast_1d(np.asarray(ps, dtype=float))
    if n > rho.WIDTH_EXACT_MAX:
        raise CostLimitError(f"width {n} is beyond the range where the binomial sums are exact "
                             f"(about 2^53 = {rho.WIDTH_EXACT_MAX:.3g}); use the per-layer Chernoff method",
                             param="width")
    if n <= _FULL_SUM_MAX:
        k, lw = _full_log_weights(n)
        k, lw = k[k_min:], lw[k_min:]
        t = lw[None, :] + log_gamma_ratio(0.5 * k[None, :], ps[:, None])
        return ps * math.log(4.0 / n) + logsumexp(t, axis=1)
    half = math.ceil(12.0 * math.sqrt(n))
    stride = max(1, int(math.sqrt(n) / 8.0))
    H = half + half // 2
    j = np.arange(0, 2 * H // stride + 1, dtype=float) * stride
    centers = np.round(_tilted_centers(n, ps, k_min))
    out = np.empty(ps.shape)
    rows = np.arange(len(ps))
    for _ in range(200):
        start = np.maximum(float(k_min), centers[rows] - H)
        k = start[:, None] + j[None, :]
        inside = k <= n
        kc = np.minimum(k, float(n))
        with np.errstate(invalid="ignore"):
            t = log_binomial_half(n, kc) + log_gamma_ratio(0.5 * kc, ps[rows][:, None])
        t = np.where(inside, t, -np.inf)
        i = np.argmax(t, axis=1)
        edge = len(j) // 8
        last = inside.sum(axis=1) - 1
        at_lo = (i < edge) & (start > k_min)
        at_hi = (i >= len(j) - edge) & (last == len(j) - 1) & (k[:, -1] + stride <= n)
        ok = ~(at_lo | at_hi)
        sums = logsumexp(t[ok], axis=1) + math.log(stride)
        # negative orders near −k_min/2 put a spike at k = k_min (Γ(k_min/2 + p) → ∞) that a window
        # around the bump does not see (issue 11: n = 15537, k_min = 3641 read e^784 for e^908):
        # where the window starts above k_min, the k_min term times the stride is added (a left
        # Riemann sum of the decreasing spike: an over-estimate, which only raises a bound)
        spike = ok & (start > k_min) & (ps[rows] < 0)
        if np.any(spike):
            lk = float(log_binomial_half(n, np.array([float(k_min)]))[0])
            ts = lk + log_gamma_ratio(np.full(int(spike.sum()), 0.5 * k_min), ps[rows][spike]) + math.log(stride)
            sums[spike[ok]] = np.logaddexp(sums[spike[ok]], ts)
        out[rows[ok]] = sums
        if ok.all():
            return ps * math.log(4.0 / n) + out
        moved = rows[~ok]
        centers[moved] = k[~ok, 0] + i[~ok] * stride + np.where(at_hi[~ok], half, -half)
        rows = moved
    raise CostLimitError(f"width {n}: the moment sums did not settle; use the per-layer Chernoff method",
                         param="width")


def _grid_argmin(f, a: float, b: float, levels: int = 6) -> float:
    """min of a convex f (vectorized over an array of points) on [a, b]: a geometric grid of 24
    points, then ``levels`` grids of 9 points between the best point's neighbours (each divides
    the spacing in log by 4). Every value of f is a valid bound, so the result is a valid bound
    whatever the search finds; the grid only decides how close to the infimum it gets."""
    xs = np.geomspace(a, b, 24)
    best = math.inf
    for _ in range(levels + 1):
        v = f(xs)
        i = int(np.argmin(v))
        best = min(best, float(v[i]))
        lo_x, hi_x = xs[max(i - 1, 0)], xs[min(i + 1, len(xs) - 1)]
        if hi_x <= lo_x * (1.0 + 1e-12):
            break
        xs = np.geomspace(lo_x, hi_x, 9)
    return best


_BLOCK_SINGLE = 32     # depths 1..32 each get their own order q in the lower-side union
_BLOCK_GROWTH = 32     # then blocks [a, b] with b = a + ⌊a/32⌋ ≤ a(1 + 1/32)


@lru_cache(maxsize=64)
def _depth_blocks(depth: int) -> tuple:
    """Integer blocks [a, b] covering 1..depth: singletons up to 32, then b = ⌊a·(1 + 1/32)⌋.
    About 32 + 32·ln(L/32) blocks: 400 at L = 10^6, 1,700 at L = 10^23."""
    a_s, b_s = [], []
    a = 1
    while a <= depth:
        b = min(depth, a if a <= _BLOCK_SINGLE else a + a // _BLOCK_GROWTH)
        a_s.append(a)
        b_s.append(b)
        a = b + 1
    a_arr, b_arr = np.array(a_s, dtype=float), np.array(b_s, dtype=float)
    a_arr.setflags(write=False)
    b_arr.setflags(write=False)
    return a_arr, b_arr


def _log_geometric_sum(a, b, g):
    r"""log Σ_{l=a}^{b} e^{l g} for integers a ≤ b, real g (arrays broadcast), without overflow:
    :math:`a g + (m-1)\max(g,0) + \log\frac{1-e^{-m|g|}}{1-e^{-|g|}}`, m = b − a + 1 (= log m at g = 0)."""
    m = b - a + 1.0
    h = np.abs(g)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.log(-np.expm1(-m * h)) - np.log(-np.expm1(-h))
    ratio = np.where(h * m < 1e-12, np.log(m), ratio)
    return a * g + (m - 1.0) * np.maximum(g, 0.0) + ratio


def _log_binom_lower_tail(n: int, m: int) -> float:
    """log P(K ≤ m), K ~ Bin(n, ½), for m < n/2: exact sum for m ≤ 4096, else the geometric
    upper bound w_m / (1 − m/(n − m + 1)) (ratios w_{k−1}/w_k ≤ m/(n − m + 1)), valid for a bound."""
    if m <= 4096:
        return logsumexp(log_binomial_half(n, np.arange(0, m + 1, dtype=float)))
    return float(log_binomial_half(n, float(m))) - math.log1p(-m / (n - m + 1.0))


def _log_fail_product(n, depth, lo, hi, layers) -> float:
    r"""Log of the product (martingale) bound for one input; see the module docstring.

    Upper side: :math:`P(\max_{l\le L}\Pi_l \ge hi) \le hi^{-p}(E\rho^p)^L` for p ≥ 1 (Doob's
    maximal inequality for the submartingale Π_l^p); last layer only: Markov, p > 0.

    Lower side, for a cut k0 and any orders q_l ∈ (0, k0/2):

    .. math:: P(\exists l: \Pi_l \le lo) \le P(\exists j \le L: K_j < k_0)
              + \sum_{l} lo^{q_l}\,\big(E[\rho^{-q_l}1\{K\ge k_0\}]\big)^{l}

    (Markov on Π_l^{-q}·1{K_1..K_l ≥ k0}, independence across layers). Proof that the depth
    blocks keep it a bound: every choice of q_l gives a valid bound, in particular one q per block
    [a, b] of depths, and for a fixed q the block's terms form a geometric series in l, summed in
    closed form (:func:`_log_geometric_sum`) — no term is dropped, so the memory and time do not
    grow with L (about 32·ln L blocks). Depths 1–32 are single blocks, where this equals the
    per-depth minimum over the grid of q; above, it is larger by a factor the tests bound.
    """
    L = depth
    logs = []
    p_lo = 1.0 if layers == "all" else 1e-3
    p_hi = max(4.0, 40.0 * math.log(1e300) / math.log(hi))
    logs.append(_grid_argmin(lambda ps: L * _log_moments(n, ps) - ps * math.log(hi), p_lo, p_hi))
    if layers == "all":
        a, b = _depth_blocks(L)
    else:
        a, b = np.array([float(L)]), np.array([float(L)])
    best = math.inf
    for k0 in sorted({max(1, n // 4), max(1, (3 * n) // 8)}):
        qmax = 0.5 * k0
        qs = np.geomspace(qmax * 1e-6, qmax * (1.0 - 1e-9), _P_GRID)
        g = _log_moments(n, -qs, k_min=k0)
        per_block = qs[None, :] * math.log(lo) + _log_geometric_sum(a[:, None], b[:, None], g[None, :])
        chern = logsumexp(per_block.min(axis=1))
        # P(some K_j < k0, j ≤ L); K < k0 always includes the atom K = 0 (ρ = 0, probability 2^-n),
        # which no Chernoff term on {K ≥ k0} covers (issue 11: leaving it out at k0 = 1 made the bound
        # fall below the exact failure probability at widths 1–7)
        p_small = _log_binom_lower_tail(n, k0 - 1)
        if p_small > -30.0:  # 1 − (1 − P(K < k0))^L
            atoms = math.log(-math.expm1(L * math.log1p(-math.exp(p_small))))
        else:                # union bound L·P(K < k0): an upper bound, tight to ~1e-13 here
            atoms = math.log(L) + p_small
        best = min(best, float(np.logaddexp(chern, atoms)))
    logs.append(best)
    return float(logsumexp(np.array(logs)))


@constrain(method=Options(METHODS[1:]), width=COUNT, depth=COUNT, samples=COUNT, eps=OPEN_UNIT, norm=NORMS,
           layers=LAYERS, property=PROPERTIES)
def log_failure_bound(method, width, depth, samples, eps, *, norm="squared", layers="all",
                      rtol=1e-3, property="activations") -> float:
    r"""log of the method's bound on P(some of N inputs leaves the ε-band) at width n.

    ``property="gradients"`` bounds P(some input's weight-gradient norm ratio G_l leaves the band)
    instead (AB19 property ii; :func:`_log_fail_gradients`).
    Not defined for ``authors_formula`` (it is a curve, not a bound). ``exact_union`` is
    log N + log(1 − p) with p exact (p_stay or p_last). Raises :class:`CostLimitError` where the
    exact recursion would exceed :data:`bounds.band.COST_LIMIT`.
    """
    n, L, N = width, depth, samples
    if property == "gradients":
        return _log_fail_gradients(method, n, L, N, eps, norm, layers, rtol)
    lo, hi = checked_band(eps, norm)
    if method == "chernoff_per_layer":
        return _log_fail_per_layer(n, L, N, _per_layer_rates(L, lo, hi))
    if method == "chernoff_product":
        return math.log(N) + _log_fail_product(n, L, lo, hi, layers)
    r = band_probability(n, L, lo, hi, layers=layers, rtol=rtol)
    return math.log(N) + r.logp_fail


def _log_fail_gradients(method, n, L, N, eps, norm, layers, rtol) -> float:
    r"""log of the bound on P(some of N inputs has some G_l (every l, or l = L) outside the band).

    By :func:`bounds.gradient.gradient_law`, under He with equal widths each G_l is B·ρ_1⋯ρ_{L−1}
    with B ~ Bernoulli(1 − 2^{−n}) independent, so P(G_l ∉ band) = 2^{−n} + (1 − 2^{−n})·P(ρ_1⋯ρ_{L−1}
    ∉ band), bounded by each method applied to the product at depth L − 1 (last layer); a union
    over the N inputs and over the L layers (every layer: their joint law is not a random walk).
    """
    union = math.log(N) + (math.log(L) if layers == "all" else 0.0)
    death = -n * math.log(2.0)
    if L == 1:                                   # G_1 = B exactly
        return union + death
    if method == "exact_union":
        lo, hi = checked_band(eps, norm)
        lp = band_probability(n, L - 1, lo, hi, layers="last", rtol=rtol).logp_fail
        return union + float(np.logaddexp(death, math.log1p(-math.exp(death)) + lp))
    lp = log_failure_bound(method, n, L - 1, 1, eps, norm=norm, layers="last", rtol=rtol)
    return union + float(np.logaddexp(death, lp))


def _root(g, n0: int, n_max: int, slope: float | None = None, max_evals: int = 80, tol: float = 0.0,
          hint=None):
    """Smallest integer n in [1, n_max] with g(n) ≤ 0 for a non-increasing g, from a guess n0.

    Safeguarded secant (Newton with ``slope`` ≈ dg/dn when given): steps are capped at ×4, and
    once a sign change is bracketed [lo, hi] (g(lo) > 0 ≥ g(hi)) every step stays strictly inside
    it, alternating with bisection after three steps; it ends when hi − lo = 1 (or hi = 1). Returns (n, slope), or
    (None, slope) when g(n_max) > 0. With ``tol`` > 0 it returns the first n with |g(n)| ≤ tol (a
    coarse level: closer than its noise is not needed); ``hint(n, g(n))`` guesses the slope before
    two points give one.
    """
    lo, hi = 0, None                     # g(lo) > 0 (lo = 0: none yet), g(hi) ≤ 0
    a, ga = None, None
    bracketed = 0
    b = min(max(1, int(n0)), n_max)
    for _ in range(max_evals):
        gb = g(b)
        if tol > 0 and abs(gb) <= tol and math.isfinite(gb):
            return b, slope
        if gb <= 0:
            hi = b if hi is None else min(hi, b)
        else:
            lo = max(lo, b)
        if hi is not None and hi - lo <= 1:
            return hi, slope
        if lo >= n_max:
            return None, slope
        if a is not None and a != b and math.isfinite(ga) and math.isfinite(gb) and abs(gb - ga) > 0.1:
            slope = (gb - ga) / (b - a)       # (points closer than 0.1 in log: noise, keep the old slope)
        if slope is None and hint is not None:
            slope = hint(b, gb)
        # the model's step (kept as an integer offset from b: widths above 2^53 stay exact)
        if slope is not None and slope < 0 and math.isfinite(gb):
            step = -gb / slope
        else:
            step = -0.5 * b if gb <= 0 else float(b)
        step = min(max(step, -0.75 * b), 3.0 * b + 1.0) if math.isfinite(step) else 0.0
        x = b + math.ceil(step)                       # smallest integer the model puts at g ≤ 0
        if hi is None:
            c = max(1, min(n_max, x))
            if c <= lo:
                c = min(n_max, lo + max(1, lo // 64))
        else:
            bracketed += 1
            # strictly inside the bracket; every other step from the fourth on is a bisection
            # (at most 2·log2 of the bracket then)
            c = min(max(x, lo + 1), hi - 1)
            if bracketed >= 4 and bracketed % 2 == 0:
                c = (lo + hi) // 2
        a, ga, b = b, gb, c
    # the budget is spent: bisect what is left of the bracket
    if hi is None:
        return None, slope
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if g(mid) <= 0:
            hi = mid
        else:
            lo = mid
    return hi, slope


def _solve(logf, log_delta: float, start: int, two_levels: bool = True, n_max: int = 10**300,
           info: dict | None = None, log_offset: float = 0.0) -> int | None:
    """Smallest integer n ≥ 1 with logf(n, fine=True) ≤ log_delta, logf non-increasing in n;
    None when even n_max does not reach δ.

    With ``two_levels`` a coarse evaluation (``fine=False``) first finds the crossing (the bounds
    are smooth and nearly linear in n near it); the fine evaluation then starts there, with the
    coarse slope, and ends with the neighbour check g(n) ≤ 0 < g(n − 1) (:func:`_root`).
    ``info`` (optional) receives the slope of logf in n near the crossing and the evaluation counts.
    The first step assumes logf(n) − ``log_offset`` ∝ n (Chernoff-like decay: log N + log p_fail).
    """
    fine: dict[int, float] = {}
    coarse: dict[int, float] = {}

    def g(n: int) -> float:
        if n not in fine:
            fine[n] = logf(n, True) - log_delta
        return fine[n]

    def gc(n: int) -> float:
        if n not in coarse:
            coarse[n] = logf(n, False) - log_delta
        return coarse[n]

    def hint(n, gn):
        v = (gn + log_delta - log_offset) / n
        return v if v < 0 else None

    slope = None
    if two_levels:
        start, slope = _root(gc, start, n_max, tol=0.02, hint=hint)
        if start is None:
            start = n_max
    n, slope = _root(g, start, n_max, slope, hint=hint)
    if info is not None:
        info.update(slope=slope, fine=len(fine), coarse=len(coarse))
    return n


def _log_normal_sf(x: float) -> float:
    """log P(Z > x), Z ~ N(0, 1) (erfc, or its asymptotic series where erfc underflows)."""
    if x < 25.0:
        return math.log(0.5 * math.erfc(x / math.sqrt(2.0)))
    z2 = (1.0 / x) ** 2          # (x ** 4 raised OverflowError beyond x ≈ 1e77; z² underflows to 0)
    return -0.5 * x * x - math.log(x * math.sqrt(2.0 * math.pi)) + math.log1p(-z2 + 3.0 * z2 * z2)


def _clt_width(depth, samples, delta, lo, hi, layers) -> int:
    """A starting guess only (no bound): the width at which the Gaussian approximation of log Π_L
    (mean −5L/(2n), variance 5L/n; reflection factor 2 for every layer) puts N·P(fail) at δ."""
    a, b = math.log(hi), -math.log(lo)
    c = math.log(2.0) if layers == "all" else 0.0
    target = math.log(delta) - math.log(samples) - c

    def logp(log_n):
        n = math.exp(log_n)
        sd, mu = math.sqrt(5.0 * depth / n), 2.5 * depth / n
        return float(np.logaddexp(_log_normal_sf((a + mu) / sd), _log_normal_sf(max(b - mu, 0.0) / sd)))

    x0, x1 = 0.0, 700.0
    for _ in range(60):
        xm = 0.5 * (x0 + x1)
        if logp(xm) > target:
            x0 = xm
        else:
            x1 = xm
    return max(1, int(math.ceil(math.exp(x1)))) if x1 < 690.0 else 10**300


def checked_band(eps, norm):
    """band_for_eps, refusing an ε that rounds the band 1 ± ε (or its square) to 1 in doubles."""
    lo, hi = band_for_eps(eps, norm)
    if not lo < 1.0 < hi:
        raise CostLimitError(f"{{eps}} = {eps:g} is below the double-precision resolution of the band "
                             f"1 ± eps (about 1.1e-16); this method needs eps ≥ 1.2e-16", param="eps")
    return lo, hi


def _memo(f):
    """f(n, fine) with each (n, fine) evaluated once."""
    cache: dict = {}

    def g(n, fine):
        if (n, fine) not in cache:
            cache[(n, fine)] = f(n, fine)
        return cache[(n, fine)]
    return g


def _min_width_gradients(method, L, N, delta, eps, norm, layers) -> WidthResult:
    """min_width for property (ii). The gradient bound (:func:`_log_fail_gradients`) is at least the
    same method's activation bound for the product at depth L − 1 with N·U events (U = L for every
    layer, 1 for the last) and at least N·U·2^-n: the larger of those two widths is a lower start;
    from there the search gallops up and bisects back (the bound is non-increasing in n)."""
    if method == "authors_formula":
        r = min_width(method, L, N, delta, eps, norm=norm, layers=layers)
        return WidthResult(method, r.min_width, GRADIENT_SOURCES[method], math.nan,
                           ("AB19 state property (ii) at the same width as (i); their plotting formula, not a "
                            "proven bound",))
    U = L if layers == "all" else 1
    log_delta = math.log(delta)
    rtol = _EXACT_RTOL

    @lru_cache(maxsize=None)
    def g(n):
        return _log_fail_gradients(method, n, L, N, eps, norm, layers, rtol)

    n_death = max(1, math.floor((math.log(N * U) - log_delta) / math.log(2.0)))
    base = None
    if L > 1:
        base = min_width(method, L - 1, N * U, delta, eps, norm=norm, layers="last")
    lo = max(n_death, base.min_width if base is not None else 1) - 1     # g(lo) > δ (or lo = 0)
    step, hi = 1, lo + 1
    while g(hi) > log_delta:
        lo, hi, step = hi, hi + step, 2 * step
        if hi > rho.WIDTH_EXACT_MAX:
            raise CostLimitError(f"property (ii) by {method} needs a width above 2^53 here", param="eps",
                                 names=("eps", "delta"))
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if g(mid) <= log_delta:
            hi = mid
        else:
            lo = mid
    notes = (_GRADIENT_NOTE,) + (base.notes if base is not None and method == "exact_union" else ())
    unc = base.width_uncertainty if base is not None else 0
    return WidthResult(method, hi, GRADIENT_SOURCES[method], g(hi), notes, unc)


@constrain(method=Options(METHODS), **DESIGN, property=PROPERTIES)
def min_width(method, depth, samples, delta, eps, *, norm="squared", layers="all",
              property="activations") -> WidthResult:
    r"""Minimum integer width for which ``method`` guarantees the ε-band with probability ≥ 1 − δ.

    Args:
        method: one of :data:`METHODS`.
        depth: L ≥ 1 ReLU layers, all of the same width n.
        samples: N ≥ 1 inputs that must all stay in the band.
        delta: δ in (0, 1) (down to 1e-300).
        eps: ε in (0, 1) (down to 1e-6); the band is |‖h_l‖²/‖x‖² − 1| ≤ ε (norm="squared")
             or |‖h_l‖/‖x‖ − 1| ≤ ε (norm="plain").
        norm, layers: "squared"/"plain"; "all" layers or the "last" layer only.
        property: "activations" (AB19 (i): ‖h_l‖ ≈ ‖x‖) or "gradients" (AB19 (ii):
            ‖∂ℓ/∂W_l‖_F ≈ ‖x‖·‖δ_L‖, :func:`_min_width_gradients`).

    Returns a :class:`WidthResult`. Raises :class:`DomainError` on bad arguments and
    :class:`CostLimitError` where this method would exceed its cost model.
    Source per :data:`SOURCES` (AB19, arXiv 1901.03611).
    Assumptions: Gaussian weights, zero bias, He scaling (fan-out; fan-in for equal widths).

    >>> min_width("authors_formula", 10, 2000, 0.05, 0.15).min_width
    4061
    """
    L, N = depth, samples
    log_delta = math.log(delta)
    if property == "gradients":
        return _min_width_gradients(method, L, N, delta, eps, norm, layers)
    if method == "authors_formula":
        notes = ("AB19's plotting formula; not a proven bound; ignores --norm and --layers",)
        return WidthResult(method, _authors_width(L, N, delta, eps), SOURCES[method], math.nan, notes)
    lo_b, hi_b = checked_band(eps, norm)
    notes: tuple = ()
    if method in ("chernoff_product", "exact_union") and L > _DEPTH_FLOAT_MAX:
        raise CostLimitError("this method evaluates the depth in floating point: {depth} up to 1e100 "
                             "(use the per-layer Chernoff method)", param="depth")
    if method == "chernoff_per_layer":
        rates = _per_layer_rates(L, lo_b, hi_b)
        f = lambda n, fine: _log_fail_per_layer(n, L, N, rates)  # noqa: E731
        if not min(rates) > _RATE_MIN:   # the width would be above ~1e280: beyond the solver's floats
            raise CostLimitError(
                f"the per-layer Chernoff width is above 1e280 here (its rate per unit, "
                f"{mp.nstr(min(rates), 3)}, is below 1e-280): a larger {{eps}} or a smaller {{depth}} is needed",
                param="eps" if L < 10**50 else "depth", names=("eps", "depth"))
        i_min = float(min(rates))
        start = max(1, int(math.ceil((math.log(2 * N * L) - log_delta) / i_min)))
        if layers == "last":
            notes = ("per-layer bands imply every layer's band; the same width serves --layers last",)
    elif method == "chernoff_product":
        f = lambda n, fine: math.log(N) + _log_fail_product(n, L, lo_b, hi_b, layers)  # noqa: E731
        # a guess only: the product bound asks some 10–40% more width than the exact probability
        start = max(1, min(rho.WIDTH_EXACT_MAX, int(1.25 * _clt_width(L, N, delta, lo_b, hi_b, layers))))
    else:
        settled: dict = {}   # a coarse result that already met the fine tolerance is the fine result
        achieved: dict = {}  # the relative tolerance achieved by the fine evaluation at n

        def f(n, fine):
            if fine and n in settled:
                return settled[n]
            r = band_probability(n, L, lo_b, hi_b, layers=layers, rtol=_EXACT_RTOL if fine else 1e-2)
            if fine:
                achieved[n] = r.rel_tolerance
            if r.rel_tolerance <= _EXACT_RTOL:
                # achieved tolerance within the fine one; and since the refinement stops at the
                # first grid level within rtol, a call with rtol = _EXACT_RTOL returns this value
                settled[n] = math.log(N) + r.logp_fail
            return math.log(N) + r.logp_fail
        start = _clt_width(L, N, delta, lo_b, hi_b, layers)
    n_max = rho.WIDTH_EXACT_MAX if method == "chernoff_product" else 10**300
    f = _memo(f)
    info: dict = {}
    n_star = _solve(f, log_delta, start, two_levels=method == "exact_union", n_max=n_max, info=info,
                    log_offset=math.log(N))
    if n_star is None:
        raise CostLimitError(
            f"the product bound needs a width above 2^53 = {rho.WIDTH_EXACT_MAX:.3g} here (its failure bound "
            f"there is e^{f(n_max, True):.4g} > δ = {delta:g}), beyond the range where the binomial sums are exact; "
            "use the per-layer Chernoff method", param="width")
    lf = f(n_star, True)
    unc = 0
    if method == "exact_union":
        # the integer is decided up to the numerical tolerance of log p_fail: translate it into
        # widths with the local slope of log p_fail in n (the solver's, from points ≥ 0.1 apart in
        # log p_fail; else one more evaluation n//1000 away)
        slope = abs(info["slope"]) if info.get("slope") else None
        if not slope:
            d = max(1, n_star // 1000)
            slope = abs(lf - f(n_star + d, True)) / d
        # the tolerance achieved at n_star: _EXACT_RTOL, or more below e^-720 ≈ 1e-313, where the
        # band recursion claims no relative accuracy (its one-layer tails are cut at e^-745)
        rtol = max(_EXACT_RTOL, achieved.get(n_star, _EXACT_RTOL))
        unc = int(math.ceil(math.log1p(rtol) / slope)) if slope > 0 else 0
        notes = (f"numerical uncertainty of the integer: ±{unc:,} (relative tolerance {rtol:.3g} "
                 "on the failure probability)",)
    return WidthResult(method, n_star, SOURCES[method], lf, notes, unc)


@constrain(**DESIGN, property=PROPERTIES)
def min_widths(depth, samples, delta, eps, *, norm="squared", layers="all",
               methods=METHODS, property="activations") -> list[WidthResult]:
    """:func:`min_width` for several methods (all four by default).

    A method that cannot answer for these inputs (a :class:`CostLimitError`, e.g. the product
    bound needs widths beyond 2^53 at ε = 1e-6 with δ = 1e-300) gives ``min_width=None`` with the
    reason in ``notes``; the others still answer. Invalid arguments still raise.
    """
    out = []
    for m in methods:
        try:
            out.append(min_width(m, depth, samples, delta, eps, norm=norm, layers=layers, property=property))
        except CostLimitError as e:
            if m == methods[0]:
                raise
            src = (GRADIENT_SOURCES if property == "gradients" else SOURCES)[m]
            out.append(WidthResult(m, None, src, math.nan, (f"not computed: {e}",)))
    return out


@constrain(**DESIGN, property=PROPERTY_OR_BOTH)
def width_report(depth, samples, delta, eps, *, norm="squared", layers="all", property="activations") -> Report:
    """Minimum width by the four methods (:func:`min_widths`), as ``initbounds width`` prints it.

    ``property``: "activations" (AB19 (i), the default), "gradients" (AB19 (ii): the weight-gradient
    norms, :func:`bounds.gradient.gradient_law`) or "both" (a row per method and property).
    Rows: method, min width, the failure bound it achieves there, source (and the property with
    "both"); lines: each method's notes. ``as_dict()`` = {"inputs", "methods": [name, min_width,
    source, log_failure_bound]} for (i), and "gradient_methods" (the same keys) for (ii).
    Source: AB19 (arXiv 1901.03611); each method's tag in :data:`SOURCES`.

    >>> r = width_report(3, 4, 0.1, 0.5)
    >>> [m["name"] for m in r.as_dict()["methods"]][-1]
    'exact_union'
    """
    props = ("activations", "gradients") if property == "both" else (property,)
    inputs = {"depth": depth, "samples": samples, "delta": delta, "eps": eps, "norm": norm, "layers": layers,
              "property": property}
    data: dict = {"inputs": inputs}
    rows, lines = [], []
    for prop in props:
        res = min_widths(depth, samples, delta, eps, norm=norm, layers=layers, property=prop)
        data["methods" if prop == "activations" else "gradient_methods"] = [
            {"name": r.name, "min_width": None if r.min_width is None else int(r.min_width), "source": r.source,
             "log_failure_bound": None if math.isnan(r.log_failure) else r.log_failure} for r in res]
        for r in res:
            row = (r.name, "—" if r.min_width is None else f"{r.min_width:,}",
                   "—" if math.isnan(r.log_failure) else fmt_logp(r.log_failure), r.source)
            rows.append(((prop,) + row) if len(props) > 1 else row)
        tag = f", {prop}" if len(props) > 1 else ""
        for r in res:
            for note in r.notes:
                if note == _GRADIENT_NOTE:
                    line = f"note (gradients): {note}"
                else:
                    line = f"note ({r.name}{tag}): {note}"
                if line not in lines:
                    lines.append(line)
    what = {"activations": "", "gradients": ", weight-gradient norms (AB19 ii)",
            "both": ", activations (i) and weight-gradient norms (ii)"}[property]
    columns = ("method", "min width", "failure bound at that width", "source")
    return Report(
        title=f"Minimum width: L={depth}, N={samples}, δ={delta:g}, ε={eps:g} ({norm} norm, {layers} layers{what})",
        rows=tuple(rows), data=data, columns=(("property",) + columns) if len(props) > 1 else columns,
        lines=tuple(lines), assumptions=_ASSUMPTIONS)


#: What every width method assumes (AB19's setting).
_ASSUMPTIONS = ("Gaussian weights", "zero bias", "He scaling (fan-out; fan-in for equal widths)",
                "every layer of the same width")


@constrain(width=COUNT, depth=COUNT, eps=OPEN_UNIT, samples=COUNT, norm=NORMS)
def prob_report(width, depth, eps, samples=1, *, norm="squared") -> Report:
    r"""Exact probabilities that one input stays in the ε-band, and the bounds for N inputs.

    p_stay = P(every layer in the band) and p_last = P(the last layer in the band) exactly
    (:func:`bounds.band.band_probability`, relative tolerance 1e-6); the union bound
    :math:`\min(1, N(1-p_{stay}))`; the per-layer Chernoff and the product (Doob) bounds for N
    inputs (:func:`log_failure_bound`); for AB19's property (ii), the exact probability that one
    layer's weight-gradient ratio G_l leaves the band and E G_l² (:mod:`bounds.gradient`).
    ``as_dict()`` is what ``initbounds prob --json`` prints.
    Raises :class:`CostLimitError` where the exact recursion exceeds its cost model.
    Source: [derived] docs/theory.md §3.

    >>> r = prob_report(500, 4, 0.3, 8)
    >>> r.as_dict()["p_fail_union"] <= 1.0
    True
    """
    lo, hi = checked_band(eps, norm)
    stay = band_probability(width, depth, lo, hi, layers="all", rtol=1e-6)
    last = band_probability(width, depth, lo, hi, layers="last", rtol=1e-6)
    log_union = math.log(samples) + stay.logp_fail
    per_layer = log_failure_bound("chernoff_per_layer", width, depth, samples, eps, norm=norm)
    product = log_failure_bound("chernoff_product", width, depth, samples, eps, norm=norm)
    data = {
        "inputs": {"width": width, "depth": depth, "eps": eps, "samples": samples, "norm": norm},
        "p_stay": stay.p_in, "p_last": last.p_in,
        "p_fail_stay": stay.p_fail, "p_fail_last": last.p_fail,
        "log_p_fail_stay": stay.logp_fail,
        "p_fail_union": min(1.0, math.exp(log_union)),
        "log_p_fail_union": log_union,
        "chernoff_per_layer": min(1.0, math.exp(per_layer)),
        "chernoff_product": min(1.0, math.exp(product)),
        "tolerance": max(stay.tolerance, last.tolerance),
    }
    # property (ii), one input: P(G_l ∉ band) is the exact_union gradient bound with N = 1 at the last layer
    # (every l has the same law: bounds.gradient), and E G_l² from bounds.gradient
    from .gradient import log_moment_he

    log_grad = _log_fail_gradients("exact_union", width, depth, 1, eps, norm, "last", 1e-6)
    data["log_p_fail_gradient_layer"] = log_grad
    data["p_fail_gradient_layer"] = math.exp(log_grad)
    log_g2 = log_moment_he(width, depth, 2)
    data["log_gradient_second_moment"] = log_g2
    data["gradient_second_moment"] = math.exp(log_g2) if log_g2 < 709.0 else None   # beyond doubles: the log
    rows = (
        ("p_stay  (every layer in band, one input)", fmt_p(stay.p_in), "derived, exact"),
        ("p_last  (last layer in band, one input)", fmt_p(last.p_in), "derived, exact"),
        ("1 − p_stay", fmt_logp(stay.logp_fail), "derived, exact"),
        (f"union bound over N = {samples}: N·(1 − p_stay)", fmt_logp(min(0.0, log_union)), "derived"),
        ("per-layer Chernoff bound (N inputs)", fmt_logp(min(0.0, per_layer)), "derived"),
        ("product (Doob) bound (N inputs)", fmt_logp(min(0.0, product)), "derived"),
        ("P(G_l outside band), each layer l, one input (AB19 ii)", fmt_logp(log_grad), "derived, exact"),
        ("E G_l² = (1 − 2^-n)(1 + 5/n)^(L−1), G_l = ‖∂ℓ/∂W_l‖²/(‖δ_L‖²‖x‖²)",
         f"{data['gradient_second_moment']:.6g}" if log_g2 < 709.0 else f"e^{log_g2:.6g}", "derived, exact"),
    )
    return Report(
        title=f"Width {width:,}, depth {depth}, ε = {eps:g} ({norm} norm)", rows=rows, data=data,
        lines=(f"numerical tolerance (absolute, achieved by grid refinement): {data['tolerance']:.1e}",),
        assumptions=_ASSUMPTIONS)


# --- symbolic work: the rate-function series and the Chernoff width, derived by sympy ----------
# (sympy is imported inside these functions: numerical use of this module never loads it)


@lru_cache(maxsize=None)
def _syms():
    import sympy as sy

    return {"eps": sy.Symbol("epsilon", positive=True),
            **dict(zip(("N", "L", "delta", "I"), sy.symbols("N L delta I", positive=True)))}


@lru_cache(maxsize=None)
def rate_series(order: int = 4) -> tuple:
    """Small-ε series of I₊(ε) = I(1 + ε) and I₋(ε) = I(1 − ε), derived by sympy.

    Legendre transform of Λ (:data:`bounds.rho.LAMBDA_EXPR`): the stationary point t(ε) of
    t(1 + ε) − Λ(t) is found as a power series in ε by matching coefficients of Λ'(t) = 1 + ε.
    Returns (I₊ series, I₋ series) as sympy expressions with an O-term; both start ε²/10.
    """
    import sympy as sy

    _eps = _syms()["eps"]
    t = rho.t_sym
    lam = sy.series(rho.LAMBDA_EXPR, t, 0, order + 2).removeO()
    a = sy.symbols(f"a1:{order + 1}")
    tt = sum(a[i] * _eps ** (i + 1) for i in range(order))
    eq = sy.expand(sy.diff(lam, t).subs(t, tt) - (1 + _eps))
    sol = {}
    for j in range(1, order + 1):
        cj = eq.coeff(_eps, j).subs(sol)
        sol[a[j - 1]] = sy.solve(cj, a[j - 1])[0]
    ts = tt.subs(sol)
    plus = sy.series(ts * (1 + _eps) - lam.subs(t, ts), _eps, 0, order + 1)
    minus = sy.series(plus.removeO().subs(_eps, -_eps), _eps, 0, order + 1)
    return plus, minus


@lru_cache(maxsize=None)
def chernoff_width_solution():
    """Solve N·L·2·e^{−n I} = δ for n (the symmetric per-layer Chernoff condition), by sympy."""
    import sympy as sy

    S = _syms()
    _N, _L, _delta, _I, _n = S["N"], S["L"], S["delta"], S["I"], rho.n_sym
    sol = sy.solve(sy.Eq(2 * _N * _L * sy.exp(-_n * _I), _delta), _n)[0]
    return sy.expand_log(sol, force=True)


def derive_width():
    """The derivation behind ``initbounds width``: from one unit to the four width methods."""
    import sympy as sy

    from .derivation import Derivation, Step

    S = _syms()
    _N, _L, _delta, _n = S["N"], S["L"], S["delta"], rho.n_sym
    um = rho.unit_moments()
    Y, rho_s = sy.symbols("Y rho")
    plus, minus = rate_series()
    eps_p = sy.Symbol("epsilon'", positive=True)
    p, hi = sy.symbols("p h", positive=True)
    steps = (
        Step("One unit: Y = 2·1[ζ>0]·ζ² with ζ ~ N(0,1). sympy integrates its mean and variance.",
             sy.Tuple(sy.Eq(sy.Symbol("E[Y]"), um["mean"]), sy.Eq(sy.Symbol("Var[Y]"), um["var"])),
             assumptions=("Gaussian weights", "zero bias")),
        Step("ρ = (2/n)χ²_K is the mean of n independent copies of Y, so E ρ = E Y and Var ρ = Var Y / n.",
             sy.Tuple(sy.Eq(sy.Symbol("E[rho]"), um["mean"]), sy.Eq(sy.Symbol("Var[rho]"), um["var"] / _n))),
        Step("Exact real moments of ρ (log-space binomial sum in the code).",
             sy.Eq(sy.Symbol("E[rho^p]"), rho.MOMENT_EXPR)),
        Step("Cumulant generating function of one unit; the MGF of ρ is its n-th power at t/n.",
             sy.Tuple(sy.Eq(sy.Function("Lambda")(rho.t_sym), rho.LAMBDA_EXPR),
                      sy.Eq(sy.Symbol("E[exp(t rho)]"), rho.MGF_EXPR))),
        Step("Exact CDF of ρ (binomial mixture of χ² laws, atom 2^{-n} at 0).",
             sy.Eq(sy.Symbol("P(rho <= r)"), rho.CDF_EXPR)),
        Step("Chernoff: P(ρ ≥ 1+ε) ≤ e^{-n I₊(ε)}, P(ρ ≤ 1−ε) ≤ e^{-n I₋(ε)}; sympy's series of the "
             "rate functions (Legendre transform of Λ) start at ε²/10.",
             sy.Tuple(sy.Eq(sy.Symbol("I_+"), plus), sy.Eq(sy.Symbol("I_-"), minus))),
        Step("Per-layer Chernoff + union over N inputs and L layers with per-layer band ε′ "
             "(symmetric case I₊ = I₋ = I); sympy solves for the width.",
             sy.Eq(_n, chernoff_width_solution()),
             assumptions=("ε′ = (1+ε)^{1/L} − 1 compounds to ε over L layers",)),
        Step("Product bound: Π_{j≤l} ρ_j is a martingale; Doob's maximal inequality for its p-th power.",
             sy.Le(sy.Symbol("P(max_l Pi_l >= h)"), hi ** (-p) * sy.Symbol("E[rho^p]") ** _L),
             assumptions=("p ≥ 1",)),
        Step("The authors' plotting formula (AB19 v1 Fig. 6), shown as theirs: linear in 1/ε′ "
             "although Var ρ = 5/n forces any valid bound to scale like 1/ε′².",
             sy.Eq(sy.Symbol("m"), 4 / eps_p * sy.log(4 * _N * _L / _delta)), source="authors' code"),
        Step("Exact: p_stay = P(every partial product in the band) by a band-restricted "
             "convolution recursion of log ρ; union over the N inputs.",
             sy.Le(sy.Symbol("P(fail)"), _N * (1 - sy.Symbol("p_stay")))),
    )
    return Derivation("Minimum width for norm preservation (AB19)", steps)
