"""The design report behind ``initbounds check``: one architecture against every width method."""
from __future__ import annotations

from .band import band_for_eps, band_probability
from .errors import check_int
from .death import liveness_uniform
from .width import min_widths

__all__ = ["design_report"]


def design_report(*, depth: int, width: int, samples: int, delta: float, eps: float,
                  norm: str = "squared", layers: str = "all") -> dict:
    """Minimum widths by every method, whether ``width`` meets each, and the exact probabilities.

    Returns a JSON-ready dict with keys ``inputs``, ``methods`` (name, min_width, meets, source),
    ``probabilities`` (p_stay, p_last, p_fail_union, tolerance), ``verdict`` (one sentence) and
    ``liveness`` (RR20: single-point survival, bounds, sign-flip guarantee).
    Source: AB19 (arXiv 1901.03611); see :mod:`bounds.width` for each method's tag.

    >>> r = design_report(depth=2, width=500, samples=2, delta=0.1, eps=0.5)
    >>> [m["name"] for m in r["methods"]][-1]
    'exact_union'
    """
    n = check_int("width", width, lo=1)
    res = min_widths(depth, samples, delta, eps, norm=norm, layers=layers)
    lo, hi = band_for_eps(eps, norm)
    stay = band_probability(n, depth, lo, hi, layers="all", rtol=1e-5)
    last = band_probability(n, depth, lo, hi, layers="last", rtol=1e-5)
    p_union = min(1.0, samples * stay.p_fail)
    methods = [{"name": r.name, "min_width": int(r.min_width), "meets": n >= r.min_width,
                "source": r.source} for r in res]
    exact = next(m for m in methods if m["name"] == "exact_union")
    if exact["meets"]:
        verdict = (f"width {n:,} is enough: the exact single-input probability with a union bound "
                   f"over {samples} inputs gives failure ≤ {p_union:.3g} ≤ δ = {delta:g}")
    else:
        verdict = (f"width {n:,} is NOT enough by the exact method: it needs {exact['min_width']:,} "
                   f"(union failure bound {p_union:.3g} > δ = {delta:g})")
    authors = next(m for m in methods if m["name"] == "authors_formula")
    if authors["min_width"] < exact["min_width"]:
        verdict += (f"; the authors' formula asks only {authors['min_width']:,}, below the exact "
                    "requirement (it is not a valid bound here)")
    return {
        "inputs": {"depth": depth, "width": n, "samples": samples, "delta": delta, "eps": eps,
                   "norm": norm, "layers": layers},
        "methods": methods,
        "probabilities": {"p_stay": stay.p_in, "p_last": last.p_in, "p_fail_union": p_union,
                          "tolerance": max(stay.tolerance, last.tolerance)},
        "verdict": verdict,
        "liveness": liveness_uniform(n, depth).as_dict(),
    }
