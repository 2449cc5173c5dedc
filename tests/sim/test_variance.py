"""Tests."""
from __future__ import annotations
import torch
from initbounds.sim import stats
from initbounds.bounds.variance import length_moments
import math
import numpy as np
import pytest
from initbounds.bounds.resnet import residual_growth
from initbounds.bounds.variance import second_moment, weight_kurtosis
from initbounds.sim.resnet import sample_residual
from initbounds.sim.variance import draw_weights, sample_jacobian_entry, sample_lengths


def test_second_moment_monte_carlo():
    """E M_d²/M_0² = Π(1 + 5/n_j) at widths 32, 24, 40 (β ≈ 0.097 ≤ 0.3: moments are reliable),
    real networks, fan-in He, seed 17, T = 20000, normal CI at α = 1e-4."""
    from initbounds.sim import stats
    from initbounds.sim.engine import sample_networks

    widths = [32, 32, 24, 40]
    x = torch.ones(1, 32, dtype=torch.float64)
    s = sample_networks(widths, x, 20000, fan="in", generator=torch.Generator().manual_seed(17), path="real")
    m_ratio = s.sq_ratio[:, -1, 0] * widths[0] / widths[-1]        # M_d/M_0
    m, lo, hi = stats.mean_ci(m_ratio**2, 1 - 1e-4)
    assert lo <= length_moments(widths[1:]).second_moment_ratio <= hi


LEVEL = 1 - 1e-4


def _covers(lo, hi, v):
    """lo ≤ v ≤ hi, allowing double rounding (Rademacher squares are constant: a zero-width interval)."""
    slack = 4 * np.finfo(float).eps * abs(v)
    return lo - slack <= v <= hi + slack


@pytest.mark.parametrize("law", ["gaussian", "uniform", "rademacher", "laplace"])
def test_weight_laws_have_the_stated_variance_and_kurtosis(law):
    w = draw_weights((400_000,), 0.3, law, generator=torch.Generator().manual_seed(5)).numpy()
    level = stats.bonferroni(LEVEL, 3)
    m, lo, hi = stats.mean_ci(w, level)
    assert lo <= 0.0 <= hi
    m2, lo2, hi2 = stats.mean_ci(w**2, level)
    assert _covers(lo2, hi2, 0.3)
    m4, lo4, hi4 = stats.mean_ci(w**4, level)
    assert _covers(lo4, hi4, float(weight_kurtosis(law)) * 0.09)


def test_jacobian_entry_equals_autograd():
    """Replays the sampler's draws (same generator order) and differentiates with autograd."""
    n0, hidden, T, seed = 3, [5, 4], 4, 9
    z = sample_jacobian_entry(n0, hidden, T, generator=torch.Generator().manual_seed(seed))
    g = torch.Generator().manual_seed(seed)
    dims = [n0, *hidden]
    Ws = [torch.randn((T, b, a), generator=g, dtype=torch.float64) * math.sqrt(2.0 / a) for a, b in zip(dims[:-1], dims[1:])]
    v = torch.randn((T, 1, hidden[-1]), generator=g, dtype=torch.float64) * math.sqrt(1.0 / hidden[-1])
    for t in range(T):
        x = torch.ones(n0, dtype=torch.float64, requires_grad=True)
        h = x
        for W in Ws:
            h = torch.relu(W[t] @ h)
        (v[t, 0] @ h).backward()
        assert z[t] == pytest.approx(float(x.grad[0]), rel=1e-12, abs=1e-15)


def test_residual_sampler_mean_matches_the_product():
    B, n, m, eta = 6, 8, 4, 0.8
    r = sample_residual(B, n, m, eta, 20000, schedule="inv", generator=torch.Generator().manual_seed(21))
    g = residual_growth(B, n, m, eta, schedule="inv")
    level = stats.bonferroni(LEVEL, B)
    for b in range(B):
        _, lo, hi = stats.mean_ci(r[:, b], level)
        assert lo <= math.exp(g["log_mean"][b]) <= hi


def test_gaussian_lengths_match_the_norm_sampler():
    """sample_lengths (real nets, Gaussian, no bias) has the law of the exact norm sampler (KS)."""
    from initbounds.sim.engine import sample_networks

    w = [6, 5, 7]
    a = sample_lengths(w, torch.ones(6), 6000, generator=torch.Generator().manual_seed(3))[:, -1]
    s = sample_networks(w, torch.ones(1, 6, dtype=torch.float64), 6000, fan="in", path="norm",
                        generator=torch.Generator().manual_seed(4))
    b = s.sq_ratio[:, -1, 0] * 6 / 7
    from scipy.stats import ks_2samp

    assert ks_2samp(a, b).pvalue > 1e-4


@pytest.mark.parametrize("law, s2", [("laplace", 0.3), ("uniform", 0.0), ("rademacher", 1.0)])
def test_second_moment_with_biases_and_weight_laws(law, s2):
    """E M_d and E M_d² from the exact recursion vs real nets, spiky input (q = 1), seed 31."""
    n0, hidden = 4, [6, 6]
    x = torch.zeros(n0)
    x[0] = 2.0
    m = sample_lengths([n0, *hidden], x, 60000, weights=law, bias_var=s2,
                       generator=torch.Generator().manual_seed(31))[:, -1]
    th = second_moment(hidden, input_dim=n0, weights=law, bias_var=s2, input_flatness=1.0)
    level = stats.bonferroni(LEVEL, 2)
    _, lo, hi = stats.mean_ci(m, level)
    assert lo <= th.mean <= hi
    _, lo2, hi2 = stats.mean_ci(m**2, level)
    assert lo2 <= th.second_moment <= hi2


def test_relu_output_jacobian_halves_the_moments():
    from initbounds.bounds.variance import jacobian_moments

    z = sample_jacobian_entry(4, [6, 6], 60000, output="relu", generator=torch.Generator().manual_seed(13))
    th = jacobian_moments(4, [6, 6], output="relu")
    level = stats.bonferroni(LEVEL, 2)
    _, lo, hi = stats.mean_ci(z**2, level)
    assert lo <= th.second <= hi
    _, lo4, hi4 = stats.mean_ci(z**4, level)
    assert lo4 <= th.fourth <= hi4
