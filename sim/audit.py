r"""Audit a real PyTorch model: read its layers and initial weights, apply the toolkit's exact results
to it, and check every prediction on the model itself (docs/theory.md §15).

>>> import torch
>>> from torch import nn
>>> torch.manual_seed(0) and None
>>> model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 4))
>>> rep = audit(model, torch.randn(8, 16, generator=torch.Generator().manual_seed(1)), networks=60)
>>> rep.layers[0].rule, rep.fm1_rate < 0
('torch_default', True)

Reading the model: :func:`torch.fx.symbolic_trace` where it traces (modules, functional ReLUs, residual
additions ``x + f(x)`` and their constant branch scale), forward hooks otherwise (modules only; a torch
function mode counts the tensor additions outside the modules, and when there are any nothing is predicted:
skip and branch cannot be told apart). Each Linear / Conv1d / Conv2d layer gets torch's own fans
(``torch.nn.init._calculate_fan_in_and_fan_out``: in_channels × kernel size), its gain c = fan-in ·
mean(W²), the excess kurtosis of its weights (:func:`bounds.audit.classify_weight_law`) and its bias
variance. Activations inside the theory: ReLU, LeakyReLU(a), RReLU(l, u) (train mode; in eval mode it
is LeakyReLU((l + u)/2)), Identity. Everything else (GELU, SiLU, Tanh, pooling…) is outside it: the layers
from there on are measured only, never treated as ReLU. A normalization layer at init (BatchNorm in train mode,
LayerNorm, GroupNorm, InstanceNorm; γ = 1, β = 0) ends the per-point chain but restarts a prediction of the
batch mean of ‖h‖²/numel (:func:`_post_norm`).

The spot-check re-initializes the same architecture ``networks`` times, forwards the example input and
compares each prediction with its measurement through an interval at level 1 − α/m (Bonferroni over the
m compared quantities): network k comes from ``factory()`` called under a forked global RNG seeded with
``stream.seed_of(k)`` when a factory is given (the model's own init, whatever it is), else from the
detected laws (each layer re-drawn from its named law with the matched gain and bias variance, drawn
from ``stream.generator(k)``). ``reset_parameters`` is not used: it would undo a custom init.
"""
from __future__ import annotations

from typing import Optional

import copy
import math
import operator
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from ..bounds import audit as baudit
from ..bounds.death import liveness
from ..bounds.errors import DomainError, InitBoundsError
from ..bounds.moments import activation as make_activation
from ..bounds.moments import sigma2, unit_moments_xi
from ..bounds.resnet import residual_bias_moments
from ..bounds.variance import length_moments, min_width_for_variance, second_moment, weight_kurtosis
from . import stats
from .core import Stream, thread_policy

__all__ = ["audit", "AuditReport", "LayerInfo", "Check", "read_model", "plot_audit", "ALPHA"]

#: The suite's family-wise error rate for the spot-check's decisions.
ALPHA = 1e-3
_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d)
_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.LayerNorm, nn.GroupNorm, nn.InstanceNorm1d, nn.InstanceNorm2d)
_PASS = (nn.Flatten, nn.Unflatten)
_F_RELU = {torch.relu, torch.nn.functional.relu, torch.relu_}
_ADDS = {operator.add, operator.iadd, torch.add}
_MULS = {operator.mul, operator.imul, torch.mul}


@dataclass
class LayerInfo:
    """One Linear/Conv layer as the audit read it."""

    name: str
    kind: str                    # "linear", "conv1d", "conv2d"
    fan_in: int
    fan_out: int
    width: int                   # out_features or out_channels (channels as width for convolutions)
    weight_count: int
    c: float                     # measured fan-in · mean(W²)
    c_ci: tuple                  # its interval (relative standard error from the law's kurtosis)
    excess_kurtosis: float
    law: str | None              # gaussian / uniform / rademacher / laplace, or None (another law)
    rule: str | None             # the init rule matched (bounds.audit.init_rules), or None
    c_used: float                # the gain the predictions use: the rule's c if matched, else measured
    bias_var: float | None       # Var b (None: no bias); 0 when all biases are exactly 0
    bias_law: str | None
    activation: str | None = None        # the label of the activation after it
    act: tuple | None = None             # ("relu"|"leaky"|"rrelu"|"linear", slope, lower, upper) inside
    outside: list = field(default_factory=list)   # what puts it outside the theory (GELU, BatchNorm…)
    norm: str | None = None
    role: str = "hidden"         # "hidden", "head", "branch", "stem"
    pooled: int = 1              # model instances the law, rule, c_used and bias law were fitted from
    probe: str = ""              # where its output (after activation/norm) is recorded
    module: object = None
    norm_module: object = None
    norm_after_act: bool = False         # the normalization runs after the activation (else before it)

    @property
    def in_theory(self) -> bool:
        return not self.outside and self.act is not None

    def exactness(self) -> str:
        if self.kind == "linear":
            return "exact"
        return "approximation (channels as width; FM1 also loses the zero-padded edges)"

    def as_dict(self) -> dict:
        d = {k: v for k, v in self.__dict__.items() if k not in ("module", "probe", "act", "norm_module")}
        d["c_ci"] = list(self.c_ci)
        d["in_theory"] = self.in_theory
        d["exactness"] = self.exactness()
        return d


@dataclass(frozen=True)
class Check:
    """One predicted quantity against its spot-check measurement."""

    quantity: str
    predicted: float
    measured: float
    lo: float
    hi: float
    exactness: str               # "exact", "approximation (...)", "leading order"
    source: str
    undecided: str | None = None  # why no decision is made (heavy tails: the interval is not trustworthy)

    @property
    def agrees(self) -> bool:
        return self.undecided is not None or self.lo <= self.predicted <= self.hi

    @property
    def verdict(self) -> str:
        if self.undecided is not None:
            return f"undecided ({self.undecided})"
        if self.agrees:
            return "agrees"
        return "DISAGREES" if self.exactness == "exact" else "differs (approximation)"

    def as_dict(self) -> dict:
        return {"quantity": self.quantity, "predicted": self.predicted, "measured": self.measured,
                "interval": [self.lo, self.hi], "exactness": self.exactness, "source": self.source,
                "verdict": self.verdict}


# --- reading the model ----------------------------------------------------------------------------
def _classify_module(m: nn.Module):
    """(kind, info) of a leaf module: layer, act (inside), outside, norm, pass."""
    if isinstance(m, _LAYERS):
        return "layer", None
    if isinstance(m, nn.ReLU):
        return "act", ("relu", None, None, None)
    if isinstance(m, nn.LeakyReLU):
        return "act", ("leaky", float(m.negative_slope), None, None)
    if isinstance(m, nn.RReLU):
        if m.training:
            return "act", ("rrelu", None, float(m.lower), float(m.upper))
        return "act", ("leaky", (float(m.lower) + float(m.upper)) / 2, None, None)
    if isinstance(m, nn.Identity):
        return "act", ("linear", None, None, None)
    if isinstance(m, _NORMS):
        return "norm", None
    if isinstance(m, _PASS) or isinstance(m, nn.Dropout) and (m.p == 0 or not m.training):
        return "pass", None
    return "outside", None


def _act_label(act) -> str:
    kind, a, lo, up = act
    return make_activation(kind, slope=a, lower=lo, upper=up).label()


def _events_fx(model: nn.Module):
    """Events in graph order from torch.fx, and the residual additions; raises if it does not trace."""
    import torch.fx as fx

    gm = fx.symbolic_trace(model)
    mods = dict(gm.named_modules())
    events, adds = [], []
    for node in gm.graph.nodes:
        if node.op == "call_module":
            m = mods[node.target]
            kind, info = _classify_module(m)
            events.append((kind, node.target, m, info, node.name))
        elif node.op in ("call_function", "call_method"):
            t = node.target
            if t in _F_RELU or t in ("relu", "relu_"):
                events.append(("act", f"relu@{node.name}", None, ("relu", None, None, None), node.name))
            elif t is torch.nn.functional.leaky_relu:
                slope = node.kwargs.get("negative_slope", node.args[1] if len(node.args) > 1 else 0.01)
                events.append(("act", f"leaky_relu@{node.name}", None, ("leaky", float(slope), None, None),
                               node.name))
            elif t in _ADDS or t in ("add", "add_"):
                adds.append(node)
                events.append(("add", node.name, None, None, node.name))
            elif t in _MULS or t in ("mul", "mul_", operator.truediv):
                events.append(("scale", node.name, None, None, node.name))
            elif t in (torch.flatten, "flatten", "view", "reshape", getattr) or t is operator.getitem:
                events.append(("pass", node.name, None, None, node.name))
            else:
                events.append(("outside", f"{getattr(t, '__name__', t)}@{node.name}", None, None, node.name))
    return gm, events, adds


def _ancestors(node) -> set:
    seen, todo = set(), [node]
    while todo:
        n = todo.pop()
        for a in n.all_input_nodes:
            if a not in seen:
                seen.add(a)
                todo.append(a)
    return seen


@dataclass
class _Block:
    skip: str          # node name of the skip input x
    out: str           # node name of the addition
    layers: list       # module targets on the branch, in order
    eta: float         # constant branch scale (1 if none)
    extra: list        # other branch operations (outside the theory's block)
    skip_input: bool = False   # the skip input is the model's input (a placeholder node)


def _residual_blocks(adds) -> list:
    blocks = []
    for node in adds:
        args = [a for a in node.args if isinstance(a, torch.fx.Node)]
        if len(args) != 2:
            continue
        a, b = args
        anc_a, anc_b = _ancestors(a), _ancestors(b)
        if a in anc_b:
            skip, branch = a, b
        elif b in anc_a:
            skip, branch = b, a
        else:
            continue
        on_branch = [n for n in (anc_b if skip is a else anc_a) | {branch} if n not in _ancestors(skip) | {skip}]
        order = {n: i for i, n in enumerate(node.graph.nodes)}
        on_branch.sort(key=order.get)
        eta, layers, extra = 1.0, [], []
        for n in on_branch:
            if n.op == "call_module":
                layers.append(n.target)
            elif n.target in _MULS or n.target in ("mul", operator.truediv):
                const = [x for x in n.args if isinstance(x, (int, float))]
                if len(const) == 1:
                    eta *= (1.0 / const[0]) if n.target is operator.truediv else float(const[0])
                else:
                    extra.append(n.name)
            elif n.target in _F_RELU or n.target == "relu":
                layers.append(f"relu@{n.name}")
            else:
                extra.append(n.name)
        blocks.append(_Block(skip.name, node.name, layers, eta, extra, skip.op == "placeholder"))
    return blocks


_ADD_FUNCS = {torch.add, torch.Tensor.add, torch.Tensor.add_, torch.Tensor.__add__, torch.Tensor.__radd__,
              torch.Tensor.__iadd__}


def _events_hooks(model: nn.Module, x: torch.Tensor):
    """Leaf modules in the order they ran (forward hooks), and the number of tensor + tensor additions of equal
    shapes seen outside the modules (a torch function mode: the hooks themselves cannot see additions)."""
    from torch.overrides import TorchFunctionMode

    order, handles, adds, depth = [], [], [0], [0]

    class _Adds(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            if depth[0] == 0 and func in _ADD_FUNCS and len(args) >= 2 and all(
                    isinstance(a, torch.Tensor) for a in args[:2]) and args[0].shape == args[1].shape:
                adds[0] += 1
            return func(*args, **(kwargs or {}))

    def pre(mod, i):
        depth[0] += 1

    def post(mod, i, o, name):
        depth[0] -= 1
        order.append(name)

    for name, m in model.named_modules():
        if len(list(m.children())) == 0:
            handles.append(m.register_forward_pre_hook(pre))
            handles.append(m.register_forward_hook(lambda mod, i, o, name=name: post(mod, i, o, name)))
    try:
        with torch.no_grad(), _Adds():
            model(x)
    finally:
        for h in handles:
            h.remove()
    mods = dict(model.named_modules())
    events = []
    for name in order:
        kind, info = _classify_module(mods[name])
        events.append((kind, name, mods[name], info, name))
    return events, adds[0]


_Z_GAIN = 4.0


def _fit(name: str, w: torch.Tensor, b, fan_in: int, fan_out: int) -> dict:
    """Law, gain, rule and bias law from flattened float64 weights ``w`` and biases ``b`` (None: no bias)."""
    n = w.numel()
    m2 = float((w * w).mean())
    if m2 <= 0 or not math.isfinite(m2):
        raise DomainError(f"layer {name!r} has all-zero or non-finite weights; the audit needs a random init")
    exk = float((w**4).mean()) / m2**2 - 3.0
    law = baudit.classify_weight_law(exk, n)
    c = m2 * fan_in
    rel = baudit.gain_standard_error(law.law or law.nearest, n)
    # torch's default is the one uniform rule: a uniform layer is matched with it first
    match = baudit.match_gain(c, rel, baudit.init_rules(fan_in, fan_out), z=_Z_GAIN,
                              prefer="torch_default" if law.law == "uniform" else None)
    bias_var = bias_law = None
    if b is not None:
        bias_var = float((b * b).mean())
        if bias_var == 0.0:
            bias_law = "zero"
        elif float(b.abs().max()) <= 1.0 / math.sqrt(fan_in) * (1 + 1e-9):
            bias_law = "uniform"
            bias_var = 1.0 / (3.0 * fan_in)      # torch's default bias law U(±1/√fan_in), matched
        else:
            bk = float((b**4).mean()) / bias_var**2 - 3.0
            bl = baudit.classify_weight_law(bk, b.numel())
            bias_law = bl.law or bl.nearest
    return {"c": c, "rel": rel, "exk": exk, "law": law.law, "rule": match.rule, "c_used": match.c,
            "bias_var": bias_var, "bias_law": bias_law}


def _flat(t) -> torch.Tensor:
    return t.detach().to(torch.float64).flatten()


def _layer_info(name: str, m: nn.Module) -> LayerInfo:
    fan_in, fan_out = (int(v) for v in nn.init._calculate_fan_in_and_fan_out(m.weight))
    f = _fit(name, _flat(m.weight), _flat(m.bias) if getattr(m, "bias", None) is not None else None, fan_in, fan_out)
    kind = "conv2d" if isinstance(m, nn.Conv2d) else "conv1d" if isinstance(m, nn.Conv1d) else "linear"
    width = m.out_features if kind == "linear" else m.out_channels
    c, rel = f["c"], f["rel"]
    return LayerInfo(name, kind, fan_in, fan_out, int(width), m.weight.numel(), c,
                     (c * max(0.0, 1 - _Z_GAIN * rel), c * (1 + _Z_GAIN * rel)), f["exk"], f["law"], f["rule"],
                     f["c_used"], f["bias_var"], f["bias_law"], module=m)


#: With a factory, the law, rule and bias law the predictions use are fitted from the weights of enough
#: fresh instances to pool at least this many weights per layer (at most :data:`POOL_MAX` instances): a
#: layer of a few weights cannot tell He from LeCun on its own.
POOL_WEIGHTS = 4096
POOL_MAX = 40


def _pool(struct: "ModelStructure", factory, stream: Stream) -> int:
    """Refit each layer's law, rule, gain used and bias law from the model plus fresh factory instances
    (``stream.seed_of(k)``). The layer's own measured c and kurtosis stay as read. Returns the instance count."""
    need = max(math.ceil(POOL_WEIGHTS / min(L.weight_count for L in struct.layers)), 1)
    extra = min(need, POOL_MAX) - 1
    if extra <= 0:
        return 1
    ws = {L.name: [_flat(L.module.weight)] for L in struct.layers}
    bs = {L.name: [_flat(L.module.bias)] for L in struct.layers if getattr(L.module, "bias", None) is not None}
    for k in range(extra):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(stream.seed_of(k) % 2**63)
            mods = dict(factory().named_modules())
        for L in struct.layers:
            m = mods[L.name]
            ws[L.name].append(_flat(m.weight))
            if L.name in bs:
                bs[L.name].append(_flat(m.bias))
    for L in struct.layers:
        f = _fit(L.name, torch.cat(ws[L.name]), torch.cat(bs[L.name]) if L.name in bs else None, L.fan_in, L.fan_out)
        L.law, L.rule, L.c_used, L.bias_var, L.bias_law = f["law"], f["rule"], f["c_used"], f["bias_var"], f["bias_law"]
        L.pooled = extra + 1
    return extra + 1


@dataclass
class ModelStructure:
    layers: list
    method: str                  # "torch.fx" or "forward hooks (…)"
    blocks: list
    notes: list
    graph: object = None
    hook_adds: int = 0           # additions seen by the hook fallback (then no chain is predicted)


def read_model(model: nn.Module, x: torch.Tensor) -> ModelStructure:
    """The layer sequence of ``model`` (see the module docstring), with activations, norms, residual blocks."""
    notes = []
    try:
        gm, events, adds = _events_fx(model)
        method = "torch.fx"
        blocks = _residual_blocks(adds)
        hook_adds = 0
    except Exception as e:  # noqa: BLE001 — any tracing failure falls back to hooks
        gm, blocks = None, []
        events, hook_adds = _events_hooks(model, x)
        method = f"forward hooks (torch.fx did not trace: {type(e).__name__})"
        notes.append("functional activations and residual structure are invisible to forward hooks; predictions "
                     "assume a plain chain of the modules in the order they ran")
        if hook_adds:
            notes.append(f"{hook_adds} tensor addition(s) of equal shapes ran outside the modules (residual "
                         "connections?): the hooks cannot tell skip from branch, so nothing is predicted (measured "
                         "only)")
    layers: list = []
    cur = None
    for kind, name, m, info, probe in events:
        if kind == "layer":
            cur = _layer_info(name, m)
            cur.probe = probe
            layers.append(cur)
        elif cur is None:
            if kind not in ("pass",):
                notes.append(f"{name} runs before the first layer: measured only")
        elif kind == "act":
            if cur.act is None and cur.activation is None:
                cur.act, cur.activation = info, _act_label(info)
                cur.probe = probe
            else:
                cur.outside.append(f"second activation {name}")
        elif kind == "norm":
            if cur.norm is not None:
                cur.outside.append(f"second normalization {name}")
            cur.norm, cur.norm_module, cur.norm_after_act = type(m).__name__, m, cur.act is not None
            cur.outside.append(f"{type(m).__name__} ({name}) resets the length")
            cur.probe = probe
        elif kind == "outside":
            label = type(m).__name__ if m is not None else name.split("@")[0]
            if cur.activation is None:
                cur.activation = f"{label} (outside the theory)"
            cur.outside.append(f"{label} ({name})")
            cur.probe = probe
        elif kind in ("add", "scale"):
            cur = None if kind == "add" else cur
    if not layers:
        raise DomainError("the model has no Linear, Conv1d or Conv2d layer to audit", param="model")
    in_blocks = {t for b in blocks for t in b.layers}
    for L in layers:
        if L.name in in_blocks:
            L.role = "branch"
    if blocks:
        first = next((i for i, L in enumerate(layers) if L.role == "branch"), len(layers))
        for L in layers[:first]:
            L.role = "stem"
    last = layers[-1]
    if last.role != "branch" and (last.act is None or last.act[0] == "linear") and not last.norm:
        last.role = "head"
        last.outside = [o for o in last.outside]
    return ModelStructure(layers, method, blocks, notes, gm, hook_adds)


# --- recording values -----------------------------------------------------------------------------
def _record(model: nn.Module, x: torch.Tensor, names: set, graph_module=None) -> dict:
    """{probe name: output tensor} for one forward pass (fx Interpreter on the traced graph, else hooks)."""
    out = {}
    if graph_module is not None:
        import torch.fx as fx

        class _Rec(fx.Interpreter):
            def run_node(self, n):
                v = super().run_node(n)
                if n.name in names:
                    out[n.name] = v.detach()
                return v

        gm = fx.GraphModule(model, graph_module.graph)
        with torch.no_grad():
            _Rec(gm).run(x)
        return out
    handles = []
    for name, m in model.named_modules():
        if name in names:
            handles.append(m.register_forward_hook(lambda mod, i, o, name=name: out.__setitem__(name, o.detach())))
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    return out


def _per_point_m(t: torch.Tensor) -> torch.Tensor:
    """‖h‖²/numel per point (first axis), in float64."""
    t = t.to(torch.float64).reshape(t.shape[0], -1)
    return (t * t).mean(dim=1)


# --- the report -----------------------------------------------------------------------------------
@dataclass
class AuditReport:
    """The audit of one model: layers, predictions, spot-check, recommendations."""

    method: str
    layers: list
    notes: list
    s: float
    segment: list                 # names of the hidden layers the chain theory covers (a prefix)
    predictions: dict
    checks: list
    measured_only: list           # (layer, E M/M_0 measured, interval) beyond the theory
    recommendations: list
    networks: int
    reinit: str
    alpha: float
    seed: int

    @property
    def fm1_rate(self) -> float | None:
        return self.predictions.get("fm1_rate")

    def disagreements(self) -> list:
        return [c for c in self.checks if not c.agrees]

    def to_dict(self) -> dict:
        return {"method": self.method, "layers": [L.as_dict() for L in self.layers], "notes": list(self.notes),
                "s": self.s, "segment": list(self.segment), "predictions": self.predictions,
                "spot_check": {"networks": self.networks, "reinit": self.reinit, "alpha": self.alpha,
                               "seed": self.seed, "checks": [c.as_dict() for c in self.checks],
                               "measured_only": [dict(layer=a, mean_ratio=b, interval=list(c))
                                                 for a, b, c in self.measured_only]},
                "recommendations": self.recommendations}

    def _repr_html_(self) -> str:
        import html

        def tab(head, rows):
            h = "".join(f"<th>{html.escape(str(x))}</th>" for x in head)
            body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in r) + "</tr>" for r in rows)
            return f"<table><tr>{h}</tr>{body}</table>"

        parts = [f"<h4>initbounds audit ({html.escape(self.method)})</h4>",
                 tab(*self.layer_table()), tab(*self.check_table())]
        parts += [f"<p>{html.escape(r['text'])}</p>" for r in self.recommendations]
        return "".join(parts)

    def layer_table(self):
        head = ["layer", "kind", "fan-in", "width", "law", "c", "rule", "He c", f"σ_s c (s={self.s:g})",
                "FM1 rate", "bias var·fan-in", "activation", "theory"]
        rows = []
        for L in self.layers:
            p = self.predictions.get("per_layer", {}).get(L.name, {})
            rows.append([L.name, L.kind, L.fan_in, L.width, L.law or f"other (κ−3 = {L.excess_kurtosis:.2f})",
                         f"{L.c:.4g}", L.rule or "custom", _fmt(p.get("c_he")), _fmt(p.get("c_sigma_s")),
                         _fmt(p.get("fm1_rate")), "none" if L.bias_var is None else f"{L.bias_var * L.fan_in:.3g}",
                         L.activation or "none", L.role if L.in_theory or L.role in ("head", "branch", "stem") else
                         "outside: " + "; ".join(L.outside or ["no activation"])])
        return head, rows

    def check_table(self):
        head = ["quantity", "predicted", "measured", f"interval (level 1 − {self.alpha:g}/m)", "exactness",
                "verdict"]
        rows = [[c.quantity, _fmt(c.predicted), _fmt(c.measured), f"[{_fmt(c.lo)}, {_fmt(c.hi)}]", c.exactness,
                 c.verdict] for c in self.checks]
        rows += [[f"E M/M_0 after {a} (measured only)", "—", _fmt(b), f"[{_fmt(c[0])}, {_fmt(c[1])}]",
                  "outside the theory", "—"] for a, b, c in self.measured_only]
        return head, rows

    def plot(self):
        return plot_audit(self)


def _fmt(v) -> str:
    if v is None:
        return "—"
    if isinstance(v, str):
        return v
    return f"{v:.4g}"


def plot_audit(report: AuditReport):
    """Predicted vs measured E M_j/M_0 per layer (log scale, intervals): a matplotlib Figure, built
    without pyplot (no global backend change; display it in a notebook or ``fig.savefig``)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4))
    ax = fig.add_subplot(1, 1, 1)
    pts = [c for c in report.checks if c.quantity.startswith("E M/M_0")]
    xs = list(range(len(pts)))
    if pts:
        meas = [c.measured for c in pts]
        err = [[max(c.measured - c.lo, 0) for c in pts], [max(c.hi - c.measured, 0) for c in pts]]
        ax.errorbar(xs, meas, yerr=err, fmt="o", capsize=4, label="spot-check (interval)")
        ax.plot(xs, [c.predicted for c in pts], "kx", ms=9, label="predicted")
        ax.set_xticks(xs)
        ax.set_xticklabels([c.quantity.split("after ")[-1] for c in pts], rotation=30, ha="right", fontsize=8)
        if all(c.predicted > 0 and c.lo > 0 for c in pts):
            ax.set_yscale("log")
    ax.set_xlabel("layer")
    ax.set_ylabel("E ‖h‖²/n ÷ ‖x‖²/n₀")
    ax.set_title("audit: predicted vs measured length ratio")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


# --- predictions ----------------------------------------------------------------------------------
def _segment(struct: ModelStructure) -> list:
    """The hidden layers of a plain chain the theory covers: the prefix of in-theory hidden layers."""
    if struct.blocks or struct.hook_adds:
        return []
    seg = []
    for L in struct.layers:
        if L.role != "hidden" or not L.in_theory:
            break
        seg.append(L)
    return seg


def _relu_equivalent(L: LayerInfo) -> tuple:
    """(c, s²) of the ReLU layer with the same FM1 recursion: E M_j = m₁(c M + s²), m₁ = (1 + E a²)/2,
    so c' = 2m₁c, s'² = 2m₁s² (exact for FM1 only)."""
    kind, a, lo, up = L.act
    m1 = float(unit_moments_xi(make_activation(kind, slope=a, lower=lo, upper=up))[0])
    return 2 * m1 * L.c_used, 2 * m1 * (L.bias_var or 0.0)


def _predict(struct: ModelStructure, x0: torch.Tensor, s: float, samples: int) -> dict:
    seg = _segment(struct)
    per_layer = {}
    for L in struct.layers:
        d = {}
        spec = L.act if L.act is not None else (("linear", None, None, None) if L.role == "head" else None)
        if spec is not None:
            act = make_activation(spec[0], slope=spec[1], lower=spec[2], upper=spec[3])
            m1 = float(unit_moments_xi(act)[0])
            d["c_he"] = 1.0 / m1                                 # σ_2² · fan-in: He 2 (ReLU), LeCun 1 (linear)
            try:
                d["c_sigma_s"] = sigma2(act, L.width, s, fan_ratio=L.width / L.fan_in) * L.fan_in
            except InitBoundsError:
                d["c_sigma_s"] = None
            d["fm1_rate"] = math.log(L.c_used * m1)
        per_layer[L.name] = d
    out: dict = {"per_layer": per_layer, "segment": [L.name for L in seg]}
    m0 = float(_per_point_m(x0[None])[0])
    out["input_m0"] = m0
    if seg:
        cs, s2s = zip(*(_relu_equivalent(L) for L in seg))
        widths = [L.width for L in seg]
        s2m = [v / m0 for v in s2s]
        lm = length_moments(widths, weight_var=list(cs), bias_var=s2m)
        out["not_he"] = [{"layer": L.name, "c": L.c_used, "rule": L.rule, "c_he": per_layer[L.name]["c_he"]}
                         for L in seg if not math.isclose(L.c_used, per_layer[L.name]["c_he"], rel_tol=1e-9)]
        out["fm1_rate"] = lm.fm1_rate
        out["fm1"] = lm.fm1
        out["mean_ratio"] = lm.mean_with_bias
        prefix = []
        for j in range(1, len(seg) + 1):
            prefix.append(length_moments(widths[:j], weight_var=list(cs[:j]), bias_var=s2m[:j]).mean_with_bias)
        out["mean_ratio_per_layer"] = prefix
        out["beta"] = lm.beta
        all_relu = all(L.act[0] == "relu" for L in seg)
        laws = {L.law for L in seg}
        bias_laws = {L.bias_law for L in seg if L.bias_law not in (None, "zero")}
        if all_relu and len(laws) == 1 and None not in laws and len(bias_laws) <= 1:
            law = laws.pop()
            bk = weight_kurtosis(bias_laws.pop()) if bias_laws else None
            flat = x0.to(torch.float64).flatten()
            q = float((flat**4).sum() / (flat**2).sum() ** 2)
            sm = second_moment(widths, input_dim=int(flat.numel()), weights=law, weight_var=list(cs), bias_var=s2m,
                               bias_kurtosis=float(bk.p) / float(bk.q) if bk is not None else 3.0,
                               input_flatness=min(max(q, 1.0 / flat.numel()), 1.0))
            out["second_moment"] = sm.second_moment
            out["var_ratio"] = sm.var
            out["weight_law"] = law
        else:
            out["second_moment"] = out["var_ratio"] = None
            out["second_moment_reason"] = ("exact E M_d² needs ReLU layers of one named weight law and one bias law "
                                           "here")
        out["log_norm_spread"] = math.sqrt(lm.lognormal[1])      # leading order: sd of log(M_d/M_0) = √(5β)
        if out.get("second_moment") and out["mean_ratio"]:
            # the lognormal law with the exact E M_d and E M_d² (weight law and biases included): σ² = log(E M²/(E M)²)
            out["log_norm_spread_matched"] = math.sqrt(max(math.log(out["second_moment"] / out["mean_ratio"] ** 2), 0.0))
        if any(L.act[0] == "relu" for L in seg):
            relu_w = [L.width for L in seg if L.act[0] == "relu"]
            lv = liveness(relu_w, bias=any(L.bias_var for L in seg))
            out["p_dead_point"] = lv.p_dead_point
            out["expected_live_fraction"] = lv.p_alive_point
            out["sign_flip_guarantee"] = lv.sign_flip_guarantee
        depth = len(seg)
        out["width_for_var_le_1"] = min_width_for_variance(depth, 1.0)
        out["min_model_width"] = min(widths)
        try:
            from ..bounds.width import min_width

            out["ab19_width"] = min_width("chernoff_per_layer", depth, samples, 0.05, 0.5).min_width
            out["ab19_design"] = {"method": "chernoff_per_layer", "samples": samples, "delta": 0.05, "eps": 0.5}
        except InitBoundsError as e:
            out["ab19_width"], out["ab19_reason"] = None, str(e)
    if seg and len(struct.layers) > len(seg):
        H = struct.layers[len(seg)]
        if H.role == "head" and not H.outside and not H.norm and (H.act is None or H.act[0] == "linear"):
            # a linear head: E M = c·E M_d + s² (any symmetric law), in units of M_0
            out["head"] = {"layer": H.name, "mean_ratio": H.c_used * out["mean_ratio"] + (H.bias_var or 0.0) / m0}
    post = _post_norm(struct)
    if post:
        out["post_norm"] = post
    blocks = _block_theory(struct, x0, m0)
    if blocks is not None:
        out["residual"] = blocks
    return out


def _stem_moments(struct: ModelStructure, x0: torch.Tensor, m_in: float):
    """(E M_0, E M_0² or None, why not) of the first residual block's input, for the example point x0 of
    M = m_in: the input itself, or a stem of Linear layers inside the theory (an identity activation when
    none follows). E M_0 by the FM1 recursion M ← m₁(cM + s²) (any symmetric laws); E M_0² for a single
    linear stem h = Wx + b of named laws: E h_i⁴ = 3q² + (κ_W − 3)(c/n₀)²Σx_j⁴ + (κ_b − 3)s⁴, q = cM + s²,
    and E M_0² = q²(1 − 1/n) + E h_i⁴/n (rows independent). Returns None when the stem is not predictable."""
    b0 = struct.blocks[0]
    stem = [L for L in struct.layers if L.role == "stem"]
    if not stem:
        return (m_in, m_in * m_in, None) if b0.skip_input else None
    if stem[-1].probe != b0.skip or any(L.kind != "linear" or L.outside or L.norm for L in stem):
        return None
    mean = m_in
    for L in stem:
        kind, a, lo, up = L.act or ("linear", None, None, None)
        m1 = float(unit_moments_xi(make_activation(kind, slope=a, lower=lo, upper=up))[0])
        mean = m1 * (L.c_used * mean + (L.bias_var or 0.0))
    (L,) = stem if len(stem) == 1 else (None,)
    if L is None or (L.act and L.act[0] != "linear") or L.law is None:
        return mean, None, "the stem's E M_0² is derived here for one linear layer of a named law"
    bias_law = L.bias_law if L.bias_law not in (None, "zero") else "gaussian"
    if bias_law not in ("gaussian", "uniform", "rademacher", "laplace"):
        return mean, None, f"the stem's bias law ({L.bias_law}) is not a named law"
    kw, kb = (float(k.p) / float(k.q) for k in (weight_kurtosis(L.law), weight_kurtosis(bias_law)))
    s2, c, n0 = L.bias_var or 0.0, L.c_used, L.fan_in
    flat = x0.to(torch.float64).flatten()
    q = c * m_in + s2
    h4 = 3 * q * q + (kw - 3) * (c / n0) ** 2 * float((flat**4).sum()) + (kb - 3) * s2 * s2
    return mean, q * q * (1 - 1 / L.width) + h4 / L.width, None


#: Normalization layers whose output at init is odd in their input and has mean square 1 − O(ε/Var) (γ = 1,
#: β = 0 or no affine): over the batch per feature (BatchNorm, train mode), over each point's features
#: (LayerNorm, GroupNorm) or each point's positions (InstanceNorm).
_BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d)


def _norm_at_init(m) -> str | None:
    """None when ``m`` normalizes as at init (see above), else why not."""
    if isinstance(m, _BATCH_NORMS) and not m.training:
        return f"{type(m).__name__} in eval mode (running statistics, not the batch's)"
    if isinstance(m, (nn.InstanceNorm1d, nn.InstanceNorm2d)) and m.track_running_stats and not m.training:
        return f"{type(m).__name__} in eval mode with running statistics"
    w, b = getattr(m, "weight", None), getattr(m, "bias", None)
    if w is not None and not bool((w == 1).all()) or b is not None and not bool((b == 0).all()):
        return f"{type(m).__name__}'s affine parameters are not at init (γ = 1, β = 0)"
    return None


def _post_norm(struct: ModelStructure) -> list:
    """Predictions of the batch-averaged M̄ (the mean over the batch of ‖h‖²/numel) after each normalization layer
    at init and the layers inside the theory that follow it (docs/theory.md §15). After the norm M̄ = 1 − O(ε/Var):
    each feature (or point) is centred and scaled to mean square v/(v + ε). The norm is odd in its input and the
    weights and biases before it are symmetric, so its output has a symmetric law and an activation φ after it
    keeps E φ(y)² = m₁ E y² (ReLU: 1/2). Each following layer: M̄ ← m₁(c M̄ + s²), exact for any symmetric laws
    (a mean over the batch of the per-point FM1 recursion). Convolutions: channels as width."""
    out, cur = [], None
    if struct.hook_adds:
        return out
    for L in struct.layers:
        why = None
        if L.norm is not None:
            why = _norm_at_init(L.norm_module)
            extra = [o for o in L.outside if "resets the length" not in o]
            if why is None and not extra and (L.act is None or L.act in _inside_act(L)):
                m1 = 1.0 if (L.act is None or L.norm_after_act) else _m1(L.act)
                cur = m1 * 1.0
                out.append({"layer": L.name, "probe": L.probe, "mean": cur, "after": L.norm,
                            "exactness": "exact as ε/Var → 0 (the norm's ε)" + (
                                "" if L.kind == "linear" else "; channels as width")})
                continue
            cur = None
            continue
        if cur is not None and not L.outside and L.role in ("hidden", "head") and (
                L.act is not None or L.role == "head"):
            cur = _m1(L.act or ("linear", None, None, None)) * (L.c_used * cur + (L.bias_var or 0.0))
            out.append({"layer": L.name, "probe": L.probe, "mean": cur, "after": out[-1]["after"],
                        "exactness": out[-1]["exactness"] if L.kind == "linear" else
                        "exact as ε/Var → 0; approximation (channels as width)"})
        else:
            cur = None
    return out


def _inside_act(L):
    return (L.act,) if L.act is not None and L.act[0] in ("relu", "leaky", "rrelu", "linear") else ()


def _m1(act) -> float:
    kind, a, lo, up = act
    return float(unit_moments_xi(make_activation(kind, slope=a, lower=lo, upper=up))[0])


def _block_theory(struct: ModelStructure, x0: torch.Tensor, m_in: float):
    """The residual prediction when every block is Linear → ReLU → Linear with the same shapes, gains and bias
    variances: bounds.resnet.residual_bias_moments (docs/theory.md §15), whose zero-bias case is §7's block with
    η_eff = η·√(c₁c₂/2). Without branch biases the checked quantity is ‖x_B‖²/‖x_0‖² (its law is free of x_0);
    with them the blocks are affine in (E M², E M), so the checked quantity is M_B/M_in, M_in the example
    point's, through the stem's moments (:func:`_stem_moments`)."""
    if not struct.blocks:
        return None
    by = {L.name: L for L in struct.layers}
    shapes, laws = [], set()
    for b in struct.blocks:
        mods = [t for t in b.layers if t in by]
        acts = [t for t in b.layers if t not in by]
        if len(mods) != 2 or b.extra or by[mods[0]].kind != "linear" or by[mods[1]].kind != "linear":
            return {"reason": f"block {b.out} is not Linear → ReLU → Linear (with a constant scale)"}
        L1, L2 = by[mods[0]], by[mods[1]]
        if not (L1.act and L1.act[0] == "relu") and not any("relu" in a for a in acts):
            return {"reason": f"block {b.out}: the branch activation is not ReLU"}
        if L2.width != L1.fan_in or L2.fan_in != L1.width:
            return {"reason": f"block {b.out}: the branch does not map width n → m → n"}
        shapes.append((L1.fan_in, L1.width, b.eta, L1.c_used, L2.c_used, L1.bias_var or 0.0, L2.bias_var or 0.0))
        laws |= {L1.law, L2.law} | {L.bias_law for L in (L1, L2) if L.bias_law not in (None, "zero")}
    if len({sh[0] for sh in shapes}) != 1:
        return {"reason": "the blocks' residual widths differ"}
    n, m, eta, c1, c2, s1, s2 = shapes[0]
    B = len(struct.blocks)
    biases = any(sh[5] or sh[6] for sh in shapes)
    gauss = laws == {"gaussian"}
    same = len({tuple(round(v, 12) for v in sh) for sh in shapes}) == 1
    out = {"blocks": B, "width": n, "branch_width": m, "eta": eta, "eta_eff": round(eta * math.sqrt(c1 * c2 / 2), 12),
           "c1": c1, "c2": c2, "bias_var1": s1, "bias_var2": s2, "biases": biases, "shapes": shapes,
           "same_blocks": same,
           "second_exactness": "exact" if gauss else "approximation (the block's second moment is exact for "
                                                         "Gaussian weights and biases)"}
    if not biases:
        mean, second = _chain_blocks(shapes, 1.0, 1.0)
        out.update(quantity="‖x_B‖²/‖x_0‖²", mean_ratio=mean, growth=mean, second_moment=second,
                   normalized_second=second / mean**2, exactness="exact (any symmetric law)")
        return out
    stem = _stem_moments(struct, x0, m_in)
    if stem is None:
        return dict(out, reason="branch biases make the blocks affine in E M_0, and the first block's input "
                                "(after the stem) is not predicted here")
    m0, m0_sq, why = stem
    mean, second = _chain_blocks(shapes, m0, m0 * m0 if m0_sq is None else max(m0_sq, m0 * m0))
    out.update(quantity="M_B/M_in", mean_ratio=mean / m_in, growth=mean / m0, m0=m0 / m_in,
               exactness="exact (any symmetric law; branch biases included)")
    if m0_sq is not None:
        out.update(second_moment=second / m_in**2, normalized_second=second / mean**2)
    else:
        out["second_reason"] = why
    return out


def _chain_blocks(shapes, m0: float, m0_second: float, scale=lambda b: 1.0) -> tuple:
    """(E M_B, E M_B²) through the blocks ``shapes`` = [(n, m, η, c₁, c₂, s₁², s₂²), …] one at a time
    (bounds.resnet.residual_bias_moments with B = 1 from the previous block's moments; exact: each block is
    linear on (E M², E M, 1)), block b's η multiplied by ``scale(b)`` (b = 1..B)."""
    mean, second = m0, m0_second
    for b, (n, m, eta, c1, c2, s1, s2) in enumerate(shapes, start=1):
        r = residual_bias_moments(1, n, m, eta * scale(b), c1=c1, c2=c2, bias_var1=s1, bias_var2=s2, m0=mean,
                                  m0_second=max(second, mean * mean))
        mean, second = r.mean, r.second
    return mean, second


# --- the spot-check -------------------------------------------------------------------------------
def _redraw(model: nn.Module, struct: ModelStructure, gen: torch.Generator, overrides: dict) -> None:
    mods = dict(model.named_modules())
    with torch.no_grad():
        for L in struct.layers:
            m = mods[L.name]
            law, c, bvar, blaw = overrides.get(L.name, (L.law or "gaussian", L.c_used, L.bias_var, L.bias_law))
            _fill(m.weight, law, c / L.fan_in, gen)
            if m.bias is not None:
                if not bvar:
                    m.bias.zero_()
                else:
                    _fill(m.bias, blaw if blaw in ("gaussian", "uniform", "rademacher", "laplace") else "gaussian",
                          bvar, gen)


def _fill(t: torch.Tensor, law: str, var: float, gen: torch.Generator) -> None:
    sd = math.sqrt(var)
    if law == "uniform":
        t.uniform_(-sd * math.sqrt(3), sd * math.sqrt(3), generator=gen)
    elif law == "rademacher":
        t.copy_((torch.randint(0, 2, t.shape, generator=gen) * 2 - 1).to(t.dtype) * sd)
    elif law == "laplace":
        u = torch.rand(t.shape, generator=gen, dtype=torch.float64) - 0.5
        t.copy_((-torch.sign(u) * torch.log1p(-2 * u.abs()) * sd / math.sqrt(2)).to(t.dtype))
    else:
        t.normal_(0.0, sd, generator=gen)


def _spot(model, struct, x, *, networks, stream, factory, overrides, probes, mutate=None):
    """Per network: {probe: per-point M} for the probes, and alive masks. ``mutate(net)``, if given, changes
    each re-initialized network in place before it is forwarded (a recommendation applied to it)."""
    names = set(probes)
    elements = sum(p.numel() for p in model.parameters()) * max(1, x.shape[0])
    with thread_policy(elements):
        return _spot_rows(model, struct, x, networks, stream, factory, overrides, names, mutate)


def _network(k, model, struct, stream, factory, overrides, base):
    """Network k of the spot-check: the factory under seed k (forked global RNG), or ``base`` (a copy of
    the model) re-drawn from the detected laws with ``stream.generator(k)``. Returns (net, base)."""
    if factory is not None and not overrides:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(stream.seed_of(k) % 2**63)
            return factory(), base
    if base is None:
        base = copy.deepcopy(model)
    _redraw(base, struct, stream.generator(k), overrides)
    return base, base


def _spot_rows(model, struct, x, networks, stream, factory, overrides, names, mutate=None):
    rows = []
    base = None
    for k in range(networks):
        net, base = _network(k, model, struct, stream, factory, overrides, base)
        if mutate is not None:
            mutate(net)
        xx = x.to(next(net.parameters()).dtype)
        rec = _record(net, xx, names, struct.graph)
        rows.append({n: (_per_point_m(t), (t.reshape(t.shape[0], -1) != 0).any(dim=1)) for n, t in rec.items()
                     if isinstance(t, torch.Tensor) and t.ndim >= 1 and t.shape[0] == x.shape[0]})
    return rows


def _ci(values, level):
    v = np.asarray(values, dtype=float)
    return stats.mean_ci(v, level)


#: A mean of M_d/M_0 is decided only where its law's Var/mean² (He, Gaussian: Π(1 + 5/n_j) − 1, bounds.variance)
#: is at most this; beyond it the sample mean of a few hundred networks is dominated by rare large values and
#: the normal interval does not hold its level. The second moment needs the fourth: a stricter limit.
MAX_NV_MEAN = 5.0
MAX_NV_SECOND = 2.0


def _heavy(nv, limit):
    if nv is None or nv > limit:
        return f"heavy tails: Var/mean² = {nv:.3g} > {limit:g}" if nv is not None else "heavy tails"
    return None


def _checks(struct, pred, x, rows, alpha) -> tuple:
    seg = [L for L in struct.layers if L.name in pred.get("segment", [])]
    m0 = pred["input_m0"]
    items = []     # (quantity, predicted, sample, exactness, source, support)
    if seg:
        widths = [L.width for L in seg]
        nv = [length_moments(widths[:j + 1]).normalized_var for j in range(len(seg))]   # Π(1 + 5/n) − 1
        exact_all = all(L.kind == "linear" for L in seg)
        ex = "exact" if exact_all else "approximation (channels as width)"
        for j, L in enumerate(seg):
            v = [float(r[L.probe][0][0]) / m0 for r in rows]
            items.append((f"E M/M_0 after {L.name}", pred["mean_ratio_per_layer"][j], v,
                          ex if L.kind == "linear" else "approximation (zero-padded edges)",
                          "FM1, bounds.variance.length_moments", (0, None), _heavy(nv[j], MAX_NV_MEAN)))
        last = seg[-1]
        if pred.get("second_moment") is not None:
            v = [(float(r[last.probe][0][0]) / m0) ** 2 for r in rows]
            items.append((f"E (M_d/M_0)² after {last.name}", pred["second_moment"], v, ex,
                          "bounds.variance.second_moment (detected laws)", (0, None), _heavy(nv[-1], MAX_NV_SECOND)))
        if "head" in pred:
            H = next(L for L in struct.layers if L.name == pred["head"]["layer"])
            v = [float(r[H.probe][0][0]) / m0 for r in rows]
            items.append((f"E M/M_0 after {H.name} (linear head)", pred["head"]["mean_ratio"], v,
                          ex if H.kind == "linear" else "approximation (zero-padded edges)",
                          "FM1 (a linear layer: E M = c E M_d + s²)", (0, None), _heavy(nv[-1], MAX_NV_MEAN)))
        matched = pred.get("log_norm_spread_matched")
        if pred.get("log_norm_spread") is not None:
            lv = np.log([t for t in (float(r[last.probe][0][0]) / m0 for r in rows) if t > 0])
            if lv.size >= 2:
                dev = (lv - lv.mean()) ** 2 * lv.size / (lv.size - 1)       # mean: the unbiased sample variance
                items.append((f"sd log(M_d/M_0) after {last.name} (log-norm spread; {lv.size} networks where the "
                              "point lives)", pred["log_norm_spread"] if matched is None else matched, dev,
                              ("lognormal approximation (σ² = log E M_d²/(E M_d)², the exact moments)"
                               if matched is not None else "leading order (√(5β): zero bias, Gaussian weights)")
                              if exact_all else "approximation (channels as width; lognormal)", "bounds.variance.length_moments (lognormal)", (0, None), None,
                              math.sqrt))
        if "expected_live_fraction" in pred:
            relu = [L for L in seg if L.act[0] == "relu"]
            fr = []
            for r in rows:
                alive = torch.ones(x.shape[0], dtype=torch.bool)
                for L in relu:
                    alive &= r[L.probe][1]
                fr.append(float(alive.double().mean()))
            items.append(("live fraction (point alive through every ReLU layer)", pred["expected_live_fraction"], fr,
                          ex, "bounds.death.liveness", (0, 1), None))
    for p in pred.get("post_norm", []):
        v = [float(r[p["probe"]][0].mean()) for r in rows if p["probe"] in r]
        if len(v) >= 2:
            items.append((f"E M̄ after {p['layer']} (batch mean; {p['after']} restarts the chain)", p["mean"], v,
                          p["exactness"], "normalization at init + FM1", (0, None), None))
    res = pred.get("residual")
    if res and "mean_ratio" in res:
        b0, bl = struct.blocks[0], struct.blocks[-1]
        if res["biases"]:
            v = [float(r[bl.out][0][0]) / m0 for r in rows]
            label = f"E M_B/M_in over {res['blocks']} residual blocks (M_in: the input's)"
        else:
            v = [float(r[bl.out][0][0] / r[b0.skip][0][0]) for r in rows]
            label = f"E ‖x_B‖²/‖x_0‖² over {res['blocks']} residual blocks"
        items.append((label, res["mean_ratio"], v, res["exactness"].split(" (")[0],
                      "bounds.resnet.residual_bias_moments", (0, None), None))
        if res.get("second_moment") is not None:
            items.append((label.replace("E ", "E (", 1).replace(" over", ")² over", 1), res["second_moment"],
                          [t * t for t in v], res["second_exactness"], "bounds.resnet.residual_bias_moments",
                          (0, None), _heavy(res["normalized_second"] - 1, MAX_NV_SECOND)))
    m = max(1, sum(1 for it in items if it[6] is None))
    level = 1 - alpha / m
    checks = []
    for q, p, v, ex, src, (lo, hi), why, *post in items:
        mean, a, b = stats.mean_ci(np.asarray(v, dtype=float), level, lo=lo, hi=hi)
        if post:                     # an interval for a transform of the mean (the sd from the variance)
            mean, a, b = (post[0](max(t, 0.0)) for t in (mean, a, b))
        checks.append(Check(q, float(p), float(mean), float(a), float(b), ex, src, why))
    measured_only = []
    predicted = {p["layer"] for p in pred.get("post_norm", [])} | ({pred["head"]["layer"]} if "head" in pred else set())
    for L in struct.layers:
        if L in seg or L.name in predicted or L.probe not in rows[0]:
            continue
        v = np.asarray([float(r[L.probe][0][0]) / m0 for r in rows])
        mean, a, b = stats.mean_ci(v, 1 - alpha, lo=0)
        measured_only.append((L.name, float(mean), (float(a), float(b))))
    return checks, measured_only


def _sign_flip_rec(model, struct, pred, x, *, networks, stream, factory, alpha) -> dict:
    """The sign-flip recommendation, re-measured: each re-initialized network is flipped on the example batch
    (``sim.death.sign_flip_``, mode 'unit') and its final living fraction recorded (the guarantee 2^-k holds
    for every network; the mean is reported with its interval)."""
    from .death import sign_flip_

    rec = {"action": "sign_flip", "after_predicted": pred["sign_flip_guarantee"]}
    head = (f"sign_flip_ on training data: live fraction {pred['expected_live_fraction']:.3g} → ≥ "
            f"{pred['sign_flip_guarantee']:.3g} guaranteed (2^-k, k = ReLU layers)")
    fr, base = [], None
    for k in range(networks):
        net, base = _network(k, model, struct, stream, factory, {}, base)
        fr.append(sign_flip_(net, x, mode="unit").living_fraction[-1])
    mean, lo, hi = stats.mean_ci(np.asarray(fr), 1 - alpha, lo=0, hi=1)
    ok = min(fr) >= pred["sign_flip_guarantee"]
    rec["after_measured"] = [mean, lo, hi]
    rec["guarantee_held"] = ok
    rec["text"] = (head + f"; re-measured after applying it to {networks} networks: mean {mean:.3g} [{lo:.3g}, "
                   f"{hi:.3g}], minimum {min(fr):.3g} ({'the guarantee held in every network' if ok else 'GUARANTEE BROKEN'})")
    return rec

#: The width recommendation's rebuilt chains: 20 per spot-check network (a variance needs more than a mean),
#: within about 2·10^9 multiply-adds, drawn in chunks of this many (chunk k from ``stream.generator(k)``).
_CHAIN_CHUNK = 500


def _width_chains(networks: int, width: int, depth: int, n0: int) -> int:
    per_chain = width * (n0 + (depth - 1) * width)
    return int(max(networks, min(20 * networks, 2e9 // per_chain)))


def _width_rec(seg, pred, x, *, networks, stream, alpha) -> Optional[dict]:
    """The width recommendation, re-measured: the theory chain rebuilt at the recommended width W (same depth and
    activations, He fan-in Gaussian weights, zero biases; W₁ ∈ R^{W×n₀}), :func:`_width_chains` of them drawn in chunks and forwarded on the example point; Var M_d/M_0² is estimated as the mean of
    (M_d/M_0 − 1)² (E M_d/M_0 = 1 exactly here), with its interval. Predicted: (1 + 5/W)^d − 1 (§6, exact for
    ReLU; the leaky factor differs, labelled)."""
    d, W = len(seg), pred["width_for_var_le_1"]
    predicted = length_moments([W] * d).normalized_var
    before = pred["var_ratio"] / pred["mean_ratio"] ** 2 if pred.get("var_ratio") is not None else None
    rec = {"action": "width", "width": W, "depth": d, "before": before, "after_predicted": predicted}
    head = (f"width ≥ {W} for Var M_d/M_0² ≤ 1 at depth {d} (He, zero bias; the narrowest layer here is "
            f"{pred['min_model_width']}{'' if before is None else f', Var M_d/(E M_d)² here {before:.4g}'}): Var → "
            f"{predicted:.4g}")
    conv = _conv_chain(seg, x)
    if conv is None and (x.ndim != 2 or any(L.kind != "linear" for L in seg)):
        # not a recommendation where it cannot be rebuilt and re-measured (Linear layers on (points, features)
        # data, or ungrouped convolutions of one kind); the width stays a prediction in the report's lines
        return None
    x0 = x[0].detach().to(torch.float64)
    m0 = float((x0 * x0).mean())
    if conv is not None:
        return _width_rec_conv(seg, conv, rec, head, x0, m0, W, predicted, networks=networks, stream=stream,
                               alpha=alpha)
    chains = _width_chains(networks, W, d, int(x0.numel()))
    v = []
    for k, start in enumerate(range(0, chains, _CHAIN_CHUNK)):       # chunk k draws from stream.generator(k)
        g, t = stream.generator(k), min(_CHAIN_CHUNK, chains - start)
        with torch.no_grad():
            h = x0.expand(t, -1)
            for L in seg:
                kind, a, lo, up = L.act
                m1 = float(unit_moments_xi(make_activation(kind, slope=a, lower=lo, upper=up))[0])
                w = torch.randn(t, W, h.shape[1], generator=g, dtype=torch.float64) * math.sqrt(1 / m1 / h.shape[1])
                z = torch.einsum("twn,tn->tw", w, h)
                if kind == "rrelu":
                    slope = torch.rand(z.shape, generator=g, dtype=torch.float64) * (up - lo) + lo
                    h = torch.where(z > 0, z, slope * z)
                else:
                    h = torch.where(z > 0, z, (a or 0.0) * z) if kind != "linear" else z
            v.append(((h * h).mean(dim=1) / m0).numpy())
    v = np.concatenate(v)
    exact = all(L.act[0] == "relu" for L in seg)
    mean, lo_, hi_ = stats.mean_ci((v - 1.0) ** 2, 1 - alpha, lo=0)
    ok = lo_ <= predicted <= hi_
    verdict = "agrees" if ok else ("DISAGREES" if exact else "differs (approximation: the (1 + 5/n) factor is ReLU's)")
    rec["after_measured"] = [mean, lo_, hi_]
    rec["verdict"] = verdict
    rec["chains"] = chains
    rec["text"] = (head + f"; re-measured on {chains} rebuilt chains of width {W}: Var {mean:.4g} [{lo_:.4g}, "
                   f"{hi_:.4g}] ({verdict})")
    return rec


def _conv_chain(seg, x):
    """torch.nn.functional's conv for a segment of ungrouped convolutions of one kind fed (points, C, …) data, or
    None."""
    kinds = {L.kind for L in seg}
    if kinds == {"conv1d"} and x.ndim == 3:
        fn = torch.nn.functional.conv1d
    elif kinds == {"conv2d"} and x.ndim == 4:
        fn = torch.nn.functional.conv2d
    else:
        return None
    if any(L.module.groups != 1 or L.module.padding_mode != "zeros" or isinstance(L.module.padding, str)
           for L in seg):
        return None
    return fn


#: Rebuilt convolution chains per grouped call (network k of a chunk is group k).
_CONV_CHUNK = 50


def _width_rec_conv(seg, fn, rec, head, x0, m0, W, predicted, *, networks, stream, alpha) -> dict:
    """The width recommendation re-measured for a convolution chain: ``networks`` chains rebuilt with W output
    channels per layer (same kernels, strides, padding, dilation; He fan-in Gaussian weights, zero biases), run
    ``_CONV_CHUNK`` at a time as one grouped convolution (chunk k from ``stream.generator(k)``). Channels as width:
    the predicted (1 + 5/W)^d − 1 is an approximation here (positions average), labelled so."""
    v = []
    for k, start in enumerate(range(0, networks, _CONV_CHUNK)):
        g, t = stream.generator(k), min(_CONV_CHUNK, networks - start)
        with torch.no_grad():
            h = x0[None].repeat(1, t, *([1] * (x0.ndim - 1)))               # (1, t·C, …): network k is group k
            for L in seg:
                m, (kind, a, lo, up) = L.module, L.act
                cin = h.shape[1] // t
                fan_in = cin * math.prod(m.kernel_size)
                w = torch.randn(t * W, cin, *m.kernel_size, generator=g, dtype=torch.float64)
                z = fn(h, w * math.sqrt(1 / _m1(L.act) / fan_in), None, m.stride, m.padding, m.dilation, t)
                if kind == "rrelu":
                    slope = torch.rand(z.shape, generator=g, dtype=torch.float64) * (up - lo) + lo
                    h = torch.where(z > 0, z, slope * z)
                else:
                    h = torch.where(z > 0, z, (a or 0.0) * z) if kind != "linear" else z
            h = h.reshape(t, -1)
            v.append(((h * h).mean(dim=1) / m0).numpy())
    v = np.concatenate(v)
    mean, lo_, hi_ = stats.mean_ci((v - 1.0) ** 2, 1 - alpha, lo=0)
    verdict = "agrees" if lo_ <= predicted <= hi_ else "differs (approximation: channels as width)"
    rec.update(after_measured=[mean, lo_, hi_], verdict=verdict, chains=networks,
               exactness="approximation (channels as width)")
    rec["text"] = (head + f"; re-measured on {networks} rebuilt convolution chains with {W} channels: Var {mean:.4g} "
                   f"[{lo_:.4g}, {hi_:.4g}] ({verdict if lo_ <= predicted <= hi_ else verdict + ': positions average'})")
    return rec


def _scale_branches(struct, eta_of):
    """mutate(net) for _spot: multiply block b's last branch layer (weight and bias) by eta_of(b), b = 1..B, so
    that its branch output is scaled by that factor (the branch ends in that Linear layer)."""
    by = {L.name: L for L in struct.layers}
    last = [[t for t in b.layers if t in by][-1] for b in struct.blocks]

    @torch.no_grad()
    def mutate(net):
        mods = dict(net.named_modules())
        for b, name in enumerate(last, start=1):
            m = mods[name]
            m.weight.mul_(eta_of(b))
            if m.bias is not None:
                m.bias.mul_(eta_of(b))
    return mutate


def _branch_rec(struct, pred, model, x, *, networks, stream, factory, alpha) -> dict:
    """The branch-scale recommendation η_b = η/b, re-measured: every re-initialized network gets block b's last
    branch layer (weights and bias) multiplied by 1/b, and the residual quantity of the spot-check is measured
    again; predicted by bounds.resnet.residual_bias_moments with schedule 'inv'."""
    res = pred["residual"]
    m_in = pred["input_m0"]
    m0 = res["m0"] * m_in if res["biases"] else 1.0
    mean, _ = _chain_blocks(res["shapes"], m0, m0 * m0, scale=lambda b: 1.0 / b)
    after, growth = (mean / m_in, mean / m0) if res["biases"] else (mean, mean)
    rec = {"action": "branch_scale", "schedule": "inv", "before": res["mean_ratio"], "after_predicted": after,
           "growth_before": res["growth"], "growth_after": growth}
    b0, bl = struct.blocks[0], struct.blocks[-1]
    rows = _spot(model, struct, x, networks=networks, stream=stream.child("branch_scale"), factory=factory,
                 overrides={}, probes=[b0.skip, bl.out], mutate=_scale_branches(struct, lambda b: 1.0 / b))
    v = [float(r_[bl.out][0][0]) / m_in if res["biases"] else float(r_[bl.out][0][0] / r_[b0.skip][0][0])
         for r_ in rows]
    mean, lo, hi = stats.mean_ci(np.asarray(v), 1 - alpha, lo=0)
    verdict = "agrees" if lo <= after <= hi else "DISAGREES"
    rec["after_measured"] = [mean, lo, hi]
    rec["verdict"] = verdict
    rec["text"] = (f"branch scale η_b = η/b (schedule 'inv'; multiply block b's last branch layer by 1/b): "
                   f"E‖x_B‖²/E‖x_0‖² {res['growth']:.4g} → {growth:.4g}, bounded as blocks are added (Σ η_b² < ∞); "
                   f"E {res['quantity']} {res['mean_ratio']:.4g} → {after:.4g} predicted, re-measured after applying "
                   f"it to {networks} networks: {mean:.4g} [{lo:.4g}, {hi:.4g}] ({verdict})")
    return rec


def _recommend(struct, pred, model, x, *, networks, stream, factory, alpha) -> list:
    recs = []
    seg = [L for L in struct.layers if L.name in pred.get("segment", [])]
    off = [L for L in seg if abs(pred["per_layer"][L.name]["fm1_rate"]) > 1e-9 or L.bias_var]
    if seg and off:
        over = {}
        for L in seg:
            m1 = float(unit_moments_xi(make_activation(L.act[0], slope=L.act[1], lower=L.act[2],
                                                       upper=L.act[3]))[0])
            over[L.name] = ("gaussian", 1.0 / m1, 0.0, "zero")
        rows = _spot(model, struct, x, networks=networks, stream=stream.child("fix"), factory=None, overrides=over,
                     probes=[L.probe for L in seg])
        v = [float(r[seg[-1].probe][0][0]) / pred["input_m0"] for r in rows]
        mean, lo, hi = stats.mean_ci(np.asarray(v), 1 - alpha, lo=0)
        names = ", ".join(L.name for L in off)
        heavy = _heavy(length_moments([L.width for L in seg]).normalized_var, MAX_NV_MEAN)
        verdict = f"undecided, {heavy}" if heavy else "agrees" if lo <= 1 <= hi else (
            "DISAGREES" if all(L.kind == "linear" for L in seg) else "differs (approximation: convolutions)")
        nl = "relu" if all(L.act[0] == "relu" for L in seg) else "leaky_relu"
        recs.append({
            "action": "he_init", "layers": [L.name for L in off],
            "text": (f"kaiming_normal_(mode='fan_in', nonlinearity='{nl}') and zero biases on {len(off)} layer(s) "
                     f"({names}): FM1 rate {pred['fm1_rate']:+.3g}/layer → 0, E M_d/M_0 "
                     f"{pred['mean_ratio']:.4g} → 1; re-measured after applying: {mean:.4g} "
                     f"[{lo:.4g}, {hi:.4g}] ({verdict})"),
            "before": pred["mean_ratio"], "after_predicted": 1.0, "after_measured": [mean, lo, hi]})
    if seg and pred["width_for_var_le_1"] > pred["min_model_width"]:
        rec = _width_rec(seg, pred, x, networks=networks, stream=stream.child("width"), alpha=alpha)
        if rec is not None:
            recs.append(rec)
    # recommended only where it can be applied and re-measured: sign_flip_ takes Linear layers and
    # (points, features) data (for other models the live fraction stays a prediction in the table)
    flippable = x.ndim == 2 and all(L.kind == "linear" for L in struct.layers)
    if seg and flippable and pred.get("expected_live_fraction") is not None and pred["expected_live_fraction"] < 0.99:
        recs.append(_sign_flip_rec(model, struct, pred, x, networks=networks, stream=stream.child("sign_flip"),
                                   factory=factory, alpha=alpha))
    res = pred.get("residual")
    if res and "mean_ratio" in res and res["growth"] > 2:
        recs.append(_branch_rec(struct, pred, model, x, networks=networks, stream=stream, factory=factory,
                                alpha=alpha))
    return recs


#: The certified width's default budget (seconds by sim.certify's cost model, checked before any sampling).
CERTIFY_BUDGET = 10.0
#: Its design: the AB19 row's δ and ε, confidence 0.95, the squared-norm band at every layer.
CERTIFY_DESIGN = {"delta": 0.05, "eps": 0.5, "confidence": 0.95, "norm": "squared", "layers": "all"}


def _certified(struct: ModelStructure, pred: dict, x: torch.Tensor, budget: float, seed: int) -> dict:
    """sim.certify.certify on the example batch (rows flattened) for the theory chain's depth, or the reason it
    is not run (a refusal of its cost model included: raised before the work)."""
    from .certify import certify

    seg = [L for L in struct.layers if L.name in pred.get("segment", [])]
    design = dict(CERTIFY_DESIGN, budget_seconds=budget, seed=seed)
    if not seg:
        return {"reason": "no theory chain (the certificate is for a He ReLU chain of the model's depth)",
                "design": design}
    if any(L.kind != "linear" or L.act[0] != "relu" for L in seg):
        return {"reason": "the certificate is for dense ReLU layers on the flattened inputs (this chain has "
                          "convolutions or other activations)", "design": design}
    X = x.detach().to(torch.float64).reshape(x.shape[0], -1).numpy()
    design["depth"] = len(seg)
    try:
        r = certify(X, depth=len(seg), budget_seconds=budget, seed=seed, name="the example batch",
                    **CERTIFY_DESIGN)
    except InitBoundsError as e:
        return {"reason": f"sim.certify refused: {e}", "design": design}
    return {"width": r.certified_width, "certified_by": r.certified_by, "trials": r.trials,
            "single_width": r.single_width, "union_width": r.union_width, "samples": r.samples,
            "model_seconds": r.estimate["model_seconds_spent"], "notes": list(r.notes), "design": design}


def audit(model: nn.Module, example_input: torch.Tensor, *, factory=None, s: float = 1.0, networks: int = 200,
          seed: int = 0, alpha: float = ALPHA, certify: bool = False,
          certify_budget: float = CERTIFY_BUDGET) -> AuditReport:
    """Audit ``model`` on ``example_input`` (a batch, first axis = points): read it, predict, spot-check.

    ``factory``: a callable returning a fresh model of the same architecture and init (the spot-check calls
    it under seeds); None re-draws each layer from its detected law. ``s``: the order of the moment the
    σ_s column preserves (GH21). ``networks``: re-initializations in the spot-check (its standard errors
    shrink as 1/√networks). ``seed``: the spot-check's stream (``Stream(seed, "audit")``). ``alpha``:
    family-wise error rate of the decisions (Bonferroni over the quantities compared). ``certify``: also find the
    certified width for the example batch as data (:func:`sim.certify.certify` for the theory chain's depth,
    :data:`CERTIFY_DESIGN`, at most ``certify_budget`` seconds by its cost model, refused before any sampling
    when its first test does not fit); the command does this when ``--data`` or ``--dataset`` is given.

    Returns an :class:`AuditReport`. Raises :class:`DomainError` for a model without Linear/Conv layers
    or an input that does not fit it.
    """
    if not isinstance(model, nn.Module):
        raise DomainError(f"model must be a torch.nn.Module; got {type(model).__name__}", param="model")
    if not isinstance(example_input, torch.Tensor) or example_input.ndim < 2 or not example_input.is_floating_point():
        got = type(example_input).__name__ if not isinstance(example_input, torch.Tensor) else \
            f"a {example_input.dtype} tensor of shape {tuple(example_input.shape)}"
        raise DomainError(f"example_input must be a float tensor with a batch axis first; got {got}",
                          param="example_input")
    for name, val, lo in (("networks", networks, 2), ("seed", seed, 0)):
        if isinstance(val, bool) or not isinstance(val, int) or val < lo:
            raise DomainError(f"{{{name}}} must be an integer ≥ {lo}; got {val!r}", param=name)
    if isinstance(certify_budget, bool) or not isinstance(certify_budget, (int, float)) or not (
            0 < certify_budget < math.inf):
        raise DomainError(f"{{certify_budget}} must be a number of seconds > 0; got {certify_budget!r}",
                          param="certify_budget")
    params = list(model.parameters())
    dtype = params[0].dtype if params else torch.float32
    x = example_input.detach().to(dtype)
    try:
        with torch.no_grad():
            model(x)
    except Exception as e:  # noqa: BLE001 — the user's forward failing on this input
        raise DomainError(f"example_input of shape {tuple(x.shape)} does not fit the model: "
                          f"{str(e).splitlines()[0] if str(e) else type(e).__name__}", param="example_input")
    struct = read_model(model, x)
    stream = Stream(seed, "audit")
    if factory is not None:
        _pool(struct, factory, stream.child("pool"))
    pred = _predict(struct, x[0], s, int(x.shape[0]))
    if certify:
        pred["certified"] = _certified(struct, pred, x, float(certify_budget), seed)
    probes = [L.probe for L in struct.layers]
    for b in struct.blocks:
        probes += [b.skip, b.out]
    rows = _spot(model, struct, x, networks=networks, stream=stream, factory=factory, overrides={}, probes=probes)
    checks, measured_only = _checks(struct, pred, x, rows, alpha)
    recs = _recommend(struct, pred, model, x, networks=networks, stream=stream, factory=factory, alpha=alpha)
    notes = list(struct.notes)
    if any(L.kind != "linear" for L in struct.layers):
        notes.append("convolutions: fans are torch's (in_channels × kernel size) and c = Var W · fan-in is exact; "
                     "FM1 is exact away from zero-padded edges; FM2, the variance and death treat channels as width "
                     "(an approximation: positions average, so the measured variance is smaller)")
    restarted = {p["layer"] for p in pred.get("post_norm", [])}
    for L in struct.layers:
        if L.outside and L.role != "head":
            notes.append(f"{L.name}: outside the per-point theory ({'; '.join(L.outside)}): " + (
                "the batch mean of ‖h‖²/numel is predicted from here on (a normalization at init)"
                if L.name in restarted else "measured only from here on"))
    reinit = ("factory called under seeds (the model's own init)" if factory is not None
              else "re-drawn from the detected laws and gains")
    return AuditReport(struct.method, struct.layers, notes, s, pred.get("segment", []), pred, checks, measured_only,
                       recs, networks, reinit, alpha, seed)


# --- inputs from the command line -----------------------------------------------------------------
def load_factory(spec: str, args: dict | None = None):
    """The factory named by ``spec`` ("path/to/file.py:name" — the file is EXECUTED — or
    "package.module:name"), bound to ``args`` (keyword arguments). Raises :class:`DomainError` naming
    ``model`` when the file is missing, does not run, or has no such callable."""
    import importlib
    import importlib.util
    import os

    if not isinstance(spec, str) or spec.count(":") < 1 or not spec.rsplit(":", 1)[1] or not spec.rsplit(":", 1)[0]:
        raise DomainError(f"MODEL must be FILE.py:factory or module:factory; got {spec!r}", param="model")
    where, name = spec.rsplit(":", 1)
    try:
        if where.endswith(".py") or os.sep in where:
            if not os.path.isfile(where):
                raise DomainError(f"MODEL file {where!r} does not exist", param="model")
            mod_spec = importlib.util.spec_from_file_location(f"initbounds_audit_{abs(hash(where))}", where)
            module = importlib.util.module_from_spec(mod_spec)
            mod_spec.loader.exec_module(module)
        else:
            module = importlib.import_module(where)
    except DomainError:
        raise
    except BaseException as e:  # noqa: BLE001 — the user's file failing to run or import
        if isinstance(e, KeyboardInterrupt):
            raise
        raise DomainError(f"MODEL {where!r} could not be loaded: {type(e).__name__}: {_first_line(e)}", param="model")
    fn = getattr(module, name, None)
    if not callable(fn):
        raise DomainError(f"MODEL {where!r} has no callable {name!r}", param="model")
    kwargs = dict(args or {})
    return lambda: fn(**kwargs)


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0][:200] if text else "(no message)"


def build_model(factory, *, seed: int | None = None) -> nn.Module:
    """Call ``factory`` once (DomainError naming ``model`` when it raises or returns no nn.Module); with
    ``seed``, under torch's global RNG forked and seeded from ``Stream(seed, "audit/model")`` (reproducible)."""
    try:
        if seed is None:
            model = factory()
        else:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(Stream(seed, "audit/model").seed_of(0) % 2**63)
                model = factory()
    except Exception as e:  # noqa: BLE001 — the user's factory failing
        raise DomainError(f"MODEL factory raised {type(e).__name__}: {_first_line(e)}", param="model")
    if not isinstance(model, nn.Module):
        raise DomainError(f"MODEL factory must return a torch.nn.Module; got {type(model).__name__}", param="model")
    return model


def example_input(model: nn.Module, *, input_shape=None, data=None, dataset=None, points: int = 16,
                  seed: int = 0) -> torch.Tensor:
    """The example batch: ``points`` standard Gaussian inputs of ``input_shape`` (stream
    ``Stream(seed, "audit/input")``), the first ``points`` rows of ``data`` (a .pt or .npy file), or
    scikit-learn's bundled ``digits`` (standardized; 64 features, or 1×8×8 images when the model
    takes images). Exactly one source; the dtype is the model's."""
    given = [n for n, v in (("input_shape", input_shape), ("data", data), ("dataset", dataset)) if v is not None]
    if len(given) != 1:
        raise DomainError("{input_shape} (or --data FILE, or --dataset digits) must be given, exactly one of "
                          f"them; got {len(given)}", param="input_shape")
    params = list(model.parameters())
    dtype = params[0].dtype if params else torch.float32
    if input_shape is not None:
        g = Stream(seed, "audit/input").generator()
        return torch.randn(points, *[int(v) for v in input_shape], generator=g, dtype=torch.float64).to(dtype)
    if data is not None:
        import os

        if not os.path.isfile(data):
            raise DomainError(f"{{data}} file {data!r} does not exist", param="data")
        try:
            if data.endswith(".npy"):
                t = torch.from_numpy(np.load(data, allow_pickle=False))
            else:
                t = torch.load(data, weights_only=True)
        except Exception as e:  # noqa: BLE001
            raise DomainError(f"{{data}} {data!r} is not a .npy array or a saved tensor: {_first_line(e)}",
                              param="data")
        if not isinstance(t, torch.Tensor) or t.ndim < 2 or not (t.is_floating_point() or t.dtype in (
                torch.int64, torch.int32, torch.uint8)):
            raise DomainError(f"{{data}} must hold a numeric array with a batch axis first; got "
                              f"{type(t).__name__}", param="data")
        return t[:points].to(dtype)
    if dataset != "digits":
        raise DomainError(f"{{dataset}} must be 'digits'; got {dataset!r}", param="dataset")
    from sklearn.datasets import load_digits

    X = load_digits().data[:points]
    X = (X - X.mean(0)) / np.where(X.std(0) > 0, X.std(0), 1.0)
    t = torch.from_numpy(X).to(dtype)
    try:
        with torch.no_grad():
            model(t)
        return t
    except Exception:  # noqa: BLE001 — try the digits as 1×8×8 images
        return t.reshape(-1, 1, 8, 8)


@torch.no_grad()
def apply_fix(model: nn.Module, report: AuditReport, *, generator: torch.Generator | None = None) -> list:
    """Apply the report's He recommendation in place: the listed layers get
    ``fractional_moment_normal_(s=2, mode='fan_in', nonlinearity=<their activation>)`` (kaiming_normal_'s law)
    and zero biases. Returns what was done per layer ([] when the report recommends no re-initialization)."""
    from .init import fractional_moment_normal_

    rec = [r for r in report.recommendations if r["action"] == "he_init"]
    if not rec:
        return []
    by = {L.name: L for L in report.layers}
    mods = dict(model.named_modules())
    done = []
    for name in rec[0]["layers"]:
        L, m = by[name], mods[name]
        kind, a, lo, up = L.act
        nl = {"relu": "relu", "leaky": "leaky_relu", "linear": "linear", "rrelu": "rrelu"}[kind]
        fractional_moment_normal_(m.weight, s=2.0, mode="fan_in", nonlinearity=nl, activation=None, a=a, lower=lo,
                                  upper=up, generator=generator)
        if m.bias is not None:
            m.bias.zero_()
        done.append({"layer": name, "init": f"kaiming_normal_(mode='fan_in', nonlinearity='{nl}')",
                     "bias": "zeroed" if m.bias is not None else "none"})
    return done
