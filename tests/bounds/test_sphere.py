"""The sphere bound (docs/theory.md §11): each ingredient on its own, the combination, the search
for the width, and properties that must hold. No torch here."""
from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest
import sympy as sy
from hypothesis import example, given, settings
from hypothesis import strategies as st

from initbounds.bounds import sphere as S
from initbounds.bounds.errors import CostLimitError, DomainError
from initbounds.bounds.width import log_failure_bound, min_width


# --- the net ---------------------------------------------------------------------------------------
def _greedy_separated(points: np.ndarray, gamma: float) -> np.ndarray:
    """A maximal γ-separated subset of ``points`` (greedy)."""
    kept = []
    for p in points:
        if not kept or np.min(np.linalg.norm(np.asarray(kept) - p, axis=1)) > gamma:
            kept.append(p)
    return np.asarray(kept)


@pytest.mark.parametrize("k, gamma", [(2, 0.2), (2, 0.5), (3, 0.4), (3, 1.0), (4, 0.8)])
def test_separated_sets_obey_the_net_size_bound(k, gamma):
    # the volume argument: any γ-separated subset of the sphere has at most (1 + 2/γ)^k points, and a
    # maximal one covers the points it was chosen from within γ
    rng = np.random.default_rng(20261130 + k)
    x = rng.standard_normal((4000, k))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    T = _greedy_separated(x, gamma)
    assert len(T) <= math.exp(S.log_net_size(k, gamma))
    d = np.min(np.linalg.norm(x[:, None, :] - T[None, :, :], axis=2), axis=1)
    assert d.max() <= gamma


def test_net_size_on_the_circle_against_the_exact_packing():
    # on the circle the largest γ-separated set has ⌈2π / (2 arcsin(γ/2))⌉ − 1 or so points; the bound
    # must be above the exact count of the evenly spaced set
    for gamma in (0.05, 0.3, 1.0, 1.9):
        m = math.floor(2 * math.pi / (2 * math.asin(gamma / 2)))
        assert m <= math.exp(S.log_net_size(2, gamma))


# --- the operator-norm level, the Lipschitz bound, the margin ---------------------------------------
def test_expressions_evaluated_are_the_printed_ones():
    E = S._expr()
    rng = np.random.default_rng(3)
    for _ in range(20):
        n, L, k = int(rng.integers(1, 10**6)), int(rng.integers(1, 50)), int(rng.integers(1, 1000))
        t = float(rng.uniform(0, 40))
        with mp.workdps(50):
            lip = sy.lambdify([E["n"], E["L"], E["k"], E["t"]], E["log_lip"], modules="mpmath")(n, L, k, mp.mpf(t))
            full = sy.lambdify([E["n"], E["L"], E["k"], E["t"]], sy.log(E["lip"]), modules="mpmath")(n, L, k, mp.mpf(t))
        assert abs(float(lip - full)) <= 1e-30 * max(1.0, abs(float(full)))
        assert float(S.log_lipschitz(n, L, k, t)) == pytest.approx(float(lip), rel=1e-13, abs=1e-13)
        e, e1 = float(rng.uniform(1e-6, 0.999)), None
        e1 = e * float(rng.uniform(0.01, 0.99))
        with mp.workdps(50):
            m = sy.lambdify([E["eps"], E["eps1"]], E["margin"], modules="mpmath")(mp.mpf(e), mp.mpf(e1))
        assert float(S.margin(e, e1)) == pytest.approx(float(m), rel=1e-13)
        g = float(rng.uniform(1e-6, 2))
        with mp.workdps(50):
            ln = sy.lambdify([E["k"], E["gamma"]], E["log_net"], modules="mpmath")(k, mp.mpf(g))
        assert float(S.log_net_size(k, g)) == pytest.approx(float(ln), rel=1e-13)


def test_opnorm_threshold_and_tail():
    assert S.opnorm_threshold(4, 9, 1.0, 1.0) == 6.0
    assert float(S.log_opnorm_tail(3.0)) == -4.5
    # the threshold is the printed expression
    E = S._expr()
    v = E["op_threshold"].subs({E["sigma"]: 2, E["m"]: 16, E["kc"]: 25, E["t"]: 1})
    assert S.opnorm_threshold(16, 25, 1.0, 4.0) == float(v)


def test_margin_has_no_cancellation_at_tiny_eps():
    e = 1e-12
    m = float(S.margin(e, 0.5 * e))
    assert m == pytest.approx(0.5e-12 / 2.0, rel=1e-6)


@settings(max_examples=300, deadline=None)
@given(e=st.floats(1e-6, 0.999), f=st.floats(0.001, 0.999), u=st.floats(-1, 1), v=st.floats(-1, 1))
@example(e=0.5, f=0.5, u=1.0, v=1.0)
@example(e=0.5, f=0.5, u=-1.0, v=-1.0)
def test_perturbation_step_keeps_the_band(e, f, u, v):
    # b² in [1 − ε₁, 1 + ε₁] and |a − b| ≤ m(ε, ε₁) imply |a² − 1| ≤ ε (the combination step)
    e1 = f * e
    m = float(S.margin(e, e1))
    b = math.sqrt(1.0 + u * e1) if u >= 0 else math.sqrt(1.0 + u * e1)
    a = max(0.0, b + v * m)
    assert abs(a * a - 1.0) <= e * (1 + 1e-9) + 1e-15


def test_perturbation_step_is_tight():
    # at the binding side the margin puts a² exactly on the band's edge
    e, e1 = 0.5, 0.2
    m = float(S.margin(e, e1))
    up = (math.sqrt(1 + e1) + m) ** 2 - 1
    down = 1 - (math.sqrt(1 - e1) - m) ** 2
    assert max(up, down) == pytest.approx(e, rel=1e-12)


def test_lipschitz_step_on_random_networks():
    # ‖h_L(x) − h_L(y)‖ ≤ Π‖W_l‖·‖x − y‖ for ReLU nets (deterministic inequality), and the printed
    # thresholds are what the code multiplies
    rng = np.random.default_rng(11)
    for _ in range(50):
        n, L, k = int(rng.integers(2, 40)), int(rng.integers(1, 4)), int(rng.integers(1, 6))
        Ws = [rng.normal(0, math.sqrt(2 / n), (n, k))] + [rng.normal(0, math.sqrt(2 / n), (n, n)) for _ in range(L - 1)]
        lip = np.prod([np.linalg.norm(W, 2) for W in Ws])
        x, y = rng.standard_normal(k), rng.standard_normal(k)

        def h(z):
            for W in Ws:
                z = np.maximum(W @ z, 0.0)
            return z
        assert np.linalg.norm(h(x) - h(y)) <= lip * np.linalg.norm(x - y) * (1 + 1e-12)
    s1 = S.opnorm_threshold(100, 5, 2.0, 2 / 100)
    sl = S.opnorm_threshold(100, 100, 2.0, 2 / 100)
    assert float(S.log_lipschitz(100, 3, 5, 2.0)) == pytest.approx(math.log(s1 * sl * sl), rel=1e-14)


# --- the bound and the width ------------------------------------------------------------------------
@settings(max_examples=25, deadline=None)
@given(n=st.integers(10, 10**7), L=st.integers(1, 20), k=st.integers(1, 200), e=st.floats(0.01, 0.99))
def test_sphere_bound_is_above_the_union_over_its_net(n, L, k, e):
    # the sphere bound is at least the union bound over its own net at the full band ε
    s = S.sphere_failure_bound(n, L, k, e)
    assert s.log_failure >= s.log_net_term
    assert s.log_failure >= s.log_op_term
    assert s.log_net_term >= s.log_net_size + log_failure_bound("chernoff_per_layer", n, L, 1, e) - 1e-9
    assert s.gamma == pytest.approx(float(S.margin(e, s.eps1)) / math.exp(s.log_lipschitz), rel=1e-12)


@settings(max_examples=10, deadline=None)
@given(L=st.integers(1, 6), k=st.integers(1, 6), e=st.floats(0.05, 0.95), d=st.floats(1e-12, 0.5))
@example(L=1, k=1, e=0.999, d=0.5)
def test_sphere_width_is_at_least_the_union_width_for_fewer_inputs_than_any_net(L, k, e, d):
    # every grid point's net has γ < ε/2, so |T| ≥ (1 + 2/ε)^k ≥ N: the sphere width must ask at least
    # the per-layer width for N such inputs
    N = int(min(1e15, math.floor((1 + 2 / e) ** k)))
    assert S.min_width_sphere(L, k, d, e).min_width >= min_width("chernoff_per_layer", L, N, d, e).min_width


def test_min_width_is_the_first_width_meeting_delta():
    widths = {}
    for method in S.METHODS:
        r = S.min_width_sphere(2, 3, 0.1, 0.5, method=method)
        n = widths[method] = r.min_width
        assert S.sphere_failure_bound(n, 2, 3, 0.5, method=method).log_failure <= math.log(0.1)
        assert S.sphere_failure_bound(n - 1, 2, 3, 0.5, method=method).log_failure > math.log(0.1)
    # not a theorem: the product bound is the tighter single-input bound on this design
    assert widths["chernoff_product"] < widths["chernoff_per_layer"]


@pytest.mark.parametrize("method", S.METHODS)
def test_failure_bound_non_increasing_in_width(method):
    # proven for the per-layer method (each grid term is), only checked for the product method
    ns = np.unique(np.geomspace(50, 5 * 10**5, 12).astype(int))
    v = [S.sphere_failure_bound(int(n), 2, 4, 0.5, method=method).log_failure for n in ns]
    assert all(b <= a + 1e-12 for a, b in zip(v, v[1:]))


@settings(max_examples=5, deadline=None)
@given(L=st.integers(1, 8), k=st.integers(1, 50), e=st.floats(0.02, 0.9), d=st.floats(1e-30, 0.5))
def test_min_width_monotone_in_every_parameter(L, k, e, d):
    w = S.min_width_sphere(L, k, d, e).min_width
    assert S.min_width_sphere(L + 1, k, d, e).min_width >= w
    assert S.min_width_sphere(L, k + 1, d, e).min_width >= w
    assert S.min_width_sphere(L, k, d, e * 0.9).min_width >= w
    assert S.min_width_sphere(L, k, d * 0.1, e).min_width >= w


def test_subspace_width_depends_on_k_only():
    a = S.min_width_sphere(2, 100, 0.05, 0.4, subspace=7)
    b = S.min_width_sphere(2, 7, 0.05, 0.4)
    assert a.min_width == b.min_width and a.dim == 7


def test_extreme_inputs_answer_in_log_space():
    # regression (fuzz): a subnormal δ overflowed the starting guess's 2L/δ to inf, which started the
    # search at 1e300 (4 s per evaluation there) and hung the command
    r = S.min_width_sphere(8, 3, 1e-310, 0.1)
    assert r.evaluations < 40 and r.split.log_failure <= math.log(1e-310)
    r = S.min_width_sphere(10**4, 10**6, 1e-300, 1e-6)
    assert 1e25 < r.min_width < 1e40
    assert math.isfinite(r.split.log_failure) and r.split.log_failure <= math.log(1e-300)


def test_refusals_before_the_work():
    with pytest.raises(CostLimitError, match="double resolution") as e:
        S.min_width_sphere(10, 4, 0.1, 1e-200)
    assert e.value.param == "eps"
    with pytest.raises(CostLimitError, match="1e-280"):
        S.min_width_sphere(10**130, 4, 0.1, 1e-13)
    with pytest.raises(CostLimitError, match="2\\^53|9.01e\\+15"):
        S.min_width_sphere(50, 10**6, 1e-300, 1e-4, method="chernoff_product")
    with pytest.raises(CostLimitError):       # regression (fuzz): the starting guess divided by log1p(ε/2)² = 0
        S.min_width_sphere(2, 10**7, 1e-300, 1e-300, method="chernoff_product")
    with pytest.raises(DomainError) as e:
        S.min_width_sphere(2, 4, 0.1, 0.5, subspace=5)
    assert e.value.param == "subspace" and "got 5" in str(e.value)
    with pytest.raises(DomainError):
        S.sphere_failure_bound(0, 1, 1, 0.5)


def test_scaling_leading_order():
    _, lead = S.scaling("chernoff_per_layer")
    sym = {s.name: s for s in lead.free_symbols}
    L, k, eps = sym["L"], sym["k"], sym["epsilon"]
    assert sy.simplify(lead - 15 * sy.log(2) * k * L**3 / sy.log(1 + eps) ** 2) == 0
    _, lead2 = S.scaling("chernoff_product")
    assert sy.simplify(lead2 * L - lead) == 0
    # the exact widths approach the leading order from above as L grows (ratio falls towards 1)
    ratios = [S.min_width_sphere(L_, 4, 0.1, 0.5).min_width / float(lead.subs({L: L_, k: 4, eps: 0.5}))
              for L_ in (16, 64, 256)]
    assert ratios[0] > ratios[1] > ratios[2] > 1.0


def test_sphere_eps_brackets_the_band():
    n, L, k, d = 5000, 2, 3, 0.1
    e = S.sphere_eps(n, L, k, d)
    assert S.sphere_failure_bound(n, L, k, e).log_failure <= math.log(d)
    assert S.sphere_failure_bound(n, L, k, e * (1 - 2e-3)).log_failure > math.log(d)
    assert S.sphere_eps(10, 3, 50, 1e-6) is None


# --- the exact suprema used by the search's identity claim -------------------------------------------
def test_sup_linear():
    assert S.sup_deviation_linear([np.diag([2.0, 0.5])]) == 3.0
    Q, _ = np.linalg.qr(np.random.default_rng(0).standard_normal((5, 5)))
    assert S.sup_deviation_linear([Q, 1.1 * Q.T]) == pytest.approx(0.21, rel=1e-12)
    assert S.sup_deviation_linear([np.ones((1, 2))]) == pytest.approx(1.0)   # σ_min = 0 (wide)


def test_sup_relu_circle_against_a_dense_grid():
    rng = np.random.default_rng(5)
    for n in (1, 3, 17, 64):
        W = rng.normal(0, math.sqrt(2 / n), (n, 2))
        hi, lo = S.sup_deviation_relu_circle(W)
        th = np.linspace(0, 2 * np.pi, 400001)
        X = np.stack([np.cos(th), np.sin(th)], axis=1)
        f = (np.maximum(X @ W.T, 0) ** 2).sum(axis=1)
        # the exact extremes bracket the grid's, and the grid (spacing 1.6e-5 rad) comes within its
        # second-order error, ≤ ‖W‖²·(spacing)² ≤ 1e-7 here
        assert hi >= f.max() - 1e-12 and lo <= f.min() + 1e-12
        tol = 10 * np.linalg.norm(W, 2) ** 2 * (th[1] - th[0]) ** 2
        assert hi - f.max() <= tol and f.min() - lo <= tol
    with pytest.raises(DomainError):
        S.sup_deviation_relu_circle(np.ones((3, 3)))


# --- the report and the derivation -------------------------------------------------------------------
def test_report_shape():
    r = S.sphere_report(2, 16, 0.05, 0.5, subspace=4, samples=100, width=10**6)
    d = r.as_dict()
    assert d["sphere"]["min_width"] > d["subspace"]["min_width"]
    assert [u["method"] for u in d["union"]] == ["chernoff_per_layer", "exact_union", "chernoff_per_layer",
                                                 "chernoff_product"]
    assert d["at_width"]["dim"] == 4 and 0 < d["at_width"]["eps"] < 0.5
    assert "L**3" in d["scaling"] or "L^3" in d["scaling"]


def test_derivation_renders_and_its_expressions_are_the_evaluated_ones():
    der = S.derive_sphere()
    for fmt in ("text", "latex", "markdown"):
        assert der.render(fmt)
    E = S._expr()
    exprs = [s.expr for s in der.steps]
    assert any(e.has(E["lip"]) or e == E["lip"] for e in exprs)
    assert all(s.source in ("derived", "paper") for s in der.steps)
