"""Activation regions (HR19; docs/theory.md §8): identities, quadrature, numpy Monte Carlo, properties.

No torch here: the Monte Carlo tests draw with numpy generators seeded in the test, and decide with
a normal interval at the suite's per-test level ALPHA (theory inside the interval passes).
"""
from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest
import sympy as sy
from hypothesis import example, given, settings, strategies as st
from scipy import stats as sst

import initbounds.bounds.regions as R
from initbounds.bounds.errors import DomainError
from initbounds.bounds.regions import (default_segment, derive_regions, disk_window, first_layer_breakpoints,
                            first_layer_regions, first_layer_segment, one_layer_regions_2d,
                            one_layer_regions_slice, polygon_window, regions_paper_claim, square_window)

ALPHA = 1e-4  # per-test error level shared by the Monte Carlo tests of the suite
Z = float(sst.norm.ppf(1 - ALPHA / 2))


def _covers(x, theory):
    x = np.asarray(x, float)
    half = Z * x.std(ddof=1) / math.sqrt(x.size)
    return abs(x.mean() - theory) <= half, x.mean(), half


def _canonical_first_layer(x0, x1, n, sw2, sb2, dps=80):
    """FIRST_LAYER_EXPR at ``dps`` digits, with ‖x0‖², ‖x1‖², x0·x1 summed exactly from the floats."""
    S = R.SYMBOLS
    with mp.workdps(dps):
        q0 = mp.fsum(mp.mpf(v) ** 2 for v in x0)
        q1 = mp.fsum(mp.mpf(v) ** 2 for v in x1)
        p = mp.fsum(mp.mpf(a) * mp.mpf(b) for a, b in zip(x0, x1))
        f = sy.lambdify([S["n"], S["sigma_w"], S["sigma_b"], S["q_0"], S["q_1"], S["p"]], R.FIRST_LAYER_EXPR,
                        modules="mpmath")
        return f(n, mp.sqrt(mp.mpf(sw2)), mp.sqrt(mp.mpf(sb2)), q0, q1, p)


# --- first layer along a segment -------------------------------------------------------------------
def test_first_layer_identities():
    # orthogonal ends, zero bias: half of the units; through the origin: all of them; a point: none
    assert first_layer_breakpoints([1.0, 0.0], [0.0, 3.0], 16, bias_var=0.0) == 8.0
    assert first_layer_breakpoints([-2.0, 0.0], [1.0, 0.0], 10, bias_var=0.0) == 10.0
    assert first_layer_breakpoints([0.3, -1.0], [0.3, -1.0], 10, bias_var=2.0) == 0.0
    assert first_layer_regions([0.3, -1.0], [0.3, -1.0], 10, bias_var=2.0) == 1.0
    # zero bias: n·angle(x0, x1)/π, independent of the weight scale and of the lengths
    x0, x1 = np.array([1.0, 2.0, -0.5]), np.array([-0.3, 1.0, 2.0])
    ang = math.acos(x0 @ x1 / (np.linalg.norm(x0) * np.linalg.norm(x1)))
    for c in (0.5, 2.0, 7.0):
        assert first_layer_breakpoints(x0, 5 * x1, 12, weight_var=c, bias_var=0.0) == pytest.approx(12 * ang / math.pi,
                                                                                                   rel=1e-14)
    # ρ → 1: nearly parallel ends give nearly no breakpoint, accurately (not 0 by cancellation)
    e = first_layer_segment([1.0, 0.0], [1.0, 1e-9], 7, bias_var=0.0)
    assert e.breakpoints == pytest.approx(7 * 1e-9 / math.pi, rel=1e-12)
    # fan-out divides by n1; the default segment; regions = 1 + breakpoints
    a = first_layer_segment(*default_segment(4), 8, weight_var=2.0, bias_var=1.0, fan="out")
    b = first_layer_segment(*default_segment(4), 8, weight_var=2.0 * 4 / 8, bias_var=1.0, fan="in")
    assert a.breakpoints == pytest.approx(b.breakpoints, rel=1e-15) and a.regions == 1 + a.breakpoints
    # zero lifted vector: pre-activations exactly 0 at x0, no zero strictly inside
    assert first_layer_breakpoints([0.0, 0.0], [1.0, 1.0], 5, bias_var=0.0) == 0.0


@settings(max_examples=60, deadline=None)
@given(x0=st.lists(st.floats(-10, 10), min_size=3, max_size=3), d=st.lists(st.floats(-1, 1), min_size=3, max_size=3),
       eps=st.sampled_from([1.0, 1e-3, 1e-8, 1e-13]), sb2=st.sampled_from([0.0, 1e-6, 0.5, 4.0]),
       n=st.integers(1, 1000))
@example(x0=[1.0, 0.0, 0.0], d=[0.0, 1.0, 0.0], eps=1e-13, sb2=0.0, n=3)
def test_fast_path_equals_canonical_expression(x0, d, eps, sb2, n):
    """The evaluated atan2 form = the sympy expression n·acos(ρ)/π at 80 digits, also for nearly
    parallel ends (x1 = x0 + eps·d), where acos of a rounded ρ would be wrong."""
    x0 = np.array(x0)
    x1 = x0 + eps * np.array(d)
    if np.linalg.norm(x0) == 0 or np.linalg.norm(x1) == 0:
        return
    got = first_layer_breakpoints(x0, x1, n, bias_var=sb2)
    ref = float(mp.re(_canonical_first_layer(x0, x1, n, 2.0 / 3, sb2)))   # ρ may round to 1 + 1e-80
    assert got == pytest.approx(ref, rel=1e-12, abs=1e-30 * n)   # the 80-digit reference rounds acos(1) to ~1e-40


@settings(max_examples=60, deadline=None)
@given(x0=st.lists(st.floats(-5, 5), min_size=2, max_size=2), x1=st.lists(st.floats(-5, 5), min_size=2, max_size=2),
       sb2=st.floats(0, 10), n=st.integers(1, 500))
def test_first_layer_properties(x0, x1, sb2, n):
    e = first_layer_segment(x0, x1, n, bias_var=sb2)
    assert 0.0 <= e.breakpoints <= n and 0.0 <= e.angle <= math.pi
    assert e.breakpoints == pytest.approx(first_layer_breakpoints(x1, x0, n, bias_var=sb2), rel=1e-12, abs=1e-12)
    assert first_layer_breakpoints(x0, x1, n + 1, bias_var=sb2) >= e.breakpoints


def test_first_layer_monte_carlo():
    """numpy, seed 11, T = 40000 first layers of 24 units (n0 = 5, bias variance 0.7): the count is
    Binomial(24, θ/π), sd ≈ 2.4, so the interval's half-width at α = 1e-4 is ≈ 0.05."""
    rng = np.random.default_rng(11)
    n0, n, T, sb2 = 5, 24, 40000, 0.7
    x0, x1 = rng.normal(size=n0), rng.normal(size=n0)
    W = rng.normal(0.0, math.sqrt(2.0 / n0), size=(T, n, n0))
    b = rng.normal(0.0, math.sqrt(sb2), size=(T, n))
    count = ((W @ x0 + b) * (W @ x1 + b) < 0).sum(axis=1)
    ok, m, half = _covers(count, first_layer_breakpoints(x0, x1, n, bias_var=sb2))
    assert ok, (m, half)


# --- one hidden layer, 2-D windows ------------------------------------------------------------------
def test_sympy_results_equal_the_evaluated_expressions():
    Y, S = R.sympy_results(), R.SYMBOLS
    assert sy.simplify(Y["LINE_GIVEN_SUPPORT"] - R.LINE_GIVEN_SUPPORT_EXPR) == 0
    assert sy.simplify(Y["LINE_SQUARE"] - R.LINE_SQUARE_EXPR) == 0
    assert sy.simplify(Y["PAIR_DISK"] - R.PAIR_DISK_EXPR) == 0
    assert sy.simplify(R.DENSITY_KAC_RICE - R.DENSITY_EXPR) == 0
    rng = np.random.default_rng(3)
    for _ in range(20):   # the square's pair probability: an arcsine identity, checked at 50 digits
        vals = {S["sigma_w"]: sy.Rational(int(rng.integers(1, 400)), 100),
                S["sigma_b"]: sy.Rational(int(rng.integers(1, 400)), 100),
                S["a"]: sy.Rational(int(rng.integers(1, 400)), 100)}
        assert abs(sy.N((Y["PAIR_SQUARE"] - R.PAIR_SQUARE_EXPR).subs(vals), 50)) < 1e-45
        q = {S["sigma_w"]: vals[S["sigma_w"]], S["sigma_b"]: vals[S["sigma_b"]], S["q_0"]: vals[S["a"]],
             S["q_1"]: sy.Rational(3, 2), S["p"]: sy.Rational(-1, 3)}
        assert abs(sy.N((sy.acos(R.RHO_EXPR) - R.ANGLE_ATAN2_EXPR).subs(q), 50)) < 1e-45


def _quad_line(verts, sw, sb):
    """(1/2π)∫ g(h_K(φ)) dφ by mpmath quadrature over the support function (g odd)."""
    V = [(mp.mpf(x), mp.mpf(y)) for x, y in verts]

    def g(h):
        return sw * h / mp.sqrt(sb**2 + sw**2 * h**2)

    def f(phi):
        return g(max(x * mp.cos(phi) + y * mp.sin(phi) for x, y in V))

    # breakpoints of h: the normals of the edges
    cuts = sorted({float(mp.atan2(-(b[0] - a[0]), b[1] - a[1])) % (2 * math.pi)
                   for a, b in zip(V, V[1:] + V[:1])} | {0.0, 2 * math.pi})
    return mp.quad(f, cuts) / (2 * mp.pi)


def _quad_pair_square(a, sw, sb):
    dens = lambda x, y: sw**2 * sb / (2 * mp.pi * (sw**2 * (x * x + y * y) + sb**2) ** 1.5)  # noqa: E731
    return mp.quad(dens, [-a, 0, a], [-a, 0, a])


@pytest.mark.parametrize("sw, sb, a", [(1.0, 1.0, 1.0), (0.3, 2.0, 0.7), (2.0, 0.05, 1.5)])
def test_square_and_disk_against_quadrature(sw, sb, a):
    with mp.workdps(20):
        e = one_layer_regions_2d(5, square_window(a), weight_var=2 * sw**2, bias_var=sb**2)
        assert e.p_line == pytest.approx(float(_quad_line(square_window(a).vertices, sw, sb)), rel=1e-10)
        assert e.p_pair == pytest.approx(float(_quad_pair_square(a, sw, sb)), rel=1e-8)
        d = one_layer_regions_2d(5, disk_window(a), weight_var=2 * sw**2, bias_var=sb**2)
        pair = mp.quad(lambda r: 2 * mp.pi * r * sw**2 * sb / (2 * mp.pi * (sw**2 * r * r + sb**2) ** 1.5), [0, a])
        assert d.p_line == pytest.approx(sw * a / math.sqrt(sb**2 + sw**2 * a**2), rel=1e-14)
        assert d.p_pair == pytest.approx(float(pair), rel=1e-10)


@settings(max_examples=30, deadline=None)
@given(sw=st.floats(0.05, 5), sb=st.floats(1e-3, 5), a=st.floats(0.05, 5))
def test_polygon_route_equals_square_closed_form(sw, sb, a):
    sq = one_layer_regions_2d(9, square_window(a), weight_var=2 * sw**2, bias_var=sb**2)
    pg = one_layer_regions_2d(9, polygon_window(square_window(a).vertices), weight_var=2 * sw**2, bias_var=sb**2)
    assert sq.method == "closed form (square)" and pg.method == "spherical polygon"
    assert pg.p_line == pytest.approx(sq.p_line, rel=1e-12) and pg.p_pair == pytest.approx(sq.p_pair, rel=1e-12)
    assert pg.regions == pytest.approx(sq.regions, rel=1e-12)


@pytest.mark.parametrize("verts", [[(1.0, 0.5), (3.0, 0.2), (2.5, 2.0)],        # origin outside
                                   [(0.0, 0.0), (2.0, 0.0), (0.0, 1.0)],        # origin at a vertex
                                   [(-1.0, -0.4), (1.2, -0.7), (1.5, 0.9), (-0.2, 1.3)]])
def test_polygon_line_probability_against_support_quadrature(verts):
    with mp.workdps(20):
        e = one_layer_regions_2d(3, polygon_window(verts), weight_var=2.0, bias_var=0.6)
        assert e.p_line == pytest.approx(float(_quad_line(verts, 1.0, math.sqrt(0.6))), rel=1e-9)


def _mc_regions(rng, n, T, verts, sw, sb):
    """Exact #regions of T random one-layer arrangements in a convex polygon (numpy, no torch):
    1 + #lines with vertices on both sides + #pairwise crossings inside."""
    V = np.asarray(verts, float)
    W = rng.normal(0.0, sw, size=(T, n, 2))
    b = rng.normal(0.0, sb, size=(T, n))
    vals = W @ V.T + b[..., None]
    L = (~((vals > 0).all(2) | (vals < 0).all(2))).sum(1)
    E = np.roll(V, -1, 0) - V
    count = 1 + L
    for i in range(n):
        for j in range(i + 1, n):
            A = np.stack([W[:, i], W[:, j]], 1)
            x = np.linalg.solve(A, -np.stack([b[:, i], b[:, j]], 1)[..., None])[..., 0]
            side = E[None, :, 0] * (x[:, None, 1] - V[None, :, 1]) - E[None, :, 1] * (x[:, None, 0] - V[None, :, 0])
            count += (side >= 0).all(1)
    return count


@pytest.mark.parametrize("seed, n, window, verts", [
    (21, 8, square_window(1.3), square_window(1.3).vertices),
    (22, 6, polygon_window([(0.5, 0.2), (2.0, -0.3), (1.6, 1.4)]), [(0.5, 0.2), (2.0, -0.3), (1.6, 1.4)]),
])
def test_one_layer_window_monte_carlo(seed, n, window, verts):
    """numpy, T = 20000 one-layer nets (weight var 2/n0 = 1, bias var 0.5): the per-net count has sd
    ≲ 4, so the interval's half-width at α = 1e-4 is ≲ 0.11 regions."""
    rng = np.random.default_rng(seed)
    count = _mc_regions(rng, n, 20000, verts, 1.0, math.sqrt(0.5))
    ok, m, half = _covers(count, one_layer_regions_2d(n, window, weight_var=2.0, bias_var=0.5).regions)
    assert ok, (m, half)


def test_slice_reduction_monte_carlo():
    """n0 = 4, a slice through a centre that is not orthogonal to its (non-orthonormal) directions:
    the restricted lines in (u, v) coordinates, counted in the square (numpy, seed 23, T = 20000)."""
    rng = np.random.default_rng(23)
    n0, n, T, a = 4, 7, 20000, 0.8
    c = np.array([0.5, -0.3, 0.9, 0.2])
    D = np.array([[1.0, 0.2, 0.0, -0.4], [0.3, 1.1, 0.5, 0.0]])
    th = one_layer_regions_slice(n, square_window(a), centre=c, directions=D, weight_var=2.0, bias_var=0.3)
    W = rng.normal(0.0, math.sqrt(2.0 / n0), size=(T, n, n0))
    b = rng.normal(0.0, math.sqrt(0.3), size=(T, n))
    Wt, bt = W @ D.T, b + W @ c                       # lines in slice coordinates
    V = np.array(square_window(a).vertices)
    vals = Wt @ V.T + bt[..., None]
    count = 1 + (~((vals > 0).all(2) | (vals < 0).all(2))).sum(1)
    for i in range(n):
        for j in range(i + 1, n):
            x = np.linalg.solve(np.stack([Wt[:, i], Wt[:, j]], 1), -np.stack([bt[:, i], bt[:, j]], 1)[..., None])[..., 0]
            count += (np.abs(x) <= a).all(1)
    ok, m, half = _covers(count, th.regions)
    assert ok, (m, half, th.regions)


def test_slice_special_cases():
    # the plane itself; an orthonormal rotated slice through a centre orthogonal to it
    plane = one_layer_regions_2d(11, square_window(1.0), bias_var=0.4)
    same = one_layer_regions_slice(11, square_window(1.0), centre=[0.0, 0.0], directions=np.eye(2), bias_var=0.4)
    assert same.regions == pytest.approx(plane.regions, rel=1e-13)
    Q = np.linalg.qr(np.random.default_rng(1).normal(size=(5, 5)))[0]
    c = 0.7 * Q[:, 2]
    e = one_layer_regions_slice(11, disk_window(1.2), centre=c, directions=Q[:, :2].T, weight_var=2.0, bias_var=0.4)
    ref = one_layer_regions_2d(11, disk_window(1.2), weight_var=2.0 * 2 / 5,   # σ_w² = 2/5 on the plane
                               bias_var=0.4 + (2.0 / 5) * 0.49)                  # + σ_w²‖c⊥‖²
    assert e.regions == pytest.approx(ref.regions, rel=1e-12)


def test_zero_bias():
    # every line through the origin: 2n regions in a window around it, and the s → 0+ limit differs
    assert one_layer_regions_2d(7, square_window(0.5), bias_var=0.0).regions == 14.0
    assert one_layer_regions_2d(7, disk_window(3.0), bias_var=0.0).regions == 14.0
    tiny = one_layer_regions_2d(7, square_window(0.5), bias_var=1e-30)
    assert tiny.regions == pytest.approx(1 + 7 + 21, rel=1e-12) and tiny.general_position
    # origin outside: lines through it meet K iff their direction is in the cone K subtends
    e = one_layer_regions_2d(4, polygon_window([(1.0, 0.0), (1.0, 1.0), (2.0, 0.0)]), bias_var=0.0)
    assert e.p_line == pytest.approx(0.25, rel=1e-14) and e.regions == pytest.approx(2.0, rel=1e-14)
    # origin on an edge: every line through it enters the interior; all cross on the boundary
    e = one_layer_regions_2d(4, polygon_window([(-1.0, 0.0), (1.0, 0.0), (0.0, 1.0)]), bias_var=0.0)
    assert e.regions == pytest.approx(5.0, rel=1e-14)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 2000), sb2=st.floats(1e-8, 50), a=st.floats(1e-3, 50), c=st.floats(0.1, 10))
@example(n=1, sb2=1e-8, a=1e-3, c=0.1)
@example(n=2000, sb2=50.0, a=50.0, c=10.0)
def test_window_properties(n, sb2, a, c):
    e = one_layer_regions_2d(n, square_window(a), weight_var=c, bias_var=sb2)
    assert 0.0 <= e.p_pair <= e.p_line <= 1.0 or e.p_pair <= 1.0   # probabilities
    assert 0.0 <= e.p_line <= 1.0 and 0.0 <= e.p_pair <= 1.0
    assert 1.0 <= e.regions <= 1 + n + n * (n - 1) / 2 + 1e-9 * n * n
    bigger_n = one_layer_regions_2d(n + 1, square_window(a), weight_var=c, bias_var=sb2)
    bigger_k = one_layer_regions_2d(n, square_window(a * 1.5), weight_var=c, bias_var=sb2)
    more_bias = one_layer_regions_2d(n, square_window(a), weight_var=c, bias_var=sb2 * 2)
    assert bigger_n.regions > e.regions
    assert bigger_k.regions >= e.regions and more_bias.regions <= e.regions
    d = one_layer_regions_2d(n, disk_window(a), weight_var=c, bias_var=sb2)       # disk ⊂ square
    assert d.p_line <= e.p_line * (1 + 1e-12) and d.p_pair <= e.p_pair * (1 + 1e-12)


def test_tiny_probabilities_keep_relative_accuracy():
    # σ_w a/σ_b = 1e-10: P_pair ≈ 2σ_w²a²/(πσ_b²), P_line ≈ 4σ_w a/(πσ_b) (no cancellation)
    e = one_layer_regions_2d(3, square_window(1e-10), weight_var=4.0, bias_var=2.0)   # σ_w = σ_b = √2
    assert e.p_pair == pytest.approx(2 * 1e-20 / math.pi, rel=1e-9)
    assert e.p_line == pytest.approx(4 * 1e-10 / math.pi, rel=1e-9)
    d = one_layer_regions_2d(3, disk_window(1e-10), weight_var=4.0, bias_var=2.0)
    assert d.p_pair == pytest.approx(0.5e-20, rel=1e-9)


# --- HR19's claim, derivation, errors -----------------------------------------------------------------
def test_paper_claim_is_labelled():
    c = regions_paper_claim(48, 2)
    assert c.value == 48.0**2 and c.source == "paper" and c.citation == "HR19"
    assert "order of magnitude" in c.text and "independent of depth" in c.text


def test_derivation_prints_what_is_evaluated():
    der = derive_regions()
    text = der.to_text()
    assert "[paper; HR19]" in text and "[derived; HR19]" in text
    steps = {s.text.split(":")[0].split(",")[0]: s.expr for s in der.steps}
    S = R.SYMBOLS
    # step 2: the printed first-layer expression, evaluated, is what first_layer_breakpoints returns
    x0, x1 = np.array([1.0, -0.5, 2.0]), np.array([0.3, 1.0, -1.0])
    sb2 = 0.8
    printed = next(s.expr for s in der.steps if s.text.startswith("A unit has a zero")).rhs
    val = printed.subs({S["n"]: 17, S["sigma_w"]: sy.sqrt(sy.Rational(2, 3)), S["sigma_b"]: sy.sqrt(sy.Rational(4, 5)),
                        S["q_0"]: sy.Rational(21, 4), S["q_1"]: sy.Rational(209, 100), S["p"]: sy.Rational(-11, 5)})
    assert float(sy.N(val, 30)) == pytest.approx(first_layer_breakpoints(x0, x1, 17, bias_var=sb2), rel=1e-13)
    # the square and disk steps' right-hand sides are the evaluated expressions
    sq = next(s.expr for s in der.steps if s.text.startswith("Square: eight"))
    dk = next(s.expr for s in der.steps if s.text.startswith("Disk: sympy"))
    ln = next(s.expr for s in der.steps if s.text.startswith("Square [−a, a]²"))
    vals = {S["sigma_w"]: sy.Rational(7, 5), S["sigma_b"]: sy.Rational(1, 3), S["a"]: sy.Rational(9, 10),
            S["R"]: sy.Rational(9, 10)}
    e = one_layer_regions_2d(10, square_window(0.9), weight_var=2 * 1.96, bias_var=1 / 9)
    d = one_layer_regions_2d(10, disk_window(0.9), weight_var=2 * 1.96, bias_var=1 / 9)
    for printed, got in ((sq.lhs, e.p_pair), (sq.rhs, e.p_pair), (ln.rhs, e.p_line), (dk.lhs, d.p_pair),
                         (dk.rhs, d.p_pair)):
        assert float(sy.N(printed.subs(vals), 30)) == pytest.approx(got, rel=1e-13)
    reg = next(s.expr for s in der.steps if s.text.startswith("For σ_b > 0")).rhs
    assert float(reg.subs({S["n"]: 10, S["P_line"]: e.p_line, S["P_pair"]: e.p_pair})) == pytest.approx(e.regions,
                                                                                                       rel=1e-14)
    assert steps  # every step renders
    for fmt in ("latex", "markdown"):
        assert "#" not in der.render(fmt).replace("# Activation", "")


@pytest.mark.parametrize("call, msg", [
    (lambda: first_layer_breakpoints([1.0], [1.0, 2.0], 3, bias_var=0.0), "x1 must have 1 entries; got 2"),
    (lambda: first_layer_breakpoints([1.0], [2.0], 0, bias_var=0.0), "width must be an integer ≥ 1; got 0"),
    (lambda: first_layer_breakpoints([1.0], [2.0], 3, bias_var=-1.0), "bias_var must be in [0, inf); got -1.0"),
    (lambda: first_layer_breakpoints([float("nan")], [2.0], 3, bias_var=0.0), "x0 must be finite; got [nan]"),
    (lambda: first_layer_breakpoints([1.0], [2.0], 3, weight_var=0.0, bias_var=0.0),
     "weight_var must be in (0, inf); got 0.0"),
    (lambda: first_layer_breakpoints([1.0], [2.0], 3, bias_var=0.0, fan="both"),
     "fan must be one of 'in', 'out'; got 'both'"),
    (lambda: square_window(0.0), "half_side must be in (0, inf); got 0.0"),
    (lambda: polygon_window([(0, 0), (1, 1), (2, 2)]),
     "vertices must form a strictly convex polygon with positive area, in order"),
    (lambda: one_layer_regions_2d(3, "square", bias_var=1.0),
     "window must be a Window (square_window, disk_window, polygon_window); got 'square'"),
    (lambda: one_layer_regions_slice(3, disk_window(1.0), centre=[1.0, 0.0, 0.0], directions=np.eye(3)[:2],
                                     bias_var=1.0),
     "a disk window needs orthonormal directions and a centre orthogonal to them; use a polygon window"),
    (lambda: regions_paper_claim(0, 2), "neurons must be an integer ≥ 1; got 0"),
])
def test_errors(call, msg):
    with pytest.raises(DomainError) as e:
        call()
    assert str(e.value) == msg


# --- the derived report of `initbounds regions` (issue 10: each topic's report lives in bounds) -----
def test_regions_report_rows_are_the_library_values():
    rep = R.regions_report([8, 8], 3, weight_var=1.5, bias_var=0.5)
    x0, x1 = default_segment(3)
    fl = first_layer_segment(x0, x1, 8, weight_var=1.5, bias_var=0.5)
    d = rep.as_dict()
    assert d["first_layer_segment"]["breakpoints"] == fl.breakpoints and d["one_layer_window"] is None
    assert d["hr19"] == {**R.regions_paper_claim(16, 1).as_dict(), "dim": 1}
    assert rep.rows[0][1] == f"{fl.breakpoints:.6g}" and rep.rows[-1][0].startswith("HR19")
    assert list(d) == ["inputs", "neurons", "depth", "first_layer_segment", "one_layer_window", "hr19"]


def test_regions_report_slice_window_at_depth_one():
    rep = R.regions_report([12], 2, mode="slice")
    w = one_layer_regions_2d(12, square_window(2 ** 0.5), bias_var=1.0)
    assert rep["one_layer_window"]["regions"] == pytest.approx(w.regions, rel=1e-12)
    assert any(r[0] == "one layer: E #regions in the window" for r in rep.rows)
    with pytest.raises(DomainError) as e:
        R.regions_report([4], 1, mode="slice")
    assert e.value.param == "input_dim" and str(e.value) == "a slice needs input_dim ≥ 2; got 1"


# --- issue 11: the supports of the region counts --------------------------------------------------


def _np_patterns(Ws, bs, X):
    h, bits = X, []
    for W, b in zip(Ws, bs):
        z = h @ W.T + b
        bits.append(z > 0)
        h = np.maximum(z, 0.0)
    return np.concatenate(bits, axis=1)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(1, 6), min_size=1, max_size=3), st.integers(0, 2**32 - 1))
def test_issue11_max_regions_bound_brute_force_counts(widths, seed):
    """issue 11 uses max_regions_segment/plane as the support of the simulated counts. Brute
    force (numpy, no torch): random ReLU nets (n0 = 2, large biases so that regions cross the
    window), pattern changes along 4001 points of a segment + 1, and distinct patterns on a 121²
    grid, never exceed ∏(n_l + 1) and ∏(1 + n_l + C(n_l, 2)); for one layer the segment bound is
    exactly n + 1 lines crossed at most once each."""
    rng = np.random.default_rng(seed)
    dims = (2, *widths)
    Ws = [rng.normal(size=(b, a)) * math.sqrt(2.0 / a) for a, b in zip(dims[:-1], dims[1:])]
    bs = [rng.normal(size=b) for b in dims[1:]]
    t = np.linspace(0.0, 1.0, 4001)[:, None]
    seg = np.array([-2.0, -1.5]) + t * np.array([4.0, 3.0])
    P = _np_patterns(Ws, bs, seg)
    changes = 1 + int((P[1:] != P[:-1]).any(axis=1).sum())
    assert changes <= R.max_regions_segment(widths)
    u = np.linspace(-3.0, 3.0, 121)
    U, V = np.meshgrid(u, u, indexing="ij")
    G = _np_patterns(Ws, bs, np.stack([U.ravel(), V.ravel()], 1))
    assert len(np.unique(G, axis=0)) <= R.max_regions_plane(widths)
    assert R.max_regions_segment(widths[:1]) == widths[0] + 1
    assert R.max_regions_plane(widths[:1]) == 1 + widths[0] + math.comb(widths[0], 2)


@pytest.mark.parametrize("bad", [(), (0,), (2, -1), "8", (1.5,), (True,)])
def test_issue11_max_regions_refuse_bad_widths(bad):
    for f in (R.max_regions_segment, R.max_regions_plane):
        with pytest.raises(DomainError, match="widths must be"):
            f(bad)


@given(st.lists(st.tuples(st.sampled_from([0.0, 0.0, 1.0, -2.5, 1e-200, 3e150]),
                          st.sampled_from([0.0, 0.0, 0.5, -1.0, 7e-300, 1e100])), min_size=1, max_size=40),
       st.sampled_from([0.0, 1.0, 1e-12]))
@settings(max_examples=80, deadline=None)
def test_issue11_lifted_angle_skipping_zero_coordinates_is_exact(pairs, bias_var):
    """issue 11: lifted_angle sums only the coordinates where an end is non-zero (the default segment
    at n0 = 10^6 has two); a direct 60-digit sum over every coordinate (mpmath, here) agrees."""
    import mpmath as mp

    from initbounds.bounds.regions import lifted_angle

    x0 = [a for a, _ in pairs]
    x1 = [b for _, b in pairs]
    w = 0.5
    with mp.workdps(60):
        q0 = mp.fsum(mp.mpf(a) ** 2 for a in x0)
        q1 = mp.fsum(mp.mpf(b) ** 2 for b in x1)
        p = mp.fsum(mp.mpf(a) * mp.mpf(b) for a, b in zip(x0, x1))
        sw2, sb2 = mp.mpf(w), mp.mpf(bias_var)
        ref = mp.atan2(mp.sqrt(max(sw2**2 * (q0 * q1 - p**2) + sw2 * sb2 * (q0 + q1 - 2 * p), 0)), sw2 * p + sb2)
    got = lifted_angle(x0, x1, weight_var_entry=w, bias_var=bias_var)
    assert got == pytest.approx(float(ref), rel=1e-14, abs=1e-300)
