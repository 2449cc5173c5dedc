"""SGD noise and the break-even point, closed forms (J17, J20; docs/theory.md §14): exact
enumeration over every batch in rational arithmetic, the derivation, properties, errors."""
from __future__ import annotations

import itertools
import math
from fractions import Fraction

import pytest
import sympy as sy
from hypothesis import example, given, settings, strategies as st

from initbounds.bounds.errors import DomainError
from initbounds.bounds.noise import (NOISE_WITHOUT_EXPR, STABILITY_EXPR, critical_batch_simple, derive_noise,
                                     isotropic_sigma2, max_stable_lr, minibatch_noise, minibatch_noise_exprs,
                                     noise_report, noise_temperature, stability_expr, stability_lhs)


def _points(n, dim, seed):
    """n integer vectors in Z^dim from a written seed (Python's PRNG, local instance)."""
    import random

    r = random.Random(seed)
    return [[Fraction(r.randint(-9, 9)) for _ in range(dim)] for _ in range(n)]


def _trace_k(g):
    n = len(g)
    mean = [sum(c) / n for c in zip(*g)]
    return sum(sum((a - m) ** 2 for a, m in zip(v, mean)) for v in g) / n, mean


def _batch_noise(g, idx, mean):
    s = len(idx)
    gs = [sum(g[i][d] for i in idx) / s for d in range(len(mean))]
    return sum((a - m) ** 2 for a, m in zip(gs, mean))


def _exact(expr, **vals):
    sub = {sym: sy.Rational(vals[str(sym)].numerator, vals[str(sym)].denominator) if isinstance(vals[str(sym)], Fraction)
           else sy.Integer(vals[str(sym)]) for sym in expr.free_symbols}
    return expr.subs(sub)


@pytest.mark.parametrize("n,s,seed", [(5, 1, 0), (5, 2, 1), (6, 3, 2), (5, 5, 3), (7, 4, 4)])
def test_minibatch_identities_by_enumerating_every_batch(n, s, seed):
    """The mean over all C(N, S) subsets (and all N^S ordered draws with replacement) of
    ‖g_S − ḡ‖², in exact rationals, is the sympy expression exactly — and the float function agrees."""
    g = _points(n, 3, seed)
    tk, mean = _trace_k(g)
    subsets = list(itertools.combinations(range(n), s))
    without = sum(_batch_noise(g, c, mean) for c in subsets) / len(subsets)
    draws = list(itertools.product(range(n), repeat=s))
    with_rep = sum(_batch_noise(g, c, mean) for c in draws) / len(draws)
    e_without, e_with = minibatch_noise_exprs()
    assert _exact(e_without, TrK=tk, N=n, S=s) == sy.Rational(without.numerator, without.denominator)
    assert _exact(e_with, TrK=tk, N=n, S=s) == sy.Rational(with_rep.numerator, with_rep.denominator)
    assert minibatch_noise(float(tk), n, s, replacement=False) == pytest.approx(float(without), rel=1e-14, abs=1e-14)
    assert minibatch_noise(float(tk), n, s, replacement=True) == pytest.approx(float(with_rep), rel=1e-14)


def test_one_over_n_minus_one_covariance_changes_the_factor():
    """With K′ = N K/(N − 1) the without-replacement factor reads (N − S)/(S N) (docstring claim)."""
    syms = {str(x): x for x in NOISE_WITHOUT_EXPR.free_symbols}
    n_, s_, t = syms["N"], syms["S"], syms["TrK"]
    k_prime = n_ * t / (n_ - 1)
    assert sy.simplify(NOISE_WITHOUT_EXPR - k_prime * (n_ - s_) / (s_ * n_)) == 0
    for n, s in [(10, 3), (100, 7)]:
        tk = 2.5
        assert minibatch_noise(tk, n, s, replacement=False) == pytest.approx((n * tk / (n - 1)) * (n - s) / (s * n))


@pytest.mark.parametrize("n,s,seed", [(5, 2, 0), (6, 1, 1), (6, 4, 2), (7, 3, 3)])
def test_stability_lhs_is_the_exact_one_step_factor_on_the_quadratic(n, s, seed):
    """ψ′ = (1 − η h_S) ψ: averaging (1 − η h_S)² over every S-subset, in rationals, gives J20's
    LHS with λ = mean h and s² = (1/N) Σ (h_i − λ)² exactly."""
    import random

    r = random.Random(seed)
    h = [Fraction(r.randint(1, 20), 4) for _ in range(n)]
    eta = Fraction(r.randint(1, 9), 40)
    lam = sum(h) / n
    s2 = sum((v - lam) ** 2 for v in h) / n
    subsets = list(itertools.combinations(range(n), s))
    mean_sq = sum((1 - eta * sum(h[i] for i in c) / s) ** 2 for c in subsets) / len(subsets)
    assert _exact(stability_expr(), eta=eta, lambda_H=lam, s2=s2, N=n, S=s) == \
        sy.Rational(mean_sq.numerator, mean_sq.denominator)
    assert stability_lhs(float(eta), float(lam), float(s2), n, s) == pytest.approx(float(mean_sq), rel=1e-13)


def test_derivation_steps_are_the_evaluated_expressions():
    d = derive_noise()
    without, with_rep = d.steps[0].expr.rhs, d.steps[1].expr.rhs
    e_without, e_with = minibatch_noise_exprs()
    assert sy.simplify(without - e_without) == 0 and sy.simplify(with_rep - e_with) == 0
    second = d.steps[2].expr.rhs
    assert sy.simplify(second - STABILITY_EXPR) == 0
    assert d.steps[3].expr.lhs == STABILITY_EXPR
    eta_star = d.steps[4].expr.rhs
    syms = {str(x): x for x in STABILITY_EXPR.free_symbols}
    assert sy.simplify(STABILITY_EXPR.subs(syms["eta"], eta_star) - 1) == 0
    for fmt in ("text", "latex", "markdown"):
        assert "J20" in d.render(fmt)


@settings(max_examples=60, deadline=None)
@given(lam=st.floats(0.01, 1e3), s2=st.floats(0, 1e4), n=st.integers(2, 5000), frac=st.floats(0, 1))
@example(lam=1.0, s2=0.0, n=10, frac=1.0)
def test_max_stable_lr_is_the_edge(lam, s2, n, frac):
    s = max(1, min(n, int(round(1 + frac * (n - 1)))))
    eta = max_stable_lr(lam, s2, n, s)
    assert 0 < eta <= 2 / lam * (1 + 1e-12)
    assert stability_lhs(eta, lam, s2, n, s) == pytest.approx(1.0, rel=1e-9)
    assert stability_lhs(0.5 * eta, lam, s2, n, s) < 1.0
    assert stability_lhs(1.5 * eta, lam, s2, n, s) > 1.0
    if s == n or s2 == 0:
        assert eta == pytest.approx(2 / lam, rel=1e-12)


@settings(max_examples=60, deadline=None)
@given(tk=st.floats(0, 1e6), n=st.integers(2, 10**6), frac=st.floats(0, 1))
@example(tk=1.0, n=2, frac=0.0)
def test_minibatch_noise_properties(tk, n, frac):
    s = max(1, min(n, int(1 + frac * (n - 1))))
    wo, wi = minibatch_noise(tk, n, s, replacement=False), minibatch_noise(tk, n, s, replacement=True)
    assert 0 <= wo <= wi * (1 + 1e-12)            # sampling without replacement is never noisier
    if s == 1:
        assert wo == pytest.approx(tk) and wi == pytest.approx(tk)
    if s == n:
        assert wo == 0
    if s < n:
        assert minibatch_noise(tk, n, s + 1, replacement=False) <= wo * (1 + 1e-12)


def test_noise_scale_and_extensions():
    assert isotropic_sigma2(12.0, 4) == 3.0
    assert noise_temperature(0.2, 10, 3.0) == pytest.approx(0.03)
    # η/S fixes J17's n at fixed σ²: doubling both leaves it unchanged
    assert noise_temperature(0.4, 20, 3.0) == pytest.approx(noise_temperature(0.2, 10, 3.0))
    assert critical_batch_simple(5.0, 0.0) is None and critical_batch_simple(5.0, 2.0) == 2.5


@pytest.mark.parametrize("call,param", [
    (lambda: minibatch_noise(1.0, 10, 11, replacement=False), "batch"),
    (lambda: minibatch_noise(1.0, 1, 1, replacement=True), "n"),
    (lambda: minibatch_noise(-1.0, 10, 2, replacement=True), "trace_k"),
    (lambda: minibatch_noise(math.nan, 10, 2, replacement=True), "trace_k"),
    (lambda: stability_lhs(0.0, 1.0, 0.0, 10, 2), "lr"),
    (lambda: stability_lhs(0.1, 1.0, -1.0, 10, 2), "s2"),
    (lambda: stability_lhs(0.1, 1.0, 1.0, 10, 0), "batch"),
    (lambda: max_stable_lr(-1.0, 1.0, 10, 2), "lam_h"),
    (lambda: noise_temperature(0.1, 0, 1.0), "batch"),
])
def test_domain_errors_name_the_parameter(call, param):
    with pytest.raises(DomainError) as e:
        call()
    assert e.value.param == param


def test_noise_report_rows_follow_the_functions():
    m = {"n": 100, "params": 50, "step": 0, "loss": 2.3, "accuracy": 0.1, "trace_k": 4.0,
         "lambda_k": [1.0, 0.5], "grad_sq": 0.5, "lambda_h": [3.0, 1.0], "hvps": 30, "s2": 2.0,
         "trace_h": 10.0, "trace_h_ci": [9.0, 11.0], "probes": 20}
    r = noise_report(m, lr=0.1, batch=10)
    assert r["stability_lhs"] == stability_lhs(0.1, 3.0, 2.0, 100, 10)
    assert r["noise_without_replacement"] == minibatch_noise(4.0, 100, 10, replacement=False)
    assert r["trace_k_over_lambda_k1"] == 4.0 and r["critical_batch_simple"] == 8.0
    assert r["j17_noise_scale"] == noise_temperature(0.1, 10, 4.0 / 50)
    assert all(len(row) == 3 for row in r.rows)
    with pytest.raises(DomainError) as e:
        noise_report(m, lr=0.1, batch=101)
    assert e.value.param == "batch"
