"""`initbounds validate`: the toolkit's claims against Monte Carlo simulations of networks."""
from __future__ import annotations

import math
from typing import List, Optional

import typer

from ..bounds.errors import NONNEGATIVE_INT, InitBoundsError, Integral, Interval
from ._options import check_device, command, json_option, option, plot_option, scheduler_option
from ._render import cluster, console, emit_json, progress, table

__all__ = ["validate", "COMMANDS"]


@command()
def validate(
    claims: Optional[List[str]] = typer.Argument(None, help="Claims to run (default: all)."),
    trials: Optional[int] = option(None, help="Simulated networks per claim ({range}; default: each claim's own).",
                                   constraint=Interval(Integral, 10, None, closed="left")),
    seed: int = option(0, help="Seed of the explicit torch generator ({range}).", constraint=NONNEGATIVE_INT),
    as_json: bool = json_option(),
    plot: Optional[str] = plot_option("theory vs simulation"),
    list_: bool = typer.Option(False, "--list", help="List the claims and exit."),
    real: bool = typer.Option(False, "--real", help="Force real networks everywhere (default: the fastest exact sampler)."),
    device: str = typer.Option("cpu", "--device", help="Torch device, e.g. cpu or cuda."),
    scheduler: str = scheduler_option(),
):
    """Check the toolkit's claims against Monte Carlo simulations of networks."""
    check_device(device)
    from ..sim.validate import CLAIMS, run_claims

    if list_:
        if as_json:
            return emit_json({"claims": [{"name": c.name, "kind": c.kind, "claim": c.description, "source": c.source,
                                          "default_trials": c.default_trials} for c in CLAIMS.values()]})
        t = table("Claims", ("name", "kind", "claim", "source"))
        for cl in CLAIMS.values():
            t.add_row(cl.name, cl.kind, cl.description, cl.source)
        console().print(t)
        return
    names = claims or list(CLAIMS)
    for n in names:
        if n not in CLAIMS:
            raise InitBoundsError(f"CLAIM must be one of {', '.join(CLAIMS)}; got {n!r}")
    with progress(disable=as_json) as bar, cluster(scheduler, bar, quiet=as_json) as ex:
        tasks: dict = {}

        def advance(name, done, total):
            if name not in tasks:
                tasks[name] = bar.add_task(name, total=total)
            bar.update(tasks[name], completed=done, total=total)

        results = run_claims(names, trials=trials, seed=seed, progress=advance,
                             path="real" if real else "auto", device=device, executor=ex)
    failed = [r for r in results if r.toolkit_failure]
    if as_json:
        emit_json({"seed": seed, "scheduler": scheduler, "claims": [r.as_dict() for r in results]})
    else:
        _show(results, failed, seed)
    if plot:
        from ..sim.plots import plot_validation

        plot_validation(results, plot, seed=seed)
    if failed:
        raise typer.Exit(1)


def _show(results, failed, seed):
    c = console()
    t = table(f"validate (seed {seed}; family-wise level 1e-3, Bonferroni)",
              ("claim", "kind", "theory", "simulated", "CI", "verdict", "sampler", "source"))
    style = {"pass": "green", "FAIL": "bold red", "violated": "yellow", "gap": "cyan", "reported": "blue"}
    for r in results:
        measured = math.isfinite(r.estimate)        # a paper_measurement not measured in this run: "—"
        t.add_row(r.name, r.kind, f"{r.theory:.6g}", f"{r.estimate:.6g}" if measured else "—",
                  f"[{r.ci[0]:.4g}, {r.ci[1]:.4g}]" if measured else "—", f"[{style[r.verdict]}]{r.verdict}[/]",
                  r.path, r.source)
    c.print(t)
    for r in results:
        c.print(f"{r.name}: {r.detail} ({r.trials} networks, {r.seconds:.1f} s)")
    viol = [r.name for r in results if r.verdict == "violated"]
    if viol:
        c.print(f"Finding: the paper's formula is violated by simulation: {', '.join(viol)} "
                "(not a toolkit failure).")
    c.print("Toolkit failures: " + (", ".join(r.name for r in failed) if failed else "none"))


COMMANDS = (validate,)
