"""`initbounds trainability`: HR18's trainability experiment on digits (simulation)."""
from __future__ import annotations

import math
from typing import Any, Optional

from ..bounds.errors import (COUNT, NONNEGATIVE_INT, POSITIVE, Constraint, InitBoundsError, IntegerList, Interval,
                             Options, Real)
from ._options import command, json_option, option, plot_option
from ._render import console, emit_json, progress, table

__all__ = ["trainability", "COMMANDS"]


class Configs(Constraint):
    """Explicit (width, depth) pairs, written WIDTHxDEPTH and comma-separated (e.g. 16x2,32x4)."""

    metavar = "WxD,WxD,..."

    def describe(self) -> str:
        return "comma-separated WIDTHxDEPTH pairs (e.g. 16x2,32x4)"

    def range_text(self) -> str:
        return "widths and depths ≥ 1"

    def parse(self, text: str):
        pairs = [tuple(int(v) for v in p.strip().lower().replace("×", "x").split("x")) for p in text.split(",")]
        if any(len(p) != 2 for p in pairs):
            raise ValueError(text)
        return pairs

    def validate(self, name: str, value, *, item: str = ""):
        return [(COUNT.validate(name, w, item=f"{item}[{i}] width"), COUNT.validate(name, d, item=f"{item}[{i}] depth"))
                for i, (w, d) in enumerate(value)]

    def invalid_example(self):
        return [(0, 1)]


DEPTHS = IntegerList(COUNT, example="2,4,8,16")
THRESHOLD = Interval(Real, 0, 1, closed="right")


@command()
def trainability(
    depths: Optional[Any] = option(None, help="Comma-separated depths (hidden ReLU layers), {range} [default: 2,4,8,16].",
                                   constraint=DEPTHS),
    family: Optional[str] = option(None, help="both, constant-beta (width = R·depth) or constant-width [default: both].",
                                   constraint=Options(("both", "constant-beta", "constant-width"))),
    width: Optional[int] = option(None, help="Width of the constant-width family ({range}) [default: R·min depth].",
                                  constraint=COUNT),
    ratio: Optional[float] = option(None, help="R {range}: width = ⌊R·depth + ½⌋ in the constant-β family (β ≈ 1/R) "
                                               "[default: 8].", constraint=POSITIVE),
    configs: Optional[Any] = option(None, help="Explicit WIDTHxDEPTH list, e.g. 16x2,16x8, {range} (instead of the families).",
                                    constraint=Configs()),
    seeds: int = option(8, help="Networks per configuration ({range}).", constraint=COUNT),
    epochs: int = option(20, help="Epoch cap ({range}); nets not at the threshold by then are censored.",
                         constraint=COUNT),
    threshold: float = option(0.9, help="Training accuracy to reach, {range}.", constraint=THRESHOLD),
    lr: float = option(0.05, help="SGD learning rate ({range}), the same for every net.", constraint=POSITIVE),
    batch_size: int = option(32, help="Minibatch size ({range}).", constraint=COUNT),
    seed: int = option(0, help="Seed of the data split, initializations and minibatch orders ({range}).",
                       constraint=NONNEGATIVE_INT),
    as_json: bool = json_option(),
    plot: Optional[str] = plot_option("epochs-to-threshold vs β and depth"),
):
    """HR18's trainability experiment on digits: epochs to a training-accuracy threshold at
    constant β = Σ1/n_j as depth grows, against constant width (β growing)."""
    if configs is not None and any(v is not None for v in (depths, family, width, ratio)):
        raise InitBoundsError("--configs replaces --depths, --family, --width and --ratio; give one or the other")
    from ..sim.trainability import estimate_trainability, make_configs, plot_trainability

    if configs is not None:
        cfgs = configs
    else:
        ds = [2, 4, 8, 16] if depths is None else depths
        ratio = 8.0 if ratio is None else ratio
        if math.floor(ratio * min(ds) + 0.5) < 1:
            raise InitBoundsError(f"--ratio × depth must round to a width ≥ 1; got {ratio:g} × {min(ds)}")
        cfgs = make_configs(ds, family="both" if family is None else family, ratio=ratio, width=width)
    with progress(disable=as_json, description="training nets", count="{task.completed:.0f}/{task.total}") as bar:
        task = bar.add_task("nets", total=seeds * len(cfgs))
        res = estimate_trainability(cfgs, nets=seeds, epochs=epochs, threshold=threshold, lr=lr,
                                    batch_size=batch_size, seed=seed,
                                    progress=lambda done, total: bar.update(task, completed=done))
    if plot:
        plot_trainability(res, plot)
    if as_json:
        return emit_json(res.as_dict())
    _show(res, threshold, epochs, lr, batch_size, seeds, seed, plot)


def _fmt_ci(lo, hi, cap: int) -> str:
    """An epochs interval: '—' when there is none, '>cap' for a censored end."""
    if lo is None and hi is None:
        return "—"
    return f"[{f'>{cap}' if lo > cap else f'{lo:g}'}, {f'>{cap}' if hi is None else f'{hi:g}'}]"


def _show(res, threshold, epochs, lr, batch_size, seeds, seed, plot):
    c = console()
    t = table(f"HR18 trainability on digits: epochs to {threshold:g} training accuracy (cap {epochs}), "
              f"SGD lr {lr:g}, batch {batch_size}, {seeds} nets per config, seed {seed}",
              ("family", "width", "depth", "β", "Var M_d/M_0²", "reached [95% CI]", "median epochs, all [95% CI]",
               "median, reached [95% CI]", "diverged", "s"))
    short = {"constant-beta": "const β", "constant-width": "const width"}
    for o in res.outcomes:
        lo, hi = o.p_reached_ci
        med_all = f">{epochs}" if o.median_all is None else f"{o.median_all:g}"
        med_r = "—" if o.median_reached is None else f"{o.median_reached:g}"
        var = "overflow" if o.var_ratio is None else f"{o.var_ratio:.4g}"
        fam = "both" if len(o.families) > 1 else short.get(o.families[0], o.families[0])
        t.add_row(fam, str(o.width), str(o.depth), f"{o.beta:.4g}", var,
                  f"{o.reached}/{o.nets} [{lo:.2f}, {hi:.2f}]", f"{med_all} {_fmt_ci(*o.median_all_ci, epochs)}",
                  f"{med_r} {_fmt_ci(*o.median_reached_ci, epochs)}", str(o.diverged), f"{o.seconds:.1f}")
    c.print(t)
    c.print("median, all: censored nets count as more than the cap; intervals for medians: order statistics, "
            "distribution-free ('—': too few nets for 95%); β and Var M_d/M_0² derived (bounds.variance, HR18 "
            "claim); epochs measured.")
    a = res.association["beta_vs_epochs"]
    lines = [("β", "all nets", a)] + [("depth", f"{f} family", v) for f, v in res.association["depth_vs_epochs"].items()]
    for x, where, a in lines:
        if a["rho"] is None:
            c.print(f"Spearman ρ({x}, epochs), {where}: undefined ({x} or epochs constant), n = {a['n']}")
        else:
            c.print(f"Spearman ρ({x}, epochs), {where}: {a['rho']:.3f}, p = {a['p_value']:.2g} "
                    f"(n = {a['n']} nets; censored ranked last)")
    c.print(f"{res.seconds:.1f} s")
    if plot:
        c.print(f"wrote {plot}")


COMMANDS = (trainability,)
