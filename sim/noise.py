r"""SGD noise and curvature of a network on a data set, measured exactly (J17, J20; docs/theory.md §10).

For a model with parameters θ ∈ R^q (flattened in ``named_parameters`` order), N examples
(x_i, y_i) and per-example cross-entropy losses ℓ_i(θ), L = (1/N) Σ ℓ_i:

* per-example gradients g_i by ``torch.func`` (``vmap`` over ``grad`` of a ``functional_call``),
  chunked over examples (:func:`per_example_grads`); :func:`per_example_grads_loop` is the
  one-backward-per-example reference the papers' code uses;
* the gradient covariance K = (1/N) Σ (g_i − ḡ)(g_i − ḡ)ᵀ (1/N; ``bounds.noise``): Tr K = ‖G_c‖²_F/N
  and its top eigenvalues from the N×N centred Gram matrix G_c G_cᵀ/N, which has the same nonzero
  spectrum as the q×q matrix G_cᵀG_c/N (:func:`gradient_covariance`);
* Hessian-vector products by forward-over-reverse (``jvp`` of ``grad``), the top-k Hessian
  eigenvalues by Lanczos (scipy ``eigsh`` on a ``LinearOperator``, ``which="LA"``: the largest
  *algebraic*, which at initialization may differ from the largest in magnitude), power iteration
  for comparison, Tr H by Hutchinson's estimator with Rademacher probes and a normal interval;
* s² = (1/N) Σ (h_i − λ_H¹)² with h_i = eᵀ∇²ℓ_i e along e = e_H¹ (forward-over-forward, vmapped).

Everything runs in float64 on the model's parameters as they are (the model is not changed).
Randomness (Lanczos start vector, Hutchinson probes, sampled batches) comes only from the
:class:`~sim.core.Stream` passed in; no global RNG is used.
"""
from __future__ import annotations

import math
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch.func import functional_call, grad, jvp, vmap

from ..bounds.errors import CostLimitError, DomainError, check_int

from . import stats
from .claims import ClaimSet, Evidence
from .core import MEMORY_BUDGET, Stream, _check_stream, thread_policy

__all__ = ["FlatModel", "per_example_grads", "per_example_grads_loop", "gradient_covariance", "hvp_operator",
           "hessian_top", "power_iteration", "dense_hessian", "hutchinson_trace", "curvature_spread",
           "measure_noise", "sample_minibatch_noise", "quadratic_problem", "sample_quadratic_step", "CLAIMS", "quadratic_loss", "DiagonalQuadratic", "DENSE_MAX_PARAMS", "HESSIAN_TOL"]

#: The most parameters :func:`dense_hessian` builds a q×q Hessian for (its check against Lanczos).
DENSE_MAX_PARAMS = 2000
#: eigsh's relative tolerance on the Hessian eigenvalues (ARPACK's ``tol``).
HESSIAN_TOL = 1e-8


class FlatModel:
    """A model seen as a function of one flat float64 parameter vector θ (``named_parameters``
    order), with the per-example and mean cross-entropy losses the measurements differentiate.

    ``model`` is any ``torch.nn.Module`` mapping a batch (B, ...) to outputs (B, ...); its
    parameters are copied to θ (float64) and never changed. ``loss(output, y, reduction)`` is the
    per-example loss (default: cross-entropy on logits; :func:`quadratic_loss` for the quadratic
    models whose outputs are already the per-example losses).
    """

    def __init__(self, model: torch.nn.Module, loss: Callable = F.cross_entropy):
        if not isinstance(model, torch.nn.Module):
            raise DomainError(f"model must be a torch.nn.Module; got {type(model).__name__}")
        self.model = model
        named = [(n, p) for n, p in model.named_parameters()]
        if not named:
            raise DomainError("model must have at least one parameter")
        self.names = [n for n, _ in named]
        self.shapes = [tuple(p.shape) for _, p in named]
        self.sizes = [p.numel() for _, p in named]
        self.theta = torch.cat([p.detach().reshape(-1).to(torch.float64) for _, p in named])
        self.buffers = {n: b for n, b in model.named_buffers()}
        self.loss = loss

    @property
    def params(self) -> int:
        return int(self.theta.numel())

    def unflatten(self, theta: torch.Tensor) -> dict:
        out = {}
        for name, shape, part in zip(self.names, self.shapes, torch.split(theta, self.sizes)):
            out[name] = part.view(shape)
        return out

    def logits(self, theta: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return functional_call(self.model, ({**self.unflatten(theta), **self.buffers},), (x,))

    def loss_i(self, theta: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """ℓ(θ; x, y) of one example (x without the batch dimension)."""
        return self.loss(self.logits(theta, x.unsqueeze(0)), y.unsqueeze(0), reduction="mean")

    def loss_sum(self, theta: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.loss(self.logits(theta, x), y, reduction="sum")


def quadratic_loss(output: torch.Tensor, y: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """The loss of a model whose output already is the per-example loss (y is ignored)."""
    return output.sum() if reduction == "sum" else output.mean()


class DiagonalQuadratic(torch.nn.Module):
    """ℓ_i(θ) = ½ Σ_d x_{i,d} θ_d²: a quadratic model whose per-example Hessians diag(x_i) share
    their eigenvectors, where J20's stability condition is exact (use with :func:`quadratic_loss`)."""

    def __init__(self, theta: torch.Tensor):
        super().__init__()
        self.theta = torch.nn.Parameter(torch.as_tensor(theta, dtype=torch.float64).clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 0.5 * (x * self.theta**2).sum(dim=1)


@contextmanager
def _quiet_forward_ad():
    """Forward-mode AD loads torch's jvp decompositions through ``torch.jit.script`` on first use,
    which warns (DeprecationWarning, torch 2.x) once per process: that one warning is silenced."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*torch.jit.script.*", category=DeprecationWarning)
        yield


def _as_data(x, y) -> tuple:
    x = torch.as_tensor(x).to(torch.float64)
    y = torch.as_tensor(y).to(torch.int64)
    if x.shape[0] != y.shape[0] or x.shape[0] < 2:
        raise DomainError(f"x and y must hold the same number N ≥ 2 of examples; got {x.shape[0]} and {y.shape[0]}")
    return x, y


def _chunk(q: int, n: int, chunk: Optional[int], per_example: int = 4) -> int:
    """Examples per vmapped chunk: each holds about ``per_example`` q-vectors (gradient, graph)."""
    if chunk is not None:
        return check_int("chunk", chunk, lo=1)
    return max(1, min(n, int(MEMORY_BUDGET // (8 * 4 * per_example * q))))


def _grads_bytes(n: int, q: int) -> int:
    return 8 * n * q


def require_grads_memory(n: int, q: int) -> None:
    """The cost model of the per-example gradients: the N×q float64 matrix is held (the Gram
    matrix needs all of it); refused with :class:`CostLimitError` over :data:`sim.core.MEMORY_BUDGET`."""
    need = _grads_bytes(n, q)
    if need > MEMORY_BUDGET:
        raise CostLimitError(f"the per-example gradients of N = {n} examples × q = {q} parameters need "
                             f"{need / 2**30:.3g} GiB, over the memory budget of {MEMORY_BUDGET / 2**30:g} GiB "
                             "(sim.core.MEMORY_BUDGET); use fewer examples or a smaller model")


def per_example_grads(fm: FlatModel, x, y, *, chunk: Optional[int] = None,
                      progress: Optional[Callable[[int, int], None]] = None) -> torch.Tensor:
    """(N, q) float64 per-example gradients ∇ℓ_i(θ) by ``vmap(grad(ℓ))`` over chunks of examples.

    Exact (automatic differentiation); equal to :func:`per_example_grads_loop` up to float64
    rounding (a validate claim). Raises CostLimitError when the N×q matrix exceeds the memory budget.
    """
    x, y = _as_data(x, y)
    n, q = x.shape[0], fm.params
    require_grads_memory(n, q)
    c = _chunk(q, n, chunk)
    g = vmap(grad(fm.loss_i), in_dims=(None, 0, 0))
    out = torch.empty((n, q), dtype=torch.float64)
    with thread_policy(n * q):
        for a in range(0, n, c):
            out[a:a + c] = g(fm.theta, x[a:a + c], y[a:a + c])
            if progress:
                progress(min(n, a + c), n)
    return out


def per_example_grads_loop(fm: FlatModel, x, y) -> torch.Tensor:
    """(N, q) per-example gradients the way the papers' code gets them: one forward and one
    backward of the module itself per example (``autograd.grad`` of its parameters, flattened);
    the reference for :func:`per_example_grads`. The module's ``.grad`` fields are not touched."""
    x, y = _as_data(x, y)
    params = [p for _, p in fm.model.named_parameters()]
    out = torch.empty((x.shape[0], fm.params), dtype=torch.float64)
    for i in range(x.shape[0]):
        loss = fm.loss(fm.model(x[i:i + 1]), y[i:i + 1], reduction="mean")
        out[i] = torch.cat([g.reshape(-1) for g in torch.autograd.grad(loss, params)]).to(torch.float64)
    return out


@dataclass(frozen=True)
class Covariance:
    """K = (1/N) Σ (g_i − ḡ)(g_i − ḡ)ᵀ summarized: Tr K, top eigenvalues (descending), ḡ and ‖ḡ‖²."""

    trace: float
    top: tuple
    mean: torch.Tensor
    grad_sq: float


def gradient_covariance(grads: torch.Tensor, k: int = 1) -> Covariance:
    """Tr K and the top-``k`` eigenvalues of K = (1/N) G_cᵀG_c from the N×N Gram matrix G_c G_cᵀ/N.

    G_c = G − ḡ (rows centred). The two matrices share their nonzero eigenvalues (singular values
    of G_c/√N squared), so the q×q matrix is never formed. K has rank ≤ N − 1; eigenvalues beyond
    the rank are 0. ``k`` ≤ N.
    """
    n = grads.shape[0]
    k = check_int("k", k, lo=1, hi=n)
    mean = grads.mean(dim=0)
    gc = grads - mean
    gram = gc @ gc.T / n
    ev = torch.linalg.eigvalsh(gram).flip(0)[:k].clamp_min(0.0)
    return Covariance(float(torch.trace(gram)), tuple(float(v) for v in ev), mean, float(mean @ mean))


class _Counter:
    def __init__(self):
        self.calls = 0


def hvp_operator(fm: FlatModel, x, y, *, chunk: Optional[int] = None):
    """(matvec, counter): v ↦ ∇²L(θ) v for L = (1/N) Σ ℓ_i as a numpy function (forward-over-reverse
    ``jvp(grad(L))``, summed over chunks of examples); ``counter.calls`` counts the products."""
    x, y = _as_data(x, y)
    n, q = x.shape[0], fm.params
    c = _chunk(q, n, chunk, per_example=1) if chunk is None else check_int("chunk", chunk, lo=1)
    c = max(c, 1)
    counter = _Counter()
    gsum = grad(fm.loss_sum)

    def hv(v: torch.Tensor) -> torch.Tensor:
        out = torch.zeros(q, dtype=torch.float64)
        for a in range(0, n, c):
            out += jvp(lambda th: gsum(th, x[a:a + c], y[a:a + c]), (fm.theta,), (v,))[1]
        return out / n

    def matvec(v):
        counter.calls += 1
        with thread_policy(n * q), _quiet_forward_ad():
            return hv(torch.as_tensor(np.asarray(v, dtype=np.float64).ravel())).numpy()

    return matvec, counter


@dataclass(frozen=True)
class HessianTop:
    """Top-k Hessian eigenvalues (largest algebraic first), the top eigenvector and the HVP count."""

    values: tuple
    vector: torch.Tensor
    hvps: int


def hessian_top(fm: FlatModel, x, y, k: int = 1, *, stream: Stream, tol: float = HESSIAN_TOL,
                chunk: Optional[int] = None) -> HessianTop:
    """The ``k`` largest algebraic eigenvalues of ∇²L(θ) by Lanczos (ARPACK ``eigsh``, ``which="LA"``)
    on Hessian-vector products; the start vector is a N(0, 1) draw from ``stream.numpy()``.

    ARPACK's ``tol`` is the relative accuracy of the Ritz values; ``k`` < q.
    """
    from scipy.sparse.linalg import LinearOperator, eigsh

    _check_stream(stream)
    q = fm.params
    k = check_int("k", k, lo=1, hi=q - 1)
    matvec, counter = hvp_operator(fm, x, y, chunk=chunk)
    op = LinearOperator((q, q), matvec=matvec, rmatvec=matvec, dtype=np.float64)
    v0 = stream.numpy().standard_normal(q)
    vals, vecs = eigsh(op, k=k, which="LA", v0=v0, tol=tol, ncv=min(q, max(2 * k + 1, 20)))
    order = np.argsort(vals)[::-1]
    return HessianTop(tuple(float(v) for v in vals[order]), torch.as_tensor(vecs[:, order[0]].copy()), counter.calls)


def power_iteration(fm: FlatModel, x, y, *, stream: Stream, reference: Optional[float] = None, rtol: float = 1e-6,
                    max_iter: int = 10000, chunk: Optional[int] = None) -> dict:
    """Power iteration v ← Hv/‖Hv‖ with Rayleigh quotient λ_t = vᵀHv: it converges to the eigenvalue
    of largest *magnitude* (negative at some initializations). Stops when |λ_t − reference| ≤
    rtol·|reference| (with a reference) or when successive λ_t agree to rtol. Returns
    {"value", "hvps", "converged"}."""
    matvec, counter = hvp_operator(fm, x, y, chunk=chunk)
    v = stream.numpy().standard_normal(fm.params)
    v /= np.linalg.norm(v)
    lam_prev = None
    for _ in range(max_iter):
        hv = matvec(v)
        lam = float(v @ hv)
        if reference is not None:
            if abs(lam - reference) <= rtol * abs(reference):
                return {"value": lam, "hvps": counter.calls, "converged": True}
        elif lam_prev is not None and abs(lam - lam_prev) <= rtol * abs(lam):
            return {"value": lam, "hvps": counter.calls, "converged": True}
        lam_prev = lam
        nrm = np.linalg.norm(hv)
        if nrm == 0:
            return {"value": 0.0, "hvps": counter.calls, "converged": True}
        v = hv / nrm
    return {"value": lam_prev, "hvps": counter.calls, "converged": False}


def dense_hessian(fm: FlatModel, x, y) -> torch.Tensor:
    """The full q×q Hessian of L (``torch.func.hessian``), for q ≤ :data:`DENSE_MAX_PARAMS` (checks only)."""
    x, y = _as_data(x, y)
    if fm.params > DENSE_MAX_PARAMS:
        raise CostLimitError(f"a dense Hessian is built for at most {DENSE_MAX_PARAMS} parameters; got {fm.params}")
    from torch.func import hessian

    with _quiet_forward_ad():
        return hessian(lambda th: fm.loss_sum(th, x, y) / x.shape[0])(fm.theta)


def hutchinson_trace(fm: FlatModel, x, y, probes: int, *, stream: Stream, level: float = 0.95,
                     chunk: Optional[int] = None) -> tuple:
    """Hutchinson's estimate of Tr ∇²L: the mean of vᵀHv over ``probes`` Rademacher vectors v
    (from ``stream.generator()``), with a normal ``level`` interval (sample standard error).

    Unbiased (E vvᵀ = I); Var vᵀHv = 2 Σ_{i≠j} H_ij². Returns (estimate, lo, hi, values).
    """
    probes = check_int("probes", probes, lo=2)
    matvec, _ = hvp_operator(fm, x, y, chunk=chunk)
    g = _check_stream(stream).generator()
    vals = np.empty(probes)
    for j in range(probes):
        v = (torch.randint(0, 2, (fm.params,), generator=g, dtype=torch.int64) * 2 - 1).to(torch.float64).numpy()
        vals[j] = v @ matvec(v)
    m, lo, hi = stats.mean_ci(vals, level)
    return m, lo, hi, vals


def curvature_spread(fm: FlatModel, x, y, direction: torch.Tensor, *, chunk: Optional[int] = None) -> tuple:
    """(h, s²): per-example curvatures h_i = eᵀ∇²ℓ_i e along the unit vector e = ``direction``
    (second derivative of t ↦ ℓ_i(θ + t e), forward-over-forward, vmapped over examples) and
    s² = (1/N) Σ (h_i − h̄)² (1/N: the normalization under which J20's condition is exact).
    h̄ = eᵀ∇²L e, which is λ_H¹ when e = e_H¹.
    """
    x, y = _as_data(x, y)
    e = torch.as_tensor(direction, dtype=torch.float64)
    e = e / torch.linalg.vector_norm(e)
    n = x.shape[0]
    c = _chunk(fm.params, n, chunk)

    def h_one(xi, yi):
        first = lambda th: jvp(lambda t: fm.loss_i(t, xi, yi), (th,), (e,))[1]  # noqa: E731
        return jvp(first, (fm.theta,), (e,))[1]

    hv = vmap(h_one)
    h = torch.empty(n, dtype=torch.float64)
    with _quiet_forward_ad():
        for a in range(0, n, c):
            h[a:a + c] = hv(x[a:a + c], y[a:a + c])
    hbar = h.mean()
    return h, float(((h - hbar) ** 2).mean())


@torch.no_grad()
def _loss_acc(fm: FlatModel, x, y) -> tuple:
    logits = fm.logits(fm.theta, x)
    return float(fm.loss(logits, y, reduction="mean")), float((logits.argmax(dim=1) == y).double().mean())


def measure_noise(model: torch.nn.Module, x, y, *, k: int = 3, probes: int = 30, stream: Stream, step: int = 0,
                  chunk: Optional[int] = None, progress: Optional[Callable[[str], None]] = None) -> dict:
    """Every measured input of :func:`bounds.noise.noise_report` for ``model`` on (x, y) at its
    current parameters: N, q, loss, accuracy, Tr K and the top-``k`` λ_K (1/N), the top-``k`` λ_H
    (Lanczos), Tr H by Hutchinson (``probes`` probes, 95 % interval), s² along e_H¹ (1/N) and ‖ḡ‖².

    ``stream`` draws the Lanczos start (child "lanczos") and the probes (child "hutchinson");
    ``progress(stage)`` is called before each stage.
    """
    _check_stream(stream)
    x, y = _as_data(x, y)
    fm = FlatModel(model)
    say = progress or (lambda s: None)
    say("per-example gradients")
    g = per_example_grads(fm, x, y, chunk=chunk)
    cov = gradient_covariance(g, min(k, x.shape[0]))
    del g
    say("Hessian top-k (Lanczos)")
    top = hessian_top(fm, x, y, min(k, fm.params - 1), stream=stream.child("lanczos"), chunk=chunk)
    say("per-example curvature along e_H¹")
    _, s2 = curvature_spread(fm, x, y, top.vector, chunk=chunk)
    tr = (math.nan, math.nan, math.nan)
    if probes:
        say("Hutchinson trace")
        tr = hutchinson_trace(fm, x, y, probes, stream=stream.child("hutchinson"), chunk=chunk)[:3]
    loss, acc = _loss_acc(fm, x, y)
    return {"n": int(x.shape[0]), "params": fm.params, "step": int(step), "loss": loss, "accuracy": acc,
            "trace_k": cov.trace, "lambda_k": list(cov.top), "grad_sq": cov.grad_sq,
            "lambda_h": list(top.values), "hvps": top.hvps, "s2": s2,
            "trace_h": tr[0], "trace_h_ci": [tr[1], tr[2]], "probes": int(probes)}


def sample_minibatch_noise(grads: torch.Tensor, batch: int, draws: int, *, replacement: bool,
                           stream: Stream) -> np.ndarray:
    """``draws`` values of ‖g_S − ḡ‖² for batches of S rows of ``grads`` drawn uniformly without
    or with replacement (indices from ``stream.generator()``). Their mean estimates
    ``bounds.noise.minibatch_noise``."""
    n = grads.shape[0]
    batch = check_int("batch", batch, lo=1, hi=n)
    draws = check_int("draws", draws, lo=2)
    g = _check_stream(stream).generator()
    mean = grads.mean(dim=0)
    out = np.empty(draws)
    for a in range(0, draws, 256):
        m = min(256, draws - a)
        if replacement:
            idx = torch.randint(0, n, (m, batch), generator=g)
        else:
            idx = torch.rand((m, n), generator=g, dtype=torch.float64).argsort(dim=1)[:, :batch]
        d = grads[idx].mean(dim=1) - mean
        out[a:a + m] = (d * d).sum(dim=1).numpy()
    return out


def _elapsed(t0: float) -> float:
    return time.perf_counter() - t0


# --- claims for `initbounds validate` (docs/theory.md §10) ------------------------------------------
CLAIMS = ClaimSet()

#: The model and data of the identity claims: a one-hidden-layer ReLU MLP of width 16 on the first
#: CLAIM_EXAMPLES training digits (q = 1210 ≤ DENSE_MAX_PARAMS, so the dense Hessian exists).
CLAIM_WIDTH, CLAIM_EXAMPLES = 16, 120
#: Relative agreement demanded of two float64 computations of the same exact quantity: both are
#: sums of at most ~10^4 products, whose rounding error is below 10^4·2^-53 ≈ 1e-12 relative; 1e-9
#: leaves a thousandfold margin and still fails on any real discrepancy (an error in a formula is
#: of order 1).
FLOAT_RTOL = 1e-9
#: Lanczos (ARPACK tol = HESSIAN_TOL = 1e-8 on the Ritz values) against dense eigvalsh.
LANCZOS_RTOL = 1e-6


def _claim_setup(stream: Stream, *, width: int = CLAIM_WIDTH, examples: int = CLAIM_EXAMPLES):
    from .training import load_dataset, mlp

    data = load_dataset("digits", seed=0)
    model = mlp(data.input_dim, width, 1, data.classes, generator=stream.generator())
    return FlatModel(model), data.x_train[:examples], data.y_train[:examples]


def _rel(a, b) -> float:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


@CLAIMS.claim("noise_vmap_loop", "identity", "per-example gradients: vmap(grad) = a loop of backward passes",
              "derived (docs/theory.md §10)", trials=CLAIM_EXAMPLES)
def _vmap_loop(ctx):
    fm, x, y = _claim_setup(ctx.stream.child("model"), examples=ctx.trials)
    a, b = per_example_grads(fm, x, y, chunk=32), per_example_grads_loop(fm, x, y)
    err = _rel(a, b)
    return Evidence(0.0, err, (0.0, FLOAT_RTOL), err <= FLOAT_RTOL,
                    f"max |vmap − loop| / max |g| = {err:.2e} over N = {len(y)} examples × q = {fm.params} "
                    f"(float64; demanded ≤ {FLOAT_RTOL:g})", len(y), path="exact")


@CLAIMS.claim("noise_lanczos_dense", "identity", "Lanczos top-3 Hessian eigenvalues = dense eigvalsh (q ≤ 2000)",
              "derived (docs/theory.md §10)", trials=CLAIM_EXAMPLES)
def _lanczos(ctx):
    fm, x, y = _claim_setup(ctx.stream.child("model"), examples=ctx.trials)
    top = hessian_top(fm, x, y, 3, stream=ctx.stream.child("lanczos"))
    dense = torch.linalg.eigvalsh(dense_hessian(fm, x, y)).flip(0)[:3].numpy()
    err = _rel(top.values, dense)
    return Evidence(float(dense[0]), top.values[0], (top.values[0], top.values[0]), err <= LANCZOS_RTOL,
                    f"λ_H top-3 Lanczos {', '.join(f'{v:.8g}' for v in top.values)} vs dense "
                    f"{', '.join(f'{v:.8g}' for v in dense)} (rel. err {err:.1e} ≤ {LANCZOS_RTOL:g}; "
                    f"{top.hvps} HVPs; q = {fm.params})", len(y), path="exact")


@CLAIMS.claim("noise_gram_spectrum", "identity", "N×N centred Gram spectrum = q×q covariance spectrum, Tr K",
              "derived (docs/theory.md §10)", trials=CLAIM_EXAMPLES)
def _gram(ctx):
    fm, x, y = _claim_setup(ctx.stream.child("model"), examples=ctx.trials)
    g = per_example_grads(fm, x, y)
    k = 5
    cov = gradient_covariance(g, k)
    gc = g - g.mean(dim=0)
    big = gc.T @ gc / g.shape[0]
    ref = torch.linalg.eigvalsh(big).flip(0)[:k].numpy()
    err = max(_rel(cov.top, ref), _rel([cov.trace], [float(torch.trace(big))]))
    return Evidence(float(ref[0]), cov.top[0], (cov.top[0], cov.top[0]), err <= FLOAT_RTOL,
                    f"top-{k} λ_K and Tr K from the {g.shape[0]}×{g.shape[0]} Gram matrix vs the "
                    f"{fm.params}×{fm.params} covariance: rel. err {err:.1e} (≤ {FLOAT_RTOL:g})", g.shape[0], path="exact")


@CLAIMS.claim("noise_hutchinson", "identity", "Hutchinson interval for Tr H covers the exact trace",
              "derived (docs/theory.md §10)", trials=200)
def _hutch(ctx):
    fm, x, y = _claim_setup(ctx.stream.child("model"))
    exact = float(torch.trace(dense_hessian(fm, x, y)))
    m, lo, hi, _ = hutchinson_trace(fm, x, y, ctx.trials, stream=ctx.stream.child("probes"), level=ctx.level)
    return Evidence(exact, m, (lo, hi), lo <= exact <= hi,
                    f"Tr H = {exact:.6g} (dense) vs Hutchinson {m:.6g} [{lo:.6g}, {hi:.6g}] from {ctx.trials} "
                    f"Rademacher probes (q = {fm.params})", ctx.trials, path="exact")


@CLAIMS.claim("noise_minibatch", "identity",
              "E‖g_S − ḡ‖² = Tr K (N−S)/(S(N−1)) without replacement and Tr K/S with (sampled batches)",
              "derived (docs/theory.md §10)", trials=20000)
def _minibatch(ctx):
    from ..bounds.noise import minibatch_noise

    fm, x, y = _claim_setup(ctx.stream.child("model"), examples=60)
    g = per_example_grads(fm, x, y)
    tk = gradient_covariance(g).trace
    n, s = g.shape[0], 8
    level = stats.bonferroni(ctx.level, 2)
    oks, parts, first = [], [], None
    for rep in (False, True):
        th = minibatch_noise(tk, n, s, replacement=rep)
        v = sample_minibatch_noise(g, s, ctx.trials, replacement=rep, stream=ctx.stream.child(f"replacement={rep}"))
        m, lo, hi = stats.mean_ci(v, level, lo=0.0)
        oks.append(lo <= th <= hi)
        parts.append(f"{'with' if rep else 'without'}: {th:.5g} vs {m:.5g} [{lo:.5g}, {hi:.5g}]")
        first = first or (th, m, (lo, hi))
    return Evidence(*first, all(oks), f"N = {n}, S = {s}, Tr K = {tk:.5g}; " + "; ".join(parts), ctx.trials,
                    path="exact")


def quadratic_problem(stream: Stream, *, examples: int = 40, dim: int = 6) -> tuple:
    """(model, x, y) of a :class:`DiagonalQuadratic` problem: per-example curvatures x_{i,d} =
    (d + 1)·u_{i,d}, u ~ Uniform(0, 2) from ``stream.generator()`` (so direction d = dim − 1 has the
    largest mean curvature), θ_0 ~ N(0, 1)."""
    g = stream.generator()
    x = torch.rand((examples, dim), generator=g, dtype=torch.float64) * 2 * torch.arange(1, dim + 1, dtype=torch.float64)
    theta = torch.randn(dim, generator=g, dtype=torch.float64)
    return DiagonalQuadratic(theta), x, torch.zeros(examples, dtype=torch.int64)


def sample_quadratic_step(model: DiagonalQuadratic, x, direction: torch.Tensor, lr: float, batch: int, draws: int, *,
                          stream: Stream) -> np.ndarray:
    """``draws`` values of ψ′²/ψ² after one SGD step θ′ = θ − η ∇L_S(θ) from ``model``'s θ on batches of
    S examples drawn without replacement, ψ = ⟨θ, e⟩ (e = ``direction``)."""
    theta = model.theta.detach()
    e = torch.as_tensor(direction, dtype=torch.float64)
    psi0 = float(theta @ e)
    g = _check_stream(stream).generator()
    n = x.shape[0]
    out = np.empty(draws)
    for a in range(0, draws, 1024):
        m = min(1024, draws - a)
        idx = torch.rand((m, n), generator=g, dtype=torch.float64).argsort(dim=1)[:, :batch]
        grad_s = x[idx].mean(dim=1) * theta                    # ∇ of ½ Σ_d x̄_d θ_d²
        out[a:a + m] = (((theta - lr * grad_s) @ e) / psi0).pow(2).numpy()
    return out


@CLAIMS.claim("noise_stability_quadratic", "identity",
              "one SGD step multiplies E ψ² along e_H¹ by J20's stability LHS (quadratic model, exact)",
              "derived (J20's condition; docs/theory.md §10)", trials=40000)
def _stability(ctx):
    from ..bounds.noise import stability_lhs

    model, x, y = quadratic_problem(ctx.stream.child("problem"))
    fm = FlatModel(model, loss=quadratic_loss)
    top = hessian_top(fm, x, y, 1, stream=ctx.stream.child("lanczos"))
    _, s2 = curvature_spread(fm, x, y, top.vector)
    n, s = x.shape[0], 4
    lr = 1.6 / top.values[0]                   # near the edge, where the s² term matters
    th = stability_lhs(lr, top.values[0], s2, n, s)
    v = sample_quadratic_step(model, x, top.vector, lr, s, ctx.trials, stream=ctx.stream.child("batches"))
    m, lo, hi = stats.mean_ci(v, ctx.level, lo=0.0)
    return Evidence(th, m, (lo, hi), lo <= th <= hi,
                    f"N = {n}, S = {s}, η = {lr:.4g}, λ_H¹ = {top.values[0]:.5g} (Lanczos), s² = {s2:.5g} "
                    f"(per-example curvature, 1/N): LHS = {th:.5g} vs E ψ′²/ψ² = {m:.5g} [{lo:.5g}, {hi:.5g}]",
                    ctx.trials, path="exact")
