"""`initbounds check`: the design report for one architecture, and a simulation spot-check."""
from __future__ import annotations

from typing import Optional

import typer

from ..bounds.design import design_report
from ..bounds.errors import NONNEGATIVE_INT, CostLimitError, Interval, Real
from ._options import check_device, command, json_option, option, plot_option
from ._render import console, emit_json, print_lines, progress, table
from .variance import sample_length_ratios

__all__ = ["check", "CHECK_DEFAULTS", "SPOT_SECONDS", "SPOT_BUDGET", "COMMANDS"]

#: The spot-check's default time budget in seconds (sim.spotcheck.SPOT_SECONDS; a test pins them
#: equal: this module does not import torch) and the command line's range for --spot-seconds.
SPOT_SECONDS = 5.0
SPOT_BUDGET = Interval(Real, 0, 86400, closed="right")

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
    trials: int = option(2000, help="Networks in the simulation spot-check ({range}; 0 skips it; at most what "
                                    "--spot-seconds buys, and the report says when it cuts them).",
                         constraint=NONNEGATIVE_INT),
    spot_seconds: float = option(SPOT_SECONDS, help="Time budget in seconds ({range}) of the spot-check (and, "
                                                    "separately, of --plot's simulation): the networks it buys "
                                                    "are fixed by a cost model before sampling; raise it to run "
                                                    "more of --trials.", constraint=SPOT_BUDGET),
    seed: int = option(0, help="Seed of the spot-check ({range}).", constraint=NONNEGATIVE_INT),
    real: bool = typer.Option(False, "--real", help="Spot-check with real networks (default: fastest exact sampler)."),
    device: str = typer.Option("cpu", "--device", help="Torch device for the spot-check."),
    s: float = option(1.0, help="Moment order s {range} for the fractional-moment section (GH21)."),
    plot: Optional[str] = plot_option("the exact density of log(M_L/M_0) against simulation (--trials networks)"),
    as_json: bool = json_option(),
):
    """Design report for one architecture: required widths, exact probabilities, liveness,
    fractional-moment init, a spot-check."""
    if trials > 0 or plot:
        check_device(device)
    with progress(disable=as_json) as bar:
        exact = bar.add_task("exact probabilities", total=None)
        bar.update(exact)
        report = design_report(depth=depth, width=width, samples=samples, delta=delta, eps=eps, s=s)
        bar.update(exact, total=1, completed=1)
        data = dict(report.as_dict())
        spot = None
        if trials > 0:
            from ..sim.spotcheck import spot_check

            task = bar.add_task("spot-check networks", total=None)
            spot = spot_check(depth=depth, width=width, samples=samples, eps=eps, trials=trials, seed=seed,
                              path="real" if real else "auto", device=device, budget=spot_seconds,
                              progress=lambda done, total: bar.update(task, completed=done, total=total))
        plot_trials = 0
        if plot and report.objects["law"] is None:
            raise CostLimitError("{plot} needs the exact law of M_L/M_0, which is not computed here: "
                                 + data["length_variance"]["p_off_by_2_not_computed"], names=("plot",))
        if plot:
            from ..sim.plots import plot_length_density
            from ..sim.spotcheck import networks_within

            plot_trials = networks_within(spot_seconds, trials, depth=depth, width=width, samples=1)
            sim = sample_length_ratios([width] * depth, plot_trials, 2.0, seed, device, "real" if real else "auto")
            lv = data["length_variance"]
            plot_length_density(report.objects["law"], plot, sim=sim, seed=seed,
                                p_off={"p": lv["p_off_by_2"], "tolerance": lv["p_off_by_2_tolerance"]},
                                title=f"{depth} layers of width {width:,} (β = {data['length_variance']['beta']:.3g})")
            data["plot"] = plot
            data["plot_trials"] = plot_trials
    if as_json:
        return emit_json({**data, "spot_check": spot})
    _show(report, plot, plot_trials, trials, spot, seed)


def _show(report, plot, plot_trials, trials, spot, seed):
    c = console()
    c.print(f"[bold]initbounds design report[/]  {report.heading}")
    t = table(report.title, report.columns)
    for name, min_width, ok, source in report.rows:
        t.add_row(name, min_width, "[green]yes[/]" if ok == "yes" else "[red]no[/]", source)
    c.print(t)
    print_lines(c, report.lines)
    if plot:
        sims = (f"{plot_trials:,} simulated networks" + (f" of the {trials:,} requested (--spot-seconds buys more)"
                                                         if plot_trials < trials else "")) if plot_trials else \
            "no simulation (--trials 0, or not one network fits in --spot-seconds)"
        c.print(f"wrote {plot} ({sims})")
    if spot and spot.get("skipped"):
        c.print(f"Simulation spot-check skipped: {spot['skipped']}")
    elif spot:
        c.print(f"Simulation spot-check ({spot['trials']:,} networks, {spot['path']} sampler, seed {seed}, "
                f"{spot['seconds']:.1f} s): P(some input leaves the band) = {spot['estimate']:.3f}, "
                f"95% CI [{spot['ci'][0]:.3f}, {spot['ci'][1]:.3f}]; worst |‖h‖²/‖x‖² − 1| seen "
                f"{spot['worst_deviation']:.3f}")
        if spot["note"]:
            c.print(f"[yellow]Spot-check cut to {spot['note']}[/]")


COMMANDS = (check,)
