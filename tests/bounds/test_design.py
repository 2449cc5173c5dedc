"""The design report behind `initbounds check` (bounds/design.py)."""
from __future__ import annotations

import pytest

from initbounds.bounds.design import design_report


def test_table_and_verdict_read_consistently():
    """Issue 11: a rigorous method's 'no' beside a verdict of 'enough' is explained in the verdict."""
    r = design_report(depth=6, width=2048, samples=16, delta=0.05, eps=0.5)
    misses = [m for m in r["methods"] if not m["meets"] and m["name"] != "authors_formula"]
    assert r["verdict"].startswith("width 2,048 is enough") and misses
    for m in misses:
        assert f"{m['name']} asks {m['min_width']:,}" in r["verdict"]
    assert r.columns[2] == "2,048 ≥ it?"
    short = design_report(depth=6, width=200, samples=16, delta=0.05, eps=0.5)
    assert short["verdict"].startswith("width 200 is NOT enough") and "looser valid bounds" not in short["verdict"]


def test_exact_parts_beyond_their_cost_model_read_as_dash_with_the_reason():
    """Issue 11: `check --width 64 --depth 100000 --trials 0` searched widths for ~20 s, then refused
    the whole report at the exact probabilities. Each exact part beyond its cost model (checked before
    its work) is now None ("—") with the one-line reason; the rest of the report answers."""
    from initbounds.bounds.band import band_probability
    from initbounds.bounds.errors import CostLimitError

    r = design_report(depth=100000, width=64, samples=16, delta=0.05, eps=0.5)
    p = r["probabilities"]
    with pytest.raises(CostLimitError) as e:      # the same refusal, raised by the library itself
        band_probability(64, 100000, 0.5, 1.5, layers="last", rtol=1e-5)
    assert p["p_last"] is None and p["p_last_not_computed"] == str(e.value)
    assert "width 64 and depth 100000" in p["p_last_not_computed"] and "\n" not in p["p_last_not_computed"]
    assert "—: " + str(e.value) in r.lines[0]
    # p_stay answers (transfer-matrix powering): the walk leaves a band of ±0.5 in 10^5 layers
    assert p["p_stay"] is not None and 0.0 <= p["p_stay"] <= p["tolerance"] + 1e-300
    assert r["verdict"].startswith("width 64 is NOT enough")


def test_eps_below_double_resolution_reads_as_dash_not_an_internal_name():
    """Issue 11 (fuzz): `check --eps 1e-300` refused with 'lo must be in (0, 1); got 1.0' (an
    internal name): 1 − 1e-300 rounds to 1. The exact parts read as None with a reason naming eps."""
    r = design_report(depth=6, width=2048, samples=16, delta=0.05, eps=1e-300)
    p = r["probabilities"]
    assert p["p_stay"] is None and p["p_last"] is None and p["p_fail_union"] is None
    assert "eps = 1e-300" in p["p_stay_not_computed"] and "lo " not in p["p_stay_not_computed"]
    assert "eps = 1e-300" in r["verdict"]


def test_log_sigma2_beside_a_null_sigma2_beyond_the_double_range():
    """Issue 11: `check --width 1 --s 1e-300` refused (σ_s² = e^{1.386e300}). σ_s² is now null beside
    its log, −(2/s)·log E Q^{s/2} with E Q^{s/2} → P(alive) = 1/2 at width 1: log σ² = 2 log 2/s."""
    import math

    r = design_report(depth=6, width=1, samples=16, delta=0.05, eps=0.5, s=1e-300)
    fm = r["fractional_moment"]
    assert fm["sigma2"] is None
    assert math.isclose(fm["log_sigma2"], 2.0 * math.log(2.0) / 1e-300, rel_tol=1e-12)
    assert fm["not_computed"] and "s = 1e-300" in fm["not_computed"]
    # where σ_s² is finite, the log is its log (the library's log_sigma2)
    from initbounds.bounds.moments import activation, log_sigma2

    r = design_report(depth=2, width=64, samples=2, delta=0.1, eps=0.5, s=1.0)
    fm = r["fractional_moment"]
    assert math.isclose(fm["log_sigma2"], log_sigma2(activation("relu"), 64, 1.0), rel_tol=1e-13)
    assert math.isclose(fm["sigma2"], math.exp(fm["log_sigma2"]), rel_tol=1e-13)


def test_a_method_that_cannot_answer_reads_as_unknown(monkeypatch):
    """A method whose width search hits its cost limit (min_width None) gives "—" in the table and
    meets=None; for exact_union the exact union bound at this width still decides the verdict."""
    import math

    import initbounds.bounds.design as D
    from initbounds.bounds.band import band_probability
    from initbounds.bounds.width import SOURCES, WidthResult

    real = D.min_widths

    def capped(*a, **k):
        return [WidthResult(r.name, None, SOURCES[r.name], math.nan, ("not computed: cost",))
                if r.name in ("chernoff_product", "exact_union") else r for r in real(*a, **k)]

    monkeypatch.setattr(D, "min_widths", capped)
    r = design_report(depth=3, width=3000, samples=4, delta=0.05, eps=0.3)
    m = {x["name"]: x for x in r["methods"]}
    assert m["chernoff_product"]["min_width"] is None and m["chernoff_product"]["meets"] is None
    p = 4 * band_probability(3000, 3, 0.7, 1.3, rtol=1e-5).p_fail
    assert p <= 0.05 and m["exact_union"]["meets"] is True
    assert r["verdict"].startswith("width 3,000 is enough")
    rows = {row[0]: row for row in r.rows}
    assert rows["chernoff_product"][1:3] == ("—", "—")
    short = design_report(depth=3, width=300, samples=4, delta=0.05, eps=0.3)
    assert short["verdict"].startswith("width 300 is NOT enough") and "exceeds the cost limit" in short["verdict"]
