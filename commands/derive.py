"""`initbounds derive NAME`: print the derivation behind a command (text, LaTeX or Markdown)."""
from __future__ import annotations

import importlib
import sys
from enum import Enum

import typer

__all__ = ["app", "DERIVATIONS"]


class Fmt(str, Enum):
    text = "text"
    latex = "latex"
    markdown = "markdown"


#: `initbounds derive NAME`: (module, function, the command it explains, papers).
DERIVATIONS = {
    "width": ("initbounds.bounds.width", "derive_width", "width", "AB19"),
    "gradient": ("initbounds.bounds.gradient", "derive_gradient", "width --property gradients", "AB19"),
    "moment": ("initbounds.bounds.moments", "derive_moment", "moment", "GH21"),
    "death": ("initbounds.bounds.death", "derive_death", "death", "RR20"),
    "variance": ("initbounds.bounds.variance", "derive_variance", "variance", "HR18, H18"),
    "resnet": ("initbounds.bounds.resnet", "derive_resnet", "resnet", "HR18"),
    "regions": ("initbounds.bounds.regions", "derive_regions", "regions", "HR19"),
    "certify": ("initbounds.bounds.certify", "derive_certify", "certify", "AB19, our extension"),
    "sphere": ("initbounds.bounds.sphere", "derive_sphere", "sphere", "AB19"),
    "wnorm": ("initbounds.bounds.wnorm", "derive_wnorm", "width --weight-norm", "AB19 v1"),
    "refine": ("initbounds.bounds.refine", "derive_refine", "refine", "J18"),
    "noise": ("initbounds.bounds.noise", "derive_noise", "noise", "J17, J20"),
}

app = typer.Typer(help="Print a derivation (text, LaTeX or Markdown).", no_args_is_help=True)


def _register(name: str, module: str, func: str, command: str, papers: str) -> None:
    def cmd(fmt: Fmt = typer.Option(Fmt.text, "--format", help="Output format.")):
        derivation = getattr(importlib.import_module(module), func)()
        sys.stdout.write(derivation.render(fmt.value) + "\n")

    cmd.__doc__ = f"The derivation behind `initbounds {command}` ({papers})."
    app.command(name)(cmd)


for _name, _spec in DERIVATIONS.items():
    _register(_name, *_spec)
