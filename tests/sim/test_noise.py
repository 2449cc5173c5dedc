"""SGD noise and curvature measured exactly (J17, J20; docs/theory.md §14): per-example gradients,
the Gram-matrix spectrum, Lanczos and power iteration, Hutchinson, s², the sampled identities."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from initbounds.bounds.errors import CostLimitError
from initbounds.bounds.noise import minibatch_noise, stability_lhs
from initbounds.sim import stats
from initbounds.sim.core import Stream
from initbounds.sim.noise import (CLAIMS, FlatModel, curvature_spread, dense_hessian, gradient_covariance,
                                  hessian_top, hutchinson_trace, measure_noise, per_example_grads,
                                  per_example_grads_loop, power_iteration, quadratic_loss, quadratic_problem,
                                  require_grads_memory, sample_minibatch_noise, sample_quadratic_step)
from initbounds.sim.training import load_dataset, mlp, small_cnn

LEVEL = 1 - 1e-4   # the suite's level for the statistical decisions in this file


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", seed=0)


def _mlp(width=8, seed=0, act="relu"):
    return mlp(64, width, 1, 10, generator=torch.Generator().manual_seed(seed), act=act)


def test_vmap_equals_loop_mlp_and_cnn(digits):
    x, y = digits.x_train[:40], digits.y_train[:40]
    fm = FlatModel(_mlp())
    a = per_example_grads(fm, x, y, chunk=7)        # chunks that do not divide N
    assert torch.allclose(a, per_example_grads_loop(fm, x, y), rtol=0, atol=1e-12 * float(a.abs().max()))
    assert torch.equal(a, per_example_grads(fm, x, y))   # the chunk size does not change the bits' meaning
    cnn = small_cnn(10, channels=3, generator=torch.Generator().manual_seed(1))
    d = load_dataset("digits", seed=0, images=True)
    fc = FlatModel(cnn)
    b = per_example_grads(fc, d.x_train[:12], d.y_train[:12], chunk=5)
    assert torch.allclose(b, per_example_grads_loop(fc, d.x_train[:12], d.y_train[:12]), rtol=0,
                          atol=1e-12 * float(b.abs().max()))
    # the mean of the per-example gradients is the full-batch gradient
    th = fm.theta.clone().requires_grad_(True)
    (full,) = torch.autograd.grad(fm.loss_sum(th, x, y) / len(y), th)
    assert torch.allclose(a.mean(0), full, atol=1e-13)


def test_gram_spectrum_equals_covariance_spectrum(digits):
    fm = FlatModel(_mlp(6))
    g = per_example_grads(fm, digits.x_train[:30], digits.y_train[:30])
    cov = gradient_covariance(g, 30)
    gc = g - g.mean(0)
    ref = torch.linalg.eigvalsh(gc.T @ gc / 30).flip(0)[:30]
    assert np.allclose(cov.top, ref.clamp_min(0).numpy(), rtol=1e-9, atol=1e-12 * cov.top[0])
    assert cov.top[-1] == 0.0                      # rank ≤ N − 1: the centred Gram matrix is singular
    assert cov.trace == pytest.approx(float(((g - g.mean(0)) ** 2).sum(1).mean()), rel=1e-13)
    assert cov.grad_sq == pytest.approx(float(g.mean(0) @ g.mean(0)), rel=1e-13)


def test_gram_lanczos_path_equals_dense(digits):
    fm = FlatModel(_mlp(4, seed=7))
    g = per_example_grads(fm, digits.x_train[:600], digits.y_train[:600])
    a, b = gradient_covariance(g, 4, method="lanczos"), gradient_covariance(g, 4, method="dense")
    assert np.allclose(a.top, b.top, rtol=1e-8) and a.trace == b.trace


def test_lanczos_top_k_is_largest_algebraic_and_power_iteration_is_largest_magnitude(digits):
    fm = FlatModel(_mlp(10, seed=2))
    x, y = digits.x_train[:80], digits.y_train[:80]
    ev = torch.linalg.eigvalsh(dense_hessian(fm, x, y)).numpy()
    top = hessian_top(fm, x, y, 4, stream=Stream(0, "lanczos"))
    assert np.allclose(top.values, ev[::-1][:4], rtol=1e-7)
    big = ev[np.argmax(np.abs(ev))]
    p = power_iteration(fm, x, y, stream=Stream(0, "power"), reference=float(big), rtol=1e-6, max_iter=20000)
    assert p["converged"] and p["value"] == pytest.approx(big, rel=1e-6)
    # e_H¹ is an eigenvector: H e = λ e
    from initbounds.sim.noise import hvp_operator

    mv, _ = hvp_operator(fm, x, y)
    e = top.vector.numpy()
    assert np.allclose(mv(e), top.values[0] * e, atol=1e-6 * abs(top.values[0]))


def test_curvature_spread_matches_dense_per_example_hessians(digits):
    fm = FlatModel(_mlp(4, seed=3, act="linear"))
    x, y = digits.x_train[:15], digits.y_train[:15]
    top = hessian_top(fm, x, y, 1, stream=Stream(0, "l"))
    h, s2 = curvature_spread(fm, x, y, top.vector, chunk=4)
    from torch.func import hessian

    from initbounds.sim.noise import _quiet_forward_ad

    e = top.vector
    with _quiet_forward_ad():
        ref = torch.stack([e @ hessian(lambda th: fm.loss_i(th, x[i], y[i]))(fm.theta) @ e for i in range(15)])
    assert torch.allclose(h, ref, atol=1e-11 * float(ref.abs().max()))
    assert float(h.mean()) == pytest.approx(top.values[0], rel=1e-7)     # (1/N) Σ h_i = eᵀHe = λ_H¹
    assert s2 == pytest.approx(float(ref.var(unbiased=False)), rel=1e-9)


def test_hutchinson_interval_covers_the_exact_trace(digits):
    fm = FlatModel(_mlp(6, seed=4))
    x, y = digits.x_train[:50], digits.y_train[:50]
    exact = float(torch.trace(dense_hessian(fm, x, y)))
    m, lo, hi, vals = hutchinson_trace(fm, x, y, 60, stream=Stream(11, "hutchinson-test"), level=LEVEL)
    assert lo <= exact <= hi and len(vals) == 60


def test_sampled_minibatch_noise_both_schemes(digits):
    fm = FlatModel(_mlp(4, seed=5))
    g = per_example_grads(fm, digits.x_train[:25], digits.y_train[:25])
    tk = gradient_covariance(g).trace
    level = stats.bonferroni(LEVEL, 2)
    for rep in (False, True):
        v = sample_minibatch_noise(g, 5, 6000, replacement=rep, stream=Stream(12, f"mb-{rep}"))
        m, lo, hi = stats.mean_ci(v, level, lo=0.0)
        assert lo <= minibatch_noise(tk, 25, 5, replacement=rep) <= hi


def test_sampled_batch_noise_equals_the_direct_batch_mean():
    g = torch.randn(12, 7, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    for rep in (False, True):
        v = sample_minibatch_noise(g, 4, 50, replacement=rep, stream=Stream(3, "direct"))
        gen = Stream(3, "direct").generator()          # the same indices, redrawn
        idx = (torch.randint(0, 12, (50, 4), generator=gen) if rep else
               torch.rand((50, 12), generator=gen, dtype=torch.float64).argsort(dim=1)[:, :4])
        d = g[idx].mean(dim=1) - g.mean(dim=0)
        assert np.allclose(v, (d * d).sum(dim=1).numpy(), rtol=1e-12, atol=1e-14)


def test_stability_lhs_on_the_quadratic_model():
    model, x, y = quadratic_problem(Stream(13, "quad"), examples=20, dim=4)
    fm = FlatModel(model, loss=quadratic_loss)
    top = hessian_top(fm, x, y, 1, stream=Stream(13, "lz"))
    assert abs(float(top.vector[-1])) == pytest.approx(1.0, abs=1e-8)    # the diagonal model's top direction
    _, s2 = curvature_spread(fm, x, y, top.vector)
    assert top.values[0] == pytest.approx(float(x[:, -1].mean()), rel=1e-10)
    assert s2 == pytest.approx(float(x[:, -1].var(unbiased=False)), rel=1e-10)
    lr = 1.8 / top.values[0]
    v = sample_quadratic_step(model, x, top.vector, lr, 3, 8000, stream=Stream(13, "steps"))
    m, lo, hi = stats.mean_ci(v, LEVEL, lo=0.0)
    assert lo <= stability_lhs(lr, top.values[0], s2, 20, 3) <= hi


def test_measure_noise_is_seeded_and_consistent(digits):
    model = _mlp(8, seed=6)
    x, y = digits.x_train[:60], digits.y_train[:60]
    a = measure_noise(model, x, y, k=2, probes=5, stream=Stream(1, "m"))
    b = measure_noise(model, x, y, k=2, probes=5, stream=Stream(1, "m"), chunk=9)
    assert a["lambda_h"] == pytest.approx(b["lambda_h"], rel=1e-9) and a["trace_h"] == pytest.approx(b["trace_h"])
    assert a["trace_k"] == pytest.approx(b["trace_k"], rel=1e-12)
    assert a["n"] == 60 and a["params"] == sum(p.numel() for p in model.parameters())
    assert a["trace_k"] >= a["lambda_k"][0] >= a["lambda_k"][1] >= 0
    assert a["trace_h_ci"][0] <= a["trace_h"] <= a["trace_h_ci"][1]


def test_gradient_matrix_over_budget_is_refused_before_work():
    with pytest.raises(CostLimitError, match="per-example gradients"):
        require_grads_memory(10**6, 10**4)


def test_claims_are_declared():
    names = [c.name for c in CLAIMS]
    assert names == ["noise_vmap_loop", "noise_lanczos_dense", "noise_gram_spectrum", "noise_hutchinson",
                     "noise_minibatch", "noise_stability_quadratic"]
    assert all(c.kind == "identity" for c in CLAIMS)
