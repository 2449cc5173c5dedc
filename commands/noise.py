"""`initbounds noise`, `initbounds breakeven`, `initbounds three-factors`: SGD noise and curvature
measured exactly on digits, and the J20 and J17 experiments (simulation)."""
from __future__ import annotations

from typing import Optional

import numpy as np

from ..bounds.errors import (COUNT, NONNEGATIVE_INT, POSITIVE, Constraint, DomainError, Integral, Interval, Options,
                             Real)
from ._options import command, json_option, option, plot_option
from ._render import console, emit_json, progress, show, table

__all__ = ["noise", "breakeven", "three_factors", "COMMANDS"]


class RealList(Constraint):
    """A non-empty comma-separated list of reals, each inside ``item`` (e.g. learning rates)."""

    metavar = "X,X,..."

    def __init__(self, item: Interval, *, example: str, at_least: int = 1):
        self.item, self.example, self.at_least = item, example, at_least

    def describe(self) -> str:
        return f"a list of at least {self.at_least} distinct numbers {self.item.range_text()}"

    def range_text(self) -> str:
        return f"each {self.item.range_text()}"

    def expects(self) -> str:
        return f"comma-separated numbers {self.item.range_text()} (e.g. {self.example})"

    def parse(self, text: str):
        return [float(p.strip()) for p in str(text).split(",")]

    def validate(self, name: str, value, *, item: str = ""):
        out = tuple(self.item.validate(name, v, item=f"{item}[{i}]") for i, v in enumerate(value))
        if len(set(out)) < self.at_least:
            raise DomainError.must(name, f"list at least {self.at_least} distinct values",
                                   ",".join(f"{v:g}" for v in out) or "none", item=item)
        return out

    def invalid_example(self):
        return [0.0]


class IntList(RealList):
    """A comma-separated list of integers (e.g. batch sizes)."""

    def parse(self, text: str):
        return [int(p.strip()) for p in str(text).split(",")]

    def invalid_example(self):
        return [0]

MODEL = Options(("mlp", "cnn"))


def _width(model: str, width: Optional[int]) -> int:
    """The default width: 64 hidden units for the MLP, 16 channels for the CNN (the training core's)."""
    return width if width is not None else (64 if model == "mlp" else 16)


def typer_flag(flag: str, help: str):
    import typer

    return typer.Option(False, flag, help=help)

STEPS = Interval(Integral, 0, 10**5)
TOPK = Interval(Integral, 1, 20)
PROBES = Interval(Integral, 2, 10**4)
EXAMPLES = Interval(Integral, 2, None, closed="left")
DEPTH = Interval(Integral, 0, 1000)


@command()
def noise(
    model: str = option("mlp", help="Model: mlp (digits MLP) or cnn (small CNN on 8×8 images).", constraint=MODEL),
    width: Optional[int] = option(None, help="Hidden width of the MLP, or channels of the CNN ({range}) "
                                             "[default: 64 for the MLP, 16 for the CNN].", constraint=COUNT),
    depth: int = option(2, help="Hidden layers of the MLP ({range}; ignored by the CNN).", constraint=DEPTH),
    batch: int = option(32, help="Batch size S ({range}, at most the 1347 training digits).", constraint=COUNT),
    lr: float = option(0.1, help="Learning rate η ({range}).", constraint=POSITIVE),
    steps: int = option(0, help="SGD steps before the second measurement ({range}; 0: at initialization only).",
                        constraint=STEPS),
    k: int = option(3, help="Top eigenvalues of K and H to report ({range}).", constraint=TOPK),
    probes: int = option(30, help="Hutchinson probes for Tr H ({range}).", constraint=PROBES),
    examples: Optional[int] = option(None, help="Measure on the first M training examples ({range}; default: all "
                                                "1347).", constraint=EXAMPLES),
    seed: int = option(0, help="Seed of the split, weights, batches, Lanczos start and probes ({range}).",
                       constraint=NONNEGATIVE_INT),
    as_json: bool = json_option(),
):
    """SGD noise and curvature of a digits model, exactly: Tr K, λ_K, λ_H (Lanczos), Tr H
    (Hutchinson), s², the mini-batch noise, J17's noise scale and J20's stability condition."""
    from ..bounds.noise import noise_report
    from ..sim.noise import noise_run

    width = _width(model, width)
    with progress(disable=as_json, count="") as bar:
        task = bar.add_task("measuring", total=None)
        out = noise_run(model=model, width=width, depth=depth, batch=batch, lr=lr, steps=steps, seed=seed, k=k,
                        probes=probes, examples=examples, progress=lambda s: bar.update(task, description=s))
    reports = [("init", noise_report(out["init"], lr=lr, batch=batch))]
    if out["final"] is not None:
        reports.append(("final", noise_report(out["final"], lr=lr, batch=batch)))
    result = {"inputs": {"model": model, "width": width, "depth": depth, "batch": batch, "lr": lr, "steps": steps,
                         "k": k, "probes": probes, "examples": examples, "seed": seed},
              "init": reports[0][1].as_dict(), "final": reports[1][1].as_dict() if len(reports) > 1 else None,
              "diverged_at": out["train"]["diverged_at"] if out["train"] else None}
    if as_json:
        return emit_json(result)
    c = console()
    for name, r in reports:
        c.print(f"[bold]{'at initialization' if name == 'init' else f'after {steps} SGD steps'}[/]")
        show(r, c=c, lines=False)
    for line in reports[0][1].lines:
        c.print(line)
    if steps and out["final"] is None:
        c.print(f"[red]training diverged at step {result['diverged_at']} (non-finite loss): no final measurement[/]")


LRS = RealList(Interval(Real, 0, 10, closed="right"), example="0.01,0.1", at_least=2)
RECORD = Interval(Integral, 1, 10**5)
SEEDS = Interval(Integral, 1, 1000)


def _ratio(c) -> str:
    lo, hi = c["ratio_ci"]
    ci = "[—]" if lo is None or hi is None else f"[{lo:.3g}, {hi:.3g}]"
    return f"{c['ratio_small_over_large']:.3g} {ci}"


def _steps_text(vals) -> str:
    return ", ".join("never" if v is None else str(v) for v in vals)


@command()
def breakeven(
    lrs: Optional[str] = option(None, help="Learning rates to compare ({range}) [default: 0.01,0.1].", constraint=LRS),
    steps: int = option(300, help="SGD steps per run ({range}).", constraint=STEPS),
    record_every: int = option(25, help="Record every this many steps ({range}).", constraint=RECORD),
    seeds: int = option(5, help="Initializations (paired across the learning rates) ({range}).", constraint=SEEDS),
    model: str = option("mlp", help="Model: mlp or cnn.", constraint=MODEL),
    width: Optional[int] = option(None, help="MLP width or CNN channels ({range}) [default: 64 for the MLP, 16 for "
                                             "the CNN].", constraint=COUNT),
    depth: int = option(2, help="MLP hidden layers ({range}).", constraint=DEPTH),
    batch: int = option(32, help="Batch size S ({range}, at most 1347).", constraint=COUNT),
    examples: int = option(512, help="Measure on the first M training examples ({range}).", constraint=EXAMPLES),
    alpha: bool = typer_flag("--alpha", "Also record J20's proxy α* (smallest multiple of an SGD step raising the "
                                        "loss by 20 %)."),
    seed: int = option(0, help="Seed of the split and of every draw ({range}).", constraint=NONNEGATIVE_INT),
    plot: Optional[str] = plot_option("J20's figure (λ_H¹, λ_K¹, Tr K/λ_K¹, Tr K, stability LHS, accuracy vs step)"),
    as_json: bool = json_option(),
):
    """J20's break-even experiment on digits: the spectra of K and H along SGD runs at two or more
    learning rates, the stability condition, and Conjectures 1 and 2 as measurement claims."""
    from ..sim.noise import breakeven_run, plot_breakeven

    width = _width(model, width)
    lrs = (0.01, 0.1) if lrs is None else lrs
    with progress(disable=as_json, description="recorded points") as bar:
        task = bar.add_task("recorded points", total=None)
        res = breakeven_run(lrs=lrs, model=model, width=width, depth=depth, batch=batch, steps=steps,
                            record_every=record_every, seeds=seeds, examples=examples, seed=seed, alpha=alpha,
                            progress=lambda done, total: bar.update(task, completed=done, total=total))
    if plot:
        plot_breakeven(res, plot)
        res["plot"] = plot
    if as_json:
        return emit_json(res)
    c = console()
    s = res["settings"]
    t = table(f"J20 break-even on digits: {model} (width {width}, depth {depth}), S = {batch}, {steps} steps, "
              f"{seeds} seeds, measured on {s['examples']} of N = {s['n_train']} examples",
              ("η", "break-even step (LHS ≥ 1), per seed", "first step λ_H¹ ≥ 2/η", "max λ_H¹, steps > 0 (median)",
               "max λ_K¹, steps > 0 (median)", "final train acc (median)"))
    for lr in s["lrs"]:
        runs = [u for u in res["runs"] if u["lr"] == lr]
        def med(key):
            vals = [u["max_after_init"][key] for u in runs if u["max_after_init"][key] is not None]
            return f"{_median(vals):.4g}" if vals else "—"

        t.add_row(f"{lr:g}", _steps_text([u["breakeven_step"] for u in runs]),
                  _steps_text([u["lambda_h_reaches_2_over_lr"] for u in runs]), med("lambda_h"), med("lambda_k"),
                  f"{_median([u['curves']['train_acc'][-1] for u in runs]):.4f}")
    c.print(t)
    t = table(f"J20's statements beside our runs (η = {s['lrs'][0]:g} vs {s['lrs'][-1]:g}; maxima over steps > 0; "
              f"ratio small-η/large-η, geometric mean over seeds, t-interval at {res['claims'][0]['level']:.4f})",
              ("paper (J20, arXiv 2002.09572)", "our ratio [interval]", "seeds agreeing", "verdict"))
    for cl in res["claims"]:
        t.add_row(cl["paper"], _ratio(cl), f"{cl['seeds_agreeing']}/{cl['seeds']}", cl["verdict"])
    c.print(t)
    c.print("verdict: reproduced / contradicted when the interval excludes 1 on the paper's / the other side; "
            "a non-reproduction is a finding about this setting, not a toolkit failure")
    if plot:
        c.print(f"wrote {plot}")


def _median(vals) -> float:
    v = sorted(vals)
    n = len(v)
    return v[n // 2] if n % 2 else 0.5 * (v[n // 2 - 1] + v[n // 2])


GRID_LRS = RealList(Interval(Real, 0, 10, closed="right"), example="0.025,0.05,0.1,0.2,0.4")
GRID_BATCHES = IntList(Interval(Integral, 1, 1347), example="16,32,64,128")
EPOCHS = Interval(Integral, 1, 1000)


def _ci(v) -> str:
    return "[—]" if v is None or v[0] is None else f"[{v[0]:.3g}, {v[1]:.3g}]"


def _num(v, fmt=".3g") -> str:
    return "—" if v is None else format(v, fmt)


@command()
def three_factors(
    lrs: Optional[str] = option(None, help="Learning rates η of the grid ({range}) [default: 0.025,0.05,0.1,0.2,0.4].",
                                constraint=GRID_LRS),
    batches: Optional[str] = option(None, help="Batch sizes S of the grid ({range}) [default: 16,32,64,128].",
                                    constraint=GRID_BATCHES),
    epochs: int = option(10, help="Epochs per run ({range}); ⌊N/S⌋ steps each.", constraint=EPOCHS),
    seeds: int = option(3, help="Initializations, shared by the whole grid ({range}).", constraint=SEEDS),
    model: str = option("mlp", help="Model: mlp or cnn.", constraint=MODEL),
    width: Optional[int] = option(None, help="MLP width or CNN channels ({range}) [default: 64 for the MLP, 16 for "
                                             "the CNN].", constraint=COUNT),
    depth: int = option(2, help="MLP hidden layers ({range}).", constraint=DEPTH),
    examples: int = option(512, help="Measure λ_H¹ on the first M training examples ({range}).", constraint=EXAMPLES),
    seed: int = option(0, help="Seed of the split and of every draw ({range}).", constraint=NONNEGATIVE_INT),
    plot: Optional[str] = plot_option("J17's figure (final λ_H¹ and test accuracy vs η/S)"),
    as_json: bool = json_option(),
):
    """J17's three factors on digits: a grid over (η, S) with diagonals of equal η/S; final
    sharpness and test accuracy against η/S, and whether the runs collapse onto η/S."""
    from ..sim.noise import plot_three_factors, three_factors_run

    width = _width(model, width)
    lrs = (0.025, 0.05, 0.1, 0.2, 0.4) if lrs is None else lrs
    batches = (16, 32, 64, 128) if batches is None else batches
    with progress(disable=as_json, description="runs") as bar:
        task = bar.add_task("runs", total=None)
        res = three_factors_run(lrs=lrs, batches=batches, epochs=epochs, seeds=seeds, model=model, width=width,
                                depth=depth, examples=examples, seed=seed,
                                progress=lambda done, total: bar.update(task, completed=done, total=total))
    if plot:
        plot_three_factors(res, plot)
        res["plot"] = plot
    if as_json:
        return emit_json(res)
    c = console()
    s = res["settings"]
    t = table(f"J17 three factors on digits: {model} (width {width}, depth {depth}), {epochs} epochs, {seeds} seeds; "
              "mean over seeds", ("η", "S", "η/S", "final λ_H¹", "test acc", "deviation of log λ_H¹ from its diagonal"))
    devs = {(d["lr"], d["batch"]): d for d in (res["log_sharpness"] or {}).get("configs", [])}
    for lr in s["lrs"]:
        for b in s["batches"]:
            runs = [u for u in res["runs"] if u["lr"] == lr and u["batch"] == b]
            if any(u["lambda_h"] is None for u in runs):
                t.add_row(f"{lr:g}", str(b), f"{lr / b:.3g}", "diverged or λ_H¹ ≤ 0", "—", "—")
                continue
            d = devs.get((lr, b))
            dev = "—" if d is None or d["deviation"] is None else \
                f"{d['deviation']:+.3f} {_ci(d['deviation_ci'])}{' *' if d['off_diagonal'] else ''}"
            t.add_row(f"{lr:g}", str(b), f"{lr / b:.3g}", f"{np.mean([u['lambda_h'] for u in runs]):.4g}",
                      f"{np.mean([u['test_acc'] for u in runs]):.4f}", dev)
    c.print(t)
    c.print(f"paper: {res['paper']}")
    for key, name in (("log_sharpness", "log λ_H¹"), ("test_acc", "test accuracy")):
        a = res[key]
        if a is None:
            c.print(f"{name}: fewer than two configurations trained; no collapse statistic")
            continue
        c.print(f"ours, {name}: spread within diagonals {_num(a['within'])} {_ci(a['within_ci'])}, across diagonals "
                f"{_num(a['across'])} {_ci(a['across_ci'])}, ratio {_num(a['within_over_across'])} "
                f"{_ci(a['within_over_across_ci'])}; slope per doubling of η/S {_num(a['slope_per_doubling'])} "
                f"{_ci(a['slope_ci'])}")
        byl = ", ".join(f"η={k}: {v:.3f}" for k, v in a["mean_abs_deviation_by_lr"].items())
        c.print(f"  mean |deviation| from the diagonal by η: {byl or '—'}")
    c.print(f"intervals: {100 * s['level']:g} % percentile bootstrap over the {seeds} seeds ({s['bootstrap']} resamples); "
            "* marks a config whose interval excludes 0 (off its diagonal)")
    if res["diverged_or_negative"]:
        c.print("diverged or λ_H¹ ≤ 0: " + ", ".join(f"η={lr:g}, S={b}" for lr, b in res["diverged_or_negative"]))
    if plot:
        c.print(f"wrote {plot}")


COMMANDS = (noise, breakeven, three_factors)
