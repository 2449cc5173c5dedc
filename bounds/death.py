r"""Neuron death at initialization (RR20; docs/theory.md §5).

A data point x is *dead* if h_l(x) = 0 at some layer (every output derivative at x then
vanishes); a net is dead on a set S if every point of S is dead. Symmetric continuous weights,
zero (or symmetric) biases, widths n_1..n_k:

* one point: P(x alive) = Π_l (1 − 2^{−n_l}) exactly — given h_{l−1} ≠ 0 the n_l
  pre-activations are independent and each ≤ 0 with probability ½ — so the expected fraction of
  living points of any data set is the same product, and P(alive on S) ≥ it;
* the orthant bound: layer l ≥ 2 sees inputs in the non-negative orthant; a row with every entry
  ≤ 0 kills its own unit there, and when all n_l rows are such (probability 2^{−n_l n_{l−1}}) the
  layer kills the whole orthant, so P(alive on S) ≤ Π_{l≥2} (1 − 2^{−n_l n_{l−1}})
  (exponent n_l (n_{l−1} + 1) with symmetric biases; for data in the orthant also the factor
  (1 − 2^{−n_1 n_0})); exact for one layer on the largest input set;
* depth: Π (1 − 2^{−n_l}) stays positive iff Σ 2^{−n_l} < ∞;
* sign flipping keeps at least half of the living points per layer, hence ≥ 2^{−k}.

Everything is evaluated in log space with mpmath where doubles fail, grouped by distinct widths,
so k = 10^6 layers and probabilities like 1e-300 or 1 − 1e-30 are exact. P(x dead) is computed
here once (:func:`logp_dead_point`, :func:`logp_dead_uniform`); :mod:`bounds.band` and
:mod:`bounds.moments` call these. [derived; the claims are RR20's, arXiv 2007.06192]

``widths`` are n_1..n_k, the ReLU layers' widths; n_0, the data dimension, is ``input_dim``.
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

import mpmath as mp
import numpy as np

from .errors import (COUNT, NONNEGATIVE, OPEN_UNIT, REAL, WIDTHS, CostLimitError, DomainError, OrNone, Pair,
                     constrain)
from .numerics import logsumexp
from .report import Report

__all__ = [
    "Liveness", "liveness", "liveness_uniform", "logp_alive_point", "logp_dead_point", "logp_dead_uniform",
    "min_constant_width", "sign_flip_guarantee", "schedule_widths", "schedule_limit", "SIGN_FLIP_SOURCE", "derive_death",
    "death_report", "SCHEDULE", "SCHEDULE_MAX_DEPTH",
]

SIGN_FLIP_SOURCE = "paper claim (RR20 sign-flip scheme); proof derived"
_DPS = 40

#: A width schedule n_l = ⌈c·log₂(l + 1) + b⌉: the pair (c, b), c ≥ 0.
SCHEDULE = Pair(("c", NONNEGATIVE), ("b", REAL), text="'c,b' with real c ≥ 0 and b (e.g. 2,1)")
#: The most layers :func:`death_report` lists a schedule's widths for (one entry per layer).
SCHEDULE_MAX_DEPTH = 10**6


def _log1m_pow2(e) -> mp.mpf:
    """log(1 − 2^{−e}) for e ≥ 1 (mpmath, exact to the working precision for any e)."""
    return mp.log1p(-mp.power(2, -mp.mpf(e)))


_LOG1M_SERIES = 64     # from this exponent on, log(1 − 2^−e) = −2^−e to a relative 2^−65
_LOG1M_EXACT_MAX = 10000  # up to this many distinct exponents every term is taken in mpmath
_LOG1M_DROP = 4096        # beyond the fast path's smallest exponent + this, a term is below 2^−4096 of it


def _sum_log1m(exponents: Counter) -> mp.mpf:
    """Σ c·log(1 − 2^−e) over {e: c}, exact to the working precision (40 digits) for up to
    10^4 distinct exponents. Beyond (e.g. a schedule of 10^6 distinct widths, where one mpmath
    log per width took minutes), the terms with e ≥ 64 are −2^−e (relative error < 2^−64) and
    their sum is exp(logsumexp(log c − (e − e₀) log 2)) taken in doubles relative to the smallest
    such e₀: relative accuracy ~1e-15 for that part (its value may lie far below the double range,
    hence mpmath's exp; exponents beyond 1e308 work). Terms with e − e₀ ≥ _LOG1M_DROP are left
    out of that sum: together they are below (Σc)·2^−4000 of it, far under its rounding."""
    small, big = [], []
    if len(exponents) > _LOG1M_EXACT_MAX:
        for e, c in exponents.items():
            (small if e < _LOG1M_SERIES else big).append((e, c))
    else:
        small = list(exponents.items())
    with mp.workdps(_DPS):
        total = mp.fsum(c * _log1m_pow2(e) for e, c in small)
        if big:
            # relative to the smallest exponent (products of widths may exceed the double range)
            e0 = min(e for e, _ in big)
            kept = [(e - e0, c) for e, c in big if e - e0 < _LOG1M_DROP]
            d = np.array([float(x) for x, _ in kept])
            c = np.array([float(c) for _, c in kept])
            ls = float(logsumexp(np.log(c) - d * math.log(2.0)))
            total -= mp.exp(mp.mpf(ls) - mp.mpf(e0) * mp.log(2))
        return total


@constrain(widths=WIDTHS)
def logp_alive_point(widths) -> mp.mpf:
    """log P(x alive) = Σ_l log(1 − 2^{−n_l}) (mpmath value; any x ≠ 0, any data set).

    >>> float(logp_alive_point([1, 1]))  # log(1/4)
    -1.3862943611198906
    """
    return _sum_log1m(Counter(widths))


def _logp_dead(counts: Counter) -> mp.mpf:
    """log P(x dead) = log(1 − exp(Σ c·log(1 − 2^{−n}))) over {n: c} (the one evaluation)."""
    with mp.workdps(_DPS):
        return mp.log(-mp.expm1(_sum_log1m(counts)))


@constrain(widths=WIDTHS)
def logp_dead_point(widths) -> mp.mpf:
    r"""log P(x dead) for ReLU layers of widths n_1..n_k (mpmath value, exact, no cancellation).

    .. math:: P(x\text{ dead}) = 1 - \prod_{l=1}^{k}(1 - 2^{-n_l})

    evaluated as log(−expm1(Σ log1p(−2^{−n_l}))) at 40 digits, so it keeps its relative accuracy
    at 2^{−64} and below 1e-308 (a float underflows there; the log does not). Source: [derived]
    docs/theory.md §5 (RR20's single-point survival). Assumptions: symmetric continuous weights,
    zero or symmetric biases, any x ≠ 0.

    >>> float(mp.exp(logp_dead_point([64] * 100)))
    5.421010862427522e-18
    """
    return _logp_dead(Counter(widths))


@constrain(width=COUNT, depth=COUNT)
def logp_dead_uniform(width, depth) -> mp.mpf:
    """:func:`logp_dead_point` for ``depth`` layers of the same ``width`` (O(1) work for any depth).

    >>> float(mp.exp(logp_dead_uniform(1, 2)))   # 1 − (1/2)²
    0.75
    """
    return _logp_dead(Counter({width: depth}))


@dataclass(frozen=True)
class Liveness:
    """Death/liveness figures for one architecture (see :func:`liveness`)."""

    widths: tuple                  # the widths (one entry for a uniform stack of ``depth`` layers)
    bias: bool
    depth: int
    log_p_alive_point: float
    p_alive_point: float
    p_dead_point: float            # 1 − P(x alive), from expm1 (relative accuracy kept)
    log10_p_dead_point: float
    lower: float                   # P(alive on S) ≥ lower (= P(x alive))
    upper: float                   # P(alive on S) ≤ upper (orthant bound)
    p_dead_set_lower: float        # P(dead on S) ≥ 1 − upper: a lower bound on the set's death
    sign_flip_guarantee: float     # 2^{−k}
    log10_sign_flip_guarantee: float
    input_dim: int | None

    def as_dict(self) -> dict:
        return {
            "depth": self.depth, "bias": self.bias, "p_alive_point": self.p_alive_point,
            "log_p_alive_point": self.log_p_alive_point, "p_dead_point": self.p_dead_point,
            "log10_p_dead_point": self.log10_p_dead_point,
            "expected_live_fraction": self.p_alive_point, "lower": self.lower,
            "upper": self.upper, "p_dead_set_lower": self.p_dead_set_lower,
            "sign_flip_guarantee": self.sign_flip_guarantee,
            "log10_sign_flip_guarantee": self.log10_sign_flip_guarantee,
            "input_dim": self.input_dim,
        }


@constrain(widths=WIDTHS, input_dim=OrNone(COUNT))
def liveness(widths, *, bias: bool = False, input_dim: int | None = None) -> Liveness:
    r"""Exact single-point survival, the bounds on P(alive on S), and the sign-flip guarantee.

    .. math:: P(x\text{ alive}) = \prod_{l=1}^{k}(1-2^{-n_l}) \le P(\text{alive on }S)
              \le \prod_{l=2}^{k}(1-2^{-n_l n_{l-1}})

    Args:
        widths: n_1..n_k (k ≥ 1 ReLU layers), each ≥ 1.
        bias: symmetric biases (the upper bound's exponent becomes n_l (n_{l−1} + 1)).
        input_dim: n_0 for data in the non-negative orthant (adds the factor 1 − 2^{−n_1 n_0},
            with n_0 + 1 under biases); None for general data.

    Returns a :class:`Liveness`; probabilities are floats with their logs beside them (a float
    underflows below 1e-308; the logs do not). Source: RR20 (arXiv 2007.06192) claims; the
    formulas are [derived] (docs/theory.md §5). Assumptions: symmetric continuous weights, zero or
    symmetric biases. For k = 10^6 equal layers use :func:`liveness_uniform` (same numbers).

    >>> round(liveness([1]).p_alive_point, 12)
    0.5
    """
    w = widths
    extra = 1 if bias else 0
    up = Counter(w[l] * (w[l - 1] + extra) for l in range(1, len(w)))
    return _liveness(w, Counter(w), up, len(w), bias, input_dim)


@constrain(width=COUNT, depth=COUNT, input_dim=OrNone(COUNT))
def liveness_uniform(width, depth, *, bias: bool = False, input_dim: int | None = None) -> Liveness:
    """:func:`liveness` for ``depth`` layers of the same ``width`` (O(1) work for any depth)."""
    n, k = width, depth
    extra = 1 if bias else 0
    up = Counter({n * (n + extra): k - 1}) if k > 1 else Counter()
    return _liveness((n,) * min(k, 2), Counter({n: k}), up, k, bias, input_dim, depth=k)


def _liveness(w, point_exp: Counter, up_exp: Counter, k: int, bias, input_dim, depth=None) -> Liveness:
    if input_dim is not None:
        up_exp = Counter(up_exp)
        up_exp[w[0] * (input_dim + (1 if bias else 0))] += 1
    with mp.workdps(_DPS):
        lp = _sum_log1m(point_exp)
        lu = _sum_log1m(up_exp) if up_exp else mp.mpf(0)
        p_dead = -mp.expm1(lp)
        return Liveness(
            widths=w if depth is None else (w[0],) * 1, bias=bias, depth=k,
            log_p_alive_point=float(lp), p_alive_point=float(mp.exp(lp)),
            p_dead_point=float(p_dead), log10_p_dead_point=float(mp.log10(p_dead)),
            lower=float(mp.exp(lp)), upper=float(mp.exp(lu)),
            p_dead_set_lower=float(-mp.expm1(lu)), sign_flip_guarantee=sign_flip_guarantee(k),
            log10_sign_flip_guarantee=float(-k * mp.log10(2)), input_dim=input_dim,
        )


@constrain(depth=COUNT)
def sign_flip_guarantee(depth) -> float:
    r"""RR20's sign-flip guarantee: after the sign flips at least 2^{−k} of the data is alive
    through k ReLU layers (each layer keeps at least half of the points alive before it).

    ``depth`` k ≥ 1, the number of ReLU layers. Returns the lower bound 2^{−k} on the living
    fraction (one-sided, holds with probability one); 0.0 once it is below the smallest double
    (k > 1074; its log10 is −k·log10 2). Source: RR20 (arXiv 2007.06192), the paper's claim; the
    proof is derived (docs/theory.md §5).

    >>> sign_flip_guarantee(6)
    0.015625
    """
    with mp.workdps(_DPS):
        return float(mp.power(2, -depth))


@constrain(depth=COUNT, target=OPEN_UNIT)
def min_constant_width(depth, target) -> int:
    r"""Smallest constant width n with P(x alive) = (1 − 2^{−n})^k ≥ p.

    n = ⌈−log₂(1 − p^{1/k})⌉ (≈ log₂(k / ln(1/p))), decided at 40 digits and verified on both
    sides. Args: depth k ≥ 1, target p in (0, 1).

    >>> min_constant_width(100, 0.99)
    14
    """
    k, p = depth, target
    with mp.workdps(_DPS):
        lp = mp.log(mp.mpf(p))
        n = max(1, int(mp.ceil(-mp.log(-mp.expm1(lp / k), 2))))
        # guard the ceiling of a near-integer: check n and n − 1 directly
        while k * _log1m_pow2(n) < lp:
            n += 1
        while n > 1 and k * _log1m_pow2(n - 1) >= lp:
            n -= 1
    return n


@constrain(depth=COUNT, c=NONNEGATIVE, b=REAL)
def schedule_widths(depth, c, b) -> list:
    """n_l = ⌈c·log₂(l + 1) + b⌉ for l = 1..depth (each at least 1).

    >>> schedule_widths(3, 2.0, 1.0)
    [3, 5, 5]
    """
    top = c * math.log2(depth + 1) + b
    if not math.isfinite(top):
        raise DomainError("{schedule}" + f" widths c·log₂(l + 1) + b must stay below 1.8e308 (doubles) for "
                          f"every layer used (up to {depth:,}); got c = {c:g}, b = {b:g}", param="schedule")
    return [max(1, math.ceil(c * math.log2(l + 1) + b - 1e-12)) for l in range(1, depth + 1)]


@dataclass(frozen=True)
class ScheduleLimit:
    converges: bool
    lower: float     # bounds on lim_k Π(1 − 2^{−n_l}) (0 when the product diverges to 0)
    upper: float
    terms: int


@constrain(c=NONNEGATIVE, b=REAL, terms=COUNT)
def schedule_limit(c, b, *, terms: int = 100000) -> ScheduleLimit:
    r"""lim_{k→∞} Π_l (1 − 2^{−n_l}) for n_l = ⌈c·log₂(l + 1) + b⌉, with rigorous bounds.

    Positive iff Σ 2^{−n_l} < ∞ iff c > 1 (2^{−b−1}(l + 1)^{−c} < 2^{−n_l} ≤ 2^{−b}(l + 1)^{−c}).
    For c > 1: the first ``terms`` factors exactly, the tail between
    exp(−Σ_{l>M} x_l/(1 − x_l)) and 1 with Σ_{l>M}(l + 1)^{−c} ≤ (M + 1)^{1−c}/(c − 1).
    """
    M = terms
    if c <= 1:
        return ScheduleLimit(False, 0.0, 0.0, M)
    ws = schedule_widths(M, c, b)
    with mp.workdps(_DPS):
        head = _sum_log1m(Counter(ws))
        x_max = mp.power(2, -max(1, math.ceil(c * math.log2(M + 2) + b - 1e-12)))
        tail = mp.power(2, -mp.mpf(b)) * mp.power(M + 1, 1 - mp.mpf(c)) / (mp.mpf(c) - 1)
        lo = mp.exp(head - tail / (1 - x_max))
        return ScheduleLimit(True, float(lo), float(mp.exp(head)), M)


@lru_cache(maxsize=None)
def derive_death():
    """Derivation of the survival formulas, the orthant bound, the schedule test and the
    sign-flip guarantee (a proof in steps)."""
    import sympy as sy

    from .derivation import Derivation, Step

    n, k, l = sy.symbols("n k l", positive=True, integer=True)
    p = sy.Symbol("p", positive=True)
    c = sy.Symbol("c", positive=True)
    nl = sy.Function("n")(l)
    pnt = sy.Product(1 - 2 ** (-nl), (l, 1, k))
    u = sy.Symbol("u", positive=True)           # u = 2^{−n}
    u_sol = sy.solve(sy.Eq((1 - u) ** k, p), u)[0]
    width_sol = -sy.log(u_sol, 2)
    series = sy.summation((l + 1) ** (-c), (l, 1, sy.oo))
    steps = (
        Step("Given h_{l−1} ≠ 0, the n_l pre-activations are independent symmetric variables; all "
             "are ≤ 0 with probability 2^{−n_l}. Chaining over layers:",
             sy.Eq(sy.Symbol("P(x alive)"), pnt), citation="RR20",
             assumptions=("symmetric continuous weights", "zero or symmetric biases")),
        Step("By linearity the expected fraction of living points of any data set is the same "
             "product, and P(alive on S) ≥ P(x alive) for any x in S.",
             sy.Eq(sy.Symbol("E[live fraction]"), pnt), citation="RR20"),
        Step("Orthant bound: layer l ≥ 2 sees non-negative inputs; a row with all n_{l−1} entries "
             "≤ 0 kills its unit on the whole orthant, and when all n_l rows are such (probability "
             "2^{−n_l n_{l−1}}) the layer kills every input.",
             sy.Le(sy.Symbol("P(alive on S)"), sy.Product(1 - 2 ** (-nl * sy.Function("n")(l - 1)), (l, 2, k))),
             citation="RR20"),
        Step("Constant width: sympy solves (1 − u)^k = p for u = 2^{−n}; the width is the ceiling.",
             sy.Eq(n, width_sol), citation="RR20"),
        Step("Schedules n_l = ⌈c log₂(l+1) + b⌉: 2^{−n_l} is within a factor 2 of 2^{−b}(l+1)^{−c}; "
             "sympy sums the p-series, finite iff c > 1, so the product stays positive iff c > 1.",
             sy.Eq(sy.Sum((l + 1) ** (-c), (l, 1, sy.oo)), series), citation="RR20"),
        Step("Sign flip, one layer: a living point with some nonzero pre-activation is alive under W "
             "or under −W, so the better sign keeps at least half of the living points "
             "(per unit: a row flipped towards the majority keeps half alive on its own).",
             sy.Ge(sy.Symbol("alive_l"), sy.Symbol("alive_{l-1}") / 2), source="derived", citation="RR20",
             assumptions=("no point has every pre-activation exactly 0 (probability one)",)),
        Step("Induction over the k layers gives RR20's guarantee.",
             sy.Ge(sy.Symbol("live fraction"), 2 ** (-k)), source="paper", citation="RR20"),
    )
    return Derivation("Neuron death at initialization (RR20)", steps)


@constrain(widths=OrNone(WIDTHS), width=OrNone(COUNT), depth=OrNone(COUNT), schedule=OrNone(SCHEDULE),
           points=COUNT, input_dim=OrNone(COUNT), target=OrNone(OPEN_UNIT))
def death_report(*, widths=None, width=None, depth=None, schedule=None, points: int = 1, bias: bool = False,
                 input_dim=None, target=None) -> Report:
    """Survival at initialization of one architecture, as ``initbounds death`` prints it.

    The architecture is one of: ``widths`` (n_1..n_k); ``width`` with ``depth`` (a constant
    stack); ``schedule`` = (c, b) with ``depth`` (n_l = ⌈c·log₂(l + 1) + b⌉, l ≤ depth ≤
    :data:`SCHEDULE_MAX_DEPTH`; also the k → ∞ limit, :func:`schedule_limit`). ``points`` m ≥ 1
    data points; ``bias``: symmetric biases; ``input_dim``: n_0 for data in the non-negative
    orthant; ``target`` p in (0, 1): also the smallest constant width with P(x alive) ≥ p
    (:func:`min_constant_width`). ``as_dict()`` is :meth:`Liveness.as_dict` with ``points``,
    ``expected_live_points`` and, where asked, ``schedule_limit``, ``target`` and
    ``min_constant_width``. Source: RR20 (arXiv 2007.06192) claims; the formulas are [derived]
    (docs/theory.md §5).

    >>> r = death_report(widths=[4, 4, 4], points=10)
    >>> round(r.as_dict()["expected_live_points"], 6)
    8.239746
    """
    names = ("widths", "width", "depth", "schedule")
    if sum(v is not None for v in (widths, width, schedule)) != 1:
        raise DomainError("give one of {widths}, {width} with {depth}, or {schedule} with {depth}", names=names)
    limit = None
    if schedule is not None:
        if depth is None:
            raise DomainError("{schedule} needs {depth}", param="depth", names=names)
        if depth > SCHEDULE_MAX_DEPTH:
            raise CostLimitError("{depth} with {schedule} must be an integer in "
                                 f"[1, {SCHEDULE_MAX_DEPTH}]; got {depth}", param="depth", names=names)
        c, b = schedule
        lv = liveness(schedule_widths(depth, c, b), bias=bias, input_dim=input_dim)
        limit = schedule_limit(c, b)
        arch = f"n_l = ⌈{c:g}·log₂(l+1) + {b:g}⌉, l = 1..{depth:,}"
    elif widths is not None:
        if depth is not None:
            raise DomainError("{depth} goes with {width} or {schedule}, not with {widths}", param="depth",
                              names=names)
        lv = liveness(widths, bias=bias, input_dim=input_dim)
        arch = ",".join(str(w) for w in widths)
    else:
        if depth is None:
            raise DomainError("{width} needs {depth}", param="depth", names=names)
        lv = liveness_uniform(width, depth, bias=bias, input_dim=input_dim)
        arch = f"{depth:,} layers of width {width:,}"
    out = lv.as_dict()
    out["points"] = points
    out["expected_live_points"] = points * lv.p_alive_point
    if limit is not None:
        out["schedule_limit"] = {"positive": limit.converges, "lower": limit.lower, "upper": limit.upper}
    if target is not None:
        out["target"] = target
        out["min_constant_width"] = min_constant_width(lv.depth, target)
    lg = lv.log_p_alive_point / math.log(10)
    rows = [
        ("P(a given point alive) = expected live fraction", f"{lv.p_alive_point:.6g}  (10^{lg:.4g})",
         "derived, exact (RR20 claim)"),
        ("P(a given point dead)", f"{lv.p_dead_point:.6g}  (10^{lv.log10_p_dead_point:.4g})", "derived, exact"),
        ("P(alive on S), any S: lower bound", f"{lv.lower:.6g}", "derived (RR20 claim)"),
        ("P(alive on S): orthant upper bound", f"{lv.upper:.6g}", "derived (RR20 claim)"),
        (f"expected living points of {points:,}", f"{points * lv.p_alive_point:.6g}", "derived"),
        ("sign-flip guarantee (live fraction ≥ 2^-k)",
         f"{lv.sign_flip_guarantee:.6g}  (10^{lv.log10_sign_flip_guarantee:.4g})", "RR20 claim, proof derived"),
    ]
    if limit is not None:
        verdict = (f"> 0: in [{limit.lower:.6g}, {limit.upper:.6g}]" if limit.converges
                   else "0 (Σ 2^-n_l diverges: c ≤ 1)")
        rows.append(("lim k→∞ P(point alive) for this schedule", verdict, "derived (RR20 claim)"))
    if target is not None:
        rows.append((f"smallest constant width with P(point alive) ≥ {target:g} at depth {lv.depth:,}",
                     f"{out['min_constant_width']:,}", "derived"))
    return Report(title=f"Neuron death at initialization: {arch}{' (symmetric biases)' if bias else ''}",
                  rows=tuple(rows), data=out,
                  assumptions=("symmetric continuous weights", "zero or symmetric biases"))
