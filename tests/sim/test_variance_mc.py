"""Monte Carlo check of FM2 (HR18; THEORY §5) with real networks."""
from __future__ import annotations

import torch

from bounds.variance import length_moments


def test_second_moment_monte_carlo():
    """E M_d²/M_0² = Π(1 + 5/n_j) at widths 32, 24, 40 (β ≈ 0.097 ≤ 0.3: moments are reliable),
    real networks, fan-in He, seed 17, T = 20000, normal CI at α = 1e-4."""
    from sim import stats
    from sim.engine import sample_networks

    widths = [32, 32, 24, 40]
    x = torch.ones(1, 32, dtype=torch.float64)
    s = sample_networks(widths, x, 20000, fan="in", generator=torch.Generator().manual_seed(17), path="real")
    m_ratio = s.sq_ratio[:, -1, 0] * widths[0] / widths[-1]        # M_d/M_0
    m, lo, hi = stats.mean_ci(m_ratio**2, 1 - 1e-4)
    assert lo <= length_moments(widths[1:]).second_moment_ratio <= hi
