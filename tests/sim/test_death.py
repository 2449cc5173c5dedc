"""Tests."""
from __future__ import annotations
import pytest
import torch
from torch import nn
from initbounds.bounds.death import liveness
from initbounds.sim.death import make_mlp, sample_alive_on_set
from initbounds.sim.death import living_fraction, sign_flip_


@pytest.mark.parametrize("mode", ["layer", "unit", "greedy"])
def test_guarantee_and_magnitudes(mode):
    """40 deep narrow nets (seed 5): every trial keeps ≥ 2^-k of the data; |W| never changes."""
    g = torch.Generator().manual_seed(5)
    data = torch.randn(300, 6, generator=g, dtype=torch.float64)
    depth = 10
    for _ in range(40):
        model = make_mlp(6, [2] * depth, 3, generator=g)
        mags = [p.detach().abs().clone() for p in model.parameters()]
        rep = sign_flip_(model, data, mode=mode)
        assert all(torch.equal(a, p.detach().abs()) for a, p in zip(mags, model.parameters()))
        assert all(f >= gu for f, gu in zip(rep.living_fraction, rep.guarantee))
        assert rep.living_fraction == living_fraction(model, data)


def test_documented_example_runs_on_a_user_model():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(128, 64, generator=g)
    model = nn.Sequential(nn.Linear(64, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 10))
    rep = sign_flip_(model, x, mode="unit")
    assert len(rep.living_fraction) == 2 and rep.living_fraction[-1] >= 0.25


def test_single_point_survival_matches_exact_formula():
    """Batched real nets (seed 9), widths (2, 3, 2): Clopper–Pearson at α = 1e-4 covers Π(1 − 2^-n)."""
    from initbounds.sim import stats

    w = (2, 3, 2)
    alive = sample_alive_on_set(w, torch.randn(1, 4, generator=torch.Generator().manual_seed(1),
                                                dtype=torch.float64), 40000,
                                generator=torch.Generator().manual_seed(9))[:, 0]
    a, b = stats.clopper_pearson(int(alive.sum()), len(alive), 1 - 1e-4)
    assert a <= liveness(w).p_alive_point <= b


def test_bad_model():
    from initbounds.bounds.errors import DomainError
    with pytest.raises(DomainError, match="at least one Linear followed by ReLU"):
        sign_flip_(nn.Sequential(nn.Linear(3, 3)), torch.ones(2, 3))


def test_make_mlp_is_fully_determined_by_its_generator():
    """Regression (issue 5 review): the output layer used torch's default init from the global RNG."""
    import torch

    torch.manual_seed(1)
    a = make_mlp(4, [3, 3], 2, generator=torch.Generator().manual_seed(7))
    torch.manual_seed(2)
    b = make_mlp(4, [3, 3], 2, generator=torch.Generator().manual_seed(7))
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert all(p.dtype == torch.float64 for p in a.parameters())
    assert not a[-1].bias.detach().any()
