"""Residual networks (HR18; docs/theory.md): block moments, growth curves, the FM1 condition, derivation."""
from __future__ import annotations

import math

import numpy as np
import pytest

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
