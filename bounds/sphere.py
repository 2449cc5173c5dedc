r"""Norm preservation for every input at once: a width for the whole sphere (AB19; docs/theory.md §11).

AB19 claim that above a width that depends on the input dimension n₀, the squared norm of an
L-layer bias-free ReLU net with He Gaussian weights is preserved for *every* input at once:

.. math:: P\Big(\sup_{x\in S^{k-1}}\big|\lVert h_l(x)\rVert^2/\lVert x\rVert^2-1\big|>\varepsilon\Big)\le\delta

(every layer l ≤ L with ``layers="all"``, the last one with ``layers="last"``), where the inputs
range over the unit sphere of the whole input space (k = n₀) or of a fixed k-dimensional
subspace. The ratio is invariant under x → c·x (c > 0), so the sphere is the whole space minus 0.

The bound is ours, every step [derived] (``initbounds derive sphere``):

1. a γ-net T of the unit sphere S^{k−1}, |T| ≤ (1 + 2/γ)^k (volume argument);
2. a union bound over T of the single-input failure bound at a tighter band ε₁ < ε, taken from
   :func:`bounds.width.log_failure_bound` (per-layer Chernoff or the product/Doob bound);
3. ReLU is 1-Lipschitz, so ‖h_l(x) − h_l(y)‖ ≤ Π_{j≤l} ‖W_j‖ ‖x − y‖; the operator norms are
   bounded by the Gaussian tail P(‖W‖ ≥ σ(√m + √k + t)) ≤ e^{−t²/2} (Gordon's bound on the mean,
   E‖G‖ ≤ √m + √k, plus Gaussian concentration of the 1-Lipschitz map G ↦ ‖G‖; Davidson &
   Szarek 2001, Thm II.13), spending L·e^{−t²/2} of the failure probability;
4. on both events, |‖h(x)‖ − ‖h(y)‖| ≤ Λγ for the nearest net point y, so
   ‖h(x)‖² ∈ [(√(1−ε₁) − Λγ)², (√(1+ε₁) + Λγ)²] ⊂ [1 − ε, 1 + ε] once Λγ ≤ m(ε, ε₁) =
   min(√(1+ε) − √(1+ε₁), √(1−ε₁) − √(1−ε)).

The failure bound at width n is the minimum over a fixed grid of splits (ε₁ = f·ε, t) of
|T|·p₁(n, ε₁) + L·e^{−t²/2} with γ = m/Λ(t); the grid does not depend on n, so for the per-layer
Chernoff method (whose p₁ is e^{−nI}-type) every term, hence the minimum, is non-increasing in n
and the minimum width (smallest n with bound ≤ δ) is found by a monotone search. For the product
method the monotonicity of p₁ in n is only checked (tests), not proven.

Weakness, stated openly: step 3 multiplies worst-case operator norms, Λ ≈ 2^{3L/2−1}, while the
top singular value of the product of the layers' Jacobians grows only like √L; the net is then
exponentially fine in L and the width grows like k·L³/ε² (per-layer) or k·L²/ε² (product), one
power of L above the single-input width's L²/ε² (L/ε²). :func:`scaling` prints the leading order.

Assumptions: Gaussian weights N(0, 2/n) in every layer, *fan-out* (the first layer too: this
makes E‖h_1‖² = ‖x‖² for any n₀; fan-in equals fan-out for the hidden layers of equal width n),
zero biases, L layers of width n, the subspace fixed before the weights are drawn.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from .band import LAYERS
from .errors import COUNT, OPEN_UNIT, CostLimitError, DomainError, Integral, Interval, Options, OrNone, constrain
from .report import Report, fmt_logp
from .width import _per_layer_rates, log_failure_bound, min_width

__all__ = [
    "METHODS", "SOURCES", "SphereSplit", "SphereWidth", "log_net_size", "log_opnorm_tail", "opnorm_threshold",
    "log_lipschitz", "margin", "sphere_failure_bound", "min_width_sphere", "sphere_eps", "scaling",
    "sup_deviation_linear", "sup_deviation_relu_circle", "sphere_report", "derive_sphere", "MAX_LOG_WIDTH",
    "RESTARTS", "STEPS", "SEARCH_TRIALS",
]

#: The single-input bounds the union over the net may use (the exact p_stay is left out: it costs
#: up to 2 s per call and the optimisation calls it thousands of times; it also loses its
#: relative accuracy below 1e-313, where the net's size puts p₁ for any n₀ above ~100).
METHODS = ("chernoff_per_layer", "chernoff_product")
SOURCES = {
    "chernoff_per_layer": "derived (γ-net + per-layer Chernoff + Gaussian operator norms)",
    "chernoff_product": "derived (γ-net + Doob product bound + Gaussian operator norms)",
}
#: ε₁ = f·ε with f = i/(K + 1), i = 1..K: K per method (the product bound costs ~15 ms a call).
_F_GRID = {"chernoff_per_layer": 64, "chernoff_product": 8}
#: the operator-norm levels: log L − t_j²/2 = −j·_U_STEP, j = 0.._U_COUNT − 1 (to e^{−750}: below any
#: δ ≥ 5e-324, so that the bound keeps falling past δ and the width search does not meet a floor; a step of 0.25 loses at most a factor e^{0.25} on that term against the best t).
_U_STEP = 0.25
_U_COUNT = 3001
#: widths are searched up to e^{MAX_LOG_WIDTH} (1e300); beyond, the floats of the evaluation end.
MAX_LOG_WIDTH = math.log(1e300)
#: cost model of one evaluation of the failure bound at one width (seconds, 2-core reference
#: machine): per grid point of ε₁, the single-input bound, plus the vectorised grid.
_T_P1 = {"chernoff_per_layer": 2e-4, "chernoff_product": 2.5e-2}
_T_GRID = 4e-8      # per (ε₁, t) pair
_COST_LIMIT = 30.0  # seconds: larger estimates are refused before the work
#: The adversarial search's options (sim.sphere.search_sphere): starts per network, ascent steps,
#: networks. Declared here so that the command line reads them without importing torch.
RESTARTS = Interval(Integral, 2, 4096)
STEPS = Interval(Integral, 1, 10000)
SEARCH_TRIALS = Interval(Integral, 1, 10**6)
_SEARCH_EVALS = 60   # evaluations of a width search: ≤ 53 bisections (to 2^-52 relative) + the bracketing


# --- the expressions (sympy, built once; numerical use of the module never imports sympy) --------
@lru_cache(maxsize=None)
def _expr() -> dict:
    import sympy as sy

    n, L, k = sy.symbols("n L k", positive=True, integer=True)
    eps, eps1, gamma, t, delta = sy.symbols("epsilon epsilon_1 gamma t delta", positive=True)
    sigma, m_rows, k_cols = sy.symbols("sigma m k", positive=True)
    p1 = sy.Symbol("p_1", positive=True)
    net = (1 + 2 / gamma) ** k
    s1 = sy.sqrt(2 / n) * (sy.sqrt(n) + sy.sqrt(k) + t)
    sl = sy.sqrt(2 / n) * (2 * sy.sqrt(n) + t)
    lip = s1 * sl ** (L - 1)
    log_lip = sy.log(s1) + (L - 1) * sy.log(sl)
    marg = sy.Min(sy.sqrt(1 + eps) - sy.sqrt(1 + eps1), sy.sqrt(1 - eps1) - sy.sqrt(1 - eps))
    total = net * p1 + L * sy.exp(-t**2 / 2)
    return {"n": n, "L": L, "k": k, "eps": eps, "eps1": eps1, "gamma": gamma, "t": t, "delta": delta,
            "sigma": sigma, "m": m_rows, "kc": k_cols, "p1": p1, "net": net, "log_net": k * sy.log(1 + 2 / gamma),
            "op_threshold": sigma * (sy.sqrt(m_rows) + sy.sqrt(k_cols) + t), "op_tail": sy.exp(-t**2 / 2),
            "s1": s1, "sl": sl, "lip": lip, "log_lip": log_lip, "margin": marg, "total": total}


# --- the ingredients, evaluated ---------------------------------------------------------------------
def log_net_size(dim, gamma):
    r"""log of the size bound of a γ-net of the unit sphere S^{k−1}: k·log(1 + 2/γ).

    A maximal γ-separated subset T of S^{k−1} is a γ-net (maximality), and the balls of radius γ/2
    around its points are disjoint and lie in the ball of radius 1 + γ/2, so
    |T|·(γ/2)^k ≤ (1 + γ/2)^k. [derived] Arrays broadcast.

    >>> round(float(np.exp(log_net_size(2, 1.0))), 12)
    9.0
    """
    g = np.asarray(gamma, dtype=float)
    return dim * np.log1p(2.0 / g)


def log_opnorm_tail(t):
    r"""log of the bound e^{−t²/2} on P(‖G‖ ≥ σ(√m + √k + t)) for an m×k matrix of i.i.d. N(0, σ²).

    Gordon: E‖G‖ ≤ σ(√m + √k); ‖G‖ is a σ-Lipschitz function of the standard Gaussian entries
    (Frobenius norm), so Gaussian concentration gives the sub-Gaussian upper tail. [derived from
    Davidson & Szarek 2001, Thm II.13] One-sided; valid for every t ≥ 0, m, k ≥ 1.

    >>> float(log_opnorm_tail(2.0))
    -2.0
    """
    t = np.asarray(t, dtype=float)
    return -0.5 * t * t


def opnorm_threshold(rows, cols, t, variance):
    """σ(√m + √k + t), σ² = ``variance``: the level whose excess has probability ≤ e^{−t²/2}.

    >>> opnorm_threshold(4, 9, 1.0, 1.0)
    6.0
    """
    return math.sqrt(variance) * (math.sqrt(rows) + math.sqrt(cols) + t)


def log_lipschitz(width, depth, dim, t):
    r"""log Λ, Λ = Π_l s_l the Lipschitz bound of x ↦ h_L(x) on the event ‖W_l‖ ≤ s_l for every l.

    s₁ = √(2/n)(√n + √k + t) (the first layer seen on the k-dimensional input space),
    s_l = √(2/n)(2√n + t) for l ≥ 2 (He, fan-out: σ² = 2/n); the log is taken term by term
    (the product overflows at L ~ 10³). [derived] ``t`` may be an array.

    >>> round(float(np.exp(log_lipschitz(8, 1, 8, 0.0))), 12)   # √(2/8)·(√8 + √8)
    2.828427124746
    """
    n = float(width)
    t = np.asarray(t, dtype=float)
    rn = math.sqrt(n)
    lg = 0.5 * math.log(2.0 / n)
    return lg + np.log(rn + math.sqrt(dim) + t) + (depth - 1) * (lg + np.log(2.0 * rn + t))


def margin(eps, eps1):
    r"""m(ε, ε₁) = min(√(1+ε) − √(1+ε₁), √(1−ε₁) − √(1−ε)), without cancellation.

    Written as min((ε − ε₁)/(√(1+ε) + √(1+ε₁)), (ε − ε₁)/(√(1−ε₁) + √(1−ε))) (the same numbers:
    a test checks it at 50 digits). If ‖h(y)‖² ∈ [1 − ε₁, 1 + ε₁] and |‖h(x)‖ − ‖h(y)‖| ≤ m, then
    ‖h(x)‖² ∈ [1 − ε, 1 + ε]. [derived] Arrays broadcast.

    >>> round(float(margin(0.5, 0.0)), 12) == round(min(1.5 ** 0.5 - 1, 1 - 0.5 ** 0.5), 12)
    True
    """
    e = np.asarray(eps, dtype=float)
    e1 = np.asarray(eps1, dtype=float)
    d = e - e1
    return np.minimum(d / (np.sqrt(1.0 + e) + np.sqrt(1.0 + e1)), d / (np.sqrt(1.0 - e1) + np.sqrt(1.0 - e)))


@dataclass(frozen=True)
class SphereSplit:
    """The failure bound at one width and the split that achieves it."""

    width: int
    log_failure: float          # log of |T|·p₁ + L·e^{−t²/2} at the best split of the grid
    eps1: float                 # the band the net points must keep
    t: float                    # the operator-norm level (one per layer)
    gamma: float                # the net's radius, m(ε, ε₁)/Λ
    log_net_size: float         # log |T|
    log_net_term: float         # log |T|·p₁
    log_op_term: float          # log L·e^{−t²/2}
    log_lipschitz: float        # log Λ
    log_p1: float               # log p₁ (one input, band ε₁)


def _t_grid(depth: int) -> np.ndarray:
    j = np.arange(_U_COUNT, dtype=float)
    return np.sqrt(2.0 * (math.log(depth) + j * _U_STEP))


def _f_grid(method: str) -> np.ndarray:
    K = _F_GRID[method]
    return np.arange(1, K + 1, dtype=float) / (K + 1)


def _log_p1(method, n, depth, eps1, layers) -> float:
    if method == "chernoff_per_layer":
        # the per-layer bound is log L + log(e^{−n I₊} + e^{−n I₋}) (bounds.width); its rates are
        # cached per band here, since the search calls it at many widths
        from .width import _log_fail_per_layer
        return _log_fail_per_layer(n, depth, 1, _rates(depth, float(eps1)))
    return log_failure_bound(method, n, depth, 1, float(eps1), layers=layers)


@lru_cache(maxsize=4096)
def _rates(depth: int, eps1: float):
    return _per_layer_rates(depth, 1.0 - eps1, 1.0 + eps1)


def _evaluate(n: int, depth: int, dim: int, eps: float, method: str, layers: str) -> SphereSplit:
    fs = _f_grid(method)
    ts = _t_grid(depth)
    e1 = fs * eps
    lp1 = np.array([_log_p1(method, n, depth, x, layers) for x in e1])       # (F,)
    llip = log_lipschitz(n, depth, dim, ts)                                  # (T,)
    lm = np.log(margin(eps, e1))                                             # (F,)
    lgam = lm[:, None] - llip[None, :]                                       # log γ = log m − log Λ
    lnet = dim * np.logaddexp(0.0, math.log(2.0) - lgam)                     # k·log(1 + 2/γ)
    lnet_term = lnet + lp1[:, None]
    lop = math.log(depth) + log_opnorm_tail(ts)                              # (T,)
    tot = np.logaddexp(lnet_term, lop[None, :])
    i, j = np.unravel_index(int(np.argmin(tot)), tot.shape)
    return SphereSplit(int(n), float(tot[i, j]), float(e1[i]), float(ts[j]), float(math.exp(lgam[i, j])),
                       float(lnet[i, j]), float(lnet_term[i, j]), float(lop[j]), float(llip[j]), float(lp1[i]))


def _check_cost(method: str, evals: int) -> None:
    secs = evals * (_F_GRID[method] * _T_P1[method] + _F_GRID[method] * _U_COUNT * _T_GRID)
    if secs > _COST_LIMIT:
        raise CostLimitError(f"this needs about {evals} evaluations of the {method} bound, about {secs:.0f} s "
                             f"(limit {_COST_LIMIT:g} s); use --method chernoff_per_layer", param="method")


def _check_dims(dim: int, subspace) -> int:
    if subspace is None:
        return dim
    if subspace > dim:
        raise DomainError.must("subspace", f"be an integer in [1, input_dim = {dim}]", str(subspace))
    return subspace


@constrain(width=COUNT, depth=COUNT, dim=COUNT, eps=OPEN_UNIT, method=Options(METHODS), layers=LAYERS)
def sphere_failure_bound(width, depth, dim, eps, *, method="chernoff_per_layer", layers="all") -> SphereSplit:
    r"""Bound on P(sup over the unit sphere S^{k−1} of |‖h_l(x)‖² − 1| > ε) at width n, and its split.

    .. math:: \min_{\varepsilon_1, t}\;(1 + 2\Lambda(t)/m(\varepsilon,\varepsilon_1))^k\,
              p_1(n, \varepsilon_1) + L e^{-t^2/2}

    over a fixed grid (ε₁ = f·ε, f = i/65, i = 1..64 for the per-layer method, i/9 for the
    product method; t with log L − t²/2 on a 0.25-spaced grid): every grid point is a valid bound.

    Args:
        width: n, the width of every layer (AB19's m).
        depth: L ≥ 1 layers.
        dim: k, the dimension of the input space (n₀) or of the subspace the inputs lie in.
        eps: ε in (0, 1), the band on the squared-norm ratio.
        method: the single-input bound p₁ (:data:`METHODS`).
        layers: "all" (every layer in the band) or "last" (the last layer only; the per-layer
            method bounds every layer either way).

    Returns a :class:`SphereSplit`; ``log_failure`` may be ≥ 0 (the bound says nothing there).
    Source: [derived] docs/theory.md §11 (AB19's claim, arXiv 1901.03611). Assumptions: Gaussian
    weights N(0, 2/n), fan-out in every layer, zero biases.

    >>> s = sphere_failure_bound(2000, 1, 2, 0.5)
    >>> s.log_failure < math.log(0.1), 0 < s.eps1 < 0.5
    (True, True)
    """
    return _evaluate(width, depth, dim, eps, method, layers)


@dataclass(frozen=True)
class SphereWidth:
    """The minimum width of the sphere bound and the split it uses there."""

    min_width: int
    dim: int
    split: SphereSplit
    method: str
    source: str
    evaluations: int
    notes: tuple = field(default_factory=tuple)


@constrain(depth=COUNT, input_dim=COUNT, delta=OPEN_UNIT, eps=OPEN_UNIT, subspace=OrNone(COUNT),
           method=Options(METHODS), layers=LAYERS)
def min_width_sphere(depth, input_dim, delta, eps, *, subspace=None, method="chernoff_per_layer",
                     layers="all") -> SphereWidth:
    r"""Smallest width n at which :func:`sphere_failure_bound` is ≤ δ: every input at once.

    The inputs are the whole space R^{n₀} (k = n₀) or a fixed k-dimensional ``subspace``; the
    bound depends on k only (the first layer sees the subspace through an n×k Gaussian matrix).
    The search doubles (or halves) from a leading-order guess to a bracket and bisects it to the
    neighbour check F(n) ≤ δ < F(n − 1) (to the resolution of doubles above 2^53), valid because F
    is non-increasing in n: proven for the per-layer method (each grid term is), only checked for
    the product method.

    Raises :class:`DomainError` on bad arguments (``subspace`` > ``input_dim``) and
    :class:`CostLimitError` when the width would exceed 1e300 or the product method's 2^53, or
    when the estimated time exceeds 30 s — before the work.
    Source: [derived] docs/theory.md §11. Assumptions as :func:`sphere_failure_bound`.

    >>> r = min_width_sphere(1, 2, 0.1, 0.5)
    >>> r.min_width > 0 and r.split.log_failure <= math.log(0.1)
    True
    """
    k = _check_dims(input_dim, subspace)
    _check_cost(method, _SEARCH_EVALS)
    log_delta = math.log(delta)
    f_min = float(_f_grid(method)[0])
    if f_min * eps < 2.0**-52:     # the tighter bands 1 ± f·ε would round to 1 in doubles
        raise CostLimitError(f"{{eps}} = {eps:g}: the tighter bands ε₁ = f·ε (f from {f_min:.3g}) must stay above the "
                             f"double resolution of 1 ± ε₁; this bound needs eps ≥ {2.0**-52 / f_min:.2g}", param="eps")
    if method == "chernoff_per_layer":
        # rates below 1e-280 put the width above 1e280 (bounds.width's own limit)
        _rates_ok(depth, eps)
    cache: dict = {}

    def split(n):
        if n not in cache:
            cache[n] = _evaluate(n, depth, k, eps, method, layers)
        return cache[n]

    n_max = int(1e300) if method == "chernoff_per_layer" else 2**53
    start = _guess(depth, k, delta, eps, method)
    n = _monotone_search(lambda n: split(n).log_failure <= log_delta, min(start, n_max), n_max)
    if n is None:
        raise CostLimitError(f"the sphere bound needs a width above {n_max:.3g} here ({method}); "
                             + ("use --method chernoff_per_layer" if method != "chernoff_per_layer"
                                else "a larger {eps} or {delta}, or a smaller {depth} or dimension, is needed"),
                             names=() if method != "chernoff_per_layer" else ("eps", "delta", "depth"))
    s = split(n)
    unc = max(0, int(n) >> 52)    # above 2^53 the evaluation sees n as a double (relative 2^-52)
    notes = ((f"the width is decided to the resolution of doubles: ±{unc:,}",) if unc else ()) + ("monotone search: F(n) non-increasing in n is proven for the per-layer method"
             if method == "chernoff_per_layer" else
             "monotone search: F(n) non-increasing in n is only checked for the product method (tests)",)
    return SphereWidth(int(n), k, s, method, SOURCES[method], len(cache), notes)


def _monotone_search(ok, start: int, n_max: int):
    """Smallest integer n in [1, n_max] with ok(n), for ok monotone (False … False True … True):
    doubling (or halving) from ``start`` to a bracket [lo, hi] with ok(hi) and not ok(lo), then
    bisection until hi − lo ≤ max(1, ⌊hi/2^52⌋) (above 2^53 the bound is evaluated at n as a
    double, so a finer bracket is noise). None when not ok(n_max). About log₂(n) evaluations.
    (The toolkit's secant solver, ``bounds.width._solve``, is not used: for large k the bound falls
    like a cliff — e^{10^20} one percent below the width, below δ at it — and secant steps stall.)"""
    b = max(1, min(int(start), n_max))
    if ok(b):
        hi, lo = b, 0
        while lo == 0:
            c = hi // 2
            if c < 1:
                return 1
            if ok(c):
                hi = c
            else:
                lo = c
    else:
        lo, hi = b, None
        while hi is None:
            if lo >= n_max:
                return None
            c = min(n_max, 2 * lo)
            if ok(c):
                hi = c
            else:
                lo = c
    while hi - lo > max(1, hi >> 52):
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid
    return hi


def _rates_ok(depth, eps):
    f_min = _f_grid("chernoff_per_layer")[0]
    lo = min(float(x) for x in _rates(depth, float(f_min * eps)))
    if not lo > 1e-280:
        raise CostLimitError(f"the per-layer rates at depth {depth} and eps {eps:g} are below 1e-280: the width "
                             "would exceed 1e280; a larger {eps} or a smaller {depth} is needed",
                             names=("eps", "depth"))


def _guess(depth, k, delta, eps, method) -> int:
    """A starting width only (no bound): the leading-order formula of :func:`scaling` at f = ½."""
    e1 = 0.5 * eps
    lam = (1.5 * depth - 1.0) * math.log(2.0)
    logT = k * (math.log(2.0) + lam - math.log(float(margin(eps, e1))))
    need = logT + math.log(2.0 * depth) - math.log(delta)     # (2L/δ overflows for subnormal δ)
    rate = math.log1p(e1) ** 2 / (10.0 * (depth * depth if method == "chernoff_per_layer" else depth))
    if not rate > 0.0:          # ε below the double resolution of the band: the search refuses later
        return int(1e300)
    x = need / rate
    return max(1, int(min(x, 1e300)))


@constrain(width=COUNT, depth=COUNT, dim=COUNT, delta=OPEN_UNIT, method=Options(METHODS), layers=LAYERS)
def sphere_eps(width, depth, dim, delta, *, method="chernoff_per_layer", layers="all", rel_tol=1e-3):
    r"""The smallest band ε (to a relative ``rel_tol``, rounded up) for which the sphere bound at
    width n is ≤ δ: the ε this bound certifies at a given width; None if no ε < 1 is reached.

    The bound is non-increasing in ε for every fixed grid point (ε₁ = f·ε: p₁ falls and the
    margin m(ε, fε) grows with ε), so a bisection on ε is exact up to its tolerance; the value
    returned is the upper end of the last bracket, hence a certified ε. [derived]

    >>> e = sphere_eps(2000, 1, 2, 0.1)
    >>> 0 < e < 1
    True
    """
    ld = math.log(delta)

    def ok(e):
        return _evaluate(width, depth, dim, e, method, layers).log_failure <= ld

    hi = 1.0 - 1e-9
    if not ok(hi):
        return None
    lo = 0.0
    while hi - lo > rel_tol * hi:
        mid = 0.5 * (lo + hi) if lo > 0 else hi / 2.0
        if mid < 1e-12:
            break
        if ok(mid):
            hi = mid
        else:
            lo = mid
    return hi


# --- leading-order scaling ------------------------------------------------------------------------
@lru_cache(maxsize=None)
def scaling(method: str = "chernoff_per_layer"):
    r"""The leading order of the minimum width, derived by sympy; returns (solution, leading term).

    With ε₁ = f·ε: the per-layer band is (1 + ε₁)^{1/L}, whose upper side (the binding one) has
    the rate I ≈ ln(1 + ε₁)²/(10L²) (:func:`bounds.width.rate_series`: I(ε′) = ε′²/10 + O(ε′³));
    the product bound's rate over the whole depth is ln(1 + ε₁)²/(10L) (Var log Π_L ≈ 5L/n).
    The net has log|T| = k log(1 + 2Λ/m) ≈ k(log 2 + log Λ + log(1/m)) with
    log Λ ≈ (3L/2 − 1) log 2 (t ≪ √n, k ≪ n) and m ≈ (1 − f)ε/2. Setting n·I equal to
    log|T| + log(2L/δ) and solving gives the solution; its leading term as L → ∞, then f → 1
    (the optimal f tends to 1 as L grows) is 15 ln 2 · k L^a / ln(1 + ε)², a = 3 (per-layer) or
    2 (product). An approximation for the statement only: the code optimises the exact bound.
    """
    import sympy as sy

    n, L, k, eps, delta, f = sy.symbols("n L k epsilon delta f", positive=True)
    a = 2 if method == "chernoff_per_layer" else 1
    rate = sy.log(1 + f * eps) ** 2 / (10 * L**a)
    log_lam = (sy.Rational(3, 2) * L - 1) * sy.log(2)
    log_T = k * (sy.log(2) + log_lam + sy.log(2 / ((1 - f) * eps)))
    sol = sy.solve(sy.Eq(n * rate, log_T + sy.log(2 * L / delta)), n)[0]
    coef = sy.limit(sy.limit(sol / (k * L ** (a + 1)), L, sy.oo), f, 1)
    return sol, coef * k * L ** (a + 1)


def _scaling_text(method: str) -> str:
    import sympy as sy

    _, lead = scaling(method)
    a = 3 if method == "chernoff_per_layer" else 2
    e = [s for s in lead.free_symbols if s.name == "epsilon"][0]
    c_small = float(sy.limit(lead * e**2, e, 0).subs({s: 1 for s in lead.free_symbols if s.name != "epsilon"}))
    return (f"leading order as L → ∞ ({method}): n* ≈ {sy.sstr(lead)}  (≈ {c_small:.1f}·k·L^{a}/ε² for small ε): "
            f"linear in the dimension k, L^{a} (the single-input width grows like L^{a - 1}: the extra L is the "
            "worst-case Lipschitz bound), 1/ε², and ln(1/δ) only additively")


# --- exact suprema on cases where they are known (for the adversarial search's identity claim) ---
def sup_deviation_linear(weights) -> float:
    r"""sup over the unit sphere of |‖M x‖² − 1| for a linear net M = W_L ⋯ W_1: exact,
    max(σ_max(M)² − 1, 1 − σ_min(M)²) (σ_min = 0 when M has more columns than rows).

    >>> sup_deviation_linear([np.diag([2.0, 0.5])])
    3.0
    """
    M = None
    for W in weights:
        W = np.asarray(W, dtype=float)
        M = W if M is None else W @ M
    s = np.linalg.svd(M, compute_uv=False)
    smin = 0.0 if M.shape[1] > M.shape[0] else float(s[-1])
    return float(max(s[0] ** 2 - 1.0, 1.0 - smin ** 2))


def sup_deviation_relu_circle(W) -> tuple:
    r"""(sup, inf) over the unit circle of ‖relu(W x)‖² for one layer W (n × 2): exact.

    On the circle x = (cos θ, sin θ) the active set changes only at the 2n angles where a row is
    orthogonal to x; between them ‖relu(Wx)‖² = xᵀ A x with A = Σ_active w_i w_iᵀ, whose extremes
    on an arc are at its ends or at A's eigenvectors inside it. All these candidates are
    evaluated; the deviation is max(sup − 1, 1 − inf). [derived]

    >>> sup_deviation_relu_circle(np.array([[1.0, 0.0]]))
    (1.0, 0.0)
    """
    W = np.asarray(W, dtype=float)
    if W.ndim != 2 or W.shape[1] != 2:
        raise DomainError(f"W must have shape (n, 2); got {W.shape}")
    base = np.arctan2(W[:, 1], W[:, 0])
    br = np.sort(np.mod(np.concatenate([base + np.pi / 2, base - np.pi / 2]), 2 * np.pi))
    a = br
    b = np.append(br[1:], br[0] + 2 * np.pi)
    mid = 0.5 * (a + b)
    X = np.stack([np.cos(mid), np.sin(mid)], axis=1)             # (arcs, 2)
    active = (X @ W.T) > 0                                          # (arcs, n)
    A = np.einsum("an,ni,nj->aij", active.astype(float), W, W)     # (arcs, 2, 2)
    _, vec = np.linalg.eigh(A)
    cand = [a]
    for j in range(2):
        for sgn in (1.0, -1.0):
            th = np.mod(np.arctan2(sgn * vec[:, 1, j], sgn * vec[:, 0, j]) - a, 2 * np.pi) + a
            inside = th <= b
            cand.append(th[inside])
    th = np.concatenate(cand)
    Xc = np.stack([np.cos(th), np.sin(th)], axis=1)
    f = (np.maximum(Xc @ W.T, 0.0) ** 2).sum(axis=1)
    return float(f.max()), float(f.min())


# --- the report ----------------------------------------------------------------------------------
_ASSUMPTIONS = ("Gaussian weights N(0, 2/n), fan-out in every layer (the first too)", "zero bias",
                "every layer of width n", "inputs: the whole space R^n0, or a subspace fixed before the weights")


@constrain(depth=COUNT, input_dim=COUNT, delta=OPEN_UNIT, eps=OPEN_UNIT, subspace=OrNone(COUNT),
           samples=COUNT, method=Options(METHODS), layers=LAYERS, width=OrNone(COUNT))
def sphere_report(depth, input_dim, delta, eps, *, subspace=None, samples=1, method="chernoff_per_layer",
                  layers="all", width=None) -> Report:
    """Minimum widths for every input at once (the sphere, and a subspace if asked), beside the
    N-input union widths, as ``initbounds sphere`` prints it.

    Rows: the sphere width (k = n₀), the subspace width (k = ``subspace``), the per-layer Chernoff
    and exact-union widths for N = ``samples`` inputs, and the per-layer and product widths for
    N = the net's size (what a union over the net alone would ask at the full band ε); lines: the
    optimised split, the scaling statement. With ``width``, also the ε the bound certifies at that width (:func:`sphere_eps`, for
    k = ``subspace`` or n₀; ``at_width`` in the JSON, None without ``width``). ``as_dict()`` is what
    ``--json`` prints. Source: [derived] docs/theory.md §11.

    >>> r = sphere_report(1, 2, 0.1, 0.5)
    >>> r["sphere"]["min_width"] > r["union"][0]["min_width"]
    True
    """
    _check_dims(input_dim, subspace)
    dims = [("sphere", input_dim)] + ([("subspace", subspace)] if subspace is not None else [])
    results = {name: min_width_sphere(depth, input_dim, delta, eps, subspace=k if name == "subspace" else None,
                                      method=method, layers=layers) for name, k in dims}
    data: dict = {"inputs": {"depth": depth, "input_dim": input_dim, "subspace": subspace, "delta": delta,
                             "eps": eps, "samples": samples, "method": method, "layers": layers}}
    rows = []
    lines = []
    for name, r in results.items():
        s = r.split
        data[name] = {"dim": r.dim, "min_width": r.min_width, "log_failure_bound": s.log_failure,
                      "eps1": s.eps1, "t": s.t, "gamma": s.gamma, "log_net_size": s.log_net_size,
                      "log_net_term": s.log_net_term, "log_op_term": s.log_op_term,
                      "log_lipschitz": s.log_lipschitz, "source": r.source}
        what = "every x in R^n0" if name == "sphere" else f"every x in a fixed {r.dim}-dim subspace"
        rows.append((f"{name} (k = {r.dim:,}): {what}", f"{r.min_width:,}", fmt_logp(s.log_failure), r.source))
        lines.append(f"split ({name}): ε₁ = {s.eps1:.4g}, γ = {s.gamma:.3g}, net size |T| = e^{s.log_net_size:.4g}, "
                     f"t = {s.t:.3g}; union over the net {fmt_logp(s.log_net_term)} + operator norms "
                     f"{fmt_logp(s.log_op_term)}; Lipschitz bound Λ = e^{s.log_lipschitz:.4g}")
    union = []
    big_N = results["sphere"].split.log_net_size
    # N = samples: the per-layer and exact widths (as `initbounds width`); N = |T|: the per-layer and
    # product widths (the exact union at N = |T| asks for tails near δ/|T|: up to ~20 s at L = 64)
    for label, N, methods in ((f"N = {samples:,} inputs", samples, ("chernoff_per_layer", "exact_union")),
                              (f"N = |T| = e^{big_N:.4g} (the net's size)", _int_exp(big_N),
                               ("chernoff_per_layer", "chernoff_product"))):
        for m in methods:
            if N is None:
                union.append({"samples": None, "method": m, "min_width": None,
                              "note": "not computed: the net's size is beyond 1e300 inputs"})
                rows.append((f"{label}, {m}", "—", "—", "beyond 1e300 inputs"))
                continue
            try:
                w = min_width(m, depth, N, delta, eps, layers=layers)
                union.append({"samples": N if N < 2**63 else float(N), "method": m, "min_width": int(w.min_width),
                              "note": ""})
                rows.append((f"{label}, {m}", f"{w.min_width:,}", fmt_logp(w.log_failure), w.source))
            except CostLimitError as e:
                union.append({"samples": N if N < 2**63 else float(N), "method": m, "min_width": None,
                              "note": f"not computed: {e}"})
                rows.append((f"{label}, {m}", "—", "—", f"not computed: {e}"))
    data["union"] = union
    data["at_width"] = None
    if width is not None:
        kk = subspace if subspace is not None else input_dim
        e_w = sphere_eps(width, depth, kk, delta, method=method, layers=layers)
        data["at_width"] = {"width": width, "dim": kk, "eps": e_w}
        rows.append((f"ε certified at width {width:,} (k = {kk:,}, δ = {delta:g})",
                     "none < 1" if e_w is None else f"ε = {e_w:.4g}", "—", "derived (sphere_eps)"))
    lines.append(_scaling_text(method))
    lines.extend(results["sphere"].notes)
    lines.append("weakest ingredient: the net costs k·ln(1 + 2Λ/m) nats with Λ a product of worst-case operator "
                 "norms (≈ 2^(3L/2−1)), linear in L: one power of L above the single-input width (at a given input "
                 "the Jacobian of a wide random net grows like √L); at small L the margin term k·ln(1/m) dominates")
    data["scaling"] = _scaling_text(method)
    return Report(
        title=f"Minimum width for every input at once: L={depth}, n0={input_dim:,}, δ={delta:g}, ε={eps:g} "
              f"({layers} layers)",
        rows=tuple(rows), data=data, columns=("inputs", "min width", "failure bound at that width", "source"),
        lines=tuple(lines), assumptions=_ASSUMPTIONS)


def _int_exp(log_x: float):
    """⌈e^{log_x}⌉ as a Python int, or None beyond 1e300."""
    if log_x > MAX_LOG_WIDTH:
        return None
    return max(1, int(math.ceil(math.exp(log_x))))


# --- the derivation ------------------------------------------------------------------------------
def derive_sphere():
    """The derivation behind ``initbounds sphere``: a γ-net, a union bound, operator norms, the
    perturbation step, the optimised split and the leading-order scaling."""
    import sympy as sy

    from .derivation import Derivation, Step

    E = _expr()
    n, L, k, eps, eps1, gamma, t, delta = (E[s] for s in ("n", "L", "k", "eps", "eps1", "gamma", "t", "delta"))
    a, b, d, lam = sy.symbols("a b d Lambda", nonnegative=True)
    sol_pl, lead_pl = scaling("chernoff_per_layer")
    _, lead_pr = scaling("chernoff_product")
    steps = (
        Step("Scale invariance: h_l(cx) = c·h_l(x) for c > 0 (bias-free ReLU), so the supremum over "
             "x ≠ 0 of the squared-norm ratio is the supremum over the unit sphere S^{k−1}.",
             sy.Eq(sy.Symbol("sup_{x≠0} |‖h(x)‖²/‖x‖² − 1|"), sy.Symbol("sup_{‖x‖=1} |‖h(x)‖² − 1|")),
             assumptions=("zero biases", "k = n0, or k = dim of a subspace fixed before the weights")),
        Step("A maximal γ-separated set T ⊂ S^{k−1} is a γ-net; the disjoint balls of radius γ/2 around its "
             "points lie in the ball of radius 1 + γ/2, which bounds its size.",
             sy.Le(sy.Symbol("|T|"), E["net"])),
        Step("One input: the squared-norm ratios are products of independent copies of ρ (fan-out, He); "
             "the toolkit's single-input bound p₁ (per-layer Chernoff or Doob product) at band ε₁ < ε, "
             "and a union over the net.",
             sy.Le(sy.Symbol("P(some y in T leaves the eps_1 band)"), E["net"] * E["p1"]),
             assumptions=("Gaussian weights N(0, 2/n), fan-out in every layer",)),
        Step("Operator norms: for an m×k matrix of i.i.d. N(0, σ²), E‖G‖ ≤ σ(√m + √k) (Gordon) and ‖G‖ is "
             "σ-Lipschitz in the entries, so Gaussian concentration gives the tail.",
             sy.Le(sy.Symbol("P(‖G‖ ≥ s)"), E["op_tail"]), source="paper", citation="DS01",
             assumptions=(f"s = {sy.sstr(E['op_threshold'])}", "Davidson & Szarek 2001, Thm II.13")),
        Step("Layer thresholds with σ² = 2/n: the first layer acts on the k-dimensional input space (an n×k "
             "Gaussian), the others are n×n.",
             sy.Tuple(sy.Eq(sy.Symbol("s_1"), E["s1"]), sy.Eq(sy.Symbol("s_l"), E["sl"]))),
        Step("ReLU is 1-Lipschitz, so on the event ‖W_l‖ ≤ s_l for every l, x ↦ h_L(x) is Λ-Lipschitz "
             "(and h_l is Π_{j≤l} s_j ≤ Λ-Lipschitz, as every s_j ≥ √2 > 1).",
             sy.Le(sy.Symbol("‖h_L(x) − h_L(y)‖"), E["lip"] * sy.Symbol("‖x − y‖"))),
        Step("Perturbation: with b = ‖h(y)‖, b² within ε₁ of 1, and a = ‖h(x)‖, |a − b| ≤ d = Λγ, "
             "a² lies between the squares below; both stay within ε of 1 iff d ≤ m(ε, ε₁).",
             sy.Tuple(sy.Le(a**2, (sy.sqrt(1 + eps1) + d) ** 2), sy.Ge(a, sy.sqrt(1 - eps1) - d),
                      sy.Eq(sy.Symbol("m"), E["margin"]))),
        Step("So γ = m(ε, ε₁)/Λ, and a union over the net's event and the L operator-norm events bounds the "
             "failure probability; the code minimises it over a fixed grid of (ε₁, t) and finds the smallest "
             "width n where it is ≤ δ (non-increasing in n for every grid point with the per-layer method).",
             sy.Le(sy.Symbol("P(sup_x |‖h(x)‖² − 1| > epsilon)"), E["total"]),
             assumptions=("γ = m(ε, ε₁)/Λ(t)",)),
        Step("Leading order (per-layer Chernoff, ε₁ = f·ε, rate ln(1 + ε₁)²/(10L²), log Λ ≈ (3L/2 − 1) log 2, "
             "m ≈ (1 − f)ε/2): sympy solves the union condition for n.",
             sy.Eq(n, sol_pl)),
        Step("Hence the scaling as L → ∞ (then f → 1), by sympy's limits: linear in k, cubic in L for the "
             "per-layer method, quadratic with the product bound (the single-input widths grow like L² and L), "
             "1/ln(1 + ε)² ≈ 1/ε²; δ enters only through ln(1/δ), additively. The extra power of L comes from "
             "the worst-case Lipschitz bound Λ, the weakest step.",
             sy.Tuple(sy.Eq(sy.Symbol("n_per_layer"), lead_pl), sy.Eq(sy.Symbol("n_product"), lead_pr))),
    )
    return Derivation("Norm preservation for every input at once (AB19, infinitely many inputs)", steps)
