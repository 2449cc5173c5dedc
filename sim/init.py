"""Torch initializers in the style of ``torch.nn.init`` (in place, explicit generator).

>>> import torch
>>> from torch import nn
>>> from initbounds.sim.init import fractional_moment_normal_, init_sequential_, init_model_
>>> w = torch.empty(64, 64)
>>> _ = fractional_moment_normal_(w, s=1.0, activation="relu", fan="out", generator=torch.Generator().manual_seed(0))
>>> model = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU())
>>> _ = init_sequential_(model, s=1.0, activation="relu", fan="out", generator=torch.Generator().manual_seed(0))
>>> done = init_model_(model, mode="fan_in", nonlinearity="relu", generator=torch.Generator().manual_seed(0))
>>> [d["nonlinearity"] for d in done]
['relu', 'linear']

torch's conventions are accepted beside ours: ``mode='fan_in'|'fan_out'`` for ``fan='in'|'out'``,
``nonlinearity='relu'|'leaky_relu'|'linear'`` for ``activation='relu'|'leaky'|'linear'`` and ``a`` for
``slope``; weights of any dimension ≥ 2 (convolutions) use torch's own fans
(``torch.nn.init._calculate_fan_in_and_fan_out``: in_channels × kernel size).
"""
from __future__ import annotations

import math

import torch
from torch import nn

from ..bounds.errors import DomainError, check_choice
from ..bounds.moments import activation as make_activation
from ..bounds.moments import sigma2

__all__ = ["fractional_moment_std", "fractional_moment_normal_", "init_sequential_", "init_model_"]

_MODES = {"fan_in": "in", "fan_out": "out", "in": "in", "out": "out"}
_NONLIN = {"relu": "relu", "leaky_relu": "leaky", "leaky": "leaky", "linear": "linear", "rrelu": "rrelu"}
_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d)


def _conventions(fan, mode, activation, nonlinearity, slope, a) -> tuple:
    """(fan, activation, slope) from our names or torch's (each pair must agree when both are given)."""
    if fan is None and mode is None:
        raise DomainError("give fan='in'|'out' or mode='fan_in'|'fan_out' (the convention is never a silent "
                          "default)", param="mode")
    if mode is not None:
        m = _MODES.get(check_choice("mode", mode, tuple(_MODES)))
        if fan is not None and check_choice("fan", fan, ("in", "out")) != m:
            raise DomainError(f"fan={fan!r} and mode={mode!r} disagree", param="mode")
        fan = m
    fan = check_choice("fan", fan, ("in", "out"))
    if nonlinearity is not None:
        act = _NONLIN[check_choice("nonlinearity", nonlinearity, tuple(_NONLIN))]
        if activation not in (None, "relu") and activation != act:
            raise DomainError(f"activation={activation!r} and nonlinearity={nonlinearity!r} disagree",
                              param="nonlinearity")
        activation = act
    if a is not None:
        if slope is not None and slope != a:
            raise DomainError(f"slope={slope!r} and a={a!r} disagree", param="a")
        slope = a
    return fan, activation or "relu", slope


def _fans(shape) -> tuple:
    """(fan_in, fan_out) of a weight of ``shape`` by torch's own rule (in_channels × kernel size)."""
    shape = tuple(int(v) for v in shape)
    if len(shape) < 2:
        raise DomainError(f"a weight needs at least 2 dimensions (out, in, kernel…); got shape {shape}",
                          param="tensor")
    fan_in, fan_out = nn.init._calculate_fan_in_and_fan_out(torch.empty(shape, device="meta"))
    return int(fan_in), int(fan_out)


def fractional_moment_std(shape, *, s: float, activation: str | None = "relu", fan: str | None = None, slope=None,
                          lower=None, upper=None, mode: str | None = None, nonlinearity: str | None = None,
                          a=None) -> float:
    """σ_s for a weight of ``shape`` = (d_out, d_in, kernel…) (GH21, exact; docs/theory.md §4).

    fan="out" (mode="fan_out"): the norm-preserving form with d = fan-out (preserves E‖h‖^s);
    fan="in" (mode="fan_in"): the per-unit form σ_s²(fan-out)·fan-out/fan-in (preserves E M^{s/2},
    M = ‖h‖²/n). Fans are torch's (a convolution's include its kernel size). At s = 2 this is
    ``kaiming_normal_``'s std for the same mode and nonlinearity.
    """
    fan, activation, slope = _conventions(fan, mode, activation, nonlinearity, slope, a)
    d_in, d_out = _fans(shape)
    act = make_activation(activation, slope=slope, lower=lower, upper=upper)
    v = sigma2(act, d_out, s, fan_ratio=(d_out / d_in) if fan == "in" else 1.0)
    return math.sqrt(v)


@torch.no_grad()
def fractional_moment_normal_(tensor: torch.Tensor, *, s: float, activation: str | None = "relu",
                              fan: str | None = None, generator: torch.Generator | None = None, slope=None,
                              lower=None, upper=None, mode: str | None = None, nonlinearity: str | None = None,
                              a=None) -> torch.Tensor:
    """Fill a weight (d_out, d_in, kernel…) in place with N(0, σ_s²) that preserves the s-th moment.

    Like ``torch.nn.init.kaiming_normal_``; s = 2 gives He (ReLU) / LeCun (linear). The fan
    convention is explicit (no default). ``generator`` makes the draw reproducible. Any float dtype.
    """
    if not isinstance(tensor, torch.Tensor) or not tensor.is_floating_point():
        got = type(tensor).__name__ if not isinstance(tensor, torch.Tensor) else f"a {tensor.dtype} tensor"
        raise DomainError(f"tensor must be a floating-point torch.Tensor; got {got}", param="tensor")
    if tensor.ndim < 2:
        raise DomainError(f"tensor must be a weight of ≥ 2 dimensions (d_out, d_in, kernel…); got shape "
                          f"{tuple(tensor.shape)}", param="tensor")
    std = fractional_moment_std(tensor.shape, s=s, activation=activation, fan=fan, slope=slope, lower=lower,
                                upper=upper, mode=mode, nonlinearity=nonlinearity, a=a)
    return tensor.normal_(0.0, std, generator=generator)


@torch.no_grad()
def init_sequential_(model: nn.Sequential, *, s: float, activation: str = "relu", fan: str | None = None,
                     generator: torch.Generator | None = None, slope=None, lower=None, upper=None,
                     mode: str | None = None, nonlinearity: str | None = None, a=None):
    """Initialize every Linear layer of ``model`` with :func:`fractional_moment_normal_` (biases 0).
    Prefer :func:`init_model_`, which covers convolutions, treats the head and reports each layer."""
    for m in model.modules():
        if isinstance(m, nn.Linear):
            fractional_moment_normal_(m.weight, s=s, activation=activation, fan=fan, generator=generator,
                                      slope=slope, lower=lower, upper=upper, mode=mode, nonlinearity=nonlinearity,
                                      a=a)
            if m.bias is not None:
                m.bias.zero_()
    return model


@torch.no_grad()
def init_model_(model: nn.Module, *, s: float = 2.0, mode: str = "fan_in", nonlinearity: str = "relu", a=None,
                lower=None, upper=None, head: str = "linear", zero_bias: bool = False,
                generator: torch.Generator | None = None) -> list:
    """Initialize every Linear, Conv1d and Conv2d layer of ``model`` in place and say what was done.

    Hidden layers get σ_s for ``nonlinearity`` (s = 2: ``kaiming_normal_``); the last such layer in
    module order (the head) gets the linear rule when ``head='linear'`` (LeCun at s = 2), or the same as
    the others with ``head='same'``. Biases are zeroed only with ``zero_bias``. Returns one dict per
    parametrized leaf module: for the layers {name, kind, fan_in, fan_out, std, nonlinearity, bias},
    for any other module with parameters {name, kind, action: 'left as is (…)'} — nothing is skipped
    silently. Raises :class:`DomainError` when the model has no Linear/Conv layer.
    """
    check_choice("head", head, ("linear", "same"))
    if not isinstance(model, nn.Module):
        raise DomainError(f"model must be a torch.nn.Module; got {type(model).__name__}", param="model")
    layers = [(n, m) for n, m in model.named_modules() if isinstance(m, _LAYERS)]
    if not layers:
        raise DomainError("model has no Linear, Conv1d or Conv2d layer to initialize", param="model")
    done = []
    for i, (name, m) in enumerate(layers):
        nl = "linear" if head == "linear" and i == len(layers) - 1 else nonlinearity
        std = fractional_moment_std(m.weight.shape, s=s, mode=mode, nonlinearity=nl, activation=None,
                                    a=a if nl != "linear" else None, lower=lower, upper=upper)
        fractional_moment_normal_(m.weight, s=s, mode=mode, nonlinearity=nl, activation=None,
                                  a=a if nl != "linear" else None, lower=lower, upper=upper, generator=generator)
        bias = "none"
        if m.bias is not None:
            if zero_bias:
                m.bias.zero_()
                bias = "zeroed"
            else:
                bias = "kept"
        fi, fo = _fans(m.weight.shape)
        done.append({"name": name, "kind": type(m).__name__, "fan_in": fi, "fan_out": fo, "std": std,
                     "nonlinearity": nl, "bias": bias})
    seen = {n for n, _ in layers}
    for name, m in model.named_modules():
        if name not in seen and not list(m.children()) and any(True for _ in m.parameters(recurse=False)):
            done.append({"name": name, "kind": type(m).__name__,
                         "action": "left as is (not a Linear, Conv1d or Conv2d layer)"})
    return done
