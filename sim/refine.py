r"""Residual blocks as iterative refinement (J18, Jastrzębski et al., arXiv 1710.04773): per-block
measurements at initialization and through a real training run (docs/theory.md §13).

Definitions (J18 §3–4, reproduced exactly). Blocks h_{i+1} = h_i + F_i(h_i), i = 0 … B−1.

* **Per-block cosine**, per example then averaged over examples:
  cos_i = ⟨F_i(h_i), ∂L/∂h_i⟩ / (‖F_i(h_i)‖ ‖∂L/∂h_i‖), computed two ways —
  ``backprop``: ∂L/∂h_i is the usual back-propagated gradient of the network's loss;
  ``head_at_h``: ∂L(h_i)/∂h_i, the gradient of the loss of the classifier head applied directly
  at h_i (the literal reading of J18's first-order Taylor expansion). Negative values with small
  ‖F_i‖ mean refinement. Examples where ‖F_i‖ or the gradient is exactly zero have no cosine and
  are left out of the mean (their number is reported).
* **Size of each block's change**: ‖F_i(h_i)‖/‖h_i‖ per example, then averaged.
* **Block dropping**: the change of loss and accuracy when block i alone is removed
  (h_{i+1} = h_i), block by block, on the test split.
* **Sharing**: ‖h_i‖/‖h_0‖ across blocks for unshared blocks, shared blocks, and shared blocks
  with J18's remedy (``norm="ubn"``: batch norm with its own statistics per step, γ₀ = 0.1), at
  initialization, with batch statistics.

Per-example gradients use :mod:`torch.func` (``vmap`` of ``grad`` of a ``functional_call``),
with one zero perturbation δ_i added at every h_i: ∂L/∂δ_i at δ = 0 is ∂L/∂h_i, so one backward
pass per example gives every block's gradient (:func:`block_metrics`; a plain autograd loop,
:func:`block_metrics_loop`, is its test reference). Networks with batch norm are measured in
eval mode (running statistics), so every example's numbers depend on that example only.

Seeds. Seed s of an experiment: data split ``load_dataset(seed=s)`` (one stratified 25 % test
split per seed), initial weights from ``Stream(s, "refine").child(<net>).seed_of(0)``, mini-batch
order from ``Stream(s, "refine").child(<net>/batches)``; the held-out measurement batch is the
first ``probe`` examples of the seed's test split. Intervals across examples are normal
intervals of per-example values (one seed); across seeds, Student-t intervals of per-seed means.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable, Optional

import numpy as np
import torch
from torch import nn

from ..bounds.errors import (NONNEGATIVE_INT, CostLimitError, DomainError, Integral, Interval, Options, Real,
                             check_int, check_real)
from ..bounds.refine import (branch_ratio_mean, shared_growth_coefficient, shared_two_step_limit,
                             unshared_growth)

from . import stats
from .claims import ClaimSet, Evidence
from .core import NetworkSpec, Run, Stream, _check_stream, draw_params, forward, iter_params, thread_policy
from .training import NORMS, ResidualNet, batch_statistics, load_dataset, residual_mlp, train

__all__ = ["sample_block_moments", "sample_growth_curvature", "block_metrics", "block_metrics_loop",
           "taylor_remainders", "drop_blocks", "sharing_norms", "RefineConfig", "RefineResult", "run_refine",
           "seed_ci", "CLAIMS"]


# --- at initialization: batched networks on the core -----------------------------------------------
def _block_spec(width, branch_width, etas):
    return NetworkSpec.residual_mlp(width, branch_width, [float(e) for e in etas])


def _shared_params(spec1, batch, blocks, dtype):
    W1, W2 = draw_params(spec1, batch, dtype=dtype)
    return [W1, W2] * blocks


@torch.no_grad()
def sample_block_moments(blocks: int, width: int, branch_width: int, alpha: float, trials: int, *, shared: bool,
                         stream: Stream, dtype=torch.float64) -> dict:
    r"""Per network, at initialization: ``growth`` (trials, B+1) ‖h_i‖²/‖h_0‖², ``ratio`` (trials, B)
    ‖F_i‖²/‖h_i‖², ``cross`` (trials, B) ⟨F_i, h_i⟩/‖h_i‖², for B blocks h ← h + α W₂ relu(W₁ h)
    (W₁ variance 2/n, W₂ 1/m: the core's ``NetworkSpec.residual_mlp``), unshared or ``shared``
    (one W₁, W₂ drawn and used at every step), from h_0 = e_1 (rotation invariance: any h_0 ≠ 0
    has the same law). Chunk k of ``stream`` draws network k's weights (block 1, 2, …; shared:
    one block). Estimators: column means, standard error sd/√trials.

    >>> s = sample_block_moments(2, 4, 4, 0.5, 10, shared=True, stream=Stream(0, "doc"))
    >>> s["growth"].shape, s["ratio"].shape
    ((10, 3), (10, 2))
    """
    B = check_int("blocks", blocks, lo=1)
    n, m = check_int("width", width, lo=1), check_int("branch_width", branch_width, lo=1)
    alpha = check_real("alpha", alpha, lo=0.0)
    trials = check_int("trials", trials, lo=1)
    stream = _check_stream(stream)
    spec = _block_spec(n, m, [alpha] * B)
    run = Run(stream, trials, network_elements=2 * n * m * (1 if shared else B) + 4 * (n + m))
    out = {"growth": np.empty((run.rows, B + 1)), "ratio": np.empty((run.rows, B)), "cross": np.empty((run.rows, B))}
    x0 = torch.zeros((1, 1, n), dtype=dtype)
    x0[0, 0, 0] = 1.0
    for batch in run:
        t = batch.size
        g, r, c = (torch.empty((t, B + 1), dtype=dtype), torch.empty((t, B), dtype=dtype),
                   torch.empty((t, B), dtype=dtype))
        g[:, 0] = 1.0
        prev = [x0.expand(t, 1, n)]

        def record(b, z, h):
            hb = prev[0]
            F = h - hb
            nh = (hb**2).sum(dim=(1, 2))
            r[:, b] = (F**2).sum(dim=(1, 2)) / nh
            c[:, b] = (F * hb).sum(dim=(1, 2)) / nh
            g[:, b + 1] = (h**2).sum(dim=(1, 2))
            prev[0] = h

        params = _shared_params(_block_spec(n, m, [alpha]), batch, B, dtype) if shared else \
            iter_params(spec, batch, dtype=dtype)
        forward(spec, x0, params, record=record)
        for key, v in (("growth", g), ("ratio", r), ("cross", c)):
            batch.place(out[key], v)
    return out


def sample_growth_curvature(blocks: int, width: int, branch_width: int, trials: int, *, shared: bool,
                            stream: Stream, dtype=torch.float64) -> np.ndarray:
    r"""Per network, ½ d²/dα² ‖h_B(α)‖²/‖h_0‖² at α = 0 (exact, by double autograd through the core's
    forward pass with W₂ scaled by a per-network α), for B unshared or ``shared`` blocks from
    h_0 = e_1. Its mean is ``bounds.refine.shared_growth_coefficient`` (shared) or B (unshared);
    the weights are drawn as in :func:`sample_block_moments`. Estimator: the mean, se sd/√trials.
    """
    B = check_int("blocks", blocks, lo=1)
    n, m = check_int("width", width, lo=1), check_int("branch_width", branch_width, lo=1)
    trials = check_int("trials", trials, lo=1)
    stream = _check_stream(stream)
    spec = _block_spec(n, m, [1.0] * B)
    run = Run(stream, trials, network_elements=2 * n * m * (1 if shared else B) + 4 * (n + m))
    out = np.empty(run.rows)
    x0 = torch.zeros((1, 1, n), dtype=dtype)
    x0[0, 0, 0] = 1.0
    for batch in run:
        a = torch.zeros((batch.size, 1, 1), dtype=dtype, requires_grad=True)
        with torch.no_grad():
            params = _shared_params(_block_spec(n, m, [1.0]), batch, B, dtype) if shared else \
                draw_params(spec, batch, dtype=dtype)
        scaled = [(W, None) if k % 2 == 0 else (W * a, None) for k, (W, _) in enumerate(params)]
        h = forward(spec, x0, scaled)
        f = (h**2).sum(dim=(1, 2))
        (d1,) = torch.autograd.grad(f.sum(), a, create_graph=True)
        (d2,) = torch.autograd.grad(d1.sum(), a)
        batch.place(out, (d2.reshape(-1) / 2).detach())
    return out


# --- per-block measurements on one network ---------------------------------------------------------
def _flat(t):
    return t.reshape(t.shape[0], -1)


def _cos(a, b):
    """Row-wise cosine and a mask of the rows where it exists (both norms > 0)."""
    a, b = _flat(a), _flat(b)
    na, nb = a.norm(dim=1), b.norm(dim=1)
    ok = (na > 0) & (nb > 0) & torch.isfinite(na) & torch.isfinite(nb)
    one = torch.ones_like(na)
    cos = torch.where(ok, ((a / torch.where(ok, na, one)[:, None]) * (b / torch.where(ok, nb, one)[:, None])).sum(dim=1),
                      torch.zeros_like(na))
    return cos, ok & torch.isfinite(cos)


def _metrics_from(hs, fs, g_bp, g_head):
    B = len(fs)
    N = hs[0].shape[0]
    cos_bp, ok_bp, cos_hd, ok_hd = (np.empty((N, B)), np.empty((N, B), bool), np.empty((N, B)),
                                    np.empty((N, B), bool))
    ratio = np.empty((N, B))
    for i in range(B):
        c, ok = _cos(fs[i], g_bp[i])
        cos_bp[:, i], ok_bp[:, i] = c.numpy(), ok.numpy()
        c, ok = _cos(fs[i], g_head[i])
        cos_hd[:, i], ok_hd[:, i] = c.numpy(), ok.numpy()
        nh = _flat(hs[i]).norm(dim=1)
        ratio[:, i] = (_flat(fs[i]).norm(dim=1) / torch.where(nh > 0, nh, torch.ones_like(nh))).numpy()
    norms = np.stack([_flat(h).norm(dim=1).numpy() for h in hs], axis=1)
    return {"cos_backprop": cos_bp, "ok_backprop": ok_bp, "cos_head_at_h": cos_hd, "ok_head_at_h": ok_hd,
            "ratio": ratio, "norm": norms}


class _Eval:
    """Context: the model in eval mode (restored on exit)."""

    def __init__(self, model):
        self.model = model

    def __enter__(self):
        self.was = self.model.training
        self.model.eval()

    def __exit__(self, *exc):
        self.model.train(self.was)
        return False


def block_metrics(model: ResidualNet, x: torch.Tensor, y: torch.Tensor) -> dict:
    r"""Per-example, per-block measurements of ``model`` (eval mode) on (x, y), with torch.func.

    Returns arrays: ``cos_backprop`` and ``cos_head_at_h`` (N, B) with masks ``ok_backprop``,
    ``ok_head_at_h`` (False where a norm is 0: no cosine), ``ratio`` (N, B) ‖F_i‖/‖h_i‖ and
    ``norm`` (N, B+1) ‖h_i‖. The gradients: ``vmap`` over examples of ``grad`` (in the
    perturbations δ_i at 0) of the per-example loss through ``functional_call`` with the model's
    detached parameters and buffers.

    >>> from initbounds.sim.training import load_dataset, residual_mlp
    >>> d = load_dataset("digits", seed=0)
    >>> net = residual_mlp(64, 8, 3, 10, generator=torch.Generator().manual_seed(0))
    >>> block_metrics(net, d.x_test[:5], d.y_test[:5])["cos_backprop"].shape
    (5, 3)
    """
    from torch.func import functional_call, grad, vmap

    if not isinstance(model, ResidualNet):
        raise DomainError(f"model must be a sim.training.ResidualNet; got {type(model).__name__}")
    B = model.blocks
    with _Eval(model):
        state = {k: v.detach() for k, v in model.named_parameters()}
        state.update({k: v.detach() for k, v in model.named_buffers()})
        with torch.no_grad():
            hs, fs = model.states(x)

        def loss_bp(deltas, xi, yi):
            logits = functional_call(model, state, (xi.unsqueeze(0),), {"deltas": [d.unsqueeze(0) for d in deltas]})
            return nn.functional.cross_entropy(logits, yi.unsqueeze(0))

        def loss_head(deltas, his, yi):
            return sum(nn.functional.cross_entropy(
                functional_call(model, state, ((h + d).unsqueeze(0),), {"head_only": True}), yi.unsqueeze(0))
                for h, d in zip(his, deltas))

        zeros = [torch.zeros_like(h) for h in hs[:B]]
        g_bp = vmap(grad(loss_bp), in_dims=(0, 0, 0))(zeros, x, y)
        g_head = vmap(grad(loss_head), in_dims=(0, 0, 0))(zeros, [h for h in hs[:B]], y)
    return _metrics_from(hs, fs, g_bp, g_head)


def block_metrics_loop(model: ResidualNet, x: torch.Tensor, y: torch.Tensor) -> dict:
    """:func:`block_metrics` by a plain loop over examples with ``torch.autograd.grad`` (the test
    reference of the torch.func path; same keys)."""
    B = model.blocks
    with _Eval(model):
        with torch.no_grad():
            hs, fs = model.states(x)
        g_bp = [torch.empty_like(h) for h in hs[:B]]
        g_head = [torch.empty_like(h) for h in hs[:B]]
        for k in range(len(y)):
            deltas = [torch.zeros_like(h[k:k + 1], requires_grad=True) for h in hs[:B]]
            hk, _ = model.states(x[k:k + 1], deltas=deltas)
            loss = nn.functional.cross_entropy(model.head(hk[-1]), y[k:k + 1])
            for i, gi in enumerate(torch.autograd.grad(loss, deltas)):
                g_bp[i][k] = gi[0]
            for i in range(B):
                hi = hs[i][k:k + 1].clone().requires_grad_(True)
                (gi,) = torch.autograd.grad(nn.functional.cross_entropy(model.head(hi), y[k:k + 1]), hi)
                g_head[i][k] = gi[0]
    return _metrics_from(hs, fs, g_bp, g_head)


def taylor_remainders(model: ResidualNet, x: torch.Tensor, y: torch.Tensor, alphas, *, start: int = 0) -> dict:
    r"""The first-order identity behind J18's cosine, checked on ``model`` (eval mode) with its
    weights fixed while the branch scale α is set to each value of ``alphas`` (restored after).

    L(h) is the mean cross-entropy over (x, y) of the head applied at h; h_i as the network
    computes them. Returns ``remainder`` R(α) = L(h_B) − L(h_s) − Σ_{j≥s} ⟨F_j(h_j), ∇L(h_j)⟩ for
    each α (s = ``start``); ``c2`` = ½ Σ_{j≥s} f_jᵀ ∇²L(h_s) f_j with f_j = F_j/α at the smallest α
    (the exact limit of R/α² as α → 0: ``bounds.refine``'s Taylor step); ``smooth``: for each α,
    whether every ReLU of the pass (branches, and the head at every h_j) has the sign pattern it
    has at the smallest α — the expansion is only valid while no unit crosses its kink;
    ``slope``, the least-squares slope of log|R| on log α over the smooth α, and
    ``local_slopes`` between consecutive smooth α. A deterministic identity: the slope tends to 2
    as α → 0 (J18 eq. 3 holds to first order).
    """
    alphas = sorted((check_real(f"alphas[{i}]", a, lo=0.0, lo_open=True) for i, a in enumerate(alphas)), reverse=True)
    if len(alphas) < 2:
        raise DomainError(f"alphas must hold at least two values; got {len(alphas)}")
    start = check_int("start", start, lo=0, hi=model.blocks - 1)
    saved = model.alpha

    def L(h, signs=None):
        return nn.functional.cross_entropy(model.head(h, signs), y)

    out, patterns = [], []
    try:
        with _Eval(model):
            for a in alphas:
                model.alpha = float(a)
                signs: list = []
                with torch.no_grad():
                    hs, fs = model.states(x, signs=signs)
                total = L(hs[-1], signs) - L(hs[start], signs)
                for j in range(start, model.blocks):
                    hj = hs[j].clone().requires_grad_(True)
                    (g,) = torch.autograd.grad(L(hj, signs), hj)
                    total = total - (fs[j] * g).sum()
                out.append(float(total.detach()))
                patterns.append(signs)
            a = alphas[-1]
            model.alpha = float(a)
            with torch.no_grad():
                hs, fs = model.states(x)
            hstart = hs[start].detach()
            c2 = 0.0
            for j in range(start, model.blocks):
                v = fs[j].detach() / a
                _, hv = torch.autograd.functional.hvp(L, hstart, v)
                c2 += 0.5 * float((v * hv).sum())
    finally:
        model.alpha = saved
    smooth = [all(torch.equal(p, q) for p, q in zip(pat, patterns[-1])) for pat in patterns]
    keep = [i for i, ok in enumerate(smooth) if ok and out[i] != 0]
    la, lr = np.log(np.asarray(alphas)[keep]), np.log(np.abs(np.asarray(out)[keep]))
    slope = float(np.polyfit(la, lr, 1)[0]) if len(keep) >= 2 else None
    local = [float(v) for v in np.diff(lr) / np.diff(la)] if len(keep) >= 2 else []
    return {"alphas": [float(a) for a in alphas], "remainder": out, "smooth": smooth, "c2": c2, "slope": slope,
            "local_slopes": local, "ratio_at_smallest": out[-1] / (alphas[-1]**2 * c2) if c2 != 0 else None}


@torch.no_grad()
def drop_blocks(model: ResidualNet, x: torch.Tensor, y: torch.Tensor) -> dict:
    """Per example and block: ``dloss`` (N, B), the cross-entropy with block i removed minus the
    full network's, and ``dcorrect`` (N, B), the change of correctness (−1, 0, 1); eval mode."""
    with _Eval(model):
        base = model(x)
        l0 = nn.functional.cross_entropy(base, y, reduction="none")
        c0 = (base.argmax(1) == y).double()
        dl, dc = np.empty((len(y), model.blocks)), np.empty((len(y), model.blocks))
        for i in range(model.blocks):
            out = model(x, skip=(i,))
            dl[:, i] = (nn.functional.cross_entropy(out, y, reduction="none") - l0).numpy()
            dc[:, i] = ((out.argmax(1) == y).double() - c0).numpy()
    return {"dloss": dl, "dcorrect": dc}


@torch.no_grad()
def sharing_norms(model: ResidualNet, x: torch.Tensor) -> np.ndarray:
    """(N, B+1) ‖h_i‖/‖h_0‖ per example on ``x``, batch norm with the batch's statistics (training
    mode, running statistics untouched: the forward pass that training sees)."""
    with _Eval(model), batch_statistics(model):
        hs, _ = model.states(x)
    n0 = _flat(hs[0]).norm(dim=1)
    return np.stack([(_flat(h).norm(dim=1) / n0).numpy() for h in hs], axis=1)


def seed_ci(values, level: float) -> tuple:
    """(mean, lo, hi): Student-t interval of the mean of per-seed values (K ≥ 2); with one seed the
    interval is the single value (no spread across seeds is known: said where reported); None
    when a value is missing (NaN: not measured)."""
    from scipy.special import stdtrit

    v = np.asarray(values, dtype=float)
    if v.size == 0 or not np.all(np.isfinite(v)):
        return None                                     # nothing measured (e.g. no example had a cosine)
    scale = float(np.abs(v).max()) or 1.0              # values near the double range (a loss of 1e200) do not
    u = v / scale                                      # overflow in the squares of the standard deviation
    m = float(u.mean()) * scale
    if v.size < 2:
        return m, m, m
    half = float(stdtrit(v.size - 1, 0.5 + level / 2) * u.std(ddof=1) / math.sqrt(v.size)) * scale
    return m, m - half, m + half


# --- the experiment: train, record every k steps, drop blocks, compare sharing ------------------------
#: The design's constraints, declared once: ``RefineConfig`` checks them and ``initbounds refine``
#: builds its options from them. Limits keep one run on a CPU: a shared comparison net has B·n
#: branch units (at most 32·256 = 8192).
REFINE_CONSTRAINTS = {
    "blocks": Interval(Integral, 1, 32), "width": Interval(Integral, 1, 256),
    "alpha": Interval(Real, 0, 10, closed="right"),
    "norm": Options(NORMS), "variant": Options(("post", "pre")),
    "steps": Interval(Integral, 1, 100_000), "lr": Interval(Real, 0, 10, closed="right"),
    "batch": Interval(Integral, 2, 1000), "momentum": Interval(Real, 0, 1, closed="left"),
    "seeds": Interval(Integral, 1, 64), "seed": NONNEGATIVE_INT, "record_every": NONNEGATIVE_INT,
    "probe": Interval(Integral, 2, 450),
}
#: The most floating-point operations a run may plan (about an hour of one CPU core); beyond it
#: ``RefineConfig`` refuses with the estimate (CostLimitError) before any work.
MAX_FLOPS = 3e13


@dataclass(frozen=True)
class RefineConfig:
    """One experiment: a residual MLP on digits (``residual_mlp``: width n, ``blocks`` B, branch
    width n, α, ``variant``, ``norm``, ``shared``), trained by ``train`` with ``steps``, ``lr``,
    ``batch``, ``momentum``; measured every ``record_every`` steps (0: steps // 12) on ``probe``
    held-out examples; ``seeds`` seeds ``seed`` … ``seed+seeds−1``. ``compare`` adds the sharing
    comparison at initialization and the train/test gap of shared blocks (branch width B·n, with
    the norm of the design and with J18's remedy "ubn") vs unshared blocks at equal weight count
    (two or three more trainings per seed). Constraints: :data:`REFINE_CONSTRAINTS`; cost:
    :meth:`flops` ≤ :data:`MAX_FLOPS`."""

    blocks: int = 8
    width: int = 32
    alpha: float = 0.5
    shared: bool = False
    norm: str = "none"
    variant: str = "post"
    steps: int = 1000
    lr: float = 0.05
    batch: int = 32
    momentum: float = 0.0
    seeds: int = 3
    seed: int = 0
    record_every: int = 0
    probe: int = 256
    compare: bool = True

    def __post_init__(self):
        for name, c in REFINE_CONSTRAINTS.items():
            object.__setattr__(self, name, c.validate(name, getattr(self, name)))
        for name in ("shared", "compare"):
            if not isinstance(getattr(self, name), bool):
                raise DomainError(f"{name} must be True or False; got {getattr(self, name)!r}", param=name)
        if not self.record_every:
            object.__setattr__(self, "record_every", max(1, self.steps // 12))
        f = self.flops()
        if f > MAX_FLOPS:
            raise CostLimitError(f"this run plans about {f:.2g} floating-point operations (limit {MAX_FLOPS:.0g}, "
                                 "about an hour of one core): lower --steps, --seeds, --blocks or --width",
                                 param="steps")

    @property
    def trainings(self) -> int:
        """Trainings per seed: the design, plus (``compare``) the unshared/shared/remedy nets it is not."""
        return 1 + ((3 if self.shared else 2) if self.compare else 0)

    def flops(self) -> float:
        """Planned floating-point operations: 6 per weight per example for a training step (forward and
        backward), every net of every seed (a shared comparison net has B·n branch units, B times
        over), plus the measurements (about 3 passes over the probe per record)."""
        n, B = self.width, self.blocks
        per_example = 2 * B * n * n + 64 * n + 10 * n          # one pass, unshared (and shared, per step)
        wide = 2 * B * n * (B * n) + 64 * n + 10 * n           # a shared comparison net, B steps
        nets = per_example * (self.trainings - (2 if self.compare else 0)) + (2 * wide if self.compare else 0)
        train = 6 * self.steps * self.batch * nets
        records = self.steps // max(1, self.record_every or max(1, self.steps // 12)) + 2
        measure = 3 * 6 * records * self.probe * per_example
        return float(self.seeds * (train + measure))

    def net(self, gen, *, shared=None, norm=None, branch_width=None):
        return residual_mlp(64, self.width, self.blocks, 10, generator=gen, alpha=self.alpha,
                            variant=self.variant, norm=self.norm if norm is None else norm,
                            shared=self.shared if shared is None else shared, branch_width=branch_width)


@dataclass
class RefineResult:
    """Everything :func:`run_refine` measured (``as_dict`` is the JSON of ``initbounds refine``)."""

    config: RefineConfig
    level: float
    steps: list = field(default_factory=list)            # recorded steps
    cos_backprop: list = field(default_factory=list)     # [seed][record][block] means over the probe
    cos_head_at_h: list = field(default_factory=list)
    ratio: list = field(default_factory=list)
    excluded: int = 0                                    # (example, block) pairs without a cosine
    first: dict = field(default_factory=dict)            # per-example arrays of seed 0 at step 0
    last: dict = field(default_factory=dict)             # … and at the end
    drop_loss: list = field(default_factory=list)        # [seed][block] mean Δloss on the test split
    drop_acc: list = field(default_factory=list)
    drop_first: dict = field(default_factory=dict)       # per-example Δloss of seed 0
    train_acc: list = field(default_factory=list)
    test_acc: list = field(default_factory=list)
    train_loss: list = field(default_factory=list)
    test_loss: list = field(default_factory=list)
    diverged: list = field(default_factory=list)
    sharing: dict = field(default_factory=dict)          # name -> [seed][block] mean ‖h_i‖/‖h_0‖ at init
    gap: dict = field(default_factory=dict)              # name -> dict of per-seed lists
    params: dict = field(default_factory=dict)
    seconds: float = 0.0
    train_seconds: float = 0.0

    # per-block summaries with intervals across seeds
    def _seed_blocks(self, series, rec: int = -1) -> list:
        arr = np.asarray(series)[:, rec, :]              # (K, B)
        return [seed_ci(arr[:, i], self.level) for i in range(arr.shape[1])]

    def summary(self) -> dict:
        c = self.config
        out = {
            "cos_backprop_end": self._seed_blocks(self.cos_backprop),
            "cos_head_at_h_end": self._seed_blocks(self.cos_head_at_h),
            "ratio_init": self._seed_blocks(self.ratio, 0),
            "ratio_end": self._seed_blocks(self.ratio),
            "drop_loss": [seed_ci(np.asarray(self.drop_loss)[:, i], self.level) for i in range(c.blocks)],
            "drop_acc": [seed_ci(np.asarray(self.drop_acc)[:, i], self.level) for i in range(c.blocks)],
            "train_acc": seed_ci(self.train_acc, self.level), "test_acc": seed_ci(self.test_acc, self.level),
        }
        ex = {}
        for key in ("cos_backprop", "cos_head_at_h", "ratio"):
            vals = self.last[key]
            ok = (self.last[f"ok_{key[4:]}"] if key.startswith("cos") else True) & np.isfinite(vals)
            ex[key] = [stats.mean_ci(vals[ok[:, i], i], self.level) if ok[:, i].sum() >= 2 else None
                       for i in range(vals.shape[1])]
        out["examples_seed0_end"] = ex
        if self.sharing:
            out["sharing_last"] = {k: seed_ci(np.asarray(v)[:, -1], self.level) for k, v in self.sharing.items()}
        if self.gap:
            out["gap"] = {}
            for k, v in self.gap.items():
                ok = [i for i, d in enumerate(v["diverged_at"]) if d is None]
                pick = lambda key: np.asarray([v[key][i] for i in ok], dtype=float)  # noqa: E731
                ci = (lambda x: seed_ci(x, self.level) if len(ok) else None)  # noqa: E731
                out["gap"][k] = {"acc_gap": ci(pick("train_acc") - pick("test_acc")),
                                 "loss_gap": ci(pick("test_loss") - pick("train_loss")),
                                 "test_acc": ci(pick("test_acc")), "params": v["params"],
                                 "trained_seeds": len(ok), "diverged_seeds": len(v["diverged_at"]) - len(ok)}
        return out

    def as_dict(self) -> dict:
        def tup(t):
            return None if t is None else {"mean": t[0], "ci": [t[1], t[2]]}

        s = self.summary()
        out = {"config": dict(self.config.__dict__), "level": self.level, "steps": self.steps,
               "cos_backprop": self.cos_backprop, "cos_head_at_h": self.cos_head_at_h, "ratio": self.ratio,
               "excluded_pairs": self.excluded, "drop_loss": self.drop_loss, "drop_acc": self.drop_acc,
               "train_acc": self.train_acc, "test_acc": self.test_acc, "train_loss": self.train_loss,
               "test_loss": self.test_loss, "diverged_at": self.diverged, "sharing": self.sharing,
               "params": self.params, "seconds": self.seconds, "train_seconds": self.train_seconds}
        out["summary"] = {k: ([tup(t) for t in v] if isinstance(v, list) else tup(v) if isinstance(v, tuple) else v)
                          for k, v in s.items() if k not in ("examples_seed0_end", "sharing_last", "gap")}
        out["summary"]["examples_seed0_end"] = {k: [tup(t) for t in v] for k, v in s["examples_seed0_end"].items()}
        if "sharing_last" in s:
            out["summary"]["sharing_last"] = {k: tup(v) for k, v in s["sharing_last"].items()}
        if "gap" in s:
            out["gap"] = {k: {kk: (tup(vv) if isinstance(vv, tuple) else vv) for kk, vv in v.items()}
                          for k, v in s["gap"].items()}
        return out


def _gen(seed: int, label: str) -> torch.Generator:
    return Stream(seed, "refine").child(label).generator(0)


def _batch_seed(seed: int, label: str) -> int:
    return Stream(seed, "refine").child(f"{label}/batches").seed_of(0) % 2**62


def run_refine(config: RefineConfig, *, level: float = 0.95, progress: Optional[Callable] = None) -> RefineResult:
    """Run the J18 experiment of ``config`` (seeds ``seed`` … ``seed+seeds−1``); ``progress(done,
    total)`` counts training steps (all trainings of all seeds). Intervals at ``level``."""
    c = config if isinstance(config, RefineConfig) else RefineConfig(**config)
    level = check_real("level", level, lo=0.0, hi=1.0, lo_open=True, hi_open=True)
    res = RefineResult(c, level)
    per_seed = c.steps * (1 + (3 if c.compare and c.shared else 2 if c.compare else 0))
    total, done = c.seeds * per_seed, [0]
    t0 = time.perf_counter()

    def tick(_t, _T):
        done[0] += 1
        if progress is not None:
            progress(done[0], total)

    with thread_policy(c.width * c.width * c.blocks + c.probe * c.width):
        for k in range(c.seeds):
            _run_seed(c, c.seed + k, k, res, tick)
    res.seconds = time.perf_counter() - t0
    return res


def _run_seed(c: RefineConfig, s: int, k: int, res: RefineResult, tick) -> None:
    data = load_dataset("digits", seed=s)
    xp, yp = data.x_test[:c.probe], data.y_test[:c.probe]
    label = "main"
    net = c.net(_gen(s, label))
    series = {"cos_backprop": [], "cos_head_at_h": [], "ratio": []}

    def record(t, model):
        m = block_metrics(model, xp, yp)
        for key in ("cos_backprop", "cos_head_at_h"):
            ok = m[f"ok_{key[4:]}"]
            res.excluded += int((~ok).sum())
            series[key].append([float(m[key][ok[:, i], i].mean()) if ok[:, i].any() else math.nan
                                for i in range(c.blocks)])      # NaN: no probe example has a cosine
        fin = np.isfinite(m["ratio"])
        series["ratio"].append([float(m["ratio"][fin[:, i], i].mean()) if fin[:, i].any() else math.nan
                                for i in range(c.blocks)])   # NaN: every norm overflowed
        return m

    tr = train(net, data, steps=c.steps, lr=c.lr, batch=c.batch, momentum=c.momentum,
               seed=_batch_seed(s, label), record_every=c.record_every, record=record, progress=tick)
    res.train_seconds += tr.seconds
    if tr.diverged_at is not None:
        raise DomainError(f"training diverged (non-finite mini-batch loss) at step {tr.diverged_at} of seed {s}: "
                          f"lower --lr (got {c.lr:g}) or --alpha (got {c.alpha:g})", param="lr")
    if k == 0:
        res.steps = tr.steps
        res.first, res.last = tr.records[0], tr.records[-1]
        res.params["main"] = sum(p.numel() for p in net.parameters())
    for key in series:
        getattr(res, key).append(series[key])
    res.diverged.append(tr.diverged_at)
    res.train_acc.append(tr.train_acc[-1])
    res.test_acc.append(tr.test_acc[-1])
    res.train_loss.append(tr.train_loss[-1])
    res.test_loss.append(tr.test_loss[-1])
    dr = drop_blocks(net, data.x_test, data.y_test)
    res.drop_loss.append([float(v) for v in dr["dloss"].mean(axis=0)])
    res.drop_acc.append([float(v) for v in dr["dcorrect"].mean(axis=0)])
    if k == 0:
        res.drop_first = dr
    if not c.compare:
        return
    # sharing at initialization: unshared, shared, shared + remedy (same seed's init stream per design)
    remedy_norm = "ubn"
    designs = {"unshared": dict(shared=False), "shared": dict(shared=True),
               "shared + ubn (remedy)": dict(shared=True, norm=remedy_norm)}
    for name, kw in designs.items():
        m0 = c.net(_gen(s, f"sharing/{name}"), **kw)
        res.sharing.setdefault(name, []).append([float(v) for v in sharing_norms(m0, xp).mean(axis=0)])
    # train/test gap at equal parameter count: shared blocks with branch width B·n vs unshared
    wide = c.blocks * c.width
    for name, kw in (("unshared", dict(shared=False)), ("shared", dict(shared=True, branch_width=wide)),
                     ("shared + ubn (remedy)", dict(shared=True, branch_width=wide, norm="ubn"))):
        if name == ("shared" if c.shared else "unshared") and kw.get("branch_width") is None:
            model, r = net, tr
        else:
            model = c.net(_gen(s, f"gap/{name}"), **kw)
            r = train(model, data, steps=c.steps, lr=c.lr, batch=c.batch, momentum=c.momentum,
                      seed=_batch_seed(s, f"gap/{name}"), progress=tick)
            res.train_seconds += r.seconds
        g = res.gap.setdefault(name, {"train_acc": [], "test_acc": [], "train_loss": [], "test_loss": [],
                                      "diverged_at": [], "params": sum(p.numel() for p in model.parameters())})
        for key in ("train_acc", "test_acc", "train_loss", "test_loss"):      # None: this training diverged
            g[key].append(getattr(r, key)[-1] if r.diverged_at is None else None)
        g["diverged_at"].append(r.diverged_at)


# --- claims for `initbounds validate` (docs/theory.md §13) ------------------------------------------
CLAIMS = ClaimSet()

#: The experiment the measurement claims share (one run per (run seed, seeds), cached).
CLAIM_EXPERIMENT = dict(blocks=8, width=32, alpha=0.5, steps=600, lr=0.05, batch=32)
#: The level of the intervals the measurement claims report (they decide nothing, so no
#: Bonferroni correction: 95 % Student-t intervals across seeds).
REPORT_LEVEL = 0.95


@lru_cache(maxsize=2)
def _experiment(seed: int, seeds: int) -> RefineResult:
    return run_refine(RefineConfig(**CLAIM_EXPERIMENT, seeds=seeds, seed=seed), level=REPORT_LEVEL)


@CLAIMS.claim("refine_alpha2_law", "identity", "E‖F‖²/‖h‖² = α², E⟨F,h⟩ = 0, E‖h_B‖²/‖h_0‖² = (1+α²)^B (unshared)",
              "derived (J18 setting; docs/theory.md §13)", trials=20000)
def _alpha2(ctx):
    B, n, m, a = 4, 16, 16, 0.7
    s = sample_block_moments(B, n, m, a, ctx.trials, shared=False, stream=ctx.stream.child("unshared"))
    level = stats.bonferroni(ctx.level, 3)
    ratio, cross, growth = s["ratio"].mean(axis=1), s["cross"].mean(axis=1), s["growth"][:, -1]
    th = branch_ratio_mean(a)
    e1, lo1, hi1 = stats.mean_ci(ratio, level)
    e2, lo2, hi2 = stats.mean_ci(cross, level)
    g = unshared_growth(B, a)[0][-1]
    e3, lo3, hi3 = stats.mean_ci(growth, level)
    ok = lo1 <= th <= hi1 and lo2 <= 0.0 <= hi2 and lo3 <= g <= hi3
    return Evidence(th, e1, (lo1, hi1), ok,
                    f"B = {B}, n = m = {n}, α = {a}: mean over blocks of ‖F_i‖²/‖h_i‖² {e1:.5g} [{lo1:.4g}, {hi1:.4g}] "
                    f"vs α² = {th:.4g}; ⟨F_i,h_i⟩/‖h_i‖² {e2:.3g} [{lo2:.3g}, {hi2:.3g}] vs 0; ‖h_B‖²/‖h_0‖² "
                    f"{e3:.5g} [{lo3:.4g}, {hi3:.4g}] vs (1+α²)^B = {g:.5g}", ctx.trials, path="real")


@CLAIMS.claim("refine_shared_growth", "identity",
              "½ d²/dα² E‖h_B‖²/‖h_0‖² at α = 0: B² + B(B−1)/n shared, B unshared",
              "derived (J18's shared blocks; docs/theory.md §13)", trials=20000)
def _shared(ctx):
    B, n, m = 3, 4, 4
    level = stats.bonferroni(ctx.level, 2)
    sh = sample_growth_curvature(B, n, m, ctx.trials, shared=True, stream=ctx.stream.child("shared"))
    un = sample_growth_curvature(B, n, m, ctx.trials, shared=False, stream=ctx.stream.child("unshared"))
    th = shared_growth_coefficient(B, n)
    e, lo, hi = stats.mean_ci(sh, level)
    eu, lou, hiu = stats.mean_ci(un, level)
    return Evidence(th, e, (lo, hi), lo <= th <= hi and lou <= B <= hiu,
                    f"B = {B}, n = m = {n}: shared {e:.5g} [{lo:.4g}, {hi:.4g}] vs B² + B(B−1)/n = {th:.5g}; "
                    f"unshared {eu:.5g} [{lou:.4g}, {hiu:.4g}] vs B = {B} (exact per-network second derivatives)",
                    ctx.trials, path="real")


@CLAIMS.claim("refine_shared_two_step_limit", "approximation",
              "E‖h_2‖²/‖h_0‖², two shared blocks, vs its n, m → ∞ limit 1 + 4α² + α⁴ + (2α²/π)(α − arctan α)",
              "derived limit (docs/theory.md §13)", trials=3000)
def _two_step(ctx):
    n, a = 128, 1.0
    s = sample_block_moments(2, n, n, a, ctx.trials, shared=True, stream=ctx.stream.child("shared"))
    th = shared_two_step_limit(a)
    e, lo, hi = stats.mean_ci(s["growth"][:, -1], ctx.level)
    return Evidence(th, e, (lo, hi), None,
                    f"n = m = {n}, α = {a}: simulated {e:.5g} [{lo:.4g}, {hi:.4g}] vs limit {th:.5g} "
                    f"(unshared (1+α²)² = {(1 + a * a)**2:.4g}); finite-width terms are O(1/n)", ctx.trials,
                    path="real")


@CLAIMS.claim("refine_taylor_slope", "identity",
              "R(α) = L(h_B) − L(h_0) − Σ⟨F_j, ∇L(h_j)⟩ ~ c₂α², c₂ = ½Σ f_jᵀ∇²L f_j (slope 2 on log-log)",
              "derived (J18 eq. 3; docs/theory.md §13)", trials=1)
def _taylor(ctx):
    data = load_dataset("digits", seed=ctx.stream.seed)
    x, y = data.x_test[:64], data.y_test[:64]
    alphas = [1e-3 / 10**(k / 2) for k in range(7)]       # 1e-3 … 1e-6
    slopes, ratios, parts = [], [], []
    smooth_counts = []
    for label, steps in (("init", 0), ("trained", 200)):
        net = residual_mlp(64, 16, 4, 10, generator=ctx.stream.child(label).generator(0), alpha=0.5)
        if steps:
            train(net, data, steps=steps, lr=0.05, batch=32, seed=ctx.stream.child(label).seed_of(1) % 2**62)
        t = taylor_remainders(net, x, y, alphas)
        slopes += t["local_slopes"]
        ratios.append(t["ratio_at_smallest"])
        smooth_counts.append(sum(t["smooth"]))
        parts.append(f"{label}: fitted slope {t['slope']:.4f} over {sum(t['smooth'])} of {len(alphas)} α without a "
                     f"ReLU kink crossed, R/(c₂α²) at α = 1e-6 {t['ratio_at_smallest']:.6f}")
    fit = float(np.mean(slopes)) if slopes else 0.0
    ok = (all(k >= 3 for k in smooth_counts) and all(abs(v - 2) <= 0.1 for v in slopes)
          and all(r is not None and abs(r - 1) <= 0.01 for r in ratios))
    return Evidence(2.0, fit, (min(slopes), max(slopes)) if slopes else (0.0, 0.0), ok,
                    "; ".join(parts) + " (decision: at least 3 kink-free α, every local slope between them within 0.1 "
                    "of 2, R/(c₂α²) within 1 % of 1 at α = 1e-6; the gaps are O(α))", 2, path="real")


def _fmt(t):
    return "—" if t is None else f"{t[0]:.3g} [{t[1]:.3g}, {t[2]:.3g}]"


def _row(values, fmt: str = ".3f") -> str:
    """Per-block numbers as text, '—' where a value was not measured (NaN)."""
    return ", ".join(f"{v:{fmt}}" if math.isfinite(v) else "—" for v in values)


def _side(ci, reference, direction) -> str:
    """'agrees' when the interval lies on the paper's side of ``reference``, 'contradicts' when it
    lies on the other side, 'undecided' when it contains it ('not measured': no interval)."""
    if ci is None:
        return "not measured"
    lo, hi = ci[1], ci[2]
    good = (hi < reference) if direction == "<" else (lo > reference)
    bad = (lo > reference) if direction == "<" else (hi < reference)
    return "agrees" if good else "contradicts" if bad else "undecided"


def findings(result: RefineResult) -> list:
    """J18's statements beside our figures: one dict per statement with ``name``, ``paper`` (the
    statement), ``quantity`` (what we measured), ``estimate`` ((mean, lo, hi), Student-t across
    seeds at the result's level; None when not measured), ``reference`` and ``direction`` (the
    paper's side of the reference), ``verdict`` (agrees / contradicts / undecided — where the
    interval lies, a description, not a test) and ``detail`` (the per-block numbers)."""
    lv = result.level
    out = []
    bp = np.asarray(result.cos_backprop)[:, -1, :]
    hd = np.asarray(result.cos_head_at_h)[:, -1, :]
    B = bp.shape[1]
    h = B // 2

    def add(name, paper, quantity, est, ref, direction, detail):
        out.append({"name": name, "paper": paper, "quantity": quantity, "estimate": est, "reference": ref,
                    "direction": direction, "verdict": _side(est, ref, direction), "detail": detail})

    add("cosine_negative", "after training, cos(F_i, ∂L/∂h_i) < 0 (blocks refine)",
        "mean over blocks of the cosine, backprop", seed_ci(bp.mean(axis=1), lv), 0.0, "<",
        "backprop per block " + _row(bp.mean(axis=0)) + "; head_at_h per block " + _row(hd.mean(axis=0)))
    if B >= 2:
        add("cosine_later_blocks", "the cosine is more negative in later blocks",
            "later half − earlier half of the blocks, backprop",
            seed_ci(bp[:, h:].mean(axis=1) - bp[:, :h].mean(axis=1), lv), 0.0, "<",
            "head_at_h: later − earlier " + _fmt(seed_ci(hd[:, h:].mean(axis=1) - hd[:, :h].mean(axis=1), lv)))
        ra = np.asarray(result.ratio)[:, -1, :]
        add("ratio_falls", "‖F_i‖/‖h_i‖ falls with the block index", "least-squares slope of ‖F_i‖/‖h_i‖ per block",
            seed_ci([float(np.polyfit(np.arange(B), row, 1)[0]) if np.all(np.isfinite(row)) else math.nan
                     for row in ra], lv), 0.0, "<",
            "per block " + _row(ra.mean(axis=0)))
        dl = np.asarray(result.drop_loss)
        add("drop_early_vs_late", "dropping an early block hurts much more than dropping a late one",
            "Δloss(drop block 1) − Δloss(drop block B), test split", seed_ci(dl[:, 0] - dl[:, -1], lv), 0.0, ">",
            "Δloss per block " + _row(dl.mean(axis=0)) + "; Δaccuracy per block "
            + _row(np.asarray(result.drop_acc).mean(axis=0), "+.3f"))
    if result.sharing:
        sh = {k: np.asarray(v)[:, -1] for k, v in result.sharing.items()}
        add("shared_explodes", "shared blocks make activations explode at initialization",
            "‖h_B‖/‖h_0‖ at init, shared ÷ unshared", seed_ci(sh["shared"] / sh["unshared"], lv), 1.0, ">",
            "; ".join(f"{k} {_fmt(seed_ci(v, lv))}" for k, v in sh.items()))
        rem = "shared + ubn (remedy)"
        add("remedy_stops_explosion", "the remedy (unshared BN statistics, γ₀ = 0.1) stops the explosion",
            "‖h_B‖/‖h_0‖ at init, remedy ÷ unshared", seed_ci(sh[rem] / sh["unshared"], lv), 1.0, "<",
            f"remedy {_fmt(seed_ci(sh[rem], lv))}")
    if result.gap:
        g = result.gap
        both = [i for i, (a, b) in enumerate(zip(g["shared"]["diverged_at"], g["unshared"]["diverged_at"]))
                if a is None and b is None]

        def gapv(k, i):
            return g[k]["train_acc"][i] - g[k]["test_acc"][i]

        est = seed_ci([gapv("shared", i) - gapv("unshared", i) for i in both], lv) if both else None
        parts = []
        for k, v in g.items():
            ok = [i for i, d in enumerate(v["diverged_at"]) if d is None]
            if ok:
                parts.append(f"{k}: train − test accuracy {_fmt(seed_ci([gapv(k, i) for i in ok], lv))}, test "
                             f"accuracy {_fmt(seed_ci([v['test_acc'][i] for i in ok], lv))} ({v['params']} parameters"
                             + (f", diverged in {len(v['diverged_at']) - len(ok)} seeds" if len(ok) < len(v['diverged_at'])
                                else "") + ")")
            else:
                parts.append(f"{k}: diverged in every seed ({v['params']} parameters)")
        add("shared_overfits", "shared blocks overfit: a larger train/test gap than unshared at equal parameter count",
            "(train − test accuracy) shared − unshared" + ("" if both else " (shared never trained: not measured)"),
            est, 0.0, ">", "; ".join(parts))
    return out


def _finding_claim(name: str):
    def run(ctx):
        r = _experiment(ctx.stream.seed, ctx.trials)
        f = next(x for x in findings(r) if x["name"] == name)
        est = f["estimate"] or (math.nan, math.nan, math.nan)        # not measured: no number (null in JSON)
        K = len(r.cos_backprop)
        note = "" if K >= 2 else " (one seed: no interval across seeds)"
        return Evidence(f["reference"], est[0], (est[1], est[2]), None,
                        f"paper: {f['paper']}. Ours: {f['quantity']} {_fmt(f['estimate'])} (paper's side: "
                        f"{f['direction']} {f['reference']:g}; {f['verdict']}); {f['detail']}{note}", K, path="trained")
    return run


for _name, _desc, _sec in (
        ("cosine_negative", "J18: after training cos(F_i, ∂L/∂h_i) < 0", "§4.1"),
        ("cosine_later_blocks", "J18: the cosine is more negative in later blocks", "§4.1"),
        ("ratio_falls", "J18: ‖F_i‖/‖h_i‖ falls with the block index", "§4.1"),
        ("drop_early_vs_late", "J18: dropping an early block hurts much more than a late one", "§4.2"),
        ("shared_explodes", "J18: shared blocks make activations explode at initialization", "§5"),
        ("remedy_stops_explosion", "J18: unshared BN statistics with γ₀ = 0.1 stop the explosion", "§5"),
        ("shared_overfits", "J18: shared blocks overfit (larger train/test gap at equal parameters)", "§5")):
    CLAIMS.claim(f"refine_{_name}", "paper_measurement", _desc, f"paper claim (J18 {_sec}); our run",
                 trials=3)(_finding_claim(_name))


# --- the figure ---------------------------------------------------------------------------------------
def _err(cis):
    m = np.array([t[0] for t in cis])
    return m, np.vstack([m - np.array([t[1] for t in cis]), np.array([t[2] for t in cis]) - m])


def plot_refine(result: RefineResult, path: str):
    """The J18 figure of a run: cosine heatmaps (block × step; backprop and head_at_h), ‖F‖/‖h‖ by
    block at init and end, block dropping, ‖h_i‖/‖h_0‖ for unshared / shared / remedy at init,
    and the train/test accuracy of the equal-size comparison. Error bars: Student-t intervals
    across seeds at the result's level (one seed: intervals across the probe examples)."""
    from .plots import new_figure, save_figure

    c, s = result.config, result.summary()
    K = len(result.cos_backprop)
    B = c.blocks
    blocks = np.arange(1, B + 1)
    fig, axes = new_figure(3, 2, width=16 / 3, height=4.5)
    across = f"{int(round(result.level * 100))} % CI across {K} seeds" if K > 1 else \
        f"{int(round(result.level * 100))} % CI across probe examples (one seed)"
    for ax, key, title in ((axes[0, 0], "cos_backprop", "backprop"), (axes[0, 1], "cos_head_at_h", "head_at_h")):
        arr = np.asarray(getattr(result, key)).mean(axis=0).T         # (B, records)
        finite = np.abs(arr[np.isfinite(arr)])
        lim = max(1e-6, float(finite.max()) if finite.size else 1.0)        # NaN cells (no cosine) stay blank
        im = ax.imshow(arr, aspect="auto", origin="lower", cmap="RdBu_r", vmin=-lim, vmax=lim,
                       extent=(-0.5, len(result.steps) - 0.5, 0.5, B + 0.5), interpolation="nearest")
        ticks = np.linspace(0, len(result.steps) - 1, min(6, len(result.steps))).round().astype(int)
        ax.set_xticks(ticks, [str(result.steps[i]) for i in ticks])
        ax.set_xlabel("training step")
        ax.set_ylabel("block i")
        ax.set_title(f"mean cos(F_i, ∂L/∂h_i), {title} (mean of {K} seeds)")
        fig.colorbar(im, ax=ax, label="cosine (negative: refinement)")
    ax = axes[0, 2]
    for key, lab, col in (("ratio_init", "at initialization", "tab:gray"), ("ratio_end", f"after {c.steps} steps",
                                                                             "tab:blue")):
        cis = s[key] if K > 1 else [stats.mean_ci((result.first if key == "ratio_init" else result.last)["ratio"][:, i],
                                                  result.level) for i in range(B)]
        m, e = _err(cis)
        ax.errorbar(blocks, m, yerr=e, marker="o", capsize=3, label=lab, color=col)
    if c.norm == "none":
        ax.axhline(c.alpha, ls="--", color="k", lw=1, label="closed form at init: RMS of ‖F‖/‖h‖ = α")
    ax.set_xlabel("block i")
    ax.set_ylabel("mean ‖F_i‖/‖h_i‖")
    ax.set_title(f"size of each block's change ({across})", fontsize=9)
    ax.legend(fontsize=8)
    ax = axes[1, 0]
    if K > 1:
        m, e = _err(s["drop_loss"])
    else:
        m, e = _err([stats.mean_ci(result.drop_first["dloss"][:, i], result.level) for i in range(B)])
    ax.bar(blocks, m, yerr=e, capsize=3, color="tab:orange", label="Δ test loss when block i alone is removed")
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xlabel("block removed")
    ax.set_ylabel("Δ test cross-entropy")
    ax.set_title(f"block dropping after training ({across})", fontsize=9)
    ax.legend(fontsize=8)
    ax = axes[1, 1]
    if result.sharing:
        idx = np.arange(B + 1)
        for name, col in zip(result.sharing, ("tab:blue", "tab:red", "tab:green")):
            arr = np.asarray(result.sharing[name])
            cis = [seed_ci(arr[:, i], result.level) for i in idx]
            m, e = _err(cis)
            ax.plot(idx, m, marker="o", color=col, label=f"{name}" + ("" if name == "unshared" else ""))
            if K > 1:
                ax.fill_between(idx, np.maximum(m - e[0], 0.5 * m.min()), m + e[1], color=col, alpha=0.2)
        if c.norm == "none":
            g = np.sqrt(np.asarray(unshared_growth(B, c.alpha)[0], dtype=float))
            ax.plot(idx, g, "k--", lw=1, label="unshared closed form √E‖h_i‖²/‖h_0‖² = (1+α²)^{i/2}")
        ax.set_yscale("log")
        ax.legend(fontsize=8)
    ax.set_xlabel("block i")
    ax.set_ylabel("mean ‖h_i‖/‖h_0‖ at initialization")
    ax.set_title(f"sharing (norm {c.norm}; remedy: ubn, γ₀ = 0.1)", fontsize=9)
    ax = axes[1, 2]
    if result.gap:
        names = list(result.gap)
        x = np.arange(len(names))
        for off, key, col in ((-0.2, "train_acc", "tab:blue"), (0.2, "test_acc", "tab:orange")):
            cis = []
            for n in names:
                vals = [v for v in result.gap[n][key] if v is not None]
                cis.append(seed_ci(vals, result.level) if vals else (0.0, 0.0, 0.0))
            m, e = _err(cis)
            ax.bar(x + off, m, width=0.4, yerr=e, capsize=3, color=col, label=key.replace("_acc", " accuracy"))
        for i, n in enumerate(names):
            bad = sum(d is not None for d in result.gap[n]["diverged_at"])
            if bad:
                ax.text(i, 0.5, f"diverged\nin {bad}/{K} seeds", ha="center", fontsize=8, color="tab:red")
        ax.set_xticks(x, [f"{n}\n({result.gap[n]['params']} params)" for n in names], fontsize=8)
        ax.legend(fontsize=8)
    ax.set_ylabel("accuracy after training")
    ax.set_title("shared (branch width B·n) vs unshared, equal weights", fontsize=9)
    fig.suptitle(f"J18 on digits: residual MLP, B = {B}, n = {c.width}, α = {c.alpha:g}, "
                 f"{'shared' if c.shared else 'unshared'}, norm {c.norm}, {c.variant}-activation; SGD lr {c.lr:g}, "
                 f"batch {c.batch}, {c.steps} steps, {K} seeds")
    save_figure(fig, path)
    return fig
