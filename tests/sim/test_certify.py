"""sim.certify: the certified width on real data (issue 12 §4): its Clopper–Pearson decisions, its
seeding, its budget, its data loading, and a Monte Carlo re-check with fresh networks."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from initbounds.bounds.band import band_for_eps
from initbounds.bounds.certify import spent_level, zero_failure_bound, zero_failure_trials
from initbounds.bounds.errors import CostLimitError, DomainError
from initbounds.sim import certify as C
from initbounds.sim import stats
from initbounds.sim.core import Stream
from initbounds.sim.engine import sample_networks

#: The suite's level for statistical decisions.
ALPHA = 1e-3


@pytest.mark.parametrize("a, T", [(0.05, 1), (0.05, 59), (1e-4, 300), (0.3, 10**5)])
def test_zero_failure_bound_is_the_clopper_pearson_upper_bound_of_sim_stats(a, T):
    assert zero_failure_bound(a, T) == pytest.approx(stats.clopper_pearson_upper(0, T, 1.0 - a), rel=1e-10)


def test_datasets_load_as_shipped():
    shapes = {name: C.load_dataset(name).shape for name in C.DATASETS}
    assert shapes == {"digits": (1797, 64), "iris": (150, 4), "wine": (178, 13), "breast_cancer": (569, 30)}
    with pytest.raises(DomainError, match=r"^dataset must be one of 'digits', 'iris', 'wine', 'breast_cancer'; "
                                          r"got 'mnist'$"):
        C.load_dataset("mnist")


def test_pt_files(tmp_path):
    good, d, b = tmp_path / "x.pt", tmp_path / "d.pt", tmp_path / "b.pt"
    torch.save(torch.arange(1, 7, dtype=torch.int64).reshape(3, 2), good)
    torch.save({"x": torch.ones(2)}, d)
    torch.save(torch.ones(2, 2, dtype=torch.bool), b)
    np.testing.assert_array_equal(C.load_data(good), [[1, 2], [3, 4], [5, 6]])
    with pytest.raises(DomainError, match=r"^data must name a \.pt file holding one tensor; got '.*d\.pt' holding a dict$"):
        C.load_data(d)
    with pytest.raises(DomainError, match=r"non-numeric entries"):
        C.load_data(b)
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(DomainError, match=r"torch\.load\(weights_only=True\) reads as one tensor; got .*cannot read$"):
        C.load_data(tmp_path / "junk.pt")


def test_cost_model_grows_with_width_depth_and_inputs():
    f = C.seconds_per_network
    assert 0 < f([64] * 3, 150, 4) < f([128] * 3, 150, 4) < f([128] * 6, 150, 4) < f([128] * 6, 1797, 64)
    assert f([500] * 3, 1797, 64, "float64") > f([500] * 3, 1797, 64, "float32")


X_SMALL = C.load_dataset("wine")[::6]          # 30 rows of wine: a small real data set


def test_a_seed_gives_the_same_result_whatever_the_blocks(monkeypatch):
    kw = dict(depth=2, delta=0.2, eps=0.5, trials=80, seed=3)
    a = C.certify(X_SMALL, **kw)
    monkeypatch.setattr(C, "_BLOCK_VALUES", 1)     # one chunk per sampler call
    b = C.certify(X_SMALL, **kw)
    assert [(t.width, t.failures) for t in a.tests] == [(t.width, t.failures) for t in b.tests]
    assert a.certified_width == b.certified_width
    c = C.certify(X_SMALL, **{**kw, "seed": 4})
    assert [t.failures for t in c.tests] != [t.failures for t in a.tests]


def test_each_test_is_its_clopper_pearson_decision_at_the_spent_level():
    r = C.certify(X_SMALL, depth=2, delta=0.2, eps=0.5, trials=80, seed=1, spending="halving", confidence=0.9)
    assert r.tests and [t.j for t in r.tests] == list(range(1, len(r.tests) + 1))
    for t in r.tests:
        assert t.alpha_j == spent_level(t.j, 1.0 - 0.9, "halving")
        assert t.cp_upper == stats.clopper_pearson_upper(t.failures, t.trials, 1.0 - t.alpha_j)
        assert t.accepted == (t.cp_upper <= 0.2)
    acc = [t.width for t in r.tests if t.accepted]
    assert r.certified_width == min(acc + [r.union_width + 1])
    assert r.single_width - 1 <= r.certified_width
    d = r.as_dict()
    assert d["ratio_union_to_certified"] == r.union_width / r.certified_width
    assert d["data"] == {"name": "data", "samples": 30, "input_dim": 13, "rank": 13, "preprocessing": "none"}


def test_rescaling_inputs_changes_nothing():
    """Positive homogeneity: each row scaled by its own factor gives the same ratios (up to rounding,
    so compared in float64 on one test's failure count)."""
    kw = dict(depth=2, delta=0.2, eps=0.5, trials=80, seed=5, precision="float64")
    scale = np.linspace(0.01, 100.0, X_SMALL.shape[0])[:, None]
    a, b = C.certify(X_SMALL, **kw), C.certify(X_SMALL * scale, **kw)
    assert [t.failures for t in a.tests] == [t.failures for t in b.tests]


def test_trials_below_the_zero_failure_minimum_are_refused():
    t1 = zero_failure_trials(spent_level(1, 0.05), 0.2)
    with pytest.raises(DomainError) as e:
        C.certify(X_SMALL, depth=2, delta=0.2, eps=0.5, trials=t1 - 1)
    assert e.value.param == "trials" and str(e.value) == (
        f"trials must be ≥ {t1} here: with fewer networks even 0 failures cannot certify δ = 0.2 at the first "
        f"test's level α_1 = {spent_level(1, 0.05):.3g}; got {t1 - 1}")


def test_budget_refuses_before_work_and_stops_the_search_deterministically():
    with pytest.raises(CostLimitError) as e:
        C.certify(C.load_dataset("digits"), depth=3, delta=0.05, eps=0.5, budget_seconds=1.0)
    assert e.value.param == "budget_seconds"
    assert str(e.value).startswith("the first test (495 networks of width 240 on 1,797 inputs) takes about ")
    one = C.certify(X_SMALL, depth=2, delta=0.2, eps=0.5, trials=80, seed=2)
    first = one.tests[0].model_seconds
    r = C.certify(X_SMALL, depth=2, delta=0.2, eps=0.5, trials=80, seed=2, budget_seconds=first * 1.01)
    assert len(r.tests) == 1 and r.estimate["stopped_by_budget"]
    assert r.tests[0].failures == one.tests[0].failures
    assert any("stopped the search" in n for n in r.notes)


def test_parallel_inputs_need_no_simulation():
    """One input, or inputs that are positive multiples of one vector: the one-input law, exactly."""
    for X in ([[1.0, 2.0, 3.0]], [[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [0.5, 1.0, 1.5]]):
        r = C.certify(X, depth=3, delta=0.1, eps=0.5)
        assert r.tests == () and r.certified_by == "exact" and r.certified_width == r.single_width
    r = C.certify([[1.0, 2.0, 3.0], [-1.0, -2.0, -3.0]], depth=3, delta=0.1, eps=0.5, trials=200)
    assert r.tests != ()                 # opposite directions are different inputs


def test_monotonicity_check_counts_inversions():
    t = lambda n, k: C.CertifyTest(1, n, "doubling", 0.01, k, 100, 0.5, False, 0.0, 0.0)  # noqa: E731
    m = C._monotonicity([t(10, 50), t(20, 60), t(40, 1)], 0.95)
    assert m["pairs"] == 3 and m["inversions"] == 1 and m["significant"] == []
    m = C._monotonicity([t(10, 5), t(20, 60)], 0.95)
    assert m["significant"] == [[10, 20]]


def test_certified_width_fails_at_most_delta_on_fresh_real_networks():
    """Monte Carlo, seeds 21 (certify) and 22 (fresh): certify 30 wine rows at confidence
    1 − ALPHA/2, then 1,500 fresh *real* networks at the certified width; the one-sided
    Clopper–Pearson lower bound of their failure frequency (level 1 − ALPHA/2) must not exceed δ.
    Wrong with probability ≤ ALPHA when the toolkit is right."""
    delta, eps, L = 0.2, 0.5, 2
    r = C.certify(X_SMALL, depth=L, delta=delta, eps=eps, confidence=1 - ALPHA / 2, trials=200, seed=21)
    s = sample_networks([r.certified_width] * L, torch.tensor(X_SMALL), 1500, fan="out", stream=Stream(22, "fresh"),
                        path="real")
    lo, hi = band_for_eps(eps, "squared")
    k = int((~((s.sq_ratio >= lo) & (s.sq_ratio <= hi)).all(axis=(1, 2))).sum())
    assert stats.clopper_pearson_lower(k, 1500, 1 - ALPHA / 2) <= delta
    # and the data set is not trivial: the single-input width fails it (it is a strict lower bound here)
    assert r.single_width < r.certified_width < r.union_width


def test_claims_pass_with_a_written_seed():
    from initbounds.sim.validate import run_claims

    (res,) = run_claims(["certify_gram_vs_real"], trials=1000, seed=13)
    assert res.verdict == "pass"
