r"""SGD noise and curvature of a network on a data set, measured exactly (J17, J20; docs/theory.md §14).

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
           "measure_noise", "sample_minibatch_noise", "GRAM_DENSE_MAX", "trace_k", "quadratic_problem", "sample_quadratic_step", "CLAIMS", "quadratic_loss", "DiagonalQuadratic", "DENSE_MAX_PARAMS", "HESSIAN_TOL"]

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


#: Examples per vmapped chunk at most (256 was fastest on the digits MLP, 2 cores: 0.36 s for all
#: 1797 per-example gradients against 0.52 s in one chunk and 0.42 s in chunks of 64).
CHUNK_EXAMPLES = 256


def _chunk(q: int, n: int, chunk: Optional[int], per_example: int = 4) -> int:
    """Examples per vmapped chunk: at most :data:`CHUNK_EXAMPLES`, and each chunk's ``per_example``
    q-vectors (gradient, graph) within an eighth of the memory budget. Never changes a result."""
    if chunk is not None:
        return check_int("chunk", chunk, lo=1)
    return max(1, min(n, CHUNK_EXAMPLES, int(MEMORY_BUDGET // (8 * 8 * per_example * q))))


def trace_k(grads: torch.Tensor) -> float:
    """Tr K = (1/N) Σ ‖g_i − ḡ‖² of per-example gradients (N, q) (K with 1/N)."""
    gc = grads - grads.mean(dim=0)
    return float((gc * gc).sum()) / grads.shape[0]


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


#: Up to this many examples :func:`gradient_covariance` diagonalizes the whole N×N Gram matrix
#: (N²q flops to form it); beyond, Lanczos on the implicit Gram operator (2Nq flops per product).
GRAM_DENSE_MAX = 512


def gradient_covariance(grads: torch.Tensor, k: int = 1, *, method: str = "auto") -> Covariance:
    """Tr K and the top-``k`` eigenvalues of K = (1/N) G_cᵀG_c, through the N×N Gram matrix G_c G_cᵀ/N.

    G_c = G − ḡ (rows centred). The two matrices share their nonzero eigenvalues (singular values
    of G_c/√N squared), so the q×q matrix is never formed. Tr K = ‖G_c‖²_F/N directly. ``method``:
    "dense" (``eigvalsh`` of the formed Gram matrix), "lanczos" (``eigsh``, largest algebraic,
    tol 1e-10, on v ↦ G_c(G_cᵀv)/N, never forming it) or "auto" (dense up to
    :data:`GRAM_DENSE_MAX` examples). K has rank ≤ N − 1; eigenvalues beyond the rank are 0. ``k`` ≤ N.
    """
    from ..bounds.errors import check_choice

    n = grads.shape[0]
    k = check_int("k", k, lo=1, hi=n)
    method = check_choice("method", method, ("auto", "dense", "lanczos"))
    mean = grads.mean(dim=0)
    gc = grads - mean
    trace = trace_k(grads)
    if method == "dense" or (method == "auto" and (n <= GRAM_DENSE_MAX or k >= n - 1)):
        ev = torch.linalg.eigvalsh(gc @ gc.T / n).flip(0)[:k].clamp_min(0.0)
        top = tuple(float(v) for v in ev)
    else:
        from scipy.sparse.linalg import LinearOperator, eigsh

        g = gc.numpy()
        op = LinearOperator((n, n), matvec=lambda v: g @ (g.T @ np.ravel(v)) / n, dtype=np.float64)
        with thread_policy(g.size):
            vals = eigsh(op, k=min(k, n - 1), which="LA", tol=1e-10, v0=np.ones(n) / math.sqrt(n),
                         ncv=min(n, max(2 * k + 1, 20)), return_eigenvectors=False)
        top = tuple(float(max(v, 0.0)) for v in sorted(vals, reverse=True)) + (0.0,) * (k - min(k, n - 1))
    return Covariance(trace, top, mean, float(mean @ mean))


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
    or with replacement (indices from ``stream.generator()``), each computed exactly from the Gram
    matrix of the centred rows as (1/S²) Σ_{i,j∈S} ⟨g_i − ḡ, g_j − ḡ⟩ (a test checks it against the
    direct mean of the rows). Their mean estimates ``bounds.noise.minibatch_noise``."""
    n = grads.shape[0]
    batch = check_int("batch", batch, lo=1, hi=n)
    draws = check_int("draws", draws, lo=2)
    g = _check_stream(stream).generator()
    gc = grads - grads.mean(dim=0)
    gram = gc @ gc.T                 # ‖(1/S) Σ_{i∈S} d_i‖² = (1/S²) Σ_{i,j∈S} ⟨d_i, d_j⟩ (repeats included)
    out = np.empty(draws)
    with thread_policy(1024 * batch * batch):
        for a in range(0, draws, 1024):
            m = min(1024, draws - a)
            if replacement:
                idx = torch.randint(0, n, (m, batch), generator=g)
            else:
                idx = torch.rand((m, n), generator=g, dtype=torch.float64).argsort(dim=1)[:, :batch]
            out[a:a + m] = (gram[idx[:, :, None], idx[:, None, :]].sum(dim=(1, 2)) / batch**2).numpy()
    return out


def _elapsed(t0: float) -> float:
    return time.perf_counter() - t0


# --- claims for `initbounds validate` (docs/theory.md §14) ------------------------------------------
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
    """The claims' model and data; ``examples`` (a claim's --trials) is clipped to [2, 1347]."""
    from .training import load_dataset, mlp

    data = load_dataset("digits", seed=0)
    examples = max(2, min(int(examples), len(data.y_train)))
    model = mlp(data.input_dim, width, 1, data.classes, generator=stream.generator())
    return FlatModel(model), data.x_train[:examples], data.y_train[:examples]


def _rel(a, b) -> float:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


@CLAIMS.claim("noise_vmap_loop", "identity", "per-example gradients: vmap(grad) = a loop of backward passes",
              "derived (docs/theory.md §14)", trials=CLAIM_EXAMPLES)
def _vmap_loop(ctx):
    fm, x, y = _claim_setup(ctx.stream.child("model"), examples=ctx.trials)
    a, b = per_example_grads(fm, x, y, chunk=32), per_example_grads_loop(fm, x, y)
    err = _rel(a, b)
    return Evidence(0.0, err, (0.0, FLOAT_RTOL), err <= FLOAT_RTOL,
                    f"max |vmap − loop| / max |g| = {err:.2e} over N = {len(y)} examples × q = {fm.params} "
                    f"(float64; demanded ≤ {FLOAT_RTOL:g})", len(y), path="exact")


@CLAIMS.claim("noise_lanczos_dense", "identity", "Lanczos top-3 Hessian eigenvalues = dense eigvalsh (q ≤ 2000)",
              "derived (docs/theory.md §14)", trials=CLAIM_EXAMPLES)
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
              "derived (docs/theory.md §14)", trials=CLAIM_EXAMPLES)
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
              "derived (docs/theory.md §14)", trials=200)
def _hutch(ctx):
    fm, x, y = _claim_setup(ctx.stream.child("model"))
    exact = float(torch.trace(dense_hessian(fm, x, y)))
    m, lo, hi, _ = hutchinson_trace(fm, x, y, max(2, ctx.trials), stream=ctx.stream.child("probes"), level=ctx.level)
    return Evidence(exact, m, (lo, hi), lo <= exact <= hi,
                    f"Tr H = {exact:.6g} (dense) vs Hutchinson {m:.6g} [{lo:.6g}, {hi:.6g}] from {ctx.trials} "
                    f"Rademacher probes (q = {fm.params})", ctx.trials, path="exact")


@CLAIMS.claim("noise_minibatch", "identity",
              "E‖g_S − ḡ‖² = Tr K (N−S)/(S(N−1)) without replacement and Tr K/S with (sampled batches)",
              "derived (docs/theory.md §14)", trials=20000)
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
        v = sample_minibatch_noise(g, s, max(2, ctx.trials), replacement=rep,
                                   stream=ctx.stream.child(f"replacement={rep}"))
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
    with thread_policy(1024 * n):
        for a in range(0, draws, 1024):
            m = min(1024, draws - a)
            idx = torch.rand((m, n), generator=g, dtype=torch.float64).argsort(dim=1)[:, :batch]
            grad_s = x[idx].mean(dim=1) * theta                    # ∇ of ½ Σ_d x̄_d θ_d²
            out[a:a + m] = (((theta - lr * grad_s) @ e) / psi0).pow(2).numpy()
    return out


@CLAIMS.claim("noise_stability_quadratic", "identity",
              "one SGD step multiplies E ψ² along e_H¹ by J20's stability LHS (quadratic model, exact)",
              "derived (J20's condition; docs/theory.md §14)", trials=40000)
def _stability(ctx):
    from ..bounds.noise import stability_lhs

    model, x, y = quadratic_problem(ctx.stream.child("problem"))
    fm = FlatModel(model, loss=quadratic_loss)
    top = hessian_top(fm, x, y, 1, stream=ctx.stream.child("lanczos"))
    _, s2 = curvature_spread(fm, x, y, top.vector)
    n, s = x.shape[0], 4
    lr = 1.6 / top.values[0]                   # near the edge, where the s² term matters
    th = stability_lhs(lr, top.values[0], s2, n, s)
    v = sample_quadratic_step(model, x, top.vector, lr, s, max(2, ctx.trials), stream=ctx.stream.child("batches"))
    m, lo, hi = stats.mean_ci(v, ctx.level, lo=0.0)
    return Evidence(th, m, (lo, hi), lo <= th <= hi,
                    f"N = {n}, S = {s}, η = {lr:.4g}, λ_H¹ = {top.values[0]:.5g} (Lanczos), s² = {s2:.5g} "
                    f"(per-example curvature, 1/N): LHS = {th:.5g} vs E ψ′²/ψ² = {m:.5g} [{lo:.5g}, {hi:.5g}]",
                    ctx.trials, path="exact")


# --- the `noise` command: a model on digits, measured at init and after a run -----------------------
#: The models of the commands: the digits MLP and the small CNN of the training core.
MODELS = ("mlp", "cnn")
#: Digits: 8×8 = 64 features, 10 classes.
_DIGITS_DIM, _DIGITS_CLASSES = 64, 10
#: The most SGD steps the commands run (each ~1 ms on the default MLP; a limit on time, not memory).
MAX_STEPS = 10**5


def model_params(model: str, width: int, depth: int, *, input_dim: int = _DIGITS_DIM,
                 classes: int = _DIGITS_CLASSES) -> int:
    """q, the parameters of ``mlp(input_dim, width, depth, classes)`` or ``small_cnn(classes,
    channels=width)`` of :mod:`sim.training`, counted without building the model (the cost model)."""
    if model == "mlp":
        dims = [input_dim] + [width] * depth + [classes]
        return sum(a * b + b for a, b in zip(dims[:-1], dims[1:]))
    c = width
    return (9 * c + c) + 2 * (9 * c * c + c) + (c * classes + classes)


def check_noise_cost(model: str, width: int, depth: int, examples: int) -> int:
    """Refuse, before any work, a design whose per-example gradient matrix (examples × q float64)
    exceeds :data:`sim.core.MEMORY_BUDGET`: CostLimitError naming the options that drive it. Returns q."""
    q = model_params(model, width, depth)
    need = _grads_bytes(examples, q)
    if need > MEMORY_BUDGET:
        raise CostLimitError("{width}" + (" and {depth}" if model == "mlp" else "") +
                             f" give q = {q:,} parameters: the per-example gradients of {examples} examples need "
                             f"{need / 2**30:.3g} GiB, over the memory budget of {MEMORY_BUDGET / 2**30:g} GiB "
                             "(sim.core.MEMORY_BUDGET)", names=("width", "depth") if model == "mlp" else ("width",))
    return q


def build_model(model: str, width: int, depth: int, *, generator: torch.Generator) -> torch.nn.Module:
    """The digits model: ``mlp(64, width, depth, 10)`` or ``small_cnn(10, channels=width)`` (training core)."""
    from .training import mlp, small_cnn

    if model == "mlp":
        return mlp(_DIGITS_DIM, width, depth, _DIGITS_CLASSES, generator=generator)
    return small_cnn(_DIGITS_CLASSES, channels=width, generator=generator)


def _digits(model: str, seed: int):
    from .training import load_dataset

    return load_dataset("digits", seed=seed, images=(model == "cnn"))


def _check_run(model, width, depth, batch, lr, steps, examples, n_train):
    from ..bounds.errors import check_choice, check_real

    check_choice("model", model, MODELS)
    width = check_int("width", width, lo=1)
    depth = check_int("depth", depth, lo=0)
    batch = check_int("batch", batch, lo=1, hi=n_train)
    check_real("lr", lr, lo=0.0, lo_open=True)
    steps = check_int("steps", steps, lo=0, hi=MAX_STEPS)
    examples = n_train if examples is None else check_int("examples", examples, lo=2, hi=n_train)
    check_noise_cost(model, width, depth, examples)
    return examples


def noise_run(*, model: str = "mlp", width: int = 64, depth: int = 2, batch: int = 32, lr: float = 0.1,
              steps: int = 0, seed: int = 0, k: int = 3, probes: int = 30, examples: Optional[int] = None,
              progress: Optional[Callable[[str], None]] = None) -> dict:
    """``initbounds noise``: the model on digits (training split of ``load_dataset("digits", seed)``,
    N = 1347), measured by :func:`measure_noise` at initialization and, if ``steps`` > 0, after
    ``steps`` SGD steps (``train`` of the training core: batches of ``batch`` without replacement
    within an epoch, learning rate ``lr``). The measurements use the first ``examples`` training
    examples (default all); N in the noise formulas is the whole training set.

    Seeds: the split and the batch order from ``seed``; the weights from
    ``Stream(seed, "noise").child("init").generator()``; Lanczos and Hutchinson from children of
    ``Stream(seed, "noise")``. Returns {"init": measured, "final": measured or None, "train": …};
    ``final`` is None at ``steps`` = 0 or when training diverged (then ``train["diverged_at"]`` is
    the step). In the reports, ``trace_k_over_lambda_k1`` is None when λ_K¹ = 0, ``max_stable_lr``
    when λ_H¹ ≤ 0 (no edge of stability), ``critical_batch_simple`` when ḡ = 0.
    """
    from .training import train

    data = _digits(model, seed)
    n_train = len(data.y_train)
    examples = _check_run(model, width, depth, batch, lr, steps, examples, n_train)
    k = check_int("k", k, lo=1, hi=20)
    probes = check_int("probes", probes, lo=2)
    stream = Stream(seed, "noise")
    net = build_model(model, width, depth, generator=stream.child("init").generator())
    x, y = data.x_train[:examples], data.y_train[:examples]
    say = progress or (lambda s: None)

    def measure(step, m):
        out = measure_noise(m, x, y, k=k, probes=probes, stream=stream.child(f"step={step}"), step=step,
                            progress=lambda s: say(f"step {step}: {s}"))
        out["n_train"] = n_train
        return out

    init = measure(0, net)
    final, tr = None, None
    if steps:
        say("training")
        res = train(net, data, steps=steps, lr=lr, batch=batch, seed=seed)
        tr = res.as_dict()
        if res.diverged_at is None:
            final = measure(steps, net)
    return {"model": model, "width": width, "depth": depth, "init": init, "final": final, "train": tr}


# --- J20: the break-even experiment ---------------------------------------------------------------
#: The quantities recorded along a trajectory (J20 §4), in the order of the figure.
TRAJECTORY_KEYS = ("lambda_h", "lambda_k", "trace_k", "trace_k_over_lambda_k", "stability_lhs", "train_acc")
#: J20's statements (arXiv 2002.09572, §3 Conjectures 1 and 2), each as (key, the paper's words,
#: direction: +1 if the paper says max over the run is smaller for the larger η, −1 if larger).
J20_STATEMENTS = (
    ("lambda_k", "Conjecture 1: max λ_K¹ along the run is smaller for the larger η", +1),
    ("lambda_h", "Conjecture 1: max λ_H¹ along the run is smaller for the larger η", +1),
    ("trace_k_over_lambda_k", "Conjecture 2: max Tr K/λ_K¹ (conditioning of K) is larger for the larger η", -1),
    ("trace_k", "Conjecture 2: max Tr K (gradient variance) is smaller for the larger η", +1),
)
#: α* search grid: α = 2^{j/4}, j = 0 … 48 (1 to 4096).
ALPHA_GRID = tuple(2.0 ** (j / 4) for j in range(49))


def alpha_star(fm: FlatModel, x, y, x_batch, y_batch, lr: float) -> Optional[float]:
    """J20's proxy α*: the smallest α on :data:`ALPHA_GRID` such that a step of α times the SGD
    step on the batch (x_batch, y_batch), θ − α η ∇L_S(θ), raises the loss on (x, y) by
    ``bounds.noise.LOSS_FACTOR`` − 1 = 20 %; None when no α ≤ 4096 does (censored)."""
    from ..bounds.noise import LOSS_FACTOR

    th = fm.theta.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(fm.loss_sum(th, x_batch, y_batch) / len(y_batch), th)
    with torch.no_grad():
        l0 = float(fm.loss_sum(fm.theta, x, y)) / len(y)
        for a in ALPHA_GRID:
            if float(fm.loss_sum(fm.theta - a * lr * g, x, y)) / len(y) >= LOSS_FACTOR * l0:
                return a
    return None


#: The keys of :func:`trajectory_point` (each None at a point recorded after a divergence).
_POINT_KEYS = ("lambda_h", "lambda_k", "trace_k", "trace_k_over_lambda_k", "s2", "stability_lhs", "hvps")


def trajectory_point(model: torch.nn.Module, x, y, *, lr: float, batch: int, n_train: int, stream: Stream,
                     with_alpha: bool = False) -> dict:
    """One recorded point of a run: λ_H¹ (Lanczos), λ_K¹ and Tr K (Gram matrix), Tr K/λ_K¹, s² and
    J20's stability LHS (``bounds.noise.stability_lhs`` with N = ``n_train``), and optionally α*."""
    from ..bounds.noise import stability_lhs

    fm = FlatModel(model)
    cov = gradient_covariance(per_example_grads(fm, x, y), 1)
    top = hessian_top(fm, x, y, 1, stream=stream.child("lanczos"))
    _, s2 = curvature_spread(fm, x, y, top.vector)
    out = {"lambda_h": top.values[0], "lambda_k": cov.top[0], "trace_k": cov.trace,
           "trace_k_over_lambda_k": cov.trace / cov.top[0] if cov.top[0] > 0 else None, "s2": s2,
           "stability_lhs": stability_lhs(lr, top.values[0], s2, n_train, batch), "hvps": top.hvps}
    if with_alpha:
        idx = torch.randperm(len(y), generator=stream.child("alpha").generator())[:batch]
        out["alpha_star"] = alpha_star(fm, x, y, x[idx], y[idx], lr)
    return out


def _t_interval(d: np.ndarray, level: float) -> tuple:
    """(mean, lo, hi): Student-t interval of the mean of ``d`` (≥ 2 values; a point when all equal)."""
    from scipy import stats as st

    m = float(d.mean())
    if d.size < 2:
        return m, -math.inf, math.inf
    se = float(d.std(ddof=1) / math.sqrt(d.size))
    if se == 0:
        return m, m, m
    t = float(st.t.ppf(0.5 + level / 2, d.size - 1))
    return m, m - t * se, m + t * se


def _run_max(run: dict, key: str) -> Optional[float]:
    """The maximum of a recorded curve over the steps after 0: every η starts from the same
    initialization (a paired design), so step 0 would tie the maxima whenever the curve peaks there
    (it does on digits for λ_K¹ and Tr K: the largest gradient variance is at initialization)."""
    vals = [v for s, v in zip(run["steps"], run["curves"][key]) if s > 0 and v is not None and math.isfinite(v)]
    return max(vals) if vals else None


def _decide(lo: float, hi: float, direction: int) -> str:
    """'reproduced' when the interval of log(small-η max / large-η max)·direction is above 0,
    'contradicted' when below, 'inconclusive' otherwise."""
    lo, hi = (lo, hi) if direction > 0 else (-hi, -lo)
    return "reproduced" if lo > 0 else ("contradicted" if hi < 0 else "inconclusive")


def breakeven_run(*, lrs=(0.01, 0.1), model: str = "mlp", width: int = 64, depth: int = 2, batch: int = 32,
                  steps: int = 300, record_every: int = 25, seeds: int = 3, examples: int = 512, seed: int = 0,
                  alpha: bool = False, level: float = 0.95,
                  progress: Optional[Callable[[int, int], None]] = None) -> dict:
    """J20's experiment: the same initializations (one per seed) trained with each learning rate
    in ``lrs``; every ``record_every`` steps :func:`trajectory_point` on the first ``examples``
    training digits. Then, per statement of :data:`J20_STATEMENTS`, the per-seed log ratio of the
    run maxima over the steps after 0 (:func:`_run_max`; smallest η over largest η) with a Student-t ``level`` interval across seeds
    (Bonferroni over the statements), and the verdict of :func:`_decide`.

    Seeds: run r (r = 0 … seeds − 1) uses the split of ``seed``, initial weights from
    ``Stream(seed, "breakeven").child(f"seed={r}/init")`` (the same for every η: a paired design)
    and the batch order ``seed·1000 + r``; the Lanczos starts from children of that stream.

    JSON nulls: a curve's value at a point recorded after the run diverged (non-finite weights;
    ``diverged_at`` is then the step, else None); ``trace_k_over_lambda_k`` where λ_K¹ = 0;
    ``alpha_star`` where no α ≤ 4096 raises the loss by 20 %; ``breakeven_step`` and
    ``lambda_h_reaches_2_over_lr`` when the run never gets there; ``max_after_init`` values when
    nothing was measured after step 0; an end of ``ratio_ci`` that is unbounded (one seed).
    """
    from ..bounds.errors import check_real
    from .training import train

    lrs = tuple(sorted(check_real("lrs", v, lo=0.0, lo_open=True) for v in lrs))
    if len(lrs) < 2 or len(set(lrs)) != len(lrs):
        raise DomainError("{lrs} must list at least two different learning rates; got " + repr(list(lrs)),
                          param="lrs")
    data = _digits(model, seed)
    n_train = len(data.y_train)
    examples = _check_run(model, width, depth, batch, lrs[-1], steps, examples, n_train)
    seeds = check_int("seeds", seeds, lo=1)
    record_every = check_int("record_every", record_every, lo=1)
    stream = Stream(seed, "breakeven")
    x, y = data.x_train[:examples], data.y_train[:examples]
    total = len(lrs) * seeds * (steps // record_every + 2)
    done = [0]
    runs = []
    for r in range(seeds):
        for lr in lrs:
            net = build_model(model, width, depth, generator=stream.child(f"seed={r}/init").generator())
            rs = stream.child(f"seed={r}/lr={lr!r}")

            def record(step, m, _lr=lr, _rs=rs):
                if all(bool(torch.isfinite(q).all()) for q in m.parameters()):
                    p = trajectory_point(m, x, y, lr=_lr, batch=batch, n_train=n_train,
                                         stream=_rs.child(f"step={step}"), with_alpha=alpha)
                else:                     # after a divergence (non-finite weights): nothing to measure
                    p = {kk: None for kk in _POINT_KEYS + (("alpha_star",) if alpha else ())}
                done[0] += 1
                if progress:
                    progress(done[0], total)
                return p

            res = train(net, data, steps=steps, lr=lr, batch=batch, seed=seed * 1000 + r, record_every=record_every,
                        record=record)
            pts = res.records
            curves = {kk: [p[kk] for p in pts] for kk in pts[0]}
            curves["train_acc"] = list(res.train_acc)
            curves["test_acc"] = list(res.test_acc)
            lhs = curves["stability_lhs"]
            first = next((s for s, v in zip(res.steps, lhs) if v is not None and v >= 1.0), None)
            sharp = next((s for s, v in zip(res.steps, curves["lambda_h"]) if v is not None and v >= 2.0 / lr), None)
            run = {"seed": r, "lr": lr, "steps": list(res.steps), "curves": curves, "diverged_at": res.diverged_at,
                   "breakeven_step": first, "lambda_h_reaches_2_over_lr": sharp}
            run["max_after_init"] = {kk: _run_max(run, kk) for kk, _, _ in J20_STATEMENTS}
            runs.append(run)
            if progress:
                done[0] = (r * len(lrs) + lrs.index(lr) + 1) * (steps // record_every + 2)
                progress(done[0], total)
    claims = []
    lvl = 1 - (1 - level) / len(J20_STATEMENTS)
    small, large = lrs[0], lrs[-1]
    for key, text, direction in J20_STATEMENTS:
        d = []
        for r in range(seeds):
            a, b = (next(u for u in runs if u["seed"] == r and u["lr"] == v)["max_after_init"][key] for v in (small, large))
            d.append(math.log(a / b) if a and b else 0.0)
        d = np.array(d)
        m, lo, hi = _t_interval(d, lvl)
        agree = int(np.sum(d * direction > 0))
        claims.append({"quantity": key, "paper": text, "lr_small": small, "lr_large": large,
                       "ratio_small_over_large": math.exp(m),
                       "ratio_ci": [math.exp(lo) if math.isfinite(lo) else None,
                                    math.exp(hi) if math.isfinite(hi) else None],
                       "seeds_agreeing": agree, "seeds": seeds, "level": lvl,
                       "verdict": _decide(lo, hi, direction) if seeds >= 2 else "inconclusive"})
    return {"settings": {"lrs": list(lrs), "model": model, "width": width, "depth": depth, "batch": batch,
                         "steps": steps, "record_every": record_every, "seeds": seeds, "examples": examples,
                         "n_train": n_train, "seed": seed, "alpha": alpha, "level": level},
            "runs": runs, "claims": claims}


def plot_breakeven(result: dict, path: str):
    """J20's figure: λ_H¹ (with 2/η dashed), λ_K¹, Tr K/λ_K¹, Tr K, the stability LHS (with 1
    dotted) and training accuracy against the step, one colour per η: the median over seeds and
    the band between the smallest and largest seed."""
    from .plots import new_figure, save_figure

    lrs = result["settings"]["lrs"]
    colors = __import__("matplotlib").rcParams["axes.prop_cycle"].by_key()["color"]
    titles = {"lambda_h": "λ_H¹ (top Hessian eigenvalue)", "lambda_k": "λ_K¹ (top gradient-covariance eigenvalue)",
              "trace_k_over_lambda_k": "Tr K / λ_K¹", "trace_k": "Tr K", "stability_lhs": "stability LHS",
              "train_acc": "training accuracy"}
    fig, axes = new_figure(2, 3, width=5.5, height=10 / 3)
    for ax, key in zip(axes.ravel(), ("lambda_h", "lambda_k", "trace_k_over_lambda_k", "trace_k", "stability_lhs",
                                      "train_acc")):
        for i, lr in enumerate(lrs):
            runs = [u for u in result["runs"] if u["lr"] == lr]
            n = min(len(u["steps"]) for u in runs)
            steps = runs[0]["steps"][:n]
            vals = np.array([[np.nan if v is None else v for v in u["curves"][key][:n]] for u in runs], dtype=float)
            col = colors[i % len(colors)]
            ax.plot(steps, np.nanmedian(vals, axis=0), color=col, label=f"η = {lr:g}")
            if len(runs) > 1:
                ax.fill_between(steps, np.nanmin(vals, axis=0), np.nanmax(vals, axis=0), color=col, alpha=0.2)
            if key == "lambda_h":
                ax.axhline(2 / lr, color=col, ls="--", lw=0.8, label=f"2/η = {2 / lr:g}")
        if key == "stability_lhs":
            ax.axhline(1.0, color="k", ls=":", lw=0.8, label="break-even (LHS = 1)")
        if key in ("lambda_h", "lambda_k", "trace_k", "stability_lhs"):
            ax.set_yscale("log")
        ax.set_title(titles[key])
        ax.set_xlabel("SGD step")
        ax.set_ylabel(titles[key].split(" (")[0])
        ax.legend(fontsize=7)
    s = result["settings"]
    fig.suptitle(f"J20 break-even on digits: {s['model']} (width {s['width']}, depth {s['depth']}), S = {s['batch']}, "
                 f"{s['seeds']} seeds (median, band = min–max)", fontsize=10)
    save_figure(fig, path)
    return fig


# --- J17: the three-factors grid -------------------------------------------------------------------
#: J17's statement (arXiv 1711.04623, abstract and §4): the ratio η/S sets the dynamics and the
#: width of the minimum SGD finds; a larger η/S gives flatter (lower-sharpness) minima.
J17_STATEMENT = ("J17: runs with the same η/S reach minima of the same sharpness (the grid collapses onto η/S), "
                 "and a larger η/S gives a flatter minimum")
#: Bootstrap resamples of the seeds for the collapse intervals.
BOOTSTRAP = 2000


def _diag(lr: float, batch: int) -> float:
    return round(math.log2(lr / batch), 6)


def _collapse_stats(means: dict) -> tuple:
    """(within, across, deviations) of per-config means {(lr, S): m}: the pooled standard deviation
    of the configs around their diagonal's mean (diagonals with ≥ 2 configs) and the standard
    deviation of the diagonal means; ``deviations`` m_c − mean of its diagonal."""
    groups: dict = {}
    for (lr, s), m in means.items():
        groups.setdefault(_diag(lr, s), []).append(((lr, s), m))
    ss, dof, dev, dmeans = 0.0, 0, {}, []
    for d, items in groups.items():
        vals = np.array([m for _, m in items])
        mu = float(vals.mean())
        dmeans.append(mu)
        for c, m in items:
            dev[c] = m - mu if len(items) >= 2 else math.nan     # a diagonal of one config: no deviation
        if len(items) >= 2:
            ss += float(((vals - mu) ** 2).sum())
            dof += len(items) - 1
    within = math.sqrt(ss / dof) if dof else math.nan
    across = float(np.std(dmeans, ddof=1)) if len(dmeans) >= 2 else math.nan
    return within, across, dev


def three_factors_run(*, lrs=(0.025, 0.05, 0.1, 0.2, 0.4), batches=(16, 32, 64, 128), epochs: int = 10,
                      seeds: int = 3, model: str = "mlp", width: int = 64, depth: int = 2, examples: int = 512,
                      seed: int = 0, level: float = 0.95,
                      progress: Optional[Callable[[int, int], None]] = None) -> dict:
    """J17's grid: every (η, S) of ``lrs`` × ``batches`` trained for ``epochs`` epochs (⌊N/S⌋ steps
    each, so runs on one diagonal η/S = const cover the same SDE time η·steps), from ``seeds``
    initializations shared by the whole grid. Per run: final λ_H¹ (Lanczos on the first
    ``examples`` training digits), test accuracy, divergence.

    Collapse onto η/S, for log λ_H¹ and for test accuracy: *within* = the pooled standard deviation
    of the per-config means (over seeds) around their diagonal's mean, *across* = the standard
    deviation of the diagonal means; within ≪ across is a collapse. Intervals: percentile bootstrap
    (``BOOTSTRAP`` resamples of the seeds, the same resampled seeds for every config; draws from
    ``Stream(seed, "three-factors").child("bootstrap").numpy()``; with a handful of seeds the
    percentile bootstrap is optimistic: it sees only the seeds' spread). Where it breaks: each
    config's deviation from its diagonal's mean (None on a diagonal of one config) with its
    bootstrap interval; configs whose interval excludes 0 are listed (``off_diagonal``), and the
    mean |deviation| per η shows whether the collapse degrades as η grows. The trend: least-squares slope of log λ_H¹ on log₂(η/S), with its interval.
    Diverged runs (non-finite loss) are reported and left out of the statistics.

    JSON nulls: a run's ``lambda_h``, ``test_acc``, ``train_acc`` when it diverged (``diverged_at``
    is the step, else None) or, for ``lambda_h``, when λ_H¹ ≤ 0 (no log); the statistics
    (``within``, ``across``, their ratio, the slope, interval ends) when the grid leaves too little
    to compute them (no diagonal with two configurations, one seed for the bootstrap); a config's
    ``deviation`` on a diagonal of one configuration; ``log_sharpness`` / ``test_acc`` themselves when
    fewer than two configurations trained.
    """
    from ..bounds.errors import check_real
    from .training import train

    lrs = tuple(sorted({check_real("lrs", v, lo=0.0, lo_open=True) for v in lrs}))
    data = _digits(model, seed)
    n_train = len(data.y_train)
    batches = tuple(sorted({check_int("batches", b, lo=1, hi=n_train) for b in batches}))
    if len(lrs) * len(batches) < 2:
        raise DomainError("{lrs} and {batches} must give at least two configurations", names=("lrs", "batches"))
    examples = _check_run(model, width, depth, batches[0], lrs[-1], 0, examples, n_train)
    epochs = check_int("epochs", epochs, lo=1)
    total_steps = epochs * sum(n_train // b for b in batches) * len(lrs) * seeds
    if total_steps > MAX_STEPS * 10:
        raise CostLimitError("{epochs} × the grid give " + f"{total_steps:,} SGD steps in all, over the limit of "
                             f"{MAX_STEPS * 10:,} (about 1.5 ms each on the default MLP)", names=("epochs",))
    seeds = check_int("seeds", seeds, lo=1)
    stream = Stream(seed, "three-factors")
    x, y = data.x_train[:examples], data.y_train[:examples]
    runs, done, total = [], 0, len(lrs) * len(batches) * seeds
    for r in range(seeds):
        for lr in lrs:
            for b in batches:
                net = build_model(model, width, depth, generator=stream.child(f"seed={r}/init").generator())
                steps = epochs * (n_train // b)
                res = train(net, data, steps=steps, lr=lr, batch=b, seed=seed * 1000 + r)
                run = {"seed": r, "lr": lr, "batch": b, "lr_over_batch": lr / b, "steps": steps,
                       "diverged_at": res.diverged_at, "lambda_h": None, "test_acc": None, "train_acc": None}
                if res.diverged_at is None:
                    fm = FlatModel(net)
                    top = hessian_top(fm, x, y, 1, stream=stream.child(f"seed={r}/lr={lr!r}/S={b}/lanczos"))
                    run.update(lambda_h=top.values[0], test_acc=res.test_acc[-1], train_acc=res.train_acc[-1])
                    if not (top.values[0] > 0):
                        run["lambda_h"] = None
                runs.append(run)
                done += 1
                if progress:
                    progress(done, total)
    analysis = _three_factors_analysis(runs, lrs, batches, seeds, level, stream.child("bootstrap").numpy())
    return {"settings": {"lrs": list(lrs), "batches": list(batches), "epochs": epochs, "seeds": seeds, "model": model,
                         "width": width, "depth": depth, "examples": examples, "n_train": n_train, "seed": seed,
                         "level": level, "bootstrap": BOOTSTRAP},
            "paper": J17_STATEMENT, "runs": runs, **analysis}


def _three_factors_analysis(runs, lrs, batches, seeds, level, rng) -> dict:
    configs = [(lr, b) for lr in lrs for b in batches]
    ok = [c for c in configs if all(u["lambda_h"] is not None for u in runs if (u["lr"], u["batch"]) == c)]
    table = {c: {u["seed"]: u for u in runs if (u["lr"], u["batch"]) == c} for c in ok}
    lo_q, hi_q = 50 * (1 - level), 50 * (1 + level)
    out = {"diverged_or_negative": [list(c) for c in configs if c not in ok]}
    for name, f in (("log_sharpness", lambda u: math.log(u["lambda_h"])), ("test_acc", lambda u: u["test_acc"])):
        vals = {c: np.array([f(table[c][r]) for r in range(seeds)]) for c in ok}
        if len(ok) < 2:
            out[name] = None
            continue
        w, a, dev = _collapse_stats({c: float(v.mean()) for c, v in vals.items()})
        boots_w, boots_a, boots_dev = [], [], {c: [] for c in ok}
        if seeds >= 2:
            for _ in range(BOOTSTRAP):
                idx = rng.integers(0, seeds, seeds)
                bw, ba, bdev = _collapse_stats({c: float(v[idx].mean()) for c, v in vals.items()})
                boots_w.append(bw)
                boots_a.append(ba)
                for c in ok:
                    boots_dev[c].append(bdev[c])

        def ci(xs):
            xs = np.array([v for v in xs if math.isfinite(v)])
            return [float(np.percentile(xs, lo_q)), float(np.percentile(xs, hi_q))] if xs.size else [None, None]

        ratio = [bw / ba for bw, ba in zip(boots_w, boots_a) if ba > 0 and math.isfinite(bw)]
        devs = []
        for c in ok:
            single = not math.isfinite(dev[c])
            dci = [None, None] if single else ci(boots_dev[c])
            off = dci[0] is not None and (dci[0] > 0 or dci[1] < 0)
            devs.append({"lr": c[0], "batch": c[1], "lr_over_batch": c[0] / c[1], "mean": float(vals[c].mean()),
                         "deviation": None if single else dev[c], "deviation_ci": dci, "off_diagonal": bool(off)})
        xs = np.array([math.log2(c[0] / c[1]) for c in ok])
        ys = np.array([float(vals[c].mean()) for c in ok])
        slope = float(np.polyfit(xs, ys, 1)[0]) if np.ptp(xs) > 0 else None
        bslopes = []
        if seeds >= 2 and slope is not None:
            for _ in range(BOOTSTRAP):
                idx = rng.integers(0, seeds, seeds)
                bslopes.append(float(np.polyfit(xs, np.array([float(vals[c][idx].mean()) for c in ok]), 1)[0]))
        by_lr = {}
        for d in devs:
            if d["deviation"] is not None:
                by_lr.setdefault(d["lr"], []).append(abs(d["deviation"]))
        out[name] = {"within": w if math.isfinite(w) else None, "within_ci": ci(boots_w),
                     "across": a if math.isfinite(a) else None, "across_ci": ci(boots_a),
                     "within_over_across": (w / a) if math.isfinite(w) and math.isfinite(a) and a > 0 else None,
                     "within_over_across_ci": ci(ratio), "slope_per_doubling": slope,
                     "slope_ci": ci(bslopes) if bslopes else [None, None], "configs": devs,
                     "mean_abs_deviation_by_lr": {f"{k:g}": float(np.mean(v)) for k, v in sorted(by_lr.items())},
                     "off_diagonal": [[d["lr"], d["batch"]] for d in devs if d["off_diagonal"]]}
    return out


def plot_three_factors(result: dict, path: str):
    """J17's figure: final λ_H¹ and test accuracy against η/S (log axes), one marker per batch size
    and one colour per η, the mean over seeds with the min–max range; diagonals η/S = const are
    vertical lines of points."""
    from .plots import new_figure, save_figure

    s = result["settings"]
    colors = __import__("matplotlib").rcParams["axes.prop_cycle"].by_key()["color"]
    markers = "osD^vP*X"
    fig, axes = new_figure(2, width=6.0, height=4.8)
    for ax, key, label in ((axes[0], "lambda_h", "final λ_H¹ (sharpness)"), (axes[1], "test_acc", "test accuracy")):
        for i, lr in enumerate(s["lrs"]):
            for j, b in enumerate(s["batches"]):
                vals = [u[key] for u in result["runs"] if u["lr"] == lr and u["batch"] == b]
                xv = lr / b
                if any(v is None for v in vals):
                    ax.plot([xv], [np.nan], marker="x")
                    ax.annotate("div.", (xv, ax.get_ylim()[0]), fontsize=6, color=colors[i % len(colors)])
                    continue
                m = float(np.mean(vals))
                ax.errorbar([xv], [m], yerr=[[m - min(vals)], [max(vals) - m]], color=colors[i % len(colors)],
                            marker=markers[j % len(markers)], ms=5, capsize=2, ls="none",
                            label=(f"η = {lr:g}" if j == 0 else None))
        for j, b in enumerate(s["batches"]):
            ax.plot([], [], color="gray", marker=markers[j % len(markers)], ls="none", label=f"S = {b}")
        ax.set_xscale("log")
        if key == "lambda_h":
            ax.set_yscale("log")
        ax.set_xlabel("η / S")
        ax.set_ylabel(label)
        ax.set_title(f"{label} vs η/S")
        ax.legend(fontsize=7, ncol=2)
    ls = result.get("log_sharpness") or {}
    ratio = ls.get("within_over_across")
    fig.suptitle(f"J17 three factors on digits: {s['model']} (width {s['width']}, depth {s['depth']}), {s['epochs']} "
                 f"epochs, {s['seeds']} seeds (mean, bar = min–max); log-sharpness spread within/across diagonals = "
                 f"{'—' if ratio is None else f'{ratio:.2f}'}", fontsize=9)
    save_figure(fig, path)
    return fig
