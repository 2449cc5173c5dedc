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


# --- issue 11: totals in O(1) work in B ---------------------------------------------------------
def _log_mean_closed_form(B: int, eta: float, schedule: str) -> float:
    """log Π_{b≤B}(1 + η_b²) in closed form (mpmath, 60 digits): inv, Π(1 + η²/b²) =
    |Γ(B + 1 + iη)/Γ(1 + iη)|²/Γ(B + 1)²; invsqrt, Π(1 + η²/b) = Γ(B + 1 + η²)/(Γ(B + 1)Γ(1 + η²))."""
    import mpmath as mp

    with mp.workdps(60):
        e = mp.mpf(eta)
        if schedule == "inv":
            return float(2 * mp.re(mp.loggamma(B + 1 + 1j * e) - mp.loggamma(1 + 1j * e)) - 2 * mp.loggamma(B + 1))
        return float(mp.loggamma(B + 1 + e * e) - mp.loggamma(B + 1) - mp.loggamma(1 + e * e))


@pytest.mark.parametrize("B, eta, schedule", [(10**8, 1.0, "inv"), (10**8, 0.3, "invsqrt"), (10**15, 2.0, "inv"),
                                              (10**12, 1e3, "invsqrt"), (123_456_789, 50.0, "inv")])
def test_issue11_totals_at_1e8_blocks_against_closed_forms(B, eta, schedule):
    """`resnet --blocks 100000000 --schedule inv` took > 60 s (per-block arrays). The Euler–Maclaurin
    total of log E F_b agrees with the Gamma-function closed forms to 1e-12, in < 2 s."""
    r = residual_moments(B, 64, 64, eta, schedule=schedule)
    assert r.log_mean_ratio == pytest.approx(_log_mean_closed_form(B, eta, schedule), rel=1e-12, abs=1e-13)


@settings(max_examples=25, deadline=None)
@given(B=st.integers(200, 5000), log_eta=st.floats(-3, 200), schedule=st.sampled_from(["inv", "invsqrt"]),
       n=st.integers(1, 512), m=st.integers(1, 512))
def test_issue11_euler_maclaurin_tail_equals_the_direct_sum(B, log_eta, schedule, n, m):
    """With the direct part cut to 100 blocks, the Euler–Maclaurin tail reproduces the exactly rounded
    direct sums (fsum of block_logs over every block) of all three logs."""
    from initbounds.bounds import resnet as rn

    eta = 10.0**log_eta
    direct = [math.fsum(v) for v in rn.block_logs(rn._etas(B, eta, schedule), n, m)]
    old = rn._DIRECT_BLOCKS
    try:
        rn._DIRECT_BLOCKS = 100
        em = rn._log_totals(B, eta, schedule, n, m)
    finally:
        rn._DIRECT_BLOCKS = old
    for a, b in zip(em, direct):
        assert a == pytest.approx(b, rel=1e-10, abs=1e-12)


def test_issue11_eta_extremes_at_1e6_blocks_are_warning_free_and_finite():
    import warnings

    from initbounds.bounds.resnet import resnet_report

    for eta in (1.0, 1e154, 1e308):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            out = resnet_report(10**6, 64, 64, eta).as_dict()
        assert math.isfinite(out["log_mean_ratio"]) and math.isfinite(out["log_second_moment_ratio"])
        assert math.isfinite(out["log_normalized_second"])     # beside normalized_second, which is null here
        for key in ("mean_ratio", "second_moment_ratio", "normalized_second"):
            assert out[key] is None or math.isfinite(out[key])
