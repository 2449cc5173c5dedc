"""bounds.audit (issue 15): naming a weight law from its kurtosis and matching a layer's gain with a rule (no torch)."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from initbounds.bounds.audit import classify_weight_law, gain_standard_error, init_rules, match_gain
from initbounds.bounds.errors import DomainError
from initbounds.bounds.variance import WEIGHT_LAWS, weight_kurtosis


def _sample(law, n, rng):
    return {"gaussian": lambda: rng.standard_normal(n), "uniform": lambda: rng.uniform(-1, 1, n),
            "rademacher": lambda: rng.choice([-1.0, 1.0], n), "laplace": lambda: rng.laplace(0, 1, n)}[law]()


def test_exact_kurtoses_are_classified_as_their_law():
    for law in WEIGHT_LAWS:
        k = weight_kurtosis(law)
        m = classify_weight_law(float(k.p) / float(k.q) - 3, 1000)
        assert m.law == law == m.nearest and m.z == 0


@pytest.mark.parametrize("law", ["gaussian", "uniform"])
def test_monte_carlo_standard_error_of_the_kurtosis(law):
    """The delta-method standard error: over 400 samples of N = 2000 weights (seed 3), Σ z² of the sample
    kurtosis lies in the χ²_400 interval at α = 1e-4. (Laplace is left out: its sample kurtosis is skewed at
    this N, so the leading-order standard error is not a good description of it there.)"""
    from scipy.stats import chi2

    rng = np.random.default_rng(3)
    zs = []
    for _ in range(400):
        w = _sample(law, 2000, rng)
        k = float((w**4).mean() / (w**2).mean() ** 2) - 3
        m = classify_weight_law(k, 2000)
        assert m.nearest == law
        zs.append(m.z)
    ss = float(np.sum(np.square(zs)))        # Σ z² ≈ χ²_400 when z is standard normal
    assert chi2.ppf(1e-4 / 2, 400) <= ss <= chi2.ppf(1 - 1e-4 / 2, 400)


def test_rademacher_sample_kurtosis_is_exact():
    w = np.random.default_rng(5).choice([-1.0, 1.0], 999)
    assert classify_weight_law(float((w**4).mean() / (w**2).mean() ** 2) - 3, 999).z == 0


def test_gain_standard_error_identity_and_monte_carlo():
    assert gain_standard_error("gaussian", 200) == pytest.approx(0.1)          # √(2/200)
    assert gain_standard_error("uniform", 80) == pytest.approx(0.1)            # √(0.8/80)
    assert gain_standard_error("rademacher", 5) == 0.0                         # W² is constant
    rng = np.random.default_rng(4)
    c = np.array([3 * 64 * (rng.uniform(-1, 1, 64 * 64) ** 2).mean() / 64 for _ in range(2000)])   # c = 1
    from scipy.stats import chi2

    se = gain_standard_error("uniform", 64 * 64)
    ss = float(np.sum((c - 1) ** 2)) / se**2
    assert chi2.ppf(1e-4 / 2, 2000) <= ss <= chi2.ppf(1 - 1e-4 / 2, 2000)


def test_init_rules_and_matching():
    r = init_rules(9, 72)
    assert r == {"torch_default": 1 / 3, "he_fan_in": 2.0, "he_fan_out": 0.25, "lecun_fan_in": 1.0,
                 "glorot": 2 * 9 / 81}
    m = match_gain(0.27, 0.105, r)
    assert m.rule == "he_fan_out" and "torch_default" in m.alternatives      # too few weights to tell
    assert match_gain(0.27, 0.105, r, prefer="torch_default").rule == "torch_default"
    assert match_gain(7.0, 0.01, r).rule is None and match_gain(7.0, 0.01, r).c == 7.0
    with pytest.raises(DomainError, match="count"):
        classify_weight_law(0.0, 0)


@settings(max_examples=60, deadline=None)
@given(st.floats(0.01, 100), st.floats(1e-4, 0.5), st.integers(1, 4096), st.integers(1, 4096))
def test_matched_rule_is_within_z_standard_errors(c, rel, fan_in, fan_out):
    m = match_gain(c, rel, init_rules(fan_in, fan_out))
    if m.rule is not None:
        assert abs(c - m.c) <= 5 * rel * m.c * (1 + 1e-12)
    else:
        assert m.c == c and all(abs(c - v) > 5 * rel * v for v in init_rules(fan_in, fan_out).values())


@settings(max_examples=60, deadline=None)
@given(st.floats(-3, 10), st.integers(1, 10**6))
def test_classification_picks_the_nearest_law(k, n):
    m = classify_weight_law(k, n)
    dists = {w: abs(k - (float(weight_kurtosis(w).p) / float(weight_kurtosis(w).q) - 3)) for w in WEIGHT_LAWS}
    assert dists[m.nearest] == min(dists.values())
    assert m.law in (None, m.nearest) and math.isfinite(m.z)
