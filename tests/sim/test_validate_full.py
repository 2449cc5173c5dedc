"""`initbounds validate` with its defaults passes its own claims (seed 0) — issue 2's "done"."""
from __future__ import annotations

import pytest

from initbounds.sim.validate import run_claims


@pytest.mark.slow
def test_default_validate_has_no_toolkit_failure_and_finds_the_authors_violation():
    res = {r.name: r for r in run_claims(seed=0)}
    failures = [n for n, r in res.items() if r.toolkit_failure]
    assert failures == []
    assert res["width_authors_formula"].verdict == "violated"
    for name in ("width_chernoff_per_layer", "width_chernoff_product", "width_exact_union"):
        assert res[name].verdict == "pass"
