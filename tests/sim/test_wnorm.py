"""Weight-normalized networks in the core and the sampler (docs/theory.md §12): the option equals
torch's own weight_norm parametrization, leaves the draws of every other design untouched, and
the sampled ratios follow bounds.wnorm (statistical decisions at the suite's α, written seeds)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.nn.utils.parametrizations import weight_norm

from initbounds.bounds import wnorm
from initbounds.bounds.errors import DomainError
from initbounds.sim import stats
from initbounds.sim.core import Batch, NetworkSpec, Stream, draw_params
from initbounds.sim.wnorm import preserving_gains, sample_wnorm_ratios

ALPHA = 1e-4  # per-test error level shared by the Monte Carlo tests of the suite


def _pair(gains):
    a = draw_params(NetworkSpec(5, (7, 3), fan="in", weight_norm=gains), Batch.single(Stream(4, "wn"), 0, size=3))
    b = draw_params(NetworkSpec(5, (7, 3), fan="in"), Batch.single(Stream(4, "wn"), 0, size=3))
    return a, b


def test_rows_have_norm_g_and_the_directions_of_the_plain_draw():
    a, b = _pair((1.3, 0.7))
    for (Wa, _), (Wb, _), g in zip(a, b, (1.3, 0.7)):
        torch.testing.assert_close(Wa.norm(dim=2), torch.full(Wa.shape[:2], g, dtype=torch.float64), rtol=1e-14,
                                   atol=0)
        torch.testing.assert_close(Wa, g * Wb / Wb.norm(dim=2, keepdim=True), rtol=1e-14, atol=0)


def test_equals_torch_weight_norm_with_g_set():
    """torch.nn.utils.parametrizations.weight_norm on an nn.Linear holding the plain draw, with
    its magnitude g set to the gain for every row, gives our weights (to rounding)."""
    a, b = _pair(0.9)
    lin = torch.nn.Linear(5, 7, bias=False).double()
    with torch.no_grad():
        lin.weight.copy_(b[0].weight[1])
    lin = weight_norm(lin, name="weight", dim=0)
    with torch.no_grad():
        torch.testing.assert_close(lin.weight, b[0].weight[1])          # at creation g = ‖v‖: unchanged
        lin.parametrizations.weight.original0.fill_(0.9)
        torch.testing.assert_close(lin.weight, a[0].weight[1], rtol=1e-15, atol=1e-15)


def test_option_off_draws_the_same_bits_and_validates_gains():
    spec = NetworkSpec(4, (6, 6), fan="out")
    assert spec.weight_norm is None
    p1 = draw_params(spec, Batch.single(Stream(0, "same"), 0, size=2))
    p2 = draw_params(NetworkSpec(4, (6, 6), fan="out", weight_norm=None), Batch.single(Stream(0, "same"), 0, size=2))
    assert all(torch.equal(x.weight, y.weight) for x, y in zip(p1, p2))
    with pytest.raises(DomainError, match=r"weight_norm must be in \(0, inf\); got 0.0"):
        NetworkSpec(4, (6, 6), fan="in", weight_norm=0.0)
    with pytest.raises(DomainError, match=r"weight_norm must give one value per layer \(2\)"):
        NetworkSpec(4, (6, 6), fan="in", weight_norm=(1.0,))


def test_sampled_one_layer_law_mean_variance_and_cdf():
    """Seed 12, 20000 networks: E X and Var X inside their intervals, and the KS distance of X
    given X > 0 to the law's CDF below its critical value plus the CDF's stated tolerance
    (three decisions, Bonferroni at ALPHA)."""
    m, n = 9, 6
    x = sample_wnorm_ratios([n], torch.ones(1, m, dtype=torch.float64), 20000, stream=Stream(12, "wn-law"))[:, 0, 0]
    level = stats.bonferroni(1 - ALPHA, 3)
    mu, lo, hi = stats.mean_ci(x, level, lo=0.0, hi=2.0 * m)
    assert lo <= wnorm.mean_ratio(m, n) <= hi
    v, lo, hi = stats.mean_ci((x - 1.0) ** 2, level, lo=0.0)
    assert lo <= wnorm.var_ratio(m, n) <= hi
    alive = x[x > 0]
    p0 = 2.0 ** -n
    d, _ = stats.ks_test(alive, lambda r: (wnorm.cdf(m, n, r) - p0) / (1 - p0))
    tol = wnorm.law_cdf(m, n, np.quantile(alive, np.linspace(0, 1, 21))).tolerance
    assert d <= stats.ks_critical(len(alive), level) + tol


def test_gain_one_halves_and_preserving_gain_keeps_the_norm_over_depth():
    """Seed 5, 8000 networks of depth 3: E‖h_3‖²/‖x‖² = 1/8 at g = 1 (equal widths) and 1 at the
    preserving gains of unequal widths (two decisions)."""
    level = stats.bonferroni(1 - ALPHA, 2)
    x = torch.ones(1, 10, dtype=torch.float64)
    r1 = sample_wnorm_ratios([10, 10, 10], x, 8000, gains=(1.0,) * 3, stream=Stream(5, "half"))[:, -1, 0]
    mu, lo, hi = stats.mean_ci(r1, level, lo=0.0)
    assert lo <= 0.125 <= hi
    dims = (10, 14, 7, 12)
    assert preserving_gains(dims) == tuple(math.sqrt(2 * a / b) for a, b in zip(dims[:-1], dims[1:]))
    r2 = sample_wnorm_ratios(list(dims[1:]), x, 8000, stream=Stream(5, "keep"))[:, -1, 0]
    mu, lo, hi = stats.mean_ci(r2, level, lo=0.0)
    assert lo <= 1.0 <= hi


def test_sampler_is_reproducible_and_chunk_independent():
    x = torch.ones(2, 6, dtype=torch.float64)
    a = sample_wnorm_ratios([5, 4], x, 30, stream=Stream(1, "rep"))
    b = sample_wnorm_ratios([5, 4], x, 30, stream=Stream(1, "rep"))
    assert np.array_equal(a, b) and a.shape == (30, 2, 2)


def test_p_stay_of_real_weight_normalized_networks():
    """Seed 21, 6000 networks of width 24 and depth 4: the frequency of staying in [0.5, 1.5] at
    every layer against p_stay from the band recursion with the weight-normalized law
    (Clopper–Pearson at ALPHA, widened by the stated tolerance)."""
    from initbounds.bounds.band import band_probability

    n, L, lo, hi = 24, 4, 0.5, 1.5
    exact = band_probability(n, L, lo, hi, law=wnorm.wnorm_law(n, n))
    r = sample_wnorm_ratios([n] * L, torch.ones(1, n, dtype=torch.float64), 6000, stream=Stream(21, "stay"))[:, :, 0]
    k = int(((r >= lo) & (r <= hi)).all(axis=1).sum())
    a, b = stats.clopper_pearson(k, len(r), 1 - ALPHA)
    assert a - exact.tolerance <= exact.p_in <= b + exact.tolerance
