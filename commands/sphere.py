"""`initbounds sphere`: a width for every input at once (the sphere, or a subspace), and an
adversarial search on real networks that tries to refute it (AB19; docs/theory.md §11)."""
from __future__ import annotations

import sys
from enum import Enum
from typing import Optional

import typer

from ..bounds.errors import COUNT, NONNEGATIVE_INT, OrNone
from ..bounds.sphere import RESTARTS, SEARCH_TRIALS, STEPS, sphere_report
from ._options import Layers, command, json_option, option, plot_option
from ._render import emit_json, progress, show

__all__ = ["sphere", "COMMANDS"]


class Method(str, Enum):
    chernoff_per_layer = "chernoff_per_layer"
    chernoff_product = "chernoff_product"


@command(sphere_report)
def sphere(
    input_dim: int = option(help="Input dimension n0 ({range})."),
    depth: int = option(help="Number of ReLU layers L ({range})."),
    delta: float = option(help="Failure probability δ {range}."),
    eps: float = option(help="Band half-width ε {range} on the squared-norm ratio."),
    subspace: Optional[int] = option(None, help="Also the width for inputs in a fixed k-dim subspace, k ≤ n0 ({range})."),
    samples: int = option(1, help="N for the N-input union widths shown for comparison ({range})."),
    method: Method = typer.Option(Method.chernoff_per_layer, "--method",
                                  help="Single-input bound used over the net."),
    layers: Layers = typer.Option(Layers.all, "--layers", help="Every hidden layer, or the last layer only."),
    search: bool = typer.Option(False, "--search", help="Also run an adversarial search on real networks "
                                "(a lower bound on the supremum: it can refute the bound, never confirm it)."),
    width: Optional[int] = option(None, help="Also the ε the bound certifies at this width; with --search, the "
                                  "networks' width (default: the bound's width; {range}).", constraint=OrNone(COUNT)),
    restarts: int = option(32, help="With --search: starting points per network ({range}).", constraint=RESTARTS),
    steps: int = option(200, help="With --search: gradient-ascent steps ({range}).", constraint=STEPS),
    trials: int = option(20, help="With --search: simulated networks ({range}).", constraint=SEARCH_TRIALS),
    seed: int = option(0, help="With --search: seed of the networks and starts ({range}).",
                       constraint=NONNEGATIVE_INT),
    plot: Optional[str] = plot_option("the search's worst deviations (with --search) or the failure bound against "
                                      "the width"),
    derive: bool = typer.Option(False, "--derive", help="Also print the derivation."),
    as_json: bool = json_option(),
):
    """Minimum width for ‖h_l(x)‖ ≈ ‖x‖ (within ε) for EVERY input at once, with probability ≥ 1 − δ."""
    kw = dict(subspace=subspace, samples=samples, method=method.value, layers=layers.value)
    if search:
        from ..sim.sphere import search_report

        with progress(disable=as_json) as bar:
            task = bar.add_task("adversarial search", total=None)
            report = search_report(depth, input_dim, delta, eps, width=width, restarts=restarts, steps=steps,
                                   trials=trials, seed=seed, **kw,
                                   progress=lambda done, total: bar.update(task, completed=done, total=total))
    else:
        report = sphere_report(depth, input_dim, delta, eps, width=width, **kw)
    out = report.as_dict()
    if plot:
        from ..sim.sphere import plot_sphere

        plot_sphere(report, plot)
        out = dict(out, plot=plot)
    if as_json:
        return emit_json(out)
    show(report, justify={"min width": "right", "failure bound at that width": "right"})
    if plot:
        sys.stdout.write(f"plot written to {plot}\n")
    if derive:
        from ..bounds.sphere import derive_sphere

        sys.stdout.write("\n" + derive_sphere().to_text() + "\n")


COMMANDS = (sphere,)
