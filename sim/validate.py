"""``initbounds validate``: every claim of every topic, and the runner."""
from __future__ import annotations

from .claims import CLAIMS, run_claims

__all__ = ["CLAIMS", "run_claims"]
