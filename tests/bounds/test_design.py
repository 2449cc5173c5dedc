"""The design report behind `initbounds check` (bounds/design.py)."""
from __future__ import annotations

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


def test_exact_probabilities_beyond_the_cost_model_refuse_before_the_width_searches():
    """Issue 11: `check --width 64 --depth 100000 --trials 0` searched widths for ~20 s, then refused
    at the exact probabilities; they are now computed first, so it refuses at once."""

    import pytest

    from initbounds.bounds.errors import CostLimitError
    with pytest.raises(CostLimitError) as e:
        design_report(depth=100000, width=64, samples=16, delta=0.05, eps=0.5)
    assert "width 64 and depth 100000" in str(e.value) and "\n" not in str(e.value)


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
