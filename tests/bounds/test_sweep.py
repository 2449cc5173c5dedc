"""bounds.sweep: the derived side of a phase diagram (issue 16, docs/theory.md §16) and the grid
option's syntax."""
from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from initbounds.bounds.band import band_for_eps, band_probability
from initbounds.bounds.errors import COUNT, DomainError, IntegerGrid
from initbounds.bounds.sweep import BOUND_METHODS, authors_delta, cell_bounds, min_width_curves, sweep_inputs
from initbounds.bounds.width import log_failure_bound, min_width, min_widths


# --- the grid syntax ---------------------------------------------------------------------------------------
@given(st.integers(1, 10**6), st.integers(2, 10), st.integers(0, 40))
def test_geometric_range_is_a_times_k_to_the_i_up_to_b(a, k, span):
    b = a * k ** (span % 12) + span
    got = IntegerGrid(COUNT, max_points=10**6).parse(f"{a}:{b}:x{k}")
    assert got == [a * k ** i for i in range(len(got))] and got[-1] <= b < got[-1] * k


@given(st.integers(1, 1000), st.integers(1, 50), st.integers(0, 3000))
def test_arithmetic_range_is_a_plus_i_k_up_to_b(a, k, span):
    got = IntegerGrid(COUNT, max_points=10**6).parse(f"{a}:{a + span}:+{k}")
    assert got == list(range(a, a + span + 1, k))


@pytest.mark.parametrize("text", ["4:2:x2", "0:8:x2", "2:8:x1", "2:8:+0", "2:8:*2", "2:8", "a:b:x2", "2:8:x", "1:2:3:4"])
def test_bad_ranges_say_what_the_option_takes(text):
    with pytest.raises(ValueError, match=r"comma-separated integers or a range a:b:xK \(geometric\) or a:b:\+K"):
        IntegerGrid(COUNT).parse(text)


def test_grid_limits_and_repeats():
    g = IntegerGrid(COUNT, max_points=64, what="width")
    with pytest.raises(DomainError, match=r"^widths must list at most 64 widths; got 100$"):
        g.validate("widths", g.parse("1:100:+1"))
    with pytest.raises(DomainError, match=r"^widths must list each width once; got \[4, 4\]$"):
        g.validate("widths", [4, 4])
    with pytest.raises(DomainError, match=r"^widths\[1\] must be an integer ≥ 1; got 0$"):
        g.validate("widths", [4, 0])
    assert sweep_inputs(widths="16:4096:x2", depths="2:64:x2", delta=0.05, eps=0.3, trials=10)["depths"] == \
        (2, 4, 8, 16, 32, 64)


# --- AB19's curve solved for δ -----------------------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(st.integers(1, 200), st.integers(1, 10**4), st.floats(1e-12, 0.5), st.floats(1e-3, 0.9))
def test_authors_delta_inverts_the_authors_width(L, N, delta, eps):
    """min_width("authors_formula") is the smallest n with δ_AB19(n) ≤ δ (a ceiling of the same formula)."""
    n = min_width("authors_formula", L, N, delta, eps).min_width
    assert authors_delta(n, L, N, eps) <= delta * (1 + 1e-9)
    if n > 1:
        assert authors_delta(n - 1, L, N, eps) >= delta * (1 - 1e-9)


def test_authors_delta_closed_form_at_a_point():
    # 4NL·exp(−n·ε_L/4), ε_L = 1.3^(1/10) − 1, at n = 3000, N = 100, L = 10
    eL = 1.3 ** 0.1 - 1
    assert authors_delta(3000, 10, 100, 0.3) == pytest.approx(4000 * math.exp(-3000 * eL / 4), rel=1e-12)
    assert authors_delta(1, 10, 100, 0.3) == 1.0            # clipped


# --- the cells ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("n, L, N, eps", [(16, 2, 1, 0.3), (256, 6, 1, 0.5), (64, 3, 20, 0.4), (4096, 64, 10, 0.3)])
def test_cell_bounds_are_the_width_module_bounds_clipped(n, L, N, eps):
    c = cell_bounds(n, L, N, eps)
    for m in BOUND_METHODS:
        assert c.bounds[m] == min(1.0, math.exp(log_failure_bound(m, n, L, N, eps)))
    lo, hi = band_for_eps(eps, "squared")
    assert c.exact_single == band_probability(n, L, lo, hi).p_fail
    assert c.authors == authors_delta(n, L, N, eps)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 2048), st.integers(1, 40), st.integers(1, 1000), st.floats(0.05, 0.9),
       st.sampled_from(["squared", "plain"]), st.sampled_from(["all", "last"]))
def test_every_bound_is_at_least_the_exact_one_input_probability(n, L, N, eps, norm, layers):
    """Each method bounds P(some of N inputs fails) ≥ P(one input fails) = p(n, L) (exact)."""
    c = cell_bounds(n, L, N, eps, norm=norm, layers=layers)
    assert 0.0 <= c.exact_single <= 1.0
    for m in BOUND_METHODS:
        assert c.exact_single <= c.bounds[m] * (1 + 2e-3) <= 1.0 + 2e-3      # exact_union uses rtol 1e-3


def test_min_width_curves_are_min_widths_per_depth():
    curves = min_width_curves([2, 5], 10, 0.05, 0.3)
    for i, L in enumerate([2, 5]):
        for r in min_widths(L, 10, 0.05, 0.3):
            assert curves[r.name][i] == r.min_width
    with pytest.raises(DomainError, match=r"^depths\[1\] must be an integer ≥ 1; got 0$"):
        min_width_curves([2, 0], 10, 0.05, 0.3)
