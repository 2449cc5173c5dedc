"""Length moments and Jacobian fluctuations (HR18, H18; THEORY §5) — issue 5, first part."""
from __future__ import annotations

import math

import pytest
from hypothesis import given, settings, strategies as st

from bounds.errors import DomainError
from bounds.variance import (jacobian_kurtosis_ratio, length_moments, min_width_for_variance,
                             residual_moments)


def test_identities():
    lm = length_moments([10, 10])
    assert lm.second_moment_ratio == pytest.approx(2.25) and lm.var_ratio == pytest.approx(1.25)
    assert lm.beta == pytest.approx(0.2) and lm.mean_ratio == 1.0 and lm.fm1 == "preserved"
    assert length_moments([5] * 4, weight_var=3.0).mean_ratio == pytest.approx(1.5**4)
    assert length_moments([5] * 4, weight_var=1.0).fm1 == "vanishing"
    # with biases: E M_d = Σ_j (s²/2)(c/2)^{d−j} + (c/2)^d, at c = 2: 1 + d s²/2
    assert length_moments([5] * 4, bias_var=0.5).mean_with_bias == pytest.approx(1 + 4 * 0.25)
    # THEORY: n0 = 8, hidden 16,16,16, c = 1: E Z⁴ = 3/64 · (1 + 5/16)³ ≈ 0.1060
    assert jacobian_kurtosis_ratio(8, [16, 16, 16]) / 64 == pytest.approx(0.1060, abs=5e-5)


@settings(max_examples=40, deadline=None)
@given(w=st.lists(st.integers(1, 500), min_size=1, max_size=30))
def test_bracket_contains_the_exact_variance(w):
    lm = length_moments(w)
    assert lm.var_bracket[0] <= lm.var_ratio * (1 + 1e-12) and lm.var_ratio <= lm.var_bracket[1] * (1 + 1e-12)


def test_extreme_depth_reports_logs():
    lm = length_moments([100] * 100000)
    assert lm.var_ratio is None and lm.log_second_moment_ratio == pytest.approx(1e5 * math.log1p(0.05))


@pytest.mark.parametrize("d, v", [(10, 1.0), (100, 0.5), (1000, 0.1)])
def test_min_width_for_variance_is_smallest(d, v):
    n = min_width_for_variance(d, v)
    assert (1 + 5 / n) ** d - 1 <= v * (1 + 1e-12)
    assert n == 1 or (1 + 5 / (n - 1)) ** d - 1 > v


def test_residual_schedules():
    c = residual_moments(100, 64, 64, 0.5)
    assert c.mean_ratio == pytest.approx(1.25**100) and not c.fm1
    inv = residual_moments(100, 64, 64, 0.5, schedule="inv")
    assert inv.fm1 and inv.normalized_second < 1.1
    with pytest.raises(DomainError, match="schedule must be one of"):
        residual_moments(3, 4, 4, 0.1, schedule="nope")
