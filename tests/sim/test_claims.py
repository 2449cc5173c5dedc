"""The claim registry: verdict logic and a fast run of cheap claims."""
from __future__ import annotations

import pytest

from initbounds.bounds.errors import DomainError
from initbounds.sim.claims import CLAIMS, run_claims


def test_registry_has_the_issue_claims():
    for name in ("rho_mean", "rho_var", "rho_cdf_ks", "p_stay", "p_last", "width_authors_formula",
                 "width_chernoff_per_layer", "width_chernoff_product", "width_exact_union",
                 "gradient_independence"):
        assert name in CLAIMS
    assert CLAIMS["width_authors_formula"].kind == "paper_bound"
    assert CLAIMS["width_exact_union"].kind == "upper_bound"


def test_cheap_claims_pass_with_a_written_seed():
    res = run_claims(["rho_mean", "rho_var", "rho_cdf_ks"], trials=4000, seed=11)
    assert [r.verdict for r in res] == ["pass", "pass", "pass"]
    for r in res:
        assert r.ci[0] <= r.ci[1]


@pytest.mark.slow
def test_authors_formula_is_a_finding_not_a_failure():
    """At the validate design the authors' width fails far more often than δ (seed 0)."""
    (r,) = run_claims(["width_authors_formula"], trials=600, seed=0)
    assert r.verdict == "violated"
    assert not r.toolkit_failure


def test_unknown_claim():
    with pytest.raises(DomainError):
        run_claims(["nope"])
