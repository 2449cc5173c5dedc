r"""Minimum width for norm preservation with probability 1 − δ (AB19; docs/theory.md §3).

Four methods, each a failure bound F(n) on P(some of the N inputs leaves the band at some layer
(or at the last layer)) that is non-increasing in the width n; the minimum width is the smallest
integer n with F(n) ≤ δ (integer bisection). All bounds are evaluated in log space, so δ down to
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
from .numerics import log_binomial_half, logsumexp
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


#: The design parameters every width method takes: L ≥ 1 layers, N ≥ 1 inputs, δ and ε in (0, 1).
DESIGN = {"depth": COUNT, "samples": COUNT, "delta": OPEN_UNIT, "eps": OPEN_UNIT, "norm": NORMS, "layers": LAYERS}


@constrain(width=COUNT, depth=COUNT, samples=COUNT, delta=OPEN_UNIT)
def authors_eps_total(width, depth, samples, delta) -> float:
    """AB19's plotted total deviation ε_total(m) = (1 + (4/m) ln(4NL/δ))^L − 1. [authors' code]"""
    m, L, N = width, depth, samples
    with mp.workdps(30):
        a = 4 * (mp.log(4) + mp.log(N) + mp.log(L) - mp.log(delta)) / m
        return float(mp.expm1(L * mp.log1p(a)))


def _authors_width(depth, samples, delta, eps) -> int:
    with mp.workdps(40):
        ep = mp.expm1(mp.log1p(mp.mpf(eps)) / depth)
        m = 4 / ep * (mp.log(4) + mp.log(samples) + mp.log(depth) - mp.log(mp.mpf(delta)))
        return max(1, int(mp.ceil(m)))


def _per_layer_rates(depth, lo, hi):
    with mp.workdps(60):
        r_hi = 1 + mp.expm1(mp.log(mp.mpf(hi)) / depth)
        r_lo = 1 + mp.expm1(mp.log(mp.mpf(lo)) / depth)
        return rho.rate(r_hi), rho.rate(r_lo)


def _log_fail_per_layer(n, depth, samples, rates) -> float:
    i_hi, i_lo = rates
    with mp.workdps(40):
        v = mp.log(samples) + mp.log(depth) + mp.log(mp.exp(-n * i_hi) + mp.exp(-n * i_lo))
        return float(v)


def _grid_min(f, a: float, b: float) -> float:
    """min of a unimodal f on [a, b]: a geometric grid, then golden section around the best point.

    Every value of f is a valid bound, so the result is a valid bound whatever the search finds.
    """
    xs = np.geomspace(a, b, _P_GRID)
    vals = [f(x) for x in xs]
    i = int(np.argmin(vals))
    lo, hi = math.log(xs[max(i - 1, 0)]), math.log(xs[min(i + 1, len(xs) - 1)])
    best = vals[i]
    g = (math.sqrt(5.0) - 1.0) / 2.0
    c, d = hi - g * (hi - lo), lo + g * (hi - lo)
    fc, fd = f(math.exp(c)), f(math.exp(d))
    for _ in range(30):
        if fc < fd:
            hi, d, fd = d, c, fc
            c = hi - g * (hi - lo)
            fc = f(math.exp(c))
        else:
            lo, c, fc = c, d, fd
            d = lo + g * (hi - lo)
            fd = f(math.exp(d))
    return min(best, fc, fd)


def _log_binom_lower_tail(n: int, m: int) -> float:
    """log P(K ≤ m), K ~ Bin(n, ½), for m < n/2: exact sum for m ≤ 4096, else the geometric
    upper bound w_m / (1 − m/(n − m + 1)) (ratios w_{k−1}/w_k ≤ m/(n − m + 1)), valid for a bound."""
    if m <= 4096:
        return logsumexp(log_binomial_half(n, np.arange(0, m + 1, dtype=float)))
    return float(log_binomial_half(n, float(m))) - math.log1p(-m / (n - m + 1.0))


def _log_fail_product(n, depth, lo, hi, layers) -> float:
    """Log of the product (martingale) bound for one input; see the module docstring."""
    L = depth
    logs = []
    # upper side: P(max_l Π_l ≥ hi) ≤ hi^{-p} (E ρ^p)^L, p ≥ 1 (Doob); last layer only: p > 0
    p_lo = 1.0 if layers == "all" else 1e-3
    p_hi = max(4.0, 40.0 * math.log(1e300) / math.log(hi))
    up = lambda p: L * rho.log_moment(n, p) - p * math.log(hi)  # noqa: E731
    logs.append(_grid_min(up, p_lo, p_hi))
    # lower side: P(Π_l ≤ lo) ≤ P(some K_j < k0) + inf_q lo^q (E[ρ^{-q} 1{K ≥ k0}])^l, q < k0/2
    ls = np.arange(1, L + 1) if layers == "all" else np.array([L])
    best = math.inf
    for k0 in sorted({max(1, n // 4), max(1, (3 * n) // 8)}):
        qmax = 0.5 * k0
        qs = np.geomspace(qmax * 1e-6, qmax * (1.0 - 1e-9), _P_GRID)
        g = np.array([rho.log_moment(n, -q, k_min=k0) for q in qs])
        per_l = qs[None, :] * math.log(lo) + ls[:, None] * g[None, :]
        chern = logsumexp(per_l.min(axis=1))
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
           layers=LAYERS)
def log_failure_bound(method, width, depth, samples, eps, *, norm="squared", layers="all",
                      rtol=1e-3) -> float:
    r"""log of the method's bound on P(some of N inputs leaves the ε-band) at width n.

    Not defined for ``authors_formula`` (it is a curve, not a bound). ``exact_union`` is
    log N + log(1 − p) with p exact (p_stay or p_last). Raises :class:`CostLimitError` where the
    exact recursion would exceed :data:`bounds.band.COST_LIMIT`.
    """
    n, L, N = width, depth, samples
    lo, hi = band_for_eps(eps, norm)
    if method == "chernoff_per_layer":
        return _log_fail_per_layer(n, L, N, _per_layer_rates(L, lo, hi))
    if method == "chernoff_product":
        return math.log(N) + _log_fail_product(n, L, lo, hi, layers)
    r = band_probability(n, L, lo, hi, layers=layers, rtol=rtol)
    return math.log(N) + r.logp_fail


def _solve(logf, log_delta: float, start: int, two_levels: bool = True) -> int:
    """Smallest integer n ≥ 1 with logf(n, fine=True) ≤ log_delta, logf non-increasing in n.

    A secant iteration in log n on a coarse evaluation (``fine=False``) finds the crossing (these
    bounds are smooth and nearly linear in n); an integer bracket and bisection on the fine
    evaluation then fix the integer.
    """
    fine: dict[int, float] = {}
    coarse: dict[int, float] = {} if two_levels else fine

    def gc(n: int) -> float:
        if n not in coarse:
            coarse[n] = logf(n, not two_levels) - log_delta
        return coarse[n]

    def g(n: int) -> float:
        if n not in fine:
            fine[n] = logf(n, True) - log_delta
        return fine[n]

    n0, n1 = max(1, start), max(2, int(start * 1.5) + 1)
    for _ in range(40):
        g0, g1 = gc(n0), gc(n1)
        if not (math.isfinite(g0) and math.isfinite(g1)) or g0 == g1:
            break
        x = math.log(n1) - g1 * (math.log(n1) - math.log(n0)) / (g1 - g0)
        n2 = max(1, int(round(math.exp(min(x, 700.0)))))
        if abs(n2 - n1) <= max(1, n1 // 20000):
            n1 = n2
            break
        n0, n1 = n1, n2
    # bracket: hi satisfies, lo does not (or lo = 0)
    step = max(1, n1 // 5000)
    hi = n1
    while g(hi) > 0:
        hi += step
        step *= 2
    lo, step = hi - max(1, hi // 5000), max(1, hi // 5000)
    while lo >= 1 and g(lo) <= 0:
        hi = lo
        step *= 2
        lo = max(0, lo - step)
    lo = max(lo, 0)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if g(mid) <= 0:
            hi = mid
        else:
            lo = mid
    return hi


@constrain(method=Options(METHODS), **DESIGN)
def min_width(method, depth, samples, delta, eps, *, norm="squared", layers="all") -> WidthResult:
    r"""Minimum integer width for which ``method`` guarantees the ε-band with probability ≥ 1 − δ.

    Args:
        method: one of :data:`METHODS`.
        depth: L ≥ 1 ReLU layers, all of the same width n.
        samples: N ≥ 1 inputs that must all stay in the band.
        delta: δ in (0, 1) (down to 1e-300).
        eps: ε in (0, 1) (down to 1e-6); the band is |‖h_l‖²/‖x‖² − 1| ≤ ε (norm="squared")
             or |‖h_l‖/‖x‖ − 1| ≤ ε (norm="plain").
        norm, layers: "squared"/"plain"; "all" layers or the "last" layer only.

    Returns a :class:`WidthResult`. Raises :class:`DomainError` on bad arguments and
    :class:`CostLimitError` where this method would exceed its cost model.
    Source per :data:`SOURCES` (AB19, arXiv 1901.03611).
    Assumptions: Gaussian weights, zero bias, He scaling (fan-out; fan-in for equal widths).

    >>> min_width("authors_formula", 10, 2000, 0.05, 0.15).min_width
    4061
    """
    L, N = depth, samples
    log_delta = math.log(delta)
    if method == "authors_formula":
        notes = ("AB19's plotting formula; not a proven bound; ignores --norm and --layers",)
        return WidthResult(method, _authors_width(L, N, delta, eps), SOURCES[method], math.nan, notes)
    lo_b, hi_b = band_for_eps(eps, norm)
    notes: tuple = ()
    if method == "chernoff_per_layer":
        rates = _per_layer_rates(L, lo_b, hi_b)
        f = lambda n, fine: _log_fail_per_layer(n, L, N, rates)  # noqa: E731
        i_min = float(min(rates))
        start = max(1, int(math.ceil((math.log(2 * N * L) - log_delta) / i_min)))
        if layers == "last":
            notes = ("per-layer bands imply every layer's band; the same width serves --layers last",)
    elif method == "chernoff_product":
        f = lambda n, fine: math.log(N) + _log_fail_product(n, L, lo_b, hi_b, layers)  # noqa: E731
        start = max(1, int(math.ceil((math.log(2 * N * L) - log_delta) * 5.0 * L / math.log(hi_b) ** 2 / 2)))
    else:
        def f(n, fine):
            r = band_probability(n, L, lo_b, hi_b, layers=layers, rtol=_EXACT_RTOL if fine else 1e-2)
            return math.log(N) + r.logp_fail
        start = max(1, int(math.ceil((math.log(2 * N) - log_delta) * 2.0 * L / math.log(hi_b) ** 2)))
    n_star = _solve(f, log_delta, start, two_levels=method == "exact_union")
    lf = f(n_star, True)
    unc = 0
    if method == "exact_union":
        # the integer is decided up to the numerical tolerance of log p_fail: translate it into
        # widths with the local slope of log p_fail in n
        d = max(1, n_star // 1000)
        slope = abs(lf - f(n_star + d, True)) / d
        unc = int(math.ceil(_EXACT_RTOL / slope)) if slope > 0 else 0
        notes = (f"numerical uncertainty of the integer: ±{unc} (relative tolerance {_EXACT_RTOL:g} "
                 "on the failure probability)",)
    return WidthResult(method, n_star, SOURCES[method], lf, notes, unc)


@constrain(**DESIGN)
def min_widths(depth, samples, delta, eps, *, norm="squared", layers="all",
               methods=METHODS) -> list[WidthResult]:
    """:func:`min_width` for several methods (all four by default).

    A method that cannot answer for these inputs (a :class:`CostLimitError`, e.g. the product
    bound needs widths beyond 2^53 at ε = 1e-6 with δ = 1e-300) gives ``min_width=None`` with the
    reason in ``notes``; the others still answer. Invalid arguments still raise.
    """
    out = []
    for m in methods:
        try:
            out.append(min_width(m, depth, samples, delta, eps, norm=norm, layers=layers))
        except CostLimitError as e:
            if m == methods[0]:
                raise
            out.append(WidthResult(m, None, SOURCES[m], math.nan, (f"not computed: {e}",)))
    return out


@constrain(**DESIGN)
def width_report(depth, samples, delta, eps, *, norm="squared", layers="all") -> Report:
    """Minimum width by the four methods (:func:`min_widths`), as ``initbounds width`` prints it.

    Rows: method, min width, the failure bound it achieves there, source; lines: each method's
    notes. ``as_dict()`` = {"inputs", "methods": [name, min_width, source, log_failure_bound]}.
    Source: AB19 (arXiv 1901.03611); each method's tag in :data:`SOURCES`.

    >>> r = width_report(3, 4, 0.1, 0.5)
    >>> [m["name"] for m in r.as_dict()["methods"]][-1]
    'exact_union'
    """
    res = min_widths(depth, samples, delta, eps, norm=norm, layers=layers)
    inputs = {"depth": depth, "samples": samples, "delta": delta, "eps": eps, "norm": norm, "layers": layers}
    data = {"inputs": inputs, "methods": [
        {"name": r.name, "min_width": None if r.min_width is None else int(r.min_width), "source": r.source,
         "log_failure_bound": None if math.isnan(r.log_failure) else r.log_failure}
        for r in res]}
    rows = tuple((r.name, "—" if r.min_width is None else f"{r.min_width:,}",
                  "—" if math.isnan(r.log_failure) else fmt_logp(r.log_failure), r.source) for r in res)
    return Report(
        title=f"Minimum width: L={depth}, N={samples}, δ={delta:g}, ε={eps:g} ({norm} norm, {layers} layers)",
        rows=rows, data=data, columns=("method", "min width", "failure bound at that width", "source"),
        lines=tuple(f"note ({r.name}): {note}" for r in res for note in r.notes),
        assumptions=_ASSUMPTIONS)


#: What every width method assumes (AB19's setting).
_ASSUMPTIONS = ("Gaussian weights", "zero bias", "He scaling (fan-out; fan-in for equal widths)",
                "every layer of the same width")


@constrain(width=COUNT, depth=COUNT, eps=OPEN_UNIT, samples=COUNT, norm=NORMS)
def prob_report(width, depth, eps, samples=1, *, norm="squared") -> Report:
    r"""Exact probabilities that one input stays in the ε-band, and the bounds for N inputs.

    p_stay = P(every layer in the band) and p_last = P(the last layer in the band) exactly
    (:func:`bounds.band.band_probability`, relative tolerance 1e-6); the union bound
    :math:`\min(1, N(1-p_{stay}))`; the per-layer Chernoff and the product (Doob) bounds for N
    inputs (:func:`log_failure_bound`). ``as_dict()`` is what ``initbounds prob --json`` prints.
    Raises :class:`CostLimitError` where the exact recursion exceeds its cost model.
    Source: [derived] docs/theory.md §3.

    >>> r = prob_report(500, 4, 0.3, 8)
    >>> r.as_dict()["p_fail_union"] <= 1.0
    True
    """
    lo, hi = band_for_eps(eps, norm)
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
    rows = (
        ("p_stay  (every layer in band, one input)", fmt_p(stay.p_in), "derived, exact"),
        ("p_last  (last layer in band, one input)", fmt_p(last.p_in), "derived, exact"),
        ("1 − p_stay", fmt_logp(stay.logp_fail), "derived, exact"),
        (f"union bound over N = {samples}: N·(1 − p_stay)", fmt_logp(min(0.0, log_union)), "derived"),
        ("per-layer Chernoff bound (N inputs)", fmt_logp(min(0.0, per_layer)), "derived"),
        ("product (Doob) bound (N inputs)", fmt_logp(min(0.0, product)), "derived"),
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
