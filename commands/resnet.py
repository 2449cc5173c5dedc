"""`initbounds resnet`: length moments of residual networks and the FM1 condition (HR18)."""
from __future__ import annotations

from typing import Optional


from ..bounds.resnet import resnet_report
from ._options import command, json_option, option, plot_option
from ._render import emit_json, print_lines, progress, show

__all__ = ["resnet", "COMMANDS"]


@command(resnet_report)
def resnet(
    blocks: int = option(help="Residual blocks B ({range})."),
    width: int = option(help="Residual stream width n ({range})."),
    branch_width: int = option(help="Branch hidden width m ({range})."),
    eta: float = option(help="Branch scale η ({range}): x ← x + η_b W₂ relu(W₁x)."),
    schedule: str = option("const", help="η_b schedule: const (η), inv (η/b) or invsqrt (η/√b)."),
    plot: Optional[str] = plot_option("E‖x_b‖²/‖x_0‖² against b for the three schedules"),
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

        with progress(disable=as_json, count="") as bar:      # one stage (the curves take ~5 s at 10^6 blocks)
            bar.update(bar.add_task(f"per-block curves ({blocks:,} blocks × 3 schedules) and plot", total=None))
            plot_residual_growth(blocks, width, branch_width, eta, plot)
        out["plot"] = plot
    if as_json:
        return emit_json(out)
    c = show(report, lines=False)
    statement, *rest = report.lines
    c.print(("[green]" if out["fm1"] else "[red]") + statement + "[/]")
    print_lines(c, rest)
    if plot:
        c.print(f"wrote {plot}")


COMMANDS = (resnet,)
