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


# --- blocks with biases and any gains (the audit's block; docs/theory.md §15) --------------------------
from initbounds.bounds.errors import CostLimitError  # noqa: E402
from initbounds.bounds.resnet import (MAX_BIAS_BLOCKS, residual_bias_block_exprs,  # noqa: E402
                                      residual_bias_moments)


def _block_by_hand(M, eta, n, m, c1, c2, s1, s2):
    """E[M′|M], E[M′²|M] from the conditional laws, term by term (independent of the sympy expressions):
    z_i ~ N(0, q) given x; ‖u‖² = Σ relu(z_i)² has mean mq/2 and second moment m(m + 5)q²/4; given u the
    branch coordinates are N(0, p), p = c₂‖u‖²/m + s₂², so E‖y‖² = nEp, E⟨x,y⟩² = nM·Ep, E‖y‖⁴ = n(n+2)Ep²."""
    q = c1 * M + s1
    eu, eu2 = m * q / 2, m * (m + 5) * q * q / 4
    ep = c2 * eu / m + s2
    ep2 = (c2 / m) ** 2 * eu2 + 2 * (c2 / m) * s2 * eu + s2 * s2
    R = n * M
    mean = (R + eta**2 * n * ep) / n
    second = (R * R + 2 * R * eta**2 * n * ep + 4 * eta**2 * R * ep + eta**4 * n * (n + 2) * ep2) / n**2
    return mean, second


def test_bias_block_exprs_equal_the_term_by_term_moments():
    import sympy as sy

    mean, second = residual_bias_block_exprs()
    syms = {str(s): s for s in mean.free_symbols | second.free_symbols}
    vals = dict(M=0.7, eta=0.9, n=6, m=5, c1=1.3, c2=0.4, s1sq=0.2, s2sq=0.05)
    sub = {syms[k]: sy.Rational(str(v)) for k, v in vals.items()}
    hand = _block_by_hand(*(sy.Rational(str(vals[k])) for k in ("M", "eta", "n", "m", "c1", "c2", "s1sq", "s2sq")))
    assert sy.simplify(mean.subs(sub) - hand[0]) == 0 and sy.simplify(second.subs(sub) - hand[1]) == 0


def test_bias_moments_identities():
    # zero biases, c₁ = 2, c₂ = 1: the HR18 block of residual_moments, every schedule
    for sc in ("const", "inv", "invsqrt"):
        a, b = residual_moments(7, 9, 5, 0.8, schedule=sc), residual_bias_moments(7, 9, 5, 0.8, schedule=sc)
        assert b.mean_ratio == pytest.approx(a.mean_ratio, rel=1e-13)
        assert b.second_ratio == pytest.approx(a.second_moment_ratio, rel=1e-13)
        assert b.normalized_second == pytest.approx(a.normalized_second, rel=1e-13)
    # zero biases: only η_eff² = η²c₁c₂/2 enters
    g = residual_bias_moments(5, 12, 7, 1.0, c1=1 / 3, c2=1 / 3)
    h = residual_moments(5, 12, 7, math.sqrt(1 / 18))
    assert (g.mean_ratio, g.second_ratio) == pytest.approx((h.mean_ratio, h.second_moment_ratio), rel=1e-13)
    # the mean is the affine recursion E M_b = (1 + a)E M_{b−1} + τ: a = η²c₁c₂/2, τ = η²(c₂s₁²/2 + s₂²)
    eta, c1, c2, s1, s2, B, m0 = 0.6, 1.5, 0.8, 0.1, 0.03, 9, 2.0
    a, tau = eta**2 * c1 * c2 / 2, eta**2 * (c2 * s1 / 2 + s2)
    closed = (1 + a) ** B * m0 + tau * ((1 + a) ** B - 1) / a
    r = residual_bias_moments(B, 10, 10, eta, c1=c1, c2=c2, bias_var1=s1, bias_var2=s2, m0=m0)
    assert r.mean == pytest.approx(closed, rel=1e-13)
    # η = 0: nothing moves; a fixed input has E M_0² = m0²
    z = residual_bias_moments(3, 4, 4, 0.0, bias_var1=1.0, bias_var2=1.0, m0=3.0)
    assert (z.mean, z.second) == (3.0, 9.0)


def test_bias_moments_refusals():
    with pytest.raises(CostLimitError, match="blocks must be ≤ 10\\^5"):
        residual_bias_moments(MAX_BIAS_BLOCKS + 1, 4, 4, 0.5, schedule="inv", bias_var2=0.1)
    with pytest.raises(DomainError, match="m0_second must be ≥ m0²"):
        residual_bias_moments(2, 4, 4, 0.5, m0=2.0, m0_second=3.0)
    with pytest.raises(DomainError, match="c1"):
        residual_bias_moments(2, 4, 4, 0.5, c1=0.0)
    big = residual_bias_moments(10**15, 4, 4, 1e-3, bias_var2=0.1)       # O(log B) for const
    assert big.mean is None and math.isfinite(big.log_mean)               # beyond a double: None, its log beside
    assert big.log_mean == pytest.approx(10**15 * math.log1p(1e-6), rel=1e-9)


@settings(max_examples=40, deadline=None)
@given(B=st.integers(1, 12), n=st.integers(1, 40), m=st.integers(1, 40), eta=st.floats(0, 3),
       c1=st.floats(0.05, 4), c2=st.floats(0.05, 4), s1=st.floats(0, 2), s2=st.floats(0, 2), m0=st.floats(0.01, 10),
       spread=st.floats(0, 3))
def test_bias_moments_properties(B, n, m, eta, c1, c2, s1, s2, m0, spread):
    """One block at a time equals B blocks; E M_B² ≥ (E M_B)² (Jensen, from any E M_0² ≥ (E M_0)²); more bias
    never lowers either moment; the mean does not depend on the widths."""
    kw = dict(c1=c1, c2=c2, bias_var1=s1, bias_var2=s2)
    sec0 = m0 * m0 * (1 + spread)
    r = residual_bias_moments(B, n, m, eta, m0=m0, m0_second=sec0, **kw)
    mean, sec = m0, sec0
    for _ in range(B):
        one = residual_bias_moments(1, n, m, eta, m0=mean, m0_second=sec, **kw)
        mean, sec = one.mean, one.second
    assert r.mean == pytest.approx(mean, rel=1e-9) and r.second == pytest.approx(sec, rel=1e-9)
    assert r.second >= r.mean**2 * (1 - 1e-12)
    more = residual_bias_moments(B, n, m, eta, m0=m0, m0_second=sec0, **dict(kw, bias_var2=s2 + 0.5))
    assert more.mean >= r.mean * (1 - 1e-12) and more.second >= r.second * (1 - 1e-12)
    assert residual_bias_moments(B, n + 3, m + 1, eta, m0=m0, **kw).mean == pytest.approx(
        residual_bias_moments(B, n, m, eta, m0=m0, **kw).mean, rel=1e-12)
