r"""Residual blocks as iterative refinement (J18): closed forms at initialization and the
first-order Taylor identity behind the per-block cosine (docs/theory.md §13).

Blocks h_{i+1} = h_i + F_i(h_i), branch F(h) = α W₂ φ(W₁ h), φ = ReLU, W₁ ∈ R^{m×n} with
variance 2/n (He, fan-in), W₂ ∈ R^{n×m} with variance 1/m, no biases.

* One block, any fixed h ≠ 0 (so also at every block of a random network): E‖F‖² = α²‖h‖² and
  E⟨F, h⟩ = 0; hence for **unshared** blocks E‖h_B‖² = (1 + α²)^B ‖h_0‖² [derived; it is the
  mean factor of HR18's block, ``bounds.resnet.residual_block_exprs``].
* **Shared** blocks (the same W₁, W₂ at every step) refine coherently: the increments are
  F⁽⁰⁾ = α W₂ φ(W₁ h_0) at every step to first order, so
  E‖h_B‖²/‖h_0‖² = 1 + α²(B² + B(B−1)/n) + o(α²) at every finite width [derived], against
  1 + Bα² + O(α⁴) unshared. Over two steps, in the limit n, m → ∞ with α fixed,
  E‖h_2‖²/‖h_0‖² → 1 + 4α² + α⁴ + (2α²/π)(α − arctan α) [derived; an infinite-width limit],
  against (1 + α²)² unshared.
* The Taylor identity (J18 eq. 3, the literal reading): with L(h) the loss of the classifier
  head applied at h and g_j = ∇L(h_j), the remainder
  R(α) = L(h_B) − L(h_i) − Σ_{j≥i} ⟨F_j(h_j), g_j⟩ satisfies R(α)/α² → ½ Σ_j f_jᵀ ∇²L(h_i) f_j as
  α → 0 with the weights fixed (f_j = F_j/α at α → 0 on h_i): slope 2 on a log-log plot [derived;
  sympy checks it for scalar h and three blocks in :func:`derive_refine`].

No torch here: the simulations are in ``sim.refine``.
"""
from __future__ import annotations

from functools import lru_cache

import mpmath as mp
import sympy as sy

from .errors import COUNT, Integral, Interval, Real, constrain
from .report import Report

__all__ = ["MAX_BLOCKS", "ALPHAS", "branch_exprs", "branch_ratio_mean", "unshared_growth",
           "shared_growth_coefficient", "shared_two_step_limit", "taylor_series_check", "derive_refine",
           "refine_report"]

#: The most blocks the closed forms answer for here (the training command's networks are far smaller).
MAX_BLOCKS = 10**6
_BLOCKS = Interval(Integral, 1, MAX_BLOCKS)
#: Branch scales α: 0 ≤ α ≤ 10^3 ((1 + α²)^B is returned with its log; beyond 10^3 the networks
#: of this topic are not meaningful).
ALPHAS = Interval(Real, 0, 1000)

_alpha = sy.Symbol("alpha", nonnegative=True)
_n, _m = sy.symbols("n m", positive=True, integer=True)
_B, _j = sy.symbols("B j", positive=True, integer=True)
_s = sy.Symbol("sigma", positive=True)
_z = sy.Symbol("z", real=True)


def _relu_second_moment(var):
    """E φ(z)² for z ~ N(0, var), integrated by sympy (var/2)."""
    dens = sy.exp(-_z**2 / (2 * _s**2)) / (sy.sqrt(2 * sy.pi) * _s)
    return sy.integrate(_z**2 * dens, (_z, 0, sy.oo)).subs(_s, sy.sqrt(var))


@lru_cache(maxsize=None)
def branch_exprs() -> dict:
    r"""The sympy expressions of this topic (each derived, not typed):

    ``relu2``: E φ(a_k)² per unit of ‖h‖² (a = W₁h, Var a_k = 2‖h‖²/n) = 1/n;
    ``ratio``: E‖F‖²/‖h‖² = α²·(n/m)·m·relu2 = α²; ``cross``: E⟨F, h⟩ = 0 (W₂ has mean 0);
    ``unshared``: E‖h_B‖²/‖h_0‖² = (1 + α²)^B; ``shared_coefficient``: the α² coefficient of
    E‖h_B‖²/‖h_0‖² for shared blocks, B² + 2·Σ_{j<B} j·relu2 = B² + B(B−1)/n;
    ``kernel``: E φ(X)φ(Y) for standard normal X, Y with correlation ρ (polar integration);
    ``shared_two_step``: the n, m → ∞ limit of E‖h_2‖²/‖h_0‖² for shared blocks.
    """
    relu2 = sy.simplify(_relu_second_moment(2 / _n))                     # per unit ‖h‖² = 1
    ratio = sy.simplify(_alpha**2 * (_n / _m) * _m * relu2)
    unshared = (1 + ratio)**_B
    shared_coefficient = sy.expand(_B**2 + 2 * sy.summation(_j, (_j, 0, _B - 1)) * relu2)
    # the arc-cosine kernel, X = r cos θ, Y = r cos(θ − ψ), ρ = cos ψ: both positive on (ψ − π/2, π/2)
    r, th, psi = sy.symbols("r theta psi", positive=True)
    radial = sy.integrate(r**3 * sy.exp(-r**2 / 2), (r, 0, sy.oo)) / (2 * sy.pi)
    angular = sy.integrate(sy.expand_trig(sy.cos(th) * sy.cos(th - psi)), (th, psi - sy.pi / 2, sy.pi / 2))
    rho = sy.Symbol("rho", positive=True)
    kernel = sy.simplify(sy.expand_trig(radial * angular).subs(psi, sy.acos(rho)))
    # two shared steps at infinite width (‖h_0‖ = 1): a = W₁h_0 and b = W₁W₂u are independent
    # N(0, 2/n) per unit, φ(a + αb) has variance 2(1+α²)/n, corr(a, a + αb) = 1/√(1+α²); so
    # ⟨F₁, F₂⟩ = α²(n/m)⟨u, u'⟩ → α² n·E φ(a)φ(a+αb), ‖F₂‖² → α²(1 + α²), ⟨h_0, F₂⟩ → 0.
    cross12 = sy.simplify(_alpha**2 * 2 * sy.sqrt(1 + _alpha**2) * kernel.subs(rho, 1 / sy.sqrt(1 + _alpha**2)))
    # acos(1/√(1+α²)) = arctan α for α ≥ 0 (a targeted rewrite)
    cross12 = cross12.replace(sy.acos(1 / sy.sqrt(1 + _alpha**2)), sy.atan(_alpha))
    shared_two_step = sy.expand((1 + _alpha**2) + 2 * cross12 + _alpha**2 * (1 + _alpha**2))
    return {"relu2": relu2, "ratio": ratio, "cross": sy.Integer(0), "unshared": unshared,
            "shared_coefficient": shared_coefficient, "kernel": kernel, "cross12": cross12,
            "shared_two_step": shared_two_step}


@lru_cache(maxsize=None)
def _compiled(key: str):
    """(symbol names, mpmath function) generated once from ``branch_exprs()[key]``."""
    expr = branch_exprs()[key]
    syms = sorted(expr.free_symbols, key=lambda s: s.name)
    return tuple(s.name for s in syms), sy.lambdify(syms, expr, modules="mpmath")


def _eval(key: str, **values) -> mp.mpf:
    names, f = _compiled(key)
    with mp.workdps(30):
        return f(*[mp.mpf(values[n]) for n in names])


@constrain(alpha=ALPHAS)
def branch_ratio_mean(alpha) -> float:
    r"""E‖F(h)‖²/‖h‖² = α² for the bias-free He branch F = α W₂ φ(W₁h), any fixed h ≠ 0.

    ``alpha`` α in [0, 1000] (J18's branch scale). Exact; the companion identity E⟨F, h⟩ = 0.
    Source: [derived] (docs/theory.md §13). Gaussian weights, W₁ variance 2/n, W₂ variance 1/m.

    >>> branch_ratio_mean(0.5)
    0.25
    """
    return float(_eval("ratio", alpha=alpha))


@constrain(blocks=_BLOCKS, alpha=ALPHAS)
def unshared_growth(blocks, alpha) -> tuple:
    r"""(E‖h_i‖²/‖h_0‖² for i = 0 … B as floats, and their natural logs): (1 + α²)^i, unshared blocks.

    Exact; [derived]. A value beyond the double range is None (its log is finite).

    >>> unshared_growth(2, 1.0)[0]
    [1.0, 2.0, 4.0]
    """
    # log of the canonical (1 + ratio)^B as B·log1p(ratio): no cancellation when α² is below 10^-30
    ratio = _eval("ratio", alpha=alpha)
    vals, logs = [], []
    with mp.workdps(30):
        step = mp.log1p(ratio)
        for i in range(blocks + 1):
            lg = i * step
            logs.append(float(lg))
            vals.append(float(mp.exp(lg)) if lg < 709 else None)
    return vals, logs


@constrain(blocks=_BLOCKS, width=COUNT)
def shared_growth_coefficient(blocks, width) -> float:
    r"""c_B = lim_{α→0} (E‖h_B‖²/‖h_0‖² − 1)/α² = B² + B(B−1)/n for B **shared** blocks of width n.

    Equivalently ½ d²/dα² E‖h_B‖²/‖h_0‖² at α = 0 (unshared: B). Exact at every finite width n
    and branch width m (m cancels); [derived] (docs/theory.md §13).

    >>> shared_growth_coefficient(2, 4), shared_growth_coefficient(1, 4)
    (4.5, 1.0)
    """
    return float(_eval("shared_coefficient", B=blocks, n=width))


@constrain(alpha=ALPHAS)
def shared_two_step_limit(alpha) -> float:
    r"""lim_{n,m→∞} E‖h_2‖²/‖h_0‖² for two shared blocks: 1 + 4α² + α⁴ + (2α²/π)(α − arctan α).

    An infinite-width limit (finite widths differ by O(1/n)); unshared blocks give (1 + α²)².
    [derived] (docs/theory.md §13).

    >>> round(shared_two_step_limit(1.0), 6)
    6.13662
    """
    return float(_eval("shared_two_step", alpha=alpha))


def taylor_series_check(blocks: int = 3, *, factor=sy.Rational(1, 2)) -> sy.Basic:
    r"""[α¹ coefficient of R] + [α² coefficient of R − ½ Σ_j f_j(h_0)² L''(h_0)] for scalar h, with
    R(α) = L(h_B) − L(h_0) − Σ_j α f_j(h_j) L'(h_j) and h_{j+1} = h_j + α f_j(h_j), where L is a
    generic cubic and each f_j a generic quadratic (symbolic coefficients; only L', L'' and f_j,
    f_j' at h_0 enter these orders). sympy expands it; 0 when the identity holds. ``factor``
    replaces the ½ of the prediction (tests use it to see the check fail).

    >>> taylor_series_check(2)
    0
    """
    a, h0 = sy.symbols("a h0", real=True)
    lc = sy.symbols("l1:4", real=True)
    L = lambda x: sum(c * x**(k + 1) for k, c in enumerate(lc))  # noqa: E731
    fs = []
    for j in range(blocks):
        c = sy.symbols(f"c{j}_0:3", real=True)
        fs.append(lambda x, c=c: c[0] + c[1] * x + c[2] * x**2)
    hs = [h0]
    for j in range(blocks):
        hs.append(hs[-1] + a * fs[j](hs[-1]))
    dL = lambda x: sy.diff(L(_z), _z).subs(_z, x)  # noqa: E731
    R = L(hs[-1]) - L(h0) - sum(a * fs[j](hs[j]) * dL(hs[j]) for j in range(blocks))
    c1 = sy.diff(R, a).subs(a, 0)                      # Taylor coefficients by differentiation at α = 0
    c2 = sy.diff(R, a, 2).subs(a, 0) / 2
    want = factor * sum(fs[j](h0)**2 for j in range(blocks)) * sy.diff(L(_z), _z, 2).subs(_z, h0)
    return sy.expand(c1 + c2 - want)


def derive_refine():
    """Derivation behind ``initbounds refine``: one branch's moments, unshared and shared growth,
    and the Taylor identity (sympy integrates, sums and expands; the printed expressions are the
    evaluated ones)."""
    from .derivation import Derivation, Step

    e = branch_exprs()
    q, G = sy.Symbol("E‖h_B‖²/‖h_0‖²"), sy.Symbol("E‖h_2‖²/‖h_0‖²")
    steps = (
        Step("One branch F = α W₂ φ(W₁h), fixed h with ‖h‖ = 1: a = W₁h has i.i.d. N(0, 2/n) entries, "
             "so E φ(a_k)² (sympy's integral) is", sy.Eq(sy.Symbol("E φ(a_k)²"), e["relu2"]), citation="J18",
             assumptions=("W₁ ∈ R^{m×n} variance 2/n, W₂ ∈ R^{n×m} variance 1/m, Gaussian", "no biases",
                          "φ = ReLU")),
        Step("Given u = φ(a), E‖W₂u‖² = (n/m)‖u‖² and E⟨W₂u, h⟩ = 0, so E‖F‖²/‖h‖² and E⟨F, h⟩ are",
             sy.Tuple(sy.Eq(sy.Symbol("E‖F‖²/‖h‖²"), e["ratio"]), sy.Eq(sy.Symbol("E⟨F,h⟩"), e["cross"])),
             citation="J18"),
        Step("Unshared blocks are independent given the past, so the second moment grows by 1 + α² per block "
             "(HR18's mean factor):", sy.Eq(q, e["unshared"]), citation="J18"),
        Step("Shared blocks: to first order every step adds the same F⁽⁰⁾ = α W₂ φ(W₁h_0); the α² term is "
             "B²‖F⁽⁰⁾‖²/α² plus 2Σ_j j·E[h_0ᵀW₂ D W₁W₂ u] with D = diag φ'(a), whose W₂-pairing gives "
             "(1/m)Σ_k φ(a_k)². sympy's sum:",
             sy.Eq(sy.Symbol("lim (E‖h_B‖²/‖h_0‖² − 1)/α² (shared)"), e["shared_coefficient"]), citation="J18",
             assumptions=("finite n, m (m cancels)", "unshared: B")),
        Step("Arc-cosine kernel by polar integration (standard normal X, Y, correlation ρ):",
             sy.Eq(sy.Symbol("E φ(X)φ(Y)"), e["kernel"]), citation="J18"),
        Step("Two shared steps, n, m → ∞: W₁W₂u is independent of W₁h_0 in the limit, corr(a, a + αb) = "
             "1/√(1+α²), so 2⟨F₁, F₂⟩ → 2·(this), ‖F₂‖² → α²(1+α²), ⟨h_0, F₂⟩ → 0:",
             sy.Eq(sy.Symbol("⟨F₁,F₂⟩ (limit)"), e["cross12"]), citation="J18"),
        Step("Hence (unshared: (1 + α²)²)", sy.Eq(G, e["shared_two_step"]), citation="J18",
             assumptions=("n, m → ∞ with α fixed", "α ≥ 0 (even in α)")),
        Step("Taylor identity (J18 eq. 3): with L the head's loss at h and g_j = ∇L(h_j), "
             "R(α) = L(h_B) − L(h_0) − Σ_j ⟨F_j, g_j⟩ = α²·½Σ_j f_jᵀ∇²L(h_0) f_j + O(α³): slope 2 on log-log. "
             "sympy's series check for scalar h, three blocks (zero = identity holds):",
             sy.Eq(sy.Symbol("[α¹ + α² coefficient] − prediction"), taylor_series_check(3)), citation="J18",
             assumptions=("weights fixed as α → 0", "smooth at h_0 (ReLU: almost surely no unit at a kink)")),
    )
    return Derivation("Residual blocks as iterative refinement: closed forms at initialization (J18)", steps)


@constrain(blocks=_BLOCKS, width=COUNT, alpha=ALPHAS)
def refine_report(blocks, width, alpha) -> Report:
    """The closed forms at initialization that ``initbounds refine`` prints beside its measurements.

    >>> refine_report(8, 32, 0.5)["unshared_growth"][-1] > 1
    True
    """
    growth, logs = unshared_growth(blocks, alpha)
    out = {
        "branch_ratio_mean": branch_ratio_mean(alpha), "branch_cross_mean": 0.0,
        "unshared_growth": growth, "log_unshared_growth": logs,
        "shared_growth_coefficient": shared_growth_coefficient(blocks, width),
        "unshared_growth_coefficient": float(blocks),
        "shared_two_step_limit": shared_two_step_limit(alpha),
        "unshared_two_step": float((1 + alpha**2)**2),
    }
    g = growth[-1]
    rows = (
        ("E‖F‖²/‖h‖² = α²", f"{out['branch_ratio_mean']:.6g}", "derived (J18 setting)"),
        ("E⟨F, h⟩", "0", "derived"),
        (f"E‖h_B‖²/‖h_0‖² unshared = (1+α²)^B, B = {blocks}", f"{g:.6g}" if g is not None else f"e^{logs[-1]:.6g}",
         "derived"),
        ("α² coefficient of E‖h_B‖²/‖h_0‖², shared: B² + B(B−1)/n", f"{out['shared_growth_coefficient']:.6g}",
         "derived (unshared: B)"),
        ("E‖h_2‖²/‖h_0‖², two shared steps, n → ∞", f"{out['shared_two_step_limit']:.6g}",
         f"derived limit (unshared: {out['unshared_two_step']:.6g})"),
    )
    return Report("Closed forms at initialization (bias-free He branch)", rows, out,
                  assumptions=("Gaussian weights, W₁ variance 2/n, W₂ variance 1/m, no biases, no norm layers",))
