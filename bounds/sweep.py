r"""A phase diagram over widths × depths: each width method's failure bound, the exact one-input
failure probability and each method's minimum-width curve (docs/theory.md §16).

For a grid cell (width n, depth L) with N inputs and the band |‖h_l‖²/‖x‖² − 1| ≤ ε (or the plain
norm's), the derived side of a sweep is:

* the bounds of :func:`bounds.width.log_failure_bound` on P(some of N inputs leaves the band):
  ``chernoff_per_layer``, ``chernoff_product``, ``exact_union`` (each ≤ 1 after clipping);
* AB19's plotted curve read as a failure level: their width formula
  n = (4/ε_L)·ln(4NL/δ) with ε_L = (1 + ε)^{1/L} − 1 [authors' code] solved for δ,
  δ_AB19(n) = 4NL·exp(−n·ε_L/4) — a curve, not a proven bound;
* the exact probability p(n, L) that one input leaves the band (:func:`bounds.band.band_probability`):
  for N = 1 the exact failure probability, for N > 1 a lower bound on it (one input failing
  is enough);
* for each depth, every method's minimum width at δ (:func:`bounds.width.min_widths`), the
  curves a heatmap of the simulated failure probability is compared with.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import mpmath as mp

from .band import LAYERS, NORMS, band_for_eps, band_probability
from .errors import (COUNT, NONNEGATIVE_INT, OPEN_UNIT, CostLimitError, IntegerGrid, IntegerList, Integral, Interval,
                     OrNone, Real, constrain)
from .width import METHODS, authors_layer_eps, checked_band, log_failure_bound, min_widths

__all__ = ["BOUND_METHODS", "CellBounds", "authors_delta", "cell_bounds", "min_width_curves", "sweep_inputs", "GRID",
           "BUDGET_SECONDS"]

#: A sweep axis: 16:4096:x2, 2:64:+2 or a comma list (at most 64 points).
GRID = IntegerGrid(COUNT, max_points=64)
#: Default ceiling on a sweep's simulation seconds by the cost model (refused before any work).
BUDGET_SECONDS = 3600.0


@constrain(widths=GRID, depths=GRID, samples=OrNone(COUNT), correlation=Interval(Real, 0, 1, closed="left"),
           input_dim=Interval(Integral, 1, 10**6, closed="both"), delta=OPEN_UNIT, eps=OPEN_UNIT,
           trials=Interval(Integral, 1, 10**9, closed="both"), seed=NONNEGATIVE_INT, norm=NORMS, layers=LAYERS,
           confidence=OPEN_UNIT, budget_seconds=Interval(Real, 0, None, closed="neither"))
def sweep_inputs(*, widths, depths, delta, eps, trials, samples=None, correlation=0.0, input_dim=64, norm="squared",
                 layers="all", seed=0, confidence=0.95, budget_seconds=BUDGET_SECONDS) -> dict:
    """The design of :func:`initbounds.sim.sweep.sweep`, checked (one declaration of its
    constraints, shared with ``initbounds sweep``), as a dict.

    >>> sweep_inputs(widths="16:64:x2", depths=[2], delta=0.05, eps=0.3, trials=100)["widths"]
    (16, 32, 64)
    """
    checked_band(eps, norm)          # a band that rounds to 1 in doubles is refused here, naming eps
    return {"widths": widths, "depths": depths, "delta": delta, "eps": eps, "trials": trials, "samples": samples,
            "correlation": correlation, "input_dim": input_dim, "norm": norm, "layers": layers, "seed": seed,
            "confidence": confidence, "budget_seconds": budget_seconds}


#: The methods whose failure bound at a given width a sweep records (the authors' formula is a
#: curve, recorded as :func:`authors_delta`).
BOUND_METHODS = METHODS[1:]


@constrain(width=COUNT, depth=COUNT, samples=COUNT, eps=OPEN_UNIT)
def authors_delta(width, depth, samples, eps) -> float:
    r"""AB19's width formula solved for δ at width n: min(1, 4NL·exp(−n·ε_L/4)),
    ε_L = (1 + ε)^{1/L} − 1 (the inverse of ``min_width("authors_formula", ...)``, up to its
    ceiling). [authors' code, solved here]

    >>> round(authors_delta(1699, 10, 100, 0.3), 4)   # min_width("authors_formula", 10, 100, 0.05, 0.3) = 1699
    0.0499
    """
    with mp.workdps(30):
        ep = authors_layer_eps(depth, eps)
        logd = mp.log(4) + mp.log(samples) + mp.log(depth) - width * ep / 4
        return float(mp.exp(min(logd, 0)))


@dataclass(frozen=True)
class CellBounds:
    """The derived side of one cell (width, depth): ``bounds`` maps each of :data:`BOUND_METHODS`
    to its bound on the failure probability (clipped to 1; None where the method's cost model
    refuses, the reason in ``notes``); ``authors`` is :func:`authors_delta`; ``exact_single`` the
    exact probability that one input leaves the band (None if refused)."""

    width: int
    depth: int
    bounds: dict
    authors: float
    exact_single: float | None
    notes: tuple = field(default_factory=tuple)


@constrain(width=COUNT, depth=COUNT, samples=COUNT, eps=OPEN_UNIT, norm=NORMS, layers=LAYERS)
def cell_bounds(width, depth, samples, eps, *, norm="squared", layers="all") -> CellBounds:
    """Every derived failure probability of one sweep cell (see the module docstring).

    >>> c = cell_bounds(64, 4, 1, 0.5)
    >>> c.exact_single <= c.bounds["exact_union"] <= 1.0
    True
    """
    out, notes = {}, []
    for m in BOUND_METHODS:
        try:
            out[m] = min(1.0, math.exp(log_failure_bound(m, width, depth, samples, eps, norm=norm, layers=layers)))
        except CostLimitError as e:
            out[m] = None
            notes.append(f"{m}: {e}")
    lo, hi = band_for_eps(eps, norm)
    try:
        single = band_probability(width, depth, lo, hi, layers=layers).p_fail
    except CostLimitError as e:
        single = None
        notes.append(f"exact_single: {e}")
    return CellBounds(width, depth, out, authors_delta(width, depth, samples, eps), single, tuple(notes))


@constrain(depths=IntegerList(COUNT, what="depth"), samples=COUNT, delta=OPEN_UNIT, eps=OPEN_UNIT, norm=NORMS,
           layers=LAYERS)
def min_width_curves(depths, samples, delta, eps, *, norm="squared", layers="all") -> dict:
    """{method: [minimum width at each depth (None where the method cannot answer)]} for the
    four methods of :func:`bounds.width.min_widths`, over ``depths`` (a sequence of L ≥ 1)."""
    curves = {m: [] for m in METHODS}
    for L in depths:
        for r in min_widths(L, samples, delta, eps, norm=norm, layers=layers):
            curves[r.name].append(r.min_width)
    return curves
