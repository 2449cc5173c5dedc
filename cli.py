"""The ``initbounds`` command: parse, call one library function, render.

No formulas and no sampling loops live here; torch is imported only by the commands that simulate
(``validate`` and ``check``).
"""
from __future__ import annotations

import json
import math
import sys
from enum import Enum
from typing import List, Optional

import typer
from rich.console import Console
from rich.table import Table

from typer.core import TyperGroup

try:  # typer ≥ 0.20 vendors click as typer._click, with Exit/Abort in typer.exceptions
    from typer import _click as click
    from typer.exceptions import Abort as _Abort, Exit as _Exit
except ImportError:  # pragma: no cover - older typer depends on click
    import click
    from click.exceptions import Abort as _Abort, Exit as _Exit

from .bounds.errors import InitBoundsError, check_choice, check_int, check_real

_state = {"debug": False}


class _Group(TyperGroup):
    """Click group whose errors are one line on stderr with exit code 2 (no usage box)."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except InitBoundsError as e:
            if _state["debug"]:
                raise
            click.echo(f"Error: {e}", err=True)
            ctx.exit(2)

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        try:
            rv = super().main(args=args, prog_name=prog_name, complete_var=complete_var,
                              standalone_mode=False, **extra)
        except _Exit as e:
            sys.exit(e.exit_code)
        except _Abort:
            click.echo("Aborted.", err=True)
            sys.exit(130)
        except click.exceptions.UsageError as e:
            name = e.param.opts[0] if getattr(e, "param", None) is not None and e.param.opts else None
            msg = e.format_message().replace("\n", " ")
            if name and name not in msg:
                msg = f"{name}: {msg}"
            click.echo("Error: " + msg, err=True)
            sys.exit(2)
        if isinstance(rv, int):
            sys.exit(rv)
        sys.exit(0)


app = typer.Typer(
    cls=_Group,
    add_completion=False,
    no_args_is_help=True,
    help="Finite-width guarantees for deep ReLU network initialization: derived and checked.",
    pretty_exceptions_enable=False,
)
derive_app = typer.Typer(help="Print a derivation (text, LaTeX or Markdown).", no_args_is_help=True)
app.add_typer(derive_app, name="derive")


class Norm(str, Enum):
    squared = "squared"
    plain = "plain"


class Layers(str, Enum):
    all = "all"
    last = "last"


class Fmt(str, Enum):
    text = "text"
    latex = "latex"
    markdown = "markdown"


def _console() -> Console:
    """Rich console; when output is not a terminal, tables get 140 columns instead of 80."""
    c = Console(highlight=False)
    if not c.is_terminal:
        c = Console(highlight=False, width=140)
    return c


def _quantity_table(title: str) -> Table:
    """The quantity / value / source table that the report commands print."""
    t = Table(title=title)
    for col in ("quantity", "value", "source"):
        t.add_column(col)
    return t


def _emit_json(obj) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, default=_json_default) + "\n")


def _json_default(o):
    if isinstance(o, float) and not math.isfinite(o):
        return None
    raise TypeError(f"not JSON serializable: {type(o).__name__}")


def _fmt_p(p: float) -> str:
    if p == 0:
        return "0"
    if p >= 1e-3:
        return f"{p:.6f}"
    return f"{p:.4e}"


def _fmt_logp(lp: float) -> str:
    if lp > math.log(1e-300):
        return _fmt_p(math.exp(lp))
    return f"10^{lp / math.log(10):.2f}"


@app.callback()
def _main(debug: bool = typer.Option(False, "--debug", help="Show tracebacks on errors.")):
    _state["debug"] = debug


# --- width -------------------------------------------------------------------------------------
def _check_design(depth, samples, delta, eps):
    check_int("--depth", depth, lo=1)
    check_int("--samples", samples, lo=1)
    check_real("--delta", delta, lo=0.0, hi=1.0, lo_open=True, hi_open=True)
    check_real("--eps", eps, lo=0.0, hi=1.0, lo_open=True, hi_open=True)


@app.command()
def width(
    depth: int = typer.Option(..., "--depth", help="Number of ReLU layers L (≥ 1)."),
    samples: int = typer.Option(1, "--samples", help="Number of inputs N that must all stay in the band (≥ 1)."),
    delta: float = typer.Option(..., "--delta", help="Failure probability δ in (0, 1)."),
    eps: float = typer.Option(..., "--eps", help="Band half-width ε in (0, 1)."),
    norm: Norm = typer.Option(Norm.squared, "--norm", help="Band on the squared norm ratio or on the plain norm ratio."),
    layers: Layers = typer.Option(Layers.all, "--layers", help="Every hidden layer, or the last layer only."),
    derive: bool = typer.Option(False, "--derive", help="Also print the derivation."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
):
    """Minimum width for ‖h_l‖ ≈ ‖x‖ (within ε) with probability ≥ 1 − δ, by four methods (AB19)."""
    _check_design(depth, samples, delta, eps)
    from .bounds.width import min_widths

    res = min_widths(depth, samples, delta, eps, norm=norm.value, layers=layers.value)
    inputs = {"depth": depth, "samples": samples, "delta": delta, "eps": eps,
              "norm": norm.value, "layers": layers.value}
    if as_json:
        _emit_json({"inputs": inputs, "methods": [
            {"name": r.name, "min_width": None if r.min_width is None else int(r.min_width), "source": r.source,
             "log_failure_bound": None if math.isnan(r.log_failure) else r.log_failure}
            for r in res]})
        return
    c = _console()
    t = Table(title=f"Minimum width: L={depth}, N={samples}, δ={delta:g}, ε={eps:g} "
                    f"({norm.value} norm, {layers.value} layers)")
    t.add_column("method")
    t.add_column("min width", justify="right")
    t.add_column("failure bound at that width", justify="right")
    t.add_column("source")
    for r in res:
        fb = "—" if math.isnan(r.log_failure) else _fmt_logp(r.log_failure)
        t.add_row(r.name, "—" if r.min_width is None else f"{r.min_width:,}", fb, r.source)
    c.print(t)
    for r in res:
        for note in r.notes:
            c.print(f"note ({r.name}): {note}")
    if derive:
        from .bounds.width import derive_width
        sys.stdout.write("\n" + derive_width().to_text() + "\n")


# --- prob --------------------------------------------------------------------------------------
@app.command()
def prob(
    width_: int = typer.Option(..., "--width", help="Layer width n (≥ 1)."),
    depth: int = typer.Option(..., "--depth", help="Number of ReLU layers L (≥ 1)."),
    eps: float = typer.Option(..., "--eps", help="Band half-width ε in (0, 1)."),
    samples: int = typer.Option(1, "--samples", help="Number of inputs N for the union bound (≥ 1)."),
    norm: Norm = typer.Option(Norm.squared, "--norm", help="Squared or plain norm ratio."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
):
    """Exact probabilities that one input stays in the ε-band, and the bounds for N inputs."""
    check_int("--width", width_, lo=1)
    check_int("--depth", depth, lo=1)
    check_real("--eps", eps, lo=0.0, hi=1.0, lo_open=True, hi_open=True)
    check_int("--samples", samples, lo=1)
    from .bounds.band import band_for_eps, band_probability
    from .bounds.width import log_failure_bound

    lo, hi = band_for_eps(eps, norm.value)
    stay = band_probability(width_, depth, lo, hi, layers="all", rtol=1e-6)
    last = band_probability(width_, depth, lo, hi, layers="last", rtol=1e-6)
    log_union = math.log(samples) + stay.logp_fail
    per_layer = log_failure_bound("chernoff_per_layer", width_, depth, samples, eps, norm=norm.value)
    product = log_failure_bound("chernoff_product", width_, depth, samples, eps, norm=norm.value)
    out = {
        "inputs": {"width": width_, "depth": depth, "eps": eps, "samples": samples, "norm": norm.value},
        "p_stay": stay.p_in, "p_last": last.p_in,
        "p_fail_stay": stay.p_fail, "p_fail_last": last.p_fail,
        "log_p_fail_stay": stay.logp_fail,
        "p_fail_union": min(1.0, math.exp(log_union)),
        "log_p_fail_union": log_union,
        "chernoff_per_layer": min(1.0, math.exp(per_layer)),
        "chernoff_product": min(1.0, math.exp(product)),
        "tolerance": max(stay.tolerance, last.tolerance),
    }
    if as_json:
        _emit_json(out)
        return
    c = _console()
    t = Table(title=f"Width {width_:,}, depth {depth}, ε = {eps:g} ({norm.value} norm)")
    t.add_column("quantity")
    t.add_column("value", justify="right")
    t.add_column("source")
    t.add_row("p_stay  (every layer in band, one input)", _fmt_p(stay.p_in), "derived, exact")
    t.add_row("p_last  (last layer in band, one input)", _fmt_p(last.p_in), "derived, exact")
    t.add_row("1 − p_stay", _fmt_logp(stay.logp_fail), "derived, exact")
    t.add_row(f"union bound over N = {samples}: N·(1 − p_stay)", _fmt_logp(min(0.0, log_union)), "derived")
    t.add_row("per-layer Chernoff bound (N inputs)", _fmt_logp(min(0.0, per_layer)), "derived")
    t.add_row("product (Doob) bound (N inputs)", _fmt_logp(min(0.0, product)), "derived")
    c.print(t)
    c.print(f"numerical tolerance (absolute, achieved by grid refinement): {out['tolerance']:.1e}")


# --- death -------------------------------------------------------------------------------------
def _parse_int_list(option: str, text: str, example: str) -> list:
    """Comma-separated integers ≥ 1, each checked with the option's name and position."""
    out = []
    for i, p in enumerate(p.strip() for p in text.split(",")):
        try:
            v = int(p)
        except ValueError:
            raise InitBoundsError(f"{option} must be comma-separated integers ≥ 1 (e.g. {example}); got {text!r}")
        out.append(check_int(f"{option}[{i}]", v, lo=1))
    return out


def _parse_width_list(text: str) -> list:
    return _parse_int_list("--widths", text, "4,4,4")


@app.command()
def death(
    widths: Optional[str] = typer.Option(None, "--widths", help="Comma-separated layer widths, e.g. 4,4,4."),
    width_: Optional[int] = typer.Option(None, "--width", help="Constant width n (with --depth)."),
    depth: Optional[int] = typer.Option(None, "--depth", help="Number of ReLU layers k (with --width or --schedule)."),
    schedule: Optional[str] = typer.Option(None, "--schedule", help="Widths n_l = ceil(c·log2(l+1) + b), given as 'c,b' (with --depth); also reports the k → ∞ limit."),
    points: int = typer.Option(1, "--points", help="Number of data points m (≥ 1)."),
    bias: bool = typer.Option(False, "--bias", help="Symmetric random biases."),
    input_dim: Optional[int] = typer.Option(None, "--input-dim", help="n0 for data in the non-negative orthant."),
    target: Optional[float] = typer.Option(None, "--target", help="Target P(point alive) in (0, 1): smallest constant width."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
):
    """Probability that a ReLU net is born alive, its bounds, and the sign-flip guarantee (RR20)."""
    if sum(v is not None for v in (widths, width_, schedule)) != 1:
        raise InitBoundsError("give one of --widths, --width with --depth, or --schedule with --depth")
    check_int("--points", points, lo=1)
    if input_dim is not None:
        check_int("--input-dim", input_dim, lo=1)
    from .bounds.death import (liveness, liveness_uniform, min_constant_width, schedule_limit,
                                 schedule_widths)

    limit = None
    if schedule is not None:
        try:
            cs, bs = (float(v) for v in schedule.split(","))
        except ValueError:
            raise InitBoundsError(f"--schedule must be 'c,b' with real c ≥ 0 and b (e.g. 2,1); got {schedule!r}")
        check_real("--schedule c", cs, lo=0.0)
        check_real("--schedule b", bs)
        if depth is None:
            raise InitBoundsError("--schedule needs --depth")
        check_int("--depth", depth, lo=1)
        if depth > 10**6:
            raise InitBoundsError(f"--depth with --schedule must be an integer in [1, 1000000]; got {depth}")
        ws = schedule_widths(depth, cs, bs)
        lv = liveness(ws, bias=bias, input_dim=input_dim)
        limit = schedule_limit(cs, bs)
        widths = f"n_l = ⌈{cs:g}·log₂(l+1) + {bs:g}⌉, l = 1..{depth:,}"
    elif widths is not None:
        if depth is not None:
            raise InitBoundsError("--depth goes with --width or --schedule, not with --widths")
        ws = _parse_width_list(widths)
        lv = liveness(ws, bias=bias, input_dim=input_dim)
    else:
        if depth is None:
            raise InitBoundsError("--width needs --depth")
        check_int("--width", width_, lo=1)
        check_int("--depth", depth, lo=1)
        lv = liveness_uniform(width_, depth, bias=bias, input_dim=input_dim)
    out = lv.as_dict()
    out["points"] = points
    out["expected_live_points"] = points * lv.p_alive_point
    if limit is not None:
        out["schedule_limit"] = {"positive": limit.converges, "lower": limit.lower, "upper": limit.upper}
    if target is not None:
        check_real("--target", target, lo=0.0, hi=1.0, lo_open=True, hi_open=True)
        out["target"] = target
        out["min_constant_width"] = min_constant_width(lv.depth, target)
    if as_json:
        _emit_json(out)
        return
    c = _console()
    arch = widths if width_ is None else f"{depth:,} layers of width {width_:,}"
    t = _quantity_table(f"Neuron death at initialization: {arch}{' (symmetric biases)' if bias else ''}")
    lg = lv.log_p_alive_point / math.log(10)
    t.add_row("P(a given point alive) = expected live fraction", f"{lv.p_alive_point:.6g}  (10^{lg:.4g})",
              "derived, exact (RR20 claim)")
    t.add_row("P(a given point dead)", f"{lv.p_dead_point:.6g}  (10^{lv.log10_p_dead_point:.4g})", "derived, exact")
    t.add_row("P(alive on S), any S: lower bound", f"{lv.lower:.6g}", "derived (RR20 claim)")
    t.add_row("P(alive on S): orthant upper bound", f"{lv.upper:.6g}", "derived (RR20 claim)")
    t.add_row(f"expected living points of {points:,}", f"{points * lv.p_alive_point:.6g}", "derived")
    t.add_row("sign-flip guarantee (live fraction ≥ 2^-k)",
              f"{lv.sign_flip_guarantee:.6g}  (10^{lv.log10_sign_flip_guarantee:.4g})", "RR20 claim, proof derived")
    if limit is not None:
        verdict = (f"> 0: in [{limit.lower:.6g}, {limit.upper:.6g}]" if limit.converges
                   else "0 (Σ 2^-n_l diverges: c ≤ 1)")
        t.add_row("lim k→∞ P(point alive) for this schedule", verdict, "derived (RR20 claim)")
    if target is not None:
        t.add_row(f"smallest constant width with P(point alive) ≥ {target:g} at depth {lv.depth:,}",
                  f"{out['min_constant_width']:,}", "derived")
    c.print(t)


# --- moment ------------------------------------------------------------------------------------
class Act(str, Enum):
    relu = "relu"
    leaky = "leaky"
    rrelu = "rrelu"
    linear = "linear"


@app.command()
def moment(
    act: Act = typer.Option(Act.relu, "--activation", help="Activation."),
    s: float = typer.Option(..., "--s", help="Moment order s in (0, 2] (s = 2 is He/LeCun)."),
    width_: int = typer.Option(..., "--width", help="Layer output count d (≥ 1)."),
    slope: Optional[float] = typer.Option(None, "--slope", help="Leaky slope a in [0, 1]."),
    lower: Optional[float] = typer.Option(None, "--lower", help="RReLU lower bound l in [0, 1)."),
    upper: Optional[float] = typer.Option(None, "--upper", help="RReLU upper bound u in (l, 1]."),
    depth: Optional[int] = typer.Option(None, "--depth", help="Depth k for the log-norm law (≥ 1)."),
    fan: str = typer.Option("out", "--fan", help="out: preserve E‖h‖^s (σ² for d = outputs); in: per-unit form σ²·d/d_in (preserves E M^(s/2), M = ‖h‖²/n)."),
    small: float = typer.Option(0.01, "--small", help="Threshold t in (0, 1) for P(‖h_k‖ ≤ t‖x‖) (with --depth)."),
    in_width: Optional[int] = typer.Option(None, "--in-width", help="Input count d_in of a rectangular layer: also report the per-unit form σ²·d/d_in."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    derive: bool = typer.Option(False, "--derive", help="Also print the derivation."),
):
    """Weight scale σ_s that preserves the s-th moment of the layer output (GH21), and the
    log-norm law it implies."""
    check_real("--s", s, lo=0.0, hi=2.0, lo_open=True)
    check_int("--width", width_, lo=1)
    if depth is not None:
        check_int("--depth", depth, lo=1)
    if in_width is not None:
        check_int("--in-width", in_width, lo=1)
    check_real("--small", small, lo=0.0, hi=1.0, lo_open=True, hi_open=True)
    if fan not in ("in", "out"):
        raise InitBoundsError(f"--fan must be one of 'in', 'out'; got {fan!r}")
    if act != Act.leaky and slope is not None:
        raise InitBoundsError("--slope goes with --activation leaky")
    if act != Act.rrelu and (lower is not None or upper is not None):
        raise InitBoundsError("--lower/--upper go with --activation rrelu")
    from .bounds.errors import DomainError
    from .bounds.moments import (activation, authors_sigma2, log_norm_params, p_small_output, sigma2,
                                sigma2_he, sigma2_large_width)

    try:
        a = activation(act.value, slope=slope, lower=lower, upper=upper)
    except DomainError as e:
        raise InitBoundsError("--" + str(e))
    v_norm = sigma2(a, width_, s)
    d_in = in_width if in_width is not None else width_
    v = v_norm if fan == "out" else v_norm * width_ / d_in
    ln = log_norm_params(a, width_, s, depth)
    out = {
        "inputs": {"activation": act.value, "s": s, "width": width_, "slope": slope, "lower": lower,
                   "upper": upper, "depth": depth, "in_width": in_width, "fan": fan},
        "sigma": math.sqrt(v), "sigma2": v, "sigma2_norm_preserving": v_norm,
        "sigma2_per_unit": v_norm * width_ / d_in, "sigma2_large_width": sigma2_large_width(a, width_, s),
        "sigma2_authors": authors_sigma2(a, width_, s), "he_sigma2": sigma2_he(a, width_),
        "mu": ln.mu, "var": ln.var, "survival": ln.survival,
    }
    if depth is not None:
        out["log_norm_mean"] = ln.mean_at_depth
        out["log_norm_var"] = ln.var_at_depth
        out["survival_at_depth"] = ln.survival ** depth
        so = p_small_output(a, width_, s, depth, small)
        out["small"] = small
        out["p_small_output"] = so.p_exact if so.p_exact is not None else so.p_clt
        out["p_small_output_method"] = "exact" if so.p_exact is not None else "CLT"
        out["p_small_output_he"] = so.p_exact_he if so.p_exact_he is not None else so.p_clt_he
        out["p_small_output_clt"] = so.p_clt
        out["p_small_output_he_clt"] = so.p_clt_he
        out["p_small_output_tolerance"] = so.tolerance
    if as_json:
        _emit_json(out)
        return
    c = _console()
    t = _quantity_table(f"Fractional-moment-preserving init: {a.label()}, s = {s:g}, d = {width_:,}")
    t.add_row(f"σ_s² (weight variance, exact, fan {fan})", f"{v:.10g}", "derived (GH21 claim)")
    t.add_row("σ_s", f"{math.sqrt(v):.10g}", "derived")
    if in_width is not None:
        t.add_row(f"per-unit form σ_s²·d/d_in (d_in = {in_width:,}; preserves E M^(s/2), M = ‖h‖²/n)",
                  f"{out['sigma2_per_unit']:.10g}", "derived")
    t.add_row("large-width series 1/(d m₁) + (2−s)v/(4d²m₁³)", f"{out['sigma2_large_width']:.10g}", "derived (sympy)")
    if out["sigma2_authors"] is not None:
        t.add_row("authors' approximation", f"{out['sigma2_authors']:.10g}", "authors' code (GH21)")
    t.add_row("He / LeCun (s = 2)", f"{out['he_sigma2']:.10g}", "derived")
    cond = " (given survival)" if act == Act.relu else ""
    t.add_row(f"per-layer log-norm mean μ_s{cond}", f"{ln.mu:.6g}", "derived")
    t.add_row(f"per-layer log-norm variance ς²{cond}", f"{ln.var:.6g}", "derived")
    t.add_row("per-layer survival", f"{ln.survival:.6g}", "derived")
    if depth is not None:
        t.add_row(f"log(‖h_k‖/‖x‖) at depth {depth}: mean kμ_s", f"{ln.mean_at_depth:.6g}", "derived (CLT in depth)")
        t.add_row("… variance kς²", f"{ln.var_at_depth:.6g}", "derived")
        meth = out["p_small_output_method"]
        t.add_row(f"P(‖h_k‖ ≤ {small:g}‖x‖) with σ_s ({meth})", f"{out['p_small_output']:.6g}", "derived")
        t.add_row(f"P(‖h_k‖ ≤ {small:g}‖x‖) with He/LeCun ({meth})", f"{out['p_small_output_he']:.6g}",
                  "derived (σ_s > σ_2: s < 2 avoids small outputs)")
    c.print(t)
    if derive:
        from .bounds.moments import derive_moment

        sys.stdout.write("\n" + derive_moment().to_text() + "\n")


# --- figure ------------------------------------------------------------------------------------
@app.command()
def figure(
    which: str = typer.Argument(..., help="Which figures: gh21, regions."),
    out: str = typer.Option("figures", "--out", help="Output directory."),
    seed: int = typer.Option(0, "--seed", help="Seed of the simulations (≥ 0)."),
    trials: Optional[int] = typer.Option(None, "--trials", help="Simulated networks per panel or point (≥ 100; default 20000 for gh21, 400 for regions)."),
):
    """Reproduce a paper's figures, theory curves over simulated data (PNG files)."""
    if which not in ("gh21", "regions"):
        raise InitBoundsError(f"FIGURE must be one of 'gh21', 'regions'; got {which!r}")
    check_int("--seed", seed, lo=0)
    if trials is not None:
        check_int("--trials", trials, lo=100)
    if which == "regions":
        from .sim.regions import figures_regions

        paths = figures_regions(out, seed=seed, trials=trials or 400)
    else:
        from .sim.moments import figures_gh21

        paths = figures_gh21(out, seed=seed, trials=trials or 20000)
    c = _console()
    for p in paths:
        c.print(f"wrote {p}")


# --- regions (HR19) ----------------------------------------------------------------------------
@app.command()
def regions(
    widths: str = typer.Option(..., "--widths", help="Comma-separated hidden widths n1,...,nd, e.g. 16,16."),
    input_dim: int = typer.Option(2, "--input-dim", help="Input dimension n0 (≥ 1)."),
    segment: bool = typer.Option(True, "--segment/--slice", help="Count along the default segment √n0·e1 → √n0·e2 (−1 → 1 for n0 = 1; exact), or on the plane through 0 spanned by e1, e2 in the window [−√n0, √n0]² (grid; a lower bound)."),
    weight_var: float = typer.Option(2.0, "--weight-var", help="c in Var W = c/fan-in (He: 2)."),
    bias_var: float = typer.Option(1.0, "--bias-var", help="Bias variance σ_b² (≥ 0; HR19's setting has biases: with none every region is a cone through 0)."),
    trials: Optional[int] = typer.Option(None, "--trials", help="Simulated networks (≥ 10; default 2000 on a segment, 200 on a slice)."),
    grid: int = typer.Option(128, "--grid", help="Grid points per side on a slice, in [2, 1024]."),
    seed: int = typer.Option(0, "--seed", help="Seed of the simulation (≥ 0)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
):
    """Activation regions at init: derived counts, HR19's claim, and an exact or grid simulation (HR19)."""
    hid = _parse_width_list(widths)
    check_int("--input-dim", input_dim, lo=1)
    check_real("--weight-var", weight_var, lo=0.0, lo_open=True)
    check_real("--bias-var", bias_var, lo=0.0)
    if trials is not None:
        check_int("--trials", trials, lo=10)
    check_int("--grid", grid, lo=2, hi=1024)
    check_int("--seed", seed, lo=0)
    if not segment and input_dim < 2:
        raise InitBoundsError(f"--slice needs --input-dim ≥ 2; got {input_dim}")
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from .sim.regions import regions_report

    mode = "segment" if segment else "slice"
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), console=Console(stderr=True), transient=True, disable=as_json) as bar:
        task = bar.add_task(f"simulating ({mode})", total=None)
        rep = regions_report(hid, input_dim, mode=mode, weight_var=weight_var, bias_var=bias_var,
                             trials=trials or (2000 if segment else 200), grid=grid, seed=seed,
                             progress=lambda done, total: bar.update(task, completed=done, total=total))
    if as_json:
        _emit_json(rep)
        return
    c = _console()
    fl, sim, hr = rep["first_layer_segment"], rep["simulated"], rep["hr19"]
    where = "the default segment" if segment else f"the window [−{math.sqrt(input_dim):.4g}, {math.sqrt(input_dim):.4g}]² of the e1–e2 plane"
    t = _quantity_table(f"Activation regions: n0 = {input_dim}, widths {widths}, on {where} "
                        f"(He fan-in c = {weight_var:g}, σ_b² = {bias_var:g})")
    whole = " = whole net" if fl["whole_network"] else ""
    t.add_row(f"first layer ({hid[0]} units){whole}: E #breakpoints on segment", f"{fl['breakpoints']:.6g}",
              "derived, exact")
    t.add_row("… E #regions on the segment = 1 + breakpoints", f"{fl['regions']:.6g}", "derived, exact")
    ow = rep["one_layer_window"]
    if ow is not None:
        t.add_row("one layer: P(a unit's line meets the window)", f"{ow['p_line']:.6g}", "derived, exact")
        t.add_row("one layer: P(two lines cross inside the window)", f"{ow['p_pair']:.6g}", "derived, exact")
        t.add_row("one layer: E #regions in the window", f"{ow['regions']:.6g}", f"derived, exact ({ow['method']})")
    t.add_row(f"HR19: #regions ≲ (#neurons)^{hr['dim']} = {rep['neurons']}^{hr['dim']}", f"{hr['value']:.6g}",
              "paper claim (HR19), order of magnitude")
    lvl = f"{100 * sim['level']:g}%"
    if segment:
        fb = sim["first_layer_breakpoints"]
        t.add_row("simulated first-layer breakpoints", f"{fb['mean']:.4f}  [{fb['ci'][0]:.4f}, {fb['ci'][1]:.4f}]",
                  f"simulation, {lvl} CI")
    if "exact_one_layer" in sim:
        ex = sim["exact_one_layer"]
        t.add_row("simulated #regions, exact arrangement count", f"{ex['mean']:.4f}  [{ex['ci'][0]:.4f}, {ex['ci'][1]:.4f}]",
                  f"simulation, {lvl} CI")
    how = "exact piece tracking" if segment else f"grid {grid}×{grid}, lower bound"
    t.add_row(f"simulated #regions ({how})", f"{sim['mean']:.4f}  [{sim['ci'][0]:.4f}, {sim['ci'][1]:.4f}]",
              f"simulation, {lvl} CI")
    c.print(t)
    c.print(f"{sim['trials']} networks, seed {seed}, {sim['seconds']:.1f} s. A region is a connected piece with a "
            "constant activation pattern" + ("." if segment else "; grid counts miss regions containing no grid point."))


# --- trainability (HR18 experiment) ------------------------------------------------------------
def _parse_depth_list(text: str) -> list:
    return _parse_int_list("--depths", text, "2,4,8,16")


def _parse_config_list(text: str) -> list:
    out = []
    for i, p in enumerate(p.strip() for p in text.split(",")):
        try:
            w, d = (int(v) for v in p.lower().replace("×", "x").split("x"))
        except ValueError:
            raise InitBoundsError(f"--configs must be comma-separated WIDTHxDEPTH pairs (e.g. 16x2,32x4); got {text!r}")
        out.append((check_int(f"--configs[{i}] width", w, lo=1), check_int(f"--configs[{i}] depth", d, lo=1)))
    return out


def _fmt_ci(lo, hi, cap: int) -> str:
    """An epochs interval: '—' when there is none, '>cap' for a censored end."""
    if lo is None and hi is None:
        return "—"
    return f"[{f'>{cap}' if lo > cap else f'{lo:g}'}, {f'>{cap}' if hi is None else f'{hi:g}'}]"


@app.command()
def trainability(
    depths: Optional[str] = typer.Option(None, "--depths", help="Comma-separated depths (hidden ReLU layers) [default: 2,4,8,16]."),
    family: Optional[str] = typer.Option(None, "--family", help="both, constant-beta (width = R·depth) or constant-width [default: both]."),
    width_: Optional[int] = typer.Option(None, "--width", help="Width of the constant-width family (≥ 1) [default: R·min depth]."),
    ratio: Optional[float] = typer.Option(None, "--ratio", help="R > 0: width = ⌊R·depth + ½⌋ in the constant-β family (β ≈ 1/R) [default: 8]."),
    configs: Optional[str] = typer.Option(None, "--configs", help="Explicit WIDTHxDEPTH list, e.g. 16x2,16x8 (instead of the families)."),
    seeds: int = typer.Option(8, "--seeds", help="Networks per configuration (≥ 1)."),
    epochs: int = typer.Option(20, "--epochs", help="Epoch cap (≥ 1); nets not at the threshold by then are censored."),
    threshold: float = typer.Option(0.9, "--threshold", help="Training accuracy to reach, in (0, 1]."),
    lr: float = typer.Option(0.05, "--lr", help="SGD learning rate (> 0), the same for every net."),
    batch_size: int = typer.Option(32, "--batch-size", help="Minibatch size (≥ 1)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the data split, initializations and minibatch orders (≥ 0)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    plot: Optional[str] = typer.Option(None, "--plot", help="Write a PNG or SVG of epochs-to-threshold vs β and depth."),
):
    """HR18's trainability experiment on digits: epochs to a training-accuracy threshold at
    constant β = Σ1/n_j as depth grows, against constant width (β growing)."""
    if configs is not None and any(v is not None for v in (depths, family, width_, ratio)):
        raise InitBoundsError("--configs replaces --depths, --family, --width and --ratio; give one or the other")
    check_int("--seeds", seeds, lo=1)
    check_int("--epochs", epochs, lo=1)
    check_real("--threshold", threshold, lo=0.0, hi=1.0, lo_open=True)
    check_real("--lr", lr, lo=0.0, lo_open=True)
    check_int("--batch-size", batch_size, lo=1)
    check_int("--seed", seed, lo=0)
    if plot is not None and not plot.lower().endswith((".png", ".svg")):
        raise InitBoundsError(f"--plot must name a .png or .svg file; got {plot!r}")
    from .sim.trainability import FAMILIES, estimate_trainability, make_configs, plot_trainability

    if configs is not None:
        cfgs = _parse_config_list(configs)
    else:
        ds = _parse_depth_list("2,4,8,16" if depths is None else depths)
        family = "both" if family is None else family
        if family not in FAMILIES:
            raise InitBoundsError(f"--family must be one of {', '.join(repr(f) for f in FAMILIES)}; got {family!r}")
        ratio = 8.0 if ratio is None else ratio
        check_real("--ratio", ratio, lo=0.0, lo_open=True)
        if math.floor(ratio * min(ds) + 0.5) < 1:
            raise InitBoundsError(f"--ratio × depth must round to a width ≥ 1; got {ratio:g} × {min(ds)}")
        if width_ is not None:
            check_int("--width", width_, lo=1)
        cfgs = make_configs(ds, family=family, ratio=ratio, width=width_)
    err = Console(stderr=True)
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("training nets"), BarColumn(), TextColumn("{task.completed:.0f}/{task.total}"),
                  TimeElapsedColumn(), console=err, transient=True, disable=as_json) as bar:
        task = bar.add_task("nets", total=seeds * len(cfgs))
        res = estimate_trainability(cfgs, nets=seeds, epochs=epochs, threshold=threshold, lr=lr,
                                    batch_size=batch_size, seed=seed,
                                    progress=lambda done, total: bar.update(task, completed=done))
    if plot:
        plot_trainability(res, plot)
    if as_json:
        _emit_json(res.as_dict())
        return
    c = _console()
    t = Table(title=f"HR18 trainability on digits: epochs to {threshold:g} training accuracy (cap {epochs}), "
                    f"SGD lr {lr:g}, batch {batch_size}, {seeds} nets per config, seed {seed}")
    for col in ("family", "width", "depth", "β", "Var M_d/M_0²", "reached [95% CI]", "median epochs, all [95% CI]",
                "median, reached [95% CI]", "diverged", "s"):
        t.add_column(col)
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


# --- variance (HR18, H18) -----------------------------------------------------------------------
def _parse_float_list(option: str, text: str, *, positive: bool):
    """A scalar or a comma-separated list of reals (one per layer), checked with the option's name."""
    parts = [p.strip() for p in str(text).split(",")]
    vals = []
    for i, p in enumerate(parts):
        try:
            v = float(p)
        except ValueError:
            raise InitBoundsError(f"{option} must be a number or comma-separated numbers (one per layer); got {text!r}")
        vals.append(check_real(option if len(parts) == 1 else f"{option}[{i}]", v, lo=0.0, lo_open=positive))
    return vals[0] if len(vals) == 1 else vals


def _fmt_pm(p: float, tol: float) -> str:
    """A probability with its absolute error; below the error, only the bound is meaningful."""
    return f"≤ {p + tol:.1e}" if p < tol else f"{_fmt_p(p)} (± {tol:.1e})"


def _sample_length_ratios(widths, trials, weight_var, seed, device, path):
    """Simulated M_d/M_0 for a density plot (None when ``trials`` is 0)."""
    if trials == 0:
        return None
    from .sim.variance import sample_length_ratios

    return sample_length_ratios(widths, trials, weight_var=weight_var, seed=seed, device=device, path=path)


def _fmt_v(v) -> str:
    return "overflow (see --json logs)" if v is None else f"{v:.6g}"


@app.command()
def variance(
    widths: str = typer.Option(..., "--widths", help="Comma-separated ReLU layer widths n_1..n_d, e.g. 16,16,16."),
    input_dim: Optional[int] = typer.Option(None, "--input-dim", help="n0 (≥ 1): needed for non-Gaussian weights and the Jacobian."),
    weight_var: str = typer.Option("2", "--weight-var", help="c in Var W = c/fan-in (> 0; He: 2), or one per layer (comma-separated)."),
    bias_var: str = typer.Option("0", "--bias-var", help="Bias variance s² (≥ 0), or one per layer."),
    weights: str = typer.Option("gaussian", "--weights", help="Weight law: gaussian, uniform, rademacher or laplace."),
    input_flatness: Optional[float] = typer.Option(None, "--input-flatness", help="q = Σx⁴/(Σx²)² of the input, in [1/n0, 1] (default 1/n0: all |x_i| equal)."),
    target_var: Optional[float] = typer.Option(None, "--target-var", help="Also solve for the constant width with Var M_d/M_0² ≤ v at this depth (v > 0)."),
    plot: Optional[str] = typer.Option(None, "--plot", help="Write the exact density of log(M_d/M_0) to this PNG/SVG file."),
    trials: int = typer.Option(0, "--trials", help="With --plot: simulated networks drawn over the density (≥ 0)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the simulation (≥ 0)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
):
    """Mean and variance of the activation length with depth, its exact law, Jacobian fluctuations
    (HR18, H18). Fan-in convention; M_j = ‖h_j‖²/n_j (squared norm per unit)."""
    ws = _parse_width_list(widths)
    cv = _parse_float_list("--weight-var", weight_var, positive=True)
    bv = _parse_float_list("--bias-var", bias_var, positive=False)
    check_choice("--weights", weights, ("gaussian", "uniform", "rademacher", "laplace"))
    if input_dim is not None:
        check_int("--input-dim", input_dim, lo=1)
    if input_flatness is not None:
        if input_dim is None:
            raise InitBoundsError("--input-flatness needs --input-dim (its range is [1/n0, 1])")
        check_real("--input-flatness", input_flatness, lo=1.0 / input_dim, hi=1.0)
    if weights != "gaussian" and input_dim is None:
        raise InitBoundsError(f"--weights {weights} needs --input-dim: the second moment depends on the "
                              "input's q = Σx⁴/(Σx²)²")
    for name, v in (("--weight-var", cv), ("--bias-var", bv)):
        if isinstance(v, list) and len(v) != len(ws):
            raise InitBoundsError(f"{name} must give one value or one per layer ({len(ws)}); got {len(v)}")
    if target_var is not None:
        check_real("--target-var", target_var, lo=0.0, lo_open=True)
    check_int("--trials", trials, lo=0)
    check_int("--seed", seed, lo=0)
    from .bounds.variance import length_law, variance_report

    out = variance_report(ws, input_dim=input_dim, weights=weights, weight_var=cv, bias_var=bv,
                          input_flatness=input_flatness, target_var=target_var)
    if plot:
        if out["law"] is None:
            raise InitBoundsError("--plot needs Gaussian weights and zero bias (the exact law is only known there)")
        sim = _sample_length_ratios(ws, trials, cv, seed, "cpu", "auto")
        from .sim.plots import plot_length_density

        plot_length_density(length_law(ws, weight_var=cv), plot, sim=sim,
                            title=f"widths {widths} (β = {out['beta']:.3g})")
        out["plot"] = plot
    if as_json:
        _emit_json(out)
        return
    c = _console()
    t = _quantity_table(f"Length moments: widths {widths}, {weights} weights (β = Σ1/n = {out['beta']:.4g})")
    t.add_row("FM1: E M_d / M_0 (zero bias) = Π c_j/2", f"{_fmt_v(out['mean_ratio'])} ({out['fm1']}, rate "
              f"{out['fm1_rate']:.3g}/layer)", "derived (HR18 claim)")
    if any(v for v in (bv if isinstance(bv, list) else [bv])):
        t.add_row("E M_d with biases (M_0 = 1)", _fmt_v(out["mean_with_bias"]), "derived")
    t.add_row("FM2: E M_d² / M_0²", _fmt_v(out["second_moment_ratio"]),
              "derived (HR18 claim)" if out["exact_second_moment"] is None else "derived (exact recursion)")
    t.add_row("Var M_d / M_0²", _fmt_v(out["var_ratio"]), "derived")
    if out["exact_second_moment"] is not None and weights != "gaussian":
        lo, hi = out["exact_second_moment"]["flatness_range"]
        t.add_row("E M_d²/M_0² over all inputs (q = 1/n0 … 1)", f"{_fmt_v(lo)} … {_fmt_v(hi)}", "derived")
    if out["var_bracket"] is not None:
        b = out["var_bracket"]
        t.add_row("bracket e^{5β − 12.5Σ1/n²} − 1 … e^{5β} − 1", f"{_fmt_v(b[0])} … {_fmt_v(b[1])}", "derived")
        ln = out["lognormal"]
        t.add_row("log(M_d/M_0) ≈ N(Σlog(c/2) − 5β/2, 5β)", f"N({ln['mean']:.4g}, {ln['var']:.4g})", "derived (leading order)")
    law = out["law"]
    if law is not None:
        t.add_row("P(M_d < M_0/10)", _fmt_pm(law["p_below_tenth"], law["tolerance"]), "derived (exact law)")
        t.add_row("P(M_d > 10 M_0)", _fmt_pm(law["p_above_ten"], law["tolerance"]), "derived (exact law)")
        t.add_row("P(M_d off by > 2×)", _fmt_pm(law["p_off_by_2"], law["p_off_by_2_tolerance"]),
                  f"derived ({law['p_off_by_2_method']})")
        q = law["quantiles"]
        t.add_row("5% / 50% / 95% quantiles of M_d/M_0", f"{q['0.05']:.4g} / {q['0.5']:.4g} / {q['0.95']:.4g}", "derived (exact law)")
        t.add_row("P(dead: M_d = 0)", _fmt_p(law["p_dead"]), "derived (RR20)")
    t.add_row("Jacobian E Z⁴/(E Z²)² = 3Π(1 + 5/n_j)", _fmt_v(out["jacobian_kurtosis_ratio"]), "derived (H18 claim)")
    t.add_row("… with a ReLU output layer: 6Π(1 + 5/n_j)", _fmt_v(out["jacobian_kurtosis_ratio_relu_output"]), "derived")
    if out["jacobian_second_moment"] is not None:
        t.add_row("Jacobian E Z² = c/n0 (linear output, same c)", f"{out['jacobian_second_moment']:.6g}", "derived (H18)")
    if "width_for_target_var" in out:
        wt = out["width_for_target_var"]
        t.add_row(f"constant width for Var ≤ {wt['target_var']:g} at depth {wt['depth']}",
                  f"{wt['constant_width']:,} ({wt['width_per_layer_of_depth']:.3g} × depth)", "derived")
        t.add_row(f"width ∝ depth for Var ≤ {wt['target_var']:g} at every depth: n ≥ α·d",
                  f"α = 5/log(1 + v) = {wt['width_proportional_to_depth_any_depth']:.4g}", "derived")
    c.print(t)
    for note in out["notes"]:
        c.print(f"note: {note}")
    if plot:
        c.print(f"wrote {plot}")


@app.command()
def resnet(
    blocks: int = typer.Option(..., "--blocks", help="Residual blocks B (≥ 1)."),
    width: int = typer.Option(..., "--width", help="Residual stream width n (≥ 1)."),
    branch_width: int = typer.Option(..., "--branch-width", help="Branch hidden width m (≥ 1)."),
    eta: float = typer.Option(..., "--eta", help="Branch scale η (≥ 0): x ← x + η_b W₂ relu(W₁x)."),
    schedule: str = typer.Option("const", "--schedule", help="η_b schedule: const (η), inv (η/b) or invsqrt (η/√b)."),
    plot: Optional[str] = typer.Option(None, "--plot", help="Write E‖x_b‖²/‖x_0‖² against b for the three schedules (PNG/SVG)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
):
    """Length moments of residual networks and the FM1 condition on the branch scales (HR18)."""
    check_int("--blocks", blocks, lo=1)
    check_int("--width", width, lo=1)
    check_int("--branch-width", branch_width, lo=1)
    check_real("--eta", eta, lo=0.0)
    check_choice("--schedule", schedule, ("const", "inv", "invsqrt"))
    if blocks > 10**8:
        raise InitBoundsError(f"--blocks must be ≤ 10^8 (per-block curves are held in memory); got {blocks}")
    from .bounds.resnet import resnet_report

    out = resnet_report(blocks, width, branch_width, eta, schedule=schedule)
    if plot:
        from .sim.plots import plot_residual_growth

        plot_residual_growth(blocks, width, branch_width, eta, plot)
        out["plot"] = plot
    if as_json:
        _emit_json(out)
        return
    c = _console()
    t = _quantity_table(f"Residual net: {blocks:,} blocks, n = {width}, m = {branch_width}, η = {eta:g} ({schedule})")
    t.add_row("one block: E F = 1 + η²", f"{out['block_mean']:.6g}", "derived (HR18)")
    t.add_row("one block: E F² (η = η_1)", f"{out['block_second_moment']:.6g}", "derived")
    t.add_row("E‖x_B‖²/‖x_0‖² = Π(1 + η_b²)", f"{_fmt_v(out['mean_ratio'])} (log {out['log_mean_ratio']:.6g})", "derived (HR18 claim)")
    t.add_row("E‖x_B‖⁴/‖x_0‖⁴ = Π E F_b²", f"{_fmt_v(out['second_moment_ratio'])} (log {out['log_second_moment_ratio']:.6g})", "derived")
    t.add_row("normalized second moment Π E F²/(E F)²", f"{out['normalized_second']:.6g}", "derived (HR18: bounded once FM1 is avoided)")
    c.print(t)
    c.print(("[green]" if out["fm1"] else "[red]") + out["fm1_statement"] + "[/]")
    c.print(f"convention: {out['convention']}")
    if plot:
        c.print(f"wrote {plot}")


# --- derive ------------------------------------------------------------------------------------
#: `initbounds derive NAME`: (module, function, the command it explains, papers).
_DERIVATIONS = {
    "width": ("initbounds.bounds.width", "derive_width", "width", "AB19"),
    "moment": ("initbounds.bounds.moments", "derive_moment", "moment", "GH21"),
    "death": ("initbounds.bounds.death", "derive_death", "death", "RR20"),
    "variance": ("initbounds.bounds.variance", "derive_variance", "variance", "HR18, H18"),
    "resnet": ("initbounds.bounds.resnet", "derive_resnet", "resnet", "HR18"),
    "regions": ("initbounds.bounds.regions", "derive_regions", "regions", "HR19"),
}


def _register_derivation(name: str, module: str, func: str, command: str, papers: str) -> None:
    def cmd(fmt: Fmt = typer.Option(Fmt.text, "--format", help="Output format.")):
        import importlib

        derivation = getattr(importlib.import_module(module), func)()
        sys.stdout.write(derivation.render(fmt.value) + "\n")

    cmd.__doc__ = f"The derivation behind `initbounds {command}` ({papers})."
    derive_app.command(name)(cmd)


for _name, _spec in _DERIVATIONS.items():
    _register_derivation(_name, *_spec)


# --- validate ----------------------------------------------------------------------------------
@app.command()
def validate(
    claims: Optional[List[str]] = typer.Argument(None, help="Claims to run (default: all)."),
    trials: Optional[int] = typer.Option(None, "--trials", help="Simulated networks per claim (≥ 10; default: each claim's own)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the explicit torch generator (≥ 0)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    plot: Optional[str] = typer.Option(None, "--plot", help="Write a PNG or SVG of theory vs simulation."),
    list_: bool = typer.Option(False, "--list", help="List the claims and exit."),
    real: bool = typer.Option(False, "--real", help="Force real networks everywhere (default: the fastest exact sampler)."),
    device: str = typer.Option("cpu", "--device", help="Torch device, e.g. cpu or cuda."),
):
    """Check the toolkit's claims against Monte Carlo simulations of networks."""
    if trials is not None:
        check_int("--trials", trials, lo=10)
    check_int("--seed", seed, lo=0)
    _check_device(device)
    if plot is not None and not plot.lower().endswith((".png", ".svg")):
        raise InitBoundsError(f"--plot must name a .png or .svg file; got {plot!r}")
    from .sim.validate import CLAIMS, run_claims

    if list_:
        c = _console()
        t = Table(title="Claims")
        for col in ("name", "kind", "claim", "source"):
            t.add_column(col)
        for cl in CLAIMS.values():
            t.add_row(cl.name, cl.kind, cl.description, cl.source)
        c.print(t)
        return
    names = claims or list(CLAIMS)
    for n in names:
        if n not in CLAIMS:
            raise InitBoundsError(f"CLAIM must be one of {', '.join(CLAIMS)}; got {n!r}")
    err = Console(stderr=True)
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), console=err, transient=True, disable=as_json) as bar:
        tasks: dict = {}

        def progress(name, done, total):
            if name not in tasks:
                tasks[name] = bar.add_task(name, total=total)
            bar.update(tasks[name], completed=done, total=total)

        results = run_claims(names, trials=trials, seed=seed, progress=progress,
                             path="real" if real else "auto", device=device)
    failed = [r for r in results if r.toolkit_failure]
    if as_json:
        _emit_json({"seed": seed, "claims": [r.as_dict() for r in results]})
    else:
        c = _console()
        t = Table(title=f"validate (seed {seed}; family-wise level 1e-3, Bonferroni)")
        for col in ("claim", "kind", "theory", "simulated", "CI", "verdict", "sampler", "source"):
            t.add_column(col)
        style = {"pass": "green", "FAIL": "bold red", "violated": "yellow", "gap": "cyan"}
        for r in results:
            t.add_row(r.name, r.kind, f"{r.theory:.6g}", f"{r.estimate:.6g}",
                      f"[{r.ci[0]:.4g}, {r.ci[1]:.4g}]", f"[{style[r.verdict]}]{r.verdict}[/]", r.path, r.source)
        c.print(t)
        for r in results:
            c.print(f"{r.name}: {r.detail} ({r.trials} networks, {r.seconds:.1f} s)")
        viol = [r.name for r in results if r.verdict == "violated"]
        if viol:
            c.print(f"Finding: the paper's formula is violated by simulation: {', '.join(viol)} "
                    "(not a toolkit failure).")
        c.print("Toolkit failures: " + (", ".join(r.name for r in failed) if failed else "none"))
    if plot:
        from .sim.plots import plot_validation

        plot_validation(results, plot)
    if failed:
        raise typer.Exit(1)


def _check_device(device: str) -> None:
    """--device must name a torch device that exists here (imports torch)."""
    import torch

    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError):
        raise InitBoundsError(f"--device must be a torch device such as 'cpu' or 'cuda'; got {device!r}")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InitBoundsError(f"--device {device}: torch sees no CUDA device here")
    if dev.type not in ("cpu", "cuda"):
        raise InitBoundsError(f"--device must be 'cpu' or 'cuda[:k]'; got {device!r}")


# --- check -------------------------------------------------------------------------------------
#: The embedded example design of `initbounds check` (a width the exact method accepts and the
#: per-layer Chernoff bound does not; the authors' formula asks for far less).
CHECK_DEFAULTS = {"depth": 6, "width": 2048, "samples": 16, "delta": 0.05, "eps": 0.5}


@app.command()
def check(
    depth: int = typer.Option(CHECK_DEFAULTS["depth"], "--depth", help="Number of ReLU layers L (≥ 1)."),
    width_: int = typer.Option(CHECK_DEFAULTS["width"], "--width", help="Layer width n (≥ 1)."),
    samples: int = typer.Option(CHECK_DEFAULTS["samples"], "--samples", help="Inputs N (≥ 1)."),
    delta: float = typer.Option(CHECK_DEFAULTS["delta"], "--delta", help="Failure probability δ in (0, 1)."),
    eps: float = typer.Option(CHECK_DEFAULTS["eps"], "--eps", help="Band half-width ε in (0, 1)."),
    trials: int = typer.Option(2000, "--trials", help="Networks in the simulation spot-check (≥ 0; 0 skips it; capped to a few seconds of sampling)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the spot-check (≥ 0)."),
    real: bool = typer.Option(False, "--real", help="Spot-check with real networks (default: fastest exact sampler)."),
    device: str = typer.Option("cpu", "--device", help="Torch device for the spot-check."),
    s: float = typer.Option(1.0, "--s", help="Moment order s in (0, 2] for the fractional-moment section (GH21)."),
    plot: Optional[str] = typer.Option(None, "--plot", help="Write the exact density of log(M_L/M_0) against simulation (--trials networks) to this PNG/SVG file."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
):
    """Design report for one architecture: required widths, exact probabilities, liveness,
    fractional-moment init, a spot-check."""
    _check_design(depth, samples, delta, eps)
    check_int("--width", width_, lo=1)
    check_int("--trials", trials, lo=0)
    check_int("--seed", seed, lo=0)
    check_real("--s", s, lo=0.0, hi=2.0, lo_open=True)
    if trials > 0:
        _check_device(device)
    from .bounds.design import design_report
    from .bounds.moments import activation, log_norm_params, p_small_output, sigma2

    report = design_report(depth=depth, width=width_, samples=samples, delta=delta, eps=eps)
    relu = activation("relu")
    so = p_small_output(relu, width_, s, depth, 0.01)
    ln = log_norm_params(relu, width_, s, depth)
    report["fractional_moment"] = {
        "s": s, "sigma2": sigma2(relu, width_, s), "he_sigma2": 2.0 / width_,
        "log_norm_mean": ln.mean_at_depth, "log_norm_sd": math.sqrt(ln.var_at_depth),
        "p_output_below_1pct": so.p_exact if so.p_exact is not None else so.p_clt,
        "p_output_below_1pct_he": so.p_exact_he if so.p_exact_he is not None else so.p_clt_he,
        "method": "exact" if so.p_exact is not None else "CLT",
    }
    from .bounds.variance import length_law, length_moments, p_length_off_by

    lm = length_moments([width_] * depth)
    law = length_law([width_] * depth)
    off = p_length_off_by([width_] * depth, 2.0, law=law)
    report["length_variance"] = {
        "beta": lm.beta, "fm1": lm.fm1, "fm2_var_ratio": lm.var_ratio, "var_bracket": list(lm.var_bracket),
        "p_off_by_2": off["p"], "p_off_by_2_tolerance": off["tolerance"], "p_off_by_2_method": off["method"],
        "p_dead": law.p_dead,
    }
    spot = None
    if trials > 0:
        from .sim.spotcheck import spot_check

        spot = spot_check(depth=depth, width=width_, samples=samples, eps=eps, trials=trials, seed=seed,
                          path="real" if real else "auto", device=device)
    if plot:
        sim = _sample_length_ratios([width_] * depth, trials, 2.0, seed, device, "real" if real else "auto")
        from .sim.plots import plot_length_density

        plot_length_density(law, plot, sim=sim, title=f"{depth} layers of width {width_:,} (β = {lm.beta:.3g})")
        report["plot"] = plot
    if as_json:
        _emit_json({**report, "spot_check": spot})
        return
    c = _console()
    c.print(f"[bold]initbounds design report[/]  ReLU MLP, {depth} layers of width {width_:,}, "
            f"He init, {samples} inputs, δ = {delta:g}, ε = {eps:g} (squared norm, all layers)")
    t = Table(title="Minimum width by method")
    for col in ("method", "min width", "width ok?", "source"):
        t.add_column(col)
    for m in report["methods"]:
        ok = "[green]yes[/]" if m["meets"] else "[red]no[/]"
        t.add_row(m["name"], f"{m['min_width']:,}", ok, m["source"])
    c.print(t)
    p = report["probabilities"]
    c.print(f"Exact, one input at width {width_:,}: p_stay = {_fmt_p(p['p_stay'])}, "
            f"p_last = {_fmt_p(p['p_last'])}; union bound for {samples} inputs: "
            f"P(some input leaves the band) ≤ {_fmt_p(p['p_fail_union'])}")
    c.print(f"Verdict: {report['verdict']}")
    lv = report["liveness"]
    c.print(f"Liveness (RR20): P(a given input dead at init) = {lv['p_dead_point']:.3g} "
            f"(10^{lv['log10_p_dead_point']:.1f}); expected live fraction {lv['expected_live_fraction']:.6g}; "
            f"sign flipping guarantees ≥ 2^-{depth} = {lv['sign_flip_guarantee']:.3g}")
    fm = report["fractional_moment"]
    c.print(f"Fractional-moment init (GH21, s = {s:g}): σ_s² = {fm['sigma2']:.6g} (He 2/n = {fm['he_sigma2']:.6g}); "
            f"log(‖h_L‖/‖x‖) ≈ {fm['log_norm_mean']:.4f} ± {fm['log_norm_sd']:.4f}; P(‖h_L‖ < 1% of ‖x‖) = "
            f"{fm['p_output_below_1pct']:.3g} under σ_s vs {fm['p_output_below_1pct_he']:.3g} under He ({fm['method']})")
    lv2 = report["length_variance"]
    c.print(f"Length variance (HR18): β = L/n = {lv2['beta']:.4g}; FM1: mean length {lv2['fm1']} (He); FM2: "
            f"Var M_L/M_0² = {_fmt_v(lv2['fm2_var_ratio'])} (bracket {_fmt_v(lv2['var_bracket'][0])} … "
            f"{_fmt_v(lv2['var_bracket'][1])}); P(last-layer length off by > 2×) = "
            f"{_fmt_pm(lv2['p_off_by_2'], lv2['p_off_by_2_tolerance'])} ({lv2['p_off_by_2_method']})")
    if plot:
        c.print(f"wrote {plot}")
    if spot and spot.get("skipped"):
        c.print(f"Simulation spot-check skipped: {spot['skipped']}")
    elif spot:
        c.print(f"Simulation spot-check ({spot['trials']} networks, {spot['path']} sampler, seed {seed}, "
                f"{spot['seconds']:.1f} s): P(some input leaves the band) = {spot['estimate']:.3f}, "
                f"95% CI [{spot['ci'][0]:.3f}, {spot['ci'][1]:.3f}]; worst |‖h‖²/‖x‖² − 1| seen "
                f"{spot['worst_deviation']:.3f}")


def main() -> None:
    """Console entry point."""
    app()


if __name__ == "__main__":
    main()
