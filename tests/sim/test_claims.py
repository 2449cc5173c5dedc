"""The claims framework (one verdict logic per kind, declarations, results) and the registry."""
from __future__ import annotations

import subprocess
import sys

import pytest

from initbounds.bounds.errors import DomainError
from initbounds.sim import claims as C
from initbounds.sim.validate import CLAIMS, TOPICS, run_claims


def test_registry_has_the_issue_claims():
    for name in ("rho_mean", "rho_var", "rho_cdf_ks", "p_stay", "p_last", "width_authors_formula",
                 "width_chernoff_per_layer", "width_chernoff_product", "width_exact_union",
                 "gradient_law", "gradient_second_moment", "width_gradients_exact_union"):
        assert name in CLAIMS
    assert CLAIMS["width_authors_formula"].kind == "paper_bound"
    assert CLAIMS["width_exact_union"].kind == "upper_bound"


def test_every_topic_declares_its_claims_next_to_its_simulation():
    """Each claim's run function is defined in the topic module that declares it."""
    assert {t.__name__.rsplit(".", 1)[1] for t in TOPICS} == {"width", "death", "moments", "variance", "resnet",
                                                             "regions", "certify", "sweep", "sphere", "wnorm", "refine",
                                                             "noise"}
    for t in TOPICS:
        assert len(t.CLAIMS) > 0
        for c in t.CLAIMS:
            assert c.run.__module__ == t.__name__, c.name
            assert c.kind in C.KINDS and c.source and c.description and c.default_trials >= 1
    assert len(CLAIMS) == sum(len(t.CLAIMS) for t in TOPICS) == 74


@pytest.mark.parametrize("kind, holds, expected", [
    ("identity", True, "pass"), ("identity", False, "FAIL"),
    ("upper_bound", False, "FAIL"), ("lower_bound", False, "FAIL"), ("bounds", False, "FAIL"),
    ("trend", False, "FAIL"), ("measurement", False, "FAIL"),
    ("paper_bound", True, "pass"), ("paper_bound", False, "violated"),
    ("approximation", None, "gap"), ("approximation", True, "gap"),
    ("paper_measurement", None, "reported"), ("paper_measurement", False, "reported"),
])
def test_one_verdict_logic_per_kind(kind, holds, expected):
    assert C.verdict(kind, holds) == expected


def test_verdict_refuses_unknown_kinds_and_undecided_claims():
    with pytest.raises(DomainError, match="kind must be one of"):
        C.verdict("hunch", True)
    with pytest.raises(DomainError, match="holds must be True or False"):
        C.verdict("identity", None)


def test_claim_set_declares_once():
    s = C.ClaimSet()

    @s.claim("a", "identity", "d", "derived", trials=10)
    def run(ctx):
        return C.Evidence(1.0, 1.0, (0.5, 1.5), True)

    assert [c.name for c in s] == ["a"] and s[0].run is run and s[0].default_trials == 10
    with pytest.raises(DomainError, match="declared twice"):
        s.claim("a", "identity", "d", "derived")(run)
    with pytest.raises(DomainError, match="kind must be one of"):
        s.claim("b", "guess", "d", "derived")


def test_result_reads_metadata_from_the_claim_without_restating_it():
    s = C.ClaimSet()
    s.claim("toy", "paper_bound", "a toy", "paper (X)", trials=10)(
        lambda ctx: C.Evidence(0.1, 0.3, (0.2, 0.4), False, "detail", 10, path="real"))
    (r,) = C.run({c.name: c for c in s}, seed=3)
    assert "name" not in C.Evidence.__dataclass_fields__ and "source" not in C.Evidence.__dataclass_fields__
    assert (r.name, r.kind, r.source, r.verdict, r.path) == ("toy", "paper_bound", "paper (X)", "violated", "real")
    assert not r.toolkit_failure
    assert set(r.as_dict()) == {"name", "kind", "theory", "estimate", "ci", "verdict", "source", "detail",
                                "trials", "seconds", "path"}


def test_framework_imports_no_topic_module():
    """sim.claims is the framework: importing it loads no topic module (no cycle)."""
    code = ("import sys, initbounds.sim.claims; "
            "print(sorted(m for m in sys.modules if m.startswith('initbounds.sim.') and m.rsplit('.', 1)[1] in "
            "('width', 'death', 'moments', 'variance', 'resnet', 'regions', 'validate')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


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


def test_each_claim_draws_from_its_own_named_stream():
    """Regression (one network core): the runner seeded claim `name` with seed + sum(map(ord, name)),
    so anagram claims drew the same numbers; now each gets Stream(seed, name), and a claim's numbers
    do not depend on which other claims run."""
    import torch

    from initbounds.sim.core import Stream

    s, seen = C.ClaimSet(), {}

    def run(ctx):
        seen[ctx.stream.name] = ctx.stream
        v = float(torch.randn(1, generator=ctx.stream.child("x").generator(), dtype=torch.float64))
        return C.Evidence(0.0, v, (v, v), True)

    for name in ("listen", "silent"):
        s.claim(name, "identity", "d", "derived", trials=3)(run)
    reg = {c.name: c for c in s}
    both = C.run(reg, seed=5)
    assert seen == {"listen": Stream(5, "listen"), "silent": Stream(5, "silent")}
    assert both[0].estimate != both[1].estimate
    (alone,) = C.run(reg, ["silent"], seed=5)
    assert alone.estimate == both[1].estimate
