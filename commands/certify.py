"""`initbounds certify`: a certified width for a real data set (simulation of the exact Gram law)."""
from __future__ import annotations

from enum import Enum
from typing import Optional

import typer

from ..bounds.certify import BUDGET_SECONDS, certify_inputs, data_path
from ..bounds.errors import Constraint, InitBoundsError, Options
from ._options import Layers, Norm, check_device, command, json_option, option, scheduler_option
from ._render import cluster, console, emit_json, progress, table

__all__ = ["certify", "COMMANDS"]


class DataFile(Constraint):
    """A data file: checked (exists, suffix, contents) when it is loaded, with one error line."""

    metavar = "FILE"

    def describe(self) -> str:
        return "name an existing .npy, .csv or .pt file holding an N × n0 array"

    def range_text(self) -> str:
        return ".npy, .csv (commas, one optional header line) or .pt (one tensor); rows are inputs"

    def validate(self, name: str, value, *, item: str = ""):
        data_path(value, name=name)     # exists, readable, known suffix: before any work
        return str(value)

    def invalid_example(self):
        return "missing-file.npy"


class Spending(str, Enum):
    basel = "basel"
    halving = "halving"


class Precision(str, Enum):
    float32 = "float32"
    float64 = "float64"


#: scikit-learn's bundled data sets (the same tuple as initbounds.sim.certify.DATASETS, a test checks).
DATASETS = ("digits", "iris", "wine", "breast_cancer")


@command(certify_inputs)
def certify(
    data: Optional[str] = option(None, help="Data file: {range}.", constraint=DataFile()),
    dataset: Optional[str] = option(None, help="Or one of scikit-learn's bundled data sets: {range}.",
                                    constraint=Options(DATASETS)),
    depth: int = option(help="Number of ReLU layers L ({range}), all of the same width."),
    delta: float = option(help="Failure probability δ {range}: P(some data point leaves the band) ≤ δ."),
    eps: float = option(help="Band half-width ε {range}."),
    confidence: float = option(0.95, help="Confidence 1 − α of the certificate, {range}."),
    norm: Norm = typer.Option(Norm.squared, "--norm", help="Band on the squared norm ratio or on the plain norm ratio."),
    layers: Layers = typer.Option(Layers.all, "--layers", help="Every layer, or the last layer only."),
    trials: Optional[int] = option(None, help="Networks per tested width ({range}); default: 3 × the fewest that "
                                              "can accept at the last possible test."),
    budget_seconds: float = option(BUDGET_SECONDS, help="Seconds (by the cost model) the search may take "
                                                                     "({range}); refused before it starts if its "
                                                                     "first test does not fit."),
    spending: Spending = typer.Option(Spending.basel, "--spending",
                                      help="Error spending over the tested widths: α_j = 6α/(π²j²) or α/2^j."),
    seed: int = option(0, help="Seed ({range})."),
    precision: Precision = typer.Option(Precision.float32, "--precision", help="Arithmetic of the Gram sampler."),
    device: str = typer.Option("cpu", "--device", help="Torch device for the simulation (cpu, cuda, cuda:1, ...)."),
    scheduler: str = scheduler_option(),
    as_json: bool = json_option(),
):
    """The smallest width certified (confidence 1 − α) to keep every point of a data set in the ε-band
    with probability ≥ 1 − δ, beside the union-bound width: exact Gram-law simulation on the data."""
    if (data is None) == (dataset is None):
        raise InitBoundsError("give one of --data FILE or --dataset NAME" + ("" if data is None else ", not both"))
    check_device(device)
    from ..sim import certify as lib

    if data is not None:
        X, name = lib.load_data(data), str(data)
    else:
        X, name = lib.load_dataset(dataset), dataset
    with (progress(disable=as_json, description="{task.description}", count="{task.completed:,.0f}/{task.total:,}")
          as bar, cluster(scheduler, bar, quiet=as_json) as ex):
        tasks: dict = {}

        def report(j, n, done, total):
            if j not in tasks:
                tasks[j] = bar.add_task(f"test {j}: width {n:,}", total=total)
            bar.update(tasks[j], completed=done)

        rep = lib.certify(X, depth=depth, delta=delta, eps=eps, confidence=confidence, norm=norm.value,
                          layers=layers.value, trials=trials, budget_seconds=budget_seconds, spending=spending.value,
                          seed=seed, precision=precision.value, device=device, name=name, progress=report,
                          executor=ex)
    if as_json:
        return emit_json(rep.as_dict())
    _show(rep)


def _show(rep):
    d = rep.as_dict()
    inp = d["inputs"]
    c = console()
    c.print(f"Data: {rep.name}, N = {rep.samples:,} inputs of dimension n0 = {rep.input_dim} (rank {rep.rank}); "
            "no preprocessing (each input's ratio is scale-invariant; only the data's cosines matter)")
    t = table(f"Certified width: L = {inp['depth']}, δ = {inp['delta']:g}, ε = {inp['eps']:g} ({inp['norm']} norm, "
              f"{inp['layers']} layers), confidence {rep.confidence:g}",
              ("quantity", "width", "what it is"), {"width": "right"})
    if rep.certified_by == "test":
        what = (f"certified: {rep.failures}/{rep.trials} networks failed; one-sided Clopper–Pearson bound "
                f"{rep.cp_upper:.4f} ≤ δ at level 1 − α_j, α_j = {rep.alpha_j:.3g}")
    elif rep.certified_by == "exact":
        what = "every input points in one direction: the exact one-input width"
    else:
        what = "no tested width was accepted: the union bound's width plus its numerical uncertainty (rigorous)"
    t.add_row("certified width", f"{rep.certified_width:,}", what)
    t.add_row("union bound (exact_union)", f"{rep.union_width:,}",
              f"rigorous for any {rep.samples:,} inputs; {rep.ratio:.2f} × the certified width")
    if rep.product_width is not None:
        t.add_row("product bound (chernoff_product)", f"{rep.product_width:,}",
                  f"rigorous; {rep.product_width / rep.certified_width:.2f} × the certified width")
    t.add_row("one input (exact)", f"{rep.single_width:,}", "exact lower bound: no data set passes below it")
    c.print(t)
    tt = table("Tested widths (in order)", ("j", "width", "phase", "α_j", "failures", "CP upper", "accepted", "s"),
               {k: "right" for k in ("j", "width", "α_j", "failures", "CP upper", "s")})
    for x in rep.tests:
        tt.add_row(str(x.j), f"{x.width:,}", x.phase, f"{x.alpha_j:.3g}", f"{x.failures}/{x.trials}",
                   f"{x.cp_upper:.4f}", "yes" if x.accepted else "no", f"{x.seconds:.1f}")
    if rep.tests:
        c.print(tt)
    m, e = d["monotonicity"], d["estimate"]
    spend = "α_j = 6α/(π² j²)" if inp["spending"] == "basel" else "α_j = α/2^j"
    c.print(f"Error spending: test j at level {spend}, Σ α_j ≤ α = {1 - rep.confidence:.3g}: with probability ≥ "
            f"{rep.confidence:g} every accepted width has failure probability ≤ δ (fresh networks per test).")
    c.print(f"Monotonicity (assumed for 'smallest'): {m['inversions']} of {m['pairs']} pairs of tested widths have a "
            f"higher failure frequency at the larger width; {len(m['significant'])} significant "
            f"(disjoint {m['level']:g} Clopper–Pearson intervals).")
    c.print(f"Time: {rep.seconds:,.1f} s measured ({e['model_seconds_spent']:,.1f} s by the cost model, worst case "
            f"{e['worst_case_seconds']:,.0f} s); {inp['trials']:,} networks per width, Gram sampler in "
            f"{inp['precision']}, about {e['seconds_per_network_at_certified']:.3g} s per network at the certified "
            f"width by the model.")
    for note in rep.notes:
        c.print(f"note: {note}")


COMMANDS = (certify,)
