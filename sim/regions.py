r"""Monte Carlo of activation regions (HR19; docs/theory.md §8): exact 1-D counts, 2-D grid counts, sweeps.

A *region* is a connected piece of the segment (or of the planar window) on which the activation
pattern — the signs [z > 0] of every unit of every layer — is constant (HR19's "activation
region"; a pattern may in principle recur in two pieces, which then count twice).

* **Segments, exactly.** Along x(t) = x0 + t(x1 − x0), t ∈ [0, 1], every pre-activation is affine in
  t between consecutive knots. Layer by layer we find each unit's zeros inside each piece (strict
  sign changes of its values at the two knots), insert them as knots, and apply the ReLU; the values
  at a new knot are interpolated inside its piece, the crossing unit set to exactly 0. Every knot is
  a strict sign change of the unit that created it, so adjacent pieces always differ in pattern and
  #regions = 1 + #interior knots (no merging needed). All networks of a chunk are processed
  together as ragged lists (flat tensors with a network index, re-sorted per layer): no Python
  loop over networks. Alongside, the Crofton/Kac–Rice formula gives each layer's *conditional*
  expected number of new breakpoints given the layers below: n_l/π times the angular length of
  the lifted curve (σ_w h_{l−1}(t), σ_b) — an exact identity per layer that tests and validate use.
* **Planar slices, on a grid.** The slice {c + u d₁ + v d₂ : |u|, |v| ≤ a} is sampled on a G×G grid
  and the distinct activation patterns met are counted (exact bit patterns, lexicographic sort).
  This *undercounts*: a region that contains no grid point is missed, and a pattern recurring in
  two pieces counts once. It is a lower bound on the number of regions in the window, always.
* **One hidden layer, exactly.** For one layer the regions in a square window are counted exactly
  from the sampled weights: 1 + #lines meeting the window + #crossings inside (Euler's relation,
  general position, i.e. a nonzero effective bias).

Weights are N(0, c/fan) (fan-in by default, He c = 2), biases N(0, σ_b²), float64, drawn by the
network core (:mod:`sim.core`) from a :class:`~sim.core.Stream` (chunk k of the networks from
``stream.generator(k)``; nothing global). ``widths`` are hidden widths (n_1, ..., n_d) and the
input dimension is ``input_dim`` n_0. Estimators: sample means with normal intervals
(``stats.mean_ci``) on the counts' known support — 1 to ``bounds.regions.max_regions_segment``
along a segment, 1 to min(G², ``max_regions_plane``) on a grid, 0 to n_1 first-layer
breakpoints — so that a nearly constant sample (huge bias variance: almost every network has one
region) gets the exact interval ``stats.atom_mean_ci`` instead of a width-0 one (issue 11); sweep exponents by least squares on log(mean regions − 1) against log N with
a percentile bootstrap over networks (numpy generator of ``stream.child("bootstrap")``).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np
import torch

from ..bounds.errors import DomainError, check_choice, check_int, check_real
from ..bounds.regions import regions_report as bounds_regions_report
from ..bounds.report import Report
from ..bounds.regions import (default_segment, first_layer_segment, max_regions_plane, max_regions_segment,
                              one_layer_regions_2d, regions_paper_claim, square_window, weight_std)
from ..bounds.errors import parse_widths

from . import stats
from .claims import ClaimSet, Evidence
from .core import HE_GAIN, NetworkSpec, Run, Stream, _check_stream, draw_params, forward, require_memory

__all__ = [
    "sample_mlp_params", "count_segment_regions", "SegmentRegions", "sample_segment_regions",
    "count_grid_patterns", "sample_slice_regions", "count_one_layer_arrangement",
    "SweepPoint", "Sweep", "estimate_neuron_sweep", "estimate_depth_sweep", "figures_regions",
    "claim_regions_first_layer_1d", "claim_regions_crofton_deep", "claim_regions_one_layer_2d",
    "claim_regions_depth_flat", "CLAIM_DESIGNS", "count_support", "regions_report", "CLAIMS",
]


def _all_widths(widths, input_dim) -> tuple:
    """(n0, n1, ..., nd) from the hidden widths and the input dimension."""
    return (check_int("input_dim", input_dim, lo=1), *parse_widths(widths))


def _spec(w, weight_var, bias_var, fan) -> NetworkSpec:
    check_real("bias_var", bias_var, lo=0.0)
    return NetworkSpec(w[0], w[1:], fan=check_choice("fan", fan, ("in", "out")), weight_var=weight_var,
                       bias_var=bias_var)


def _draw(spec: NetworkSpec, batch) -> list:
    """[(W_l, b_l)] of a batch; b_l = 0 (not drawn) when the bias variance is 0."""
    return [(W, torch.zeros(W.shape[:2], dtype=W.dtype, device=W.device) if b is None else b)
            for W, b in draw_params(spec, batch)]


def _laws(widths, weight_var, bias_var, fan) -> list:
    """(σ_w, σ_b) of each layer."""
    s2 = check_real("bias_var", bias_var, lo=0.0)
    return [(weight_std(weight_var, fan=fan, fan_in=a, fan_out=b), math.sqrt(s2))
            for a, b in zip(widths[:-1], widths[1:])]


@torch.no_grad()
def sample_mlp_params(widths, trials, *, input_dim: int, weight_var=HE_GAIN, bias_var, fan: str = "in",
                      stream: Stream, device="cpu", dtype=torch.float64, chunks=None) -> list:
    """[(W_l, b_l)] for ``trials`` networks: W_l (T, n_l, n_{l−1}) ~ N(0, c/fan), b_l (T, n_l) ~ N(0, σ_b²).

    ``widths`` = (n1, ..., nd) hidden widths, ``input_dim`` = n0. The core draws them (chunk k of
    the networks: W_1, b_1, W_2, b_2, ... from ``stream.generator(k)``; no bias is drawn, and b_l
    is 0, when σ_b² = 0).

    >>> p = sample_mlp_params([3, 4], 5, input_dim=2, bias_var=1.0, stream=Stream(0, "doc"))
    >>> [tuple(W.shape) for W, b in p], [tuple(b.shape) for W, b in p]
    ([(5, 3, 2), (5, 4, 3)], [(5, 3), (5, 4)])
    """
    w = _all_widths(widths, input_dim)
    spec = _spec(w, weight_var, bias_var, fan)
    run = Run(stream, trials, network_elements=spec.max_layer_elements, chunks=chunks, device=device)
    return _draw(spec, run.whole()) if dtype == torch.float64 else \
        [(W.to(dtype), b.to(dtype)) for W, b in _draw(spec, run.whole())]


def _kahan_angle(X0: torch.Tensor, X1: torch.Tensor) -> torch.Tensor:
    """Angle between the last-axis vectors (0 where either is 0), by Kahan's 2·atan2(‖a·v − b·u‖,
    ‖a·v + b·u‖) form: absolute error ~1e-16, ample for the Crofton expectations (the oracle in
    bounds.regions evaluates the first-layer angle at 60 digits instead)."""
    a = X0.norm(dim=-1, keepdim=True)
    b = X1.norm(dim=-1, keepdim=True)
    return 2.0 * torch.atan2((X0 * b - X1 * a).norm(dim=-1), (X0 * b + X1 * a).norm(dim=-1))


@dataclass(frozen=True)
class SegmentRegions:
    """Exact region counts along a segment (see :func:`count_segment_regions`).

    ``counts[t]`` = #regions of network t = 1 + Σ_l ``new_per_layer[t, l]`` (breakpoints created at
    layer l); ``crofton[t, l]`` = E[new breakpoints at layer l | layers < l] (NaN when the layer
    laws were not given); ``breakpoints`` holds each network's sorted t's when kept.
    """

    widths: tuple
    trials: int
    counts: np.ndarray
    new_per_layer: np.ndarray
    crofton: np.ndarray
    breakpoints: Optional[list] = None
    seconds: float = 0.0


@torch.no_grad()
def count_segment_regions(params, x0, x1, *, laws=None, keep_breakpoints: bool = False) -> SegmentRegions:
    """Count the regions of each network along x0 → x1 exactly (affine-piece tracking).

    ``params`` as from :func:`sample_mlp_params` (any number of networks); ``laws`` = [(σ_w, σ_b)]
    per layer enables the Crofton conditional expectations. Deterministic given the weights.
    """
    W0 = params[0][0]
    B, dev, dt = W0.shape[0], W0.device, W0.dtype
    x0 = torch.as_tensor(np.asarray(x0, dtype=float), dtype=dt, device=dev)
    x1 = torch.as_tensor(np.asarray(x1, dtype=float), dtype=dt, device=dev)
    if x0.shape != (W0.shape[2],) or x1.shape != x0.shape:
        raise DomainError(f"x0 and x1 must have {W0.shape[2]} entries (the input width); got {tuple(x0.shape)}, "
                          f"{tuple(x1.shape)}")
    d = len(params)
    t = torch.tensor([0.0, 1.0], dtype=dt, device=dev).expand(B, 2).clone()
    m = torch.full((B,), 2, dtype=torch.long, device=dev)            # knots per network
    H = x0 + t[..., None] * (x1 - x0)                                 # (B, K, n0)
    new = torch.zeros((B, d), dtype=torch.long, device=dev)
    crof = torch.full((B, d), float("nan"), dtype=dt, device=dev)
    for l, (W, b) in enumerate(params):
        K, n = t.shape[1], W.shape[1]
        ar = torch.arange(K, device=dev)
        pv = ar[None, :-1] < (m - 1)[:, None]                        # (B, K−1) valid pieces
        if laws is not None:
            sw, sb = laws[l]
            X = torch.cat([sw * H, torch.full_like(H[..., :1], sb)], dim=-1)
            ang = _kahan_angle(X[:, :-1], X[:, 1:]) * pv
            crof[:, l] = n * ang.sum(dim=1) / math.pi
        Z = torch.baddbmm(b[:, None, :], H, W.transpose(1, 2))       # (B, K, n)
        cross = (Z[:, :-1] * Z[:, 1:] < 0) & pv[..., None]
        bi, k, j = cross.nonzero(as_tuple=True)
        new[:, l] = torch.bincount(bi, minlength=B)
        if bi.numel():
            c = torch.arange(bi.numel(), device=dev)
            a0, a1 = Z[bi, k], Z[bi, k + 1]
            tau = a0[c, j] / (a0[c, j] - a1[c, j])
            zn = a0 + tau[:, None] * (a1 - a0)
            zn[c, j] = 0.0
            tn = t[bi, k] + tau * (t[bi, k + 1] - t[bi, k])
            ob, ok = (ar[None, :] < m[:, None]).nonzero(as_tuple=True)
            nb = torch.cat([ob, bi])
            nk = torch.cat([ok, k])
            ntau = torch.cat([torch.zeros(ob.numel(), dtype=dt, device=dev), tau])
            nt = torch.cat([t[ob, ok], tn])
            nz = torch.cat([Z[ob, ok], zn])
            # order by (network, piece, position inside the piece): three stable sorts
            o = torch.argsort(ntau, stable=True)
            o = o[torch.argsort(nk[o], stable=True)]
            o = o[torch.argsort(nb[o], stable=True)]
            m = torch.bincount(nb, minlength=B)
            start = torch.cumsum(m, 0) - m
            pos = torch.arange(o.numel(), device=dev) - start[nb[o]]
            Kn = int(m.max())
            t = torch.full((B, Kn), 2.0, dtype=dt, device=dev)
            t[nb[o], pos] = nt[o]
            Z = torch.zeros((B, Kn, n), dtype=dt, device=dev)
            Z[nb[o], pos] = nz[o]
        H = torch.relu(Z)
    counts = (m - 1).cpu().numpy()
    bps = None
    if keep_breakpoints:
        tt = t.cpu().numpy()
        bps = [tt[i, 1:int(m[i]) - 1].copy() for i in range(B)]
    return SegmentRegions((W0.shape[2], *(W.shape[1] for W, _ in params)), B, counts,
                          new.cpu().numpy(), crof.cpu().numpy(), bps)


#: Working-set factors of the counters (elements per network = factor × the named size): they
#: size the chunks and the batches under sim.core.MEMORY_BUDGET (the tracker's temporaries).
_SEGMENT_FACTOR = 32
_GRID_FACTOR = 4


@torch.no_grad()
def sample_segment_regions(widths, trials, *, input_dim: int, x0=None, x1=None, weight_var=HE_GAIN, bias_var,
                           fan: str = "in", stream: Stream, device="cpu", keep_breakpoints: bool = False,
                           memory_budget=None, chunks=None, progress: Optional[Callable] = None) -> SegmentRegions:
    r"""Exact region counts of ``trials`` random networks along x0 → x1 (float64, batched).

    ``widths`` = (n1, ..., nd) hidden widths, ``input_dim`` = n0; x0, x1 default to
    :func:`bounds.regions.default_segment` (√n0·e1 → √n0·e2; −1 → 1 for n0 = 1). Estimator of
    E[#regions]: the mean of ``counts`` (standard error = sample sd/√T). Chunk k of the networks
    draws its weights from ``stream.generator(k)``; ``memory_budget`` and the order of ``chunks``
    never change a result.

    >>> r = sample_segment_regions([8, 8], 100, input_dim=2, bias_var=1.0, stream=Stream(0, "doc"))
    >>> r.counts.shape, bool((r.counts == 1 + r.new_per_layer.sum(axis=1)).all())
    ((100,), True)
    """
    w = _all_widths(widths, input_dim)
    _check_stream(stream)
    if x0 is None and x1 is None:
        x0, x1 = default_segment(w[0])
    elif x0 is None or x1 is None:
        raise DomainError("give both x0 and x1, or neither (the default segment)")
    what = (f"{{widths}} {','.join(map(str, w[1:]))} and {{input_dim}} {w[0]}: tracking the regions along the "
            "segment")
    params = sum(a * b for a, b in zip(w[:-1], w[1:]))
    require_memory(8 * params, what, names=("widths", "input_dim"))       # before the oracle's work
    e = first_layer_segment(x0, x1, w[1], weight_var=weight_var, bias_var=bias_var, fan=fan)   # checks
    spec = _spec(w, weight_var, bias_var, fan)
    laws = _laws(w, weight_var, bias_var, fan)
    t0 = time.perf_counter()
    per_point = 4 + 2 * int(e.breakpoints) + 2 * sum(w[2:])
    # one network at least: its parameters and about four (knots × width) tensors of the tracker
    require_memory(8 * (params + 4 * max(w) * per_point), what, names=("widths", "input_dim"))
    run = Run(stream, trials, network_elements=_SEGMENT_FACTOR * max(w) * per_point, memory_budget=memory_budget,
              chunks=chunks, device=device, progress=progress)
    T, d = run.rows, len(w) - 1
    counts, new, crof = np.empty(T, dtype=np.int64), np.empty((T, d), dtype=np.int64), np.empty((T, d))
    bps = [None] * T if keep_breakpoints else None
    for batch in run:
        r = count_segment_regions(_draw(spec, batch), x0, x1, laws=laws, keep_breakpoints=keep_breakpoints)
        batch.place(counts, r.counts)
        batch.place(new, r.new_per_layer)
        batch.place(crof, r.crofton)
        if keep_breakpoints:
            for c, o in batch.parts:
                bps[c.row:c.row + c.size] = r.breakpoints[o:o + c.size]
    return SegmentRegions(w, T, counts, new, crof, bps, time.perf_counter() - t0)


# --- planar slices -----------------------------------------------------------------------------------
def _slice_frame(n0: int, centre, directions):
    c = np.zeros(n0) if centre is None else np.asarray(centre, dtype=float)
    if directions is None:
        if n0 < 2:
            raise DomainError(f"a planar slice needs an input dimension ≥ 2; got {n0}")
        D = np.eye(2, n0)                       # e1, e2 (never np.eye(n0)[:2]: n0² entries)
    else:
        D = np.asarray(directions, dtype=float)
    if c.shape != (n0,) or D.shape != (2, n0) or not (np.all(np.isfinite(c)) and np.all(np.isfinite(D))):
        raise DomainError(f"centre must have {n0} entries and directions shape (2, {n0}); got {c.shape}, {D.shape}")
    return c, D


def _grid_uv(half_side, grid, dt, dev) -> torch.Tensor:
    """The G² slice coordinates (u, v), u major, each on ``grid`` equispaced values in [−a, a]."""
    u = torch.linspace(-half_side, half_side, grid, dtype=dt, device=dev)
    U, V = torch.meshgrid(u, u, indexing="ij")
    return torch.stack([U.reshape(-1), V.reshape(-1)], dim=1)          # (G², 2)


def _restrict_to_slice(params, centre, directions) -> list:
    """The first layer restricted to the slice c + u d₁ + v d₂: weights W Dᵀ (t, n₁, 2) and biases
    b + W c, so that the network runs on the G² points (u, v) and never on G² points of dimension
    n0 (issue 11: n0 = 100000 needed 74.5 GiB). For the default frame (c = 0, D = (e1, e2)) these
    are W's first two columns and b exactly."""
    (W, b), rest = params[0], list(params[1:])
    c, D = _slice_frame(W.shape[2], centre, directions)
    if centre is None and directions is None:
        return [(W[:, :, :2], b), *rest]
    Dt = torch.as_tensor(D.T, dtype=W.dtype, device=W.device)
    ct = torch.as_tensor(c, dtype=W.dtype, device=W.device)
    return [(W @ Dt, b + W @ ct), *rest]


def grid_memory(widths, grid: int) -> int:
    """Bytes that counting one network's patterns on a G×G grid needs at least whatever the memory
    budget: its parameters (8·Σ n_{l−1} n_l) and the packed patterns of all G² points (three int64
    arrays of ⌈N/52⌉ words each: the words, the sort's gathered copy and its permutation), N the
    number of hidden units. ``widths`` = (n0, n1, ..., nd)."""
    w = tuple(widths)
    N = sum(w[1:])
    return 8 * sum(a * b for a, b in zip(w[:-1], w[1:])) + 3 * 8 * grid * grid * (-(-N // 52) + 2)


def _distinct_rows_per_group(keys: torch.Tensor, group: torch.Tensor, groups: int) -> torch.Tensor:
    """Number of distinct rows of ``keys`` (M, W) int64 within each group (exact lexicographic sort)."""
    cols = [group] + [keys[:, i] for i in range(keys.shape[1])]
    o = torch.arange(group.numel(), device=group.device)
    for col in reversed(cols):
        o = o[torch.argsort(col[o], stable=True)]
    rows = torch.stack([c[o] for c in cols], dim=1)
    first = torch.ones(rows.shape[0], dtype=torch.bool, device=rows.device)
    first[1:] = (rows[1:] != rows[:-1]).any(dim=1)
    return torch.bincount(rows[first, 0], minlength=groups)


@torch.no_grad()
def count_grid_patterns(params, half_side: float, grid: int, *, centre=None, directions=None,
                        max_elements: int = 2**20) -> np.ndarray:
    """Distinct activation patterns of each network on a G×G grid of the slice (a lower bound on
    the number of regions in the window [−a, a]² of slice coordinates).

    ``params`` as from :func:`sample_mlp_params`; centre c (default 0) and directions (d₁, d₂)
    (default e1, e2) give the points c + u d₁ + v d₂, u, v on ``grid`` equispaced values in [−a, a].
    The first layer is restricted to the slice (weights W Dᵀ, biases b + W c) and the network runs
    on the 2-D slice coordinates. Networks and grid points are processed in blocks holding at most
    ``max_elements`` activations (the patterns are exact integers: the blocks never change a
    count); the packed patterns of all G² points of a block of networks are kept for the count.
    """
    W0 = params[0][0]
    B, dt, dev = W0.shape[0], W0.dtype, W0.device
    a = check_real("half_side", half_side, lo=0.0, lo_open=True)
    G = check_int("grid", grid, lo=2)
    params = _restrict_to_slice(params, centre, directions)
    X = _grid_uv(a, G, dt, dev)                                        # (P, 2)
    P = X.shape[0]
    N = sum(W.shape[1] for W, _ in params)
    wide = max(N, max(W.shape[1] for W, _ in params))
    # exact packing: a float64 dot product of ≤ 52 bits with distinct powers of 2 is an integer < 2^52
    groups = [(s, min(s + 52, N)) for s in range(0, N, 52)]
    pow2 = torch.tensor([2.0**i for i in range(52)], dtype=torch.float64, device=dev)
    block = max(1, min(P, max_elements // wide))                      # grid points per block
    per = max(1, max_elements // (block * wide))                       # networks per block
    spec = NetworkSpec(2, tuple(W.shape[1] for W, _ in params), fan="in")      # ReLU (the weights are given)
    out = []
    for s in range(0, B, per):
        sub = [(W[s:s + per], b[s:s + per]) for W, b in params]
        nb = sub[0][0].shape[0]
        words = torch.empty((nb, P, len(groups)), dtype=torch.long, device=dev)
        for p0 in range(0, P, block):
            bits = []
            forward(spec, X[p0:p0 + block].unsqueeze(0), sub, record=lambda l, z, h: bits.append(z > 0))
            bb = torch.cat(bits, dim=2).to(torch.float64)              # (nb, block, N) of 0/1
            for g, (s0, e0) in enumerate(groups):
                words[:, p0:p0 + block, g] = (bb[..., s0:e0] @ pow2[:e0 - s0]).long()
        grp = torch.arange(nb, device=dev).repeat_interleave(P)
        out.append(_distinct_rows_per_group(words.reshape(nb * P, -1), grp, nb))
    return torch.cat(out).cpu().numpy()


@torch.no_grad()
def count_one_layer_arrangement(params, half_side: float, *, centre=None, directions=None) -> np.ndarray:
    """Exact #regions of one-hidden-layer networks in the slice window [−a, a]²:
    1 + #lines meeting the window + #crossings inside it (Euler's relation; general position).

    Raises DomainError for more than one layer, or when a network's effective biases W c + b are
    all exactly 0 (lines through one point: not in general position).
    """
    if len(params) != 1:
        raise DomainError(f"the exact arrangement count is for one hidden layer; got {len(params)} layers")
    W, b = params[0]
    n0, dt, dev = W.shape[2], W.dtype, W.device
    a = check_real("half_side", half_side, lo=0.0, lo_open=True)
    c, D = _slice_frame(n0, centre, directions)
    Wt = W @ torch.as_tensor(D.T, dtype=dt, device=dev)                # (B, n, 2)
    bt = b + W @ torch.as_tensor(c, dtype=dt, device=dev)             # (B, n)
    if bool((bt == 0).all(dim=1).any()):
        raise DomainError("effective biases are all 0 for some network: the lines share a point "
                          "(not in general position); use a nonzero bias variance or centre")
    corners = torch.tensor([[a, a], [a, -a], [-a, a], [-a, -a]], dtype=dt, device=dev)
    vals = Wt @ corners.T + bt[..., None]
    meets = ~((vals > 0).all(dim=2) | (vals < 0).all(dim=2))
    wx, wy = Wt[..., 0], Wt[..., 1]
    det = wx[:, :, None] * wy[:, None, :] - wy[:, :, None] * wx[:, None, :]
    xu = (-bt[:, :, None] * wy[:, None, :] + bt[:, None, :] * wy[:, :, None]) / det
    xv = (-wx[:, :, None] * bt[:, None, :] + wx[:, None, :] * bt[:, :, None]) / det
    inside = (xu.abs() <= a) & (xv.abs() <= a)
    n = W.shape[1]
    upper = torch.triu(torch.ones(n, n, dtype=torch.bool, device=dev), diagonal=1)
    return (1 + meets.sum(dim=1) + (inside & upper).sum(dim=(1, 2))).cpu().numpy()


@torch.no_grad()
def sample_slice_regions(widths, trials, *, input_dim: int, half_side=None, grid: int = 128, centre=None,
                         directions=None, weight_var=HE_GAIN, bias_var, fan: str = "in", stream: Stream,
                         device="cpu", exact_one_layer: bool = False, memory_budget=None, chunks=None,
                         progress: Optional[Callable] = None) -> dict:
    """Grid counts (distinct patterns on a G×G grid; lower bounds) of ``trials`` networks on a slice.

    ``widths`` = (n1, ..., nd) hidden widths, ``input_dim`` = n0. Default window: centre 0,
    directions e1, e2, half-side a = √n0 (the default segment's ends lie on its boundary). With
    ``exact_one_layer`` (one hidden layer only) the exact arrangement counts of the same networks
    come too. Chunk k of the networks draws from ``stream.generator(k)``. Returns {"grid": (T,)
    counts, "exact": (T,) or None, "seconds"}.
    """
    w = _all_widths(widths, input_dim)
    G = check_int("grid", grid, lo=2)
    _check_stream(stream)
    a = math.sqrt(w[0]) if half_side is None else check_real("half_side", half_side, lo=0.0, lo_open=True)
    _slice_frame(w[0], centre, directions)
    if exact_one_layer and len(w) != 2:
        raise DomainError("exact_one_layer needs exactly one hidden layer")
    spec = _spec(w, weight_var, bias_var, fan)
    require_memory(grid_memory(w, G), f"{{widths}} {','.join(map(str, w[1:]))}, {{input_dim}} {w[0]} and {{grid}} {G}: "
                   "counting the activation patterns on the grid", names=("widths", "input_dim", "grid"))
    t0 = time.perf_counter()
    # the chunk size depends on the design only (it fixes which generator draws which network): kept
    # as _GRID_FACTOR·G²·max(n_l) so that a seed gives the numbers it always gave
    run = Run(stream, trials, network_elements=_GRID_FACTOR * G * G * max(w), memory_budget=memory_budget,
              chunks=chunks, device=device, progress=progress)
    grid_c = np.empty(run.rows, dtype=np.int64)
    exact_c = np.empty(run.rows, dtype=np.int64) if exact_one_layer else None
    for batch in run:
        p = _draw(spec, batch)
        batch.place(grid_c, count_grid_patterns(p, a, G, centre=centre, directions=directions))
        if exact_one_layer:
            batch.place(exact_c, count_one_layer_arrangement(p, a, centre=centre, directions=directions))
    return {"grid": grid_c, "exact": exact_c, "half_side": a, "grid_size": G, "seconds": time.perf_counter() - t0}


# --- sweeps ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SweepPoint:
    x: int                 # total neurons N (neuron sweep) or depth (depth sweep)
    widths: tuple          # hidden widths (n1, ..., nd)
    mean: float            # mean #regions
    lo: float
    hi: float
    trials: int
    counts: np.ndarray = field(repr=False)


@dataclass(frozen=True)
class Sweep:
    kind: str              # "segment" (exact) or "slice" (grid, lower bound)
    vary: str              # "neurons" or "depth"
    points: tuple
    exponent: Optional[float]        # log-log slope of mean(regions) − 1 against N (neuron sweeps)
    exponent_ci: Optional[tuple]     # percentile bootstrap interval
    level: float
    seconds: float
    note: str = ""

    def as_dict(self) -> dict:
        return {"kind": self.kind, "vary": self.vary, "exponent": self.exponent,
                "exponent_ci": None if self.exponent_ci is None else list(self.exponent_ci),
                "level": self.level, "seconds": round(self.seconds, 3), "note": self.note,
                "points": [{"x": p.x, "widths": list(p.widths), "mean": p.mean, "ci": [p.lo, p.hi],
                            "trials": p.trials} for p in self.points]}


def count_support(kind: str, widths, grid: Optional[int] = None) -> tuple:
    """(lo, hi): the values a region count can take — (1, ∏(n_l + 1)) along a segment ("segment",
    :func:`bounds.regions.max_regions_segment`), (1, min(G², ∏(1 + n_l + C(n_l, 2)))) for distinct
    grid patterns ("slice", :func:`bounds.regions.max_regions_plane`; G = ``grid``), and
    (1, 1 + n + C(n, 2)) for the exact one-layer arrangement ("arrangement"). ``hi`` is a float,
    ∞ beyond 2^1000 (then an interval's upper end falls back to the normal one)."""
    if kind == "segment":
        top = max_regions_segment(widths)
    elif kind == "arrangement":
        top = max_regions_plane(widths)
    else:
        top = min(check_int("grid", grid, lo=2) ** 2, max_regions_plane(widths))
    return 1.0, (float(top) if top < 2**1000 else math.inf)


def _count(kind, widths, trials, *, input_dim, weight_var, bias_var, grid, stream, device):
    if kind == "segment":
        return sample_segment_regions(widths, trials, input_dim=input_dim, weight_var=weight_var, bias_var=bias_var,
                                      stream=stream, device=device).counts
    return sample_slice_regions(widths, trials, input_dim=input_dim, grid=grid, weight_var=weight_var,
                                bias_var=bias_var, stream=stream, device=device)["grid"]


def _fit(xs, means) -> float:
    y = np.log(np.maximum(np.asarray(means, float) - 1.0, 1e-300))
    return float(np.polyfit(np.log(np.asarray(xs, float)), y, 1)[0])


def _split(neurons: int, depth: int) -> tuple:
    if neurons % depth:
        raise DomainError(f"neurons must be a multiple of depth ({depth}); got {neurons}")
    return (neurons // depth,) * depth


def _sweep_points(kind, designs, trials, *, input_dim, weight_var, bias_var, grid, level, stream, device, progress):
    """One SweepPoint per (x, widths) design: counts of ``trials`` networks (stream
    ``stream.child("<kind>:<widths>")``), mean and interval."""
    pts = []
    for i, (x, w) in enumerate(designs):
        c = _count(kind, w, trials, input_dim=input_dim, weight_var=weight_var, bias_var=bias_var, grid=grid,
                   stream=stream.child(f"{kind}:{','.join(map(str, w))}"), device=device)
        m, lo, hi = stats.mean_ci(c, level, lo=1.0, hi=count_support(kind, w, grid)[1])
        pts.append(SweepPoint(x, w, m, lo, hi, len(c), c))
        if progress:
            progress(i + 1, len(designs))
    return pts


def estimate_neuron_sweep(kind: str, neurons, depth: int, trials: int, *, input_dim: int = 2, weight_var=HE_GAIN,
                          bias_var=1.0, grid: int = 256, level: float = 0.95, stream: Stream,
                          device="cpu", resamples: int = 1000, progress=None) -> Sweep:
    """Mean #regions against the total number of neurons N at a fixed depth (widths N/depth).

    kind "segment": exact counts along the default segment; "slice": grid counts on the default
    window (lower bounds). Each point: mean with a ``level`` normal interval. The exponent is the
    least-squares slope of log(mean − 1) on log N (mean − 1: the regions beyond the first, so a
    count 1 + cN has slope 1), with a percentile bootstrap interval (networks resampled per point;
    numpy generator of ``stream.child("bootstrap")``). ``widths`` of the points are hidden widths.
    """
    kind = check_choice("kind", kind, ("segment", "slice"))
    depth = check_int("depth", depth, lo=1)
    Ns = [check_int("neurons", v, lo=1) for v in neurons]
    if len(Ns) < 2:
        raise DomainError("neurons must list at least two values")
    t0 = time.perf_counter()
    _check_stream(stream)
    pts = _sweep_points(kind, [(N, _split(N, depth)) for N in Ns], trials, input_dim=input_dim,
                        weight_var=weight_var, bias_var=bias_var, grid=grid, level=level, stream=stream,
                        device=device, progress=progress)
    rng = stream.child("bootstrap").numpy()
    boot = [_fit(Ns, [p.counts[rng.integers(0, p.trials, p.trials)].mean() for p in pts]) for _ in range(resamples)]
    a = 1.0 - level
    return Sweep(kind, "neurons", tuple(pts), _fit(Ns, [p.mean for p in pts]),
                 (float(np.quantile(boot, a / 2)), float(np.quantile(boot, 1 - a / 2))), level,
                 time.perf_counter() - t0,
                 "exact counts" if kind == "segment" else f"grid {grid}×{grid}: lower bounds (tiny regions missed)")


def estimate_depth_sweep(kind: str, depths, neurons: int, trials: int, *, input_dim: int = 2, weight_var=HE_GAIN,
                         bias_var=1.0, grid: int = 256, level: float = 0.95, stream: Stream,
                         device="cpu", progress=None) -> Sweep:
    """Mean #regions against depth at a fixed total number of neurons (widths neurons/depth)."""
    kind = check_choice("kind", kind, ("segment", "slice"))
    N = check_int("neurons", neurons, lo=1)
    ds = [check_int("depth", v, lo=1) for v in depths]
    t0 = time.perf_counter()
    _check_stream(stream)
    pts = _sweep_points(kind, [(d, _split(N, d)) for d in ds], trials, input_dim=input_dim, weight_var=weight_var,
                        bias_var=bias_var, grid=grid, level=level, stream=stream, device=device,
                        progress=progress)
    return Sweep(kind, "depth", tuple(pts), None, None, level, time.perf_counter() - t0,
                 "exact counts" if kind == "segment" else f"grid {grid}×{grid}: lower bounds (tiny regions missed)")


# --- figure ----------------------------------------------------------------------------------------
#: The figure's design (CI-friendly: ~15–25 s on 2 CPU cores at the default trials).
FIGURE_DESIGN = {"input_dim": 2, "depth": 3, "bias_var": 1.0, "weight_var": HE_GAIN,
                 "segment_neurons": (12, 24, 48, 96, 192, 384), "slice_neurons": (6, 12, 24, 48, 96),
                 "depths": (1, 2, 3, 4, 6, 8), "fixed_neurons": 48, "grid": 256}


def figures_regions(out_dir: str, *, seed: int = 0, trials: int = 400, progress=None, return_sweeps: bool = False,
                    fmt: str = "png"):
    """Write ``regions_sweep.FMT`` to ``out_dir`` (``fmt``: png, svg or pdf, :data:`sim.plots.FIGURE_FORMATS`)
    and return [its path] (with ``return_sweeps``, also the four :class:`Sweep` objects).

    Left: mean #regions − 1 against the total number of neurons N at depth 3, log-log: exact counts
    along the default segment (√2·e1 → √2·e2) and grid counts (256², lower bounds) on the window
    [−√2, √2]² of the input plane (n0 = 2), each with a 95% interval, the fitted exponents with
    bootstrap intervals, the first-layer oracle at depth 1 for reference, and HR19's claim N^{dim}
    (dim 1 for the segment, 2 for the plane; order of magnitude). Right: mean #regions against depth
    at N = 48 (widths 48/depth), both kinds, with 95% intervals. He fan-in weights, bias variance 1.
    ``trials`` networks per segment point; slice points use trials/5 (grid counting is costlier).
    """
    from pathlib import Path

    from .plots import caption, figure_name, new_figure, save_figure, style

    figure_name("regions_sweep", fmt)            # checks fmt before the work

    d = FIGURE_DESIGN
    T = check_int("trials", trials, lo=20)
    root = Stream(check_int("seed", seed, lo=0), "figures.regions")
    kw = dict(input_dim=d["input_dim"], weight_var=d["weight_var"], bias_var=d["bias_var"], grid=d["grid"])
    steps, done = 4, [0]

    def tick():
        done[0] += 1
        if progress:
            progress(done[0], steps)

    seg_n = estimate_neuron_sweep("segment", d["segment_neurons"], d["depth"], T, stream=root.child("neurons"), **kw)
    tick()
    sl_n = estimate_neuron_sweep("slice", d["slice_neurons"], d["depth"], max(10, T // 5), stream=root.child("neurons"),
                                 **kw)
    tick()
    seg_d = estimate_depth_sweep("segment", d["depths"], d["fixed_neurons"], T, stream=root.child("depth"), **kw)
    tick()
    sl_d = estimate_depth_sweep("slice", d["depths"], d["fixed_neurons"], max(10, T // 5), stream=root.child("depth"),
                                **kw)
    tick()

    with style():
        fig, (ax1, ax2) = new_figure(2, width=6.0, height=4.8)
        for sw, col, dim, lab in ((seg_n, "tab:blue", 1, "segment (exact)"), (sl_n, "tab:orange", 2, "plane window (grid)")):
            xs = np.array([p.x for p in sw.points], float)
            ys = np.array([p.mean - 1.0 for p in sw.points])
            err = np.array([[p.mean - p.lo for p in sw.points], [p.hi - p.mean for p in sw.points]])
            ax1.errorbar(xs, ys, yerr=err, fmt="o", color=col, capsize=3,
                         label=f"{lab}: exponent {sw.exponent:.2f} [{sw.exponent_ci[0]:.2f}, {sw.exponent_ci[1]:.2f}]")
            cfit = np.exp(np.mean(np.log(ys) - sw.exponent * np.log(xs)))
            ax1.plot(xs, cfit * xs ** sw.exponent, "-", color=col, lw=1)
            ax1.plot(xs, [regions_paper_claim(int(x), dim).value for x in xs], ":", color=col,
                     label=f"HR19 claim $N^{dim}$ (order of magnitude)")
        x0, x1 = default_segment(d["input_dim"])
        fl = [first_layer_segment(x0, x1, int(x), weight_var=d["weight_var"], bias_var=d["bias_var"]).breakpoints
              for x in d["segment_neurons"]]
        ax1.plot(d["segment_neurons"], fl, "--", color="grey", lw=1, label="one layer of N, segment: derived n·θ/π")
        w1 = [one_layer_regions_2d(int(x), square_window(math.sqrt(d["input_dim"])), weight_var=d["weight_var"],
                                   bias_var=d["bias_var"]).regions - 1 for x in d["slice_neurons"]]
        ax1.plot(d["slice_neurons"], w1, "-.", color="grey", lw=1, label="one layer of N, window: derived")
        ax1.set_xscale("log")
        ax1.set_yscale("log")
        ax1.set_xlabel(f"total neurons N (depth {d['depth']})")
        ax1.set_ylabel("mean #regions − 1  (−1: log axis and power law N^dim)")
        ax1.set_title("regions vs neurons (95% CIs; exponent: bootstrap 95%)")
        ax1.legend(fontsize=7)
        for sw, col, lab in ((seg_d, "tab:blue", "segment (exact)"), (sl_d, "tab:orange", "plane window (grid, lower bound)")):
            xs = [p.x for p in sw.points]
            ax2.errorbar(xs, [p.mean for p in sw.points],
                         yerr=[[p.mean - p.lo for p in sw.points], [p.hi - p.mean for p in sw.points]],
                         fmt="o-", color=col, capsize=3, label=lab)
        ax2.set_yscale("log")
        ax2.set_xlabel(f"depth (N = {d['fixed_neurons']} neurons in all)")
        ax2.set_ylabel("mean #regions  (counted as they are)")
        ax2.set_title("regions vs depth at fixed N (HR19: no growth with depth)")
        ax2.legend(fontsize=8)
        fig.suptitle(f"Activation regions at He init (fan-in), bias variance {d['bias_var']:g}, n0 = {d['input_dim']}")
        caption(fig, f"seed {seed}; {T:,} networks per segment point, {max(10, T // 5):,} per plane point. Left: #regions − 1 "
                     "(the count of breakpoints / new regions, which the power law N^dim describes); right: #regions itself.")
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        path = out / figure_name("regions_sweep", fmt)
        save_figure(fig, str(path))

    sweeps = {"neurons_segment": seg_n, "neurons_slice": sl_n, "depth_segment": seg_d, "depth_slice": sl_d}
    return ([str(path)], sweeps) if return_sweeps else [str(path)]


# --- claims for `initbounds validate` (docs/theory.md §8) ---------------------------------
#: The designs the region claims run on (He fan-in weights, bias variance 1; hidden widths).
CLAIM_DESIGNS = {
    "first_layer_1d": {"input_dim": 8, "widths": (32,), "bias_var": 1.0},
    "crofton_deep": {"input_dim": 4, "widths": (16, 16, 16), "bias_var": 1.0},
    "one_layer_2d": {"input_dim": 2, "widths": (12,), "bias_var": 1.0, "half_side": math.sqrt(2.0), "grid": 128,
                     "grid_nets": 200},
    "depth_flat": {"input_dim": 2, "neurons": 48, "depths": (1, 2, 3, 4, 6, 8), "bias_var": 1.0},
}


CLAIMS = ClaimSet()


@CLAIMS.claim("regions_first_layer_1d", "identity", "first-layer breakpoints along a segment = n·θ/π",
              "derived (HR19 setting; docs/theory.md §8)", trials=20000)
def claim_regions_first_layer_1d(ctx):
    """Identity: the mean number of first-layer breakpoints along a random segment (ends ~ N(0, I),
    drawn from the claim's child stream "ends") equals n·θ/π; passes when the normal interval covers it."""
    d = CLAIM_DESIGNS["first_layer_1d"]
    n0, w = d["input_dim"], d["widths"]
    g = ctx.stream.child("ends").generator()
    x0 = torch.randn(n0, generator=g, dtype=torch.float64).numpy()
    x1 = torch.randn(n0, generator=g, dtype=torch.float64).numpy()
    th = first_layer_segment(x0, x1, w[0], bias_var=d["bias_var"])
    r = sample_segment_regions(w, ctx.trials, input_dim=n0, x0=x0, x1=x1, bias_var=d["bias_var"], stream=ctx.stream,
                               device=ctx.device, progress=ctx.progress)
    m, lo, hi = stats.mean_ci(r.new_per_layer[:, 0], ctx.level, lo=0, hi=w[0])
    ok = lo <= th.breakpoints <= hi
    return Evidence(theory=th.breakpoints, estimate=m, ci=(lo, hi),
                   holds=ok,
                   detail=f"first layer of {w[0]} (n0 = {n0}, He fan-in, bias variance {d['bias_var']:g}) along a "
                          f"random segment: expected breakpoints n·θ/π with θ = {th.angle:.6f}; exact piece tracking",
                   trials=ctx.trials, path="real")


def _crofton_diff_ci(new: np.ndarray, crofton: np.ndarray, level: float, most: int) -> tuple:
    """(mean, lo, hi) of new − crofton (breakpoints a layer creates minus their conditional mean).

    The normal interval of the differences, unless the counts ``new`` are concentrated (fewer than
    stats.CONCENTRATED values off their most frequent one: e.g. almost never a breakpoint), where
    that interval would rest on a handful of values (issue 11). Then: the exact interval of E new
    on its support [0, ``most``] minus the normal interval of E crofton (a continuous variable),
    each at (1 + level)/2 (union bound), so that the result still covers E[new − crofton] with
    probability ≥ level."""
    m = float(np.mean(new - crofton))
    if int(new.size - np.unique(new, return_counts=True)[1].max()) >= stats.CONCENTRATED:
        return stats.mean_ci(new - crofton, level)
    half = (1.0 + level) / 2.0
    _, a, b = stats.mean_ci(new, half, lo=0, hi=most)
    _, c, d = stats.mean_ci(crofton, half, lo=0)
    return m, a - d, b - c


@CLAIMS.claim("regions_crofton_deep", "identity",
              "deeper layers' breakpoints = n_l/π × lifted angular length (Crofton)",
              "derived (Crofton/Kac–Rice; docs/theory.md §8)", trials=20000)
def claim_regions_crofton_deep(ctx):
    """Identity: at every deeper layer the breakpoints it creates have conditional mean
    n_l/π × (angular length of the lifted curve below); the mean difference's interval covers 0
    (Bonferroni over the layers)."""
    d = CLAIM_DESIGNS["crofton_deep"]
    n0, w = d["input_dim"], d["widths"]
    r = sample_segment_regions(w, ctx.trials, input_dim=n0, bias_var=d["bias_var"], stream=ctx.stream,
                               device=ctx.device, progress=ctx.progress)
    L = len(w)
    level = stats.bonferroni(ctx.level, L - 1)
    rows, ok, worst = [], True, None
    for l in range(1, L):
        m, lo, hi = _crofton_diff_ci(r.new_per_layer[:, l], r.crofton[:, l], level,
                                     w[l] * max_regions_segment(w[:l]))
        ok &= lo <= 0.0 <= hi
        rows.append(f"layer {l + 1}: {r.new_per_layer[:, l].mean():.4f} vs {r.crofton[:, l].mean():.4f}")
        if worst is None or abs(m) / max(hi - lo, 1e-300) > abs(worst[0]) / max(worst[2] - worst[1], 1e-300):
            worst = (m, lo, hi)
    return Evidence(theory=0.0, estimate=worst[0], ci=worst[1:],
                   holds=ok,
                   detail=f"widths {[n0, *w]}, default segment: new breakpoints per layer vs n_l/π × angular length of "
                          f"the lifted curve (σ_w h, σ_b) below — {'; '.join(rows)} (estimate: the least covered "
                          "layer's mean difference)", trials=ctx.trials, path="real")


@CLAIMS.claim("regions_one_layer_2d", "identity",
              "one layer, 2-D window: 1 + n·P_line + C(n,2)·P_pair (grid never above)",
              "derived (HR19 setting; docs/theory.md §8)", trials=20000)
def claim_regions_one_layer_2d(ctx):
    """Identity with a one-sided grid check: for one hidden layer (n0 = 2) in the square
    [−√2, √2]², the exact per-network count 1 + #lines meeting + #crossings inside (no grid) has a
    mean whose interval covers the oracle; the grid count (distinct patterns on 128², on the first
    200 networks) must never exceed the exact count of the same network (it can only miss
    regions), and its mean shortfall is reported. The grid count is not itself tested against the
    oracle: its bias (missed tiny regions) is real, not sampling noise."""
    d = CLAIM_DESIGNS["one_layer_2d"]
    w, a = d["widths"], d["half_side"]
    th = one_layer_regions_2d(w[0], square_window(a), bias_var=d["bias_var"])
    p = sample_mlp_params(w, ctx.trials, input_dim=d["input_dim"], bias_var=d["bias_var"], stream=ctx.stream,
                          device=ctx.device)
    exact = count_one_layer_arrangement(p, a)
    k = min(ctx.trials, d["grid_nets"])
    grid = count_grid_patterns([(W[:k], b[:k]) for W, b in p], a, d["grid"])
    m, lo, hi = stats.mean_ci(exact, ctx.level, lo=1, hi=count_support("arrangement", w)[1])
    never_above = bool((grid <= exact[:k]).all())
    ok = lo <= th.regions <= hi and never_above
    short = float((exact[:k] - grid).mean())
    return Evidence(theory=th.regions, estimate=m, ci=(lo, hi),
                   holds=ok,
                   detail=f"{w[0]} units, n0 = {d['input_dim']}, window [−{a:.4g}, {a:.4g}]², bias variance {d['bias_var']:g}: "
                          f"exact arrangement counts vs 1 + n·P_line + C(n,2)·P_pair (P_line = {th.p_line:.5f}, "
                          f"P_pair = {th.p_pair:.5f}); grid {d['grid']}² on {k} nets: mean {grid.mean():.3f}, "
                          f"{'never above' if never_above else 'ABOVE'} the exact count, mean shortfall {short:.3f} "
                          f"({100 * short / max(exact[:k].mean(), 1e-300):.1f}%)", trials=ctx.trials, path="real")


@CLAIMS.claim("regions_depth_flat", "paper_bound", "regions at fixed #neurons do not grow with depth (HR19)",
              "paper claim (HR19); docs/theory.md §8", trials=2000)
def claim_regions_depth_flat(ctx):
    """HR19's claim, as a trend: at a fixed total of N = 48 neurons, the mean number of regions
    along the default segment does not grow with depth. 'violated' when some depth's mean is
    significantly above depth 1's (one-sided, Bonferroni over the depths compared); the means
    are reported (they fall with depth here)."""
    import scipy.stats as st

    d = CLAIM_DESIGNS["depth_flat"]
    N = d["neurons"]
    x0, x1 = default_segment(d["input_dim"])
    base = first_layer_segment(x0, x1, N, bias_var=d["bias_var"]).regions
    means, counts = [], []
    for depth in d["depths"]:
        c = sample_segment_regions(_split(N, depth), ctx.trials, input_dim=d["input_dim"], bias_var=d["bias_var"],
                                   stream=ctx.stream.child(f"depth={depth}"), device=ctx.device).counts.astype(float)
        counts.append(c)
        means.append(c.mean())
    level = stats.bonferroni(ctx.level, len(d["depths"]) - 1)
    z = float(st.norm.ppf(level))
    c1 = counts[0]
    sup = [count_support("segment", _split(N, depth)) for depth in d["depths"]]

    def concentrated(c):
        return int(c.size - np.unique(c, return_counts=True)[1].max()) < stats.CONCENTRATED

    lower = []
    for j, c in enumerate(counts[1:], start=1):
        if concentrated(c) or concentrated(c1):
            # a nearly constant sample has no trustworthy variance (issue 11): compare exact intervals
            # instead, each two-sided at 2·level − 1 (one-sided level each side; union bound)
            lo_d = stats.mean_ci(c, 2 * level - 1, lo=sup[j][0], hi=sup[j][1])[1]
            hi_1 = stats.mean_ci(c1, 2 * level - 1, lo=sup[0][0], hi=sup[0][1])[2]
            lower.append(float(lo_d - hi_1))
        else:
            lower.append(float(c.mean() - c1.mean() - z * math.sqrt(c.var(ddof=1) / c.size + c1.var(ddof=1) / c1.size)))
    violated = max(lower) > 0.0
    i = int(np.argmax(means))
    m, lo, hi = stats.mean_ci(counts[i], ctx.level, lo=sup[i][0], hi=sup[i][1])
    return Evidence(theory=base, estimate=m, ci=(lo, hi),
                   holds=not violated,
                   detail=f"N = {N} neurons split over depths {list(d['depths'])} (n0 = 2, default segment, bias "
                          f"variance {d['bias_var']:g}): mean regions " + ", ".join(f"{v:.2f}" for v in means) +
                          f"; depth 1 exact: {base:.4f}; estimate/CI: the largest mean (depth {d['depths'][i]}); "
                          "'violated' iff a deeper net has significantly more regions than depth 1",
                   trials=ctx.trials * len(d["depths"]), path="real")


# --- the `initbounds regions` report ---------------------------------------------------------------
#: Bytes per input coordinate held by the derived report (x0, x1, the window's centre and frame as
#: float64 arrays, and the JSON's lists of Python floats).
DERIVED_BYTES_PER_INPUT = 128


def regions_report(hidden, input_dim: int, *, mode: str = "segment", weight_var=HE_GAIN, bias_var=1.0,
                   trials: int = 2000, grid: int = 128, seed: int = 0, level: float = 0.95,
                   progress: Optional[Callable] = None) -> Report:
    """The derived report of :func:`initbounds.bounds.regions.regions_report` and a simulation of
    the same architecture: its rows follow the derived rows and ``as_dict()`` adds ``simulated``
    (what ``initbounds regions`` prints).

    Mode "segment": exact counts by piece tracking along the default segment; mode "slice": grid
    counts on the window (lower bounds), plus exact arrangement counts at depth 1 (bias > 0). The
    simulation draws its networks from the stream ``Stream(seed, "regions.report")``.
    """
    w = _all_widths(hidden, input_dim)
    # the derived part holds the segment's ends and the window's frame as n0-vectors and lists (about
    # DERIVED_BYTES_PER_INPUT bytes per input coordinate): refused before any work (issue 11: input_dim
    # 2^63 reached np.zeros(n0) in default_segment); the simulation's own checks follow in its samplers
    require_memory(DERIVED_BYTES_PER_INPUT * w[0], f"{{input_dim}} {w[0]}: storing the segment's and the window's "
                   "input vectors", names=("input_dim",))
    derived = bounds_regions_report(hidden, input_dim, mode=mode, weight_var=weight_var, bias_var=bias_var)
    T = check_int("trials", trials, lo=2)
    stream = Stream(check_int("seed", seed, lo=0), "regions.report")
    hid, n0, d = tuple(derived["inputs"]["widths"]), derived["inputs"]["input_dim"], derived.as_dict()
    inputs = dict(d["inputs"])
    inputs = {**{k: inputs[k] for k in ("widths", "input_dim", "mode", "weight_var", "bias_var", "fan")},
              "trials": T, "seed": seed, "grid": grid if mode == "slice" else None,
              "segment": inputs["segment"], "window": inputs["window"]}
    out = {**d, "inputs": inputs}
    sim = {"level": level, "trials": T}
    if mode == "segment":
        r = sample_segment_regions(hid, T, input_dim=n0, weight_var=weight_var, bias_var=bias_var, stream=stream,
                                   progress=progress)
        m, lo, hi = stats.mean_ci(r.counts, level, lo=1, hi=count_support("segment", hid)[1])
        fm, flo, fhi = stats.mean_ci(r.new_per_layer[:, 0], level, lo=0, hi=hid[0])
        sim.update({"mean": m, "ci": [lo, hi], "method": "exact piece tracking",
                    "first_layer_breakpoints": {"mean": fm, "ci": [flo, fhi]}, "seconds": r.seconds})
    else:
        exact = len(hid) == 1 and (bias_var > 0)
        r = sample_slice_regions(hid, T, input_dim=n0, half_side=inputs["window"]["half_side"], grid=grid,
                                 weight_var=weight_var, bias_var=bias_var, stream=stream, exact_one_layer=exact,
                                 progress=progress)
        m, lo, hi = stats.mean_ci(r["grid"], level, lo=1, hi=count_support("slice", hid, grid)[1])
        sim.update({"mean": m, "ci": [lo, hi], "method": f"distinct patterns on a {grid}×{grid} grid (lower bound)",
                    "seconds": r["seconds"]})
        if exact:
            em, elo, ehi = stats.mean_ci(r["exact"], level, lo=1, hi=count_support("arrangement", hid)[1])
            sim["exact_one_layer"] = {"mean": em, "ci": [elo, ehi], "method": "1 + #lines meeting + #crossings inside"}
    out["simulated"] = sim
    lvl = f"{100 * level:g}%"
    rows = list(derived.rows)

    def cell(e):
        f = lambda v: f"{v:.4f}" if abs(v) < 1e6 else f"{v:.4e}"  # noqa: E731
        return f"{f(e['mean'])}  [{f(e['ci'][0])}, {f(e['ci'][1])}]"

    if mode == "segment":
        rows.append(("simulated first-layer breakpoints", cell(sim["first_layer_breakpoints"]), f"simulation, {lvl} CI"))
    if "exact_one_layer" in sim:
        rows.append(("simulated #regions, exact arrangement count", cell(sim["exact_one_layer"]),
                     f"simulation, {lvl} CI"))
    how = "exact piece tracking" if mode == "segment" else f"grid {grid}×{grid}, lower bound"
    rows.append((f"simulated #regions ({how})", cell(sim), f"simulation, {lvl} CI"))
    line = (f"{T} networks, seed {seed}, {sim['seconds']:.1f} s. A region is a connected piece with a constant "
            "activation pattern" + ("." if mode == "segment" else "; grid counts miss regions containing no grid point."))
    return Report(title=derived.title, rows=tuple(rows), data=out, assumptions=derived.assumptions, lines=(line,))
