"""Fractional-moment initializers and non-ReLU activations in the simulator (GH21) — issue 3."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from initbounds.bounds.errors import DomainError
from initbounds.bounds.moments import activation, sigma2
from initbounds.sim import stats
from initbounds.sim.core import Stream
from initbounds.sim.engine import sample_networks
from initbounds.sim.init import fractional_moment_normal_, fractional_moment_std, init_sequential_

ALPHA = 1e-4


def test_std_and_fan_conventions():
    assert fractional_moment_std((64, 64), s=2.0, fan="out") == pytest.approx(math.sqrt(2 / 64))
    assert fractional_moment_std((64, 64), s=1.0, fan="out") == pytest.approx(math.sqrt(sigma2(activation("relu"), 64, 1.0)))
    # per-unit form for rectangular layers: σ²(d_out)·d_out/d_in; at s = 2 this is He fan-in 2/d_in
    assert fractional_moment_std((128, 32), s=2.0, fan="in") == pytest.approx(math.sqrt(2 / 32))
    assert fractional_moment_std((128, 32), s=2.0, fan="out") == pytest.approx(math.sqrt(2 / 128))


def test_initializer_in_place_reproducible_and_sequential():
    w1, w2 = torch.empty(64, 16), torch.empty(64, 16)
    fractional_moment_normal_(w1, s=1.0, activation="leaky", slope=0.3, fan="in", generator=torch.Generator().manual_seed(3))
    fractional_moment_normal_(w2, s=1.0, activation="leaky", slope=0.3, fan="in", generator=torch.Generator().manual_seed(3))
    assert torch.equal(w1, w2)
    model = nn.Sequential(nn.Linear(16, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU())
    init_sequential_(model, s=1.0, fan="out", generator=torch.Generator().manual_seed(0))
    assert all(float(m.bias.detach().abs().sum()) == 0 for m in model if isinstance(m, nn.Linear))
    with pytest.raises(DomainError, match="fan must be one of 'in', 'out'; got 'both'"):
        fractional_moment_normal_(torch.empty(3, 3), s=1.0, fan="both")


@pytest.mark.parametrize("kind, kw", [("leaky", {"slope": 0.3}), ("rrelu", {"lower": 0.125, "upper": 1 / 3}),
                                      ("linear", {})])
def test_one_layer_moment_preserved_by_real_networks(kind, kw):
    """E(‖h₁‖/‖x‖)^s = 1 at s = 0.7, d = 32, with weights from σ_s (seed 21; T = 30000 gives
    resolution ±0.003 at α = 1e-4)."""
    a = activation(kind, **kw)
    s, d = 0.7, 32
    v = sigma2(a, d, s)
    smp = sample_networks([d], torch.ones(1, d, dtype=torch.float64), 30000, fan="out", act=a,
                          variances=[v], stream=Stream(21, "tests/sim/test_init").child(kind))
    assert smp.path == "real"
    m, lo, hi = stats.mean_ci(smp.sq_ratio[:, 0, 0] ** (s / 2), 1 - ALPHA)
    assert lo <= 1.0 <= hi


def test_rrelu_draws_a_slope_per_unit_and_input():
    # with two identical inputs, a per-input slope makes their activations differ (negative parts)
    a = activation("rrelu", lower=0.1, upper=0.9)
    x = torch.ones(2, 8, dtype=torch.float64)
    smp = sample_networks([16], x, 50, fan="out", act=a, stream=Stream(0, "tests/sim/test_init"))
    assert np.any(np.abs(smp.sq_ratio[:, 0, 0] - smp.sq_ratio[:, 0, 1]) > 1e-9)


def test_non_relu_needs_the_real_path():
    with pytest.raises(DomainError, match="activation 'leaky' needs path='real'; got path='gram'"):
        sample_networks([4], torch.ones(2, 4), 3, fan="in", act=activation("leaky", slope=0.1),
                        stream=Stream(0, "tests/sim/test_init"), path="gram")


def test_linear_small_output_exact_law_against_real_networks():
    """P(‖h_k‖ ≤ t‖x‖) for linear nets, exact (Gil-Pelaez) vs real networks (seed 4, T = 40000,
    Clopper–Pearson at α = 1e-4), under σ_s (s = 1) and LeCun."""
    from initbounds.bounds.moments import p_small_output

    a = activation("linear")
    d, k, t = 16, 10, 0.7
    so = p_small_output(a, d, 1.0, k, t)
    assert so.p_exact is not None and so.tolerance < 1e-6
    for s, th in ((1.0, so.p_exact), (2.0, so.p_exact_he)):
        v = sigma2(a, d, s)
        smp = sample_networks([d] * k, torch.ones(1, d, dtype=torch.float64), 40000, fan="out", act=a,
                              variances=[v] * k, stream=Stream(4, "tests/sim/test_init").child(f"s={s:g}"))
        hits = int((smp.sq_ratio[:, -1, 0] <= t * t).sum())
        lo, hi = stats.clopper_pearson(hits, 40000, 1 - ALPHA / 2)
        assert lo <= th <= hi
    assert so.p_exact < so.p_exact_he   # s < 2 avoids small outputs
