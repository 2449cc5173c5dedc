"""Claims: a value from ``bounds`` paired with a simulation of real networks, and the one verdict
logic per kind.

A claim is declared once, next to the simulation it runs, in its topic module
(``sim/<topic>.py``), with its name, kind, description, source and default number of trials::

    CLAIMS = ClaimSet()

    @CLAIMS.claim("rho_mean", "identity", "E ρ = 1", "derived (docs/theory.md §2)", trials=50000)
    def _rho_mean(ctx: Ctx) -> Evidence:
        ...
        return Evidence(theory=1.0, estimate=m, ci=(lo, hi), holds=lo <= 1.0 <= hi, trials=T)

The run returns only what it measured (:class:`Evidence`); the runner adds the claim's metadata,
the verdict (:func:`verdict`, the only place that maps a kind and a decision to a verdict), the
time and the sampler. :mod:`initbounds.sim.validate` collects every topic's claims.

The kinds (:data:`KINDS`): an ``identity``, a bound of ours (``upper_bound``, ``lower_bound``,
``bounds``), a ``trend`` or a ``measurement`` that fails its decision is a *toolkit failure*
("FAIL"); a ``paper_bound`` (a paper's formula or its authors' code) that fails is a *finding*
about the paper ("violated"); an ``approximation`` we state openly has its gap reported ("gap"); a
``paper_measurement`` (a paper's statement about trained networks, J18) is reported beside our
figure and its interval ("reported"), never judged.

All intervals use a per-claim level corrected by Bonferroni for the claims run together, so a
clean run is not red by chance (total family-wise error ``alpha``, default 1e-3).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Optional

from ..bounds.errors import DomainError, check_choice

from . import stats
from .core import Stream
from .engine import sample_networks, sample_networks_on

__all__ = ["KINDS", "verdict", "Evidence", "Claim", "ClaimSet", "ClaimResult", "Ctx", "run"]

#: What each kind of claim asserts, and what a failed decision means.
KINDS = {
    "identity": "an exact value of ours; the simulated interval (or a KS test) must agree — else a toolkit failure",
    "upper_bound": "a bound of ours on a probability; the simulation must not be significantly above it",
    "lower_bound": "a guarantee of ours; no simulated value may fall below it",
    "bounds": "a two-sided bracket of ours; the simulated interval must meet it",
    "trend": "a monotone trend we derive; the simulated difference must have the stated sign",
    "measurement": "a measurement on real data with a guarantee of ours; the guarantee must hold",
    "paper_bound": "a paper's formula or its authors' code; a violation is a finding about the paper",
    "approximation": "an approximation we state openly; the measured gap is reported, never judged",
    "paper_measurement": "a paper's statement about trained networks; our figure and its interval are reported "
                         "beside it, never judged",
}


def verdict(kind: str, holds: Optional[bool]) -> str:
    """The verdict of a claim of ``kind`` whose statistical decision came out ``holds``.

    "pass"; "FAIL" (a toolkit failure); "violated" (a paper's formula fails: a finding); "gap"
    (an approximation: reported, not judged).

    >>> verdict("identity", False), verdict("paper_bound", False), verdict("approximation", None)
    ('FAIL', 'violated', 'gap')
    """
    check_choice("kind", kind, tuple(KINDS))
    if kind == "approximation":
        return "gap"
    if kind == "paper_measurement":
        return "reported"
    if holds is None or not hasattr(holds, "__bool__"):
        raise DomainError(f"holds must be True or False for a claim of kind {kind!r}; got {holds!r}")
    if bool(holds):
        return "pass"
    return "violated" if kind == "paper_bound" else "FAIL"


@dataclass(frozen=True)
class Evidence:
    """What a claim's run measured: the theory value, the estimate and its interval, the
    decision (``holds``; None for an approximation), a one-line detail, the number of networks
    and, when the run chose it itself, the sampler (``path``)."""

    theory: float
    estimate: float
    ci: tuple
    holds: Optional[bool]
    detail: str = ""
    trials: int = 0
    path: str = ""


@dataclass(frozen=True)
class Claim:
    name: str
    kind: str
    description: str
    source: str
    run: Callable = field(repr=False)   # run(ctx: Ctx) -> Evidence
    default_trials: int = 4000


class ClaimSet(list):
    """A topic's claims, in declaration order; :meth:`claim` declares one (a decorator)."""

    def claim(self, name: str, kind: str, description: str, source: str, *, trials: int = 4000):
        check_choice("kind", kind, tuple(KINDS))

        def register(run: Callable) -> Callable:
            if any(c.name == name for c in self):
                raise DomainError(f"claim {name!r} is declared twice")
            self.append(Claim(name, kind, description, source, run, trials))
            return run
        return register


@dataclass(frozen=True)
class ClaimResult:
    """A claim, what its run measured, and the verdict; the claim's metadata is not restated
    (``name``, ``kind``, ``source`` read through to :attr:`claim`)."""

    claim: Claim
    evidence: Evidence
    verdict: str
    seconds: float
    path: str

    name = property(lambda self: self.claim.name)
    kind = property(lambda self: self.claim.kind)
    source = property(lambda self: self.claim.source)
    theory = property(lambda self: self.evidence.theory)
    estimate = property(lambda self: self.evidence.estimate)
    ci = property(lambda self: self.evidence.ci)
    detail = property(lambda self: self.evidence.detail)
    trials = property(lambda self: self.evidence.trials)

    @property
    def toolkit_failure(self) -> bool:
        return self.verdict == "FAIL"

    def as_dict(self) -> dict:
        return {
            "name": self.name, "kind": self.kind, "theory": self.theory,
            "estimate": self.estimate, "ci": list(self.ci), "verdict": self.verdict,
            "source": self.source, "detail": self.detail, "trials": self.trials,
            "seconds": round(self.seconds, 3), "path": self.path,
        }


@dataclass(frozen=True)
class Ctx:
    """What a claim's simulation gets: trials, its stream (``Stream(run seed, claim name)``), the
    confidence level, a progress callback, the sampler path ("auto" picks the fastest exact one;
    "real" forces real networks) and the torch device.

    Every draw of a claim comes from a child of ``stream`` with its own label (the same label
    gives the same numbers), so a claim's numbers depend on the run seed and its name only."""

    trials: int
    stream: Stream
    level: float
    progress: Optional[Callable]
    path: str = "auto"
    device: str = "cpu"
    paths_used: list = field(default_factory=list)   # the samplers that actually ran
    executor: Optional[object] = None                # a sim.scheduler.Executor: sample() runs as its tasks

    def sample(self, widths, x, trials=None, *, label: str = "networks", **kw):
        """:func:`~initbounds.sim.engine.sample_networks` on ``x`` (n0 = its width; ``widths``
        the layer widths) with the stream ``stream.child(label)``: give each call of a claim its
        own label. With an ``executor`` the networks are sampled as its tasks
        (:func:`~initbounds.sim.engine.sample_networks_on`: the same numbers)."""
        kw = dict(kw, stream=self.stream.child(label), progress=self.progress, device=self.device,
                  path="real" if kw.get("grads") else self.path)
        if self.executor is not None:
            s = sample_networks_on(self.executor, widths, x, trials or self.trials, **kw)
        else:
            s = sample_networks(widths, x.to(self.device), trials or self.trials, **kw)
        self.paths_used.append(s.path)
        return s


def run(registry: dict, names=None, *, trials: int | None = None, seed: int = 0, alpha: float = 1e-3,
        progress=None, path: str = "auto", device: str = "cpu", executor=None) -> list[ClaimResult]:
    """Run claims of ``registry`` (name -> :class:`Claim`; all by default); claim ``name`` draws
    from ``Stream(seed, name)`` (a BLAKE2b hash of the name and the run seed through a
    ``SeedSequence``: independent of the other claims and of which claims run).

    ``trials`` overrides each claim's default number of simulated networks. ``alpha`` is the
    family-wise error level; each claim uses confidence level 1 − alpha/m (Bonferroni).
    ``path="real"`` forces real networks everywhere (default: the fastest exact sampler, which
    the ``sampler_*_vs_real`` claims check against real networks). ``device`` is a torch device.
    ``progress(name, done, total)`` is called as simulations advance. ``executor`` (a
    :class:`~initbounds.sim.scheduler.Executor`) runs the networks of every ``ctx.sample`` as its
    tasks, with the same numbers; claims whose simulation is not a ``ctx.sample`` (training runs,
    region counts, custom samplers) run in this process.
    """
    names = list(registry) if not names else list(names)
    unknown = [n for n in names if n not in registry]
    if unknown:
        raise DomainError(f"unknown claim {unknown[0]!r}; valid claims: {', '.join(registry)}")
    check_choice("path", path, ("auto", "real"))
    level = stats.bonferroni(1.0 - alpha, len(names))
    out = []
    for name in names:
        c = registry[name]
        cb = (lambda done, total, _n=name: progress(_n, done, total)) if progress else None
        ctx = Ctx(trials or c.default_trials, Stream(seed, name), level, cb, path, device, executor=executor)
        t0 = time.perf_counter()
        ev = c.run(ctx)
        used = ev.path or "+".join(dict.fromkeys(ctx.paths_used))
        out.append(ClaimResult(c, ev, verdict(c.kind, ev.holds), time.perf_counter() - t0, used))
    return out
