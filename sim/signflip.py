"""Data-dependent sign-flip initialization that keeps training points alive (RR20; THEORY.md §7).

Usage on a real model::

    import torch
    from torch import nn
    from sim.signflip import sign_flip_
    model = nn.Sequential(nn.Linear(64, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 10))
    report = sign_flip_(model, x_train, mode="unit")    # in place; only signs change
    report.living_fraction                               # per ReLU layer, e.g. [0.97, 0.95]

Every Linear layer that is followed by a ReLU is processed in order; each flip multiplies a whole
layer (mode "layer") or a row and its bias entry (modes "unit", "greedy") by −1, so the magnitudes
(and hence the weight distribution's magnitudes) never change. Either way at least half of the
points alive before the layer stay alive after it (with probability one), so at least 2^{−k} of
the data survives k layers — RR20's guarantee.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from bounds.errors import DomainError, check_choice

__all__ = ["SignFlipReport", "sign_flip_", "living_fraction"]


@dataclass(frozen=True)
class SignFlipReport:
    """``living_fraction[l]``: fraction of the data alive after ReLU layer l (after flipping);
    ``flipped[l]``: number of rows whose sign changed (all rows for a flipped layer)."""

    mode: str
    living_fraction: list
    flipped: list
    guarantee: list           # 2^{-(l+1)} per layer


def _relu_linears(model: nn.Sequential):
    mods = list(model)
    out = []
    for i, m in enumerate(mods):
        if isinstance(m, nn.Linear) and i + 1 < len(mods) and isinstance(mods[i + 1], nn.ReLU):
            out.append(m)
    if not out:
        raise DomainError("model must be an nn.Sequential with at least one Linear followed by ReLU")
    return out


@torch.no_grad()
def living_fraction(model: nn.Sequential, data: torch.Tensor) -> list:
    """Fraction of the rows of ``data`` whose activation is nonzero after each Linear+ReLU layer."""
    h = data
    alive = torch.ones(data.shape[0], dtype=torch.bool, device=data.device)
    out = []
    for lin in _relu_linears(model):
        h = torch.relu(lin(h))
        alive &= (h > 0).any(dim=1)
        out.append(float(alive.float().mean()))
    return out


@torch.no_grad()
def sign_flip_(model: nn.Sequential, data: torch.Tensor, *, mode: str = "unit") -> SignFlipReport:
    """Flip signs of the model's Linear layers, in place, to keep the data alive.

    mode "layer": flip (W, b) → (−W, −b) if that keeps more living points alive;
    mode "unit": flip each row whose pre-activation is negative for more living points than
    positive; mode "greedy": go through the rows and give each the sign that covers the most living
    points not yet covered by earlier rows (ties keep the sign). Each keeps ≥ ½ of the living
    points per layer, hence ≥ 2^{−k} after k layers.
    Args: ``model`` an ``nn.Sequential``; ``data`` a (m, n_0) batch of training inputs.
    Returns a :class:`SignFlipReport`. Source: RR20 (arXiv 2007.06192), scheme as in THEORY §7.
    """
    mode = check_choice("mode", mode, ("layer", "unit", "greedy"))
    if data.ndim != 2:
        raise DomainError(f"data must be a (points, features) matrix; got shape {tuple(data.shape)}")
    h = data
    alive = torch.ones(data.shape[0], dtype=torch.bool, device=data.device)
    fracs, flips, guar = [], [], []
    for l, lin in enumerate(_relu_linears(model)):
        z = lin(h)                                              # (m, n)
        za = z[alive]
        if mode == "layer":
            plus = (za > 0).any(dim=1).sum()
            minus = (za < 0).any(dim=1).sum()
            sign = torch.ones(z.shape[1], dtype=z.dtype, device=z.device)
            if minus > plus:
                sign = -sign
        elif mode == "unit":
            pos = (za > 0).sum(dim=0)
            neg = (za < 0).sum(dim=0)
            sign = torch.where(neg > pos, -1.0, 1.0).to(z.dtype)
        else:
            covered = torch.zeros(za.shape[0], dtype=torch.bool, device=z.device)
            sign = torch.ones(z.shape[1], dtype=z.dtype, device=z.device)
            for i in range(z.shape[1]):
                gain_p = ((za[:, i] > 0) & ~covered).sum()
                gain_n = ((za[:, i] < 0) & ~covered).sum()
                if gain_n > gain_p:
                    sign[i] = -1.0
                covered |= (sign[i] * za[:, i]) > 0
        lin.weight.mul_(sign[:, None])
        if lin.bias is not None:
            lin.bias.mul_(sign)
        h = torch.relu(z * sign)
        alive &= (h > 0).any(dim=1)
        fracs.append(float(alive.float().mean()))
        flips.append(int((sign < 0).sum()))
        guar.append(2.0 ** -(l + 1))
    return SignFlipReport(mode, fracs, flips, guar)
