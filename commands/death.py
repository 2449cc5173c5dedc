"""`initbounds death`: the probability that a ReLU net is born alive, its bounds, sign flipping (RR20)."""
from __future__ import annotations

from typing import Any, Optional

import typer

from ..bounds.death import death_report
from ._options import command, json_option, option
from ._render import emit_json, show

__all__ = ["death", "COMMANDS"]


@command(death_report)
def death(
    widths: Optional[Any] = option(None, help="Comma-separated layer widths, e.g. 4,4,4 ({range})."),
    width: Optional[int] = option(None, help="Constant width n (with --depth; {range})."),
    depth: Optional[int] = option(None, help="Number of ReLU layers k (with --width or --schedule; {range})."),
    schedule: Optional[Any] = option(None, help="Widths n_l = ceil(c·log2(l+1) + b), given as {range} (with --depth); "
                                                "also reports the k → ∞ limit."),
    points: int = option(1, help="Number of data points m ({range})."),
    bias: bool = typer.Option(False, "--bias", help="Symmetric random biases."),
    input_dim: Optional[int] = option(None, help="n0 for data in the non-negative orthant ({range})."),
    target: Optional[float] = option(None, help="Target P(point alive) {range}: smallest constant width."),
    as_json: bool = json_option(),
):
    """Probability that a ReLU net is born alive, its bounds, and the sign-flip guarantee (RR20)."""
    report = death_report(widths=widths, width=width, depth=depth, schedule=schedule, points=points, bias=bias,
                          input_dim=input_dim, target=target)
    if as_json:
        return emit_json(report.as_dict())
    show(report)


COMMANDS = (death,)
