"""Residual MLPs at initialization (sim/resnet.py; HR18): the sampler against bounds.resnet."""
from __future__ import annotations

import math

import torch

from initbounds.bounds.resnet import residual_growth
from initbounds.sim import stats
from initbounds.sim.core import NetworkSpec, Stream, draw_params, Batch, forward
from initbounds.sim.resnet import sample_residual

LEVEL = 1 - 1e-4


def test_residual_sampler_mean_matches_the_product():
    """B = 6 blocks (n = 8, m = 4, η = 0.8/b), seed 21, T = 20000: each block's mean interval
    (α = 1e-4 over the 6 blocks) covers E‖x_b‖²/‖x_0‖² = Π(1 + η_j²)."""
    B, n, m, eta = 6, 8, 4, 0.8
    r = sample_residual(B, n, m, eta, 20000, schedule="inv", stream=Stream(21, "tests/sim/test_resnet"))
    g = residual_growth(B, n, m, eta, schedule="inv")
    level = stats.bonferroni(LEVEL, B)
    for b in range(B):
        _, lo, hi = stats.mean_ci(r[:, b], level)
        assert lo <= math.exp(g["log_mean"][b]) <= hi


def test_residual_sampler_is_the_core_residual_forward():
    """Its networks are the core's residual_mlp (W₁ of variance 2/n, W₂ of variance 1/m) on e_1."""
    s = Stream(2, "tests/sim/test_resnet")
    r = sample_residual(3, 5, 4, 0.5, 7, stream=s)
    spec = NetworkSpec.residual_mlp(5, 4, [0.5] * 3)
    assert spec.layer_variances() == (2 / 5, 1 / 4) * 3
    x0 = torch.zeros(1, 1, 5, dtype=torch.float64)
    x0[0, 0, 0] = 1.0
    out = []
    forward(spec, x0, draw_params(spec, Batch.single(s, 0, size=7)), record=lambda b, z, h: out.append(h))
    for b in range(3):
        assert torch.equal(torch.tensor(r[:, b]), (out[b] ** 2).sum(dim=(1, 2)))
