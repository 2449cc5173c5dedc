"""Monte Carlo of length moments with any weight law and biases, and Jacobians (HR18, H18;
THEORY.md §5). Real networks on the network core (:mod:`sim.core`), batched over networks,
seeded by streams.

Predicted values come from :mod:`bounds.variance`; nothing here re-implements a formula.
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import torch

from ..bounds.errors import DomainError, check_choice, check_int, check_real
from ..bounds.variance import WEIGHT_LAWS

from .core import HE_GAIN, NetworkSpec, Run, Stream, draw_params, forward, iter_params
from .engine import sample_networks

__all__ = ["sample_lengths", "sample_jacobian_entry", "sample_length_ratios"]


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
def sample_jacobian_entry(input_dim: int, hidden: Sequence[int], trials: int, *, out_var: float = 1.0,
                          output: str = "linear", stream: Stream, dtype=torch.float64,
                          memory_budget: Optional[float] = None, chunks: Optional[Sequence[int]] = None
                          ) -> np.ndarray:
    """Z = ∂y_1/∂x_1 for ``trials`` nets x → ReLU layers (He fan-in, widths ``hidden``) → one
    output unit of variance ``out_var``/n_{d}, linear or ReLU (``output``), at the input x = (1, …, 1).
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
    spec = NetworkSpec(input_dim, (*hs, 1), fan="in", weight_var=(HE_GAIN,) * len(hs) + (c,),
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


def sample_length_ratios(widths: Sequence[int], trials: int, *, weight_var=HE_GAIN, seed: int,
                         device="cpu", path: str = "auto") -> np.ndarray:
    """M_d/M_0 for ``trials`` Gaussian ReLU nets with hidden widths n_1..n_d (fan-in, Var W_j =
    c_j/n_{j−1}, zero bias; ``weight_var`` c scalar or per layer), by the engine's fastest exact
    sampler (``path="real"`` forces real networks). The input has n_0 = n_1 (the law of M_d/M_0
    does not depend on n_0 or on the input). ``seed`` is the run seed of the stream
    ``Stream(seed, "variance.length_ratios")``.
    """
    from ..bounds.death import parse_widths

    w = parse_widths(widths)
    x = torch.ones(1, w[0], dtype=torch.float64, device=device)
    smp = sample_networks(w, x, trials, fan="in", weight_var=weight_var, stream=Stream(seed, "variance.length_ratios"),
                          device=device, path=path)
    return smp.sq_ratio[:, -1, 0] * w[0] / w[-1]
