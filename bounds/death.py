r"""Neuron death at initialization (RR20; THEORY.md §7).

A data point x is *dead* if h_l(x) = 0 at some layer (every output derivative at x then
vanishes); a net is dead on a set S if every point of S is dead. Symmetric continuous weights,
zero (or symmetric) biases, widths n_1..n_k:

* one point: P(x alive) = Π_l (1 − 2^{−n_l}) exactly — given h_{l−1} ≠ 0 the n_l
  pre-activations are independent and each ≤ 0 with probability ½ — so the expected fraction of
  living points of any data set is the same product, and P(alive on S) ≥ it;
* the orthant bound: layer l ≥ 2 sees inputs in the non-negative orthant, and a row with every
  entry ≤ 0 kills the whole orthant, so P(alive on S) ≤ Π_{l≥2} (1 − 2^{−n_l n_{l−1}})
  (exponent n_l (n_{l−1} + 1) with symmetric biases; for data in the orthant also the factor
  (1 − 2^{−n_1 n_0})); exact for one layer on the largest input set;
* depth: Π (1 − 2^{−n_l}) stays positive iff Σ 2^{−n_l} < ∞;
* sign flipping keeps at least half of the living points per layer, hence ≥ 2^{−k}.

Everything is evaluated in log space with mpmath where doubles fail, grouped by distinct widths,
so k = 10^6 layers and probabilities like 1e-300 or 1 − 1e-30 are exact. [derived; the claims are
RR20's, arXiv 2007.06192]
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

import mpmath as mp

from .errors import DomainError, check_int, check_real

__all__ = [
    "Liveness", "liveness", "liveness_uniform", "logp_alive_point", "min_constant_width", "schedule_widths",
    "schedule_limit", "SIGN_FLIP_SOURCE", "derive_death", "parse_widths",
]

SIGN_FLIP_SOURCE = "paper claim (RR20 sign-flip scheme); proof derived"
_DPS = 40


def parse_widths(widths) -> tuple:
    """Validate a sequence of layer widths (each an integer ≥ 1)."""
    if isinstance(widths, (str, bytes)) or not hasattr(widths, "__iter__"):
        raise DomainError(f"widths must be a sequence of integers ≥ 1; got {widths!r}")
    out = tuple(check_int(f"widths[{i}]", w, lo=1) for i, w in enumerate(widths))
    if not out:
        raise DomainError("widths must list at least one layer width; got ()")
    return out


def _log1m_pow2(e) -> mp.mpf:
    """log(1 − 2^{−e}) for e ≥ 1 (mpmath, exact to the working precision for any e)."""
    return mp.log1p(-mp.power(2, -mp.mpf(e)))


def _sum_log1m(exponents: Counter) -> mp.mpf:
    with mp.workdps(_DPS):
        return mp.fsum(c * _log1m_pow2(e) for e, c in exponents.items())


def logp_alive_point(widths) -> mp.mpf:
    """log P(x alive) = Σ_l log(1 − 2^{−n_l}) (mpmath value; any x ≠ 0, any data set)."""
    w = parse_widths(widths)
    return _sum_log1m(Counter(w))


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
    p_dead_upper: float            # P(dead on S) ≥ 1 − upper
    sign_flip_guarantee: float     # 2^{−k}
    log10_sign_flip_guarantee: float
    input_dim: int | None

    def as_dict(self) -> dict:
        return {
            "depth": self.depth, "bias": self.bias, "p_alive_point": self.p_alive_point,
            "log_p_alive_point": self.log_p_alive_point, "p_dead_point": self.p_dead_point,
            "log10_p_dead_point": self.log10_p_dead_point,
            "expected_live_fraction": self.p_alive_point, "lower": self.lower,
            "upper": self.upper, "p_dead_set_lower": self.p_dead_upper,
            "sign_flip_guarantee": self.sign_flip_guarantee,
            "log10_sign_flip_guarantee": self.log10_sign_flip_guarantee,
            "input_dim": self.input_dim,
        }


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
    formulas are [derived] (THEORY §7). Assumptions: symmetric continuous weights, zero or
    symmetric biases. For k = 10^6 equal layers use :func:`liveness_uniform` (same numbers).

    >>> round(liveness([1]).p_alive_point, 12)
    0.5
    """
    w = parse_widths(widths)
    extra = 1 if bias else 0
    up = Counter(w[l] * (w[l - 1] + extra) for l in range(1, len(w)))
    return _liveness(w, Counter(w), up, len(w), bias, input_dim)


def liveness_uniform(width, depth, *, bias: bool = False, input_dim: int | None = None) -> Liveness:
    """:func:`liveness` for ``depth`` layers of the same ``width`` (O(1) work for any depth)."""
    n = check_int("width", width, lo=1)
    k = check_int("depth", depth, lo=1)
    extra = 1 if bias else 0
    up = Counter({n * (n + extra): k - 1}) if k > 1 else Counter()
    return _liveness((n,) * min(k, 2), Counter({n: k}), up, k, bias, input_dim, depth=k)


def _liveness(w, point_exp: Counter, up_exp: Counter, k: int, bias, input_dim, depth=None) -> Liveness:
    if input_dim is not None:
        input_dim = check_int("input_dim", input_dim, lo=1)
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
            p_dead_upper=float(-mp.expm1(lu)), sign_flip_guarantee=float(mp.power(2, -k)),
            log10_sign_flip_guarantee=float(-k * mp.log10(2)), input_dim=input_dim,
        )


def min_constant_width(depth, target) -> int:
    r"""Smallest constant width n with P(x alive) = (1 − 2^{−n})^k ≥ p.

    n = ⌈−log₂(1 − p^{1/k})⌉ (≈ log₂(k / ln(1/p))), decided at 40 digits and verified on both
    sides. Args: depth k ≥ 1, target p in (0, 1).

    >>> min_constant_width(100, 0.99)
    14
    """
    k = check_int("depth", depth, lo=1)
    p = check_real("target", target, lo=0.0, hi=1.0, lo_open=True, hi_open=True)
    with mp.workdps(_DPS):
        lp = mp.log(mp.mpf(p))
        n = max(1, int(mp.ceil(-mp.log(-mp.expm1(lp / k), 2))))
        # guard the ceiling of a near-integer: check n and n − 1 directly
        while k * _log1m_pow2(n) < lp:
            n += 1
        while n > 1 and k * _log1m_pow2(n - 1) >= lp:
            n -= 1
    return n


def schedule_widths(depth, c, b) -> list:
    """n_l = ⌈c·log₂(l + 1) + b⌉ for l = 1..depth (each at least 1)."""
    k = check_int("depth", depth, lo=1)
    c = check_real("c", c, lo=0.0)
    b = check_real("b", b)
    return [max(1, math.ceil(c * math.log2(l + 1) + b - 1e-12)) for l in range(1, k + 1)]


@dataclass(frozen=True)
class ScheduleLimit:
    converges: bool
    lower: float     # bounds on lim_k Π(1 − 2^{−n_l}) (0 when the product diverges to 0)
    upper: float
    terms: int


def schedule_limit(c, b, *, terms: int = 100000) -> ScheduleLimit:
    r"""lim_{k→∞} Π_l (1 − 2^{−n_l}) for n_l = ⌈c·log₂(l + 1) + b⌉, with rigorous bounds.

    Positive iff Σ 2^{−n_l} < ∞ iff c > 1 (2^{−b−1}(l + 1)^{−c} < 2^{−n_l} ≤ 2^{−b}(l + 1)^{−c}).
    For c > 1: the first ``terms`` factors exactly, the tail between
    exp(−Σ_{l>M} x_l/(1 − x_l)) and 1 with Σ_{l>M}(l + 1)^{−c} ≤ (M + 1)^{1−c}/(c − 1).
    """
    c = check_real("c", c, lo=0.0)
    b = check_real("b", b)
    M = check_int("terms", terms, lo=1)
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
             "≤ 0 kills the orthant.",
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
