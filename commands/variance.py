"""`initbounds variance`: length moments with depth, their exact law, Jacobian fluctuations (HR18, H18)."""
from __future__ import annotations

from typing import Any, Optional


from ..bounds.errors import NONNEGATIVE_INT, InitBoundsError
from ..bounds.variance import variance_report
from ._options import command, json_option, option, plot_option
from ._render import emit_json, progress, show

__all__ = ["variance", "sample_length_ratios", "COMMANDS"]


def sample_length_ratios(widths, trials, weight_var, seed, device, path, progress=None):
    """Simulated M_d/M_0 for a density plot (None when ``trials`` is 0)."""
    if trials == 0:
        return None
    from ..sim.variance import sample_length_ratios as sample

    return sample(widths, trials, weight_var=weight_var, seed=seed, device=device, path=path, progress=progress)


@command(variance_report)
def variance(
    widths: Any = option(help="Comma-separated ReLU layer widths n_1..n_d, e.g. 16,16,16 ({range})."),
    input_dim: Optional[int] = option(None, help="n0 ({range}): needed for non-Gaussian weights and the Jacobian."),
    weight_var: Any = option("2", help="c in Var W = c/fan-in ({range}; He: 2), or one per layer (comma-separated)."),
    bias_var: Any = option("0", help="Bias variance s² ({range}), or one per layer."),
    weights: str = option("gaussian", help="Weight law: gaussian, uniform, rademacher or laplace."),
    input_flatness: Optional[float] = option(None, help="q = Σx⁴/(Σx²)² of the input, in [1/n0, 1] (default 1/n0: "
                                                        "all |x_i| equal)."),
    target_var: Optional[float] = option(None, help="Also solve for the constant width with Var M_d/M_0² ≤ v at "
                                                    "this depth (v {range})."),
    plot: Optional[str] = plot_option("the exact density of log(M_d/M_0)"),
    trials: int = option(0, help="With --plot: simulated networks drawn over the density ({range}).",
                         constraint=NONNEGATIVE_INT),
    seed: int = option(0, help="Seed of the simulation ({range}).", constraint=NONNEGATIVE_INT),
    as_json: bool = json_option(),
):
    """Mean and variance of the activation length with depth, its exact law, Jacobian fluctuations
    (HR18, H18). Fan-in convention; M_j = ‖h_j‖²/n_j (squared norm per unit)."""
    report = variance_report(widths, input_dim=input_dim, weights=weights, weight_var=weight_var,
                             bias_var=bias_var, input_flatness=input_flatness, target_var=target_var)
    out = report.as_dict()
    if plot:
        law = report.objects["law"]
        if law is None:
            raise InitBoundsError("--plot needs Gaussian weights and zero bias (the exact law is only known there)")
        from ..sim.plots import plot_length_density

        with progress(disable=as_json) as bar:
            task = bar.add_task("simulating networks", total=trials or None)
            sim = sample_length_ratios(list(law.widths), trials, weight_var, seed, "cpu", "auto",
                                       progress=lambda done, total: bar.update(task, completed=done, total=total))
            bar.update(task, description="plotting")
            plot_length_density(law, plot, sim=sim, seed=seed,
                                p_off={"p": out["law"]["p_off_by_2"], "tolerance": out["law"]["p_off_by_2_tolerance"]},
                                title=f"widths {','.join(map(str, law.widths))} (β = {out['beta']:.3g})")
        out["plot"] = plot
    if as_json:
        return emit_json(out)
    show(report)


COMMANDS = (variance,)
