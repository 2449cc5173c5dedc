"""`initbounds width` and `initbounds prob`: minimum widths and exact band probabilities (AB19)."""
from __future__ import annotations

import sys
from enum import Enum

import typer

from ..bounds.width import prob_report, width_report
from ._options import command, json_option, option
from ._render import emit_json, show

__all__ = ["width", "prob", "COMMANDS"]


class Norm(str, Enum):
    squared = "squared"
    plain = "plain"


class Layers(str, Enum):
    all = "all"
    last = "last"


class Property(str, Enum):
    activations = "activations"
    gradients = "gradients"
    both = "both"


@command(width_report)
def width(
    depth: int = option(help="Number of ReLU layers L ({range})."),
    samples: int = option(1, help="Number of inputs N that must all stay in the band ({range})."),
    delta: float = option(help="Failure probability δ {range}."),
    eps: float = option(help="Band half-width ε {range}."),
    norm: Norm = typer.Option(Norm.squared, "--norm", help="Band on the squared norm ratio or on the plain norm ratio."),
    layers: Layers = typer.Option(Layers.all, "--layers", help="Every hidden layer, or the last layer only."),
    property: Property = typer.Option(Property.activations, "--property",
                                      help="AB19 (i) activation norms, (ii) weight-gradient norms, or both."),
    derive: bool = typer.Option(False, "--derive", help="Also print the derivation."),
    as_json: bool = json_option(),
):
    """Minimum width for ‖h_l‖ ≈ ‖x‖ (within ε) with probability ≥ 1 − δ, by four methods (AB19);
    with --property gradients, for ‖∂ℓ/∂W_l‖_F ≈ ‖x‖·‖δ_L‖ (AB19 property ii)."""
    report = width_report(depth, samples, delta, eps, norm=norm.value, layers=layers.value, property=property.value)
    if as_json:
        return emit_json(report.as_dict())
    show(report, justify={"min width": "right", "failure bound at that width": "right"})
    if derive:
        from ..bounds.width import derive_width

        sys.stdout.write("\n" + derive_width().to_text() + "\n")
        if property.value != "activations":
            from ..bounds.gradient import derive_gradient

            sys.stdout.write("\n" + derive_gradient().to_text() + "\n")


@command(prob_report)
def prob(
    width: int = option(help="Layer width n ({range})."),
    depth: int = option(help="Number of ReLU layers L ({range})."),
    eps: float = option(help="Band half-width ε {range}."),
    samples: int = option(1, help="Number of inputs N for the union bound ({range})."),
    norm: Norm = typer.Option(Norm.squared, "--norm", help="Squared or plain norm ratio."),
    as_json: bool = json_option(),
):
    """Exact probabilities that one input stays in the ε-band, and the bounds for N inputs."""
    report = prob_report(width, depth, eps, samples, norm=norm.value)
    if as_json:
        return emit_json(report.as_dict())
    show(report, justify={"value": "right"})


COMMANDS = (width, prob)
