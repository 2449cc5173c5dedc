"""AB19 property (ii) in simulation: real networks differentiated by autograd (sim.width)."""
from __future__ import annotations

import numpy as np
import torch
from scipy import stats

from initbounds.bounds.band import product_law
from initbounds.sim.core import Stream
from initbounds.sim.engine import sample_networks
from initbounds.sim.width import sample_gradient_ratios


def test_autograd_ratios_follow_the_exact_law():
    """Width 8, depth 3, 6000 networks (seed 11): the atom P(G_l = 0) by a binomial test and the
    positive part by KS against B·ρ_1ρ_2 (α = 1e-3 per test, Bonferroni over 2·3 tests)."""
    n, L, T = 8, 3, 6000
    G = sample_gradient_ratios([n] * L, T, stream=Stream(11, "test-gradient"))
    law = product_law([n] * (L - 1))
    alive = 1 - 2.0**-n
    p0 = (1 - alive) + alive * law.p_dead
    a = 1e-3 / (2 * L)
    for l in range(L):
        g = G[:, l]
        assert stats.binomtest(int((g == 0).sum()), T, p0).pvalue > a
        cdf = lambda x: (alive * np.array([law.p_below(float(u)) for u in x]) + (1 - alive) - p0) / (1 - p0)  # noqa: E731
        assert stats.kstest(g[g > 0], cdf).pvalue > a


def test_autograd_ratios_do_not_depend_on_the_memory_budget(monkeypatch):
    from initbounds.sim import core

    a = sample_gradient_ratios([5, 6, 7], 3000, stream=Stream(3, "budget"))
    monkeypatch.setattr(core, "MEMORY_BUDGET", 20000.0)
    b = sample_gradient_ratios([5, 6, 7], 3000, stream=Stream(3, "budget"))
    assert np.array_equal(a, b)


def test_autograd_equals_the_engines_backward_pass_in_law():
    """The engine's hand-written backward pass (grads=True) and autograd sample the same law:
    two-sample KS per layer (seed 5, α = 1e-3 / 3)."""
    n, L, T = 12, 3, 4000
    x = torch.ones(1, n, dtype=torch.float64)
    eng = sample_networks([n] * L, x, T, fan="in", stream=Stream(5, "eng"), path="real", grads=True).grad_ratio[:, :, 0]
    auto = sample_gradient_ratios([n] * L, T, stream=Stream(5, "auto"))
    for l in range(L):
        assert stats.ks_2samp(eng[:, l], auto[:, l]).pvalue > 1e-3 / L
