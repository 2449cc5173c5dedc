"""`initbounds resnet`: length moments of residual networks and the FM1 condition (HR18)."""
from __future__ import annotations

from typing import Optional


from ..bounds.errors import NONNEGATIVE_INT
from ..bounds.resnet import resnet_report
from ._options import command, json_option, option, plot_option
from ._render import emit_json, print_lines, progress, show

__all__ = ["resnet", "COMMANDS", "PLOT_SIM_BLOCKS", "PLOT_SIM_WORK"]

#: --plot simulates only up to this many blocks, and this many multiply-adds (about 10 s here).
PLOT_SIM_BLOCKS = 10_000
PLOT_SIM_WORK = 1e10


@command(resnet_report)
def resnet(
    blocks: int = option(help="Residual blocks B ({range})."),
    width: int = option(help="Residual stream width n ({range})."),
    branch_width: int = option(help="Branch hidden width m ({range})."),
    eta: float = option(help="Branch scale η ({range}): x ← x + η_b W₂ relu(W₁x)."),
    schedule: str = option("const", help="η_b schedule: const (η), inv (η/b) or invsqrt (η/√b)."),
    plot: Optional[str] = plot_option("E‖x_b‖²/‖x_0‖² against b for the three schedules"),
    trials: int = option(1000, help="Simulated networks per schedule drawn on --plot ({range}; 0: theory only; "
                                    f"skipped beyond {PLOT_SIM_BLOCKS:,} blocks or {PLOT_SIM_WORK:.0e} multiply-adds).",
                         constraint=NONNEGATIVE_INT),
    seed: int = option(0, help="Seed of --plot's simulation ({range}).", constraint=NONNEGATIVE_INT),
    as_json: bool = json_option(),
):
    """Length moments of residual networks and the FM1 condition on the branch scales (HR18)."""
    if plot:
        from ..bounds.resnet import check_curve_blocks

        check_curve_blocks(blocks)      # the per-block curves' memory, before the work
    report = resnet_report(blocks, width, branch_width, eta, schedule=schedule)
    out = report.as_dict()
    if plot:
        from ..sim.plots import plot_residual_growth

        work = 3 * trials * blocks * 2 * width * branch_width
        sim_trials = trials if blocks <= PLOT_SIM_BLOCKS and work <= PLOT_SIM_WORK else 0
        sims = None
        with progress(disable=as_json, count="") as bar:      # (the curves take ~5 s at 10^6 blocks)
            if sim_trials:
                from ..sim.core import Stream
                from ..sim.resnet import sample_residual

                task = bar.add_task(f"simulating {sim_trials:,} networks × 3 schedules", total=3)
                sims = {}
                for k, sc in enumerate(("const", "invsqrt", "inv")):
                    sims[sc] = sample_residual(blocks, width, branch_width, eta, sim_trials, schedule=sc,
                                               stream=Stream(seed, f"resnet-plot/{sc}"))
                    bar.update(task, completed=k + 1)
            bar.update(bar.add_task(f"per-block curves ({blocks:,} blocks × 3 schedules) and plot", total=None))
            plot_residual_growth(blocks, width, branch_width, eta, plot, sim=sims, seed=seed)
        out["plot"] = plot
        out["plot_trials"] = sim_trials
    if as_json:
        return emit_json(out)
    c = show(report, lines=False)
    statement, *rest = report.lines
    c.print(("[green]" if out["fm1"] else "[red]") + statement + "[/]")
    print_lines(c, rest)
    if plot:
        c.print(f"wrote {plot}")


COMMANDS = (resnet,)
