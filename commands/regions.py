"""`initbounds regions`: activation regions at init, derived and simulated (HR19)."""
from __future__ import annotations

from typing import Any, Optional

import typer

from ..bounds.errors import NONNEGATIVE_INT, WIDTHS, Integral, InitBoundsError, Interval
from ..bounds.regions import default_segment, first_layer_segment
from ._options import command, json_option, option
from ._render import emit_json, progress, show

__all__ = ["regions", "COMMANDS"]

#: The command line's own limits on the simulation (the simulator takes fewer trials and any grid).
TRIALS = Interval(Integral, 10, None, closed="left")
GRID = Interval(Integral, 2, 1024)


@command(first_layer_segment, default_segment)
def regions(
    widths: Any = option(help="Comma-separated hidden widths n1,...,nd, e.g. 16,16 ({range}).", constraint=WIDTHS),
    input_dim: int = option(2, help="Input dimension n0 ({range})."),
    segment: bool = typer.Option(True, "--segment/--slice", help="Count along the default segment √n0·e1 → √n0·e2 (−1 → 1 for n0 = 1; exact), or on the plane through 0 spanned by e1, e2 in the window [−√n0, √n0]² (grid; a lower bound)."),
    weight_var: float = option(2.0, help="c in Var W = c/fan-in ({range}; He: 2)."),
    bias_var: float = option(1.0, help="Bias variance σ_b² ({range}; HR19's setting has biases: with none every region is a cone through 0)."),
    trials: Optional[int] = option(None, help="Simulated networks ({range}; default 2000 on a segment, 200 on a slice).",
                                   constraint=TRIALS),
    grid: int = option(128, help="Grid points per side on a slice, {range}.", constraint=GRID),
    seed: int = option(0, help="Seed of the simulation ({range}).", constraint=NONNEGATIVE_INT),
    as_json: bool = json_option(),
):
    """Activation regions at init: derived counts, HR19's claim, and an exact or grid simulation (HR19)."""
    if not segment and input_dim < 2:
        raise InitBoundsError(f"--slice needs --input-dim ≥ 2; got {input_dim}")
    from ..sim.regions import regions_report

    mode = "segment" if segment else "slice"
    with progress(disable=as_json) as bar:
        task = bar.add_task(f"simulating ({mode})", total=None)
        rep = regions_report(widths, input_dim, mode=mode, weight_var=weight_var, bias_var=bias_var,
                             trials=trials or (2000 if segment else 200), grid=grid, seed=seed,
                             progress=lambda done, total: bar.update(task, completed=done, total=total))
    if as_json:
        return emit_json(rep.as_dict())
    show(rep)


COMMANDS = (regions,)
