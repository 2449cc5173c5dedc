r"""Adversarial search for the worst input of real networks (docs/theory.md §11): a refutation attempt
on the sphere bound of :mod:`bounds.sphere`.

For each simulated network, projected (Riemannian) gradient ascent over the unit sphere S^{k−1}
of the squared-norm ratio ρ_l(x) = ‖h_l(x)‖²/‖x‖², from ``restarts`` random starts: half of the
starts push ρ_l up, half push it down, spread over the layers searched (every layer with
``layers="all"``, the last with ``"last"``). Every point visited is a real input, so the largest
deviation |ρ_l(x) − 1| seen is a **lower bound** on the supremum: the search can refute the
bound (a network whose found deviation exceeds ε, at a frequency significantly above δ) but can
never confirm it.

A subspace of dimension k is searched as the sphere of R^k: for Gaussian weights the first layer
restricted to a fixed k-dimensional subspace is an n×k Gaussian matrix of the same variance
(rotation invariance), so the law of sup over the subspace's sphere equals the law for n₀ = k.

Networks come from :mod:`sim.core` (``NetworkSpec``, ``draw_params``, ``forward``); the starting
points from the batch's "starts" generators; the seed fixes both.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np
import torch

from ..bounds import sphere as bsphere
from ..bounds.errors import COUNT, NONNEGATIVE_INT, OPEN_UNIT, CostLimitError, Options, OrNone, constrain
from ..bounds.band import LAYERS
from ..bounds.moments import Activation
from ..bounds.report import Report, fmt_p
from . import stats
from .claims import ClaimSet, Evidence
from .core import NetworkSpec, Run, Stream, draw_params, forward, gain_for, require_memory

__all__ = ["SearchResult", "search_sphere", "search_report", "CLAIMS", "SEARCH_DESIGN", "RESTARTS", "STEPS",
           "SEARCH_TRIALS"]

#: --restarts, --steps, --trials of the search: declared once in bounds.sphere (the command reads
#: them without importing torch).
RESTARTS, STEPS, SEARCH_TRIALS = bsphere.RESTARTS, bsphere.STEPS, bsphere.SEARCH_TRIALS
#: The ascent's step (an angle, radians): geometric from _STEP0 to _STEP1 over the steps.
_STEP0, _STEP1 = 0.5, 1e-8
#: Cost model of the search (2-core reference machine, float64, on the slow side of what was
#: measured: 1.4e-10–3.7e-10 s per multiply-add of the forward and backward passes, 13 ms of
#: overhead per step of a batch); the search is refused above _COST_LIMIT seconds before any work.
_T_MAC = 4e-10
_T_STEP = 1.5e-2
_COST_LIMIT = 600.0


@dataclass(frozen=True)
class SearchResult:
    """What the search found: per network the largest deviation seen (``worst``, shape (T,)), the
    largest and smallest ratio seen over the searched layers, and the point of the worst."""

    worst: np.ndarray
    ratio_max: np.ndarray
    ratio_min: np.ndarray
    argmax: np.ndarray          # (T, k): the input where ``worst`` was seen
    spec: NetworkSpec
    restarts: int
    steps: int
    weights: Optional[list] = None   # per network, its weight matrices (numpy), when asked for


def _cost(weights: int, trials: int, restarts: int, steps: int) -> float:
    """Estimated seconds: (steps + 1) passes, each 3 multiply-adds per weight, start and network
    (forward, backward), plus the per-step overhead of each of at most 20 batches."""
    return (steps + 1) * (3.0 * trials * restarts * weights * _T_MAC + 20 * _T_STEP)


def _check_search(weights: int, units: int, dim: int, trials: int, restarts: int, steps: int) -> int:
    """Refuse, before any work (and before a network is even described: a NetworkSpec of 10^7
    layers takes minutes to validate), a search over the memory budget or the time limit.
    ``weights``, ``units``: per network. Returns the working-set elements of one network."""
    elements = weights + restarts * (dim + 4 * units)
    require_memory(8.0 * elements, "one network of the search ({width}, {depth}, {restarts} starts)",
                   names=("width", "depth", "restarts"))
    secs = _cost(weights, trials, restarts, steps)
    if secs > _COST_LIMIT:
        raise CostLimitError(f"the search needs about {secs:.3g} s here ({trials} networks × {restarts} starts × "
                             f"{steps} steps × {weights:.3g} weights; limit {_COST_LIMIT:g} s): use a smaller "
                             "{width}, {trials}, {restarts} or {steps}", names=("width", "trials", "restarts", "steps"))
    return elements


def search_sphere(spec: NetworkSpec, trials: int, *, restarts: int = 32, steps: int = 200, stream: Stream,
                  layers: str = "all", device="cpu", keep_weights: bool = False,
                  progress: Optional[Callable] = None) -> SearchResult:
    r"""Gradient ascent of |ρ_l(x) − 1| over the unit sphere of R^{n₀} for ``trials`` networks.

    Start points: i.i.d. standard Gaussian vectors normalised (uniform on the sphere), from the
    "starts" generators of each chunk. Restart r ascends s_r·ρ_{l_r}(x/‖x‖) (signs ±1 and layers
    assigned round-robin); a step moves x by an angle η along the normalised Riemannian
    gradient, η geometric from 0.5 to 1e-8 over ``steps``. The deviation is recorded at every
    point visited (every searched layer), and the largest is returned: a lower bound on
    sup_x max_l |ρ_l(x) − 1|, never an estimate of it. ``keep_weights`` also returns the
    networks' weights (for the exact checks). Cost (time and memory) is checked before any work.
    """
    trials = SEARCH_TRIALS.validate("trials", trials)
    restarts = RESTARTS.validate("restarts", restarts)
    steps = STEPS.validate("steps", steps)
    layers = LAYERS.validate("layers", layers)
    k, L = spec.input_dim, spec.depth
    elements = _check_search(spec.weights_per_network, sum(spec.widths), k, trials, restarts, steps)
    searched = list(range(L)) if layers == "all" else [L - 1]
    pairs = [(l, s) for l in searched for s in (1.0, -1.0)]
    tl = torch.tensor([pairs[r % len(pairs)][0] for r in range(restarts)], device=device)
    ts = torch.tensor([pairs[r % len(pairs)][1] for r in range(restarts)], dtype=torch.float64, device=device)
    lay = torch.tensor(searched, device=device)
    etas = np.geomspace(_STEP0, _STEP1, steps) if steps > 1 else np.array([_STEP0])
    worst = np.empty(trials)
    rmax = np.empty(trials)
    rmin = np.empty(trials)
    arg = np.empty((trials, k))
    kept: list = [None] * trials if keep_weights else None
    run = Run(stream, trials, network_elements=elements, device=device, progress=progress)
    for batch in run:
        params = draw_params(spec, batch)
        t = batch.size
        x = batch.normal((restarts, k), label="starts")
        x = x / x.norm(dim=2, keepdim=True)
        best = torch.full((t,), -1.0, dtype=torch.float64, device=device)
        best_x = torch.zeros((t, k), dtype=torch.float64, device=device)
        hi = torch.full((t,), -math.inf, dtype=torch.float64, device=device)
        lo = torch.full((t,), math.inf, dtype=torch.float64, device=device)
        for i in range(steps + 1):
            x = x.detach().requires_grad_(True)
            xn = x / x.norm(dim=2, keepdim=True)
            sq = []
            forward(spec, xn, params, record=lambda l, z, h: sq.append((h * h).sum(dim=2)))
            ratio = torch.stack(sq, dim=2)                                   # (t, R, L)
            with torch.no_grad():
                r_s = ratio[:, :, lay]
                dev = (r_s - 1.0).abs()
                d_r, _ = dev.max(dim=2)                                      # (t, R)
                d_b, j = d_r.max(dim=1)
                better = d_b > best
                best = torch.where(better, d_b, best)
                best_x = torch.where(better[:, None], xn[torch.arange(t), j], best_x)
                hi = torch.maximum(hi, r_s.amax(dim=(1, 2)))
                lo = torch.minimum(lo, r_s.amin(dim=(1, 2)))
            if i == steps:
                break
            obj = (ts[None, :] * ratio.gather(2, tl[None, :, None].expand(t, -1, 1))[:, :, 0]).sum()
            (g,) = torch.autograd.grad(obj, x)
            with torch.no_grad():
                xd = x / x.norm(dim=2, keepdim=True)
                g = g - (g * xd).sum(dim=2, keepdim=True) * xd                # tangent part
                gn = g.norm(dim=2, keepdim=True)
                u = torch.where(gn > 0, g / gn.clamp_min(1e-300), torch.zeros_like(g))
                eta = float(etas[i])
                x = math.cos(eta) * xd + math.sin(eta) * u                    # a geodesic step
        batch.place(worst, best)
        batch.place(rmax, hi)
        batch.place(rmin, lo)
        batch.place(arg, best_x)
        if keep_weights:
            for c, o in batch.parts:
                for q in range(c.size):
                    kept[c.row + q] = [W[o + q].detach().cpu().numpy() for W, _ in params]
    return SearchResult(worst, rmax, rmin, arg, spec, restarts, steps, kept)


def _spec(width: int, depth: int, dim: int, act: Activation | None = None) -> NetworkSpec:
    """He (fan-out) ReLU net of the bound (or, with a linear ``act``, its variance-1/n linear twin)."""
    act = act or Activation("relu")
    return NetworkSpec(dim, (width,) * depth, fan="out", weight_var=gain_for(act), act=act)


# --- the report ----------------------------------------------------------------------------------
@constrain(depth=COUNT, input_dim=COUNT, delta=OPEN_UNIT, eps=OPEN_UNIT, subspace=OrNone(COUNT),
           width=OrNone(COUNT), restarts=RESTARTS, steps=STEPS, trials=SEARCH_TRIALS, seed=NONNEGATIVE_INT,
           samples=COUNT, method=Options(bsphere.METHODS), layers=LAYERS)
def search_report(depth, input_dim, delta, eps, *, subspace=None, width=None, restarts=32, steps=200, trials=20,
                  seed=0, samples=1, method="chernoff_per_layer", layers="all", device="cpu",
                  progress: Optional[Callable] = None) -> Report:
    """:func:`bounds.sphere.sphere_report` plus an adversarial search on real networks, as
    ``initbounds sphere --search`` prints it.

    The networks have the bound's width for k = ``subspace`` (or n₀) unless ``width`` is given.
    Rows add: the worst deviation found over all networks, its median across networks with a
    distribution-free interval, the fraction of networks whose found deviation exceeds ε
    (Clopper–Pearson, 95 %), and the ε the bound certifies at this width (``sphere_eps``) with its
    ratio to the worst deviation found. The search is a lower bound on the supremum.
    """
    base = bsphere.sphere_report(depth, input_dim, delta, eps, subspace=subspace, samples=samples, method=method,
                                 layers=layers, width=width)
    k = subspace if subspace is not None else input_dim
    key = "subspace" if subspace is not None else "sphere"
    n = width if width is not None else base[key]["min_width"]
    _check_search(n * k + (depth - 1) * n * n, n * depth, k, trials, restarts, steps)
    spec = _spec(n, depth, k)
    res = search_sphere(spec, trials, restarts=restarts, steps=steps, stream=Stream(seed, "sphere_search"),
                        layers=layers, device=device, progress=progress)
    eps_b = base["at_width"]["eps"] if base["at_width"] is not None else bsphere.sphere_eps(
        n, depth, k, delta, method=method, layers=layers)
    w = res.worst
    over = int((w > eps).sum())
    cp = stats.clopper_pearson(over, trials, 0.95)
    med = stats.median_ci(w, 0.95) if trials >= 6 else (None, None)
    top = float(w.max())
    data = dict(base.as_dict())
    data["search"] = {
        "width": n, "dim": k, "trials": trials, "restarts": restarts, "steps": steps, "seed": seed,
        "worst_deviation": top, "median_deviation": float(np.median(w)),
        "median_ci": None if med[0] is None else [med[0], med[1]],
        "per_network": [float(v) for v in w],
        "ratio_max": float(res.ratio_max.max()), "ratio_min": float(res.ratio_min.min()),
        "exceed_eps": over, "exceed_eps_ci": list(cp),
        "bound_eps_at_width": eps_b, "eps_over_worst": eps / top if top > 0 else None,
        "bound_eps_over_worst": (eps_b / top) if (eps_b is not None and top > 0) else None,
        "lower_bound_only": True,
    }
    rows = list(base.rows)
    src = "measured (adversarial search: a lower bound on the supremum)"
    rows += [
        (f"search: worst deviation found, {trials} networks of width {n:,} (k = {k})", f"{top:.4g}", "—", src),
        ("search: median over networks" + ("" if med[0] is None else f" (95 % CI {med[0]:.4g}–{med[1]:.4g})"),
         f"{float(np.median(w)):.4g}", "—", src),
        (f"search: networks with a found deviation > ε = {eps:g}", f"{over}/{trials}",
         f"95 % CI {fmt_p(cp[0])}–{fmt_p(cp[1])}", src),
    ]
    if width is None:
        rows.append((f"bound: ε certified at width {n:,} (δ = {delta:g})", "—" if eps_b is None else f"{eps_b:.4g}",
                     "—", "derived (sphere_eps)"))
    lines = list(base.lines) + [
        "The search finds a LOWER bound on the supremum: it can refute the bound, never confirm it.",
        f"ε / worst deviation found = {eps / top:.3g}" if top > 0 else "the search found no deviation",
    ]
    if eps_b is not None and top > 0:
        lines.append(f"bound's ε at width {n:,} / worst deviation found = {eps_b / top:.3g}")
    elif eps_b is None:
        lines.append(f"at width {n:,} the bound certifies no ε < 1 with δ = {delta:g}")
    return Report(title=base.title + " — with an adversarial search", rows=tuple(rows), data=data,
                  columns=base.columns, lines=tuple(lines), assumptions=base.assumptions)


# --- claims ----------------------------------------------------------------------------------------
CLAIMS = ClaimSet()

#: The design the refutation attempt runs on: small enough to simulate at the bound's width.
SEARCH_DESIGN = {"depth": 1, "input_dim": 3, "delta": 0.1, "eps": 0.5, "restarts": 16, "steps": 60}


@CLAIMS.claim("sphere_search", "upper_bound",
              "refutation attempt: at the sphere bound's width, P(search finds a deviation > ε) ≤ δ",
              "derived (docs/theory.md §11)", trials=120)
def _sphere_search(ctx) -> Evidence:
    d = SEARCH_DESIGN
    r = bsphere.min_width_sphere(d["depth"], d["input_dim"], d["delta"], d["eps"])
    spec = _spec(r.min_width, d["depth"], d["input_dim"])
    res = search_sphere(spec, ctx.trials, restarts=d["restarts"], steps=d["steps"], stream=ctx.stream,
                        device=ctx.device, progress=ctx.progress)
    over = int((res.worst > d["eps"]).sum())
    T = ctx.trials
    a, b = stats.clopper_pearson(over, T, ctx.level)
    top = float(res.worst.max())
    return Evidence(d["delta"], over / T, (a, b), a <= d["delta"],
                    f"width {r.min_width} (L={d['depth']}, n0={d['input_dim']}, ε={d['eps']}): worst deviation found "
                    f"{top:.4f}, ε/worst = {d['eps'] / top:.3g}; the search is a lower bound on the supremum "
                    "(can refute, never confirm)", T, path="real")


#: The cases where the supremum is known exactly: a one-layer ReLU net on the circle (arcs), and
#: a two-layer linear net (singular values).
EXACT_CASES = ({"name": "relu", "width": 64, "depth": 1, "dim": 2, "act": "relu"},
               {"name": "linear", "width": 16, "depth": 2, "dim": 4, "act": "linear"})
#: The search counts as reaching the supremum within this relative gap, from below or above (its last
#: steps are 1e-8 rad; a value above the exact supremum would be a bug, not a better search).
EXACT_RTOL = 1e-6


def exact_sup(case, weights) -> float:
    """The exact supremum over the sphere of max over every layer l of |ρ_l(x) − 1| (what the
    search with ``layers="all"`` maximises) for one network of an :data:`EXACT_CASES` entry: for a
    linear net the largest of the partial products' exact values."""
    if case["act"] == "linear":
        return max(bsphere.sup_deviation_linear(weights[:l + 1]) for l in range(len(weights)))
    hi, lo = bsphere.sup_deviation_relu_circle(weights[0])
    return max(hi - 1.0, 1.0 - lo)


@CLAIMS.claim("sphere_search_exact", "identity",
              "the search reaches the exact supremum where it is known (ReLU on the circle, linear nets)",
              "derived (docs/theory.md §11)", trials=100)
def _sphere_exact(ctx) -> Evidence:
    hits, total, gaps = 0, 0, []
    for case in EXACT_CASES:
        spec = _spec(case["width"], case["depth"], case["dim"], Activation(case["act"]))
        res = search_sphere(spec, ctx.trials, restarts=32, steps=200, stream=ctx.stream.child(case["name"]),
                            device=ctx.device, keep_weights=True)
        for w, W in zip(res.worst, res.weights):
            ex = exact_sup(case, W)
            gaps.append(abs(ex - w) / ex)
            hits += int(abs(w - ex) <= EXACT_RTOL * ex)   # below: missed; above: not a real input
            total += 1
    a, b = stats.clopper_pearson(hits, total, ctx.level)
    return Evidence(1.0, hits / total, (a, b), b >= 1.0,
                    f"fraction of searches within a relative {EXACT_RTOL:g} of the exact supremum (one-layer ReLU "
                    f"on the circle, width 64; two-layer linear, n0 = 4, width 16, every layer); largest relative gap "
                    f"{max(gaps):.2e}", total, path="real")


# --- the figure ------------------------------------------------------------------------------------
def plot_sphere(report: Report, path: str):
    """``initbounds sphere --plot``: with a search, the per-network worst deviations found (a
    histogram), the median's 95 % interval, ε and the ε the bound certifies at that width; without,
    the bound's failure probability against the width (from n*/8 to 8n*), for the sphere and the
    subspace, with the level δ."""
    from .plots import new_figure, save_figure

    fig, ax = new_figure(width=7.0, height=4.5)
    d = report.as_dict()
    inp = d["inputs"]
    if "search" in d:
        s = d["search"]
        w = np.asarray(s["per_network"])
        ax.hist(w, bins=max(5, min(40, len(w) // 2)), color="tab:blue", alpha=0.7,
                label=f"worst deviation found per network ({s['trials']} networks)")
        if s["median_ci"] is not None:
            ax.axvspan(s["median_ci"][0], s["median_ci"][1], color="tab:blue", alpha=0.15,
                       label="95 % interval of the median")
        ax.axvline(inp["eps"], color="k", ls="--", label=f"ε = {inp['eps']:g}")
        if s["bound_eps_at_width"] is not None:
            ax.axvline(s["bound_eps_at_width"], color="tab:red", ls=":",
                       label=f"ε certified by the bound at width {s['width']:,}")
        ax.set_xlabel("max over searched layers of |‖h_l(x)‖²/‖x‖² − 1| found (a lower bound on the sup)")
        ax.set_ylabel("networks")
        ax.set_title(f"Adversarial search, L = {inp['depth']}, k = {s['dim']}, width {s['width']:,}")
    else:
        for key, style in (("sphere", "o-"), ("subspace", "s--")):
            if key not in d:
                continue
            n_star, k = d[key]["min_width"], d[key]["dim"]
            ns = sorted({max(1, int(v)) for v in np.geomspace(max(1.0, float(n_star) / 8), float(n_star) * 8, 25)} | {n_star})
            lf = [bsphere.sphere_failure_bound(n, inp["depth"], k, inp["eps"], method=inp["method"],
                                               layers=inp["layers"]).log_failure / math.log(10) for n in ns]
            ax.plot(ns, lf, style, ms=3, label=f"{key} (k = {k:,}); min width {n_star:,}")
        ax.axhline(math.log10(inp["delta"]), color="k", ls=":", label=f"δ = {inp['delta']:g}")
        ax.set_xscale("log")
        ax.set_xlabel("width n")
        ax.set_ylabel("log10 of the failure bound (a computed bound: no interval)")
        ax.set_title(f"Sphere bound, L = {inp['depth']}, ε = {inp['eps']:g}")
    ax.legend(fontsize=8)
    save_figure(fig, path)
    return fig
