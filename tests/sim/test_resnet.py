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


def _biased_residual(T, B, n, m, eta, c1, c2, s1, s2, x0, law, stream):
    """‖x_B‖²/n for T real residual MLPs x ← x + η(W₂ relu(W₁x + b₁) + b₂), batched over networks; every
    weight and bias drawn from ``law`` (gaussian or uniform) with the given variances, from ``stream``."""
    g = stream.generator(0)

    def draw(shape, var):
        if law == "uniform":
            a = math.sqrt(3 * var)
            return (torch.rand(shape, generator=g, dtype=torch.float64) * 2 - 1) * a
        return torch.randn(shape, generator=g, dtype=torch.float64) * math.sqrt(var)

    x = x0.expand(T, n).clone()
    for _ in range(B):
        w1, b1 = draw((T, m, n), c1 / n), draw((T, m), s1)
        w2, b2 = draw((T, n, m), c2 / m), draw((T, n), s2)
        u = torch.relu(torch.einsum("tmn,tn->tm", w1, x) + b1)
        x = x + eta * (torch.einsum("tnm,tm->tn", w2, u) + b2)
    return ((x * x).sum(dim=1) / n).numpy()


def test_biased_residual_blocks_match_residual_bias_moments():
    """Real residual MLPs with branch biases (docs/theory.md §15), seed 31, T = 20000 networks per law, B = 3
    blocks, n = 8, m = 6, η = 0.9, c₁ = 1.2, c₂ = 0.7, s₁² = 0.3, s₂² = 0.2, a fixed x_0 with M_0 = 1.5.
    Decision: mean_ci intervals at α = 1e-4 (Bonferroni over the 3 quantities) must cover E M_B (Gaussian and
    uniform laws: the mean holds for any symmetric law) and E M_B² (Gaussian: where the second moment is exact).
    The no-bias formula (η_eff only) must fall outside the Gaussian mean's interval: the bias term is resolved."""
    from initbounds.bounds.resnet import residual_bias_moments

    T, B, n, m, eta, c1, c2, s1, s2 = 20000, 3, 8, 6, 0.9, 1.2, 0.7, 0.3, 0.2
    x0 = torch.linspace(-1, 1, n, dtype=torch.float64)
    x0 = x0 * math.sqrt(1.5 / float((x0 * x0).mean()))
    pred = residual_bias_moments(B, n, m, eta, c1=c1, c2=c2, bias_var1=s1, bias_var2=s2, m0=1.5)
    level = stats.bonferroni(LEVEL, 3)
    s = Stream(31, "tests/sim/test_resnet/bias")
    gauss = _biased_residual(T, B, n, m, eta, c1, c2, s1, s2, x0, "gaussian", s.child("gaussian"))
    unif = _biased_residual(T, B, n, m, eta, c1, c2, s1, s2, x0, "uniform", s.child("uniform"))
    _, lo, hi = stats.mean_ci(gauss, level)
    assert lo <= pred.mean <= hi
    nobias = 1.5 * residual_bias_moments(B, n, m, eta, c1=c1, c2=c2).mean_ratio
    assert not lo <= nobias <= hi
    _, lo, hi = stats.mean_ci(gauss**2, level)
    assert lo <= pred.second <= hi
    _, lo, hi = stats.mean_ci(unif, level)
    assert lo <= pred.mean <= hi
