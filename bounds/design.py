"""The design report behind ``initbounds check``: one architecture against every width method,
its exact probabilities, liveness, the fractional-moment init and the length variance."""
from __future__ import annotations

import math

from .band import LAYERS, NORMS, band_for_eps, band_probability
from .death import liveness_uniform
from .errors import COUNT, OPEN_UNIT, CostLimitError, DomainError, constrain
from .moments import S_ORDER, activation, log_moment_q, log_norm_params, p_small_output
from .report import Report, fmt_p, fmt_pm, fmt_v
from .variance import length_law, length_moments, p_length_off_by
from .width import min_widths

__all__ = ["design_report"]


def _attempt(f, *args, **kwargs):
    """(f(...), None), or (None, the one-line reason) where f refuses by its cost model or range
    (issue 11: one part beyond its limit no longer refuses the whole report)."""
    try:
        return f(*args, **kwargs), None
    except (CostLimitError, DomainError) as e:
        return None, str(e)


def _log_sigma2(act, width: int, s: float) -> float | None:
    """log σ_s² = −(2/s) log E Q^{s/2} (:func:`bounds.moments.log_sigma2`'s formula), finite in
    doubles also where σ_s² itself is not (e.g. 1.386e300 at width 1, s = 1e-300); None beyond."""
    import mpmath as mp

    with mp.workdps(30):
        v = -2 * mp.mpf(log_moment_q(act, width, s)) / mp.mpf(s)
    return float(v) if abs(v) < 1e308 else None


@constrain(depth=COUNT, width=COUNT, samples=COUNT, delta=OPEN_UNIT, eps=OPEN_UNIT, s=S_ORDER, norm=NORMS,
           layers=LAYERS)
def design_report(*, depth: int, width: int, samples: int, delta: float, eps: float, s: float = 1.0,
                  norm: str = "squared", layers: str = "all") -> Report:
    """Minimum widths by every method, whether ``width`` meets each, and the exact probabilities;
    RR20's liveness, GH21's fractional-moment init of order ``s`` and HR18's length variance for
    ``depth`` ReLU layers of this ``width`` (He init, Gaussian weights, zero bias).

    ``as_dict()`` has keys ``inputs``, ``methods`` (name, min_width, meets, source; min_width is
    None where that method's cost limit stops its search, and meets is then None, except for
    exact_union, where the exact union bound at this width decides),
    ``probabilities`` (p_stay, p_last, p_fail_union, tolerance), ``verdict`` (one sentence),
    ``liveness`` (:meth:`bounds.death.Liveness.as_dict`), ``fractional_moment`` (σ_s², He's 2/n,
    the log-norm law at depth, P(‖h_L‖ < 1% of ‖x‖) under both) and ``length_variance`` (β, FM1,
    FM2, the bracket, P(M_L/M_0 off by more than 2×), P(dead)): every exact part of
    ``initbounds check``. A part beyond its cost model or range is None with the one-line reason
    in a ``…_not_computed`` key beside it (``probabilities.p_stay_not_computed``,
    ``p_last_not_computed``, ``fractional_moment.not_computed``,
    ``length_variance.p_off_by_2_not_computed``; each None when its part was computed). ``objects["law"]`` is the exact law of M_L/M_0 (for a density plot).
    Source: AB19 (arXiv 1901.03611), RR20, GH21, HR18; see :mod:`bounds.width` for each method's tag.

    >>> r = design_report(depth=2, width=500, samples=2, delta=0.1, eps=0.5)
    >>> [m["name"] for m in r["methods"]][-1]
    'exact_union'
    """
    n = width
    lo, hi = band_for_eps(eps, norm)
    # the exact probabilities at this width: each part beyond its cost model (checked before its
    # work) or its range reads as None with the reason, and the rest of the report still answers
    if lo >= 1.0 or hi <= 1.0:
        why = (f"eps = {eps:g} rounds the band to the point 1 in doubles (the exact probabilities "
               "need eps ≥ 1.2e-16)")
        last = stay = None
        why_last = why_stay = why
    else:
        last, why_last = _attempt(band_probability, n, depth, lo, hi, layers="last", rtol=1e-5)
        stay, why_stay = _attempt(band_probability, n, depth, lo, hi, layers="all", rtol=1e-5)
    res = min_widths(depth, samples, delta, eps, norm=norm, layers=layers)
    exact_res = next(r for r in res if r.name == "exact_union")
    if stay is not None:
        p_union = min(1.0, samples * stay.p_fail)
        exact_meets = samples * stay.p_fail <= delta
    else:
        p_union = None
        exact_meets = None if exact_res.min_width is None else n >= exact_res.min_width

    def meets(r):
        if r.min_width is not None:
            return n >= r.min_width
        # a method that could not answer (its cost limit): the exact union bound at this width
        # still decides for exact_union; the others are unknown (None, "—" in the table)
        return exact_meets if r.name == "exact_union" else None

    methods = [{"name": r.name, "min_width": None if r.min_width is None else int(r.min_width),
                "meets": meets(r), "source": r.source} for r in res]
    exact = next(m for m in methods if m["name"] == "exact_union")
    rigorous = [m for m in methods if m["name"] in ("chernoff_per_layer", "chernoff_product")]
    if exact["meets"] is None:
        ok = [m["name"] for m in rigorous if m["meets"]]
        verdict = (f"width {n:,} is enough by {', '.join(ok)} (a valid upper bound on the failure probability); "
                   if ok else f"width {n:,} is undecided: no valid bound answers within the cost limit; ")
        verdict += f"the exact method cannot answer here ({why_stay or exact_res.notes[-1]})"
    elif exact["meets"]:
        by = (f"the exact single-input probability with a union bound over {samples} inputs gives failure "
              f"≤ {p_union:.3g} ≤ δ = {delta:g}" if p_union is not None else
              f"the exact method's minimum width is {exact['min_width']:,} (the exact probability at "
              f"{n:,} itself is beyond the cost limit)")
        verdict = f"width {n:,} is enough: {by}"
        looser = [m for m in methods if m["meets"] is False and m["name"] != "authors_formula"]
        if looser:   # a rigorous bound the width misses: looser than exact, not a failure (issue 11)
            verdict += ("; " + ", ".join(f"{m['name']} asks {m['min_width']:,}" for m in looser) +
                        " (looser valid bounds: missing them does not mean failure)")
    else:
        needs = (f"{exact['min_width']:,}" if exact["min_width"] is not None
                 else "more (its width search exceeds the cost limit)")
        verdict = f"width {n:,} is NOT enough by the exact method: it needs {needs}"
        if p_union is not None:
            verdict += f" (union failure bound {p_union:.3g} > δ = {delta:g})"
    authors = next(m for m in methods if m["name"] == "authors_formula")
    if exact["min_width"] is not None and authors["min_width"] < exact["min_width"]:
        verdict += (f"; the authors' formula asks only {authors['min_width']:,}, below the exact "
                    "requirement (it is not a valid bound here)")
    relu = activation("relu")
    log_s2 = _log_sigma2(relu, n, s)
    s2 = math.exp(log_s2) if log_s2 is not None and -745.0 < log_s2 < 709.78 else None
    so, why_so = _attempt(p_small_output, relu, n, s, depth, 0.01)
    ln, why_ln = _attempt(log_norm_params, relu, n, s, depth)
    ws = [n] * depth
    lm = length_moments(ws)
    law, why_law = _attempt(length_law, ws)
    off, why_off = (_attempt(p_length_off_by, ws, 2.0, law=law) if law is not None else (None, why_law))
    data = {
        "inputs": {"depth": depth, "width": n, "samples": samples, "delta": delta, "eps": eps,
                   "norm": norm, "layers": layers},
        "methods": methods,
        "probabilities": {"p_stay": None if stay is None else stay.p_in,
                          "p_last": None if last is None else last.p_in, "p_fail_union": p_union,
                          "tolerance": max([r.tolerance for r in (stay, last) if r is not None], default=None),
                          "p_stay_not_computed": why_stay, "p_last_not_computed": why_last},
        "verdict": verdict,
        "liveness": liveness_uniform(n, depth).as_dict(),
        "fractional_moment": {
            "s": s, "sigma2": s2, "log_sigma2": log_s2, "he_sigma2": 2.0 / n,
            "log_norm_mean": None if ln is None else ln.mean_at_depth,
            "log_norm_sd": None if ln is None else math.sqrt(ln.var_at_depth),
            "p_output_below_1pct": None if so is None else so.p_exact if so.p_exact is not None else so.p_clt,
            "p_output_below_1pct_he": None if so is None else so.p_exact_he if so.p_exact_he is not None
            else so.p_clt_he,
            "method": None if so is None else "exact" if so.p_exact is not None else "CLT",
            "not_computed": why_ln or why_so,
        },
        "length_variance": {
            "beta": lm.beta, "fm1": lm.fm1, "fm2_var_ratio": lm.var_ratio, "var_bracket": list(lm.var_bracket),
            "p_off_by_2": None if off is None else off["p"],
            "p_off_by_2_tolerance": None if off is None else off["tolerance"],
            "p_off_by_2_method": None if off is None else off["method"],
            "p_off_by_2_not_computed": why_off,
            "p_dead": None if law is None else law.p_dead,
        },
    }
    p, lv, fm, lv2 = data["probabilities"], data["liveness"], data["fractional_moment"], data["length_variance"]
    dash = "—"

    def fp(v):
        return dash if v is None else fmt_p(v)

    exact_line = (f"Exact, one input at width {n:,}: p_stay = {fp(p['p_stay'])}, p_last = {fp(p['p_last'])}; "
                  f"union bound for {samples} inputs: P(some input leaves the band) ≤ {fp(p['p_fail_union'])}")
    for key, why in (("p_stay", why_stay), ("p_last", why_last)):
        if why is not None and (key == "p_stay" or why != why_stay):
            exact_line += f" ({dash}: {why})"
    if fm["not_computed"] is None:
        fm_tail = (f"log(‖h_L‖/‖x‖) ≈ {fm['log_norm_mean']:.4f} ± {fm['log_norm_sd']:.4f}; P(‖h_L‖ < 1% of ‖x‖) = "
                   f"{fm['p_output_below_1pct']:.3g} under σ_s vs {fm['p_output_below_1pct_he']:.3g} under He "
                   f"({fm['method']})")
    else:
        fm_tail = f"law at depth {dash}: {fm['not_computed']}"
    s2_text = (f"{fm['sigma2']:.6g}" if fm["sigma2"] is not None else
               f"{fmt_v(None)}, log σ_s² = {fm['log_sigma2']:.6g}" if fm["log_sigma2"] is not None else
               "beyond the double range, also in log")
    off_text = (f"{fmt_pm(lv2['p_off_by_2'], lv2['p_off_by_2_tolerance'])} ({lv2['p_off_by_2_method']})"
                if lv2["p_off_by_2"] is not None else f"{dash} ({lv2['p_off_by_2_not_computed']})")
    lines = (
        exact_line,
        f"Verdict: {verdict}",
        f"Liveness (RR20): P(a given input dead at init) = {lv['p_dead_point']:.3g} "
        f"(10^{lv['log10_p_dead_point']:.1f}); expected live fraction {lv['expected_live_fraction']:.6g}; "
        f"sign flipping guarantees ≥ 2^-{depth} = {lv['sign_flip_guarantee']:.3g}",
        f"Fractional-moment init (GH21, s = {s:g}): σ_s² = {s2_text} (He 2/n = {fm['he_sigma2']:.6g}); {fm_tail}",
        f"Length variance (HR18): β = L/n = {lv2['beta']:.4g}; FM1: mean length {lv2['fm1']} (He); FM2: "
        f"Var M_L/M_0² = {fmt_v(lv2['fm2_var_ratio'])} (bracket {fmt_v(lv2['var_bracket'][0])} … "
        f"{fmt_v(lv2['var_bracket'][1])}); P(last-layer length off by > 2×) = {off_text}",
    )
    return Report(
        title="Minimum width by method",
        rows=tuple((m["name"], "—" if m["min_width"] is None else f"{m['min_width']:,}",
                    {True: "yes", False: "no", None: "—"}[m["meets"]], m["source"]) for m in methods),
        columns=("method", "min width", f"{n:,} ≥ it?", "source"), data=data, lines=lines,
        heading=(f"ReLU MLP, {depth} layers of width {n:,}, He init, {samples} inputs, δ = {delta:g}, "
                 f"ε = {eps:g} ({norm} norm, {layers} layers)"),
        assumptions=("Gaussian weights", "zero bias", "He initialization", "every layer of the same width"),
        objects={"law": law})
