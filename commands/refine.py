"""`initbounds refine`: J18's per-block measurements of a residual MLP trained on digits, beside
the closed forms at initialization (simulation)."""
from __future__ import annotations

import math
from typing import Optional

import typer

from ._options import command, json_option, option, plot_option
from ._render import console, emit_json, progress, show, table

__all__ = ["refine", "COMMANDS"]


def _c(name):
    from ..sim.refine import REFINE_CONSTRAINTS

    return REFINE_CONSTRAINTS[name]


@command()
def refine(
    blocks: int = option(8, help="Residual blocks B ({range}).", constraint=_c("blocks")),
    width: int = option(32, help="Width n of the residual stream and of each branch ({range}).",
                        constraint=_c("width")),
    alpha: float = option(0.5, help="Branch scale α ({range}): F = α·W₂ relu(W₁h).", constraint=_c("alpha")),
    shared: bool = typer.Option(False, "--shared", help="Share one block's weights across all B steps."),
    norm: str = option("none", help="Batch norm in the branch: none, bn (γ₀ = 1) or ubn (own statistics per step, "
                                    "γ₀ = 0.1: J18's remedy).", constraint=_c("norm")),
    variant: str = option("post", help="Branch order: post (linear-norm-relu-linear-norm) or pre "
                                       "(norm-relu-linear-norm-relu-linear).", constraint=_c("variant")),
    steps: int = option(1000, help="SGD steps ({range}).", constraint=_c("steps")),
    lr: float = option(0.05, help="Learning rate η ({range}).", constraint=_c("lr")),
    batch: int = option(32, help="Mini-batch size S ({range}; without replacement within an epoch).",
                        constraint=_c("batch")),
    momentum: float = option(0.0, help="Heavy-ball momentum ({range}; 0: plain SGD).", constraint=_c("momentum")),
    seeds: int = option(3, help="Seeds K ({range}): data split, initialization and mini-batch order each.",
                        constraint=_c("seeds")),
    seed: int = option(0, help="First seed ({range}); the run uses seeds seed … seed+K−1.", constraint=_c("seed")),
    plot: Optional[str] = plot_option("the J18 figure (cosine heatmaps, ‖F‖/‖h‖, block dropping, sharing, gap)"),
    as_json: bool = json_option(),
):
    """J18 (residual blocks refine iteratively): per-block cosines, ‖F‖/‖h‖, block dropping and
    shared vs unshared blocks for a residual MLP trained on digits, beside the closed forms."""
    from ..bounds.refine import refine_report
    from ..sim.refine import RefineConfig, findings, plot_refine, run_refine

    config = RefineConfig(blocks=blocks, width=width, alpha=alpha, shared=shared, norm=norm, variant=variant,
                          steps=steps, lr=lr, batch=batch, momentum=momentum, seeds=seeds, seed=seed)
    closed = refine_report(blocks, width, alpha)
    with progress(disable=as_json, description="training", count="{task.completed:.0f}/{task.total} steps") as bar:
        task = bar.add_task("steps", total=None)
        res = run_refine(config, progress=lambda done, total: bar.update(task, completed=done, total=total))
    if plot:
        plot_refine(res, plot)
    found = findings(res)
    if as_json:
        out = res.as_dict()
        out["closed_forms"] = closed.as_dict()
        out["findings"] = [{**f, "estimate": None if f["estimate"] is None else
                            {"mean": f["estimate"][0], "ci": [f["estimate"][1], f["estimate"][2]]}} for f in found]
        if plot:
            out["plot"] = plot
        return emit_json(out)
    _show(res, closed, found, plot)


def _ci(t, fmt=".3f"):
    """(mean, lo, hi) as text; '—' when nothing was measured."""
    if t is None or not all(math.isfinite(v) for v in t):
        return "—"
    return f"{t[0]:{fmt}} [{t[1]:{fmt}}, {t[2]:{fmt}}]"


def _show(res, closed, found, plot):
    c = console()
    cfg = res.config
    K = len(res.cos_backprop)
    show(closed, c=c, lines=False)
    s = res.summary()
    across = f"95 % Student-t CI across {K} seeds" if K > 1 else "one seed: no interval across seeds"
    t = table(f"per block after {cfg.steps} steps ({across}); residual MLP B = {cfg.blocks}, n = {cfg.width}, "
              f"α = {cfg.alpha:g}, {'shared' if cfg.shared else 'unshared'}, norm {cfg.norm}, {cfg.variant}",
              ("block", "cos backprop", "cos head_at_h", "‖F‖/‖h‖ init", "‖F‖/‖h‖ end", "Δloss, block dropped",
               "Δaccuracy"))
    for i in range(cfg.blocks):
        t.add_row(str(i + 1), _ci(s["cos_backprop_end"][i]), _ci(s["cos_head_at_h_end"][i]), _ci(s["ratio_init"][i]),
                  _ci(s["ratio_end"][i]), _ci(s["drop_loss"][i]), _ci(s["drop_acc"][i], "+.3f"))
    c.print(t)
    c.print(f"measured on the first {cfg.probe} test examples of each seed's split (per example, then averaged); "
            f"block dropping on the whole test split. Train accuracy {_ci(s['train_acc'])}, test accuracy "
            f"{_ci(s['test_acc'])}." + (f" Examples × blocks without a cosine (a zero norm): {res.excluded}."
                                        if res.excluded else ""))
    if res.sharing:
        st = table("sharing at initialization (batch statistics): mean ‖h_B‖/‖h_0‖", ("design", "‖h_B‖/‖h_0‖"))
        for k, v in s["sharing_last"].items():
            st.add_row(k, _ci(v, ".4g"))
        c.print(st)
    if res.gap:
        gt = table(f"equal weight count after {cfg.steps} steps (shared: branch width B·n)",
                   ("design", "parameters", "test accuracy", "train − test accuracy", "test − train loss", "diverged"))
        for k, v in s["gap"].items():
            gt.add_row(k, str(v["params"]), _ci(v["test_acc"]), _ci(v["acc_gap"]), _ci(v["loss_gap"]),
                       f"{v['diverged_seeds']}/{K}")
        c.print(gt)
    ft = table("J18's statements beside our figures (where the interval lies; not a test)",
               ("J18 says", "we measured", "ours", "position"))
    style = {"agrees": "green", "contradicts": "red", "undecided": "yellow", "not measured": "dim"}
    for f in found:
        ft.add_row(f["paper"], f"{f['quantity']} (paper: {f['direction']} {f['reference']:g})",
                   _ci(f["estimate"], ".3g"), f"[{style[f['verdict']]}]{f['verdict']}[/]")
    c.print(ft)
    c.print(f"{res.seconds:.1f} s ({res.train_seconds:.1f} s in training loops, measurements included)")
    if plot:
        c.print(f"wrote {plot}")


COMMANDS = (refine,)
