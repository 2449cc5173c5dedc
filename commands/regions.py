"""`initbounds regions`: activation regions at init, derived and simulated (HR19)."""
from __future__ import annotations

import math
from typing import Any, Optional

import typer

from ..bounds.errors import NONNEGATIVE_INT, WIDTHS, Integral, InitBoundsError, Interval
from ..bounds.regions import default_segment, first_layer_segment
from ._options import command, json_option, option
from ._render import console, emit_json, progress, table

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
        return emit_json(rep)
    _show(rep, widths, input_dim, segment, weight_var, bias_var, grid, seed)


def _show(rep, hid, input_dim, segment, weight_var, bias_var, grid, seed):
    """The regions table: the simulation's report is a dict (``sim.regions.regions_report``)."""
    fl, sim, hr = rep["first_layer_segment"], rep["simulated"], rep["hr19"]
    where = "the default segment" if segment else \
        f"the window [−{math.sqrt(input_dim):.4g}, {math.sqrt(input_dim):.4g}]² of the e1–e2 plane"
    t = table(f"Activation regions: n0 = {input_dim}, widths {','.join(map(str, hid))}, on {where} "
              f"(He fan-in c = {weight_var:g}, σ_b² = {bias_var:g})", ("quantity", "value", "source"))
    whole = " = whole net" if fl["whole_network"] else ""
    t.add_row(f"first layer ({hid[0]} units){whole}: E #breakpoints on segment", f"{fl['breakpoints']:.6g}",
              "derived, exact")
    t.add_row("… E #regions on the segment = 1 + breakpoints", f"{fl['regions']:.6g}", "derived, exact")
    ow = rep["one_layer_window"]
    if ow is not None:
        t.add_row("one layer: P(a unit's line meets the window)", f"{ow['p_line']:.6g}", "derived, exact")
        t.add_row("one layer: P(two lines cross inside the window)", f"{ow['p_pair']:.6g}", "derived, exact")
        t.add_row("one layer: E #regions in the window", f"{ow['regions']:.6g}", f"derived, exact ({ow['method']})")
    t.add_row(f"HR19: #regions ≲ (#neurons)^{hr['dim']} = {rep['neurons']}^{hr['dim']}", f"{hr['value']:.6g}",
              "paper claim (HR19), order of magnitude")
    lvl = f"{100 * sim['level']:g}%"
    if segment:
        fb = sim["first_layer_breakpoints"]
        t.add_row("simulated first-layer breakpoints", f"{fb['mean']:.4f}  [{fb['ci'][0]:.4f}, {fb['ci'][1]:.4f}]",
                  f"simulation, {lvl} CI")
    if "exact_one_layer" in sim:
        ex = sim["exact_one_layer"]
        t.add_row("simulated #regions, exact arrangement count",
                  f"{ex['mean']:.4f}  [{ex['ci'][0]:.4f}, {ex['ci'][1]:.4f}]", f"simulation, {lvl} CI")
    how = "exact piece tracking" if segment else f"grid {grid}×{grid}, lower bound"
    t.add_row(f"simulated #regions ({how})", f"{sim['mean']:.4f}  [{sim['ci'][0]:.4f}, {sim['ci'][1]:.4f}]",
              f"simulation, {lvl} CI")
    c = console()
    c.print(t)
    c.print(f"{sim['trials']} networks, seed {seed}, {sim['seconds']:.1f} s. A region is a connected piece with a "
            "constant activation pattern" + ("." if segment else "; grid counts miss regions containing no grid point."))


COMMANDS = (regions,)
