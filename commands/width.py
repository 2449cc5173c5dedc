"""`initbounds width` and `initbounds prob`: minimum widths and exact band probabilities (AB19)."""
from __future__ import annotations

import sys
from enum import Enum

import typer

from ..bounds import wnorm
from ..bounds.errors import DomainError, constraints_of
from ..bounds.width import prob_report, width_report
from ._options import Layers, Norm, command, json_option, option
from ._render import emit_json, show

__all__ = ["width", "prob", "COMMANDS"]


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
    weight_norm: bool = typer.Option(False, "--weight-norm", help="Weight-normalized rows of norm √2 (AB19 v1) "
                                     "instead of Gaussian weights."),
    as_json: bool = json_option(),
):
    """Minimum width for ‖h_l‖ ≈ ‖x‖ (within ε) with probability ≥ 1 − δ, by four methods (AB19);
    with --property gradients, for ‖∂ℓ/∂W_l‖_F ≈ ‖x‖·‖δ_L‖ (AB19 property ii)."""
    if weight_norm and property.value != "activations":
        raise DomainError("{property} gradients is derived for Gaussian weights; with {weight_norm} only the "
                          "activation property (i) is computed", param="property", names=("property", "weight_norm"))
    if weight_norm:
        report = wnorm.width_report(depth, samples, delta, eps, norm=norm.value, layers=layers.value)
    else:
        report = width_report(depth, samples, delta, eps, norm=norm.value, layers=layers.value,
                              property=property.value)
    if as_json:
        return emit_json(report.as_dict())
    show(report, justify={"min width": "right", "failure bound at that width": "right"})
    if derive:
        from ..bounds.width import derive_width

        sys.stdout.write("\n" + (wnorm.derive_wnorm() if weight_norm else derive_width()).to_text() + "\n")
        if property.value != "activations":
            from ..bounds.gradient import derive_gradient

            sys.stdout.write("\n" + derive_gradient().to_text() + "\n")


@command(prob_report, wnorm.prob_report)
def prob(
    width: int = option(help="Layer width n ({range})."),
    depth: int = option(help="Number of ReLU layers L ({range})."),
    eps: float = option(help="Band half-width ε {range}."),
    samples: int = option(1, help="Number of inputs N for the union bound ({range})."),
    norm: Norm = typer.Option(Norm.squared, "--norm", help="Squared or plain norm ratio."),
    weight_norm: bool = typer.Option(False, "--weight-norm", help="Weight-normalized rows (AB19 v1) instead of "
                                     "Gaussian weights."),
    gain: float = option(None, help="With --weight-norm: the norm g of every row {range} (default √2, which "
                         "preserves E‖h‖²)."),
    as_json: bool = json_option(),
):
    """Exact probabilities that one input stays in the ε-band, and the bounds for N inputs."""
    if gain is not None and not weight_norm:
        constraints_of(wnorm.prob_report)["gain"].validate("gain", gain)    # a bad value is named first
        raise DomainError("{gain} applies only with --weight-norm", param="gain")
    if weight_norm:
        report = wnorm.prob_report(width, depth, eps, samples, norm=norm.value, gain=gain)
    else:
        report = prob_report(width, depth, eps, samples, norm=norm.value)
    if as_json:
        return emit_json(report.as_dict())
    show(report, justify={"value": "right"})


COMMANDS = (width, prob)
