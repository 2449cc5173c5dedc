"""Example factories for the audit tests (``initbounds audit tests/cli/models_for_audit.py:NAME``).

Each builds a fresh model with torch's global RNG (the audit calls a factory under seeds)."""
from __future__ import annotations

import torch
from torch import nn


def default_mlp(width: int = 64, depth: int = 3, input_dim: int = 32):
    """nn.Sequential MLP with torch's default init (uniform weights, c = 1/3; uniform biases)."""
    layers, d = [], input_dim
    for _ in range(depth):
        layers += [nn.Linear(d, width), nn.ReLU()]
        d = width
    return nn.Sequential(*layers, nn.Linear(d, 10))


def kaiming_mlp(width: int = 64, depth: int = 3, input_dim: int = 32):
    """The same MLP with kaiming_normal_(mode='fan_in', nonlinearity='relu') weights and zero biases."""
    model = default_mlp(width, depth, input_dim)
    for m in model:
        if isinstance(m, nn.Linear):
            nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
            nn.init.zeros_(m.bias)
    return model


def narrow_mlp():
    """A narrow deep MLP: 6 ReLU layers of width 30, He (kaiming) init, zero biases."""
    return kaiming_mlp(width=30, depth=6, input_dim=16)


class ResidualMLP(nn.Module):
    """x ← x + W₂ ReLU(W₁ x) with default-init branches, after a default-init stem."""

    def __init__(self, input_dim: int = 16, width: int = 32, blocks: int = 4):
        super().__init__()
        self.stem = nn.Linear(input_dim, width)
        self.branches = nn.ModuleList(nn.Sequential(nn.Linear(width, width), nn.ReLU(), nn.Linear(width, width))
                                      for _ in range(blocks))
        self.head = nn.Linear(width, 10)

    def forward(self, x):
        x = self.stem(x)
        for b in self.branches:
            x = x + b(x)
        return self.head(x)


def residual_mlp():
    return ResidualMLP()


def small_cnn():
    """A small CNN for 1×8×8 images (default init)."""
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(),
                         nn.Flatten(), nn.Linear(16 * 8 * 8, 10))


def batchnorm_mlp():
    return nn.Sequential(nn.Linear(32, 64), nn.BatchNorm1d(64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(),
                         nn.Linear(64, 10))


def gelu_mlp():
    return nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 64), nn.GELU(), nn.Linear(64, 64), nn.ReLU(),
                         nn.Linear(64, 10))


def raising():
    raise RuntimeError("this factory fails on purpose")


def not_a_module():
    return 42


def no_layers():
    return nn.Sequential(nn.ReLU())


def float64_mlp():
    return default_mlp().to(torch.float64)


class ResidualHe(nn.Module):
    """x ← x + η W₂ ReLU(W₁ x), W₁ He (c = 2), W₂ LeCun (c = 1), no biases: the exact setting of bounds.resnet."""

    def __init__(self, width: int = 32, branch_width: int = 24, blocks: int = 4, eta: float = 0.5):
        super().__init__()
        self.eta = eta
        self.w1 = nn.ModuleList(nn.Linear(width, branch_width, bias=False) for _ in range(blocks))
        self.w2 = nn.ModuleList(nn.Linear(branch_width, width, bias=False) for _ in range(blocks))
        for a, b in zip(self.w1, self.w2):
            nn.init.kaiming_normal_(a.weight, mode="fan_in", nonlinearity="relu")
            nn.init.kaiming_normal_(b.weight, mode="fan_in", nonlinearity="linear")

    def forward(self, x):
        for a, b in zip(self.w1, self.w2):
            x = x + self.eta * b(torch.relu(a(x)))
        return x


def residual_he():
    return ResidualHe()


class Untraceable(nn.Module):
    """Data-dependent control flow: torch.fx cannot trace it (the audit falls back to hooks)."""

    def __init__(self):
        super().__init__()
        self.net = kaiming_mlp(width=48, depth=2, input_dim=16)

    def forward(self, x):
        if x.sum() > -1e30:
            return self.net(x)
        return x


def untraceable():
    return Untraceable()


def very_narrow_mlp():
    """Width 2, 8 ReLU layers, He: P(a point alive) = (3/4)^8 ≈ 0.1 — sign flipping matters."""
    return kaiming_mlp(width=2, depth=8, input_dim=4)


class ResidualHeBias(ResidualHe):
    """ResidualHe (no stem) with Gaussian branch biases of variance 0.05: the exact setting of
    bounds.resnet.residual_bias_moments, mean and second moment."""

    def __init__(self, width: int = 24, branch_width: int = 16, blocks: int = 4, eta: float = 0.6):
        super().__init__(width, branch_width, blocks, eta)
        self.w1 = nn.ModuleList(nn.Linear(width, branch_width) for _ in range(blocks))
        self.w2 = nn.ModuleList(nn.Linear(branch_width, width) for _ in range(blocks))
        for a, b in zip(self.w1, self.w2):
            nn.init.kaiming_normal_(a.weight, mode="fan_in", nonlinearity="relu")
            nn.init.kaiming_normal_(b.weight, mode="fan_in", nonlinearity="linear")
            nn.init.normal_(a.bias, std=0.05**0.5)
            nn.init.normal_(b.bias, std=0.05**0.5)


def residual_he_bias():
    return ResidualHeBias()


def layernorm_mlp():
    """Linear → LayerNorm → ReLU blocks (default init) before a linear head."""
    return nn.Sequential(nn.Linear(32, 48), nn.LayerNorm(48), nn.ReLU(), nn.Linear(48, 48), nn.ReLU(),
                         nn.Linear(48, 48), nn.LayerNorm(48), nn.LeakyReLU(0.2), nn.Linear(48, 10))


def conv1d_net():
    """A small Conv1d net for (2, 16) signals (default init): fans in_channels × kernel size."""
    return nn.Sequential(nn.Conv1d(2, 8, 3, padding=1), nn.ReLU(), nn.Conv1d(8, 12, 5, padding=2), nn.ReLU(),
                         nn.Flatten(), nn.Linear(12 * 16, 10))


class ResidualHooks(nn.Module):
    """A residual MLP torch.fx cannot trace (data-dependent branch): forward hooks see no additions."""

    def __init__(self):
        super().__init__()
        self.inner = ResidualHe(width=16, branch_width=16, blocks=2)

    def forward(self, x):
        if x.sum() > -1e30:
            return self.inner(x)
        return x


def residual_hooks():
    return ResidualHooks()
