"""Residual networks (HR18; docs/theory.md): block moments, growth curves, the FM1 condition, derivation."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import example, given, settings, strategies as st

from initbounds.bounds.errors import DomainError
from initbounds.bounds.resnet import derive_resnet, residual_growth, residual_moments


def test_residual_schedules():
    c = residual_moments(100, 64, 64, 0.5)
    assert c.mean_ratio == pytest.approx(1.25**100) and not c.fm1
    inv = residual_moments(100, 64, 64, 0.5, schedule="inv")
    assert inv.fm1 and inv.normalized_second < 1.1
    with pytest.raises(DomainError, match="schedule must be one of"):
        residual_moments(3, 4, 4, 0.1, schedule="nope")


def test_derive_resnet_sums_and_moments():
    import sympy as sy

    d = derive_resnet()
    sums = d.steps[2].expr
    vals = {str(e.lhs): e.rhs for e in sums}
    assert vals["Σ η_b² (const)"] == sy.oo and vals["Σ η_b² (invsqrt)"] == sy.oo
    eta = next(iter(vals["Σ η_b² (inv)"].free_symbols))
    assert float(vals["Σ η_b² (inv)"].subs(eta, 1)) == pytest.approx(math.pi**2 / 6)
    ef2 = d.steps[1].expr.rhs
    s = {str(x): x for x in ef2.free_symbols}
    val = float(ef2.subs({s["eta"]: 0.7, s["n"]: 8, s["m"]: 4}))
    assert val == pytest.approx(residual_moments(1, 8, 4, 0.7).second_moment_ratio, rel=1e-14)


def test_residual_growth_curves():
    g = residual_growth(50, 32, 16, 0.5, schedule="invsqrt")
    r = residual_moments(50, 32, 16, 0.5, schedule="invsqrt")
    assert math.exp(g["log_mean"][-1]) == pytest.approx(r.mean_ratio, rel=1e-13)
    assert np.all(np.diff(g["log_mean"]) > 0)
    inv = residual_growth(100000, 32, 16, 1.0, schedule="inv")
    assert inv["normalized_second"][-1] < 1.5 and math.exp(inv["log_mean"][-1]) < math.sinh(math.pi) / math.pi


# --- issue 11: the block moments in log space, at every legal η and B -------------------------------
@settings(max_examples=60, deadline=None)
@given(eta=st.floats(0.0, 1e300), n=st.integers(1, 10**6), m=st.integers(1, 10**6))
@example(eta=0.5, n=16, m=8).via("a README design")
@example(eta=1e154, n=64, m=64).via("η² at the edge of the double range")
@example(eta=1e-200, n=1, m=1).via("η² below the smallest double")
def test_block_logs_equal_the_canonical_expressions(eta, n, m):
    """block_logs against residual_block_exprs evaluated by sympy/mpmath at 50 digits."""
    import mpmath as mp
    import sympy as sy

    from initbounds.bounds.resnet import block_logs, residual_block_exprs

    ef, ef2 = residual_block_exprs()
    syms = {str(x): x for x in ef2.free_symbols}
    vals = {syms["eta"]: sy.Float(eta, 60), syms["n"]: n, syms["m"]: m}
    with mp.workdps(50):
        l1 = mp.log(mp.mpf(str(sy.N(ef.subs(vals), 60))))
        l2 = mp.log(mp.mpf(str(sy.N(ef2.subs(vals), 60))))
        lf, lf2, lnorm = (float(v[0]) for v in block_logs([eta], n, m))
        assert abs(lf - l1) <= 1e-13 * max(1.0, abs(l1))
        assert abs(lf2 - l2) <= 1e-13 * max(1.0, abs(l2))
        assert abs(lnorm - (l2 - 2 * l1)) <= 1e-12 * max(1.0, abs(l2))


def test_extreme_blocks_and_branch_scales_answer_without_warnings(recwarn):
    """resnet --blocks 10^6 (OverflowError before) and η up to 1e308 (inf, nan and RuntimeWarnings)."""
    from initbounds.bounds.resnet import resnet_report

    big = resnet_report(10**6, 64, 64, 1.0)
    assert big["mean_ratio"] is None and big["normalized_second"] is None
    assert big["log_mean_ratio"] == pytest.approx(10**6 * math.log(2), rel=1e-12)
    for eta in (1e154, 1e308):
        r = resnet_report(10, 64, 64, eta)
        assert r["block_second_moment"] is None and r["normalized_second"] == pytest.approx(
            resnet_report(10, 64, 64, 1e6)["normalized_second"], rel=1e-9)
        assert math.isfinite(r["log_second_moment_ratio"])
    assert len(recwarn) == 0, [str(w.message) for w in recwarn]
