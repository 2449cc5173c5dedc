"""Neuron death (RR20; docs/theory.md): Monte Carlo of real networks, the data-dependent sign-flip
initialization that keeps training points alive, and the checks on real data.

Usage of the sign flip on a real model::

    import torch
    from torch import nn
    from initbounds.sim.death import sign_flip_
    model = nn.Sequential(nn.Linear(64, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 10))
    report = sign_flip_(model, x_train, mode="unit")    # in place; only signs change
    report.living_fraction                               # per ReLU layer, e.g. [0.97, 0.95]

Every Linear layer that is followed by a ReLU is processed in order; each flip multiplies a whole
layer (mode "layer") or a row and its bias entry (modes "unit", "greedy") by −1, so the magnitudes
(and hence the weight distribution's magnitudes) never change. Either way at least half of the
points alive before the layer stay alive after it (with probability one), so at least 2^{−k} of
the data survives k layers — RR20's guarantee.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
import torch
from torch import nn

from ..bounds.death import liveness, sign_flip_guarantee
from ..bounds.errors import DomainError, check_choice, check_int

from . import stats
from .claims import ClaimSet, Evidence
from .core import Batch, NetworkSpec, Run, Stream, draw_params, forward, iter_params

__all__ = ['sample_alive_on_set', 'make_mlp', 'digits_liveness', 'direction_spread', 'SignFlipReport', 'sign_flip_', 'living_fraction', 'CLAIMS']


@torch.no_grad()
def sample_alive_on_set(widths, data: torch.Tensor, trials: int, *, stream: Stream, bias: bool = False,
                        memory_budget: Optional[float] = None, chunks: Optional[Sequence[int]] = None) -> np.ndarray:
    """(trials, m) boolean array: point i alive through every ReLU layer of network t.

    Batched real networks on the core: He fan-in weights N(0, 2/fan-in) (symmetric) and, with
    ``bias``, N(0, 1) biases; ``widths`` = (n_1, ..., n_k) hidden widths, n_0 = data.shape[1]
    (the m rows of ``data`` are the points). Chunk k of the networks draws from
    ``stream.generator(k)``. Estimator of P(alive): the frequency over networks (Clopper–Pearson).
    """
    if not isinstance(data, torch.Tensor) or data.ndim != 2:
        raise DomainError(f"data must be a (points, features) tensor; got {getattr(data, 'shape', data)!r}")
    if not isinstance(bias, bool):
        raise DomainError(f"bias must be True or False; got {bias!r}")
    spec = NetworkSpec(data.shape[1], tuple(widths), fan="in", bias_var=1.0 if bias else 0.0)
    m = data.shape[0]
    x = data.to(torch.float64).unsqueeze(0)
    run = Run(stream, trials, network_elements=spec.max_layer_elements + 3 * m * max(spec.dims),
              memory_budget=memory_budget, chunks=chunks)
    out = np.empty((run.rows, m), dtype=bool)
    buffers: dict = {}
    for batch in run:
        alive = torch.ones(batch.size, m, dtype=torch.bool)

        def record(l, z, h):
            alive.logical_and_((h > 0).any(dim=2))

        forward(spec, x, iter_params(spec, batch, buffers=buffers), record=record)
        batch.place(out, alive)
    return out


def make_mlp(input_dim: int, widths, n_out: int, *, stream: Stream, index: int = 0) -> nn.Sequential:
    """A float64 nn.Sequential MLP input_dim → widths → n_out with He weights (fan-in,
    N(0, 2/fan-in): kaiming_normal_'s law) and zero biases on every layer, the linear output layer
    included. The weights are network ``index`` of ``stream``, drawn by the core
    (``draw_params`` on a chunk of one network: ``stream.generator(index)``)."""
    spec = NetworkSpec(input_dim, (*widths, n_out), fan="in", linear_output=True)
    params = draw_params(spec, Batch.single(stream, index))
    layers = []
    for (W, _), a, b in zip(params, spec.dims[:-1], spec.dims[1:]):
        lin = nn.Linear(a, b, dtype=torch.float64)
        with torch.no_grad():
            lin.weight.copy_(W[0])
            lin.bias.zero_()
        layers += [lin, nn.ReLU()]
    return nn.Sequential(*layers[:-1])


def digits_liveness(*, depth: int = 20, width: int = 3, trials: int = 40, seed: int = 0,
                    stream: Optional[Stream] = None) -> dict:
    """Living fraction of scikit-learn's bundled digits (1797 × 64, loaded offline, standardized)
    through a deep narrow He-initialized MLP, before and after each sign-flip mode.

    Returns mean and minimum over ``trials`` networks of the final living fraction per method.
    Network k is network k of ``stream`` (default ``Stream(seed, "death.digits")``; :func:`make_mlp`).
    """
    from sklearn.datasets import load_digits

    X = load_digits().data
    X = (X - X.mean(axis=0)) / (X.std(axis=0) + 1e-12)
    data = torch.tensor(X, dtype=torch.float64)
    stream = Stream(seed, "death.digits") if stream is None else stream
    res = {"he": [], "layer": [], "unit": [], "greedy": []}
    for k in range(trials):
        base = make_mlp(64, [width] * depth, 10, stream=stream, index=k)
        res["he"].append(living_fraction(base, data)[-1])
        state = {k: v.clone() for k, v in base.state_dict().items()}
        for mode in ("layer", "unit", "greedy"):
            base.load_state_dict(state)
            res[mode].append(sign_flip_(base, data, mode=mode).living_fraction[-1])
    return {k: {"mean": float(np.mean(v)), "min": float(np.min(v))} for k, v in res.items()} | {
        "points": int(data.shape[0]), "depth": depth, "width": width, "trials": trials,
        "guarantee": sign_flip_guarantee(depth)}


@torch.no_grad()
def direction_spread(width: int, depths, points: int, trials: int, *, stream: Stream,
                     memory_budget: Optional[float] = None, chunks: Optional[Sequence[int]] = None) -> np.ndarray:
    """D_k = 1 − ‖mean_x u(x)‖² over living points (u = h_k/‖h_k‖), per network and depth.

    Batched over ``trials`` square He networks (fan-in) of ``width`` on ``points`` Gaussian inputs
    (drawn once from ``stream.child("inputs").generator(0)``, shared by every network; chunk k of
    the networks draws from ``stream.generator(k)``); returns (trials, len(depths)) with NaN where
    fewer than 2 points are alive.
    """
    depths = [check_int(f"depths[{i}]", d, lo=1) for i, d in enumerate(depths)]
    if not depths:
        raise DomainError("depths must list at least one depth; got none")
    x = torch.randn(points, width, generator=stream.child("inputs").generator(0), dtype=torch.float64)
    spec = NetworkSpec(width, (width,) * max(depths), fan="in")
    run = Run(stream, trials, network_elements=spec.max_layer_elements + 4 * points * width,
              memory_budget=memory_budget, chunks=chunks)
    out = np.full((run.rows, len(depths)), np.nan)
    buffers: dict = {}
    for batch in run:
        res = torch.full((batch.size, len(depths)), float("nan"), dtype=torch.float64)

        def record(l, z, h):
            if l + 1 not in depths:
                return
            nrm = h.norm(dim=2)                                   # (t, points)
            live = nrm > 0
            u = torch.where(live[..., None], h / torch.where(live, nrm, 1.0)[..., None], 0.0)
            cnt = live.sum(dim=1)
            mean_u = u.sum(dim=1) / cnt.clamp(min=1)[:, None]
            d = 1.0 - (mean_u**2).sum(dim=1)
            d[cnt < 2] = float("nan")
            res[:, depths.index(l + 1)] = d

        forward(spec, x.unsqueeze(0), iter_params(spec, batch, buffers=buffers), record=record)
        batch.place(out, res)
    return out


@dataclass(frozen=True)
class SignFlipReport:
    """``living_fraction[l]``: fraction of the data alive after ReLU layer l (after flipping);
    ``flipped[l]``: number of rows whose sign changed (all rows for a flipped layer)."""

    mode: str
    living_fraction: list
    flipped: list
    guarantee: list           # 2^{-(l+1)} per layer


def _relu_linears(model: nn.Sequential):
    mods = list(model)
    out = []
    for i, m in enumerate(mods):
        if isinstance(m, nn.Linear) and i + 1 < len(mods) and isinstance(mods[i + 1], nn.ReLU):
            out.append(m)
    if not out:
        raise DomainError("model must be an nn.Sequential with at least one Linear followed by ReLU")
    return out


@torch.no_grad()
def living_fraction(model: nn.Sequential, data: torch.Tensor) -> list:
    """Fraction of the rows of ``data`` whose activation is nonzero after each Linear+ReLU layer."""
    h = data
    alive = torch.ones(data.shape[0], dtype=torch.bool, device=data.device)
    out = []
    for lin in _relu_linears(model):
        h = torch.relu(lin(h))
        alive &= (h > 0).any(dim=1)
        out.append(float(alive.float().mean()))
    return out


def _flip_targets(model: nn.Module, data: torch.Tensor):
    """(the Linear layers followed by ReLU, None) for a plain Sequential of Linear/ReLU pairs, else
    (those layers found by the audit's reader, a function giving a layer's pre-activations by a hooked
    forward pass of the whole model)."""
    if isinstance(model, nn.Sequential) and all(isinstance(m, (nn.Linear, nn.ReLU)) for m in model):
        return _relu_linears(model), None
    from .audit import read_model

    try:
        with torch.no_grad():
            model(data)
    except Exception as e:  # noqa: BLE001 — the user's forward on this data
        raise DomainError(f"data of shape {tuple(data.shape)} does not fit the model: "
                          f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}", param="data")
    struct = read_model(model, data)
    mods = dict(model.named_modules())
    linears = [mods[L.name] for L in struct.layers if L.kind == "linear" and L.act is not None and L.act[0] == "relu"
               and not L.outside and L.role != "branch"]
    if not linears:
        raise DomainError("model must have at least one Linear layer followed directly by a ReLU (outside residual "
                          "branches); found none", param="model")

    def z_of(lin):
        cap = []
        hook = lin.register_forward_hook(lambda m, i, o: cap.append(o.detach()) if not cap else None)
        try:
            model(data)
        finally:
            hook.remove()
        if cap[0].ndim != 2:
            raise DomainError(f"sign_flip_ needs (points, units) pre-activations; got shape {tuple(cap[0].shape)}",
                              param="model")
        return cap[0]

    return linears, z_of


@torch.no_grad()
def sign_flip_(model: nn.Module, data: torch.Tensor, *, mode: str = "unit") -> SignFlipReport:
    """Flip signs of the model's Linear layers, in place, to keep the data alive.

    mode "layer": flip (W, b) → (−W, −b) if that keeps more living points alive;
    mode "unit": flip each row whose pre-activation is negative for more living points than
    positive; mode "greedy": go through the rows and give each the sign that covers the most living
    points not yet covered by earlier rows (ties keep the sign). Each keeps ≥ ½ of the living
    points per layer, hence ≥ 2^{−k} after k layers.
    Args: ``model`` any ``nn.Module`` (an ``nn.Sequential`` of Linear/ReLU pairs is walked directly; any
    other model through forward hooks: each Linear layer followed by a ReLU — module or functional, read
    by :func:`sim.audit.read_model` — gets its pre-activations from a forward pass of the whole model
    after the earlier flips); ``data`` a (m, n_0) float batch of training inputs (cast to the model's dtype).
    Returns a :class:`SignFlipReport`. Source: RR20 (arXiv 2007.06192), scheme as in docs/theory.md §5.
    """
    mode = check_choice("mode", mode, ("layer", "unit", "greedy"))
    if not isinstance(model, nn.Module):
        raise DomainError(f"model must be a torch.nn.Module; got {type(model).__name__}", param="model")
    if not isinstance(data, torch.Tensor) or not data.is_floating_point() or data.ndim != 2:
        got = (f"shape {tuple(data.shape)}, {data.dtype}" if isinstance(data, torch.Tensor) else type(data).__name__)
        raise DomainError(f"data must be a (points, features) float matrix; got {got}")
    params = list(model.parameters())
    if params:
        data = data.to(params[0].dtype)        # float64 data for a float32 model (issue 15)
    linears, z_of = _flip_targets(model, data)
    h = data
    alive = torch.ones(data.shape[0], dtype=torch.bool, device=data.device)
    fracs, flips, guar = [], [], []
    for l, lin in enumerate(linears):
        z = lin(h) if z_of is None else z_of(lin)               # (m, n)
        za = z[alive]
        if mode == "layer":
            plus = (za > 0).any(dim=1).sum()
            minus = (za < 0).any(dim=1).sum()
            sign = torch.ones(z.shape[1], dtype=z.dtype, device=z.device)
            if minus > plus:
                sign = -sign
        elif mode == "unit":
            pos = (za > 0).sum(dim=0)
            neg = (za < 0).sum(dim=0)
            sign = torch.where(neg > pos, -1.0, 1.0).to(z.dtype)
        else:
            covered = torch.zeros(za.shape[0], dtype=torch.bool, device=z.device)
            sign = torch.ones(z.shape[1], dtype=z.dtype, device=z.device)
            for i in range(z.shape[1]):
                gain_p = ((za[:, i] > 0) & ~covered).sum()
                gain_n = ((za[:, i] < 0) & ~covered).sum()
                if gain_n > gain_p:
                    sign[i] = -1.0
                covered |= (sign[i] * za[:, i]) > 0
        lin.weight.mul_(sign[:, None])
        if lin.bias is not None:
            lin.bias.mul_(sign)
        h = torch.relu(z * sign)
        alive &= (h > 0).any(dim=1)
        fracs.append(float(alive.float().mean()))
        flips.append(int((sign < 0).sum()))
        guar.append(sign_flip_guarantee(l + 1))
    return SignFlipReport(mode, fracs, flips, guar)


# --- claims for `initbounds validate` (docs/theory.md §5) -------------------------------------------
CLAIMS = ClaimSet()
_DEATH_WIDTHS = (2, 3, 2, 4)


@CLAIMS.claim("death_point", "identity", "P(x alive) = Π(1 − 2^-n_l)", "derived (RR20 claim; docs/theory.md §5)",
              trials=50000)
def _death_point(ctx):
    w = _DEATH_WIDTHS
    s = ctx.sample(w, torch.ones(1, 5, dtype=torch.float64), fan="in")
    alive = s.sq_ratio[:, -1, 0] > 0
    k, T = int(alive.sum()), len(alive)
    a, b = stats.clopper_pearson(k, T, ctx.level)
    th = liveness(w).p_alive_point
    return Evidence(th, k / T, (a, b), a <= th <= b, f"P(x alive) = Π(1 − 2^-n_l), widths {list(w)}", T)


@CLAIMS.claim("death_set_bounds", "bounds", "lower ≤ P(alive on S) ≤ upper", "derived (RR20 claim; docs/theory.md §5)",
              trials=20000)
def _death_set(ctx):
    w, m, n0 = (3, 3, 3), 8, 5
    data = torch.randn(m, n0, generator=ctx.stream.child("data").generator(), dtype=torch.float64)
    alive = sample_alive_on_set(w, data, ctx.trials, stream=ctx.stream).any(axis=1)
    k, T = int(alive.sum()), len(alive)
    a, b = stats.clopper_pearson(k, T, ctx.level)
    lv = liveness(w)
    return Evidence(lv.lower, k / T, (a, b), b >= lv.lower and a <= lv.upper,
                    f"lower {lv.lower:.4f} ≤ P(alive on S) ≤ upper {lv.upper:.6f}; {m} Gaussian points "
                    f"in R^{n0}, widths {list(w)}", T, path="real")


@CLAIMS.claim("death_orthant_one_layer", "identity", "one layer on the orthant: 1 − 2^-(n n0)",
              "derived (RR20 claim; docs/theory.md §5)", trials=50000)
def _death_orthant(ctx):
    n, n0 = 2, 3
    data = torch.eye(n0, dtype=torch.float64)    # the basis spans the orthant's extreme rays
    alive = sample_alive_on_set((n,), data, ctx.trials, stream=ctx.stream).any(axis=1)
    k, T = int(alive.sum()), len(alive)
    a, b = stats.clopper_pearson(k, T, ctx.level)
    th = liveness((n,), input_dim=n0).upper      # 1 − 2^{-n n0}
    return Evidence(th, k / T, (a, b), a <= th <= b, f"one layer of {n} on the {n0} basis vectors: 1 − 2^-{n * n0}",
                    T, path="real")


@CLAIMS.claim("sign_flip_guarantee", "lower_bound", "living fraction after sign flips ≥ 2^-k",
              "paper claim (RR20), proof derived (docs/theory.md §5)", trials=60)
def _sign_flip(ctx):
    depth, width, m = 8, 3, 200
    T = min(ctx.trials, 300)
    data = torch.randn(m, 6, generator=ctx.stream.child("data").generator(), dtype=torch.float64)
    mins, means = {}, {}
    for mode in ("layer", "unit", "greedy"):
        fr = []
        for k in range(T):
            model = make_mlp(6, [width] * depth, 2, stream=ctx.stream.child(mode), index=k)
            before = [p.detach().abs().clone() for p in model.parameters()]
            rep = sign_flip_(model, data, mode=mode)
            if not all(torch.equal(b, p.detach().abs()) for b, p in zip(before, model.parameters())):
                raise AssertionError("sign flip changed a magnitude")
            fr.append(rep.living_fraction[-1])
        mins[mode], means[mode] = min(fr), float(np.mean(fr))
    g = sign_flip_guarantee(depth)
    worst = min(mins.values())
    return Evidence(g, worst, (worst, max(means.values())), worst >= g,
                    f"depth {depth}, width {width}, {m} points; min/mean living fraction: " +
                    ", ".join(f"{k} {mins[k]:.3f}/{means[k]:.3f}" for k in mins) +
                    f" (guarantee 2^-{depth} = {g:.4f})", T, path="real")


@CLAIMS.claim("direction_spread", "trend", "D_k falls with depth", "derived (RR20 v2 assumption; docs/theory.md §5)",
              trials=2000)
def _direction(ctx):
    depths = [1, 4, 16]
    d = direction_spread(8, depths, 64, ctx.trials, stream=ctx.stream)
    d1, dk = d[:, 0], d[:, -1]
    ok_rows = ~np.isnan(d1) & ~np.isnan(dk)
    diff = d1[ok_rows] - dk[ok_rows]
    m, lo, hi = stats.mean_ci(diff, ctx.level)
    return Evidence(0.0, m, (lo, hi), lo > 0,
                    f"D_1 − D_16 (width 8, 64 points): D falls with depth; mean D at depths {depths}: " +
                    ", ".join(f"{np.nanmean(d[:, i]):.3f}" for i in range(len(depths))), int(ok_rows.sum()),
                    path="real")


@CLAIMS.claim("death_digits", "measurement", "sign flips on real data (digits)",
              "measured (RR20 scheme on scikit-learn digits; docs/theory.md §5)", trials=8)
def _digits(ctx):
    r = digits_liveness(depth=20, width=3, trials=8, stream=ctx.stream)
    modes = ("layer", "unit", "greedy")
    best = max(modes, key=lambda k: r[k]["mean"])
    worst = min(r[k]["min"] for k in modes)
    return Evidence(r["guarantee"], r[best]["mean"], (worst, r[best]["mean"]), worst >= r["guarantee"],
                    f"1797 digits through 20 layers of width 3: living fraction He {r['he']['mean']:.3f}, "
                    f"layer {r['layer']['mean']:.3f}, unit {r['unit']['mean']:.3f}, greedy "
                    f"{r['greedy']['mean']:.3f} (means over {r['trials']} nets)", r["trials"], path="real")
