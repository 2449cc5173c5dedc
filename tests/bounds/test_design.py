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
