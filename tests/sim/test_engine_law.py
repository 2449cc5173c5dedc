"""The real-network simulator samples the law of THEORY.md §2 (written seeds, statistical decisions)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats as st

from bounds import rho
from bounds.errors import DomainError
from sim import stats
from sim.engine import sample_inputs, sample_networks

ALPHA = 1e-4  # per-test error level shared by the Monte Carlo tests of this suite


def gen(seed):
    return torch.Generator().manual_seed(seed)


def test_shapes_and_reproducibility():
    x = sample_inputs(8, 3, correlation=0.5, generator=gen(1))
    a = sample_networks([8, 16, 16], x, 5, fan="in", generator=gen(2), grads=True)
    b = sample_networks([8, 16, 16], x, 5, fan="in", generator=gen(2), grads=True)
    assert a.path == "real"  # gradients need the real network
    assert a.sq_ratio.shape == (5, 2, 3) and a.grad_ratio.shape == (5, 2, 3)
    np.testing.assert_array_equal(a.sq_ratio, b.sq_ratio)
    np.testing.assert_array_equal(a.grad_ratio, b.grad_ratio)


def test_chunking_does_not_change_the_law_of_first_layer():
    # same seed, different chunk sizes: identical draws when the chunk holds every network
    x = torch.ones(1, 4, dtype=torch.float64)
    a = sample_networks([4, 4], x, 6, fan="out", generator=gen(5), path="real")
    b = sample_networks([4, 4], x, 6, fan="out", generator=gen(5), memory_budget=2**40, path="real")
    np.testing.assert_array_equal(a.sq_ratio, b.sq_ratio)


def test_manual_backprop_equals_autograd():
    g = gen(7)
    widths = [5, 7, 6, 4]
    x = torch.randn(1, 5, generator=g, dtype=torch.float64)
    s = sample_networks(widths, x, 1, fan="in", generator=gen(11), grads=True)
    # rebuild the same network from the same generator sequence
    g2 = gen(11)
    Ws = []
    for l in range(3):
        W = torch.randn((1, widths[l + 1], widths[l]), generator=g2, dtype=torch.float64)
        Ws.append((W * math.sqrt(2.0 / widths[l]))[0].requires_grad_(True))
    e = torch.randn((1, widths[-1], 1), generator=g2, dtype=torch.float64)[0, :, 0]
    h = x[0]
    for W in Ws:
        h = torch.relu(W @ h)
    loss = (e * h).sum()
    loss.backward()
    z_last = Ws[2] @ torch.relu(Ws[1] @ torch.relu(Ws[0] @ x[0]))
    dL = ((e * (z_last > 0)) ** 2).sum()
    for l, W in enumerate(Ws):
        expect = (W.grad**2).sum() / ((x[0] ** 2).sum() * dL)
        assert s.grad_ratio[0, l, 0] == pytest.approx(float(expect), rel=1e-12)


def test_fan_conventions_differ_for_rectangular_layers():
    x = torch.ones(1, 10, dtype=torch.float64)
    a = sample_networks([10, 40], x, 4000, fan="in", generator=gen(3), path="real")
    b = sample_networks([10, 40], x, 4000, fan="out", generator=gen(3), path="real")
    # fan-in preserves ‖h‖²/n: E‖h_1‖²/‖x‖² = 40/10 = 4; fan-out preserves ‖h‖²: 1
    assert a.layer_ratio.mean() == pytest.approx(4.0 * b.layer_ratio.mean(), rel=1e-12)


def test_one_layer_mean_and_variance():
    """E ρ = 1 and E(ρ − 1)² = 5/n at n = 32, fan-out He. Seed 2024.

    Sample size: sd of ρ is √(5/32) ≈ 0.40 and sd of (ρ − 1)² is about 0.25, so T = 40000 resolves
    the mean to ±0.008 and 5/n = 0.156 to ±0.005 at z = 3.9 (α = 1e-4): a 3% relative resolution.
    """
    n = 32
    s = sample_networks([n, n], torch.ones(1, n, dtype=torch.float64), 40000, fan="out", generator=gen(2024),
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
    s = sample_networks([n, n], torch.ones(1, n, dtype=torch.float64), 20000, fan="out", generator=gen(99),
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
    a = sample_networks([n] * (L + 1), torch.ones(1, n), 6000, fan="out", generator=gen(5), dtype=torch.float32,
                        path="real")
    b = sample_networks([n] * (L + 1), torch.ones(1, n, dtype=torch.float64), 6000, fan="out", generator=gen(6),
                        path="real")
    p = st.ks_2samp(a.sq_ratio[:, -1, 0], b.sq_ratio[:, -1, 0]).pvalue
    assert p >= ALPHA


def test_correlated_inputs_are_unit_norm():
    x = sample_inputs(50, 7, correlation=0.9, generator=gen(0))
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
def test_bad_arguments(kwargs, msg):
    args = dict(widths=[4, 4], inputs=torch.ones(1, 4), trials=2, fan="in", generator=gen(0))
    args.update(kwargs)
    with pytest.raises(DomainError) as e:
        sample_networks(args.pop("widths"), args.pop("inputs"), args.pop("trials"), **args)
    assert str(e.value) == msg


# --- the exact reduced samplers against the real network (issue 6) ------------------------------


def test_auto_path_choice():
    from sim.engine import choose_path
    assert choose_path([256] * 11, 1, grads=False) == "norm"
    assert choose_path([1024] * 51, 16, grads=False) == "gram"
    assert choose_path([64] * 101, 2000, grads=False) == "real"
    assert choose_path([1024] * 51, 16, grads=True) == "real"


def test_norm_sampler_matches_real_network():
    """Two-sample KS on ‖h_L‖²/‖x‖² and on a middle layer, rectangular widths, fan-in (seeds 1, 2).

    T = 8000 each: the KS test then detects a shift of the law by ~0.03 sd at α = 1e-4.
    """
    widths = [12, 30, 7, 20, 16]
    x = torch.randn(1, 12, generator=gen(0), dtype=torch.float64)
    a = sample_networks(widths, x, 8000, fan="in", generator=gen(1), path="norm")
    b = sample_networks(widths, x, 8000, fan="in", generator=gen(2), path="real")
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
    widths = [40, 64, 48, 64]
    x = sample_inputs(40, 4, correlation=0.7, generator=gen(0))
    a = sample_networks(widths, x, 6000, fan="out", generator=gen(3), path="gram", last_gram=True)
    b = sample_networks(widths, x, 6000, fan="out", generator=gen(4), path="real", last_gram=True)
    np.testing.assert_allclose(np.diagonal(a.last_gram, axis1=1, axis2=2), a.sq_ratio[:, -1], rtol=1e-10)
    for i in range(4):
        assert st.ks_2samp(a.sq_ratio[:, -1, i], b.sq_ratio[:, -1, i]).pvalue >= ALPHA / 10
    for i in range(4):
        for j in range(i + 1, 4):
            assert st.ks_2samp(_cosines(a, i, j), _cosines(b, i, j)).pvalue >= ALPHA / 10


def test_gram_handles_rank_deficiency():
    # two identical inputs and a width-2 bottleneck: the Gram matrix is singular, QR still works
    x = torch.ones(2, 5, dtype=torch.float64)
    s = sample_networks([5, 2, 6, 3], x, 200, fan="in", generator=gen(8), path="gram")
    np.testing.assert_allclose(s.sq_ratio[:, :, 0], s.sq_ratio[:, :, 1], rtol=1e-12)
    assert np.all(np.isfinite(s.sq_ratio))


def test_reduced_paths_refuse_what_they_cannot_do():
    x = torch.ones(2, 4, dtype=torch.float64)
    with pytest.raises(DomainError, match="grads=True needs path='real'"):
        sample_networks([4, 4], x, 2, fan="in", generator=gen(0), grads=True, path="gram")
    with pytest.raises(DomainError, match="path='norm' samples one input; got 2 inputs"):
        sample_networks([4, 4], x, 2, fan="in", generator=gen(0), path="norm")


def test_wide_layers_stay_within_the_memory_budget():
    """Width 8192 (a 256 MiB float32 weight matrix per network): chunks of one network."""
    x = torch.ones(1, 8192)
    s = sample_networks([8192, 8192], x, 3, fan="in", generator=gen(0), dtype=torch.float32,
                        path="real", memory_budget=2**29)
    assert s.sq_ratio.shape == (3, 1, 1) and np.all(np.isfinite(s.sq_ratio))
    # E ratio = 1 with sd √(5/8192) ≈ 0.025: three draws lie within ±0.2 with overwhelming probability
    assert np.all(np.abs(s.sq_ratio - 1.0) < 0.2)
