"""Torch initializers in the style of ``torch.nn.init`` (in place, explicit generator).

>>> import torch
>>> from torch import nn
>>> from sim.init import fractional_moment_normal_, init_sequential_
>>> w = torch.empty(64, 64)
>>> _ = fractional_moment_normal_(w, s=1.0, activation="relu", fan="out", generator=torch.Generator().manual_seed(0))
>>> model = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU())
>>> _ = init_sequential_(model, s=1.0, activation="relu", fan="out", generator=torch.Generator().manual_seed(0))
"""
from __future__ import annotations

import math

import torch
from torch import nn

from ..bounds.errors import check_choice
from ..bounds.moments import activation as make_activation
from ..bounds.moments import sigma2

__all__ = ["fractional_moment_std", "fractional_moment_normal_", "init_sequential_"]


def fractional_moment_std(shape, *, s: float, activation: str = "relu", fan: str, slope=None,
                          lower=None, upper=None) -> float:
    """σ_s for a weight of ``shape`` = (d_out, d_in) (GH21, exact; docs/theory.md §4).

    fan="out": the norm-preserving form with d = d_out (preserves E‖h‖^s);
    fan="in": the per-unit form σ_s²(d_out)·d_out/d_in (preserves E M^{s/2}, M = ‖h‖²/n).
    """
    fan = check_choice("fan", fan, ("in", "out"))
    d_out, d_in = int(shape[0]), int(shape[1])
    act = make_activation(activation, slope=slope, lower=lower, upper=upper)
    v = sigma2(act, d_out, s, fan_ratio=(d_out / d_in) if fan == "in" else 1.0)
    return math.sqrt(v)


@torch.no_grad()
def fractional_moment_normal_(tensor: torch.Tensor, *, s: float, activation: str = "relu", fan: str,
                              generator: torch.Generator | None = None, slope=None, lower=None,
                              upper=None) -> torch.Tensor:
    """Fill a (d_out, d_in) weight in place with N(0, σ_s²) that preserves the s-th moment.

    Like ``torch.nn.init.kaiming_normal_``; s = 2 gives He (ReLU) / LeCun (linear). The fan
    convention is explicit (no default). ``generator`` makes the draw reproducible.
    """
    if tensor.ndim != 2:
        from ..bounds.errors import DomainError
        raise DomainError(f"tensor must be a 2-D weight (d_out, d_in); got shape {tuple(tensor.shape)}")
    std = fractional_moment_std(tensor.shape, s=s, activation=activation, fan=fan, slope=slope,
                                lower=lower, upper=upper)
    return tensor.normal_(0.0, std, generator=generator)


@torch.no_grad()
def init_sequential_(model: nn.Sequential, *, s: float, activation: str = "relu", fan: str,
                     generator: torch.Generator | None = None, slope=None, lower=None, upper=None):
    """Initialize every Linear layer of ``model`` with :func:`fractional_moment_normal_` (biases 0)."""
    for m in model.modules():
        if isinstance(m, nn.Linear):
            fractional_moment_normal_(m.weight, s=s, activation=activation, fan=fan, generator=generator,
                                      slope=slope, lower=lower, upper=upper)
            if m.bias is not None:
                m.bias.zero_()
    return model
