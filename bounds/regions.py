r"""Activation regions of ReLU networks at initialization (HR19; docs/theory.md §8).

A *region* is a connected piece of input space (of a segment, a window of a plane) on which the
activation pattern — which units have a positive pre-activation — is constant. HR19
(Hanin & Rolnick, arXiv 1906.00904) claim that the expected number of regions is of the order of
(total number of neurons)^{n_0}, independent of depth. This module holds the exact expectations we
derived for the cases that have one, and that claim, labelled as the paper's:

* **first layer along a segment** x0 → x1 (weights N(0, σ_w²), σ_w² = c/fan, biases N(0, σ_b²)):
  unit i changes sign on the segment iff z_i(x0), z_i(x1) differ in sign; they are centred jointly
  Gaussian with correlation ρ = cos ∠(X0, X1), X = (σ_w x, σ_b) the *lifted* input, so
  E[#breakpoints] = n_1·∠(X0, X1)/π (Sheppard) and E[#regions] = 1 + that;
* **one hidden layer, 2-D input, convex window K**: the units' zero sets are lines
  {x : w·x + b = 0}. For σ_b > 0 they are in general position almost surely, and Euler's relation
  for a line arrangement cut by a convex set gives #regions = 1 + #(lines meeting K) +
  #(crossings inside K), so E[#regions] = 1 + n·P_line(K) + C(n, 2)·P_pair(K), with

  - P_line(K) = (1/2π)∫ g(h_K(φ)) dφ, g(h) = σ_w h/√(σ_b² + σ_w² h²), h_K the support function
    (the line's distance −b/|w| is σ_b/σ_w times a Student t₂/√2 variable);
  - P_pair(K) = ∫_K p, with the crossing point's density from Kac–Rice,
    p(x) = E[|det W| δ(Wx + b)] = σ_w² σ_b / (2π (σ_w²‖x‖² + σ_b²)^{3/2})
    (a bivariate Cauchy law of scale σ_b/σ_w).

  Equivalently (spherical Crofton): (w/σ_w, b/σ_b) is a standard Gaussian in R³, so each line is
  the trace of a uniform random great circle, and with C the central projection of
  {(σ_w x, σ_b) : x ∈ K} on S², P_line = perimeter(C)/(2π) and P_pair = area(C)/(2π). That form
  evaluates any convex polygon (a window on a slice of a higher-dimensional input included).
  Zero bias is the degenerate case: every line passes through the origin, so K ∋ 0 (interior)
  holds exactly 2n regions.

Every formula is one sympy expression (``*_EXPR``, built on first use), evaluated by the mpmath
function generated from it. The first-layer angle is evaluated in its atan2 form from inner
products summed exactly at 60 digits, so it stays accurate for nearly parallel ends, where acos of
a rounded ρ does not; a test checks it against the acos form at 80 digits. [derived; the setting and the depth claim are HR19's]
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import mpmath as mp
import numpy as np

from .errors import COUNT, FANS, NONNEGATIVE, POSITIVE, WIDTHS, DomainError, Options, constrain
from .report import Report

__all__ = [
    "FIRST_LAYER_EXPR", "RHO_EXPR", "ANGLE_ATAN2_EXPR", "LINE_GIVEN_SUPPORT_EXPR", "LINE_DISK_EXPR",
    "LINE_SQUARE_EXPR", "DENSITY_EXPR", "PAIR_DISK_EXPR", "PAIR_SQUARE_EXPR", "REGIONS_EXPR",
    "ARC_EXPR", "TRIANGLE_EXPR", "sympy_results",
    "weight_std", "lifted_angle", "first_layer_breakpoints", "first_layer_regions", "SegmentExpectation",
    "first_layer_segment", "default_segment",
    "Window", "square_window", "disk_window", "polygon_window",
    "WindowExpectation", "one_layer_regions_2d", "one_layer_regions_slice",
    "PaperClaim", "regions_paper_claim", "max_regions_segment", "max_regions_plane", "derive_regions", "MODES", "regions_report",
]

_DPS = 40

# --- symbols and the canonical expressions ------------------------------------------------------
# The evaluated expressions are built on first use without integrating (so `initbounds regions`
# starts fast); :func:`sympy_results` lets sympy do the integrals behind them, and the derivation
# prints those results; a test checks each equal to the evaluated expression.
_EXPR_NAMES = ("RHO_EXPR", "FIRST_LAYER_EXPR", "ANGLE_ATAN2_EXPR", "LINE_GIVEN_SUPPORT_EXPR",
               "LINE_DISK_EXPR", "LINE_SQUARE_EXPR", "DENSITY_EXPR", "DENSITY_KAC_RICE",
               "PAIR_DISK_EXPR", "PAIR_SQUARE_EXPR", "REGIONS_EXPR", "ARC_EXPR", "TRIANGLE_EXPR",
               "LINE_GIVEN_SUPPORT_INTEGRAL", "LINE_SQUARE_INTEGRAL", "PAIR_DISK_INTEGRAL",
               "PAIR_SQUARE_INTEGRAL", "SYMBOLS")


@lru_cache(maxsize=None)
def _symbolic() -> dict:
    import sympy as sy

    n = sy.Symbol("n", positive=True, integer=True)
    sw = sy.Symbol("sigma_w", positive=True)          # weight standard deviation per entry
    sb = sy.Symbol("sigma_b", positive=True)          # bias standard deviation
    q0, q1 = sy.Symbol("q_0", positive=True), sy.Symbol("q_1", positive=True)   # ‖x0‖², ‖x1‖²
    p = sy.Symbol("p", real=True)                     # x0·x1
    a, R, r, h = (sy.Symbol(s, positive=True) for s in ("a", "R", "r", "h"))
    u, rr = sy.Symbol("u", positive=True), sy.Symbol("varrho", positive=True)
    P_l, P_p = sy.Symbol("P_line", positive=True), sy.Symbol("P_pair", positive=True)

    # first layer: correlation of the two pre-activations, Sheppard's formula
    rho = (sw**2 * p + sb**2) / sy.sqrt((sw**2 * q0 + sb**2) * (sw**2 * q1 + sb**2))
    first = n * sy.acos(rho) / sy.pi
    # 1 − ρ² = (σ_w⁴ (q0 q1 − p²) + σ_w² σ_b² (q0 + q1 − 2p)) / ((σ_w² q0 + σ_b²)(σ_w² q1 + σ_b²))
    num = sy.expand((sw**2 * q0 + sb**2) * (sw**2 * q1 + sb**2) - (sw**2 * p + sb**2) ** 2)
    num = sy.collect(num, [sw**4, sw**2 * sb**2])
    angle_atan2 = sy.atan2(sy.sqrt(num), sw**2 * p + sb**2)

    # P(line meets K | direction) = ½[g(h(u)) + g(h(−u))]: P(|b| ≤ ϱ h) = erf(ϱ h/(σ_b √2))
    # integrated against the Rayleigh law of ϱ = |w|
    g_int = sy.Integral(sy.erf(rr * h / (sb * sy.sqrt(2))) * rr / sw**2 * sy.exp(-rr**2 / (2 * sw**2)),
                        (rr, 0, sy.oo))
    g = h * sw / sy.sqrt(h**2 * sw**2 + sb**2)
    line_disk = g.subs(h, R)
    # square [−a, a]²: h(φ) = √2 a cos(φ − π/4) on a quarter turn; with u = sin(φ − π/4)
    # (4/π)∫_0^{π/4} g(√2 a cos ψ) dψ = (4/π)∫_0^{1/√2} √2 a σ_w / √(σ_b² + 2a²σ_w²(1 − u²)) du
    line_sq_int = 4 / sy.pi * sy.Integral(sy.sqrt(2) * a * sw / sy.sqrt(sb**2 + 2 * a**2 * sw**2 * (1 - u**2)),
                                          (u, 0, 1 / sy.sqrt(2)))
    line_square = 4 / sy.pi * sy.asin(a * sw / sy.sqrt(2 * a**2 * sw**2 + sb**2))

    # Kac–Rice: given Wx + b = 0 the components of the rows along x have variance
    # τ² = σ_w²σ_b²/(σ_w² r² + σ_b²), the orthogonal ones σ_w²: E|det W| = τ σ_w; the density of
    # Wx + b at 0 is 1/(2π(σ_w² r² + σ_b²))
    tau = sw * sb / sy.sqrt(sw**2 * r**2 + sb**2)
    density_kr = sy.Mul(tau * sw, sy.Pow(2 * sy.pi * (sw**2 * r**2 + sb**2), -1, evaluate=False), evaluate=False)
    density = sw**2 * sb / (2 * sy.pi * (sw**2 * r**2 + sb**2) ** sy.Rational(3, 2))
    pair_disk_int = sy.Integral(2 * sy.pi * r * density, (r, 0, R))
    # without cancellation: 1 − σ_b/S = σ_w²R²/(S(S + σ_b)), S = √(σ_b² + σ_w²R²)
    S = sy.sqrt(sb**2 + sw**2 * R**2)
    pair_disk = sw**2 * R**2 / (S * (S + sb))
    # square: eight triangles (0, edge at distance a), polar angle φ ∈ [0, π/4], radial integral
    # 1 − σ_b/√(σ_b² + σ_w² a²/cos²φ); with u = sin φ the angular integral
    pair_sq_int = 4 / sy.pi * (sy.pi / 4 - sy.Integral(sb / sy.sqrt(sb**2 * (1 - u**2) + sw**2 * a**2),
                                                       (u, 0, 1 / sy.sqrt(2))))
    pair_square = 2 / sy.pi * sy.asin(sw**2 * a**2 / (sw**2 * a**2 + sb**2))

    regions = 1 + n * P_l + sy.expand_func(sy.binomial(n, 2)) * P_p     # C(n, 2) = n(n − 1)/2

    # spherical Crofton for a polygon: lifted vertices U = (σ_w x, σ_w y, σ_b)
    U = sy.Matrix(sy.symbols("U_1 U_2 U_3", real=True))
    V = sy.Matrix(sy.symbols("V_1 V_2 V_3", real=True))
    Wv = sy.Matrix(sy.symbols("W_1 W_2 W_3", real=True))
    arc = sy.atan2(sy.sqrt(U.cross(V).dot(U.cross(V))), U.dot(V))
    nu, nv, nw = (sy.sqrt(X.dot(X)) for X in (U, V, Wv))
    # Van Oosterom–Strackee: solid angle of the spherical triangle U, V, W
    tri = 2 * sy.atan2(U.dot(V.cross(Wv)), nu * nv * nw + U.dot(V) * nw + U.dot(Wv) * nv + V.dot(Wv) * nu)
    return {
        "RHO_EXPR": rho, "FIRST_LAYER_EXPR": first, "ANGLE_ATAN2_EXPR": angle_atan2,
        "LINE_GIVEN_SUPPORT_EXPR": g, "LINE_GIVEN_SUPPORT_INTEGRAL": g_int, "LINE_DISK_EXPR": line_disk,
        "LINE_SQUARE_EXPR": line_square, "LINE_SQUARE_INTEGRAL": line_sq_int,
        "DENSITY_EXPR": density, "DENSITY_KAC_RICE": density_kr,
        "PAIR_DISK_EXPR": pair_disk, "PAIR_DISK_INTEGRAL": pair_disk_int,
        "PAIR_SQUARE_EXPR": pair_square, "PAIR_SQUARE_INTEGRAL": pair_sq_int,
        "REGIONS_EXPR": regions, "ARC_EXPR": arc, "TRIANGLE_EXPR": tri,
        "SYMBOLS": {"n": n, "sigma_w": sw, "sigma_b": sb, "q_0": q0, "q_1": q1, "p": p, "a": a, "R": R,
                    "r": r, "h": h, "P_line": P_l, "P_pair": P_p, "U": tuple(U), "V": tuple(V), "W": tuple(Wv)},
    }


@lru_cache(maxsize=None)
def sympy_results() -> dict:
    """What sympy produces for the integrals behind the evaluated expressions (a few seconds;
    cached): keys LINE_GIVEN_SUPPORT, LINE_SQUARE, PAIR_DISK, PAIR_SQUARE, each paired in the
    derivation (and in the tests) with the expression that is evaluated."""
    import sympy as sy

    E = _symbolic()
    return {
        "LINE_GIVEN_SUPPORT": sy.simplify(E["LINE_GIVEN_SUPPORT_INTEGRAL"].doit()),
        "LINE_SQUARE": E["LINE_SQUARE_INTEGRAL"].doit(),
        "PAIR_DISK": E["PAIR_DISK_INTEGRAL"].doit(),
        "PAIR_SQUARE": E["PAIR_SQUARE_INTEGRAL"].doit(),
    }


def __getattr__(name):
    if name in _EXPR_NAMES:
        return _symbolic()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@lru_cache(maxsize=None)
def _fn(name: str):
    """The mpmath function generated from expression ``name`` (arguments sorted by symbol name)."""
    import sympy as sy

    expr = _symbolic()[name]
    syms = sorted(expr.free_symbols, key=lambda s: s.name)
    return tuple(s.name for s in syms), sy.lambdify(syms, expr, modules="mpmath")


def _eval(name: str, **values) -> float:
    names, f = _fn(name)
    with mp.workdps(_DPS):
        return float(f(*(mp.mpf(values[k]) if not isinstance(values[k], int) else values[k] for k in names)))


# --- argument checks -----------------------------------------------------------------------------
def _vector(name: str, x, dim: int | None = None) -> np.ndarray:
    if isinstance(x, (str, bytes, bool)) or x is None:
        raise DomainError(f"{name} must be a 1-D array of finite reals; got {x!r}")
    try:
        v = np.asarray(x, dtype=float)
    except (TypeError, ValueError):
        raise DomainError(f"{name} must be a 1-D array of finite reals; got {x!r}")
    if v.ndim != 1 or v.size == 0:
        raise DomainError(f"{name} must be a 1-D array of finite reals; got shape {v.shape}")
    if not np.all(np.isfinite(v)):
        raise DomainError(f"{name} must be finite; got {x!r}")
    if dim is not None and v.size != dim:
        raise DomainError(f"{name} must have {dim} entries; got {v.size}")
    return v


@constrain(weight_var=POSITIVE, fan=FANS)
def weight_std(weight_var, *, fan: str, fan_in: int, fan_out: int) -> float:
    """σ_w = √(c/fan) for ``weight_var`` c (Var W = c/fan): fan="in" divides by the layer's input
    width, fan="out" by its output width."""
    return math.sqrt(weight_var / (fan_in if fan == "in" else fan_out))


def _exact_dot(a: np.ndarray, b: np.ndarray) -> mp.mpf:
    """Σ a_i b_i of the exact values of the doubles, rounded once to the working precision.

    Each double is m·2^e with an integer m of ≤ 53 bits (np.frexp); the products are summed as
    Python integers shifted to the smallest exponent, which is exact (mp.fsum over mpf products
    gave the same number 20× slower: 0.6 s at 10^5 coordinates).
    """
    ma, ea = np.frexp(a)
    mb, eb = np.frexp(b)
    ia, ib = (ma * 2.0**53).astype(np.int64).tolist(), (mb * 2.0**53).astype(np.int64).tolist()
    e = (ea.astype(np.int64) + eb.astype(np.int64) - 106)
    if e.size == 0:
        return mp.mpf(0)
    e0 = int(e.min())
    total = sum(x * y << s for x, y, s in zip(ia, ib, (e - e0).tolist()))
    return mp.ldexp(mp.mpf(total), e0)


def lifted_angle(x0, x1, *, weight_var_entry, bias_var) -> float:
    r"""∠(X0, X1) ∈ [0, π] for the lifted inputs X = (σ_w x, σ_b), from ``ANGLE_ATAN2_EXPR``.

    .. math:: \angle = \mathrm{atan2}\big(\sqrt{\sigma_w^4(q_0q_1 - p^2) + \sigma_w^2\sigma_b^2(q_0 + q_1 - 2p)},
              \ \sigma_w^2 p + \sigma_b^2\big)

    q0 = ‖x0‖², q1 = ‖x1‖², p = x0·x1 are summed from the exact values of the floats and the
    expression is evaluated at 60 digits, so the angle keeps full relative accuracy as ρ → 1
    (where acos of a rounded ρ loses it). ``weight_var_entry`` is σ_w² (per entry), ``bias_var``
    σ_b². Equals acos ρ of ``RHO_EXPR``; 0 when a lifted end is 0 (then its pre-activations are
    exactly 0 and no zero lies strictly inside the segment).
    """
    names, f = _fn("ANGLE_ATAN2_EXPR")
    a0, a1 = np.asarray(x0, dtype=float).ravel(), np.asarray(x1, dtype=float).ravel()
    if a0.shape == a1.shape:
        # coordinates where both ends are 0 add exactly 0 to every sum: skipped (issue 11: the default
        # segment at n0 = 10^6 has 2 non-zero coordinates, and the 60-digit sums took 47 s over all)
        nz = np.flatnonzero((a0 != 0) | (a1 != 0))
        a0, a1 = a0[nz], a1[nz]
    with mp.workdps(60):
        vals = {
            "q_0": _exact_dot(a0, a0), "q_1": _exact_dot(a1, a1), "p": _exact_dot(a0, a1),
            "sigma_w": mp.sqrt(mp.mpf(weight_var_entry)), "sigma_b": mp.sqrt(mp.mpf(bias_var)),
        }
        return float(f(*(vals[k] for k in names)))


# --- first layer along a segment -----------------------------------------------------------------
@dataclass(frozen=True)
class SegmentExpectation:
    """Exact first-layer expectations along a segment (see :func:`first_layer_segment`)."""

    width: int
    input_dim: int
    rho: float            # correlation of z(x0) and z(x1)
    angle: float          # ∠(X0, X1) in [0, π]
    breakpoints: float    # E[#breakpoints] = n·angle/π
    regions: float        # 1 + breakpoints
    weight_std: float
    bias_std: float
    source: str = "derived (HR19 setting; docs/theory.md §8)"

    def as_dict(self) -> dict:
        return dict(self.__dict__)


@constrain(width=COUNT, bias_var=NONNEGATIVE, weight_var=POSITIVE, fan=FANS)
def first_layer_segment(x0, x1, width, *, weight_var=2.0, bias_var, fan: str = "in") -> SegmentExpectation:
    r"""Expected breakpoints and regions of the first layer along the segment x0 → x1.

    .. math:: E[\#\text{breakpoints}] = n_1\,\frac{\arccos\rho}{\pi},\quad
              \rho = \frac{\sigma_w^2 x_0\cdot x_1 + \sigma_b^2}
                          {\sqrt{(\sigma_w^2\|x_0\|^2+\sigma_b^2)(\sigma_w^2\|x_1\|^2+\sigma_b^2)}}

    Args:
        x0, x1: the segment's ends in R^{n_0} (finite, same length n_0).
        width: n_1 ≥ 1, the first layer's width.
        weight_var: c > 0 with Var W = c/fan (He: 2); σ_w² = c/n_0 (fan="in") or c/n_1 ("out").
        bias_var: σ_b² ≥ 0 (zero bias: ρ is the cosine of the angle between x0 and x1).
        fan: "in" or "out".

    Returns a :class:`SegmentExpectation` (exact values; regions = 1 + breakpoints; a breakpoint
    is a zero strictly inside the segment). The angle is evaluated without cancellation (see
    :func:`lifted_angle`; full double accuracy, also for nearly parallel ends). Raises
    DomainError on bad arguments.
    Source: our derivation (Sheppard's formula for the sign change of two correlated Gaussians),
    docs/theory.md §8; the setting is HR19's (arXiv 1906.00904). Assumptions: i.i.d. centred Gaussian
    weights and biases.

    >>> e = first_layer_segment([1.0, 0.0], [0.0, 1.0], 16, bias_var=0.0)
    >>> e.breakpoints          # orthogonal ends, zero bias: n/2
    8.0
    """
    n, s2 = width, bias_var
    x0 = _vector("x0", x0)
    x1 = _vector("x1", x1, dim=x0.size)
    sw = weight_std(weight_var, fan=fan, fan_in=x0.size, fan_out=n)
    sb = math.sqrt(s2)
    with mp.workdps(60):
        sw2 = mp.mpf(float(weight_var)) / (x0.size if fan == "in" else n)
    ang = lifted_angle(x0, x1, weight_var_entry=sw2, bias_var=s2)
    bp = n * ang / math.pi
    return SegmentExpectation(n, x0.size, math.cos(ang), ang, bp, 1.0 + bp, sw, sb)


def first_layer_breakpoints(x0, x1, width, *, weight_var=2.0, bias_var, fan: str = "in") -> float:
    """E[#breakpoints of the first layer] along x0 → x1 = n_1·∠(X0, X1)/π (see
    :func:`first_layer_segment`).

    >>> first_layer_breakpoints([-1.0], [1.0], 10, bias_var=0.0)   # through the origin: every unit
    10.0
    """
    return first_layer_segment(x0, x1, width, weight_var=weight_var, bias_var=bias_var, fan=fan).breakpoints


def first_layer_regions(x0, x1, width, *, weight_var=2.0, bias_var, fan: str = "in") -> float:
    """E[#regions of the first layer] along x0 → x1 = 1 + n_1·∠(X0, X1)/π.

    >>> first_layer_regions([1.0, 0.0], [1.0, 0.0], 7, bias_var=1.0)   # a point: one region
    1.0
    """
    return first_layer_segment(x0, x1, width, weight_var=weight_var, bias_var=bias_var, fan=fan).regions


@constrain(input_dim=COUNT)
def default_segment(input_dim) -> tuple:
    """The toolkit's default segment: x0 = √n0·e1 → x1 = √n0·e2 (n0 ≥ 2; both of norm √n0, i.e.
    per-coordinate mean square 1, at a right angle); for n0 = 1, x0 = −1 → x1 = +1.

    >>> [v.tolist() for v in default_segment(2)]
    [[1.4142135623730951, 0.0], [0.0, 1.4142135623730951]]
    """
    d = input_dim
    if d == 1:
        return np.array([-1.0]), np.array([1.0])
    x0, x1 = np.zeros(d), np.zeros(d)
    x0[0] = x1[1] = math.sqrt(d)
    return x0, x1


# --- windows ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Window:
    """A convex window in the plane: a square [−a, a]² ("square", size a), a disk of radius R
    centred at the origin ("disk", size R), or a convex polygon ("polygon"; vertices
    counter-clockwise; a square also carries its vertices)."""

    kind: str
    size: float | None
    vertices: tuple

    def describe(self) -> str:
        if self.kind == "square":
            return f"square [−{self.size:g}, {self.size:g}]²"
        if self.kind == "disk":
            return f"disk of radius {self.size:g}"
        return "polygon " + ", ".join(f"({x:g}, {y:g})" for x, y in self.vertices)

    def as_dict(self) -> dict:
        return {"kind": self.kind, "size": self.size, "vertices": [list(v) for v in self.vertices]}


@constrain(half_side=POSITIVE)
def square_window(half_side) -> Window:
    """The square [−a, a]² (a > 0).

    >>> square_window(1.0).vertices
    ((1.0, -1.0), (1.0, 1.0), (-1.0, 1.0), (-1.0, -1.0))
    """
    a = half_side
    return Window("square", a, ((a, -a), (a, a), (-a, a), (-a, -a)))


@constrain(radius=POSITIVE)
def disk_window(radius) -> Window:
    """The disk of radius R > 0 centred at the origin."""
    return Window("disk", radius, ())


def polygon_window(vertices) -> Window:
    """A convex polygon from ≥ 3 vertices in order (either orientation; stored counter-clockwise).

    Raises DomainError unless the polygon is strictly convex with positive area.

    >>> polygon_window([(0, 0), (1, 0), (0, 1)]).kind
    'polygon'
    """
    try:
        v = np.asarray(vertices, dtype=float)
    except (TypeError, ValueError):
        raise DomainError(f"vertices must be a sequence of (x, y) pairs; got {vertices!r}")
    if v.ndim != 2 or v.shape[1] != 2 or v.shape[0] < 3:
        raise DomainError(f"vertices must hold at least 3 (x, y) pairs; got shape {v.shape}")
    if not np.all(np.isfinite(v)):
        raise DomainError("vertices must be finite")
    e = np.roll(v, -1, axis=0) - v
    cross = e[:, 0] * np.roll(e, -1, axis=0)[:, 1] - e[:, 1] * np.roll(e, -1, axis=0)[:, 0]
    if np.all(cross < 0):
        v = v[::-1]
    elif not np.all(cross > 0):
        raise DomainError("vertices must form a strictly convex polygon with positive area, in order")
    return Window("polygon", None, tuple((float(x), float(y)) for x, y in v))


def _window(window) -> Window:
    if not isinstance(window, Window):
        raise DomainError(f"window must be a Window (square_window, disk_window, polygon_window); got {window!r}")
    return window


def _origin_position(verts: np.ndarray) -> str:
    """'interior', 'boundary' or 'outside' for a counter-clockwise convex polygon."""
    e = np.roll(verts, -1, axis=0) - verts
    c = e[:, 0] * (-verts[:, 1]) - e[:, 1] * (-verts[:, 0])   # cross(edge, 0 − vertex)
    if np.all(c > 0):
        return "interior"
    if np.all(c >= 0):
        return "boundary"
    return "outside"


def _span_angle(verts: np.ndarray) -> float:
    """Angle of the cone from the origin spanned by the polygon (origin not in its interior)."""
    pts = verts[np.hypot(verts[:, 0], verts[:, 1]) > 0]
    mid = np.arctan2(*pts.mean(axis=0)[::-1])
    rel = np.angle(np.exp(1j * (np.arctan2(pts[:, 1], pts[:, 0]) - mid)))
    return float(min(math.pi, rel.max() - rel.min()))


def _polygon_probabilities(verts: np.ndarray, sw: float, sb: float) -> tuple:
    """(P_line, P_pair) = (perimeter, area)/(2π) of the projected spherical polygon (σ_b > 0)."""
    U = [(sw * x, sw * y, sb) for x, y in verts]
    names_a, arc = _fn("ARC_EXPR")
    names_t, tri = _fn("TRIANGLE_EXPR")

    def call(names, f, **vec):
        vals = {f"{k}_{i + 1}": mp.mpf(c) for k, X in vec.items() for i, c in enumerate(X)}
        return f(*(vals[nm] for nm in names))

    with mp.workdps(_DPS):
        m = len(U)
        per = mp.fsum(call(names_a, arc, U=U[i], V=U[(i + 1) % m]) for i in range(m))
        area = mp.fsum(call(names_t, tri, U=U[0], V=U[i], W=U[i + 1]) for i in range(1, m - 1))
        return float(per / (2 * mp.pi)), float(area / (2 * mp.pi))


# --- one hidden layer, 2-D windows ---------------------------------------------------------------
@dataclass(frozen=True)
class WindowExpectation:
    """E[#regions] of one hidden ReLU layer in a planar window (see :func:`one_layer_regions_2d`)."""

    width: int
    window: Window
    p_line: float          # P(a unit's line meets the window)
    p_pair: float          # P(two units' lines cross inside the window)
    regions: float         # 1 + n·P_line + C(n, 2)·P_pair (2n when every line passes through
                           # an interior origin, zero bias)
    weight_std: float      # σ_w of the plane's (isotropic) weights
    bias_std: float        # σ_b of the plane's effective bias
    general_position: bool  # False for zero bias (lines through one point)
    method: str            # "closed form (square)", "closed form (disk)", "spherical polygon", "zero bias"
    source: str = "derived (HR19 setting; docs/theory.md §8)"

    def as_dict(self) -> dict:
        d = dict(self.__dict__)
        d["window"] = self.window.as_dict()
        return d


def _regions(n: int, pl: float, pp: float) -> float:
    return _eval("REGIONS_EXPR", n=n, P_line=pl, P_pair=pp)


def _window_expectation(n: int, w: Window, sw: float, sb: float) -> WindowExpectation:
    if sb == 0.0:
        verts = np.array(w.vertices) if w.kind != "disk" else None
        pos = "interior" if verts is None else _origin_position(verts)
        if pos == "interior":
            return WindowExpectation(n, w, 1.0, 1.0, float(2 * n), sw, 0.0, False, "zero bias")
        q = _span_angle(verts) / math.pi
        return WindowExpectation(n, w, q, 0.0, 1.0 + n * q, sw, 0.0, False, "zero bias")
    if w.kind == "disk":
        pl = _eval("LINE_DISK_EXPR", sigma_w=sw, sigma_b=sb, R=w.size)
        pp = _eval("PAIR_DISK_EXPR", sigma_w=sw, sigma_b=sb, R=w.size)
        method = "closed form (disk)"
    elif w.kind == "square":
        pl = _eval("LINE_SQUARE_EXPR", sigma_w=sw, sigma_b=sb, a=w.size)
        pp = _eval("PAIR_SQUARE_EXPR", sigma_w=sw, sigma_b=sb, a=w.size)
        method = "closed form (square)"
    else:
        pl, pp = _polygon_probabilities(np.array(w.vertices), sw, sb)
        method = "spherical polygon"
    return WindowExpectation(n, w, pl, pp, _regions(n, pl, pp), sw, sb, True, method)


@constrain(width=COUNT, bias_var=NONNEGATIVE, weight_var=POSITIVE, fan=FANS)
def one_layer_regions_2d(width, window, *, weight_var=2.0, bias_var, fan: str = "in") -> WindowExpectation:
    r"""Expected number of regions of one hidden ReLU layer (input dimension n_0 = 2) in a window.

    .. math:: E[\#\text{regions in }K] = 1 + n\,P_\text{line}(K) + \binom{n}{2} P_\text{pair}(K)

    Square [−a, a]² and centred disk of radius R (σ = σ_w, β = σ_b):
    P_line = (4/π) asin(σa/√(2σ²a² + β²)), P_pair = (2/π) asin(σ²a²/(σ²a² + β²));
    P_line = σR/√(β² + σ²R²), P_pair = 1 − β/√(β² + σ²R²). Convex polygons: perimeter and area of
    the projected spherical polygon over 2π (spherical Crofton). Zero bias: 2n regions when the
    origin is inside K, else 1 + n·(angle K subtends at 0)/π.

    Args:
        width: n ≥ 1 hidden units.
        window: a :class:`Window` (square_window, disk_window, polygon_window).
        weight_var: c > 0 with Var W = c/fan (He: 2); σ_w² = c/n_0 = c/2 (fan="in") or c/n ("out").
        bias_var: σ_b² ≥ 0.
        fan: "in" or "out".

    Returns a :class:`WindowExpectation` (exact expectation, to ~1e-15 relative). A region is a
    connected piece of K with a constant activation pattern (for one layer each pattern occurs
    in one piece). Source: our derivation (Euler's relation for line arrangements, Kac–Rice,
    Crofton), docs/theory.md §8; the setting is HR19's (arXiv 1906.00904). Assumptions: i.i.d. centred
    Gaussian weights and biases.

    >>> round(one_layer_regions_2d(10, square_window(1.0), weight_var=2.0, bias_var=1.0).regions, 6)
    23.836531
    >>> one_layer_regions_2d(10, disk_window(1.0), bias_var=0.0).regions
    20.0
    """
    n, s2 = width, bias_var
    w = _window(window)
    sw = weight_std(weight_var, fan=fan, fan_in=2, fan_out=n)
    return _window_expectation(n, w, sw, math.sqrt(s2))


@constrain(width=COUNT, bias_var=NONNEGATIVE, weight_var=POSITIVE, fan=FANS)
def one_layer_regions_slice(width, window, *, centre, directions, weight_var=2.0, bias_var,
                            fan: str = "in") -> WindowExpectation:
    r"""E[#regions] of one hidden layer on a 2-D slice {c + u·d₁ + v·d₂ : (u, v) ∈ K} of R^{n_0}.

    With [d₁ d₂] = QR (Q orthonormal), the restricted unit is w·x + b = (Qᵀw)·(R(u, v) + Qᵀc) + b′
    where Qᵀw ~ N(0, σ_w² I₂) and b′ = w·c_⊥ + b ~ N(0, σ_w²‖c_⊥‖² + σ_b²) is independent of it
    (c_⊥ = c − QQᵀc). So the slice is the plane case with window R·K + Qᵀc and bias variance
    σ_w²‖c_⊥‖² + σ_b². A disk window needs orthonormal directions and c ⊥ d₁, d₂ (else use a polygon).

    Args: width n ≥ 1; window in (u, v) coordinates; centre c ∈ R^{n_0}; directions (d₁, d₂),
    linearly independent; weight_var c > 0 with Var W = c/fan (He: 2), bias_var σ_b², fan as in
    :func:`one_layer_regions_2d` (fan="in" divides by n_0 = len(centre)).

    >>> e = one_layer_regions_slice(10, square_window(1.0), centre=[0.0, 0.0],
    ...                             directions=[[1.0, 0.0], [0.0, 1.0]], bias_var=1.0)
    >>> round(e.regions, 6)
    23.836531
    """
    n, s2 = width, bias_var
    w = _window(window)
    c = _vector("centre", centre)
    try:
        D = np.asarray(directions, dtype=float)
    except (TypeError, ValueError):
        raise DomainError(f"directions must be two vectors of length {c.size}; got {directions!r}")
    if D.shape != (2, c.size) or not np.all(np.isfinite(D)):
        raise DomainError(f"directions must be two finite vectors of length {c.size}; got shape {D.shape}")
    sw = weight_std(weight_var, fan=fan, fan_in=c.size, fan_out=n)
    Q, Rm = np.linalg.qr(D.T)                      # D.T = Q R, Q: (n0, 2)
    if abs(Rm[0, 0] * Rm[1, 1]) <= 1e-12 * max(1.0, float(np.abs(Rm).max()) ** 2):
        raise DomainError("directions must be linearly independent")
    shift = Q.T @ c
    c_perp = c - Q @ shift
    # a centre orthogonal to the directions up to rounding (‖Qᵀc‖ ≤ 1e-12‖c‖) counts as orthogonal:
    # the window would move by that much, changing the probabilities at second order
    centred = float(np.linalg.norm(shift)) <= 1e-12 * max(1.0, float(np.linalg.norm(c)))
    if centred:
        shift = np.zeros(2)
    beta2 = sw**2 * float(c_perp @ c_perp) + s2
    if w.kind == "disk":
        ortho = np.allclose(D @ D.T, np.eye(2), rtol=0.0, atol=1e-12)
        if not ortho or not centred:
            raise DomainError("a disk window needs orthonormal directions and a centre orthogonal to them; "
                              "use a polygon window")
        plane = w
    else:
        verts = np.array(w.vertices) @ Rm.T + shift
        plane = polygon_window(verts)
        if w.kind == "square" and centred and np.allclose(D @ D.T, np.eye(2), rtol=0.0, atol=1e-12):
            plane = w                      # orthonormal and centred: a rotated square, the closed form applies
    e = _window_expectation(n, plane, sw, math.sqrt(beta2))
    return WindowExpectation(**{**e.__dict__, "window": w})


# --- HR19's claim -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class PaperClaim:
    """A paper's claim, labelled as such (not a rigorous bound of ours)."""

    value: float
    text: str
    source: str = "paper"
    citation: str = "HR19"

    def as_dict(self) -> dict:
        return dict(self.__dict__)


@constrain(neurons=COUNT, input_dim=COUNT)
def regions_paper_claim(neurons, input_dim) -> PaperClaim:
    r"""HR19's claim: E[#regions] ≲ (total number of neurons)^{n_0}, independent of depth.

    .. math:: E[\#\text{regions}] \lesssim N^{n_0}

    Args: neurons N ≥ 1 (hidden units of all layers together); input_dim n_0 ≥ 1, the dimension
    of the set the regions are counted in (1 for a line, 2 for a plane slice: the network
    restricted to an affine slice is itself a ReLU network on that slice).

    Returns the value N^{n_0} and the statement. Source: HR19 (arXiv 1906.00904), the paper's claim
    as docs/theory.md §8 states it — an order-of-magnitude statement (the theorem's constants depend on
    the window's volume and on bounds for gradients and bias densities, which we do not have), not
    a rigorous bound of ours.

    >>> regions_paper_claim(32, 2).value
    1024.0
    """
    N, d = neurons, input_dim
    return PaperClaim(float(N) ** d,
                      f"HR19 claim: the expected number of regions is of order (#neurons)^{d} = {N}^{d}, "
                      "independent of depth (order of magnitude; constants omitted)")


def _hidden(widths) -> tuple:
    if isinstance(widths, (str, bytes)) or not hasattr(widths, "__iter__"):
        raise DomainError(f"widths must be a sequence of integers ≥ 1; got {widths!r}")
    w = tuple(widths)
    if not w or any(isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1 for n in w):
        raise DomainError(f"widths must be a non-empty sequence of integers ≥ 1; got {widths!r}")
    return tuple(int(n) for n in w)


def max_regions_segment(widths) -> int:
    r"""The most regions a ReLU network with hidden widths (n_1, …, n_d) can have along a segment:
    :math:`\prod_l (n_l + 1)` (an exact integer).

    Each unit of layer l is affine on every piece left by the layers below, so it changes sign at
    most once there: a piece splits into at most n_l + 1. Our derivation (elementary); it is the
    known support of the region counts that :mod:`sim.regions` samples, used to give their means an
    exact interval when the counts are nearly constant (issue 11).

    >>> max_regions_segment((50,)), max_regions_segment((3, 4))
    (51, 20)
    """
    return math.prod(n + 1 for n in _hidden(widths))


def max_regions_plane(widths) -> int:
    r"""The most regions a ReLU network with hidden widths (n_1, …, n_d) can have in a plane (or a
    planar window): :math:`\prod_l \bigl(1 + n_l + \binom{n_l}{2}\bigr)` (an exact integer).

    On each convex piece left by the layers below the network is affine, so layer l's units cut
    it along at most n_l lines, and n lines cut a convex set into at most 1 + n + C(n, 2) pieces
    (Zaslavsky's count for lines in general position; fewer otherwise). Our derivation (the
    planar case of the layer-by-layer bound of Serra, Tjandraatmadja & Ramalingam 2018,
    arXiv 1711.02114). The known support of the slice counts of :mod:`sim.regions` (issue 11).

    >>> max_regions_plane((1,)), max_regions_plane((12,)), max_regions_plane((2, 2))
    (2, 79, 16)
    """
    return math.prod(1 + n + n * (n - 1) // 2 for n in _hidden(widths))


# --- derivation -----------------------------------------------------------------------------------
@lru_cache(maxsize=None)
def derive_regions():
    """The derivation of the first-layer segment count and the one-layer window count, and HR19's
    claim; every printed expression is one the code evaluates (or sympy's result that a later
    step rewrites, checked equal in the tests)."""
    import sympy as sy

    from .derivation import Derivation, Step

    E = _symbolic()
    Y = sympy_results()
    S = E["SYMBOLS"]
    n, sb = S["n"], S["sigma_b"]
    N, n0 = sy.Symbol("N", positive=True, integer=True), sy.Symbol("n_0", positive=True, integer=True)
    gauss = ("i.i.d. Gaussian weights N(0, σ_w²), σ_w² = c/fan", "biases N(0, σ_b²)")
    steps = (
        Step("The pre-activations z(x0), z(x1) of one first-layer unit are centred jointly Gaussian with "
             "correlation ρ = cos ∠(X0, X1), X = (σ_w x, σ_b) the lifted input:",
             sy.Eq(sy.Symbol("rho"), E["RHO_EXPR"]), citation="HR19", assumptions=gauss),
        Step("A unit has a zero inside the segment iff the two signs differ (Sheppard: probability "
             "acos(ρ)/π); summing over the n units:",
             sy.Eq(sy.Symbol("E[breakpoints]"), E["FIRST_LAYER_EXPR"]), citation="HR19",
             assumptions=("E[regions on the segment] = 1 + E[breakpoints]",)),
        Step("Zero bias: ρ is the cosine of the angle between x0 and x1 (sympy's limit σ_b → 0):",
             sy.Eq(sy.Symbol("E[breakpoints]"), sy.limit(E["FIRST_LAYER_EXPR"], sb, 0)), citation="HR19"),
        Step("Without cancellation near ρ = 1, acos ρ is the atan2 of √(1 − ρ²) and ρ times the same "
             "factor (sympy's expansion of the numerator of 1 − ρ²); the code evaluates this form at 60 "
             "digits from exactly summed inner products:",
             sy.Eq(sy.acos(sy.Symbol("rho")), E["ANGLE_ATAN2_EXPR"]), citation="HR19"),
        Step("One hidden layer, 2-D input: unit i's zero set is the line w·x + b = 0, at distance "
             "|b|/|w|. Given the direction, P(|b| ≤ |w| h) integrated over the Rayleigh law of |w| "
             "(sympy's result); the line meets K with probability ½[g(h_K(u)) + g(h_K(−u))], h_K the "
             "support function:",
             sy.Eq(sy.Symbol("g(h)"), Y["LINE_GIVEN_SUPPORT"]), citation="HR19", assumptions=gauss),
        Step("Disk of radius R centred at 0 (h = R):",
             sy.Eq(sy.Symbol("P_line(disk)"), E["LINE_DISK_EXPR"]), citation="HR19"),
        Step("Square [−a, a]²: h(φ) = √2 a cos(φ − π/4) on a quarter turn; substituting u = sin(φ − π/4), "
             "sympy integrates:",
             sy.Eq(E["LINE_SQUARE_INTEGRAL"], Y["LINE_SQUARE"], evaluate=False), citation="HR19"),
        Step("Kac–Rice: the crossing point x of two lines has density E[|det W| δ(Wx + b)]; given "
             "Wx + b = 0 the rows' components along x have variance τ² = σ_w²σ_b²/(σ_w²r² + σ_b²), so "
             "E|det W| = τσ_w and (r = ‖x‖):",
             sy.Eq(E["DENSITY_KAC_RICE"], E["DENSITY_EXPR"], evaluate=False), citation="HR19", assumptions=gauss),
        Step("Disk: sympy integrates the density over r ≤ R; the code evaluates it without cancellation:",
             sy.Eq(Y["PAIR_DISK"], E["PAIR_DISK_EXPR"], evaluate=False), citation="HR19"),
        Step("Square: eight triangles between 0 and an edge at distance a; the radial integral is "
             "1 − σ_b/√(σ_b² + σ_w²a²/cos²φ) and, with u = sin φ, sympy integrates the angle; the code "
             "evaluates it without cancellation:",
             sy.Eq(Y["PAIR_SQUARE"], E["PAIR_SQUARE_EXPR"], evaluate=False), citation="HR19"),
        Step("For σ_b > 0 the lines are in general position; Euler's relation for an arrangement cut by "
             "a convex K gives (number of regions) = 1 + (lines meeting K) + (crossings inside K); in expectation:",
             sy.Eq(sy.Symbol("E[regions in K]"), E["REGIONS_EXPR"]), citation="HR19"),
        Step("Any convex polygon (spherical Crofton): (w/σ_w, b/σ_b) ~ N(0, I₃), so each line is a uniform "
             "random great circle; P_line = perimeter/(2π), P_pair = area/(2π) of the polygon's projection "
             "with vertices U = (σ_w x, σ_w y, σ_b); one edge's arc:",
             sy.Eq(sy.Symbol("arc(U, V)"), E["ARC_EXPR"]), citation="HR19"),
        Step("Zero bias: every line passes through 0; with 0 inside K, n lines through one point:",
             sy.Eq(sy.Symbol("E[regions in K]"), 2 * n), citation="HR19",
             assumptions=("σ_b = 0, the origin in the interior of K",)),
        Step("HR19's claim (order of magnitude, constants omitted): for N neurons in all, independent "
             "of depth,",
             sy.Le(sy.Symbol("E[regions]"), N**n0), source="paper", citation="HR19"),
    )
    return Derivation("Activation regions at initialization (HR19)", steps)


#: Where ``initbounds regions`` counts: along the default segment, or on the e1–e2 slice.
MODES = Options(("segment", "slice"))


@constrain(hidden=WIDTHS, input_dim=COUNT, mode=MODES, weight_var=POSITIVE, bias_var=NONNEGATIVE)
def regions_report(hidden, input_dim, *, mode: str = "segment", weight_var=2.0, bias_var=1.0) -> Report:
    """The derived part of ``initbounds regions``: the first layer along the default segment, the
    one-layer window expectation (depth 1, slice) and HR19's (#neurons)^dim claim.

    ``hidden`` = (n_1, ..., n_d) (never n_0); ``input_dim`` n_0; ``mode`` "segment" (the default
    segment √n0·e1 → √n0·e2, −1 → 1 for n0 = 1) or "slice" (the plane through 0 spanned by e1, e2,
    window [−√n0, √n0]²; needs n0 ≥ 2); He fan-in ``weight_var`` c and bias variance σ_b².
    ``as_dict()`` holds ``inputs``, ``neurons``, ``depth``, ``first_layer_segment``,
    ``one_layer_window`` (None unless depth 1 on a slice) and ``hr19``; the rows are the derived
    lines of the command's table. :func:`initbounds.sim.regions.regions_report` adds the
    simulation. Source: [derived] docs/theory.md §8; HR19's claim is the paper's (arXiv 1906.00904).

    >>> r = regions_report([16, 16], 2)
    >>> round(r["first_layer_segment"]["breakpoints"], 4), r["one_layer_window"]
    (6.2692, None)
    """
    n0, hid = input_dim, tuple(hidden)
    if mode == "slice" and n0 < 2:
        raise DomainError("a slice needs {input_dim} ≥ 2; got " + str(n0), param="input_dim")
    x0, x1 = default_segment(n0)
    fl = first_layer_segment(x0, x1, hid[0], weight_var=weight_var, bias_var=bias_var)
    a = math.sqrt(n0)
    window = None
    if mode == "slice" and len(hid) == 1:
        window = one_layer_regions_slice(hid[0], square_window(a), centre=np.zeros(n0), directions=np.eye(2, n0),
                                         weight_var=weight_var, bias_var=bias_var).as_dict()
    dim = 1 if mode == "segment" else 2
    data = {
        "inputs": {"widths": list(hid), "input_dim": n0, "mode": mode, "weight_var": weight_var,
                   "bias_var": bias_var, "fan": "in", "segment": {"x0": x0.tolist(), "x1": x1.tolist()},
                   "window": {"centre": [0.0] * n0, "directions": ["e1", "e2"], "half_side": a} if mode == "slice"
                   else None},
        "neurons": sum(hid), "depth": len(hid),
        "first_layer_segment": {**fl.as_dict(), "whole_network": len(hid) == 1},
        "one_layer_window": window,
        "hr19": {**regions_paper_claim(sum(hid), dim).as_dict(), "dim": dim},
    }
    whole = " = whole net" if len(hid) == 1 else ""
    rows = [(f"first layer ({hid[0]} units){whole}: E #breakpoints on segment", f"{fl.breakpoints:.6g}",
             "derived, exact"),
            ("… E #regions on the segment = 1 + breakpoints", f"{fl.regions:.6g}", "derived, exact")]
    if window is not None:
        rows += [("one layer: P(a unit's line meets the window)", f"{window['p_line']:.6g}", "derived, exact"),
                 ("one layer: P(two lines cross inside the window)", f"{window['p_pair']:.6g}", "derived, exact"),
                 ("one layer: E #regions in the window", f"{window['regions']:.6g}",
                  f"derived, exact ({window['method']})")]
    hr = data["hr19"]
    rows.append((f"HR19: #regions ≲ (#neurons)^{dim} = {sum(hid)}^{dim}", f"{hr['value']:.6g}",
                 "paper claim (HR19), order of magnitude"))
    where = "the default segment" if mode == "segment" else f"the window [−{a:.4g}, {a:.4g}]² of the e1–e2 plane"
    title = (f"Activation regions: n0 = {n0}, widths {','.join(map(str, hid))}, on {where} "
             f"(He fan-in c = {weight_var:g}, σ_b² = {bias_var:g})")
    return Report(title=title, rows=tuple(rows), data=data,
                  assumptions=("Gaussian weights N(0, c/fan-in)", f"biases N(0, {bias_var:g})"))
