"""Length moments with weight laws and biases, Jacobian entries (sim/variance.py; HR18, H18).

Monte Carlo tests use written seeds and decide by intervals at α = 1e-4 (the weight laws' own
variance and kurtosis are tested in test_core.py, where the laws are drawn).
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from initbounds.bounds.variance import length_moments, second_moment
from initbounds.sim import stats
from initbounds.sim.core import Stream
from initbounds.sim.variance import sample_jacobian_entry, sample_length_ratios, sample_lengths

LEVEL = 1 - 1e-4


def stream(seed):
    return Stream(seed, "tests/sim/test_variance")


def test_second_moment_monte_carlo():
    """E M_d²/M_0² = Π(1 + 5/n_j) at widths 32, 24, 40 (β ≈ 0.097 ≤ 0.3: moments are reliable),
    real networks, fan-in He, seed 17, T = 20000, normal CI at α = 1e-4."""
    from initbounds.sim.engine import sample_networks

    widths = [32, 24, 40]
    x = torch.ones(1, 32, dtype=torch.float64)
    s = sample_networks(widths, x, 20000, fan="in", stream=stream(17), path="real")
    m_ratio = s.sq_ratio[:, -1, 0] * 32 / widths[-1]               # M_d/M_0
    m, lo, hi = stats.mean_ci(m_ratio**2, LEVEL)
    assert lo <= length_moments(widths).second_moment_ratio <= hi


def test_jacobian_entry_equals_autograd():
    """Replays the documented draw order (chunk 0's generator: the hidden weights N(0, 2/fan-in),
    then the output row N(0, 1/n_d)) and differentiates with autograd."""
    n0, hidden, T, seed = 3, [5, 4], 4, 9
    z = sample_jacobian_entry(n0, hidden, T, stream=stream(seed))
    g = stream(seed).generator(0)
    dims = [n0, *hidden]
    Ws = [torch.empty((T, b, a), dtype=torch.float64).normal_(0.0, math.sqrt(2.0 / a), generator=g)
          for a, b in zip(dims[:-1], dims[1:])]
    v = torch.empty((T, 1, hidden[-1]), dtype=torch.float64).normal_(0.0, math.sqrt(1.0 / hidden[-1]), generator=g)
    for t in range(T):
        x = torch.ones(n0, dtype=torch.float64, requires_grad=True)
        h = x
        for W in Ws:
            h = torch.relu(W[t] @ h)
        (v[t, 0] @ h).backward()
        assert z[t] == pytest.approx(float(x.grad[0]), rel=1e-12, abs=1e-15)


def test_gaussian_lengths_match_the_norm_sampler():
    """sample_lengths (real nets, Gaussian, no bias) has the law of the exact norm sampler (KS)."""
    from scipy.stats import ks_2samp

    from initbounds.sim.engine import sample_networks

    w = [5, 7]
    a = sample_lengths(w, torch.ones(6), 6000, stream=stream(3))[:, -1]
    s = sample_networks(w, torch.ones(1, 6, dtype=torch.float64), 6000, fan="in", path="norm", stream=stream(4))
    b = s.sq_ratio[:, -1, 0] * 6 / 7
    assert ks_2samp(a, b).pvalue > 1e-4


@pytest.mark.parametrize("law, s2", [("laplace", 0.3), ("uniform", 0.0), ("rademacher", 1.0)])
def test_second_moment_with_biases_and_weight_laws(law, s2):
    """E M_d and E M_d² from the exact recursion vs real nets, spiky input (q = 1), seed 31."""
    n0, hidden = 4, [6, 6]
    x = torch.zeros(n0)
    x[0] = 2.0
    m = sample_lengths(hidden, x, 60000, weights=law, bias_var=s2, stream=stream(31).child(law))[:, -1]
    th = second_moment(hidden, input_dim=n0, weights=law, bias_var=s2, input_flatness=1.0)
    level = stats.bonferroni(LEVEL, 2)
    _, lo, hi = stats.mean_ci(m, level)
    assert lo <= th.mean <= hi
    _, lo2, hi2 = stats.mean_ci(m**2, level)
    assert lo2 <= th.second_moment <= hi2


def test_relu_output_jacobian_halves_the_moments():
    from initbounds.bounds.variance import jacobian_moments

    z = sample_jacobian_entry(4, [6, 6], 60000, output="relu", stream=stream(13))
    th = jacobian_moments(4, [6, 6], output="relu")
    level = stats.bonferroni(LEVEL, 2)
    _, lo, hi = stats.mean_ci(z**2, level)
    assert lo <= th.second <= hi
    _, lo4, hi4 = stats.mean_ci(z**4, level)
    assert lo4 <= th.fourth <= hi4


def test_jacobian_moments_with_non_he_gains():
    """Issue 11: E Z² = (c/n0)·Π c_j/2 (the gain factor was missing); E Z⁴ scales by Π (c_j/2)².
    Hidden and output gain c = 1/3 (torch's default nn.Linear init), n0 = 8, hidden 16,16,16:
    E Z² = 1.93e-4. 60,000 networks at the suite's level, Bonferroni over the two moments."""
    from initbounds.bounds.variance import jacobian_moments

    c = 1 / 3
    z = sample_jacobian_entry(8, [16, 16, 16], 60000, weight_var=c, out_var=c, stream=stream(41))
    th = jacobian_moments(8, [16, 16, 16], weight_var=c, out_var=c)
    he = jacobian_moments(8, [16, 16, 16], out_var=c)
    assert th.second == pytest.approx(he.second * (c / 2) ** 3, rel=1e-12)
    level = stats.bonferroni(LEVEL, 2)
    _, lo, hi = stats.mean_ci(z**2, level)
    assert lo <= th.second <= hi and not lo <= he.second <= hi
    _, lo4, hi4 = stats.mean_ci(z**4, level)
    assert lo4 <= th.fourth <= hi4


def test_length_ratios_take_a_run_seed():
    """The CLI's sampler: a seed int (stream "variance.length_ratios"), hidden widths, c per layer."""
    a = sample_length_ratios([8, 6], 50, seed=3)
    assert a.shape == (50,) and np.array_equal(a, sample_length_ratios([8, 6], 50, seed=3))
    assert not np.array_equal(a, sample_length_ratios([8, 6], 50, seed=4))
    b = sample_length_ratios([8, 6], 50, seed=3, weight_var=[2.0, 2.0], path="real")
    assert b.shape == (50,) and np.all(b >= 0)
