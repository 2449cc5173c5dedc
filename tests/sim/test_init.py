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
from initbounds.sim.init import fractional_moment_normal_, fractional_moment_std, init_model_, init_sequential_

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


# --- torch's conventions, convolutions, init_model_ (issue 15) -------------------------------------
@pytest.mark.parametrize("shape", [(64, 16), (16, 8, 3, 3), (12, 3, 5), (7, 9)])
@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
@pytest.mark.parametrize("nonlinearity, a", [("relu", None), ("leaky_relu", 0.2), ("linear", None)])
def test_s2_is_kaiming_normal_in_torchs_conventions(shape, mode, nonlinearity, a):
    """At s = 2 the std equals torch's kaiming_normal_ std (gain/√fan, torch's fans) for every mode and shape."""
    w = torch.empty(shape)
    fan_in, fan_out = nn.init._calculate_fan_in_and_fan_out(w)
    gain = nn.init.calculate_gain(nonlinearity, a if a is not None else 0.01)
    want = gain / math.sqrt(fan_in if mode == "fan_in" else fan_out)
    got = fractional_moment_std(shape, s=2.0, mode=mode, nonlinearity=nonlinearity, a=a, activation=None)
    assert got == pytest.approx(want, rel=1e-12)
    # our own names are aliases of torch's
    ours = {"relu": "relu", "leaky_relu": "leaky", "linear": "linear"}[nonlinearity]
    assert fractional_moment_std(shape, s=2.0, fan=mode[4:], activation=ours, slope=a) == got


def test_conv_weights_any_float_dtype_and_clear_errors():
    gen = torch.Generator().manual_seed(4)
    for dt in (torch.float16, torch.bfloat16, torch.float32, torch.float64):
        w = torch.empty(32, 16, 3, 3, dtype=dt)
        fractional_moment_normal_(w, s=1.0, mode="fan_in", nonlinearity="relu", activation=None, generator=gen)
        assert w.dtype == dt and torch.isfinite(w.float()).all()
    with pytest.raises(DomainError, match="floating-point"):
        fractional_moment_normal_(torch.zeros(3, 3, dtype=torch.int64), s=1.0, fan="in")
    with pytest.raises(DomainError, match="disagree"):
        fractional_moment_normal_(torch.empty(3, 3), s=1.0, fan="in", mode="fan_out")
    with pytest.raises(DomainError, match="never a silent default"):
        fractional_moment_normal_(torch.empty(3, 3), s=1.0)


def test_conv_weight_variance_monte_carlo():
    """Var W = σ² for a 4-D weight: 64·32·3·3 = 18432 draws (seed 6); the chi-square interval at α = 1e-4
    on the sample variance covers σ² (Gaussian weights)."""
    from scipy.stats import chi2

    w = torch.empty(64, 32, 3, 3, dtype=torch.float64)
    fractional_moment_normal_(w, s=2.0, mode="fan_in", nonlinearity="relu", activation=None,
                              generator=torch.Generator().manual_seed(6))
    n = w.numel()
    ss = float((w**2).sum())            # mean known (0): ss/σ² ~ χ²_n
    lo, hi = ss / chi2.ppf(1 - ALPHA / 2, n), ss / chi2.ppf(ALPHA / 2, n)
    assert lo <= 2 / (32 * 9) <= hi


def test_init_model_covers_every_layer_and_says_what_it_did():
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 36, 8),
                          nn.ReLU(), nn.Linear(8, 3))
    before = model[4].bias.detach().clone()
    done = init_model_(model, mode="fan_in", nonlinearity="relu", generator=torch.Generator().manual_seed(0))
    by = {d["name"]: d for d in done}
    assert [by[n]["nonlinearity"] for n in ("0", "4", "6")] == ["relu", "relu", "linear"]   # the head: linear rule
    assert by["6"]["std"] == pytest.approx(1 / math.sqrt(8))
    assert by["0"]["fan_in"] == 9 and by["0"]["bias"] == "kept" and torch.equal(model[4].bias, before)
    assert by["1"]["action"].startswith("left as is")
    init_model_(model, mode="fan_in", nonlinearity="relu", zero_bias=True)
    assert all(float(model[i].bias.detach().abs().sum()) == 0 for i in (0, 4, 6))
    with pytest.raises(DomainError, match="no Linear, Conv1d or Conv2d"):
        init_model_(nn.Sequential(nn.ReLU()))
