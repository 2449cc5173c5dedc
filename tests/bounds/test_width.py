"""Minimum width for norm preservation (AB19; docs/theory.md §3): the four methods.

The authors' formula against its closed form evaluated here with mpmath; for each bound method,
that the returned width is the smallest integer whose failure bound is ≤ δ; orderings between
the methods; monotonicity (hypothesis, few examples: each product-bound call takes ~0.3 s);
extreme legal inputs; exact error messages.
"""
from __future__ import annotations

import math
from functools import lru_cache

import mpmath as mp
import pytest
from hypothesis import example, given, settings, strategies as st

from initbounds.bounds import width as W
from initbounds.bounds.errors import DomainError
from initbounds.bounds.width import (AUTHORS_EXAMPLE, METHODS, authors_eps_total, log_failure_bound,
                          min_width)

BOUND_METHODS = METHODS[1:]          # every method except the authors' curve


@lru_cache(maxsize=None)
def _mw(method, depth, samples, delta, eps, norm="squared", layers="all"):
    """min_width, cached: several tests look at the same few points."""
    return min_width(method, depth, samples, delta, eps, norm=norm, layers=layers)


# --- the authors' plotting formula ----------------------------------------------------------------


def test_authors_formula_reproduces_their_example():
    ex = AUTHORS_EXAMPLE
    # docs/theory.md §3: ε′ = (1+ε)^{1/L} − 1, m = (4/ε′) ln(4NL/δ); decimal inputs taken exactly
    with mp.workdps(50):
        eps, delta = mp.mpf("0.15"), mp.mpf("0.05")
        eps_p = mp.root(1 + eps, 10) - 1
        m = 4 / eps_p * mp.log(4 * 2000 * 10 / delta)
        expected = int(mp.ceil(m))
    assert (ex["eps"], ex["samples"], ex["depth"], ex["delta"]) == (0.15, 2000, 10, 0.05)
    assert int(mp.floor(m)) == ex["width"] == 4060          # "m ≈ 4060" in docs/theory.md §3 / AB19
    assert expected == 4061                                 # m = 4060.023…, so the integer is 4061
    r = min_width("authors_formula", 10, 2000, 0.05, 0.15)
    assert r.min_width == expected
    assert math.isnan(r.log_failure)
    assert r.source == W.SOURCES["authors_formula"]
    # and it is the inverse of their ε_total curve: ε_total(4061) ≤ 0.15 < ε_total(4060)
    assert authors_eps_total(4061, 10, 2000, 0.05) <= 0.15 < authors_eps_total(4060, 10, 2000, 0.05)


# --- the returned width is the smallest one whose bound is ≤ δ ------------------------------------

POINTS = [
    # depth, samples, delta, eps, norm, layers
    (3, 10, 0.05, 0.2, "squared", "all"),
    (5, 100, 0.01, 0.3, "plain", "last"),
]


@pytest.mark.parametrize("point", POINTS)
@pytest.mark.parametrize("method", BOUND_METHODS)
def test_min_width_is_the_smallest_integer_meeting_delta(method, point):
    depth, samples, delta, eps, norm, layers = point
    r = _mw(method, depth, samples, delta, eps, norm, layers)
    n = r.min_width
    assert isinstance(n, int) and n >= 2
    # exact_union is decided at the relative tolerance min_width uses (the same deterministic
    # evaluation); the Chernoff bounds have no tolerance
    kw = {"rtol": W._EXACT_RTOL} if method == "exact_union" else {}
    at_n = log_failure_bound(method, n, depth, samples, eps, norm=norm, layers=layers, **kw)
    below = log_failure_bound(method, n - 1, depth, samples, eps, norm=norm, layers=layers, **kw)
    assert at_n <= math.log(delta) < below
    assert r.log_failure == at_n


@pytest.mark.parametrize("method", BOUND_METHODS)
def test_failure_bound_decreases_in_width(method):
    vals = [log_failure_bound(method, n, 3, 10, 0.2) for n in (500, 1000, 2000, 4000, 8000)]
    assert vals == sorted(vals, reverse=True) and vals[-1] < vals[0]


# --- orderings ------------------------------------------------------------------------------------


@pytest.mark.parametrize("point", POINTS)
def test_exact_union_needs_the_least_width(point):
    exact, product, per_layer = (_mw(m, *point).min_width
                                 for m in ("exact_union", "chernoff_product", "chernoff_per_layer"))
    unc = _mw("exact_union", *point).width_uncertainty
    assert exact - unc <= product
    assert exact - unc <= per_layer


@pytest.mark.parametrize("method", BOUND_METHODS)
def test_plain_norm_needs_less_width(method):
    """|‖h‖/‖x‖ − 1| ≤ ε is the band [(1−ε)², (1+ε)²] ⊃ [1−ε, 1+ε] for the squared ratio:
    a wider band fails less often, so the plain-norm width is at most the squared-norm width."""
    lo_p, hi_p = W.band_for_eps(0.2, "plain")
    lo_s, hi_s = W.band_for_eps(0.2, "squared")
    assert lo_p < lo_s and hi_p > hi_s
    plain = _mw(method, 3, 10, 0.05, 0.2, "plain")
    squared = _mw(method, 3, 10, 0.05, 0.2, "squared")
    assert plain.min_width <= squared.min_width + plain.width_uncertainty


# --- monotonicity (hypothesis) --------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(L=st.integers(1, 5), N=st.integers(1, 10**4), log_delta=st.floats(-60.0, -0.1),
       eps=st.floats(0.01, 0.9), norm=st.sampled_from(["squared", "plain"]))
@example(L=1, N=1, log_delta=-0.1, eps=0.9, norm="plain").via("smallest width")
@example(L=5, N=10**4, log_delta=-60.0, eps=0.01, norm="squared").via("largest width")
def test_per_layer_width_monotone(L, N, log_delta, eps, norm):
    """Non-decreasing in depth, samples, 1/δ and 1/ε (per-layer Chernoff: microseconds a call)."""
    delta = math.exp(log_delta)
    base = min_width("chernoff_per_layer", L, N, delta, eps, norm=norm).min_width
    assert min_width("chernoff_per_layer", L + 1, N, delta, eps, norm=norm).min_width >= base
    assert min_width("chernoff_per_layer", L, 2 * N, delta, eps, norm=norm).min_width >= base
    assert min_width("chernoff_per_layer", L, N, delta / 10, eps, norm=norm).min_width >= base
    assert min_width("chernoff_per_layer", L, N, delta, eps * 0.8, norm=norm).min_width >= base


@pytest.mark.slow  # ~5–7 s: 3 examples × 5 product-bound searches
@settings(max_examples=3, deadline=None)
@given(L=st.integers(1, 4), N=st.integers(1, 1000), log_delta=st.floats(-30.0, -0.5),
       eps=st.floats(0.05, 0.6))
def test_product_width_monotone(L, N, log_delta, eps):
    """The same four directions for the product (Doob) bound; few examples (~0.3 s a call)."""
    delta = math.exp(log_delta)
    base = min_width("chernoff_product", L, N, delta, eps).min_width
    assert min_width("chernoff_product", L + 1, N, delta, eps).min_width >= base
    assert min_width("chernoff_product", L, 4 * N, delta, eps).min_width >= base
    assert min_width("chernoff_product", L, N, delta / 100, eps).min_width >= base
    assert min_width("chernoff_product", L, N, delta, eps * 0.7).min_width >= base


def test_exact_union_width_monotone_in_depth_and_eps():
    base = _mw("exact_union", 3, 10, 0.05, 0.2)
    deeper = min_width("exact_union", 4, 10, 0.05, 0.2)
    narrower = min_width("exact_union", 3, 10, 0.05, 0.15)
    tol = base.width_uncertainty + max(deeper.width_uncertainty, narrower.width_uncertainty)
    assert deeper.min_width >= base.min_width - tol
    assert narrower.min_width >= base.min_width - tol


# --- extreme legal inputs -------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["chernoff_per_layer", "chernoff_product"])
@pytest.mark.parametrize("delta, eps", [(1e-300, 0.1), (0.05, 1e-6)])
def test_extreme_legal_inputs(method, delta, eps):
    r = min_width(method, 3, 10, delta, eps)
    assert isinstance(r.min_width, int) and r.min_width > 0
    assert math.isfinite(r.log_failure) and r.log_failure <= math.log(delta)


def test_extreme_inputs_together_per_layer():
    r = min_width("chernoff_per_layer", 3, 10, 1e-300, 1e-6)
    assert isinstance(r.min_width, int) and r.min_width > 0
    assert math.isfinite(r.log_failure) and r.log_failure <= math.log(1e-300)


def test_extreme_inputs_together_product():
    """Known limit (reported by the tests): the product bound needs widths ~2e21 here, beyond the
    exact binomial sums (2^53): a one-line CostLimitError (not a DomainError: the input is in the
    domain), and `min_widths` reports it per method by catching that class."""
    from initbounds.bounds.errors import CostLimitError, DomainError
    from initbounds.bounds.width import min_widths

    with pytest.raises(CostLimitError, match="beyond the range where the binomial sums are exact") as e:
        min_width("chernoff_product", 3, 10, 1e-300, 1e-6)
    assert not isinstance(e.value, DomainError) and e.value.param == "width"
    res = {r.name: r for r in min_widths(3, 10, 1e-300, 1e-6,
                                         methods=("chernoff_per_layer", "chernoff_product"))}
    assert res["chernoff_per_layer"].min_width > 10**16
    assert res["chernoff_product"].min_width is None and "not computed" in res["chernoff_product"].notes[0]


# --- errors ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("call, msg", [
    (lambda: min_width("chernoff_product", 3, 10, 0, 0.1), "delta must be in (0, 1); got 0"),
    (lambda: min_width("chernoff_product", 3, 10, 1, 0.1), "delta must be in (0, 1); got 1"),
    (lambda: min_width("chernoff_product", 3, 10, float("nan"), 0.1),
     "delta must be a real number in (0, 1); got nan"),
    (lambda: min_width("chernoff_product", 3, 10, 0.1, 0), "eps must be in (0, 1); got 0"),
    (lambda: min_width("chernoff_product", 3, 10, 0.1, 1.0), "eps must be in (0, 1); got 1.0"),
    (lambda: min_width("chernoff_product", 0, 10, 0.1, 0.1), "depth must be an integer ≥ 1; got 0"),
    (lambda: min_width("chernoff_product", True, 10, 0.1, 0.1),
     "depth must be an integer ≥ 1; got True"),
    (lambda: min_width("chernoff_product", 3, 0, 0.1, 0.1), "samples must be an integer ≥ 1; got 0"),
    (lambda: min_width("chernoff_product", 3, 2.5, 0.1, 0.1),
     "samples must be an integer ≥ 1; got 2.5"),
    (lambda: min_width("chernoff_product", 3, 10, 0.1, 0.1, norm="abs"),
     "norm must be one of 'squared', 'plain'; got 'abs'"),
    (lambda: min_width("chernoff_product", 3, 10, 0.1, 0.1, layers="first"),
     "layers must be one of 'all', 'last'; got 'first'"),
    (lambda: min_width("bogus", 3, 10, 0.1, 0.1),
     "method must be one of 'authors_formula', 'chernoff_per_layer', 'chernoff_product', "
     "'exact_union'; got 'bogus'"),
    (lambda: log_failure_bound("authors_formula", 10, 3, 10, 0.1),
     "method must be one of 'chernoff_per_layer', 'chernoff_product', 'exact_union'; "
     "got 'authors_formula'"),
    (lambda: log_failure_bound("chernoff_product", 0, 3, 10, 0.1),
     "width must be an integer ≥ 1; got 0"),
    (lambda: authors_eps_total(4060, 10, 2000, 0.0), "delta must be in (0, 1); got 0.0"),
])
def test_bad_input_messages(call, msg):
    with pytest.raises(DomainError) as info:
        call()
    assert str(info.value) == msg


ALPHA = 1e-4


def test_authors_formula_reproduces_their_example_band_and_width():
    e = AUTHORS_EXAMPLE
    with mp.workdps(50):
        ep = (1 + mp.mpf(e["eps"])) ** (mp.mpf(1) / e["depth"]) - 1
        m = 4 / ep * mp.log(4 * e["samples"] * e["depth"] / mp.mpf(e["delta"]))
    r = min_width("authors_formula", e["depth"], e["samples"], e["delta"], e["eps"])
    assert r.min_width == int(mp.ceil(m))
    assert abs(r.min_width - e["width"]) <= 5          # "m ≈ 4060" in docs/theory.md §3
    # their curve: ε_total(4000) = 0.152 (docs/theory.md §3)
    assert authors_eps_total(4000, 10, 2000, 0.05) == pytest.approx(0.152, abs=5e-4)


@pytest.mark.parametrize("method", METHODS[1:])
def test_min_width_is_the_smallest_integer(method):
    L, N, delta, eps = 3, 4, 0.1, 0.5
    r = min_width(method, L, N, delta, eps)
    n = r.min_width
    assert log_failure_bound(method, n, L, N, eps, rtol=1e-6) <= math.log(delta) + 1e-3
    slack = r.width_uncertainty + 1
    assert log_failure_bound(method, n - slack, L, N, eps, rtol=1e-6) > math.log(delta)


def test_method_ordering():
    for args in [(3, 4, 0.1, 0.5), (10, 2000, 0.05, 0.15), (1, 1, 0.05, 0.1)]:
        w = {m: min_width(m, *args).min_width for m in METHODS[1:]}
        assert w["exact_union"] <= w["chernoff_product"] <= w["chernoff_per_layer"] + 1


@settings(max_examples=20, deadline=None)
@given(L=st.integers(1, 6), N=st.integers(1, 1000), ld=st.floats(-60, -0.1), eps=st.floats(0.01, 0.9),
       which=st.sampled_from(["depth", "samples", "delta", "eps"]))
def test_chernoff_width_monotone(L, N, ld, eps, which):
    delta = math.exp(ld)
    base = dict(depth=L, samples=N, delta=delta, eps=eps)
    more = dict(base)
    if which == "depth":
        more["depth"] = L + 1
    elif which == "samples":
        more["samples"] = N * 3
    elif which == "delta":
        more["delta"] = delta / 7
    else:
        more["eps"] = eps / 2
    for m in ("chernoff_per_layer",):
        a = min_width(m, **base).min_width
        b = min_width(m, **more).min_width
        assert b >= a


def test_product_and_exact_monotone_on_a_few_points():
    a = min_width("chernoff_product", 2, 4, 0.1, 0.5).min_width
    b = min_width("chernoff_product", 4, 4, 0.1, 0.5).min_width
    c = min_width("exact_union", 2, 4, 0.1, 0.5).min_width
    d = min_width("exact_union", 2, 4, 0.01, 0.5).min_width
    assert b >= a and d >= c


def test_plain_norm_needs_less_width_band_and_width():
    for m in METHODS[1:]:
        sq = min_width(m, 3, 4, 0.1, 0.3, norm="squared").min_width
        pl = min_width(m, 3, 4, 0.1, 0.3, norm="plain").min_width
        assert pl <= sq


def test_extreme_legal_inputs_band_and_width():
    for m in ("chernoff_per_layer", "chernoff_product"):
        r = min_width(m, 10, 100, 1e-300, 0.1)
        assert r.min_width > 0 and math.isfinite(r.log_failure)
        assert r.log_failure <= math.log(1e-300)
        r = min_width(m, 3, 10, 0.05, 1e-6)
        assert 1e12 < r.min_width < 1e16
    r = min_width("chernoff_per_layer", 10**5, 10**6, 1e-300, 1e-6)
    assert r.min_width > 10**20


@pytest.mark.parametrize("kwargs, msg", [
    (dict(delta=0.0), "delta must be in (0, 1); got 0.0"),
    (dict(eps=1.0), "eps must be in (0, 1); got 1.0"),
    (dict(depth=0), "depth must be an integer ≥ 1; got 0"),
    (dict(samples=2.5), "samples must be an integer ≥ 1; got 2.5"),
])
def test_width_bad_inputs(kwargs, msg):
    args = dict(depth=3, samples=4, delta=0.1, eps=0.5)
    args.update(kwargs)
    with pytest.raises(DomainError) as e:
        min_width("chernoff_per_layer", **args)
    assert str(e.value) == msg


# --- issue 11: every method's bound is at least the exact failure probability ------------------------
@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 64), depth=st.integers(1, 6), eps=st.floats(0.01, 0.999),
       norm=st.sampled_from(["squared", "plain"]), layers=st.sampled_from(["all", "last"]))
@example(n=1, depth=2, eps=0.99, norm="plain", layers="all").via("issue 11: product bound 0.3365 < exact 0.8246")
@example(n=2, depth=2, eps=0.99, norm="plain", layers="all").via("issue 11: product bound 0.4173 < exact 0.5386")
@example(n=7, depth=3, eps=0.999, norm="squared", layers="all").via("k0 = 1 is the only lower-side cut up to n = 7")
@example(n=1, depth=6, eps=0.999, norm="plain", layers="last").via("one unit, last layer, widest band")
@example(n=64, depth=6, eps=0.2, norm="squared", layers="all").via("widest, deepest, ε = 0.2")
@example(n=64, depth=6, eps=0.01, norm="squared", layers="all").via("widest, deepest, narrowest band")
@example(n=1, depth=6, eps=0.01, norm="squared", layers="last").via("one unit, narrowest band, last layer")
@example(n=3, depth=5, eps=0.01, norm="plain", layers="all").via("small width, narrow band (was slow: ε ≥ 0.2 only)")
def test_every_bound_is_at_least_the_exact_failure_probability(n, depth, eps, norm, layers):
    """Every rigorous method's bound (per-layer Chernoff, product) at every width 1–64, ε up to
    0.999, both norms, every layer or the last only, is ≥ the exact failure probability of one
    input (exact_union's value is that probability itself). The product bound's lower side must count P(some K_j < k0), which
    always holds the atom K_j = 0 (ρ = 0); at k0 = 1 it was dropped. The reference is the band
    recursion (its tolerance allowed), independent of the bounds; the per-layer bound is for every
    layer, so it also bounds the last layer's failure."""
    from initbounds.bounds.band import band_for_eps, band_probability

    lo, hi = band_for_eps(eps, norm)
    # rtol 1e-4: the reference's own tolerance is allowed below. ε now starts at 0.01 (issue 11: it
    # started at 0.2 while band was slow at small widths with narrow bands)
    exact = band_probability(n, depth, lo, hi, layers=layers, rtol=1e-4)
    for method in ("chernoff_per_layer", "chernoff_product"):
        bound = math.exp(min(0.0, log_failure_bound(method, n, depth, 1, eps, norm=norm, layers=layers)))
        assert bound >= exact.p_fail - exact.tolerance, (method, bound, exact.p_fail)


def test_product_width_at_tiny_widths_is_valid():
    """Issue 11: `width --depth 2 --samples 1 --delta 0.5 --eps 0.99 --norm plain` returned 1 for the
    product bound although its correctly computed bound at width 1 is above δ."""
    from initbounds.bounds.band import band_for_eps, band_probability

    n = min_width("chernoff_product", 2, 1, 0.5, 0.99, norm="plain").min_width
    lo, hi = band_for_eps(0.99, "plain")
    assert n > 1 and band_probability(n, 2, lo, hi).p_fail <= 0.5
    assert log_failure_bound("chernoff_product", n - 1, 2, 1, 0.99, norm="plain") > math.log(0.5)


# --- issue 11: the product bound's new evaluation, the depth blocks, the solver ---------------------


def _old_grid_min(f, a, b):
    """The evaluation before issue 11 (kept here as the reference): 64-point geometric grid, then
    30 golden-section steps around the best point."""
    import numpy as np

    xs = np.geomspace(a, b, 64)
    vals = [f(x) for x in xs]
    i = int(np.argmin(vals))
    lo, hi = math.log(xs[max(i - 1, 0)]), math.log(xs[min(i + 1, len(xs) - 1)])
    g = (math.sqrt(5.0) - 1.0) / 2.0
    c, d = hi - g * (hi - lo), lo + g * (hi - lo)
    fc, fd = f(math.exp(c)), f(math.exp(d))
    for _ in range(30):
        if fc < fd:
            hi, d, fd = d, c, fc
            c = hi - g * (hi - lo)
            fc = f(math.exp(c))
        else:
            lo, c, fc = c, d, fd
            d = lo + g * (hi - lo)
            fd = f(math.exp(d))
    return min(min(vals), fc, fd)


def _old_log_fail_product(n, L, lo, hi, layers):
    """The product bound as evaluated before issue 11: scalar rho.log_moment calls, and the lower
    side's union over depths as an explicit L × 64 array (per-depth minimum over the q grid)."""
    import numpy as np

    from initbounds.bounds import rho
    from initbounds.bounds.numerics import logsumexp

    p_lo = 1.0 if layers == "all" else 1e-3
    p_hi = max(4.0, 40.0 * math.log(1e300) / math.log(hi))
    up = _old_grid_min(lambda p: L * rho.log_moment(n, p) - p * math.log(hi), p_lo, p_hi)
    ls = np.arange(1, L + 1) if layers == "all" else np.array([L])
    best = math.inf
    for k0 in sorted({max(1, n // 4), max(1, (3 * n) // 8)}):
        qs = np.geomspace(0.5 * k0 * 1e-6, 0.5 * k0 * (1.0 - 1e-9), 64)
        g = np.array([rho.log_moment(n, -q, k_min=k0) for q in qs])
        chern = logsumexp((qs[None, :] * math.log(lo) + ls[:, None] * g[None, :]).min(axis=1))
        p_small = W._log_binom_lower_tail(n, k0 - 1)
        atoms = (math.log(-math.expm1(L * math.log1p(-math.exp(p_small)))) if p_small > -30.0
                 else math.log(L) + p_small)
        best = min(best, float(np.logaddexp(chern, atoms)))
    return float(logsumexp(np.array([up, best])))


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 20000), L=st.integers(1, 300), eps=st.floats(0.01, 0.999),
       norm=st.sampled_from(["squared", "plain"]), layers=st.sampled_from(["all", "last"]))
@example(n=2280392, L=100, eps=0.1, norm="squared", layers="all").via("issue 11: L = 100, N = 1e6 width")
@example(n=400, L=50, eps=0.5, norm="plain", layers="all").via("largest block loss seen")
def test_product_bound_new_evaluation_within_a_stated_factor_of_the_old(n, L, eps, norm, layers):
    """Issue 11: the vectorized evaluation with depth blocks is never below the old evaluation (a
    coarser choice of orders can only raise the bound) and at most a factor e^{1e-3·max(1, |log old|)}
    above it (measured: 2e-4 at most over 150 random points)."""
    lo, hi = W.band_for_eps(eps, norm)
    new = W._log_fail_product(n, L, lo, hi, layers)
    old = _old_log_fail_product(n, L, lo, hi, layers)
    assert old - 1e-9 <= new <= old + 1e-3 * max(1.0, abs(old))


@settings(max_examples=60, deadline=None)
@given(n=st.one_of(st.integers(1, 4096), st.integers(4097, 40000)), k_frac=st.floats(0.0, 0.4),
       log_p=st.floats(-12.0, 9.0), negative=st.booleans(), to_edge=st.floats(0.0, 1.0))
@example(n=15537, k_frac=0.234375, log_p=0.0, negative=True, to_edge=1.0).via(
    "issue 11: a spike at k_min outside the window read e^784 for e^908")
def test_vectorized_moments_against_a_direct_sum(n, k_frac, log_p, negative, to_edge):
    """Issue 11: _log_moments (strided windows above width 4096) against the sum over every k,
    computed here with scipy's gammaln (independent of the Stirling paths). Where the summand is
    a bump inside the window they agree to 1e-9; where it is a spike at k_min (orders near
    −k_min/2) the strided sum over-estimates (a left Riemann sum of a decreasing sequence), which
    only raises a bound that uses it."""
    import numpy as np
    from scipy.special import gammaln

    k_min = max(1, int(k_frac * n))
    p = -0.5 * k_min * (1.0 - 10.0 ** (-12.0 * to_edge)) if negative else math.exp(log_p)
    k = np.arange(k_min, n + 1, dtype=float)
    t = (gammaln(n + 1.0) - gammaln(k + 1.0) - gammaln(n - k + 1.0) - n * math.log(2.0)
         + gammaln(0.5 * k + p) - gammaln(0.5 * k))
    m = t.max()
    ref = p * math.log(4.0 / n) + m + math.log(np.exp(t - m).sum())
    new = float(W._log_moments(n, [p], k_min)[0])
    tol = 1e-9 * max(1.0, abs(ref)) + 1e-12 * n   # gammaln differences lose ~1e-16·n here
    assert new >= ref - tol
    if t[0] < m - 46.0 and t[-1] < m - 46.0:      # a bump away from both ends of the range
        assert new <= ref + tol


@settings(max_examples=100, deadline=None)
@given(a=st.integers(1, 3000), m=st.integers(1, 3000), g=st.floats(-5.0, 5.0))
@example(a=1, m=3000, g=0.0).via("g = 0: the sum is m")
@example(a=10, m=2000, g=1e-15).via("g ≈ 0")
def test_geometric_block_sum_against_a_direct_sum(a, m, g):
    """Issue 11: the closed form of Σ_{l=a}^{b} e^{l g} that replaces the L-term array is the sum."""
    import numpy as np

    from initbounds.bounds.numerics import logsumexp

    b = a + m - 1
    direct = logsumexp(np.arange(a, b + 1, dtype=float) * g)
    assert W._log_geometric_sum(float(a), float(b), g) == pytest.approx(direct, rel=1e-12, abs=1e-12)


def test_depth_blocks_cover_every_depth_once():
    for L in (1, 31, 32, 33, 100, 12345, 10**6):
        a, b = W._depth_blocks(L)
        assert a[0] == 1 and b[-1] == L and (a[1:] == b[:-1] + 1).all() and (b >= a).all()
        assert (b[:32] == a[:32]).all() and (b <= a * (1 + 1 / 32)).all()
    assert len(W._depth_blocks(10**6)[0]) < 500


def test_astronomical_depth_answers_or_refuses_fast():
    """Issue 11: `width --depth 99999999999999999999999` raised "Maximum allowed size exceeded"
    (np.arange(1, L + 1)). Now every method answers or refuses per method, in well under 2 s."""

    from initbounds.bounds.errors import CostLimitError
    from initbounds.bounds.width import min_widths

    L = 99999999999999999999999
    res = {r.name: r for r in min_widths(L, 1, 0.05, 0.3)}
    # per-layer: ε′ = (1.3)^{1/L} − 1 ≈ log(1.3)/L and I(1 + ε′) ≈ ε′²/10, so n ≈ 10·log(2L/δ)/ε′²
    approx = 10 * math.log(2 * L / 0.05) / (math.log(1.3) / L) ** 2
    assert 0.5 < res["chernoff_per_layer"].min_width / approx < 2.0
    assert res["chernoff_product"].min_width is None and "2^53" in res["chernoff_product"].notes[0]
    with pytest.raises(CostLimitError) as e:
        min_width("chernoff_product", L, 1, 0.05, 0.3)
    assert e.value.param == "width" and "\n" not in str(e.value)


@pytest.mark.parametrize("depth, samples, delta, eps, layers", [
    (10**6, 1, 0.05, 0.5, "all"),
    (100, 10**6, 1e-300, 0.1, "all"),
    (1000, 1, 0.237, 0.102, "last"),
])
def test_product_bound_at_issue_11_designs_is_fast_and_smallest(depth, samples, delta, eps, layers):
    """Issue 11: depth 10^6 took more than 60 s (and L × 64 memory); each is now well under 2 s, and
    the width is the smallest integer meeting δ (its bound and the one below it)."""
    r = min_width("chernoff_product", depth, samples, delta, eps, layers=layers)
    n = r.min_width
    below = log_failure_bound("chernoff_product", n - 1, depth, samples, eps, layers=layers)
    assert r.log_failure <= math.log(delta) < below


# the solver: the smallest integer, against brute force


@settings(max_examples=200, deadline=None)
@given(cross=st.integers(1, 5000), scale=st.floats(1e-4, 10.0), curve=st.floats(0.0, 3.0),
       start=st.integers(1, 20000), flat=st.integers(0, 50))
def test_root_is_the_smallest_integer_on_synthetic_monotone_functions(cross, scale, curve, start, flat):
    """_root against brute force on non-increasing functions (linear, curved, with flat steps)."""
    def g(n):
        x = (n // (flat + 1)) * (flat + 1) if flat else n
        return scale * ((cross - 0.5) - x) * (1.0 + curve * math.log1p(abs(x - cross)))

    n, _ = W._root(g, start, 10**6)
    brute = next(m for m in range(1, 10**6) if g(m) <= 0)
    assert n == brute


_BRUTE = [(2, 1, 0.3, 0.9, "plain", "all"), (3, 4, 0.2, 0.8, "squared", "last"),
          (1, 1, 0.45, 0.95, "squared", "all"), (4, 2, 0.1, 0.9, "plain", "last")]


@pytest.mark.parametrize("method, design", [(m, d) for m in ("chernoff_per_layer", "chernoff_product")
                                            for d in _BRUTE]
                         + [("exact_union", _BRUTE[0]), ("exact_union", _BRUTE[2])])
def test_min_width_equals_brute_force_over_every_width(method, design):
    """Issue 11: the solver's integer is min{n ≥ 1 : F(n) ≤ δ}, with F evaluated at every n from 1
    (exact_union at the solver's own tolerance)."""
    depth, samples, delta, eps, norm, layers = design
    r = min_width(method, depth, samples, delta, eps, norm=norm, layers=layers)
    kw = {"rtol": W._EXACT_RTOL} if method == "exact_union" else {}
    brute = next(n for n in range(1, 5 * r.min_width + 10)
                 if log_failure_bound(method, n, depth, samples, eps, norm=norm, layers=layers, **kw)
                 <= math.log(delta))
    assert r.min_width == brute


def test_exact_union_solver_makes_few_exact_evaluations(monkeypatch):
    """Issue 11: `width --depth 10 --samples 100 --delta 0.05 --eps 0.3` made 11 band_probability
    calls and L = 100, N = 10^6 made 21; a CLT start, a coarse level that stops within its noise
    and the neighbour check now need at most 7."""
    calls = []
    orig = W.band_probability

    def counted(*a, **k):
        calls.append(a[0])
        return orig(*a, **k)

    monkeypatch.setattr(W, "band_probability", counted)
    r = min_width("exact_union", 10, 100, 0.05, 0.3)
    assert len(calls) <= 7
    kw = {"rtol": W._EXACT_RTOL}
    monkeypatch.setattr(W, "band_probability", orig)
    assert log_failure_bound("exact_union", r.min_width, 10, 100, 0.3, **kw) <= math.log(0.05)
    assert log_failure_bound("exact_union", r.min_width - 1, 10, 100, 0.3, **kw) > math.log(0.05)


@pytest.mark.parametrize("depth, eps, refused", [
    (10**400, 0.3, {"chernoff_per_layer", "chernoff_product", "exact_union"}),
    (3, 1e-200, {"chernoff_per_layer", "chernoff_product", "exact_union"}),
])
def test_depth_and_eps_beyond_the_float_range_refuse_per_method(depth, eps, refused):
    """Issue 11 (found here): a depth above 1e100 or an ε that rounds the band to 1 raised
    ZeroDivisionError/OverflowError; each such method now says why in one line and the authors'
    curve still answers."""
    from initbounds.bounds.width import min_widths

    res = {r.name: r for r in min_widths(depth, 1, 0.05, eps)}
    assert res["authors_formula"].min_width > 0
    for name in refused:
        assert res[name].min_width is None and res[name].notes[0].startswith("not computed: ")
        assert "\n" not in res[name].notes[0]


def test_exact_width_at_the_smallest_delta_states_its_honest_uncertainty():
    """Issue 11 (fuzz): `width --delta 5e-324 --depth 3 --eps 0.1` took ~4 s refining grids below
    e^-720, where the band recursion claims no relative accuracy (rel_tolerance ≥ 1: its one-layer
    tails are cut at e^-745), and then stated the integer to ±1 at a relative tolerance of 1e-4. Two
    grid levels are run there, and the stated uncertainty uses the tolerance achieved. Checked
    against independent bounds: the exact failure probability is at least the first layer's,
    P(ρ ∉ [0.9, 1.1]) (rho's exact tails), and at most the product (Doob) bound."""
    import numpy as np

    from initbounds.bounds import rho

    r = W.min_width("exact_union", 3, 1, 5e-324, 0.1)
    prod = W.min_width("chernoff_product", 3, 1, 5e-324, 0.1)
    assert r.min_width - r.width_uncertainty <= prod.min_width
    n = r.min_width + r.width_uncertainty
    log_p1 = float(np.logaddexp(rho.log_cdf(n, 0.9), rho.log_sf(n, 1.1)))
    assert log_p1 <= math.log(5e-324)          # P(layer 1 leaves) ≤ p_fail(n) ≤ δ at min_width + its ±
    assert r.width_uncertainty > 1 and "relative tolerance 1e-04" not in r.notes[-1]
    assert f"±{r.width_uncertainty:,}" in r.notes[-1]


@pytest.mark.parametrize("x", [3.0, 25.0, 1e3, 1e76, 1e78, 1e150])
def test_log_normal_sf_against_mpmath_up_to_huge_arguments(x):
    """Issue 11 (fuzz): `width --delta 0.9999999999999999 --depth 2 --eps 0.9999999999999999` raised
    OverflowError in the CLT starting guess (x ** 4 beyond x ≈ 1e77). log P(Z > x) against mpmath."""
    with mp.workdps(60):
        ref = mp.log(mp.erfc(mp.mpf(x) / mp.sqrt(2)) / 2)
    got = W._log_normal_sf(x)
    assert math.isclose(got, float(ref), rel_tol=1e-9)     # two series terms: ~15/x⁶ at x ≥ 25 (a starting guess)


def test_log_normal_sf_beyond_the_double_range_is_minus_inf():
    assert W._log_normal_sf(1e200) == -math.inf


def test_width_with_delta_and_eps_next_to_one_answers():
    """Issue 11 (fuzz): the same command answers: exact_union's width meets δ by the band recursion,
    and the product bound at one less than its width is above δ."""
    from initbounds.bounds.band import band_for_eps, band_probability

    d = e = 0.9999999999999999
    res = {r.name: r for r in W.min_widths(2, 1, d, e)}
    lo, hi = band_for_eps(e, "squared")
    assert band_probability(res["exact_union"].min_width, 2, lo, hi).p_fail <= d
    n = res["chernoff_product"].min_width
    assert n == 1 or log_failure_bound("chernoff_product", n - 1, 2, 1, e) > math.log(d)
