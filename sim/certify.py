r"""A certified width for a real data set (docs/theory.md §10): sampling, search and claims.

:func:`certify` finds the smallest width n at which a bias-free He-Gaussian ReLU net (every layer
of width n, Var W = 2/fan-out) keeps every data point's ‖h_l(x)‖²/‖x‖² in the ε-band with
probability ≥ 1 − δ, certified with confidence 1 − α:

* the law of the network on N fixed inputs depends on them only through their Gram matrix, and
  the exact Gram sampler (:func:`sim.engine.sample_networks`, ``path="gram"``) draws from it at a
  cost independent of n0 (docs/theory.md §9);
* at each width tested, T fresh networks give k failures (some data point out of the band at
  some layer, or at the last layer); the width is accepted when the one-sided Clopper–Pearson
  bound at the spent level α_j (:func:`bounds.certify.spent_level`) is ≤ δ;
* the widths tested: doubling from the exact one-input width (below it no data set passes), then
  bisection; the rigorous union width passes without a test (:func:`bounds.certify.search_width`).

With probability ≥ 1 − α every accepted width has failure probability ≤ δ (the spending rule
makes this hold for the adaptive sequence of tests). That the certified width is the *smallest*
such width assumes the failure probability is non-increasing in n; the tested points are checked
for violations (reported, never hidden).

Cost: per network and layer of width n, the Gram sampler draws n·r normal numbers (r = min(n_prev,
N), n_prev = n0 for the first layer) and multiplies them into the N columns: about 2·n·r·N flops,
plus a QR factorization (about 2·n·N² flops) when n > N. For digits (N = 1797, n0 = 64) that is
~N² per unit of width per layer: :func:`seconds_per_network` is the stated cost model, and a
search is refused before it starts when its first test does not fit the budget.

Precision: float32 by default (the gram path in float32 is what ``check`` and the width claims of
``validate`` run; the claim ``certify_gram_vs_real`` compares it with float64 real networks on
real data), float64 on request.
"""
from __future__ import annotations

import contextlib
import functools
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch

from ..bounds.band import band_for_eps
from ..bounds.certify import (BUDGET_SECONDS, PRECISIONS, certify_inputs, check_data, data_path, load_array, max_tests,
                              search_scenarios, search_width, spent_level, width_bracket, zero_failure_trials)
from ..bounds.errors import CostLimitError, DomainError, Options

from . import stats
from .claims import ClaimSet, Evidence
from .core import Stream
from .engine import chunk_blocks, count_band_failures, plan_chunks, sample_networks

__all__ = ["DATASETS", "PRECISIONS", "load_dataset", "load_data", "seconds_per_network", "certify",
           "CertifyReport", "CertifyTest", "CLAIMS", "TRIALS_FACTOR", "BUDGET_SECONDS"]

#: scikit-learn's bundled data sets (shipped inside the package: no download).
DATASETS = ("digits", "iris", "wine", "breast_cancer")
#: Default networks per tested width: this many times the fewest that can accept at the last
#: possible test (:func:`bounds.certify.zero_failure_trials`). With 3× the minimum, a width is
#: accepted when its failure frequency is about a third to a half of δ or less.
TRIALS_FACTOR = 3

# The cost model (seconds per network, gram path), measured on the 2-core reference machine while
# other jobs held its cores (digits and iris, widths 64..2500, depths 2..10): effective flop rates
# of 20-68 GFLOP/s (float32) and 10-37 (float64) for the products and QRs, about 1.5e-8 s (float32)
# per element of each layer's n × N activations (relu, squares, copies), and a fixed cost per layer
# per network. The model is 1-2× the measured time on a quiet machine. It does not know the load: the
# README's digits example (depth 2, widths 106-621, 243 networks each) took 444 s of wall time for
# 230 s of model time while five other jobs shared the two cores (load average 6-7). The budget is
# spent in model seconds (so the result does not depend on the load), not in wall seconds.
_FLOP_RATE = {"float32": 2.0e10, "float64": 1.0e10}
_SEC_PER_ELEMENT = {"float32": 1.5e-8, "float64": 3.0e-8}
_SEC_PER_LAYER = 5e-5
_SEC_PER_TEST = 0.05
#: Most float64 values of (networks × layers × inputs) one task of a test returns (a cap on its block of chunks).
_BLOCK_VALUES = 2 ** 24


def seconds_per_network(widths, samples: int, input_dim: int, precision: str = "float32") -> float:
    """The cost model's seconds for one network of the Gram sampler on N = ``samples`` inputs of
    dimension n0 = ``input_dim`` (``widths`` n_1..n_L; see the module docstring).

    >>> round(seconds_per_network([500] * 3, 1797, 64), 3)
    0.137
    """
    flops, elements, r = 0.0, 0.0, min(input_dim, samples)
    for i, n in enumerate(widths):
        flops += 2.0 * n * r * samples
        elements += 3.0 * n * samples
        if n > samples and i + 1 < len(widths):                 # QR of the n × N activations
            flops += 2.0 * n * samples ** 2 - 2.0 * samples ** 3 / 3.0
        r = min(n, samples)
    return flops / _FLOP_RATE[precision] + elements * _SEC_PER_ELEMENT[precision] / 3.0 + _SEC_PER_LAYER * len(widths)


def load_dataset(name: str) -> np.ndarray:
    """One of scikit-learn's bundled data sets as an N × n0 float64 array (features only, as
    shipped: no scaling). digits 1797 × 64 (8×8 grey levels 0..16), iris 150 × 4, wine 178 × 13,
    breast_cancer 569 × 30.

    >>> load_dataset("iris").shape
    (150, 4)
    """
    name = Options(DATASETS).validate("dataset", name)
    try:
        import sklearn.datasets as skd
    except ImportError:     # pragma: no cover - scikit-learn is a dependency
        raise DomainError("{dataset} needs scikit-learn (pip install scikit-learn)", param="dataset") from None
    return check_data(getattr(skd, f"load_{name}")().data, source=f"the {name} data set")


def load_data(path) -> np.ndarray:
    """An N × n0 data set from a .npy, .csv or .pt file (.pt: ``torch.load(weights_only=True)``,
    one tensor), checked by :func:`bounds.certify.check_data`. Errors name ``data``."""
    p = data_path(path)
    if p.suffix.lower() != ".pt":
        return load_array(path)
    src = repr(str(path))
    if p.stat().st_size == 0:
        raise DomainError.must("data", "be an N × n0 array of finite real numbers with no zero row (rows are inputs)",
                               f"{src}, an empty file")
    try:
        obj = torch.load(p, map_location="cpu", weights_only=True)
    except Exception:         # torch raises many kinds (pickle, zip, runtime) for a file it cannot read
        raise DomainError.must("data", "name a .pt file that torch.load(weights_only=True) reads as one tensor",
                               f"{src}, which it cannot read") from None
    if not isinstance(obj, torch.Tensor):
        raise DomainError.must("data", "name a .pt file holding one tensor", f"{src} holding a {type(obj).__name__}")
    if obj.is_complex() or obj.dtype == torch.bool:
        return check_data(np.array([], dtype=object), source=src)
    return check_data(obj.detach().cpu().to(torch.float64).numpy() if obj.is_floating_point() or obj.numel() == 0
                      else obj.detach().cpu().numpy(), source=src)


@dataclass(frozen=True)
class CertifyTest:
    """One tested width: test index j, width, phase, the spent level α_j, failures k of T
    networks, the one-sided Clopper–Pearson upper bound at level 1 − α_j, the decision, and the
    seconds it took (measured) and was budgeted (cost model)."""

    j: int
    width: int
    phase: str
    alpha_j: float
    failures: int
    trials: int
    cp_upper: float
    accepted: bool
    seconds: float
    model_seconds: float

    def as_dict(self) -> dict:
        return {"j": self.j, "width": self.width, "phase": self.phase, "alpha_j": self.alpha_j,
                "failures": self.failures, "trials": self.trials, "frequency": self.failures / self.trials,
                "cp_upper": self.cp_upper, "accepted": self.accepted, "seconds": round(self.seconds, 3),
                "model_seconds": round(self.model_seconds, 3)}


@dataclass(frozen=True)
class CertifyReport:
    """What :func:`certify` found (``as_dict()``/``to_dict()``: what ``initbounds certify --json`` prints).

    ``certified_width``: the smallest accepted width, or the union width when no test accepted
    (``certified_by`` says "test" or "union bound"; "exact" when every input points in one
    direction: then it is the exact one-input width); ``failures``/``trials``/``cp_upper``/
    ``alpha_j`` at it (None without an accepting test); ``tests`` every tested width in order; ``union_width``,
    ``product_width`` (None: not computable) and ``single_width`` the exact widths for comparison;
    ``ratio`` union/certified; ``monotonicity`` the inversions among the tested widths.
    """

    name: str
    samples: int
    input_dim: int
    rank: int
    inputs: dict
    certified_width: int
    certified_by: str
    confidence: float
    failures: Optional[int]
    trials: int
    cp_upper: Optional[float]
    alpha_j: Optional[float]
    largest_rejected: Optional[int]
    single_width: int
    union_width: int
    product_width: Optional[int]
    tests: tuple
    monotonicity: dict
    estimate: dict
    seconds: float
    notes: tuple = field(default_factory=tuple)

    @property
    def ratio(self) -> float:
        return self.union_width / self.certified_width

    def as_dict(self) -> dict:
        return {
            "inputs": self.inputs,
            "data": {"name": self.name, "samples": self.samples, "input_dim": self.input_dim, "rank": self.rank,
                     "preprocessing": "none"},
            "certified_width": self.certified_width, "certified_by": self.certified_by,
            "confidence": self.confidence, "failures": self.failures, "trials": self.trials,
            "cp_upper": self.cp_upper, "alpha_j": self.alpha_j, "largest_rejected": self.largest_rejected,
            "single_width": self.single_width, "union_width": self.union_width, "product_width": self.product_width,
            "ratio_union_to_certified": self.ratio,
            "ratio_product_to_certified": None if self.product_width is None else self.product_width / self.certified_width,
            "tests": [t.as_dict() for t in self.tests], "monotonicity": self.monotonicity,
            "estimate": self.estimate, "seconds": round(self.seconds, 3), "notes": list(self.notes),
        }

    to_dict = as_dict


def _as_array(data, name: str) -> np.ndarray:
    if isinstance(data, torch.Tensor):
        if data.is_complex() or data.dtype == torch.bool:
            return check_data(np.array([["x"]]), source=name)
        data = data.detach().cpu().numpy()
    if isinstance(data, (str, Path)):
        return load_data(data)
    return check_data(data, source=name)


def _monotonicity(tests, level: float) -> dict:
    """Inversions among the tested widths: pairs n_a < n_b whose failure frequency is higher at
    n_b; *significant* when the two-sided Clopper–Pearson intervals at ``level`` are disjoint."""
    ts = sorted(tests, key=lambda t: t.width)
    raw, sig = 0, []
    ci = {t.width: stats.clopper_pearson(t.failures, t.trials, level) for t in ts}
    for i, a in enumerate(ts):
        for b in ts[i + 1:]:
            if b.failures / b.trials > a.failures / a.trials:
                raw += 1
                if ci[b.width][0] > ci[a.width][1]:
                    sig.append([a.width, b.width])
    return {"pairs": len(ts) * (len(ts) - 1) // 2, "inversions": raw, "significant": sig, "level": level}


def certify(data, *, depth, delta, eps, confidence=0.95, norm="squared", layers="all", trials=None,
            budget_seconds=BUDGET_SECONDS, spending="basel", seed=0, precision="float32", device="cpu",
            name: str = "data", progress: Optional[Callable] = None, executor=None) -> CertifyReport:
    r"""The smallest width certified to keep every data point in the ε-band with probability ≥ 1 − δ.

    Arguments: ``data`` an N × n0 array (numpy, torch, nested lists) or the path of a .npy, .csv
    or .pt file — rows are inputs, no preprocessing; ``depth`` L ≥ 1 layers of equal width;
    ``delta`` δ and ``eps`` ε in (0, 1), the band |‖h_l‖²/‖x‖² − 1| ≤ ε (``norm="squared"``) or
    |‖h_l‖/‖x‖ − 1| ≤ ε (``"plain"``) at every layer (``layers="all"``) or the last one;
    ``confidence`` 1 − α; ``trials`` T networks per tested width (default
    :data:`TRIALS_FACTOR` × the fewest that can accept at the last possible test);
    ``budget_seconds`` the cost model's seconds for the whole search (refused before any
    sampling when its first test does not fit; the search stops early, keeping what it has
    certified, when the next test would not fit — decided by the model, so the result does not
    depend on the machine's load); ``spending`` the rule α_j (:func:`bounds.certify.spent_level`);
    ``seed`` the run seed: test j draws from ``Stream(seed, "certify").child("test<j>")``, so a
    seed gives the same result whatever the chunking and memory budget; ``precision`` float32
    or float64; ``progress(j, width, done, total)`` is called as networks are simulated;
    ``executor`` (:func:`sim.scheduler.connect`) runs each test's networks as its tasks, blocks of
    whole chunks named ``certify/test<j>/<first>-<last>`` (the counts, hence the result, are the
    same on every executor and in any task order).

    Estimator: at each tested width, the frequency k/T of networks in which some data point leaves
    the band; the decision is the one-sided Clopper–Pearson upper bound at level 1 − α_j against δ.
    With probability ≥ 1 − α (over the simulation), every accepted width, in particular the
    certified one, has P(some data point leaves the band) ≤ δ. Returns a :class:`CertifyReport`.
    Raises DomainError (naming ``data``, or the parameter) on bad input, CostLimitError when the
    first test does not fit ``budget_seconds``. Assumptions: Gaussian weights, zero bias,
    He fan-out scaling (Var W = 2/n), every layer of the same width; monotone failure probability
    in n for "smallest".

    >>> r = certify(np.eye(3) + 0.5, depth=1, delta=0.2, eps=0.6, trials=60)
    >>> r.single_width <= r.certified_width <= r.union_width
    True
    """
    t0 = time.perf_counter()
    d = certify_inputs(depth=depth, delta=delta, eps=eps, confidence=confidence, norm=norm, layers=layers,
                       trials=trials, budget_seconds=budget_seconds, spending=spending, seed=seed, precision=precision)
    depth, delta, eps, confidence, norm, layers = (d[k] for k in ("depth", "delta", "eps", "confidence", "norm", "layers"))
    trials, budget_seconds, spending, seed, precision = (d[k] for k in ("trials", "budget_seconds", "spending", "seed",
                                                                        "precision"))
    X = _as_array(data, name if isinstance(data, (np.ndarray, list, tuple, torch.Tensor)) else "the data")
    N, n0 = X.shape
    L = depth
    alpha = 1.0 - confidence
    bracket = width_bracket(L, N, delta, eps, norm=norm, layers=layers)
    n_lo = max(1, bracket.single - bracket.single_uncertainty)
    n_hi = bracket.union + bracket.union_uncertainty
    u = X / np.linalg.norm(X, axis=1, keepdims=True)
    parallel = bool(np.all(np.abs(u - u[0]) <= 1e-12))      # one input, or positive multiples of one vector
    if parallel:
        n_lo = n_hi = bracket.single
    J = max(1, max_tests(n_lo, n_hi))
    t_first = zero_failure_trials(spent_level(1, alpha, spending), delta)
    t_last = zero_failure_trials(spent_level(J, alpha, spending), delta)
    T = TRIALS_FACTOR * t_last if trials is None else trials
    if T < t_first:
        raise DomainError(f"{{trials}} must be ≥ {t_first} here: with fewer networks even 0 failures cannot certify "
                          f"δ = {delta:g} at the first test's level α_1 = {spent_level(1, alpha, spending):.3g}; "
                          f"got {T}", param="trials")
    cost: dict = {}

    def model(n):
        if n not in cost:
            cost[n] = _SEC_PER_TEST + T * seconds_per_network([n] * L, N, n0, precision)
        return cost[n]

    scen = search_scenarios(n_lo, n_hi) if n_hi > n_lo else ()
    worst = max((sum(model(w) for w in d) + b * model(m) for d, b, m in scen), default=0.0)
    first = model(n_lo) if n_hi > n_lo else 0.0
    if first > budget_seconds:
        fit = max(0, int((budget_seconds - _SEC_PER_TEST) / (first - _SEC_PER_TEST) * T)) if first > _SEC_PER_TEST else T
        raise CostLimitError(
            f"the first test ({T:,} networks of width {n_lo:,} on {N:,} inputs) takes about {first:,.0f} s by the "
            f"cost model (the whole search at most {worst:,.0f} s), more than {{budget_seconds}} = {budget_seconds:g} s; "
            f"raise {{budget_seconds}} or lower {{trials}} (≥ {t_first}; {fit:,} fit)",
            param="budget_seconds", names=("budget_seconds", "trials"))
    lo_b, hi_b = band_for_eps(eps, norm)
    dtype = torch.float32 if precision == "float32" else torch.float64
    x = torch.as_tensor(X, dtype=dtype)
    root = Stream(seed, "certify")
    tests: list = []
    spent = [0.0]

    def test(j, n):
        m = model(n)
        if spent[0] + m > budget_seconds:
            return None
        spent[0] += m
        a_j = spent_level(j, alpha, spending)
        cb = None if progress is None else (lambda done, total: progress(j, n, done, total))
        k, ts = _failures(executor, x, n, L, T, lo_b, hi_b, layers, root.child(f"test{j}"), dtype, device,
                          precision, cb)
        u = stats.clopper_pearson_upper(k, T, 1.0 - a_j)
        tests.append(CertifyTest(j, n, "", a_j, k, T, u, u <= delta, ts, m))
        return u <= delta

    width, steps = search_width(test, n_lo, n_hi) if n_hi > n_lo else (n_hi, ())
    tests = [CertifyTest(t.j, t.width, s.phase, t.alpha_j, t.failures, t.trials, t.cp_upper, t.accepted, t.seconds,
                         t.model_seconds) for t, s in zip(tests, steps)]
    at = [t for t in tests if t.accepted and t.width == width]
    rejected = [t.width for t in tests if not t.accepted and t.width < width]
    stopped = any(s.accepted is None for s in steps)
    notes = list(bracket.notes)
    if stopped:
        notes.append(f"the budget of {budget_seconds:g} s (cost model) stopped the search after {len(tests)} tests; "
                     f"the certified width is the smallest accepted so far (a larger budget may find a smaller one)")
    if parallel:
        notes.append("every input points in one direction (positive multiples of one vector): the failure "
                     "probability is the one-input one, and the certified width is the exact one-input width "
                     f"(± {bracket.single_uncertainty} numerically)")
    elif not at:
        notes.append(f"no tested width was accepted: the certified width is the union bound's (rigorous, no test): "
                     f"{bracket.union:,} plus its numerical uncertainty ({bracket.union_uncertainty}), so that the "
                     f"width is certain to satisfy the bound")
    if T < t_last:
        notes.append(f"with {T:,} networks per width, tests after the first few cannot accept "
                     f"(the last possible test needs ≥ {t_last:,})")
    mono = _monotonicity(tests, confidence)
    if mono["significant"]:
        notes.append(f"the failure frequency rises significantly with the width at {mono['significant']}: the "
                     "monotonicity the search assumes is violated there")
    inputs = {"name": name, "depth": L, "delta": delta, "eps": eps, "confidence": confidence, "norm": norm,
              "layers": layers, "trials": T, "budget_seconds": budget_seconds, "spending": spending, "seed": seed,
              "precision": precision}
    estimate = {"first_test_seconds": first, "worst_case_seconds": worst, "model_seconds_spent": spent[0],
                "stopped_by_budget": stopped, "max_tests": J if n_hi > n_lo else 0,
                "min_trials_first_test": t_first, "min_trials_last_test": t_last,
                "seconds_per_network_at_certified": seconds_per_network([width] * L, N, n0, precision)}
    c = at[0] if at else None
    return CertifyReport(
        name, N, n0, int(np.linalg.matrix_rank(X)), inputs, width,
        "exact" if parallel else "test" if c else "union bound", confidence,
        c.failures if c else None, T, c.cp_upper if c else None, c.alpha_j if c else None,
        max(rejected) if rejected else (n_lo - 1 if n_lo > 1 and tests else None),
        bracket.single, bracket.union, bracket.product, tuple(tests), mono, estimate, time.perf_counter() - t0,
        tuple(notes))


def _failures(executor, x, n, L, T, lo, hi, layers, stream, dtype, device, precision, progress) -> tuple:
    """(k, seconds): networks among T (Gram sampler, width n, depth L, fan-out He) in which some
    input leaves [lo, hi] at some layer (``layers="all"``) or at the last, counted as tasks of
    ``executor`` (in this process when None): blocks of whole chunks of about
    :data:`sim.scheduler.TASK_SECONDS` each by the cost model. Integer counts of chunks that each
    draw from their own generator, so the total is the same whatever runs them, in any order."""
    from .scheduler import TASK_SECONDS, Task, connect

    t0 = time.perf_counter()
    N = x.shape[0]
    xc = x.detach().cpu()
    _, chunk, n_chunks = plan_chunks([n] * L, xc, T, fan="out", stream=stream, dtype=dtype, path="gram")
    blocks = chunk_blocks(n_chunks, chunk, seconds_per_network([n] * L, N, x.shape[1], precision), TASK_SECONDS,
                          max_chunks=_BLOCK_VALUES // max(1, chunk * L * N))
    kw = dict(layers=layers, fan="out", stream=stream, dtype=dtype, device=device, path="gram")
    tasks = [Task(f"{stream.name}/{b[0]}-{b[-1]}", functools.partial(count_band_failures, block=b, **kw),
                  ([n] * L, xc, T, lo, hi)) for b in blocks]
    done = [0]

    def on_result(_, r):
        done[0] += r[1]
        if progress:
            progress(done[0], T)

    with contextlib.nullcontext(executor) if executor is not None else connect() as ex:
        results = ex.map(tasks, on_result=on_result)
    return sum(r[0] for r in results.values()), time.perf_counter() - t0

# --- claims ---------------------------------------------------------------------------------------------
CLAIMS = ClaimSet()

#: The real-data designs of the claims: a digits subset (n0 = 64 > N = 24, so the input factor is a
#: QR; widths above and below N exercise both branches of the sampler) and iris for the certificate.
GRAM_DESIGN = {"rows": tuple(range(0, 1797, 75)), "widths": (32, 16, 40), "compared": 6}
FRESH_DESIGN = {"dataset": "iris", "depth": 2, "delta": 0.2, "eps": 0.5, "trials": 400}


@CLAIMS.claim("certify_gram_vs_real", "identity", "Gram sampler = real networks on real data (KS, norms and cosines)",
              "derived (docs/theory.md §9, §10)", trials=3000)
def _gram_vs_real(ctx):
    import scipy.stats as st

    d = GRAM_DESIGN
    X = load_dataset("digits")[list(d["rows"])]
    widths = list(d["widths"])
    g = sample_networks(widths, torch.tensor(X, dtype=torch.float32), ctx.trials, fan="out",
                        stream=ctx.stream.child("gram"), dtype=torch.float32, device=ctx.device, path="gram",
                        last_gram=True, progress=ctx.progress)
    r = sample_networks(widths, torch.tensor(X, dtype=torch.float64), ctx.trials, fan="out",
                        stream=ctx.stream.child("real"), device=ctx.device, path="real", last_gram=True)
    N, m = X.shape[0], d["compared"]
    tests = [st.ks_2samp(g.sq_ratio[:, -1, i], r.sq_ratio[:, -1, i]) for i in range(N)]
    for i in range(m):
        for j in range(i + 1, m):
            ca = g.last_gram[:, i, j] / np.sqrt(g.last_gram[:, i, i] * g.last_gram[:, j, j])
            cb = r.last_gram[:, i, j] / np.sqrt(r.last_gram[:, i, i] * r.last_gram[:, j, j])
            tests.append(st.ks_2samp(np.nan_to_num(ca), np.nan_to_num(cb)))
    per = stats.bonferroni(ctx.level, len(tests))
    pmin = min(t.pvalue for t in tests)
    dmax = max(t.statistic for t in tests)
    crit = stats.ks_critical(max(1, ctx.trials // 2), per)
    return Evidence(0.0, dmax, (0.0, crit), pmin >= 1.0 - per,
                    f"two-sample KS, Gram sampler (float32) vs real networks (float64) on {N} digits rows, widths "
                    f"{[X.shape[1], *widths]}: {N} final norms and {m * (m - 1) // 2} pairwise cosines (a dead "
                    f"input's cosine counted as 0); smallest p-value {pmin:.3g}", ctx.trials, path="gram+real")


@CLAIMS.claim("certify_fresh_failure", "upper_bound",
              "P(some data point leaves the band) at the certified width ≤ δ (fresh real networks)",
              "derived (docs/theory.md §10)", trials=2000)
def _fresh(ctx):
    d = FRESH_DESIGN
    X = load_dataset(d["dataset"])
    half = (1.0 - ctx.level) / 2.0           # half the error to the certificate, half to the re-check
    rep = certify(X, depth=d["depth"], delta=d["delta"], eps=d["eps"], confidence=1.0 - half, trials=d["trials"],
                  seed=ctx.stream.seed_of(0) % 2**62, name=d["dataset"])
    n = rep.certified_width
    s = sample_networks([n] * d["depth"], torch.tensor(X, dtype=torch.float64), ctx.trials, fan="out",
                        stream=ctx.stream.child("fresh"), device=ctx.device, path="real", progress=ctx.progress)
    lo, hi = band_for_eps(d["eps"], "squared")
    r = s.sq_ratio
    fail = ~((r >= lo) & (r <= hi)).all(axis=(1, 2))
    k, T = int(fail.sum()), len(fail)
    a = stats.clopper_pearson_lower(k, T, 1.0 - half)
    return Evidence(d["delta"], k / T, (a, stats.clopper_pearson_upper(k, T, 1.0 - half)), a <= d["delta"],
                    f"{d['dataset']} (N = {X.shape[0]}), depth {d['depth']}, ε = {d['eps']}: certified width {n} "
                    f"({rep.certified_by}; union width {rep.union_width}) at confidence 1 − {half:.2g}; fresh real "
                    f"networks: {k} of {T} fail", T, path="gram+real")
