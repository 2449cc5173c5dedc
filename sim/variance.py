"""Monte Carlo of length moments with any weight law and biases, and Jacobians (HR18, H18;
docs/theory.md §6). Real networks on the network core (:mod:`sim.core`), batched over networks,
seeded by streams.

Predicted values come from :mod:`bounds.variance`; nothing here re-implements a formula.
"""
from __future__ import annotations

import math
from typing import Optional, Sequence

import numpy as np
import torch

from ..bounds.errors import DomainError, check_choice, check_int, check_real
from ..bounds.variance import (WEIGHT_LAWS, WEIGHT_VAR, jacobian_moments, length_law, length_moments,
                               second_moment)

from . import stats
from .claims import ClaimSet, Evidence
from . import core
from .core import HE_GAIN, NetworkSpec, Run, Stream, draw_params, forward, iter_params
from .engine import sample_networks

__all__ = ["sample_lengths", "sample_jacobian_entry", "sample_length_ratios", "CLAIMS"]


@torch.no_grad()
def sample_lengths(widths: Sequence[int], x, trials: int, *, weights: str = "gaussian", weight_var=HE_GAIN,
                   bias_var=0.0, stream: Stream, dtype=torch.float64, memory_budget: Optional[float] = None,
                   chunks: Optional[Sequence[int]] = None) -> np.ndarray:
    """(trials, d) array of M_j/M_0, M_j = ‖h_j‖²/n_j, for real ReLU nets on the input ``x``.

    ``widths`` = (n_1, …, n_d), hidden widths; n_0 = the number of entries of ``x``. Weights
    i.i.d. of the named law (``bounds.variance.WEIGHT_LAWS``) with variance c/fan-in; biases
    N(0, s²) (Gaussian). ``weight_var`` c and ``bias_var`` s² are scalars or one per layer. Each
    row is one independent network; chunk k of the networks draws from ``stream.generator(k)``
    (``memory_budget`` and the order of ``chunks`` never change a result). Estimator of E M_d²:
    the sample mean of the last column squared, standard error sd/√trials.
    """
    check_choice("weights", weights, WEIGHT_LAWS)
    x = torch.as_tensor(x, dtype=dtype).reshape(-1)
    if x.numel() < 1 or not bool((x != 0).any()):
        raise DomainError("x must be a nonzero input vector")
    spec = NetworkSpec(x.numel(), tuple(widths), fan="in", weight_var=weight_var, bias_var=bias_var, weights=weights)
    m0 = float((x**2).sum()) / spec.input_dim
    run = Run(stream, trials, network_elements=spec.max_layer_elements + 3 * max(spec.dims),
              memory_budget=memory_budget, chunks=chunks)
    out = np.empty((run.rows, spec.depth))
    buffers: dict = {}
    for batch in run:
        m = torch.empty((batch.size, spec.depth), dtype=dtype)

        def record(l, z, h):
            m[:, l] = (h**2).sum(dim=(1, 2)) / spec.widths[l] / m0

        forward(spec, x.reshape(1, 1, -1), iter_params(spec, batch, dtype=dtype, buffers=buffers), record=record)
        batch.place(out, m)
    return out


@torch.no_grad()
def sample_jacobian_entry(input_dim: int, hidden: Sequence[int], trials: int, *, weight_var=HE_GAIN,
                          out_var: float = 1.0, output: str = "linear", stream: Stream, dtype=torch.float64,
                          memory_budget: Optional[float] = None, chunks: Optional[Sequence[int]] = None
                          ) -> np.ndarray:
    """Z = ∂y_1/∂x_1 for ``trials`` nets x → ReLU layers (fan-in, widths ``hidden``, gains c_j =
    ``weight_var``, one value or one per layer; He by default) → one output unit of variance
    ``out_var``/n_{d}, linear or ReLU (``output``), at the input x = (1, …, 1).
    One entry per network (the entries of one network are dependent). H18's Z_pq.

    The weights come from the core (chunk k from ``stream.generator(k)``, the output row drawn
    last); the derivative is back-propagated by hand through the recorded ReLU masks (tested equal
    to autograd).
    """
    check_int("input_dim", input_dim, lo=1)
    hs = tuple(check_int(f"hidden[{i}]", v, lo=1) for i, v in enumerate(hidden))
    if not hs:
        raise DomainError("hidden must list at least one width; got ()")
    c = check_real("out_var", out_var, lo=0.0, lo_open=True)
    output = check_choice("output", output, ("linear", "relu"))
    gains = WEIGHT_VAR.for_layers("weight_var", weight_var, len(hs))
    spec = NetworkSpec(input_dim, (*hs, 1), fan="in", weight_var=(*gains, c),
                       linear_output=output == "linear")
    run = Run(stream, trials, network_elements=spec.weights_per_network + 2 * sum(spec.dims),
              memory_budget=memory_budget, chunks=chunks)
    out = np.empty(run.rows)
    for batch in run:
        params = draw_params(spec, batch, dtype=dtype)
        masks = []
        forward(spec, torch.ones((1, 1, input_dim), dtype=dtype), params,
                record=lambda l, z, h: masks.append((z > 0).to(dtype)))
        v = params[-1].weight                                    # (t, 1, n_d)
        if output == "relu":                                     # d relu(v·h)/dh = 1[v·h > 0] v
            v = v * masks[-1]
        for layer, m in zip(reversed(params[:-1]), reversed(masks[:-1])):
            v = torch.bmm(v * m, layer.weight)                   # (t, 1, n_{l-1})
        batch.place(out, v[:, 0, 0])
    return out


#: Networks per batch of :func:`sample_length_ratios` (each batch reports progress).
_RATIO_BATCH = 4096


#: Bytes kept per simulated network by :func:`sample_length_ratios` (one float64 ratio).
_RATIO_BYTES = 8


def sample_length_ratios(widths: Sequence[int], trials: int, *, weight_var=HE_GAIN, seed: int,
                         device="cpu", path: str = "auto", progress=None) -> np.ndarray:
    """M_d/M_0 for ``trials`` Gaussian ReLU nets with hidden widths n_1..n_d (fan-in, Var W_j =
    c_j/n_{j−1}, zero bias; ``weight_var`` c scalar or per layer), by the engine's fastest exact
    sampler (``path="real"`` forces real networks). The input has n_0 = n_1 (the law of M_d/M_0
    does not depend on n_0 or on the input). ``seed`` is the run seed of the stream
    ``Stream(seed, "variance.length_ratios")``; batches of 4096 networks draw from its children
    0, 1, … (the draws do not depend on ``progress``). ``progress(done, total)`` is called after
    each batch.
    """
    from ..bounds.errors import CostLimitError, parse_widths

    w = parse_widths(widths)
    trials = check_int("trials", trials, lo=0)
    # every ratio is kept (the plot's histogram needs them): refused before the work beyond the memory
    # budget (issue 11, fuzz campaign: --trials 10^30 ran until stopped)
    budget = core.MEMORY_BUDGET
    most = budget // _RATIO_BYTES
    if trials > most:
        raise CostLimitError(f"{{trials}} {trials} would keep about {_RATIO_BYTES * trials / 2**30:.3g} GiB of simulated "
                             f"ratios, over the memory budget of {budget / 2**30:g} GiB (sim.core.MEMORY_BUDGET); "
                             f"{{trials}} must be ≤ {most}", param="trials")
    x = torch.ones(1, w[0], dtype=torch.float64, device=device)
    stream = Stream(seed, "variance.length_ratios")
    out, done = [], 0
    for i, start in enumerate(range(0, trials, _RATIO_BATCH)):
        size = min(_RATIO_BATCH, trials - start)
        smp = sample_networks(w, x, size, fan="in", weight_var=weight_var,
                              stream=stream if trials <= _RATIO_BATCH else stream.child(i), device=device, path=path)
        out.append(smp.sq_ratio[:, -1, 0] * w[0] / w[-1])
        done += size
        if progress is not None:
            progress(done, trials)
    return np.concatenate(out) if out else np.empty(0)


# --- claims for `initbounds validate` (docs/theory.md §6) -------------------------------------------
CLAIMS = ClaimSet()
#: β = Σ 1/n_j designs for the law claims: (width, depth) with β = depth/width.
_LAW_DESIGNS = {"0.1": (100, 10), "1": (10, 10), "5": (8, 40)}


def _length_law_claim(beta):
    def run(ctx):
        n, L = _LAW_DESIGNS[beta]
        law = length_law([n] * L)
        smp = ctx.sample([n] * L, torch.ones(1, n, dtype=torch.float64), fan="in")
        r = smp.sq_ratio[:, -1, 0]                      # = M_L/M_0 at equal widths
        alive = r > 0
        level = stats.bonferroni(ctx.level, 2)
        # the atom (dead inputs) by Clopper–Pearson, the law given alive by KS
        k = int((~alive).sum())
        lo, hi = stats.clopper_pearson(k, len(r), level)
        pd = law.p_dead
        cond = lambda t: (law.law.log_cdf_at(t) - pd) / (1.0 - pd)   # noqa: E731
        stat, p = stats.ks_test(np.log(r[alive]), cond)
        crit = stats.ks_critical(int(alive.sum()), level) + law.tolerance / (1.0 - pd)
        return Evidence(0.0, stat, (0.0, crit), stat <= crit and lo <= pd <= hi,
                        f"log(M_d/M_0) at width {n}, depth {L} (β = {L / n:g}): KS distance {stat:.4f} vs "
                        f"critical {crit:.4f} (p = {p:.3g}); P(dead) exact {pd:.4g} vs {k / len(r):.4g} "
                        f"[{lo:.4g}, {hi:.4g}]; P(off by > 2×) exact {law.p_off_by(2.0):.4f}", len(r))
    return run


for _b in _LAW_DESIGNS:
    CLAIMS.claim(f"length_law_beta{_b.replace('.', '')}_ks", "identity", f"exact law of M_d/M_0 at β = {_b} (KS + atom)",
                 "derived (docs/theory.md §2, §6; HR18's FM2)", trials=20000)(_length_law_claim(_b))


@CLAIMS.claim("fm2_second_moment", "identity", "E M_d²/M_0² = Π(1 + 5/n_j) (β ≈ 0.1)",
              "derived (HR18 claim; docs/theory.md §6)", trials=50000)
def _fm2_moment(ctx):
    n0, widths = 32, [32, 24, 40]      # β ≈ 0.097: moments are estimable (docs/theory.md §6)
    smp = ctx.sample(widths, torch.ones(1, n0, dtype=torch.float64), fan="in")
    m = smp.sq_ratio[:, -1, 0] * n0 / widths[-1]
    th = length_moments(widths)
    est, lo, hi = stats.mean_ci(m**2, ctx.level)
    return Evidence(th.second_moment_ratio, est, (lo, hi), lo <= th.second_moment_ratio <= hi,
                    f"E M_d²/M_0² = Π(1 + 5/n_j) at widths {[n0, *widths]} (β = {th.beta:.3f})", len(m))


@CLAIMS.claim("fm1_bias", "identity", "E M_d with biases and c ≠ 2 (FM1)", "derived (HR18 claim; docs/theory.md §6)",
              trials=20000)
def _fm1_bias(ctx):
    widths, cases = [16, 16, 16, 16], ((2.0, 0.5), (1.5, 1.0), (2.5, 0.2))
    level = stats.bonferroni(ctx.level, len(cases))
    oks, parts, first = [], [], None
    for c, s2 in cases:
        m = sample_lengths(widths, torch.ones(16), ctx.trials, weight_var=c, bias_var=s2,
                           stream=ctx.stream.child(f"c={c:g},s2={s2:g}"))[:, -1]
        th = length_moments(widths, weight_var=c, bias_var=s2)
        est, lo, hi = stats.mean_ci(m, level)
        oks.append(lo <= th.mean_with_bias <= hi)
        parts.append(f"c = {c:g}, s² = {s2:g}: {th.mean_with_bias:.5f} vs {est:.5f} [{lo:.5f}, {hi:.5f}] ({th.fm1})")
        first = first or (th.mean_with_bias, est, (lo, hi))
    return Evidence(*first, all(oks), "E M_d (M_0 = 1) with biases, 4 layers of width 16: " + "; ".join(parts),
                    ctx.trials, path="real")


@CLAIMS.claim("jacobian_moments", "identity", "E Z², E Z⁴ of the input–output Jacobian (H18)",
              "derived (H18 claim; docs/theory.md §6)", trials=40000)
def _jacobian(ctx):
    n0, hidden = 8, [16, 16, 16]
    level = stats.bonferroni(ctx.level, 4)
    oks, parts, first = [], [], None
    for out in ("linear", "relu"):
        z = sample_jacobian_entry(n0, hidden, ctx.trials, output=out, stream=ctx.stream.child(out))
        th = jacobian_moments(n0, hidden, output=out)
        e2, lo2, hi2 = stats.mean_ci(z**2, level)
        e4, lo4, hi4 = stats.mean_ci(z**4, level)
        oks += [lo2 <= th.second <= hi2, lo4 <= th.fourth <= hi4]
        parts.append(f"{out} output: E Z² = {th.second:.5f} vs {e2:.5f} [{lo2:.5f}, {hi2:.5f}], E Z⁴ = "
                     f"{th.fourth:.5f} vs {e4:.5f} [{lo4:.5f}, {hi4:.5f}] (ratio {th.ratio:.4f})")
        first = first or (th.fourth, e4, (lo4, hi4))
    return Evidence(*first, all(oks), f"n0 = {n0}, hidden {hidden}, output variance c/n with c = 1: " + "; ".join(parts),
                    ctx.trials, path="real")


@CLAIMS.claim("nongaussian_second_moment", "identity", "E M_d² for uniform, Rademacher, Laplace weights",
              "derived (docs/theory.md §6: depends on κ_w − 3 and the input)", trials=30000)
def _nongaussian(ctx):
    n0, hidden = 8, [16, 16, 16]
    x = torch.zeros(n0)
    x[0] = math.sqrt(n0)               # a spiky input (q = 1): the weight kurtosis matters most
    laws = ("uniform", "rademacher", "laplace")
    level = stats.bonferroni(ctx.level, len(laws))
    oks, parts, first = [], [], None
    for law in laws:
        m = sample_lengths(hidden, x, ctx.trials, weights=law, stream=ctx.stream.child(law))[:, -1]
        th = second_moment(hidden, input_dim=n0, weights=law, input_flatness=1.0).second_moment
        est, lo, hi = stats.mean_ci(m**2, level)
        oks.append(lo <= th <= hi)
        parts.append(f"{law}: {th:.4f} vs {est:.4f} [{lo:.4f}, {hi:.4f}]")
        first = first or (th, est, (lo, hi))
    gauss = second_moment(hidden, input_dim=n0).second_moment
    return Evidence(*first, all(oks), f"E M_d²/M_0² (He fan-in, n0 = {n0}, hidden {hidden}, x = √n0·e_1; Gaussian "
                    f"{gauss:.4f}): " + "; ".join(parts), ctx.trials, path="real")
