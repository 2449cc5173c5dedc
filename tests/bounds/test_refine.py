"""J18 closed forms at initialization (issue 13; docs/theory.md §13): identities, limits,
properties, the derivation's expressions equal the evaluated ones, and the Taylor check."""
from __future__ import annotations

import math

import mpmath as mp
import pytest
import sympy as sy
from hypothesis import example, given, settings, strategies as st

from initbounds.bounds.errors import DomainError
from initbounds.bounds.refine import (branch_exprs, branch_ratio_mean, derive_refine, refine_report,
                                      shared_growth_coefficient, shared_two_step_limit, taylor_series_check,
                                      unshared_growth)
from initbounds.bounds.resnet import residual_moments


def test_branch_moments_are_derived_not_typed():
    e = branch_exprs()
    n = next(s for s in e["relu2"].free_symbols if s.name == "n")
    assert sy.simplify(e["relu2"] - 1 / n) == 0
    a = next(iter(e["ratio"].free_symbols))
    assert sy.simplify(e["ratio"] - a**2) == 0 and e["cross"] == 0


@settings(max_examples=40, deadline=None)
@given(alpha=st.floats(0, 1000), blocks=st.integers(1, 60))
@example(alpha=0.0, blocks=1).via("no branch")
@example(alpha=1000.0, blocks=60).via("the largest α")
def test_unshared_growth_is_the_hr18_mean_factor(alpha, blocks):
    """(1 + α²)^B here equals bounds.resnet's Π(1 + η²) at η = α (independent code, same law)."""
    vals, logs = unshared_growth(blocks, alpha)
    assert len(vals) == blocks + 1 and vals[0] == 1.0
    assert logs[-1] == pytest.approx(residual_moments(blocks, 8, 8, alpha).log_mean_ratio, rel=1e-12, abs=1e-300)
    assert all(b >= a for a, b in zip(logs, logs[1:]))
    assert branch_ratio_mean(alpha) == pytest.approx(alpha**2, rel=1e-15)


def test_unshared_growth_overflow_keeps_the_log():
    vals, logs = unshared_growth(200, 1000.0)
    assert vals[-1] is None and logs[-1] == pytest.approx(200 * math.log1p(1e6), rel=1e-14)


@settings(max_examples=60, deadline=None)
@given(blocks=st.integers(1, 10**6), width=st.integers(1, 10**9))
@example(blocks=1, width=1).via("one block: the coefficient is 1 at every width")
def test_shared_coefficient_properties(blocks, width):
    c = shared_growth_coefficient(blocks, width)
    assert c == pytest.approx(blocks**2 + blocks * (blocks - 1) / width, rel=1e-14)
    assert c >= blocks                             # shared grows at least as fast as unshared (B)
    assert blocks**2 <= c <= 2 * blocks**2         # between the infinite-width B² and n = 1
    if blocks == 1:
        assert c == 1.0                            # one block is the same network shared or not


def test_kernel_special_values_and_quadrature():
    k = branch_exprs()["kernel"]
    rho = next(iter(k.free_symbols))
    assert sy.simplify(k.subs(rho, 1) - sy.Rational(1, 2)) == 0          # E relu(X)²
    assert sy.simplify(k.subs(rho, 0) - 1 / (2 * sy.pi)) == 0           # (E relu X)²
    with mp.workdps(30):
        r = mp.mpf("0.3")
        s = mp.sqrt(1 - r**2)
        # E[relu(X) relu(Y)], Y = rX + sZ: the Z-integral in closed form, rxΦ(rx/s) + sφ(rx/s), then X by quadrature
        quad = mp.quad(lambda x: mp.npdf(x) * x * (r * x * mp.ncdf(r * x / s) + s * mp.npdf(r * x / s)), [0, mp.inf])
        assert abs(quad - sy.N(k.subs(rho, sy.Rational(3, 10)), 30)) < mp.mpf(10)**-20


@settings(max_examples=60, deadline=None)
@given(alpha=st.floats(0, 1000))
@example(alpha=0.0)
@example(alpha=1e-8).via("small α: 1 + 4α²")
def test_shared_two_step_limit_properties(alpha):
    v = shared_two_step_limit(alpha)
    unshared = (1 + alpha**2) ** 2
    assert v >= unshared * (1 - 1e-15)            # the overlap term 2α²(1 + (α − arctan α)/π) ≥ 2α²
    if alpha <= 1e-4:
        assert v == pytest.approx(1 + 4 * alpha**2, rel=1e-12)          # B² = 4 at infinite width


def test_shared_two_step_limit_value_from_the_formula():
    a = 0.7
    want = 1 + 4 * a**2 + a**4 + 2 * a**2 * (a - math.atan(a)) / math.pi
    assert shared_two_step_limit(a) == pytest.approx(want, rel=1e-14)


@pytest.mark.parametrize("blocks", [1, 2, 3])
def test_taylor_expansion_identity(blocks):
    assert taylor_series_check(blocks) == 0
    assert taylor_series_check(blocks, factor=1) != 0     # the check can fail: a wrong coefficient shows


def test_derivation_prints_the_evaluated_expressions():
    d = derive_refine()
    text = d.to_text()
    assert "J18" in text and len(d.steps) == 8
    shared = d.steps[3].expr.rhs
    syms = {s.name: s for s in shared.free_symbols}
    assert float(shared.subs({syms["B"]: 5, syms["n"]: 7})) == shared_growth_coefficient(5, 7)
    two = d.steps[6].expr.rhs
    (a,) = two.free_symbols
    assert float(two.subs(a, sy.Rational(7, 10))) == pytest.approx(shared_two_step_limit(0.7), rel=1e-14)
    assert d.steps[-1].expr.rhs == 0


def test_report_rows_and_errors():
    r = refine_report(8, 32, 0.5)
    assert r["branch_ratio_mean"] == 0.25 and r["shared_growth_coefficient"] == 64 + 56 / 32
    assert r["unshared_growth"][-1] == pytest.approx(1.25**8, rel=1e-14)
    with pytest.raises(DomainError, match="alpha"):
        branch_ratio_mean(-0.1)
    with pytest.raises(DomainError, match="blocks"):
        shared_growth_coefficient(0, 4)
    with pytest.raises(DomainError, match="width"):
        shared_growth_coefficient(2, 0)


def test_unshared_growth_fast_path_equals_the_canonical_expression():
    """B·log1p(α²) against log((1 + α²)^B) from branch_exprs()['unshared'] at 60 digits."""
    e = branch_exprs()["unshared"]
    syms = {s.name: s for s in e.free_symbols}
    for alpha, B in ((0.5, 8), (1e-3, 40), (7.0, 3)):
        with mp.workdps(60):
            want = mp.log(mp.mpf(str(sy.N(e.subs({syms["alpha"]: sy.Float(alpha, 60), syms["B"]: B}), 60))))
        assert unshared_growth(B, alpha)[1][-1] == pytest.approx(float(want), rel=1e-14)
