"""`initbounds audit`: read a real PyTorch model, apply the toolkit's results to it, spot-check them."""
from __future__ import annotations

import json
from typing import Any, Optional

import typer

from ..bounds.errors import NONNEGATIVE_INT, Constraint, DomainError, Integral, IntegerList, Interval, OrNone, Real, _fail
from ..bounds.moments import S_ORDER
from ._options import command, json_option, option, plot_option
from ._render import console, emit_json, progress, table

__all__ = ["audit", "COMMANDS"]


class _Text(Constraint):
    """Free text (a JSON object, a file name): non-empty; its meaning is checked where it is used."""

    def __init__(self, what: str, metavar: str):
        self.what, self.metavar = what, metavar

    def describe(self) -> str:
        return f"be {self.what}"

    def range_text(self) -> str:
        return self.what

    def expects(self) -> str:
        return self.what

    def validate(self, name: str, value, *, item: str = ""):
        if not isinstance(value, str) or not value.strip():
            raise _fail(name, item, self.describe(), repr(value))
        return value

    def invalid_example(self):
        return ""


class _PtFile(_Text):
    """A .pt file to write: its directory must exist and be writable (checked before any work)."""

    def __init__(self):
        super().__init__("a .pt file in an existing, writable directory", "OUT.pt")

    def validate(self, name: str, value, *, item: str = ""):
        from pathlib import Path

        from ._options import _writable_dir

        text = super().validate(name, value, item=item)
        p = Path(text)
        why = ("its name must end in .pt" if p.suffix != ".pt" or not p.stem else
               "it is a directory" if p.is_dir() else _writable_dir(p.parent if str(p.parent) else Path(".")))
        if why is not None:
            raise _fail(name, item, self.describe(), f"{value!r} ({why})")
        return text

    def invalid_example(self):
        return "out.txt"


NETWORKS = Interval(Integral, 2, 100000)
BUDGET = Interval(Real, 0, 3600, closed="right")
POINTS = Interval(Integral, 1, 4096)
SHAPE = IntegerList(Interval(Integral, 1, 4096), example="1,28,28", what="dimension")


def _json_args(text: Optional[str]) -> dict:
    if text is None:
        return {}
    try:
        val = json.loads(text)
    except ValueError as e:
        raise DomainError(f"{{args}} must be a JSON object of keyword arguments; got {text!r} ({e.msg})",
                          param="args")
    if not isinstance(val, dict):
        raise DomainError(f"{{args}} must be a JSON object of keyword arguments; got {type(val).__name__}",
                          param="args")
    return val


@command()
def audit(
    model: str = typer.Argument(..., metavar="MODEL", help="FILE.py:factory (the file is EXECUTED as Python) or "
                                                         "package.module:factory; the factory returns an nn.Module."),
    args: Optional[str] = option(None, help="Keyword arguments of the factory as a JSON object, e.g. '{{\"width\": 64}}'.",
                                 constraint=OrNone(_Text("a JSON object", "JSON"))),
    input_shape: Optional[Any] = option(None, help="Shape of one input, e.g. 1,28,28 (standard Gaussian inputs; "
                                                   "{range}).", constraint=OrNone(SHAPE)),
    data: Optional[str] = option(None, help="A .pt tensor or .npy array of inputs (batch axis first).",
                                 constraint=OrNone(_Text("a file name", "FILE"))),
    dataset: Optional[str] = option(None, help="A bundled dataset: digits (scikit-learn, 8×8).",
                                    constraint=OrNone(_Text("digits", "NAME"))),
    points: int = option(16, help="Inputs in the example batch ({range}).", constraint=POINTS),
    s: float = option(1.0, help="Order s of the moment the σ_s column preserves (GH21; {range}).",
                      constraint=S_ORDER),
    networks: int = option(200, help="Re-initializations in the spot-check ({range}).", constraint=NETWORKS),
    seed: int = option(0, help="Seed of the inputs and the spot-check ({range}).", constraint=NONNEGATIVE_INT),
    plot: Optional[str] = plot_option("predicted against measured E M_j/M_0 per layer"),
    certify_budget: float = option(10.0, help="Seconds (sim.certify's cost model, checked before the work) for the "
                                              "certified width of the --data/--dataset inputs ({range}).",
                                   constraint=BUDGET),
    fix: Optional[str] = option(None, help="Apply the He recommendation to the model, save its state_dict to this "
                                           ".pt file and audit the fixed model (its layers re-drawn from their laws).",
                                constraint=OrNone(_PtFile())),
    as_json: bool = json_option(),
):
    """Audit a PyTorch model: layers, init laws, exact predictions, and a spot-check on the model itself.

    MODEL is FILE.py:factory (the file is executed) or package.module:factory. The spot-check calls the
    factory under --networks seeds (the model's own init) and compares every prediction with its
    measurement through an interval (α = 1e-3, Bonferroni).
    """
    from ..sim import audit as sa

    kwargs = _json_args(args)
    factory = sa.load_factory(model, kwargs)
    net = sa.build_model(factory, seed=seed)
    x = sa.example_input(net, input_shape=input_shape, data=data, dataset=dataset, points=points, seed=seed)
    try:
        import torch

        with torch.no_grad():
            net(x)
    except Exception as e:  # noqa: BLE001 — the user's forward on this input
        src = "input_shape" if input_shape is not None else "data" if data is not None else "dataset"
        raise DomainError.must(src, "give inputs the model accepts",
                               f"inputs of shape {tuple(x.shape)} ({type(e).__name__}: {sa._first_line(e)})")
    with progress(disable=as_json, description="{task.description}") as bar:
        bar.update(bar.add_task(f"auditing: {networks} re-initializations and the recommendations' re-measurement", total=None))
        rep = sa.audit(net, x, factory=factory, s=s, networks=networks, seed=seed,
                       certify=data is not None or dataset is not None, certify_budget=certify_budget)
        if plot:
            rep.plot().savefig(plot)
        fixed = None
        if fix:
            import torch

            done = sa.apply_fix(net, rep, generator=torch.Generator().manual_seed(seed))
            torch.save(net.state_dict(), fix)
            after = sa.audit(net, x, factory=None, s=s, networks=networks, seed=seed) if done else None
            fixed = {"path": fix, "applied": done, "after": None if after is None else {
                "predictions": {k: after.predictions.get(k) for k in ("fm1_rate", "fm1", "mean_ratio", "var_ratio")},
                "checks": [c.as_dict() for c in after.checks]}}
    if as_json:
        out = rep.to_dict()
        out["fix"] = fixed
        out["inputs"] = {"model": model, "args": kwargs, "input_shape": list(input_shape) if input_shape else None,
                         "data": data, "dataset": dataset, "points": int(x.shape[0]), "s": s, "networks": networks,
                         "certify_budget": certify_budget,
                         "seed": seed, "plot": plot}
        return emit_json(out)
    c = console()
    head, rows = rep.layer_table()
    t = table(f"audit of {model} (read by {rep.method}; inputs {tuple(x.shape)})", head)
    for r in rows:
        t.add_row(*[str(v) for v in r])
    c.print(t)
    p = rep.predictions
    if p.get("not_he"):
        c.print("init: not He on " + ", ".join(f"{d['layer']} (c = {d['c']:.4g}, {d['rule'] or 'custom'}; He {d['c_he']:g})"
                                              for d in p["not_he"]))
    if p.get("segment"):
        c.print(f"theory chain: {len(p['segment'])} hidden layer(s) {', '.join(p['segment'])}; FM1 rate "
                f"{p['fm1_rate']:+.4g}/layer ({p['fm1']}); E M_d/M_0 = {p['mean_ratio']:.4g}; β = {p['beta']:.4g}")
        if p.get("second_moment") is not None:
            c.print(f"Var M_d/M_0² = {p['var_ratio']:.4g} (exact, {p['weight_law']} weights, the biases' law); "
                    f"log-norm spread sd log(M_d/M_0) ≈ {p['log_norm_spread']:.4g} (leading order √(5β)), "
                    f"{p['log_norm_spread_matched']:.4g} (lognormal with the exact moments; checked below)")
        if "p_dead_point" in p:
            c.print(f"P(a point is dead) = {p['p_dead_point']:.4g}; expected live fraction "
                    f"{p['expected_live_fraction']:.4g}")
        ab = p.get("ab19_width")
        c.print(f"widths: Var M_d/M_0² ≤ 1 needs ≥ {p['width_for_var_le_1']}; AB19 norm preservation (N = "
                f"{x.shape[0]} inputs, δ = 0.05, ε = 0.5, per-layer Chernoff) needs ≥ "
                f"{ab if ab is not None else '—'}; the narrowest layer here is {p['min_model_width']}")
    cert = p.get("certified")
    if cert:
        d = cert["design"]
        c.print(f"certified width for these {x.shape[0]} inputs (sim.certify, δ = {d['delta']:g}, ε = {d['eps']:g}, "
                f"confidence {d['confidence']:g}, budget {d['budget_seconds']:g} s): " +
                (f"≥ {cert['width']} ({cert['certified_by']}; one-input width {cert['single_width']}, union bound "
                 f"{cert['union_width']})" if "width" in cert else cert["reason"]))
    res = p.get("residual")
    if res:
        if "mean_ratio" in res:
            bias = (f", branch bias variances {res['bias_var1']:.3g}, {res['bias_var2']:.3g}; E M_B/E M_0 = "
                    f"{res['growth']:.4g}" if res["biases"] else "")
            c.print(f"residual: {res['blocks']} blocks, η = {res['eta']:.4g}, η_eff = η·√(c₁c₂/2) = "
                    f"{res['eta_eff']:.4g}{bias}; E {res['quantity']} = {res['mean_ratio']:.4g} ({res['exactness']})")
        else:
            c.print(f"residual: {res['reason']}")
    head, rows = rep.check_table()
    t = table(f"spot-check: {networks} re-initializations ({rep.reinit}), seed {seed}", head)
    for r in rows:
        t.add_row(*[str(v) for v in r])
    c.print(t)
    for n in rep.notes:
        c.print(f"note: {n}")
    for r in rep.recommendations:
        c.print(f"recommendation: {r['text']}")
    if plot:
        c.print(f"wrote {plot}")
    if fixed is not None:
        if not fixed["applied"]:
            c.print(f"--fix: no re-initialization recommended; saved the model unchanged to {fix}")
        else:
            a = fixed["after"]
            c.print(f"--fix: {len(fixed['applied'])} layer(s) re-initialized (kaiming_normal_ fan-in, zero biases); "
                    f"saved to {fix}; re-audit: FM1 rate {a['predictions']['fm1_rate']:+.4g}/layer, E M_d/M_0 = "
                    f"{a['predictions']['mean_ratio']:.4g}")
            for chk in a["checks"]:
                c.print(f"  after fix: {chk['quantity']}: predicted {chk['predicted']:.4g}, measured "
                        f"{chk['measured']:.4g} [{chk['interval'][0]:.4g}, {chk['interval'][1]:.4g}] {chk['verdict']}")


COMMANDS = (audit,)
