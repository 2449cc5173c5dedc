"""Exact band probabilities (THEORY.md §3.3) and the minimum-width methods (§3)."""
from __future__ import annotations

import math
import subprocess
import sys

import mpmath as mp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy import stats

from bounds import rho
from bounds.band import band_for_eps, band_probability
from bounds.errors import DomainError
from bounds.width import (AUTHORS_EXAMPLE, METHODS, authors_eps_total, log_failure_bound,
                          min_width)

ALPHA = 1e-4


# --- band probabilities --------------------------------------------------------------------------


def test_depth_one_is_the_one_layer_law():
    for n, eps in [(5, 0.5), (100, 0.2), (5000, 0.05)]:
        lo, hi = band_for_eps(eps, "squared")
        r = band_probability(n, 1, lo, hi)
        expect = float(rho.cdf(n, hi) - rho.cdf(n, lo))
        assert r.p_in == pytest.approx(expect, abs=1e-14)


@pytest.mark.parametrize("n, L, eps", [(100, 5, 0.5), (2000, 10, 0.2), (20, 4, 0.6)])
@pytest.mark.parametrize("layers", ["all", "last"])
def test_reported_tolerance_is_achieved(n, L, eps, layers):
    lo, hi = band_for_eps(eps, "squared")
    r = band_probability(n, L, lo, hi, layers=layers, rtol=1e-5)
    ref = band_probability(n, L, lo, hi, layers=layers, rtol=1e-11)
    assert abs(r.p_in - ref.p_in) <= r.tolerance
    assert ref.tolerance < r.tolerance


def test_p_last_at_least_p_stay_and_in_unit_interval():
    for n, L in [(50, 3), (400, 12)]:
        lo, hi = band_for_eps(0.3, "plain")
        s = band_probability(n, L, lo, hi, layers="all")
        t = band_probability(n, L, lo, hi, layers="last")
        assert 0.0 <= s.p_in <= t.p_in + t.tolerance <= 1.0 + t.tolerance


def test_tiny_failure_probabilities_keep_relative_accuracy():
    """max_l P(Π_l ∉ band) ≤ P(fail) ≤ Σ_l P(Π_l ∉ band), each side computed independently."""
    n, L, eps = 60000, 3, 0.2
    lo, hi = band_for_eps(eps, "squared")
    r = band_probability(n, L, lo, hi)
    assert r.logp_fail < math.log(1e-16)          # far below what 1 − p could resolve
    per_depth = [band_probability(n, l, lo, hi, layers="last").logp_fail for l in range(1, L + 1)]
    slack = 1e-3
    assert r.logp_fail >= max(per_depth) - slack
    assert r.logp_fail <= float(np.logaddexp.reduce(per_depth)) + slack


@settings(max_examples=15, deadline=None)
@given(n=st.integers(5, 3000), L=st.integers(2, 6))
def test_failure_decreases_with_width(n, L):
    lo, hi = band_for_eps(0.4, "squared")
    a = band_probability(n, L, lo, hi, rtol=1e-6)
    b = band_probability(2 * n, L, lo, hi, rtol=1e-6)
    assert b.logp_fail <= a.logp_fail + a.rel_tolerance + b.rel_tolerance


def test_band_probabilities_against_exact_sampling_of_rho():
    """p_stay and p_last vs walks of exactly sampled ρ (numpy seed 20251123).

    T = 200000 walks resolve a probability near 0.3–0.6 to ±0.005 at α = 1e-4 (Clopper–Pearson).
    """
    n, L, eps, T = 200, 10, 0.3, 200000
    rng = np.random.default_rng(20251123)
    K = rng.binomial(n, 0.5, size=(T, L))
    q = np.where(K > 0, rng.chisquare(np.maximum(K, 1)), 0.0)
    prod = np.cumprod(2.0 * q / n, axis=1)
    lo, hi = band_for_eps(eps, "squared")
    inside = (prod >= lo) & (prod <= hi)
    for layers, hits in (("all", inside.all(axis=1)), ("last", inside[:, -1])):
        k = int(hits.sum())
        a = stats.beta.ppf(ALPHA / 4, k, T - k + 1)
        b = stats.beta.ppf(1 - ALPHA / 4, k + 1, T - k)
        p = band_probability(n, L, lo, hi, layers=layers).p_in
        assert a <= p <= b, (layers, k / T, p)


def test_band_argument_checks():
    with pytest.raises(DomainError, match=r"^lo must be in \(0, 1\); got 1.2$"):
        band_probability(10, 2, 1.2, 1.5)
    with pytest.raises(DomainError, match=r"^layers must be one of 'all', 'last'; got 'some'$"):
        band_probability(10, 2, 0.5, 1.5, layers="some")


# --- minimum widths ------------------------------------------------------------------------------


def test_authors_formula_reproduces_their_example():
    e = AUTHORS_EXAMPLE
    with mp.workdps(50):
        ep = (1 + mp.mpf(e["eps"])) ** (mp.mpf(1) / e["depth"]) - 1
        m = 4 / ep * mp.log(4 * e["samples"] * e["depth"] / mp.mpf(e["delta"]))
    r = min_width("authors_formula", e["depth"], e["samples"], e["delta"], e["eps"])
    assert r.min_width == int(mp.ceil(m))
    assert abs(r.min_width - e["width"]) <= 5          # "m ≈ 4060" in THEORY.md
    # their curve: ε_total(4000) = 0.152 (THEORY.md §3)
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


def test_plain_norm_needs_less_width():
    for m in METHODS[1:]:
        sq = min_width(m, 3, 4, 0.1, 0.3, norm="squared").min_width
        pl = min_width(m, 3, 4, 0.1, 0.3, norm="plain").min_width
        assert pl <= sq


def test_extreme_legal_inputs():
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


def test_bounds_never_imports_torch_rich_typer():
    code = ("import importlib, pkgutil, sys, bounds\n"
            "for m in pkgutil.walk_packages(bounds.__path__, 'bounds.'):\n"
            "    importlib.import_module(m.name)\n"
            "from bounds.width import derive_width; derive_width().to_text()\n"
            "print(sorted(n for n in ('torch', 'rich', 'typer') if n in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
