"""Tests."""
from __future__ import annotations
import pytest
import torch
from torch import nn
from initbounds.bounds.death import liveness
from initbounds.sim.core import Stream
from initbounds.sim.death import make_mlp, sample_alive_on_set
from initbounds.sim.death import living_fraction, sign_flip_


@pytest.mark.parametrize("mode", ["layer", "unit", "greedy"])
def test_guarantee_and_magnitudes(mode):
    """40 deep narrow nets (seed 5): every trial keeps ≥ 2^-k of the data; |W| never changes."""
    s = Stream(5, "tests/sim/test_death/guarantee")
    data = torch.randn(300, 6, generator=s.child("data").generator(), dtype=torch.float64)
    depth = 10
    for k in range(40):
        model = make_mlp(6, [2] * depth, 3, stream=s, index=k)
        mags = [p.detach().abs().clone() for p in model.parameters()]
        rep = sign_flip_(model, data, mode=mode)
        assert all(torch.equal(a, p.detach().abs()) for a, p in zip(mags, model.parameters()))
        assert all(f >= gu for f, gu in zip(rep.living_fraction, rep.guarantee))
        assert rep.living_fraction == living_fraction(model, data)


def test_documented_example_runs_on_a_user_model():
    x = torch.randn(128, 64, generator=Stream(0, "tests/sim/test_death/example").generator())
    model = nn.Sequential(nn.Linear(64, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 10))
    rep = sign_flip_(model, x, mode="unit")
    assert len(rep.living_fraction) == 2 and rep.living_fraction[-1] >= 0.25


def test_single_point_survival_matches_exact_formula():
    """Batched real nets (seed 9), widths (2, 3, 2): Clopper–Pearson at α = 1e-4 covers Π(1 − 2^-n)."""
    from initbounds.sim import stats

    w = (2, 3, 2)
    s = Stream(9, "tests/sim/test_death/point")
    alive = sample_alive_on_set(w, torch.randn(1, 4, generator=s.child("x").generator(), dtype=torch.float64), 40000,
                                stream=s)[:, 0]
    a, b = stats.clopper_pearson(int(alive.sum()), len(alive), 1 - 1e-4)
    assert a <= liveness(w).p_alive_point <= b


def test_bad_model():
    from initbounds.bounds.errors import DomainError
    with pytest.raises(DomainError, match="at least one Linear followed by ReLU"):
        sign_flip_(nn.Sequential(nn.Linear(3, 3)), torch.ones(2, 3))


def test_make_mlp_is_fully_determined_by_its_generator():
    """Regression (issue 5 review): the output layer used torch's default init from the global RNG."""
    import torch

    s = Stream(7, "tests/sim/test_death/make_mlp")
    torch.manual_seed(1)
    a = make_mlp(4, [3, 3], 2, stream=s)
    torch.manual_seed(2)
    b = make_mlp(4, [3, 3], 2, stream=s)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert all(p.dtype == torch.float64 for p in a.parameters())
    assert not a[-1].bias.detach().any()
    # network `index` of the stream: chunk `index`'s generator, layer by layer N(0, 2/fan-in)
    c = make_mlp(4, [3, 3], 2, stream=s, index=5)
    g = s.generator(5)
    for lin, (n_in, n_out) in zip(c[::2], [(4, 3), (3, 3), (3, 2)]):
        w = torch.empty(1, n_out, n_in, dtype=torch.float64).normal_(0.0, (2.0 / n_in) ** 0.5, generator=g)
        assert torch.equal(lin.weight.detach(), w[0])
    assert not torch.equal(a[0].weight, c[0].weight)


def test_direction_spread_shapes_and_nan_for_dead_sets():
    """Width 2 nets kill most points by depth 6: NaN where fewer than 2 points live; D ∈ [0, 1]."""
    import numpy as np

    from initbounds.sim.death import direction_spread

    d = direction_spread(2, [1, 6], 16, 200, stream=Stream(3, "tests/sim/test_death/spread"))
    assert d.shape == (200, 2)
    ok = d[~np.isnan(d)]
    assert np.all((ok >= -1e-12) & (ok <= 1 + 1e-12)) and np.isnan(d[:, 1]).any()


class _Custom(nn.Module):
    """The same layers as a Sequential, in a custom module with functional ReLUs (issue 15: raw TypeError before)."""

    def __init__(self, seq):
        super().__init__()
        self.layers = nn.ModuleList(m for m in seq if isinstance(m, nn.Linear))

    def forward(self, x):
        for lin in self.layers[:-1]:
            x = torch.relu(lin(x))
        return self.layers[-1](x)


@pytest.mark.parametrize("mode", ["layer", "unit", "greedy"])
def test_sign_flip_on_a_custom_module_matches_the_sequential_path(mode):
    """Hooks path (seed 12): the same flips and living fractions as the Sequential walk of the same weights."""
    import copy

    s = Stream(12, "tests/sim/test_death/custom")
    data = torch.randn(200, 6, generator=s.child("data").generator(), dtype=torch.float64)
    for k in range(5):
        seq = make_mlp(6, [3] * 6, 2, stream=s, index=k)
        custom = _Custom(copy.deepcopy(seq))
        a = sign_flip_(seq, data, mode=mode)
        b = sign_flip_(custom, data.float(), mode=mode)      # float32 data for a float64 model: cast, no dtype error
        assert a.living_fraction == b.living_fraction and a.flipped == b.flipped
        assert all(torch.equal(p, q) for p, q in zip(seq.parameters(), custom.parameters()))


def test_sign_flip_clear_errors():
    from initbounds.bounds.errors import DomainError

    with pytest.raises(DomainError, match="does not fit the model"):
        sign_flip_(_Custom(nn.Sequential(nn.Linear(3, 3), nn.ReLU(), nn.Linear(3, 2))), torch.ones(2, 5))
    with pytest.raises(DomainError, match="found none"):
        sign_flip_(nn.Sequential(nn.Linear(3, 3), nn.GELU(), nn.Linear(3, 2)), torch.randn(4, 3))
    with pytest.raises(DomainError, match="torch.nn.Module"):
        sign_flip_(42, torch.ones(2, 3))
    with pytest.raises(DomainError, match="float matrix"):
        sign_flip_(nn.Sequential(nn.Linear(3, 3), nn.ReLU()), torch.ones(2, 3, dtype=torch.int64))
