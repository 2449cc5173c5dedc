"""`initbounds moment`: the weight scale σ_s that preserves the s-th moment (GH21)."""
from __future__ import annotations

import sys
from enum import Enum
from typing import Optional

import typer

from ..bounds.moments import moment_report
from ._options import command, json_option, option
from ._render import emit_json, show

__all__ = ["moment", "COMMANDS"]


class Act(str, Enum):
    relu = "relu"
    leaky = "leaky"
    rrelu = "rrelu"
    linear = "linear"


@command(moment_report)
def moment(
    activation: Act = typer.Option(Act.relu, "--activation", help="Activation."),
    s: float = option(help="Moment order s {range} (s = 2 is He/LeCun)."),
    width: int = option(help="Layer output count d ({range})."),
    slope: Optional[float] = option(None, help="Leaky slope a {range} (default: torch's 0.01)."),
    lower: Optional[float] = option(None, help="RReLU lower bound l {range}, below --upper."),
    upper: Optional[float] = option(None, help="RReLU upper bound u {range}, above --lower."),
    depth: Optional[int] = option(None, help="Depth k for the log-norm law ({range})."),
    fan: str = option("out", help="out: preserve E‖h‖^s (σ² for d = outputs); in: per-unit form σ²·d/d_in "
                                  "(preserves E M^(s/2), M = ‖h‖²/n)."),
    small: float = option(0.01, help="Threshold t {range} for P(‖h_k‖ ≤ t‖x‖) (with --depth)."),
    in_width: Optional[int] = option(None, help="Input count d_in of a rectangular layer ({range}): also report "
                                                "the per-unit form σ²·d/d_in."),
    as_json: bool = json_option(),
    derive: bool = typer.Option(False, "--derive", help="Also print the derivation."),
):
    """Weight scale σ_s that preserves the s-th moment of the layer output (GH21), and the
    log-norm law it implies."""
    report = moment_report(activation.value, s=s, width=width, slope=slope, lower=lower, upper=upper, depth=depth,
                           fan=fan, small=small, in_width=in_width)
    if as_json:
        return emit_json(report.as_dict())
    show(report)
    if derive:
        from ..bounds.moments import derive_moment

        sys.stdout.write("\n" + derive_moment().to_text() + "\n")


COMMANDS = (moment,)
