"""J18 measurements (issue 13; docs/theory.md §13): torch.func cosines equal a plain autograd loop,
the closed forms at initialization by Monte Carlo, the Taylor identity, block dropping, sharing,
the experiment runner and its claims."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from scipy import stats as st

from initbounds.bounds.errors import CostLimitError, DomainError
from initbounds.bounds.refine import shared_growth_coefficient, unshared_growth
from initbounds.sim import claims as C
from initbounds.sim.core import Stream
from initbounds.sim.refine import (CLAIMS, RefineConfig, block_metrics, block_metrics_loop, drop_blocks, findings,
                                   run_refine, sample_block_moments, sample_growth_curvature, seed_ci, sharing_norms,
                                   taylor_remainders)
from initbounds.sim.training import load_dataset, residual_cnn, residual_mlp, train
from initbounds.sim.validate import CLAIMS as REGISTRY

ALPHA = 1e-4   # the level of this file's statistical decisions


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", seed=0)


def _gen(k=0):
    return torch.Generator().manual_seed(k)


@pytest.mark.parametrize("kw", [dict(), dict(norm="bn", variant="pre"), dict(norm="ubn", shared=True),
                                dict(variant="pre", alpha=2.0)])
def test_torch_func_cosines_equal_a_plain_autograd_loop(digits, kw):
    """Every per-example number of the vmap/grad/functional_call path equals the loop's (float64;
    the two sum in different orders, so equality is to rounding: 1e-12)."""
    net = residual_mlp(64, 8, 3, 10, generator=_gen(1), **kw)
    train(net, digits, steps=10, lr=0.05, batch=16, seed=0)       # not only at initialization
    x, y = digits.x_test[:12], digits.y_test[:12]
    a, b = block_metrics(net, x, y), block_metrics_loop(net, x, y)
    assert set(a) == set(b)
    for k in a:
        assert a[k].shape == b[k].shape
        assert np.allclose(a[k].astype(float), b[k].astype(float), rtol=0, atol=1e-12), k
    assert a["ok_backprop"].mean() > 0.5
    assert np.all(np.abs(a["cos_backprop"][a["ok_backprop"]]) <= 1 + 1e-12)


def test_torch_func_cosines_on_the_residual_cnn():
    d = load_dataset("digits", seed=0, images=True)
    net = residual_cnn(10, channels=3, blocks=2, generator=_gen(2), norm="bn")
    a, b = block_metrics(net, d.x_test[:6], d.y_test[:6]), block_metrics_loop(net, d.x_test[:6], d.y_test[:6])
    for k in a:
        assert np.allclose(a[k].astype(float), b[k].astype(float), rtol=0, atol=1e-12), k


def test_cosine_definitions_by_hand(digits):
    """cos_i from F_i and a finite-difference directional derivative of the loss along F_i (backprop)
    and of the head's loss at h_i (head_at_h)."""
    net = residual_mlp(64, 6, 2, 10, generator=_gen(3))
    x, y = digits.x_test[:1], digits.y_test[:1]
    m = block_metrics(net, x, y)
    hs, fs = net.states(x)
    ce = torch.nn.functional.cross_entropy
    for i in range(2):
        F = fs[i].detach()
        u = F / F.norm()
        eps = 1e-6
        deltas = [torch.zeros_like(h) for h in hs[:2]]

        def full(t):
            d = [dd.clone() for dd in deltas]
            d[i] = t * u
            with torch.no_grad():
                return float(ce(net(x, deltas=d), y))
        def head(t):
            with torch.no_grad():
                return float(ce(net.head(hs[i].detach() + t * u), y))
        d_full = (full(eps) - full(-eps)) / (2 * eps)
        d_head = (head(eps) - head(-eps)) / (2 * eps)
        xi = hs[i].detach().clone().requires_grad_(True)
        (g_head,) = torch.autograd.grad(ce(net.head(xi), y), xi)
        d = [dd.clone().requires_grad_(True) for dd in deltas]
        (g_full,) = torch.autograd.grad(ce(net(x, deltas=d), y), d[i])
        # directional derivatives agree with the gradients to the O(eps²) error of central differences
        assert d_full == pytest.approx(float((g_full * u).sum()), abs=1e-8)
        assert d_head == pytest.approx(float((g_head * u).sum()), abs=1e-8)
        assert m["cos_backprop"][0, i] == pytest.approx(d_full / float(g_full.norm()), abs=1e-7)
        assert m["cos_head_at_h"][0, i] == pytest.approx(d_head / float(g_head.norm()), abs=1e-7)
        assert m["ratio"][0, i] == pytest.approx(float(F.norm() / hs[i].detach().norm()), rel=1e-14)


def test_alpha2_law_unshared_by_monte_carlo():
    """Written seed 13; 4000 networks, B = 3, n = m = 8, α = 0.9: the normal intervals at ALPHA
    (Bonferroni over 3) hold α², 0 and (1+α²)^B."""
    B, a, T = 3, 0.9, 4000
    s = sample_block_moments(B, 8, 8, a, T, shared=False, stream=Stream(13, "test.refine.alpha2"))
    z = st.norm.ppf(1 - ALPHA / 6)
    for x, want in ((s["ratio"].mean(axis=1), a * a), (s["cross"].mean(axis=1), 0.0),
                    (s["growth"][:, -1], unshared_growth(B, a)[0][-1])):
        assert abs(x.mean() - want) <= z * x.std(ddof=1) / math.sqrt(T)


def test_block_moments_are_reproducible_and_shared_blocks_grow_faster():
    a = sample_block_moments(4, 6, 6, 0.5, 50, shared=True, stream=Stream(1, "t"))
    b = sample_block_moments(4, 6, 6, 0.5, 50, shared=True, stream=Stream(1, "t"))
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["growth"], sample_block_moments(4, 6, 6, 0.5, 50, shared=False,
                                                                stream=Stream(1, "t"))["growth"])


def test_shared_curvature_by_monte_carlo():
    """Written seed 17; 6000 networks, B = 3, n = m = 4: the mean of ½f''(0) is in its normal
    interval at ALPHA (Bonferroni over 2) around B² + B(B−1)/n = 10.5 (shared) and B (unshared);
    B² = 9 alone is outside the shared interval at this sample size (the 1/n term is seen)."""
    T, B, n = 6000, 3, 4
    z = st.norm.ppf(1 - ALPHA / 4)
    sh = sample_growth_curvature(B, n, n, T, shared=True, stream=Stream(17, "test.refine.shared"))
    un = sample_growth_curvature(B, n, n, T, shared=False, stream=Stream(17, "test.refine.unshared"))
    for x, want in ((sh, shared_growth_coefficient(B, n)), (un, float(B))):
        assert abs(x.mean() - want) <= z * x.std(ddof=1) / math.sqrt(T)
    assert abs(sh.mean() - B**2) > z * sh.std(ddof=1) / math.sqrt(T)


def test_curvature_equals_a_finite_difference_of_the_same_networks():
    """½f''(0) per network against (g(2α) − 2g(α) + 1)/(2α²) at α = 1e-4 on the same weights
    (same stream, same draw order): the difference is O(α) plus rounding ~1e-16/α²."""
    for shared in (True, False):
        c = sample_growth_curvature(3, 5, 5, 20, shared=shared, stream=Stream(4, "fd"))
        g1 = sample_block_moments(3, 5, 5, 1e-4, 20, shared=shared, stream=Stream(4, "fd"))["growth"][:, -1]
        g2 = sample_block_moments(3, 5, 5, 2e-4, 20, shared=shared, stream=Stream(4, "fd"))["growth"][:, -1]
        fd = (g2 - 2 * g1 + 1) / (2 * 1e-8)
        assert np.allclose(c, fd, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("kw, start", [(dict(), 0), (dict(norm="bn", variant="pre"), 1)])
def test_taylor_remainder_has_slope_two_and_the_predicted_coefficient(digits, kw, start):
    net = residual_mlp(64, 12, 4, 10, generator=_gen(5), alpha=0.5, **kw)
    train(net, digits, steps=30, lr=0.05, batch=16, seed=1)
    t = taylor_remainders(net, digits.x_test[:32], digits.y_test[:32], [1e-2, 1e-3, 3e-4, 1e-4, 3e-5, 1e-5, 3e-6,
                                                                         1e-6], start=start)
    assert sum(t["smooth"]) >= 3 and t["smooth"][-1]
    assert abs(t["slope"] - 2) < 0.05 and all(abs(v - 2) < 0.1 for v in t["local_slopes"])
    assert abs(t["ratio_at_smallest"] - 1) < 1e-2        # R/α² → c₂ with an O(α) gap
    assert net.alpha == 0.5                              # restored


def test_drop_blocks_and_sharing_norms(digits):
    x, y = digits.x_test[:40], digits.y_test[:40]
    zero = residual_mlp(64, 8, 3, 10, generator=_gen(6), alpha=0.0)
    d = drop_blocks(zero, x, y)
    assert np.all(d["dloss"] == 0) and np.all(d["dcorrect"] == 0)
    assert np.allclose(sharing_norms(zero, x), 1.0)
    net = residual_mlp(64, 8, 3, 10, generator=_gen(6), norm="bn")
    before = {k: v.clone() for k, v in net.state_dict().items()}
    r = sharing_norms(net, x)
    assert r.shape == (40, 4) and np.all(r[:, 0] == 1)
    assert all(torch.equal(v, before[k]) for k, v in net.state_dict().items())
    d = drop_blocks(net, x, y)
    net.eval()
    with torch.no_grad():
        full = torch.nn.functional.cross_entropy(net(x), y, reduction="none")
        skip = torch.nn.functional.cross_entropy(net(x, skip=(1,)), y, reduction="none")
    assert np.allclose(d["dloss"][:, 1], (skip - full).numpy(), rtol=0, atol=1e-14)


def test_seed_ci_is_the_student_t_interval():
    v = [0.3, 0.1, 0.25, 0.2]
    m, lo, hi = seed_ci(v, 0.95)
    want = st.t.interval(0.95, 3, loc=np.mean(v), scale=st.sem(v))
    assert (lo, hi) == pytest.approx(want, rel=1e-12) and m == pytest.approx(np.mean(v))
    assert seed_ci([0.5], 0.95) == (0.5, 0.5, 0.5)


TINY = dict(blocks=3, width=8, steps=12, seeds=2, probe=32, record_every=4)


def test_experiment_is_deterministic_and_its_json_is_strict():
    a, b = run_refine(RefineConfig(**TINY)), run_refine(RefineConfig(**TINY))
    da, db = a.as_dict(), b.as_dict()
    for d in (da, db):
        d.pop("seconds")
        d.pop("train_seconds")
    assert da == db
    text = json.dumps(da, allow_nan=False)
    assert json.loads(text)["steps"] == [0, 4, 8, 12]
    assert np.asarray(a.cos_backprop).shape == (2, 4, 3)
    names = [f["name"] for f in findings(a)]
    assert names == ["cosine_negative", "cosine_later_blocks", "ratio_falls", "drop_early_vs_late",
                     "shared_explodes", "remedy_stops_explosion", "shared_overfits"]
    assert all(f["verdict"] in ("agrees", "contradicts", "undecided", "not measured") for f in findings(a))
    assert set(a.gap) == {"unshared", "shared", "shared + ubn (remedy)"}
    assert a.gap["shared"]["params"] == a.gap["unshared"]["params"]


def test_experiment_refuses_before_work():
    with pytest.raises(CostLimitError, match="floating-point operations"):
        RefineConfig(blocks=32, width=256, steps=100_000, seeds=64)
    with pytest.raises(DomainError, match="blocks"):
        RefineConfig(blocks=0)
    with pytest.raises(DomainError, match="norm"):
        RefineConfig(norm="ln")
    with pytest.raises(DomainError, match="diverged") as e:
        run_refine(RefineConfig(blocks=2, width=8, steps=40, seeds=1, lr=10.0, alpha=10.0, compare=False))
    assert e.value.param == "lr"


def test_claims_are_registered_with_their_kinds():
    names = [c.name for c in CLAIMS]
    assert all(n in REGISTRY for n in names)
    kinds = {c.name: c.kind for c in CLAIMS}
    assert kinds["refine_alpha2_law"] == kinds["refine_shared_growth"] == kinds["refine_taylor_slope"] == "identity"
    assert sum(k == "paper_measurement" for k in kinds.values()) == 7
    assert C.verdict("paper_measurement", None) == "reported"


def test_identity_claims_pass_at_small_size():
    res = {r.name: r for r in C.run({c.name: c for c in CLAIMS}, ["refine_alpha2_law", "refine_shared_growth"],
                                    trials=3000, seed=0)}
    assert [r.verdict for r in res.values()] == ["pass", "pass"]
