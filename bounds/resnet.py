r"""Residual networks at initialization: block moments and the FM1 condition (HR18; docs/theory.md §7).

Block x ← x + η_b W₂ ReLU(W₁ x), W₁ ∈ R^{m×n} of variance 2/n, W₂ ∈ R^{n×m} of variance 1/m:
E F = 1 + η², E F² = (1 + η²)² + 4η²/n + η⁴[(1 + 5/m)(1 + 2/n) − 1] with F = ‖x′‖²/‖x‖², and the
blocks are independent, so the moments of ‖x_B‖² are products over blocks.

[derived; the claims are HR18's (arXiv 1803.01719)]
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import mpmath as mp
import numpy as np

from .errors import COUNT, NONNEGATIVE, CostLimitError, DomainError, Integral, Interval, Options, OrNone, Real, constrain
from .report import Report, fmt_v
from .variance import _f

__all__ = ["ResidualMoments", "residual_moments", "residual_block_exprs", "residual_growth",
           "derive_resnet", "resnet_report", "check_curve_blocks", "SCHEDULES", "MAX_BLOCKS",
           "MAX_CURVE_BLOCKS", "ResidualBiasMoments", "residual_bias_moments", "residual_bias_block_exprs",
           "MAX_BIAS_BLOCKS"]

#: How the branch scale changes with the block b: η (const), η/b (inv) or η/√b (invsqrt).
SCHEDULES = Options(("const", "inv", "invsqrt"))
#: The most blocks :func:`residual_moments` and ``initbounds resnet`` answer for: the totals are
#: direct sums over the first 10^5 blocks and Euler–Maclaurin sums beyond (O(1) work in B), with
#: block counts exact as doubles (below 2^53).
MAX_BLOCKS = 10**15
#: The most blocks :func:`residual_growth` holds per-block curves for (memory; ``resnet --plot``).
MAX_CURVE_BLOCKS = 10**8
_BLOCKS = Interval(Integral, 1, MAX_BLOCKS)
#: The parameters of every residual-network function: B ≥ 1 blocks, widths n, m ≥ 1, η ≥ 0.
_RESNET = {"blocks": _BLOCKS, "width": COUNT, "branch_width": COUNT, "eta": NONNEGATIVE, "schedule": SCHEDULES}
#: Blocks summed one by one before the Euler–Maclaurin tail.
_DIRECT_BLOCKS = 10**5


@dataclass(frozen=True)
class ResidualMoments:
    blocks: int
    mean_ratio: float            # E‖x_B‖²/‖x_0‖² = Π (1 + η_b²)
    second_moment_ratio: float   # Π E F_b²
    normalized_second: float     # Π E F_b² / (Π E F_b)²
    fm1: bool                    # True when Σ η_b² stays bounded as B grows (schedule-level test)
    schedule: str
    log_mean_ratio: float = 0.0      # logs beside values that overflow doubles (None there)
    log_second_moment_ratio: float = 0.0
    log_normalized_second: float = 0.0

    def as_dict(self) -> dict:
        return dict(self.__dict__)


@constrain(**_RESNET)
def residual_moments(blocks, width, branch_width, eta, *, schedule: str = "const") -> ResidualMoments:
    r"""Moments of ‖x_B‖² for B residual blocks x ← x + η_b W₂ ReLU(W₁ x) (docs/theory.md §7).

    W₁ ∈ R^{m×n} variance 2/n, W₂ ∈ R^{n×m} variance 1/m; F_b = ‖x_b‖²/‖x_{b−1}‖² independent:
    E F = 1 + η², E F² = (1 + η²)² + 4η²/n + η⁴[(1 + 5/m)(1 + 2/n) − 1].
    ``schedule``: "const" (η_b = η), "inv" (η/b) or "invsqrt" (η/√b). FM1 is avoided iff
    Σ η_b² < ∞ (η scales the branch; if η scaled the branch variance the condition would be
    Σ η_b < ∞): true for "inv", false for "const" and "invsqrt".
    """
    lm, l2, ln = _log_totals(int(blocks), eta, schedule, width, branch_width)
    return ResidualMoments(int(blocks), _f(mp.exp(lm)), _f(mp.exp(l2)), _f(mp.exp(ln)),
                           schedule == "inv" or eta == 0, schedule, lm, l2, ln)


def residual_block_exprs():
    r"""(E F, E F²) of one residual block as sympy expressions in η, n, m (docs/theory.md §7, [derived]):
    E F = 1 + η², E F² = (1 + η²)² + 4η²/n + η⁴[(1 + 5/m)(1 + 2/n) − 1]."""
    import sympy as sy

    eta, n, m = sy.symbols("eta n m", positive=True)
    return 1 + eta**2, (1 + eta**2) ** 2 + 4 * eta**2 / n + eta**4 * ((1 + 5 / m) * (1 + 2 / n) - 1)


def check_curve_blocks(blocks: int) -> None:
    """The cost model of the curves (:func:`residual_growth`, ``resnet --plot``): per-block values are held
    in memory, up to :data:`MAX_CURVE_BLOCKS`; raises :class:`CostLimitError` naming ``blocks`` beyond."""
    if blocks > MAX_CURVE_BLOCKS:
        raise CostLimitError("{blocks} must be ≤ 10^8 for per-block curves (they are held in memory; "
                             f"about {48 * blocks / 2**30:.3g} GiB here); got {blocks}", param="blocks")


def _eta_at(b: np.ndarray, eta: float, schedule: str) -> np.ndarray:
    """η_b at the blocks b (floats): η, η/b or η/√b."""
    return eta * {"const": np.ones_like(b), "inv": 1.0 / b, "invsqrt": 1.0 / np.sqrt(b)}[schedule]


def _log_totals(B: int, eta: float, schedule: str, width: int, branch_width: int) -> tuple:
    r"""(Σ_b log E F_b, Σ_b log E F_b², Σ_b log E F_b²/(E F_b)²) over b = 1..B, in O(1) work in B.

    const: B times one block. inv, invsqrt: exactly rounded sums (fsum) over b ≤ 10^5, then the
    Euler–Maclaurin formula for the smooth f(b) of :func:`block_logs` at η_b = η/b or η/√b,

    .. math:: \sum_{b=a}^{B} f(b) = \int_a^B f\,db + \frac{f(a) + f(B)}{2} + \frac{f'(B) - f'(a)}{12} + R,

    where |f^{(k)}(b)| is of order k!|f|/b^k, so R (the f‴ term, /720) is about 10^{-18}|f| at
    a = 10^5. The integral is Gauss–Legendre (20 nodes) on panels of width 1/4 in log b; f′ is a
    central difference (step 10^{-4}b). Issue 11: the per-block arrays took > 60 s at 10^8 blocks.
    [derived]
    """
    if schedule == "const" or eta == 0:
        return tuple(B * float(v[0]) for v in block_logs([eta], width, branch_width))
    a = min(B, _DIRECT_BLOCKS)
    head = [math.fsum(v) for v in block_logs(_eta_at(np.arange(1, a + 1, dtype=float), eta, schedule),
                                             width, branch_width)]
    if B == a:
        return tuple(head)

    def f(b):
        return np.array(block_logs(_eta_at(np.asarray(b, dtype=float), eta, schedule), width, branch_width))

    lo, hi = a + 1.0, float(B)
    panels = max(1, int(math.ceil(4 * (math.log(hi) - math.log(lo)))))
    x, w = np.polynomial.legendre.leggauss(20)
    edges = np.linspace(math.log(lo), math.log(hi), panels + 1)
    mid, half = (edges[1:] + edges[:-1]) / 2, (edges[1:] - edges[:-1]) / 2
    u = (mid[:, None] + half[:, None] * x[None, :]).ravel()
    wt = (half[:, None] * w[None, :]).ravel() * np.exp(u)            # db = e^u du
    integral = f(np.exp(u)) @ wt

    def deriv(b):
        h = 1e-4 * b
        return (f([b + h]) - f([b - h]))[:, 0] / (2 * h)

    ends = (f([lo]) + f([hi]))[:, 0] / 2
    tail = integral + ends + (deriv(hi) - deriv(lo)) / 12
    return tuple(hh + float(tt) for hh, tt in zip(head, tail))


@lru_cache(maxsize=None)
def _block_mp():
    """:func:`residual_block_exprs` lambdified to mpmath (exact inputs, no overflow: one block)."""
    import sympy as sy

    eta, n, m = sy.symbols("eta n m", positive=True)
    return sy.lambdify((eta, n, m), residual_block_exprs(), modules="mpmath")


def block_logs(etas, width: int, branch_width: int) -> tuple:
    r"""(log E F, log E F², log E F²/(E F)²) per block, free of overflow and cancellation for every
    η ≥ 0 (η² may exceed the double range): with u = η² and w = u/(1 + u),

    .. math:: \log E F = \log(1 + u),\qquad
              \log E F^2 = 2\log(1 + u) + \log\Bigl(1 + \tfrac{4}{n}w(1 - w) + K w^2\Bigr),
              \quad K = (1 + 5/m)(1 + 2/n) − 1,

    which is :func:`residual_block_exprs`'s E F² divided by (1 + u)² (a test checks the two equal
    at 50 digits); log(1 + u) = 2 log η + log1p(η^{−2}) for η > 1.
    """
    e = np.asarray(etas, dtype=float)
    big = e > 1.0
    inv = np.where(big, 1.0 / np.where(big, e, 1.0), 0.0)          # 1/η where η > 1
    small = np.where(big, 0.0, e)
    log1p_u = np.where(big, 2.0 * np.log(np.where(big, e, 1.0)) + np.log1p(inv * inv), np.log1p(small * small))
    w = np.where(big, 1.0 / (1.0 + inv * inv), small * small / (1.0 + small * small))
    k = (1.0 + 5.0 / branch_width) * (1.0 + 2.0 / width) - 1.0
    log_norm = np.log1p(4.0 / width * w * (1.0 - w) + k * w * w)
    return log1p_u, 2.0 * log1p_u + log_norm, log_norm


def _exp_or_inf(x: np.ndarray) -> np.ndarray:
    """exp(x), inf where it exceeds the double range (no RuntimeWarning on the terminal)."""
    with np.errstate(over="ignore"):
        return np.exp(x)


def _etas(blocks: int, eta: float, schedule: str) -> np.ndarray:
    b = np.arange(1, blocks + 1, dtype=float)
    return eta * {"const": np.ones_like(b), "inv": 1.0 / b, "invsqrt": 1.0 / np.sqrt(b)}[schedule]


@constrain(**_RESNET)
def residual_growth(blocks, width, branch_width, eta, *, schedule: str = "const") -> dict:
    r"""Per-block curves of log E‖x_b‖²/‖x_0‖² and log E‖x_b‖⁴/‖x_0‖⁴, b = 1..B (docs/theory.md §7).

    The F_b are independent, so the curves are cumulative sums of log E F_b and log E F_b²
    (the expressions of :func:`residual_block_exprs`, evaluated in log space by :func:`block_logs`).
    Returns {"blocks", "eta", "log_mean", "log_second", "log_normalized_second",
    "normalized_second"} (the last is inf where it overflows a double; its log is exact). Raises
    :class:`CostLimitError` beyond
    :data:`MAX_BLOCKS` blocks (the curves are held in memory).
    """
    B, n, m, e = blocks, width, branch_width, eta
    check_curve_blocks(B)
    etas = _etas(B, e, schedule)
    lf, lf2, lnorm = block_logs(etas, n, m)
    lm, l2, ln = np.cumsum(lf), np.cumsum(lf2), np.cumsum(lnorm)
    return {"blocks": np.arange(1, B + 1), "eta": etas, "log_mean": lm, "log_second": l2,
            "log_normalized_second": ln, "normalized_second": _exp_or_inf(ln)}


def derive_resnet():
    """Derivation behind `initbounds resnet`: per-block moments, their products and the FM1
    condition under the two conventions (sympy sums the schedules)."""
    import sympy as sy

    from .derivation import Derivation, Step

    eta, n, m = sy.symbols("eta n m", positive=True)
    b = sy.Symbol("b", positive=True, integer=True)
    ef, ef2 = residual_block_exprs()
    sums = {name: sy.summation(e**2, (b, 1, sy.oo)) for name, e in
            (("const", eta), ("inv", eta / b), ("invsqrt", eta / sy.sqrt(b)))}
    steps = (
        Step("Block x ← x + η W₂ relu(W₁x), W₁ ∈ R^{m×n} of variance 2/n, W₂ ∈ R^{n×m} of variance "
             "1/m, u = relu(W₁x): the cross term 2η⟨x, W₂u⟩ has mean 0, E‖u‖² = (m/n)‖x‖² and "
             "E‖W₂u‖² = (n/m)E‖u‖² = ‖x‖², so",
             sy.Eq(sy.Symbol("E F"), ef), citation="HR18",
             assumptions=("Gaussian weights", "zero bias", "F = ‖x′‖²/‖x‖²")),
        Step("Second moment of one block (independent of x by rotation invariance):",
             sy.Eq(sy.Symbol("E F²"), ef2), citation="HR18"),
        Step("Blocks are independent, so E‖x_B‖²/‖x_0‖² = Π_b (1 + η_b²) — finite as B → ∞ iff "
             "Σ η_b² < ∞ (FM1 avoided). sympy's sums for constant, 1/b and 1/√b schedules:",
             sy.Tuple(*[sy.Eq(sy.Symbol(f"Σ η_b² ({k})"), v) for k, v in sums.items()]), citation="HR18"),
        Step("Convention: if η scales the branch variance (x ← x + √η_b·branch) the condition reads "
             "Σ η_b < ∞. Once FM1 is avoided the normalized second moment Π E F_b²/(E F_b)² stays "
             "bounded (no FM2): each factor is 1 + O(η_b²)",
             sy.Eq(sy.Symbol("E F²/(E F)² − 1"), sy.series(ef2 / ef**2 - 1, eta, 0, 3).removeO()),
             citation="HR18"),
    )
    return Derivation("Residual networks: block moments and the FM1 condition (HR18)", steps)


def _log_f(x) -> float:
    """log x of a positive mpf as a float (finite wherever x is: a block's moments are ≥ 1)."""
    return float(mp.log(x))


@constrain(**_RESNET)
def resnet_report(blocks, width, branch_width, eta, *, schedule: str = "const") -> Report:
    """Everything ``initbounds resnet`` prints: one block's moments, their products over B blocks,
    the normalized second moment and the FM1 verdict for the schedule.

    ``as_dict()`` is the JSON of ``initbounds resnet --json``; ``lines`` are the FM1 statement
    (``as_dict()["fm1"]`` says whether FM1 is avoided) and the convention. Source: [derived]
    docs/theory.md §7; the FM1 condition is HR18's (arXiv 1803.01719).

    >>> resnet_report(10, 8, 8, 0.5, schedule="inv")["fm1"]
    True
    """
    r = residual_moments(blocks, width, branch_width, eta, schedule=schedule)
    e = eta
    with mp.workdps(30):                                    # the first block (η_1 = η in every schedule)
        ef, ef2 = _block_mp()(mp.mpf(e), width, branch_width)
    out = {
        "inputs": {"blocks": r.blocks, "width": int(width), "branch_width": int(branch_width), "eta": e,
                   "schedule": schedule},
        "block_mean": _f(ef), "block_second_moment": _f(ef2),
        # beside them, their logs (issue 11: at η = 1e308 both are beyond the double range, null)
        "log_block_mean": _log_f(ef), "log_block_second_moment": _log_f(ef2),
        "mean_ratio": r.mean_ratio, "second_moment_ratio": r.second_moment_ratio,
        "normalized_second": r.normalized_second,
        "log_mean_ratio": r.log_mean_ratio, "log_second_moment_ratio": r.log_second_moment_ratio,
        "log_normalized_second": r.log_normalized_second,
        "fm1": r.fm1,
        "fm1_statement": ("FM1 avoided: Σ η_b² < ∞ (η_b = η/b), E‖x_B‖² stays bounded as B grows"
                          if r.fm1 else
                          ("no residual branch (η = 0)" if e == 0 else
                           f"FM1: Σ η_b² diverges for schedule {schedule!r}, E‖x_B‖² grows without bound in B")),
        "convention": "η scales the branch (x ← x + η·branch): FM1 avoided iff Σ η_b² < ∞; if η scaled the "
                      "branch variance the condition would read Σ η_b < ∞",
    }
    rows = (
        ("one block: E F = 1 + η²", f"{fmt_v(out['block_mean'])} (log {out['log_block_mean']:.6g})", "derived (HR18)"),
        ("one block: E F² (η = η_1)", f"{fmt_v(out['block_second_moment'])} (log {out['log_block_second_moment']:.6g})",
         "derived"),
        ("E‖x_B‖²/‖x_0‖² = Π(1 + η_b²)", f"{fmt_v(out['mean_ratio'])} (log {out['log_mean_ratio']:.6g})",
         "derived (HR18 claim)"),
        ("E‖x_B‖⁴/‖x_0‖⁴ = Π E F_b²",
         f"{fmt_v(out['second_moment_ratio'])} (log {out['log_second_moment_ratio']:.6g})", "derived"),
        ("normalized second moment Π E F²/(E F)²",
         f"{fmt_v(out['normalized_second'])} (log {out['log_normalized_second']:.6g})",
         "derived (HR18: bounded once FM1 is avoided)"),
    )
    return Report(title=f"Residual net: {blocks:,} blocks, n = {width}, m = {branch_width}, η = {eta:g} ({schedule})",
                  rows=rows, data=out, lines=(out["fm1_statement"], f"convention: {out['convention']}"),
                  assumptions=("Gaussian weights", "zero bias", "W₁ of variance 2/n, W₂ of variance 1/m",
                               "η scales the branch"))


# --- residual blocks with biases and any gains (the audit's block; docs/theory.md §15) -------------
#: The most blocks :func:`residual_bias_moments` answers for under the "inv" and "invsqrt" schedules
#: (one 3 × 3 update per block in mpmath, about 10 µs each); "const" is a matrix power, O(log B).
MAX_BIAS_BLOCKS = 10**5
_GAIN = Interval(Real, 0, 1e300, closed="neither")
_BIAS_VAR = Interval(Real, 0, 1e300, closed="left")
_M0 = Interval(Real, 0, 1e300, closed="neither")


@dataclass(frozen=True)
class ResidualBiasMoments:
    blocks: int
    mean: float | None              # E M_B, M = ‖x‖²/n (per coordinate)
    second: float | None            # E M_B²
    mean_ratio: float | None        # E M_B / E M_0
    second_ratio: float | None      # E M_B² / E M_0²
    normalized_second: float | None  # E M_B² / (E M_B)²
    block_matrix: tuple             # the first block's 3 × 3 matrix on (E M², E M, 1)
    log_mean: float = 0.0
    log_second: float = 0.0
    schedule: str = "const"

    def as_dict(self) -> dict:
        d = dict(self.__dict__)
        d["block_matrix"] = [list(r) for r in self.block_matrix]
        return d


def residual_bias_block_exprs():
    r"""(E[M′ | M], E[M′² | M]) of one block x′ = x + η(W₂ relu(W₁x + b₁) + b₂) as sympy expressions in
    M = ‖x‖²/n, η, n, m, c₁, c₂, s₁², s₂² (docs/theory.md §15, [derived]). W₁ ∈ R^{m×n} of variance c₁/n,
    W₂ ∈ R^{n×m} of variance c₂/m, Var b₁ = s₁², Var b₂ = s₂². With q = c₁M + s₁² (the pre-activation
    variance) and P = c₂q/2 + s₂² (the variance of one branch output coordinate):

    .. math:: E[M' \mid M] = M + \eta^2 P,\qquad
              E[M'^2 \mid M] = M^2 + 2\eta^2(1 + 2/n) M P + \eta^4 (1 + 2/n)\bigl(P^2 + \tfrac{5}{m}(c_2 q/2)^2\bigr).

    The mean holds for any zero-mean symmetric laws; the second moment for Gaussian weights and biases.
    """
    import sympy as sy

    M, eta, n, m, c1, c2, s1, s2 = sy.symbols("M eta n m c1 c2 s1sq s2sq", positive=True)
    q = c1 * M + s1
    P = c2 * q / 2 + s2
    mean = M + eta**2 * P
    second = M**2 + 2 * eta**2 * (1 + 2 / n) * M * P + eta**4 * (1 + 2 / n) * (P**2 + 5 / m * (c2 * q / 2) ** 2)
    return mean, second


def _bias_block_matrix(eta, n: int, m: int, c1, c2, s1, s2) -> "mp.matrix":
    """The block's linear map on (E M², E M, 1): :func:`residual_bias_block_exprs` collected in M."""
    e2, k, g = eta * eta, 1 + mp.mpf(2) / n, mp.mpf(5) / m
    p1, p0 = c2 * c1 / 2, c2 * s1 / 2 + s2            # P = p1 M + p0
    h1, h0 = c2 * c1 / 2, c2 * s1 / 2                  # c₂q/2 = h1 M + h0
    a2 = 1 + 2 * e2 * k * p1 + e2 * e2 * k * (p1 * p1 + g * h1 * h1)
    a1 = 2 * e2 * k * p0 + e2 * e2 * k * (2 * p1 * p0 + 2 * g * h1 * h0)
    a0 = e2 * e2 * k * (p0 * p0 + g * h0 * h0)
    return mp.matrix([[a2, a1, a0], [0, 1 + e2 * p1, e2 * p0], [0, 0, 1]])


@constrain(blocks=_BLOCKS, width=COUNT, branch_width=COUNT, eta=NONNEGATIVE, c1=_GAIN, c2=_GAIN,
           bias_var1=_BIAS_VAR, bias_var2=_BIAS_VAR, m0=_M0, m0_second=OrNone(_M0), schedule=SCHEDULES)
def residual_bias_moments(blocks, width, branch_width, eta, *, c1=2.0, c2=1.0, bias_var1=0.0, bias_var2=0.0,
                          m0=1.0, m0_second=None, schedule: str = "const") -> ResidualBiasMoments:
    r"""E M_B and E M_B² (M = ‖x‖²/n) after B blocks x ← x + η_b(W₂ relu(W₁x + b₁) + b₂) (docs/theory.md §15).

    W₁ ∈ R^{m×n} of variance c₁/n, W₂ ∈ R^{n×m} of variance c₂/m, biases of variances s₁² = ``bias_var1``
    and s₂² = ``bias_var2``, all independent and zero-mean; η_b by ``schedule`` as in
    :func:`residual_moments`. ``m0`` = E M_0 and ``m0_second`` = E M_0² of the blocks' input (default m0²:
    a fixed input). Each block maps (E M², E M, 1) linearly (:func:`residual_bias_block_exprs`), so the
    moments after B blocks are a product of 3 × 3 matrices applied to (E M_0², E M_0, 1).
    With zero biases, c₁ = 2, c₂ = 1 it is :func:`residual_moments` (the ratios), and in general with zero
    biases only η²c₁c₂/2 = η_eff² enters. [derived] The mean holds for any zero-mean symmetric laws; the
    second moment for Gaussian weights and biases.

    Raises :class:`CostLimitError` for more than :data:`MAX_BIAS_BLOCKS` blocks under "inv" or
    "invsqrt" (one update per block), before any work.

    >>> round(residual_bias_moments(1, 4, 4, 1.0, c1=2, c2=1, bias_var2=0.5).mean, 12)   # 1 + (1 + 0.5)
    2.5
    """
    B, n, m = int(blocks), int(width), int(branch_width)
    if m0_second is not None and m0_second < m0 * m0 * (1 - 1e-12):
        raise DomainError(f"{{m0_second}} must be ≥ m0² = {m0 * m0:.6g} (E M_0² ≥ (E M_0)²); got {m0_second:.6g}",
                          param="m0_second")
    if schedule != "const" and eta != 0 and B > MAX_BIAS_BLOCKS:
        raise CostLimitError(f"{{blocks}} must be ≤ 10^5 for schedule {schedule!r} with biases (one update per "
                             f"block, about {B * 1e-5:.3g} s here); got {B}", param="blocks")
    with mp.workdps(30):
        c1_, c2_, s1, s2 = (mp.mpf(v) for v in (c1, c2, bias_var1, bias_var2))
        first = _bias_block_matrix(mp.mpf(eta), n, m, c1_, c2_, s1, s2)
        mean0 = mp.mpf(m0)
        sec0 = mean0**2 if m0_second is None else mp.mpf(m0_second)
        state = mp.matrix([[sec0], [mean0], [1]])
        if schedule == "const" or eta == 0:
            state = (first**B) * state
        else:
            for b in range(1, B + 1):
                eb = mp.mpf(eta) / (b if schedule == "inv" else mp.sqrt(b))
                state = _bias_block_matrix(eb, n, m, c1_, c2_, s1, s2) * state
        sec, mean = state[0], state[1]
        return ResidualBiasMoments(B, _f(mean), _f(sec), _f(mean / mean0), _f(sec / sec0), _f(sec / mean**2),
                                   tuple(tuple(float(first[i, j]) for j in range(3)) for i in range(3)),
                                   float(mp.log(mean)), float(mp.log(sec)), schedule)
