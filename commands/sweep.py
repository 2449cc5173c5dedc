"""`initbounds sweep`: the failure probability over a grid of widths × depths, simulated as tasks
(in-process or on Dask) and derived per cell, written to a resumable table."""
from __future__ import annotations

from typing import Any, Optional

import typer

from ..bounds.errors import InitBoundsError
from ..bounds.sweep import BUDGET_SECONDS, sweep_inputs
from ._options import Layers, Norm, OutDir, command, json_option, option, plot_option, scheduler_option
from ._render import cluster, console, emit_json, progress, table
from .certify import DataFile

__all__ = ["sweep", "COMMANDS"]


@command(sweep_inputs)
def sweep(
    widths: Any = option(help="Widths: {range}."),
    depths: Any = option(help="Depths: {range}."),
    samples: Optional[int] = option(None, help="N correlated random inputs ({range}; default 1); or --data."),
    correlation: float = option(0.0, help="Their pairwise correlation c, {range}."),
    input_dim: int = option(64, help="Their dimension n0 ({range})."),
    data: Optional[str] = option(None, help="Or the inputs from a data file: {range}.", constraint=DataFile()),
    delta: float = option(help="δ {range}: each method's minimum width keeps the failure probability ≤ δ."),
    eps: float = option(help="Band half-width ε {range}."),
    norm: Norm = typer.Option(Norm.squared, "--norm", help="Band on the squared norm ratio or on the plain norm ratio."),
    layers: Layers = typer.Option(Layers.all, "--layers", help="Every layer, or the last layer only."),
    trials: int = option(help="Simulated networks per cell ({range})."),
    confidence: float = option(0.95, help="Confidence of the Clopper–Pearson intervals, {range}."),
    budget_seconds: float = option(BUDGET_SECONDS, help="Ceiling on the simulation's seconds of one core by the cost "
                                                        "model ({range}); refused before any work above it."),
    seed: int = option(0, help="Seed ({range})."),
    out: str = option(help="Directory for the table and the task files ({range}); a rerun with the same arguments "
                           "resumes there.", constraint=OutDir()),
    scheduler: str = scheduler_option(),
    plot: Optional[str] = plot_option("the heatmap with the minimum-width curves"),
    as_json: bool = json_option(),
):
    """Phase diagram: simulated failure probability (with intervals) over widths × depths, beside each
    method's failure bound, the exact one-input probability and the minimum-width curves."""
    if data is not None and samples is not None:
        raise InitBoundsError("give one of --samples N or --data FILE, not both")
    from ..sim import sweep as lib

    with progress(disable=as_json) as bar, cluster(scheduler, bar, quiet=as_json) as ex:
        rows: dict = {}

        def report(stage, done, total):
            if stage not in rows:
                rows[stage] = bar.add_task("exact bounds (cells)" if stage == "bounds" else "simulation (tasks)",
                                           total=total)
            bar.update(rows[stage], completed=done, total=total)

        res = lib.sweep(widths, depths, samples=samples, correlation=correlation, input_dim=input_dim, data=data,
                        delta=delta, eps=eps, norm=norm.value, layers=layers.value, trials=trials,
                        confidence=confidence, budget_seconds=budget_seconds, seed=seed, out=out, executor=ex,
                        progress=report)
    if plot:
        res.plot(plot)
    if as_json:
        return emit_json({**res.as_dict(), "scheduler": scheduler, **({"plot": plot} if plot else {})})
    _show(res, plot)


def _fmt(p) -> str:
    return "—" if p is None else f"{p:.3g}"


def _show(res, plot):
    inp = res.inputs
    c = console()
    t = table(f"sweep: {inp['inputs']}; ε = {inp['eps']:g}, δ = {inp['delta']:g}, {inp['trials']:,} networks per cell",
              ("width", "depth", "simulated", f"{inp['confidence']:g} CI", "exact (1 input)", "per_layer", "product",
               "exact_union", "AB19 curve"),
              {k: "right" for k in ("width", "depth", "simulated", "exact (1 input)", "per_layer", "product",
                                    "exact_union", "AB19 curve")})
    for r in res.rows:
        t.add_row(f"{r['width']:,}", str(r["depth"]), f"{r['frequency']:.4g}", f"[{r['ci_low']:.3g}, {r['ci_high']:.3g}]",
                  _fmt(r["exact_single"]), _fmt(r["bound_chernoff_per_layer"]), _fmt(r["bound_chernoff_product"]),
                  _fmt(r["bound_exact_union"]), _fmt(r["authors_formula_delta"]))
    c.print(t)
    w = table(f"Minimum width at δ = {inp['delta']:g} per depth", ("method", *map(str, inp["depths"])))
    for m, ws in res.curves.items():
        w.add_row(m, *("—" if x is None else f"{x:,}" for x in ws))
    c.print(w)
    c.print(f"Tasks: {res.tasks} ({res.reused} reused from {res.out}, "
            f"{res.corrupt} corrupt files recomputed, {res.computed} computed now); {res.seconds:.1f} s "
            f"({res.model_seconds:.1f} s of one core by the cost model).")
    c.print("Files: " + ", ".join(res.files.values()) + (f", {plot}" if plot else ""))
    c.print("Bounds are upper bounds on P(some input leaves the band); 'exact (1 input)' is exact for one input "
            "and a lower bound for several; the AB19 curve is the authors' width formula solved for δ (not a bound).")
    for note in res.notes:
        c.print(f"note: {note}")


COMMANDS = (sweep,)
