"""The batched real-network engine (sim/engine.py): contracts, identities, autograd, one-layer law.

Complements test_engine_law.py (law of the reduced samplers, KS tests). Monte Carlo tests use
written seeds and decide by a confidence interval at the suite's α = 1e-4 (docs/theory.md §9).
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from initbounds.bounds.errors import DomainError
from initbounds.sim import stats
from initbounds.sim.core import Stream
from initbounds.sim.engine import NetworkSample, sample_inputs, sample_networks
from scipy import stats as st
from initbounds.bounds import rho

ALPHA = 1e-4  # per-test error level shared by the Monte Carlo tests of the suite


def gen(seed):
    """The stream of a written seed (the name is this test file's)."""
    return Stream(seed, "tests/sim/test_engine")


# --- shapes, records, reproducibility ------------------------------------------------------------


def test_result_fields_and_shapes():
    x = sample_inputs(6, 4, correlation=0.3, stream=gen(0))
    s = sample_networks([9, 5, 7], x, 11, fan="out", weight_var=2.0, stream=gen(1), path="real", grads=True)
    assert isinstance(s, NetworkSample)
    assert s.input_dim == 6 and s.widths == (9, 5, 7) and s.fan == "out" and s.weight_var == (2.0, 2.0, 2.0)
    assert s.trials == 11 and s.chunk >= 11 and s.chunks == (0,)
    assert s.path == "real" and s.dtype == "float64" and s.device == "cpu" and s.seconds >= 0
    for a in (s.sq_ratio, s.layer_ratio, s.grad_ratio):
        assert a.shape == (11, 3, 4) and a.dtype == np.float64 and np.all(np.isfinite(a)) and np.all(a >= 0)
    assert sample_networks([9], x, 2, fan="in", stream=gen(1), path="real").grad_ratio is None
    with pytest.raises(Exception):       # frozen
        s.trials = 3


def test_same_seed_same_result_other_seed_other_result():
    x = sample_inputs(8, 3, correlation=0.5, stream=gen(1))
    kw = dict(fan="in", path="real", grads=True)
    a = sample_networks([16, 16], x, 5, stream=gen(2), **kw)
    b = sample_networks([16, 16], x, 5, stream=gen(2), **kw)
    c = sample_networks([16, 16], x, 5, stream=gen(3), **kw)
    for f in ("sq_ratio", "layer_ratio", "grad_ratio"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f))
    assert not np.array_equal(a.sq_ratio, c.sq_ratio)


def test_global_rng_state_is_never_touched():
    before = torch.get_rng_state().clone()
    x = sample_inputs(5, 2, correlation=0.0, stream=gen(0))
    sample_networks([7, 3], x, 4, fan="in", stream=gen(1), path="real", grads=True)
    sample_networks([7, 3], x, 4, fan="in", stream=gen(1), path="gram")
    sample_networks([7, 3], x[:1], 4, fan="in", stream=gen(1), path="norm")
    assert torch.equal(torch.get_rng_state(), before)


def test_squared_norm_ratio_is_the_product_of_layer_ratios():
    # width-1 layers kill an input with probability ½ each: deaths happen, and afterwards the
    # layer ratio is 0/0 := 0 while the cumulative ratio stays 0
    x = sample_inputs(3, 2, correlation=0.2, stream=gen(4))
    s = sample_networks([1, 4, 1, 2], x, 200, fan="in", stream=gen(5), path="real")
    np.testing.assert_allclose(s.sq_ratio, np.cumprod(s.layer_ratio, axis=1), rtol=1e-12, atol=0)
    dead = s.sq_ratio == 0
    assert dead[:, -1].any() and not dead[:, -1].all()
    assert np.all(dead[:, 1:] >= dead[:, :-1])                     # once dead, dead for good
    assert np.all(s.layer_ratio[:, 1:][dead[:, :-1]] == 0)


def test_chunks_and_progress():
    calls = []
    x = torch.ones(1, 512, dtype=torch.float32)
    # one network's largest weight tensor is 512·512 elements (+ activations): chunks of 3
    # networks (sim.core.CHUNK_ELEMENTS = 2^20); a 4 MiB float32 budget holds one chunk per batch
    s = sample_networks([512, 512], x, 10, fan="in", stream=gen(0), path="real", dtype=torch.float32,
                        memory_budget=4 * 2**20, progress=lambda d, t: calls.append((d, t)))
    assert s.chunk == 3 and s.chunks == (0, 1, 2, 3)
    assert calls == [(0, 10), (3, 10), (6, 10), (9, 10), (10, 10)]     # (0, 10) first: issue 11 (progress)
    assert s.sq_ratio.shape == (10, 2, 1)
    # the chunks run one at a time, in any order, give the same networks
    parts = [sample_networks([512, 512], x, 10, fan="in", stream=gen(0), path="real", dtype=torch.float32,
                             chunks=[k]).sq_ratio for k in (3, 2, 1, 0)]
    np.testing.assert_array_equal(np.concatenate(parts[::-1]), s.sq_ratio)


def test_sample_inputs_unit_norm_reproducible_and_correlated():
    a = sample_inputs(400, 5, correlation=0.8, stream=gen(9))
    b = sample_inputs(400, 5, correlation=0.8, stream=gen(9))
    assert torch.equal(a, b) and a.shape == (5, 400) and a.dtype == torch.float64
    np.testing.assert_allclose(a.norm(dim=1).numpy(), 1.0, rtol=1e-13)
    c = (a @ a.T).numpy()[~np.eye(5, dtype=bool)]
    # to first order in 1/n0 a cosine is c + (1 − c²)/√n0 · N(0, 1): sd 0.018 at c = 0.8, n0 = 400,
    # so ±0.1 is 5.5 sd (10 pairs); at c = 0 the sd is 0.05 and ±0.3 is 6 sd
    assert np.all(np.abs(c - 0.8) < 0.1)
    u = sample_inputs(400, 5, correlation=0.0, stream=gen(9))
    assert np.all(np.abs((u @ u.T).numpy()[~np.eye(5, dtype=bool)]) < 0.3)
    assert sample_inputs(3, 2, correlation=0.5, stream=gen(0), dtype=torch.float32).dtype == torch.float32


# --- the manual backward pass equals autograd ----------------------------------------------------


def _rebuild(dims, trials, fan, gain, seed, dtype):
    """The weights and e of a run in one chunk, from the documented draw order of chunk 0's
    generator: layer by layer a (t, n_l, n_{l-1}) block of N(0, v_l), then e as a (t, 1, n_L) block."""
    g = gen(seed).generator(0)
    Ws = []
    for a, b in zip(dims[:-1], dims[1:]):
        std = math.sqrt(gain / (a if fan == "in" else b))
        Ws.append(torch.empty((trials, b, a), dtype=dtype).normal_(0.0, std, generator=g))
    e = torch.empty((trials, 1, dims[-1]), dtype=dtype).normal_(0.0, 1.0, generator=g)
    return Ws, e


@pytest.mark.parametrize("dtype, rel", [(torch.float64, 1e-12), (torch.float32, 1e-4)])
@pytest.mark.parametrize("fan", ["in", "out"])
def test_manual_backprop_equals_autograd(fan, dtype, rel):
    """‖∂ℓ_i/∂W_l‖²_F from the engine equals autograd's, per network, layer and input.

    Both compute the same quantity from the same weights; they differ only by rounding (sums of
    ≤ 9 terms per layer over 3 layers): rel is a few hundred ulps of the dtype.
    """
    dims, T, gain = [5, 9, 6, 4], 3, 1.7
    x = sample_inputs(5, 4, correlation=0.3, stream=gen(1), dtype=dtype)
    s = sample_networks(dims[1:], x, T, fan=fan, weight_var=gain, stream=gen(11), dtype=dtype, path="real",
                        grads=True)
    Ws, e = _rebuild(dims, T, fan, gain, 11, dtype)
    for t in range(T):
        for i in range(x.shape[0]):
            params = [W[t].clone().requires_grad_(True) for W in Ws]
            h = x[i]
            for W in params:
                z = W @ h
                h = torch.relu(z)
            loss = (e[t, 0] * h).sum()                        # ℓ_i = ⟨e, h_L(x_i)⟩
            grads = torch.autograd.grad(loss, params)
            dL = float(((e[t, 0] * (z > 0)) ** 2).sum())
            for l, gW in enumerate(grads):
                expect = float((gW**2).sum()) / (float((x[i] ** 2).sum()) * dL) if dL > 0 else 0.0
                assert s.grad_ratio[t, l, i] == pytest.approx(expect, rel=rel, abs=0)
            out = float((h.detach() ** 2).sum() / (x[i] ** 2).sum())
            assert s.sq_ratio[t, -1, i] == pytest.approx(out, rel=rel)


def test_last_layer_gradient_is_the_previous_activation_norm():
    # rank one: ‖∂ℓ/∂W_L‖² = ‖δ_L‖²‖h_{L-1}‖², so grad_ratio at layer L is ‖h_{L-1}‖²/‖x‖² when δ_L ≠ 0
    x = sample_inputs(10, 3, correlation=0.5, stream=gen(2))
    s = sample_networks([12, 12, 12], x, 300, fan="in", stream=gen(3), path="real", grads=True)
    live = s.grad_ratio[:, -1] > 0
    assert live.mean() > 0.9
    np.testing.assert_allclose(s.grad_ratio[:, -1][live], s.sq_ratio[:, -2][live], rtol=1e-12)


# --- fan conventions and the one-layer law (docs/theory.md §1, §2) -------------------------------------


def test_one_layer_mean_and_variance_n32_fan_out():
    """E ρ = 1 and E(ρ − 1)² = 5/n for n = 32, depth 1, fan-out He (real networks, seed 31).

    Sample size from the theory: sd(ρ) = √(5/32) = 0.395. (ρ − 1)² has variance μ₄ − (5/n)² with
    μ₄ = (μ₄(Y) + 3(n − 1)·25)/n³, μ₄(Y) = E(Y − 1)⁴ = 840 − 4·60 + 6·6 − 4 + 1 = 633 for
    Y = 2ζ²·[ζ > 0] (E Y^k = 2^k (2k − 1)!!/2): μ₄ = 2958/32768 = 0.0903, so
    sd((ρ − 1)²) = √(0.0903 − 0.0244) = 0.257.
    With T = 50000 and z = 4.06 (α = 1e-4 split over 2 checks), the half-widths are 0.0072 on
    E ρ = 1 (0.7%) and 0.0047 on 5/n = 0.156 (3%): a 10% error in the variance would be caught.
    """
    n, T = 32, 50000
    s = sample_networks([n], torch.ones(1, n, dtype=torch.float64), T, fan="out", stream=gen(31),
                        path="real")
    r = s.layer_ratio[:, 0, 0]
    level = stats.bonferroni(1 - ALPHA, 2)
    _, lo, hi = stats.mean_ci(r, level)
    assert lo <= 1.0 <= hi and hi - lo < 0.016
    _, lo2, hi2 = stats.mean_ci((r - 1.0) ** 2, level)
    assert lo2 <= 5.0 / n <= hi2 and hi2 - lo2 < 0.011


def test_fan_in_and_fan_out_scale_a_rectangular_layer_differently():
    """n0 = 16 → n1 = 64, gain 2: ‖h₁‖²/‖x‖² = v·Q with Q = χ²_K, K ~ Bin(64, ½), E Q = 32,
    Var Q = 64·5/4 = 80. Fan-in (v = 2/16): mean 4, variance 1.25; fan-out (v = 2/64): mean 1,
    variance 5/64. Same seed: the two samples differ exactly by the factor 4 (identity); separate
    seeds (41, 42): each mean and variance inside a normal CI at α = 1e-4 split over 4 checks.

    T = 30000: sd(v·Q) relative to its mean is √80/32 = 0.28, so the means are resolved to ±0.7%;
    the variance estimates (mean of (r − m)², relative sd ≈ √(μ₄/σ⁴ − 1)/√T ≈ 1.5/√T) to ±4%.
    """
    x = torch.ones(1, 16, dtype=torch.float64)
    T = 30000
    fi = sample_networks([64], x, T, fan="in", stream=gen(41), path="real").layer_ratio[:, 0, 0]
    fo = sample_networks([64], x, T, fan="out", stream=gen(42), path="real").layer_ratio[:, 0, 0]
    level = stats.bonferroni(1 - ALPHA, 4)
    for r, mean, var in ((fi, 4.0, 1.25), (fo, 1.0, 5.0 / 64)):
        _, lo, hi = stats.mean_ci(r, level)
        assert lo <= mean <= hi
        _, lo, hi = stats.mean_ci((r - mean) ** 2, level)
        assert lo <= var <= hi
    same_in = sample_networks([64], x, 50, fan="in", stream=gen(7), path="real").layer_ratio
    same_out = sample_networks([64], x, 50, fan="out", stream=gen(7), path="real").layer_ratio
    np.testing.assert_allclose(same_in, 4.0 * same_out, rtol=1e-13)


def test_float32_runs_and_records_float64_arrays():
    x = torch.ones(2, 64, dtype=torch.float32)
    s = sample_networks([64] * 3, x, 20, fan="in", stream=gen(0), dtype=torch.float32, path="real", grads=True)
    assert s.dtype == "float32" and s.sq_ratio.dtype == np.float64 and np.all(np.isfinite(s.grad_ratio))
    np.testing.assert_array_equal(s.sq_ratio[:, :, 0], s.sq_ratio[:, :, 1])   # identical inputs


# --- argument checks -------------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs, msg", [
    (dict(widths=[4, 0]), "widths[1] must be an integer ≥ 1; got 0"),
    (dict(widths=[True, 4]), "widths[0] must be an integer ≥ 1; got True"),
    (dict(widths=[4, 2.5]), "widths[1] must be an integer ≥ 1; got 2.5"),
    (dict(widths=[]), "widths must list ≥ 1 layer width (n_1, ..., n_L; n_0 comes from the inputs); got ()"),
    (dict(widths=4), "widths must be a sequence of layer widths n_1, ..., n_L; got 4"),
    (dict(trials=0), "trials must be an integer ≥ 1; got 0"),
    (dict(trials=False), "trials must be an integer ≥ 1; got False"),
    (dict(fan="x"), "fan must be one of 'in', 'out'; got 'x'"),
    (dict(weight_var=0.0), "weight_var must be in (0, inf); got 0.0"),
    (dict(weight_var=float("nan")), "weight_var must be a real number in (0, inf); got nan"),
    (dict(weight_var=[2.0, 2.0]), "weight_var must give one value per layer (1); got 2"),
    (dict(variances=[0.0]), "variances[0] must be in (0, inf); got 0.0"),
    (dict(stream=None), "stream must be a sim.core.Stream (explicit seeding; global RNG state is never used); "
                        "got None"),
    (dict(stream=torch.Generator()), "stream must be a sim.core.Stream (explicit seeding; global RNG state is never "
                                     "used); got <torch._C.Generator object at"),
    (dict(inputs=[[1.0] * 4]), "inputs must be a torch.Tensor of shape (N, n0); got list"),
    (dict(inputs=torch.ones(4)), "inputs must have shape (N, n0) with N, n0 ≥ 1; got (4,)"),
    (dict(inputs=torch.ones(0, 4)), "inputs must have shape (N, n0) with N, n0 ≥ 1; got (0, 4)"),
    (dict(inputs=torch.tensor([[1.0, float("nan"), 0.0, 0.0]])),
     "inputs must be finite real numbers; got a NaN, infinite or non-float entry"),
    (dict(inputs=torch.tensor([[1.0, 0, 0, 0], [0.0, 0, 0, 0]])),
     "inputs[1] must have a nonzero norm (ratios are relative to ‖x_i‖²); got the zero vector"),
    (dict(dtype=torch.float16), "dtype must be torch.float32 or torch.float64; got torch.float16"),
    (dict(memory_budget=0), "memory_budget must be in (0, inf); got 0"),
    (dict(grads=1), "grads must be True or False; got 1"),
    (dict(progress="bar"), "progress must be a callable progress(done, total) or None; got 'bar'"),
    (dict(chunks=[1]), "chunks[0] must be an integer in [0, 0]; got 1"),
])
def test_bad_arguments(kwargs, msg):
    args = dict(widths=[4], inputs=torch.ones(1, 4), trials=2, fan="in", stream=gen(0))
    args.update(kwargs)
    with pytest.raises(ValueError) as e:        # DomainError is a ValueError
        sample_networks(args.pop("widths"), args.pop("inputs"), args.pop("trials"), **args)
    assert isinstance(e.value, DomainError)
    assert str(e.value) == msg or (msg.endswith(" at") and str(e.value).startswith(msg))


def test_fan_has_no_default():
    with pytest.raises(TypeError, match="fan"):
        sample_networks([4], torch.ones(1, 4), 2, stream=gen(0))


@pytest.mark.parametrize("kwargs, msg", [
    (dict(correlation=1.0), "correlation must be in [0, 1); got 1.0"),
    (dict(correlation=-0.1), "correlation must be in [0, 1); got -0.1"),
    (dict(stream=None), "stream must be a sim.core.Stream (explicit seeding; global RNG state is never used); "
                        "got None"),
])
def test_sample_inputs_bad_arguments(kwargs, msg):
    args = dict(correlation=0.5, stream=gen(0))
    args.update(kwargs)
    with pytest.raises(DomainError) as e:
        sample_inputs(4, 2, **args)
    assert str(e.value) == msg


def test_shapes_and_reproducibility():
    x = sample_inputs(8, 3, correlation=0.5, stream=gen(1))
    a = sample_networks([16, 16], x, 5, fan="in", stream=gen(2), grads=True)
    b = sample_networks([16, 16], x, 5, fan="in", stream=gen(2), grads=True)
    assert a.path == "real"  # gradients need the real network
    assert a.sq_ratio.shape == (5, 2, 3) and a.grad_ratio.shape == (5, 2, 3)
    np.testing.assert_array_equal(a.sq_ratio, b.sq_ratio)
    np.testing.assert_array_equal(a.grad_ratio, b.grad_ratio)


def test_chunking_does_not_change_the_law_of_first_layer():
    # same stream, different memory budgets (one network per batch, or all): identical draws
    x = torch.ones(1, 4, dtype=torch.float64)
    a = sample_networks([4], x, 6, fan="out", stream=gen(5), path="real")
    b = sample_networks([4], x, 6, fan="out", stream=gen(5), memory_budget=2**40, path="real")
    c = sample_networks([4], x, 6, fan="out", stream=gen(5), memory_budget=1, path="real")
    np.testing.assert_array_equal(a.sq_ratio, b.sq_ratio)
    np.testing.assert_array_equal(a.sq_ratio, c.sq_ratio)


def test_manual_backprop_equals_autograd_engine_law():
    """8 networks of widths 7, 6, 4 on one input, rebuilt from chunk 0's generator: every
    weight-gradient ratio equals autograd's (a dead output, δ_L = 0, is recorded as 0); most
    networks are alive, so the live case is checked."""
    widths, T = [5, 7, 6, 4], 8
    x = torch.randn(1, 5, generator=gen(7).generator(), dtype=torch.float64)
    s = sample_networks(widths[1:], x, T, fan="in", stream=gen(11), grads=True)
    Ws_all, e_all = _rebuild(widths, T, "in", 2.0, 11, torch.float64)
    live = 0
    for t in range(T):
        Ws = [W[t].clone().requires_grad_(True) for W in Ws_all]
        e = e_all[t, 0]
        h = x[0]
        for W in Ws:
            h = torch.relu(W @ h)
        loss = (e * h).sum()
        loss.backward()
        z_last = Ws[2] @ torch.relu(Ws[1] @ torch.relu(Ws[0] @ x[0]))
        dL = ((e * (z_last > 0)) ** 2).sum()
        live += bool(dL > 0)
        for l, W in enumerate(Ws):
            expect = float((W.grad**2).sum() / ((x[0] ** 2).sum() * dL)) if dL > 0 else 0.0
            assert s.grad_ratio[t, l, 0] == pytest.approx(expect, rel=1e-12)
    assert live >= 4


def test_fan_conventions_differ_for_rectangular_layers():
    x = torch.ones(1, 10, dtype=torch.float64)
    a = sample_networks([40], x, 4000, fan="in", stream=gen(3), path="real")
    b = sample_networks([40], x, 4000, fan="out", stream=gen(3), path="real")
    # fan-in preserves ‖h‖²/n: E‖h_1‖²/‖x‖² = 40/10 = 4; fan-out preserves ‖h‖²: 1
    assert a.layer_ratio.mean() == pytest.approx(4.0 * b.layer_ratio.mean(), rel=1e-12)


def test_one_layer_mean_and_variance():
    """E ρ = 1 and E(ρ − 1)² = 5/n at n = 32, fan-out He. Seed 2024.

    Sample size: sd of ρ is √(5/32) ≈ 0.40 and sd of (ρ − 1)² is about 0.25, so T = 40000 resolves
    the mean to ±0.008 and 5/n = 0.156 to ±0.005 at z = 3.9 (α = 1e-4): a 3% relative resolution.
    """
    n = 32
    s = sample_networks([n], torch.ones(1, n, dtype=torch.float64), 40000, fan="out", stream=gen(2024),
                        path="real")
    r = s.layer_ratio[:, 0, 0]
    level = stats.bonferroni(1 - ALPHA, 2)
    m, lo, hi = stats.mean_ci(r, level)
    assert lo <= 1.0 <= hi
    m2, lo2, hi2 = stats.mean_ci((r - 1.0) ** 2, level)
    assert lo2 <= 5.0 / n <= hi2


def test_layer_ratio_matches_exact_cdf_ks():
    """KS test of simulated ratios (n = 8, depth 1) against the exact CDF of ρ. Seed 99."""
    n = 8
    s = sample_networks([n], torch.ones(1, n, dtype=torch.float64), 20000, fan="out", stream=gen(99),
                        path="real")
    # the atom at 0 (2^-8) makes the law not continuous: test on ρ > 0 against the conditional CDF
    r = s.layer_ratio[:, 0, 0]
    r = r[r > 0]
    p0 = rho.p_zero(n)
    stat, p = stats.ks_test(r, lambda v: (rho.cdf(n, v) - p0) / (1 - p0))
    assert p >= ALPHA


def test_float32_path_samples_the_same_law():
    """Two-sample KS between float32 and float64 products over 6 layers (n = 64). Seeds 5, 6."""
    n, L = 64, 6
    a = sample_networks([n] * L, torch.ones(1, n), 6000, fan="out", stream=gen(5), dtype=torch.float32,
                        path="real")
    b = sample_networks([n] * L, torch.ones(1, n, dtype=torch.float64), 6000, fan="out", stream=gen(6),
                        path="real")
    p = st.ks_2samp(a.sq_ratio[:, -1, 0], b.sq_ratio[:, -1, 0]).pvalue
    assert p >= ALPHA


def test_correlated_inputs_are_unit_norm():
    x = sample_inputs(50, 7, correlation=0.9, stream=gen(0))
    np.testing.assert_allclose(x.norm(dim=1).numpy(), 1.0, rtol=1e-12)
    c = (x @ x.T).numpy()
    off = c[~np.eye(7, dtype=bool)]
    assert off.min() > 0.5  # strongly correlated as asked


@pytest.mark.parametrize("kwargs, msg", [
    (dict(widths=[4, 0]), "widths[1] must be an integer ≥ 1; got 0"),
    (dict(trials=0), "trials must be an integer ≥ 1; got 0"),
    (dict(fan="x"), "fan must be one of 'in', 'out'; got 'x'"),
    (dict(widths=[4, True]), "widths[1] must be an integer ≥ 1; got True"),
])
def test_bad_arguments_engine_law(kwargs, msg):
    args = dict(widths=[4], inputs=torch.ones(1, 4), trials=2, fan="in", stream=gen(0))
    args.update(kwargs)
    with pytest.raises(DomainError) as e:
        sample_networks(args.pop("widths"), args.pop("inputs"), args.pop("trials"), **args)
    assert str(e.value) == msg


def test_auto_path_choice():
    from initbounds.sim.engine import choose_path
    assert choose_path([256] * 10, 1, grads=False, input_dim=256) == "norm"
    assert choose_path([1024] * 50, 16, grads=False, input_dim=1024) == "gram"
    assert choose_path([64] * 100, 2000, grads=False, input_dim=64) == "real"
    assert choose_path([1024] * 50, 16, grads=True, input_dim=1024) == "real"


def test_norm_sampler_matches_real_network():
    """Two-sample KS on ‖h_L‖²/‖x‖² and on a middle layer, rectangular widths, fan-in (seeds 1, 2).

    T = 8000 each: the KS test then detects a shift of the law by ~0.03 sd at α = 1e-4.
    """
    widths = [30, 7, 20, 16]
    x = torch.randn(1, 12, generator=gen(0).generator(), dtype=torch.float64)
    a = sample_networks(widths, x, 8000, fan="in", stream=gen(1), path="norm")
    b = sample_networks(widths, x, 8000, fan="in", stream=gen(2), path="real")
    assert a.path == "norm" and b.path == "real"
    for l in (1, 3):
        assert st.ks_2samp(a.sq_ratio[:, l, 0], b.sq_ratio[:, l, 0]).pvalue >= ALPHA / 2


def _cosines(s, i, j):
    g = s.last_gram
    return g[:, i, j] / np.sqrt(g[:, i, i] * g[:, j, j])


def test_gram_sampler_matches_real_network_on_norms_and_cosines():
    """Two-sample KS on last-layer norms and pairwise cosines, N = 4 correlated inputs.

    Seeds 3 and 4; T = 6000 each (KS then resolves a shift of ~0.035 sd); α = 1e-4 split over
    the 4 norms and 6 cosines (Bonferroni).
    """
    widths = [64, 48, 64]
    x = sample_inputs(40, 4, correlation=0.7, stream=gen(0))
    a = sample_networks(widths, x, 6000, fan="out", stream=gen(3), path="gram", last_gram=True)
    b = sample_networks(widths, x, 6000, fan="out", stream=gen(4), path="real", last_gram=True)
    np.testing.assert_allclose(np.diagonal(a.last_gram, axis1=1, axis2=2), a.sq_ratio[:, -1], rtol=1e-10)
    for i in range(4):
        assert st.ks_2samp(a.sq_ratio[:, -1, i], b.sq_ratio[:, -1, i]).pvalue >= ALPHA / 10
    for i in range(4):
        for j in range(i + 1, 4):
            assert st.ks_2samp(_cosines(a, i, j), _cosines(b, i, j)).pvalue >= ALPHA / 10


def test_gram_handles_rank_deficiency():
    # two identical inputs and a width-2 bottleneck: the Gram matrix is singular, QR still works
    x = torch.ones(2, 5, dtype=torch.float64)
    s = sample_networks([2, 6, 3], x, 200, fan="in", stream=gen(8), path="gram")
    np.testing.assert_allclose(s.sq_ratio[:, :, 0], s.sq_ratio[:, :, 1], rtol=1e-12)
    assert np.all(np.isfinite(s.sq_ratio))


def test_reduced_paths_refuse_what_they_cannot_do():
    x = torch.ones(2, 4, dtype=torch.float64)
    with pytest.raises(DomainError, match="grads=True needs path='real'"):
        sample_networks([4], x, 2, fan="in", stream=gen(0), grads=True, path="gram")
    with pytest.raises(DomainError, match="path='norm' samples one input; got 2 inputs"):
        sample_networks([4], x, 2, fan="in", stream=gen(0), path="norm")


def test_wide_layers_stay_within_the_memory_budget():
    """Width 8192 (a 256 MiB float32 weight matrix per network): chunks of one network."""
    x = torch.ones(1, 8192)
    s = sample_networks([8192], x, 3, fan="in", stream=gen(0), dtype=torch.float32,
                        path="real", memory_budget=2**29)
    assert s.chunk == 1
    assert s.sq_ratio.shape == (3, 1, 1) and np.all(np.isfinite(s.sq_ratio))
    # E ratio = 1 with sd √(5/8192) ≈ 0.025: three draws lie within ±0.2 with overwhelming probability
    assert np.all(np.abs(s.sq_ratio - 1.0) < 0.2)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_a_chunk_gives_the_same_bits_alone_or_among_others(dtype):
    """Bit for bit (not only in law): chunk 3 of a Gram run on 12 inputs, run alone, in a block of
    two, or among all chunks, with or without a progress callback. Batching chunks together changed
    the last bits (batched BLAS/QR kernels depend on the batch size), so batches are single chunks."""
    x = torch.randn(12, 20, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    kw = dict(fan="out", stream=gen(11), dtype=dtype, path="gram")
    whole = sample_networks([40, 40], x, 2000, progress=lambda d, t: None, **kw)
    c = whole.chunk
    assert whole.chunks[-1] >= 4
    alone = sample_networks([40, 40], x, 2000, chunks=[3], **kw)
    pair = sample_networks([40, 40], x, 2000, chunks=[4, 3], memory_budget=2**40, **kw)
    np.testing.assert_array_equal(alone.sq_ratio, whole.sq_ratio[3 * c:4 * c])
    np.testing.assert_array_equal(pair.sq_ratio, whole.sq_ratio[3 * c:5 * c])
