r"""Fractional-moment-preserving initialization (GH21; docs/theory.md §4).

For a layer with d outputs and Gaussian weights N(0, σ²), ‖h_l‖² = σ²‖h_{l−1}‖² Q with
Q = Σ_{i≤d} ξ_i, ξ = c²ζ²·1[ζ ≤ 0] + ζ²·1[ζ > 0] (ζ ~ N(0,1); c = 0 ReLU, a leaky ReLU,
A ~ U[l, u] per unit per pass for RReLU, 1 linear). Then

.. math:: \sigma_s = (\mathbb E\,Q^{s/2})^{-1/s}

preserves E‖h‖^s exactly, for every input and every layer. One general formula serves every
random-slope activation (0 < p = s/2 < 1):

.. math:: \mathbb E\,Q^p = \frac{p}{\Gamma(1-p)}\int_0^\infty t^{-p-1}\,(1-\psi(t)^d)\,dt,\qquad
          \psi(t) = \tfrac12(1+2t)^{-1/2} + \tfrac12\,\mathbb E_c(1+2c^2t)^{-1/2},

evaluated with mpmath (t = x/d, so the integrand's shape does not depend on d). The closed forms
(ReLU binomial sum, linear Gamma ratio, leaky hypergeometric sum) are tested equal to it; s = 2
is σ² = 1/(d·E ξ) (He for ReLU, LeCun for linear). [derived; the claims are GH21's, arXiv
2005.11878]

``width`` is the layer's output count d throughout (σ² is the variance of each weight, for the
fan-out convention); :func:`moment_report` is what ``initbounds moment`` prints.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import mpmath as mp
import numpy as np

from . import rho
from .death import logp_dead_uniform
from .errors import (CostLimitError, COUNT, FANS, OPEN_UNIT, POSITIVE, REAL, DomainError, Interval, Options, OrNone, Real,
                     constrain)
from .numerics import log_gamma_ratio
from .report import Report

__all__ = [
    "LEAKY_SLOPE", "Activation", "activation", "log_moment_q", "log_sigma2", "log_q_order", "sigma2", "sigma2_large_width", "sigma2_he",
    "authors_sigma2", "log_q_moments", "LogNormParams", "log_norm_params", "unit_moments_xi",
    "REFERENCE_TABLE", "sigma2_series", "derive_moment", "SmallOutput", "p_small_output", "log_chi2_sum_cdf",
    "moment_report", "ACTIVATIONS", "S_ORDER", "FANS",
]

#: The random-slope activations: ReLU, leaky ReLU (slope a), RReLU (slope ~ U[l, u]), linear.
ACTIVATIONS = Options(("relu", "leaky", "rrelu", "linear"))
#: The moment order s in (0, 2] (s = 2 is He/LeCun).
S_ORDER = Interval(Real, 0, 2, closed="right")
#: A slope, or an end of RReLU's slope interval, in [0, 1].
_SLOPE = Interval(Real, 0, 1)

#: docs/theory.md §4 reference values of σ² at d = 64, s = 1 (our derivation, checked by Monte Carlo).
REFERENCE_TABLE = {
    ("relu", None): 0.0318722570,
    ("linear", None): 0.0157475434,
    ("leaky", 0.3): 0.0291317003,
    ("rrelu", (1 / 8, 1 / 3)): 0.0301036748,
}


@dataclass(frozen=True)
class Activation:
    """A random-slope activation: φ(z) = z (z > 0), c·z (z ≤ 0)."""

    kind: str                 # "relu", "leaky", "rrelu", "linear"
    slope: float = 0.0        # a for leaky
    lower: float = 0.0        # l for rrelu
    upper: float = 0.0        # u for rrelu

    @property
    def ec2(self) -> mp.mpf:
        """E c²."""
        if self.kind == "relu":
            return mp.mpf(0)
        if self.kind == "linear":
            return mp.mpf(1)
        if self.kind == "leaky":
            return mp.mpf(self.slope) ** 2
        lo, up = mp.mpf(self.lower), mp.mpf(self.upper)
        return (lo**2 + lo * up + up**2) / 3

    @property
    def ec4(self) -> mp.mpf:
        """E c⁴."""
        if self.kind in ("relu", "linear", "leaky"):
            return self.ec2**2
        lo, up = mp.mpf(self.lower), mp.mpf(self.upper)
        return (up**5 - lo**5) / (5 * (up - lo))

    def label(self) -> str:
        if self.kind == "leaky":
            return f"leaky ReLU (a = {self.slope:g})"
        if self.kind == "rrelu":
            return f"RReLU (U[{self.lower:g}, {self.upper:g}])"
        return {"relu": "ReLU", "linear": "linear"}[self.kind]

    def psi_minus_one(self, t):
        """ψ(t) − 1 = E e^{−tξ} − 1 (mpmath, no cancellation at small t)."""
        t = mp.mpf(t)
        pos = mp.expm1(-mp.log1p(2 * t) / 2) / 2           # ½[(1+2t)^{-1/2} − 1]
        if self.kind == "relu":
            neg = mp.mpf(0)
        elif self.kind in ("leaky", "linear"):
            c2 = self.ec2
            neg = mp.expm1(-mp.log1p(2 * c2 * t) / 2) / 2
        else:
            lo, up = mp.mpf(self.lower), mp.mpf(self.upper)
            if 2 * up**2 * t < mp.mpf("0.1"):
                # series: Σ_{j≥1} C(−1/2, j) (2t)^j E A^{2j}, E A^{2j} = (u^{2j+1} − l^{2j+1})/((2j+1)(u − l))
                acc, j, term = mp.mpf(0), 1, mp.mpf(1)
                while True:
                    term = term * (-mp.mpf(1) / 2 - (j - 1)) / j * (2 * t)
                    mom = (up ** (2 * j + 1) - lo ** (2 * j + 1)) / ((2 * j + 1) * (up - lo))
                    inc = term * mom
                    acc += inc
                    if abs(inc) <= mp.eps * abs(acc) or j > 400:
                        break
                    j += 1
                neg = acc / 2
            else:
                # E_A (1 + 2A²t)^{-1/2} − 1 = [asinh(ur) − asinh(lr)]/((u − l) r) − 1, r = √(2t)
                r = mp.sqrt(2 * t)
                neg = ((mp.asinh(up * r) - mp.asinh(lo * r)) / ((up - lo) * r) - 1) / 2
        return pos + neg


#: torch.nn.LeakyReLU's default negative slope (``negative_slope=0.01``), the default of "leaky".
LEAKY_SLOPE = 0.01


@constrain(activation=ACTIVATIONS, slope=OrNone(_SLOPE), lower=OrNone(_SLOPE), upper=OrNone(_SLOPE))
def activation(activation: str, *, slope=None, lower=None, upper=None) -> Activation:
    """Validated :class:`Activation` ("relu", "leaky" with slope a ∈ [0, 1] (default torch's 0.01,
    :data:`LEAKY_SLOPE`), "rrelu" with 0 ≤ l < u ≤ 1 (default torch's U[1/8, 1/3]), "linear").

    >>> activation("leaky", slope=0.3).label()
    'leaky ReLU (a = 0.3)'
    """
    kind = activation
    if kind == "leaky":
        return Activation("leaky", slope=LEAKY_SLOPE if slope is None else slope)
    if kind == "rrelu":
        lo = 1 / 8 if lower is None else lower
        up = 1 / 3 if upper is None else upper
        if not lo < up:
            raise DomainError(f"{{lower}} must be < upper for rrelu; got lower={lo:g}, upper={up:g}", param="lower")
        return Activation("rrelu", lower=lo, upper=up)
    return Activation(kind)


_activation = activation   # (moment_report's parameter of the same name shadows it there)


def unit_moments_xi(act: Activation) -> tuple:
    """(m₁, v) = (E ξ, Var ξ) per unit: m₁ = (1 + E c²)/2, E ξ² = 3(1 + E c⁴)/2."""
    m1 = (1 + act.ec2) / 2
    e2 = 3 * (1 + act.ec4) / 2
    return m1, e2 - m1**2


def _log_moment_integral(act: Activation, d: int, p) -> mp.mpf:
    """log E Q^p by the Laplace-type integral (0 < p < 1), in x = t·d."""
    p = mp.mpf(p)
    dd = mp.mpf(d)

    def f(x):
        t = x / dd
        lpsi = mp.log1p(act.psi_minus_one(t))
        return mp.power(x, -p - 1) * (-mp.expm1(dd * lpsi))

    m1 = (1 + act.ec2) / 2
    # Ψ(x) = ψ(x/d)^d → Ψ∞ = 2^{-d} for ReLU (the atom of Q at 0), 0 otherwise. The slowly
    # decaying part of the tail, ∫_X^∞ x^{-p-1}(1 − Ψ∞) dx = (1 − Ψ∞) X^{-p}/p, is integrated exactly.
    big_x = 100 / m1
    psi_inf = mp.power(2, -dd) if act.kind == "relu" else mp.mpf(0)
    # near 0 the integrand is x^{-p}·h(x) with h smooth: x = y^{1/(1−p)} removes the singularity
    x1 = 1 / m1
    e = 1 / (1 - p)

    def f0(y):   # f(x) dx/dy with x = y^e (tanh-sinh never evaluates the endpoint y = 0)
        return f(mp.power(y, e)) * e * mp.power(y, e - 1)

    head = mp.quad(f0, [0, mp.power(x1 / 100, 1 - p), mp.power(x1, 1 - p)]) + \
        mp.quad(f, [x1, 10 / m1, big_x])

    def g(x):
        t = x / dd
        return mp.power(x, -p - 1) * (psi_inf - mp.exp(dd * mp.log1p(act.psi_minus_one(t))))

    tail = (1 - psi_inf) * mp.power(big_x, -p) / p + mp.quad(g, [big_x, 10 * big_x, 1000 * big_x, mp.inf])
    val = head + tail
    return mp.log(p / mp.gamma(1 - p) * val) + p * mp.log(dd)


#: Below this order p = s/2, log E Q^p is evaluated by its cumulant series (see :func:`log_moment_q`).
_SERIES_P = 1e-6


def _log_p_alive(act: Activation, d: int) -> mp.mpf:
    """log P(Q > 0): log(1 − 2^{−d}) for ReLU (the atom of Q at 0), 0 otherwise (mpmath)."""
    return mp.log1p(-mp.power(2, -mp.mpf(d))) if act.kind == "relu" else mp.mpf(0)


@constrain(width=COUNT, s=S_ORDER)
def log_moment_q(act: Activation, width, s) -> mp.mpf:
    r"""log E Q^{s/2} for a layer of ``width`` d (mpmath value), s ∈ (0, 2].

    Closed forms where they exist (ReLU: log-space binomial sum shared with :mod:`bounds.rho`;
    linear: Gamma ratio; s = 2: log(d·E ξ)); the general integral otherwise (leaky, RReLU).
    For p = s/2 < 10^{−6} (down to the smallest double s = 5e-324, where s/2 rounds to 0 in
    floats): the cumulant series log P(Q > 0) + pκ₁ + p²κ₂/2 with κ₁, κ₂ the mean and variance
    of log Q given Q > 0 (:func:`log_q_moments`); the next term is p³κ₃/6, below 10^{−17}·|κ₃|
    (issue 11: the float sum lost log(1 − 2^{−d}) against p·κ₁, and σ_s² came out as 0).
    """
    d = width
    p = mp.mpf(s) / 2                     # exact (s/2.0 is 0.0 at s = 5e-324)
    if p == 1:
        m1, _ = unit_moments_xi(act)
        return mp.log(d * m1)
    if p < _SERIES_P:
        k1, k2, _ = log_q_moments(act, d)
        with mp.workdps(30):
            return +(_log_p_alive(act, d) + p * k1 + p * p * k2 / 2)
    if act.kind in ("relu", "linear"):
        return log_q_order(act, d, float(p))
    return _log_moment_integral_cached(act, d, float(p))


@lru_cache(maxsize=64)
def _log_moment_integral_cached(act: Activation, d: int, p: float) -> mp.mpf:
    """The general integral at 30 digits, cached (a report evaluates σ_s² several times)."""
    with mp.workdps(30):
        return +_log_moment_integral(act, d, p)


@constrain(width=COUNT, p=POSITIVE)
def log_q_order(act: Activation, width, p) -> mp.mpf:
    """log E Q^p for any order p > 0, ReLU and linear (closed forms): ReLU through
    E ρ^p = (2/d)^p E Q^p (ρ = (2/d) χ²_K, :func:`bounds.rho.log_moment`); linear
    E (χ²_d)^p = 2^p Γ(d/2 + p)/Γ(d/2)."""
    d = width
    if act.kind == "relu":
        return mp.mpf(rho.log_moment(d, p)) - p * mp.log(mp.mpf(2) / d)
    if act.kind == "linear":
        return p * mp.log(2) + mp.mpf(float(log_gamma_ratio(d / 2.0, p)))
    raise DomainError(f"log_q_order has closed forms for relu and linear; got {act.kind!r}")


#: |log σ_s²| beyond this is refused (a log that a double cannot hold after ×depth is no answer).
_LOG_SIGMA2_MAX = 1e300


@constrain(width=COUNT, s=S_ORDER, fan_ratio=POSITIVE)
def log_sigma2(act: Activation, width, s, *, fan_ratio: float = 1.0) -> float:
    r"""log σ_s² = −(2/s) log E Q^{s/2} (+ log ``fan_ratio``), exact in log space.

    σ_s² itself leaves the double range at small s for ReLU: as s → 0, E Q^{s/2} → P(Q > 0) =
    1 − 2^{−d}, so log σ_s² ≈ 2^{1−d}/s − E[log Q | Q > 0] (e.g. ≈ 8.27e275 at s = 1e-300,
    d = 81). Raises :class:`DomainError` (naming ``s``) where |log σ_s²| > 10^300.

    >>> round(log_sigma2(activation("relu"), 64, 1.0), 6)
    -3.445969
    """
    lm = log_moment_q(act, width, s)
    with mp.workdps(30):
        val = -2 * lm / mp.mpf(s) + mp.log(mp.mpf(fan_ratio))
        if abs(val) > _LOG_SIGMA2_MAX:
            # log σ² ≈ −2 log P(Q > 0)/s: the smallest s with |log σ²| ≤ 10^300
            s_min = float(-2 * _log_p_alive(act, width) / _LOG_SIGMA2_MAX)
            raise DomainError(f"{{s}} = {s:g} gives log σ_s² = {mp.nstr(val, 6)} at width {width} "
                              f"(E‖h‖^s is held up by P(alive) = 1 − 2^-{width}); s must be ≥ {s_min:.3g} here",
                              param="s")
        return float(val)


@constrain(width=COUNT, s=S_ORDER)
def sigma2(act: Activation, width, s, *, fan_ratio: float = 1.0) -> float:
    r"""Weight variance σ_s² = (E Q^{s/2})^{−2/s} that preserves E‖h‖^s exactly.

    ``width`` is the layer's output count d. ``fan_ratio`` = d_out/d_in gives the per-unit form
    for rectangular layers (preserves E M^{s/2}, M = ‖h‖²/n): σ² × d_out/d_in. Raises
    :class:`DomainError` (naming ``s``) where σ_s² is beyond the double range; its log is
    :func:`log_sigma2`.

    >>> round(sigma2(activation("relu"), 64, 1.0), 10)
    0.031872257
    """
    lv = log_sigma2(act, width, s, fan_ratio=fan_ratio)
    if not -745.0 < lv < 709.78:
        raise DomainError(f"{{s}} = {s:g} gives σ_s² = e^{lv:.6g} at width {width}, beyond the double range "
                          "(its log is log_sigma2)", param="s")
    return math.exp(lv)


@constrain(width=COUNT)
def sigma2_he(act: Activation, width) -> float:
    """The s = 2 value 1/(d·E ξ): He (2/d) for ReLU, LeCun (1/d) for linear, 2/((1 + E c²) d)."""
    m1, _ = unit_moments_xi(act)
    return float(1 / (width * m1))


@lru_cache(maxsize=None)
def sigma2_series():
    """σ_s² to O(d^{-2}) from the per-unit moments (sympy): 1/(d m₁) + (2 − s) v/(4 d² m₁³).

    Derivation: E Q^p = (d m₁)^p [1 + p(p − 1) v/(2 d m₁²) + O(d^{-2})] (Taylor of (1 + x)^p
    around the mean, E x² = v/(d m₁²)); raise to −1/p and expand in 1/d.
    Returns (expression, symbols dict).
    """
    import sympy as sy

    d, m1, v, s = sy.symbols("d m_1 v s", positive=True)
    e = sy.Symbol("e", positive=True)   # e = 1/d
    p = s / 2
    # σ² = (E Q^p)^{-1/p} = (e/m₁)·(1 + p(p − 1) v e/(2 m₁²))^{-1/p}: expand the bracket in e
    bracket = sy.series((1 + p * (p - 1) * v * e / (2 * m1**2)) ** (-1 / p), e, 0, 2).removeO()
    expr = sy.expand(sy.factor((e / m1 * bracket).subs(e, 1 / d)))
    return expr, {"d": d, "m1": m1, "v": v, "s": s}


@constrain(width=COUNT, s=S_ORDER)
def sigma2_large_width(act: Activation, width, s) -> float:
    """The sympy series of :func:`sigma2_series` evaluated for this activation."""
    expr, sym = sigma2_series()
    m1, v = unit_moments_xi(act)
    val = expr.subs({sym["d"]: width, sym["m1"]: float(m1), sym["v"]: float(v), sym["s"]: float(s)})
    return float(val)


#: The authors' large-width approximations (GH21's public code), shown as theirs.
@constrain(width=COUNT, s=S_ORDER)
def authors_sigma2(act: Activation, width, s):
    """GH21's code: ReLU 2/d + 5(2 − s)/(2d²); linear 1/d + (2 − s)/(2d²); None otherwise.
    [authors' code]"""
    d = width
    if act.kind == "relu":
        return 2 / d + 5 * (2 - s) / (2 * d * d)
    if act.kind == "linear":
        return 1 / d + (2 - s) / (2 * d * d)
    return None


@constrain(width=COUNT)
def log_q_moments(act: Activation, width) -> tuple:
    """(E log Q, Var log Q, P(Q > 0)); for ReLU conditional on survival (K ≥ 1).

    ReLU: from :func:`bounds.rho.log_moments` (log Q = log ρ + log(d/2)); linear: ψ(d/2) + log 2
    and ψ₁(d/2); leaky and RReLU: the Frullani-type integrals of :func:`_log_integrals`.
    """
    return _log_q_moments(act, width)


#: From this width on, ReLU's (E log Q, Var log Q) are their leading terms in 1/d (see :func:`_log_q_moments`).
_LOG_Q_SERIES_WIDTH = 2**53


@lru_cache(maxsize=64)
def _log_q_moments(act: Activation, d: int) -> tuple:
    """:func:`log_q_moments`, cached (a report asks for it at s and at s = 2; the quadratures take ~1 s)."""
    if act.kind == "relu":
        if d >= _LOG_Q_SERIES_WIDTH:
            # E log ρ = −5/(2d) − 4.08/d² + O(d⁻³), Var log ρ = 5/d + 18.5/d² + O(d⁻³) (coefficients from
            # exact mpmath sums at d = 500..4000, tests/bounds/test_moments.py): the leading terms are
            # within 4/d ≤ 5e-16 relative here, while the float sums over K lose log(4/d) + E ψ(K/2)
            # to cancellation (issue 11: at d = 10^30 the variance came out 1000× too large)
            return math.log(d) - math.log(2.0) - 2.5 / d, 5 / d, 1.0
        lm = rho.log_moments(d)
        return lm.mean + math.log(d / 2.0), lm.var, 1.0 - lm.p_zero
    if act.kind == "linear":
        return float(mp.digamma(mp.mpf(d) / 2) + mp.log(2)), float(mp.psi(1, mp.mpf(d) / 2)), 1.0
    with mp.workdps(30):
        j0, j1 = _log_integrals(act, d)
        mean = mp.log(d) - mp.euler - j0
        var = 2 * j1 - j0**2 - mp.pi**2 / 6
        return float(mean), float(var), 1.0


def _log_integrals(act: Activation, d: int) -> tuple:
    """J₀ = ∫₀¹ (Ψ − 1)/x dx + ∫₁^∞ Ψ/x dx and J₁ (the same with a factor log x), Ψ(x) = ψ(x/d)^d.

    From E Q^{−q} = d^{−q}[1/Γ(1+q) + q J(q)/Γ(1+q)] (split ∫ x^{q−1}Ψ at x = 1, the singular
    part integrated exactly) and −log Γ(1+q) = γq − π²q²/12 + …:
    E log Q = log d − γ − J₀ and Var log Q = 2J₁ − J₀² − π²/6 (a Frullani-type formula).
    """
    dd = mp.mpf(d)

    def big_psi(x):
        return mp.exp(dd * mp.log1p(act.psi_minus_one(x / dd)))

    def psi_m1(x):
        return mp.expm1(dd * mp.log1p(act.psi_minus_one(x / dd)))

    m1 = (1 + act.ec2) / 2
    hi_pts = [1, 10 / m1 if 10 / m1 > 1 else 10, 100 / m1 + 100, 10**4 / m1 + 10**4, mp.inf]
    lo_pts = [0, mp.mpf(1) / (100 * m1) if 1 / (100 * m1) < 1 else mp.mpf("0.01"), 1]
    j0 = mp.quad(lambda x: psi_m1(x) / x, lo_pts) + mp.quad(lambda x: big_psi(x) / x, hi_pts)
    j1 = mp.quad(lambda x: mp.log(x) * psi_m1(x) / x, lo_pts) + \
        mp.quad(lambda x: mp.log(x) * big_psi(x) / x, hi_pts)
    return j0, j1


@dataclass(frozen=True)
class LogNormParams:
    """Per-layer μ_s, ς² of log‖h‖ and, at depth k, the Gaussian parameters kμ_s, kς²."""

    mu: float
    var: float
    survival: float
    depth: int | None = None

    @property
    def mean_at_depth(self):
        return None if self.depth is None else self.depth * self.mu

    @property
    def var_at_depth(self):
        return None if self.depth is None else self.depth * self.var


@constrain(width=COUNT, s=S_ORDER, depth=OrNone(COUNT))
def log_norm_params(act: Activation, width, s, depth=None) -> LogNormParams:
    r"""μ_s = log σ_s + ½ E log Q, ς² = ¼ Var log Q (ReLU: conditional on survival, with the
    per-layer survival 1 − 2^{−d} beside them); at depth k the CLT parameters kμ_s, kς²."""
    m, v, surv = log_q_moments(act, width)
    sig = 0.5 * log_sigma2(act, width, s)
    mu = sig + 0.5 * m
    if depth is not None and (depth > 10**300 or abs(mu) * depth >= 1e300):
        # (depth is compared as an integer first: a float of it would overflow)
        most = 1e300 / abs(mu) if abs(mu) > 1.0 else 1e300
        d_txt = f"{depth:.6g}" if depth <= 10**300 else f"~10^{len(str(depth)) - 1}"
        raise DomainError(f"{{depth}} × μ_s = {d_txt} × {mu:.6g} is beyond the double range (s = {s:g}, "
                          f"width {width}); depth must be ≤ {most:.3g} here", param="depth")
    return LogNormParams(mu, 0.25 * v, surv, depth)


def derive_moment():
    """Derivation behind ``initbounds moment``: the s-th moment condition, the general integral,
    the closed forms, the large-width series and the s → 2 limit (He/LeCun), by sympy."""
    import sympy as sy

    from .derivation import Derivation, Step

    d, s, sig, t, c = sy.symbols("d s sigma t c", positive=True)
    p = s / 2
    expr, sym = sigma2_series()
    lin = sy.Rational(1, 2) * (sy.gamma(d / 2) / sy.gamma((d + s) / 2)) ** (2 / s)
    he_relu = sy.limit(expr.subs({sym["m1"]: sy.Rational(1, 2), sym["v"]: sy.Rational(5, 4)}), sym["s"], 2)
    steps = (
        Step("‖h_l‖² = σ²‖h_{l−1}‖² Q with Q independent of h_{l−1}; preserving E‖h‖^s means "
             "σ^s E Q^{s/2} = 1.", sy.Eq(sig, sy.Function("E")(sy.Symbol("Q") ** p) ** (-1 / s)), citation="GH21",
             assumptions=("Gaussian weights N(0, σ²)", "zero bias", "d outputs")),
        Step("Every random-slope activation: the Laplace-type integral (0 < s < 2).",
             sy.Eq(sy.Function("E")(sy.Symbol("Q") ** sy.Symbol("p")), p / sy.gamma(1 - p) * sy.Integral(
                 t ** (-p - 1) * (1 - sy.Function("psi")(t) ** d), (t, 0, sy.oo))), citation="GH21"),
        Step("Linear: E Q^p = 2^p Γ(d/2 + p)/Γ(d/2), so for a linear layer", sy.Eq(sy.Symbol("sigma_s") ** 2, lin),
             citation="GH21"),
        Step("Large width, from the per-unit mean m₁ = E ξ and variance v = Var ξ (sympy expands "
             "E Q^p and raises it to −2/s):", sy.Eq(sy.Symbol("sigma_s^2"), expr), citation="GH21"),
        Step("ReLU (m₁ = 1/2, v = 5/4) at s → 2: sympy's limit is He's 2/d.",
             sy.Eq(sy.Limit(sy.Symbol("sigma_s") ** 2, s, 2, dir="+-"), he_relu), citation="GH21"),
        Step("Linear at s = 2: LeCun's 1/d.", sy.Eq(sy.Symbol("sigma_2") ** 2,
             sy.simplify(lin.subs(s, 2))), citation="GH21"),
        Step("Heavy tails: with i.i.d. biases, x_l = σ_s φ(W x_{l−1}) + b_l satisfies Kesten's condition "
             "E‖σ_s φ(W u)‖^s = 1 for every unit u (that is the definition of σ_s), so the stationary "
             "norm X = ‖x_∞‖ has a power-law tail with index s.",
             sy.Eq(sy.Function("P")(sy.Symbol("X") > sy.Symbol("t")), sy.Symbol("C") * sy.Symbol("t") ** (-s)), citation="GH21",
             assumptions=("i.i.d. biases", "E log‖σ_s φ(Wu)‖ = μ_s < 0")),
        Step("Log-norm per layer (a sum of i.i.d. terms over layers: CLT in depth).",
             sy.Tuple(sy.Eq(sy.Symbol("mu_s"), sy.log(sig) + sy.Symbol("E[log Q]") / 2),
                      sy.Eq(sy.Symbol("varsigma^2"), sy.Symbol("Var[log Q]") / 4)), citation="GH21"),
    )
    return Derivation("Fractional-moment-preserving initialization (GH21)", steps)


@dataclass(frozen=True)
class SmallOutput:
    """P(‖h_k‖ ≤ t‖x‖) under σ_s and under He/LeCun (s = 2): exact (ReLU) and CLT."""

    threshold: float
    depth: int
    p_exact: float | None          # σ_s, exact (ReLU only; None otherwise)
    p_exact_he: float | None
    tolerance: float | None
    p_clt: float                   # σ_s, Gaussian limit of log‖h_k‖ (with ReLU survival)
    p_clt_he: float


@constrain(width=COUNT, s=S_ORDER, depth=COUNT, threshold=OPEN_UNIT)
def p_small_output(act: Activation, width, s, depth, threshold=0.01) -> SmallOutput:
    r"""P(‖h_k‖ ≤ t·‖x‖) for k layers of width d initialized with σ_s, and with s = 2 (He/LeCun).

    ReLU, exact: ‖h_k‖²/‖x‖² = (σ² d/2)^k Π_j ρ_j, so the probability is P(Π ρ_j ≤ r) with
    r = t²/(σ² d/2)^k — the product law of :mod:`bounds.band` (atoms of dead layers included),
    with log r in log space: the band recursion (relative accuracy) where its own cost model,
    checked before the work, allows it; else, more than 12 sd below the bulk, P(dead) plus a
    rigorous Chernoff bound (:func:`_log_chernoff_lower`, half of it as the tolerance; P(dead)
    alone where that bound is below the smallest double), and in the bulk the exact law by
    convolution (absolute tolerance), up to :data:`_EXACT_DEPTH_MAX` layers; beyond, the CLT
    (``p_exact`` None). Linear, exact: ‖h_k‖²/‖x‖² = σ^{2k} Π χ²_d, by :func:`log_chi2_sum_cdf`.
    CLT (every activation): log‖h_k‖/‖x‖ ≈ N(kμ_s, kς²) given survival, plus the death
    probability for ReLU. Stochastic dominance: σ_s decreases in s, so P_s ≤ P_{s′} for s < s′.
    """
    from .band import band_probability, product_law

    d, k, t = width, depth, threshold
    # ReLU layers kill an input with probability 2^{-d} each: P(dead at depth k), exact (bounds.death)
    log_dead = float(logp_dead_uniform(d, k))
    p_dead = math.exp(log_dead)

    def clt(ss):
        ln = log_norm_params(act, d, ss, k)
        dead = p_dead if act.kind == "relu" else 0.0
        z = (math.log(t) - ln.mean_at_depth) / math.sqrt(ln.var_at_depth)
        return dead + (1.0 - dead) * 0.5 * math.erfc(-z / math.sqrt(2.0))   # Φ(z), no scipy.stats import

    def exact(ss):
        if act.kind not in ("relu", "linear"):
            return None, None
        if act.kind == "relu" and d > rho.WIDTH_EXACT_MAX:
            # beyond 2^53 units the binomial sums of bounds.rho are not exact: the CLT answers, labelled
            # so (issue 11: width 10^30 at depth 3 raised TypeError in scipy, then named `width`)
            return None, None
        lv = log_sigma2(act, d, ss)
        if act.kind == "linear":
            return log_chi2_sum_cdf(d, k, 2 * math.log(t) - k * lv)
        # log r = log(t²/(σ² d/2)^k), in log space throughout (r underflows at depth: issue 11)
        log_r = 2 * math.log(t) - k * (lv + math.log(d / 2))
        if log_r >= 0:
            return None, None
        lm = rho.log_moments(d)
        mean, sd = k * lm.mean, math.sqrt(k * lm.var)
        # a rigorous Chernoff bound on P(alive, Π ≤ r): it decides the far tail, and caps the tolerance
        log_rest = _log_chernoff_lower(d, k, log_r)
        rest = math.exp(min(log_rest, 0.0))
        if log_rest < -745.0:
            # the alive part is below the smallest double: the dead inputs are the value
            return p_dead + rest / 2, rest / 2
        log_hi = mean + 12 * sd
        if log_r > -700.0 and log_hi > 0:
            # the band recursion (relative accuracy) where its own cost model, checked before any
            # work, allows it
            try:
                res = band_probability(d, k, math.exp(log_r), math.exp(log_hi), layers="last", rtol=1e-4)
            except CostLimitError:
                res = None
            if res is not None:
                # P(Π < r) = P(Π ∉ [r, hi]) − P(Π > hi); P(Π > hi) ≤ min_p hi^{-p} (E ρ^p)^k
                # (Chernoff), folded into the tolerance
                upper_tail = math.exp(min(min(k * rho.log_moment(d, p) - p * log_hi
                                              for p in np.geomspace(0.5, 1e4, 60)), 0.0))
                return max(0.0, res.p_fail - upper_tail), res.tolerance + upper_tail
        if (mean - log_r) / sd > 12:
            # far below the bulk, beyond the band recursion: the dead inputs, plus at most the
            # Chernoff bound on the rest
            return p_dead + rest / 2, rest / 2
        # the band recursion would be slow here (issue 11: 80 s at d = 2000, k = 200): the exact law
        # of log Π ρ_j by convolution, absolute tolerance (its atom is the dead inputs); its set-up is
        # O(k) (about 5 s at k = 10^6), so beyond _EXACT_DEPTH_MAX layers the CLT answers (labelled so)
        if k > _EXACT_DEPTH_MAX:
            return None, None
        # (the arguments are checked here already; the constraint check costs O(k) per call, 10 s at 10^6)
        law = product_law.__wrapped__((d,) * k)
        return float(law.log_cdf_at(log_r)), min(law.tolerance, math.exp(min(log_rest, 0.0)))

    pe, tol = exact(s)
    ph, tol_h = exact(2.0)
    tols = [x for x in (tol, tol_h) if x is not None]
    return SmallOutput(t, k, pe, ph, max(tols) if tols else None, clt(s), clt(2.0))


#: The most layers for which :func:`p_small_output` builds the exact law by convolution.
_EXACT_DEPTH_MAX = 20_000
def _log_chernoff_lower(d: int, k: int, log_r: float) -> float:
    r"""log of a rigorous bound on P(all k layers alive, Π_{j≤k} ρ_j ≤ r), from log r (r may be below
    the double range).

    For any threshold k₀ ≥ 1 and 0 < q < k₀/2 (Markov on Π ρ_j^{−q}):
    P(alive, Π ≤ r) ≤ k·P(1 ≤ K < k₀) + r^q (E[ρ^{−q} 1{K ≥ k₀}])^k, minimized over a grid of q
    (any q gives a bound) and k₀ ∈ {1, ⌊d/4⌋, ⌊3d/8⌋}. [derived; as the product bound of bounds.width]
    """
    from .width import _log_binom_lower_tail   # exact below 4097 terms, a valid upper bound above

    best = math.inf
    for k0 in sorted({1, max(1, d // 4), max(1, (3 * d) // 8)}):
        qs = np.geomspace(0.5 * k0 * 1e-6, 0.5 * k0 * (1.0 - 1e-9), 40)
        g = np.array([rho.log_moment(d, -q, k_min=k0) for q in qs])
        chern = float(np.min(qs * log_r + k * g))
        if k0 > 1:   # P(1 ≤ K_j < k₀ for some j) ≤ k·P(K < k₀) (the dead atom K = 0 included: looser)
            chern = float(np.logaddexp(chern, math.log(k) + _log_binom_lower_tail(d, k0 - 1)))
        best = min(best, chern)
    return best


@constrain(d=COUNT, k=COUNT, c=REAL)
def log_chi2_sum_cdf(d, k, c) -> tuple:
    r"""P(Σ_{j≤k} log χ²_d,j ≤ c) for independent χ²_d (the linear net's exact log-norm law).

    Gil-Pelaez inversion of the exact characteristic function φ(t)^k,
    φ(t) = E e^{it log χ²_d} = 2^{it} Γ(d/2 + it)/Γ(d/2):
    F(c) = ½ − (1/π) ∫₀^∞ Im[e^{−itc} φ(t)^k]/t dt, by the trapezoidal rule on a step small
    against the scale of the law (|φ|^k decays like a Gaussian of variance kψ₁(d/2)). Returns
    (F(c), tolerance), the tolerance being the change when the step is halved.
    """
    from scipy.special import loggamma

    a = d / 2.0
    var = k * float(mp.psi(1, a))
    mean = k * (float(mp.digamma(a)) + math.log(2.0))
    sd = math.sqrt(var)

    def trap(h):
        t = h * (np.arange(1, int(40 / (h * sd)) + 2))
        lphi = k * (1j * t * math.log(2.0) + loggamma(a + 1j * t) - loggamma(a))
        g = np.imag(np.exp(lphi - 1j * t * c)) / t
        # the integrand tends to −(c − mean) at t → 0: the t = 0 node of the trapezoid
        return 0.5 - (h / math.pi) * (0.5 * (mean - c) + g.sum())

    f1 = trap(0.5 / sd)
    f2 = trap(0.25 / sd)
    return float(min(1.0, max(0.0, f2))), abs(f2 - f1) + 1e-15


@constrain(s=S_ORDER, width=COUNT, depth=OrNone(COUNT), in_width=OrNone(COUNT), small=OPEN_UNIT, fan=FANS,
           activation=ACTIVATIONS, slope=OrNone(_SLOPE), lower=OrNone(_SLOPE), upper=OrNone(_SLOPE))
def moment_report(activation: str = "relu", *, s, width, slope=None, lower=None, upper=None, depth=None,
                  fan: str = "out", small: float = 0.01, in_width=None) -> Report:
    r"""The weight scale σ_s that preserves E‖h‖^s and the log-norm law it implies, as
    ``initbounds moment`` prints it.

    Args: ``activation`` (with ``slope`` for leaky, ``lower``/``upper`` for rrelu, see
    :func:`activation`); ``s`` in (0, 2]; ``width`` d ≥ 1, the layer's outputs; ``depth`` k ≥ 1
    for the law at depth and P(‖h_k‖ ≤ t‖x‖) with t = ``small`` in (0, 1); ``fan``: "out"
    reports σ_s² itself (preserves E‖h‖^s), "in" the per-unit form σ_s²·d/d_in (preserves
    E M^{s/2}, M = ‖h‖²/n) with d_in = ``in_width`` (default d).
    ``as_dict()``: σ_s, σ_s², the per-unit form, the large-width series, the authors' value,
    He/LeCun, μ_s, ς², survival, and at depth the CLT parameters and the small-output
    probabilities (:func:`p_small_output`). Values beyond the double range are None beside their
    logs (``log_sigma``, ``log_sigma2``, ...); ``sigma2_authors`` is None where the authors' code has
    no formula (leaky, RReLU); ``p_small_output_tolerance`` is None when the CLT answers (method
    "CLT": no error bound). Source: GH21 (arXiv 2005.11878) claims, [derived] docs/theory.md §4.

    >>> round(moment_report("relu", s=1, width=64).as_dict()["sigma2"], 10)
    0.031872257
    """
    names = ("slope", "lower", "upper", "activation")
    if activation != "leaky" and slope is not None:
        raise DomainError("{slope} goes with {activation} leaky", param="slope", names=names)
    if activation != "rrelu" and (lower is not None or upper is not None):
        raise DomainError("{lower}/{upper} go with {activation} rrelu", param="lower", names=names)
    a = _activation(activation, slope=slope, lower=lower, upper=upper)
    # σ_s² in log space: it leaves the double range at small s (issue 11); the values are null there
    lv_norm = log_sigma2(a, width, s)
    d_in = in_width if in_width is not None else width
    lv_unit = lv_norm + math.log(width / d_in)
    lv = lv_norm if fan == "out" else lv_unit
    v, v_norm, v_unit = _exp_or_none(lv), _exp_or_none(lv_norm), _exp_or_none(lv_unit)
    he = sigma2_he(a, width) * (1 if fan == "out" else width / d_in)      # He/LeCun in the same fan as σ_s²
    ln = log_norm_params(a, width, s, depth)
    out = {
        "inputs": {"activation": activation, "s": s, "width": width,
                   "slope": a.slope if activation == "leaky" else slope,
                   "lower": a.lower if activation == "rrelu" else lower,
                   "upper": a.upper if activation == "rrelu" else upper,
                   "depth": depth, "in_width": in_width, "fan": fan},
        "sigma": _exp_or_none(lv / 2), "log_sigma": lv / 2, "sigma2": v, "log_sigma2": lv,
        "sigma2_norm_preserving": v_norm, "log_sigma2_norm_preserving": lv_norm,
        "sigma2_per_unit": v_unit, "log_sigma2_per_unit": lv_unit, "sigma2_large_width": sigma2_large_width(a, width, s),
        "sigma2_authors": authors_sigma2(a, width, s), "he_sigma2": he,
        "mu": ln.mu, "var": ln.var, "survival": ln.survival,
    }
    if depth is not None:
        out["log_norm_mean"] = ln.mean_at_depth
        out["log_norm_var"] = ln.var_at_depth
        # P(alive at depth k): 1 − P(dead), exact (bounds.death); only ReLU layers kill inputs
        out["survival_at_depth"] = float(-mp.expm1(logp_dead_uniform(width, depth))) if activation == "relu" else 1.0
        so = p_small_output(a, width, s, depth, small)
        out["small"] = small
        out["p_small_output"] = so.p_exact if so.p_exact is not None else so.p_clt
        out["p_small_output_method"] = "exact" if so.p_exact is not None else "CLT"
        out["p_small_output_he"] = so.p_exact_he if so.p_exact_he is not None else so.p_clt_he
        out["p_small_output_clt"] = so.p_clt
        out["p_small_output_he_clt"] = so.p_clt_he
        out["p_small_output_tolerance"] = so.tolerance
    rows = [(f"σ_s² (weight variance, exact, fan {fan})", _fmt_log(v, lv), "derived (GH21 claim)"),
            ("σ_s", _fmt_log(out["sigma"], lv / 2), "derived")]
    if in_width is not None:
        rows.append((f"per-unit form σ_s²·d/d_in (d_in = {in_width:,}; preserves E M^(s/2), M = ‖h‖²/n)",
                     _fmt_log(v_unit, lv_unit), "derived"))
    rows.append(("large-width series 1/(d m₁) + (2−s)v/(4d²m₁³)", f"{out['sigma2_large_width']:.10g}",
                 "derived (sympy)"))
    if out["sigma2_authors"] is not None:
        rows.append(("authors' approximation", f"{out['sigma2_authors']:.10g}", "authors' code (GH21)"))
    rows.append((f"He / LeCun (s = 2, fan {fan})", f"{out['he_sigma2']:.10g}", "derived"))
    cond = " (given survival)" if activation == "relu" else ""
    rows += [(f"per-layer log-norm mean μ_s{cond}", f"{ln.mu:.6g}", "derived"),
             (f"per-layer log-norm variance ς²{cond}", f"{ln.var:.6g}", "derived"),
             ("per-layer survival", f"{ln.survival:.6g}", "derived")]
    if depth is not None:
        meth = out["p_small_output_method"]
        rows += [(f"log(‖h_k‖/‖x‖) at depth {depth}: mean kμ_s", f"{ln.mean_at_depth:.6g}", "derived (CLT in depth)"),
                 ("… variance kς²", f"{ln.var_at_depth:.6g}", "derived"),
                 (f"P(‖h_k‖ ≤ {small:g}‖x‖) with σ_s ({meth})", f"{out['p_small_output']:.6g}", "derived"),
                 (f"P(‖h_k‖ ≤ {small:g}‖x‖) with He/LeCun ({meth})", f"{out['p_small_output_he']:.6g}",
                  "derived (σ_s > σ_2: s < 2 avoids small outputs)")]
    return Report(title=f"Fractional-moment-preserving init: {a.label()}, s = {s:g}, d = {width:,}",
                  rows=tuple(rows), data=out,
                  assumptions=("Gaussian weights N(0, σ²)", "zero bias", f"fan {fan}"))


def _exp_or_none(log_value: float):
    """e^x as a float, or None where it is beyond the double range (the log is reported beside it)."""
    return math.exp(log_value) if -745.0 < log_value < 709.78 else None


def _fmt_log(value, log_value: float) -> str:
    """A value with 10 digits, or e^{log} where it is beyond the double range."""
    return f"{value:.10g}" if value is not None else f"e^{log_value:.10g}"
