"""``initbounds validate``: every topic's claims in one registry, and the runner.

The claims are declared in their topic modules (``sim/<topic>.py``, each a
:class:`~initbounds.sim.claims.ClaimSet` named ``CLAIMS``); this module only collects them, in the
order of :data:`TOPICS`.
"""
from __future__ import annotations

from . import certify, claims, death, moments, noise, refine, regions, resnet, sphere, sweep, variance, width, wnorm
from .claims import Claim, ClaimResult

__all__ = ["TOPICS", "CLAIMS", "run_claims"]

#: The topics whose claims ``validate`` runs, in order.
TOPICS = (width, death, moments, variance, resnet, regions, certify, sweep, sphere, wnorm, refine, noise)

#: Every claim by name.
CLAIMS: dict[str, Claim] = {c.name: c for t in TOPICS for c in t.CLAIMS}
if len(CLAIMS) != sum(len(t.CLAIMS) for t in TOPICS):  # pragma: no cover - a declaration error
    raise RuntimeError("two topics declare a claim with the same name")


def run_claims(names=None, **kwargs) -> list[ClaimResult]:
    """Run claims by name (all by default); see :func:`initbounds.sim.claims.run` for the options."""
    return claims.run(CLAIMS, names, **kwargs)
