"""`initbounds check`: the design report for one architecture, and a simulation spot-check."""
from __future__ import annotations

from typing import Optional

import typer

from ..bounds.design import design_report
from ..bounds.errors import NONNEGATIVE_INT
from ._options import check_device, command, json_option, option
from ._render import console, emit_json, print_lines, table
from .variance import sample_length_ratios

__all__ = ["check", "CHECK_DEFAULTS", "COMMANDS"]

#: The embedded example design of `initbounds check` (a width the exact method accepts and the
#: per-layer Chernoff bound does not; the authors' formula asks for far less).
CHECK_DEFAULTS = {"depth": 6, "width": 2048, "samples": 16, "delta": 0.05, "eps": 0.5}


@command(design_report)
def check(
    depth: int = option(CHECK_DEFAULTS["depth"], help="Number of ReLU layers L ({range})."),
    width: int = option(CHECK_DEFAULTS["width"], help="Layer width n ({range})."),
    samples: int = option(CHECK_DEFAULTS["samples"], help="Inputs N ({range})."),
    delta: float = option(CHECK_DEFAULTS["delta"], help="Failure probability δ {range}."),
    eps: float = option(CHECK_DEFAULTS["eps"], help="Band half-width ε {range}."),
    trials: int = option(2000, help="Networks in the simulation spot-check ({range}; 0 skips it; capped to a few "
                                    "seconds of sampling).", constraint=NONNEGATIVE_INT),
    seed: int = option(0, help="Seed of the spot-check ({range}).", constraint=NONNEGATIVE_INT),
    real: bool = typer.Option(False, "--real", help="Spot-check with real networks (default: fastest exact sampler)."),
    device: str = typer.Option("cpu", "--device", help="Torch device for the spot-check."),
    s: float = option(1.0, help="Moment order s {range} for the fractional-moment section (GH21)."),
    plot: Optional[str] = typer.Option(None, "--plot", help="Write the exact density of log(M_L/M_0) against simulation (--trials networks) to this PNG/SVG file."),
    as_json: bool = json_option(),
):
    """Design report for one architecture: required widths, exact probabilities, liveness,
    fractional-moment init, a spot-check."""
    report = design_report(depth=depth, width=width, samples=samples, delta=delta, eps=eps, s=s)
    if trials > 0:
        check_device(device)
    data = dict(report.as_dict())
    path = "real" if real else "auto"
    spot = None
    if trials > 0:
        from ..sim.spotcheck import spot_check

        spot = spot_check(depth=depth, width=width, samples=samples, eps=eps, trials=trials, seed=seed,
                          path=path, device=device)
    if plot:
        from ..sim.plots import plot_length_density

        sim = sample_length_ratios([width] * depth, trials, 2.0, seed, device, path)
        plot_length_density(report.objects["law"], plot, sim=sim,
                            title=f"{depth} layers of width {width:,} (β = {data['length_variance']['beta']:.3g})")
        data["plot"] = plot
    if as_json:
        return emit_json({**data, "spot_check": spot})
    _show(report, plot, spot, seed)


def _show(report, plot, spot, seed):
    c = console()
    c.print(f"[bold]initbounds design report[/]  {report.heading}")
    t = table(report.title, report.columns)
    for name, min_width, ok, source in report.rows:
        t.add_row(name, min_width, "[green]yes[/]" if ok == "yes" else "[red]no[/]", source)
    c.print(t)
    print_lines(c, report.lines)
    if plot:
        c.print(f"wrote {plot}")
    if spot and spot.get("skipped"):
        c.print(f"Simulation spot-check skipped: {spot['skipped']}")
    elif spot:
        c.print(f"Simulation spot-check ({spot['trials']} networks, {spot['path']} sampler, seed {seed}, "
                f"{spot['seconds']:.1f} s): P(some input leaves the band) = {spot['estimate']:.3f}, "
                f"95% CI [{spot['ci'][0]:.3f}, {spot['ci'][1]:.3f}]; worst |‖h‖²/‖x‖² − 1| seen "
                f"{spot['worst_deviation']:.3f}")


COMMANDS = (check,)
