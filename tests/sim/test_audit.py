"""The model audit (issue 15) on realistic models: each report is checked against its own spot-check.

Every spot-check here is a statistical decision at the suite's α = 1e-4 (Bonferroni over the quantities
of one audit, intervals from sim.stats.mean_ci), with a written seed; ``networks`` re-initializations
per audit (standard errors ∝ 1/√networks; 150 resolve E M_d/M_0 to about ±10% at these widths).
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from torch import nn

from initbounds.bounds.errors import DomainError
from initbounds.bounds.resnet import residual_moments
from initbounds.bounds.variance import min_width_for_variance
from initbounds.sim.audit import audit, build_model, load_factory

MODELS = Path(__file__).resolve().parents[1] / "cli" / "models_for_audit.py"
ALPHA = 1e-4
NETWORKS = 150


def _run(name: str, shape, *, seed: int, networks: int = NETWORKS, **kw):
    factory = load_factory(f"{MODELS}:{name}")
    torch.manual_seed(seed)
    model = build_model(factory)
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return audit(model, x, factory=factory, networks=networks, seed=seed, alpha=ALPHA, **kw)


def _exact_checks_agree(rep):
    exact = [c for c in rep.checks if c.exactness == "exact"]
    assert exact, "no exact prediction was checked"
    bad = [(c.quantity, c.predicted, c.lo, c.hi) for c in exact if not c.agrees]
    assert bad == []


def test_default_mlp_is_not_he_and_the_vanishing_is_quantified():
    """nn.Sequential with default init: uniform weights, c = 1/3 (torch_default), FM1 rate log(1/6) per layer."""
    rep = _run("default_mlp", (16, 32), seed=1)
    hidden = [L for L in rep.layers if L.role == "hidden"]
    assert len(hidden) == 3 and rep.layers[-1].role == "head"
    for L in rep.layers:
        assert (L.law, L.rule, L.c_used) == ("uniform", "torch_default", 1 / 3)
        assert L.c_ci[0] <= 1 / 3 <= L.c_ci[1]
        assert L.bias_law == "uniform" and math.isclose(L.bias_var * L.fan_in, 1 / 3)
    assert rep.predictions["fm1"] == "vanishing"
    assert math.isclose(rep.fm1_rate, math.log(1 / 6), rel_tol=1e-12)
    assert rep.predictions["mean_ratio"] < 0.02            # (1/6)³ plus the biases' share
    assert all(rep.predictions["per_layer"][L.name]["c_he"] == 2.0 for L in hidden)
    # the linear head: E M = c·E M_d + s² (exact for the mean), so nothing is left measured only
    head = rep.predictions["head"]
    assert head["layer"] == "6" and head["mean_ratio"] == pytest.approx(
        rep.predictions["mean_ratio"] / 3 + 1 / (3 * 64) / rep.predictions["input_m0"], rel=1e-12)
    assert rep.measured_only == []
    _exact_checks_agree(rep)
    (he,) = [r for r in rep.recommendations if r["action"] == "he_init"]
    assert he["layers"] == [L.name for L in hidden] and "-1.79/layer → 0" in he["text"]
    mean, lo, hi = he["after_measured"]          # re-measured on the model after applying the fix
    assert lo <= 1.0 <= hi


def test_kaiming_mlp_preserves_and_needs_no_fix():
    rep = _run("kaiming_mlp", (16, 32), seed=2)
    assert all(L.law == "gaussian" and L.rule == "he_fan_in" for L in rep.layers)
    assert rep.fm1_rate == 0.0 and rep.predictions["fm1"] == "preserved"
    assert rep.predictions["mean_ratio"] == 1.0
    _exact_checks_agree(rep)
    assert not [r for r in rep.recommendations if r["action"] == "he_init"]


def test_narrow_deep_mlp_variance_and_width_recommendation():
    rep = _run("narrow_mlp", (16, 16), seed=3)
    assert len(rep.segment) == 6
    assert rep.predictions["width_for_var_le_1"] == min_width_for_variance(6, 1.0) > 30
    assert rep.predictions["var_ratio"] > 1.0      # (1 + 5/30)^6 − 1 ≈ 1.52 at He, zero bias
    _exact_checks_agree(rep)
    (w,) = [r for r in rep.recommendations if r["action"] == "width"]
    # re-measured: the chain rebuilt at the recommended width; Var M_d/M_0² = (1 + 5/W)^6 − 1 ≤ 1 in its interval
    assert w["after_predicted"] == pytest.approx((1 + 5 / w["width"]) ** 6 - 1, rel=1e-12) and w["after_predicted"] <= 1
    mean, lo, hi = w["after_measured"]
    assert lo <= w["after_predicted"] <= hi and w["verdict"] == "agrees" and w["chains"] >= NETWORKS
    # the log-norm spread (lognormal with the exact moments) is compared with the measured sd of log(M_d/M_0)
    (spread,) = [c for c in rep.checks if c.quantity.startswith("sd log(M_d/M_0)")]
    sm = rep.predictions["second_moment"]      # E (M_d/M_0)², exact; E M_d/M_0 = 1 here
    assert spread.predicted == pytest.approx(math.sqrt(math.log(sm))) and spread.exactness.startswith("lognormal")
    assert spread.agrees


def test_residual_default_init_branches_with_biases_are_predicted_exactly():
    """Default-init branches: c₁ = c₂ = 1/3, branch biases of variance 1/(3·32), η_eff = √(c₁c₂/2) = √(1/18).
    With the biases the blocks are affine in E M (bounds.resnet.residual_bias_moments), so the audit predicts
    M_B/M_in through the default-init stem: exact for the mean (any symmetric law), an approximation for the
    second moment (uniform weights); both must agree with the spot-check."""
    from initbounds.bounds.resnet import residual_bias_moments

    rep = _run("residual_mlp", (16, 16), seed=4)
    res = rep.predictions["residual"]
    assert res["blocks"] == 4 and math.isclose(res["eta_eff"], math.sqrt(1 / 18), rel_tol=1e-9)
    assert res["biases"] and math.isclose(res["bias_var1"] * 32, 1 / 3) and math.isclose(res["bias_var2"] * 32, 1 / 3)
    m_in = rep.predictions["input_m0"]
    m0 = m_in / 3 + 1 / (3 * 16)                      # the default-init stem: E M_0 = c M_in + s²
    assert res["m0"] == pytest.approx(m0 / m_in, rel=1e-12)
    want = residual_bias_moments(4, 32, 32, 1.0, c1=1 / 3, c2=1 / 3, bias_var1=1 / 96, bias_var2=1 / 96, m0=m0)
    assert res["mean_ratio"] == pytest.approx(want.mean / m_in, rel=1e-12)
    assert res["growth"] > residual_moments(4, 32, 32, res["eta_eff"]).mean_ratio     # the biases' share
    mean_chk, second_chk = [c for c in rep.checks if "residual" in c.quantity]
    assert mean_chk.exactness == "exact" and mean_chk.agrees
    assert second_chk.exactness.startswith("approximation") and second_chk.agrees
    assert rep.segment == []


def test_residual_he_branches_agree_exactly():
    """η = 0.5, W₁ He, W₂ LeCun, no biases: bounds.resnet's exact setting; the spot-check must agree."""
    rep = _run("residual_he", (16, 32), seed=5)
    res = rep.predictions["residual"]
    assert res["eta"] == 0.5 and math.isclose(res["eta_eff"], 0.5, rel_tol=1e-9)
    want = residual_moments(4, 32, 24, 0.5)
    assert res["mean_ratio"] == pytest.approx(want.mean_ratio, rel=1e-12)
    assert res["second_moment"] == pytest.approx(want.second_moment_ratio, rel=1e-12)
    assert len([c for c in rep.checks if "residual" in c.quantity and c.exactness == "exact"]) == 2
    _exact_checks_agree(rep)
    # the branch-scale recommendation is applied (block b's last layer × 1/b) and re-measured
    (br,) = [r for r in rep.recommendations if r["action"] == "branch_scale"]
    assert br["after_predicted"] == pytest.approx(residual_moments(4, 32, 24, 0.5, schedule="inv").mean_ratio, rel=1e-12)
    mean, lo, hi = br["after_measured"]
    assert lo <= br["after_predicted"] <= hi and br["verdict"] == "agrees"


def test_residual_he_branches_with_gaussian_biases_and_branch_scale():
    """Gaussian branch biases (variance 0.05), no stem: mean and second moment of M_B/M_in are exact
    (residual_bias_moments with the pooled bias variances); η_b = η/b is applied and re-measured."""
    rep = _run("residual_he_bias", (16, 24), seed=14)
    res = rep.predictions["residual"]
    assert res["biases"] and res["m0"] == 1.0 and res["second_exactness"] == "exact"
    assert all(abs(sh[5] - 0.05) < 0.02 and abs(sh[6] - 0.05) < 0.02 for sh in res["shapes"])
    assert res["growth"] > residual_moments(4, 24, 16, 0.6).mean_ratio        # the biases add to the growth
    assert len([c for c in rep.checks if "residual" in c.quantity and c.exactness == "exact"]) == 2
    _exact_checks_agree(rep)
    (br,) = [r for r in rep.recommendations if r["action"] == "branch_scale"]
    assert br["after_predicted"] < br["before"]
    mean, lo, hi = br["after_measured"]
    assert lo <= br["after_predicted"] <= hi


def test_small_cnn_fans_and_labels():
    rep = _run("small_cnn", (8, 1, 8, 8), seed=6)
    convs = [L for L in rep.layers if L.kind == "conv2d"]
    assert [(L.fan_in, L.width) for L in convs] == [(9, 8), (72, 16)]      # in_channels × 3 × 3
    assert all(L.rule == "torch_default" for L in convs)
    assert all(c.exactness.startswith("approximation") for c in rep.checks)
    assert any("channels as width" in n for n in rep.notes)
    # c = Var W · fan-in is exact for convolutions: the FM1 rate is still log(1/6)
    assert math.isclose(rep.fm1_rate, math.log(1 / 6), rel_tol=1e-12)
    # the width recommendation is re-measured on rebuilt convolution chains (channels as width: labelled)
    (w,) = [r for r in rep.recommendations if r["action"] == "width"]
    assert w["chains"] == NETWORKS and w["exactness"].startswith("approximation") and len(w["after_measured"]) == 3


def test_batchnorm_restarts_the_chain_for_the_batch_mean():
    """Linear → BatchNorm1d → ReLU (train mode, γ = 1, β = 0): the batch mean of M after the norm is 1 − O(ε/Var),
    and the norm's output has a symmetric law, so after the ReLU E M̄ = 1/2; the default-init layers after it follow
    M̄ ← m₁(cM̄ + s²) (the head: cM̄ + s²). The per-point chain is not predicted (the norm couples the points)."""
    rep = _run("batchnorm_mlp", (16, 32), seed=7)
    assert rep.layers[0].norm == "BatchNorm1d" and not rep.layers[0].in_theory and not rep.layers[0].norm_after_act
    assert rep.segment == [] and rep.measured_only == []
    post = rep.predictions["post_norm"]
    m1 = 0.5 * (1 / 3 * 0.5 + 1 / (3 * 64))                 # default init: c = 1/3, s² = 1/(3·64)
    assert [p["mean"] for p in post] == pytest.approx([0.5, m1, 1 / 3 * m1 + 1 / (3 * 64)], rel=1e-12)
    checks = [c for c in rep.checks if c.quantity.startswith("E M̄")]
    assert len(checks) == 3 and all(c.agrees and c.exactness.startswith("exact as ε/Var → 0") for c in checks)


def test_layernorm_and_leaky_relu_after_it():
    """LayerNorm (per point) then ReLU, and a second LayerNorm then LeakyReLU(0.2): E M̄ = (1 + a²)/2 = 0.52."""
    rep = _run("layernorm_mlp", (16, 32), seed=15)
    post = {p["layer"]: p["mean"] for p in rep.predictions["post_norm"]}
    assert post["0"] == 0.5 and post["5"] == pytest.approx(0.52, rel=1e-12)
    assert len(rep.checks) == 4 and all(c.agrees for c in rep.checks)


def test_conv1d_fans_labels_and_head():
    """Conv1d: fan-in = in_channels × kernel size (2·3, 8·5); FM1 from c exactly (default init: log(1/6)); the
    checks are labelled approximations (zero-padded edges, channels as width)."""
    rep = _run("conv1d_net", (8, 2, 16), seed=16)
    convs = [L for L in rep.layers if L.kind == "conv1d"]
    assert [(L.fan_in, L.width) for L in convs] == [(6, 8), (40, 12)] and all(L.rule == "torch_default" for L in convs)
    assert math.isclose(rep.fm1_rate, math.log(1 / 6), rel_tol=1e-12)
    assert rep.checks and all(c.exactness.startswith("approximation") for c in rep.checks)
    means = [c for c in rep.checks if c.quantity.startswith("E M/M_0")]
    assert len(means) == 3 and all(c.agrees for c in means)        # FM1 (and the head) hold away from the edges


def test_hook_fallback_sees_additions_and_predicts_nothing():
    """A residual model torch.fx cannot trace: the hooks cannot see skip and branch, but a torch function mode counts
    the additions, so no plain chain is (wrongly) predicted: everything is measured only, and the notes say why."""
    rep = _run("residual_hooks", (16, 16), seed=17, networks=20)
    assert rep.method.startswith("forward hooks")
    assert any("2 tensor addition(s)" in n for n in rep.notes)
    assert rep.segment == [] and rep.checks == [] and len(rep.measured_only) == 4


def test_gelu_is_outside_never_treated_as_relu():
    rep = _run("gelu_mlp", (16, 32), seed=8)
    gelu = rep.layers[1]
    assert "GELU" in gelu.activation and "outside" in gelu.activation and not gelu.in_theory
    assert rep.segment == [rep.layers[0].name]      # the chain stops before the GELU layer
    _exact_checks_agree(rep)
    assert {m[0] for m in rep.measured_only} == {L.name for L in rep.layers[1:]}


def test_untraceable_model_falls_back_to_hooks():
    rep = _run("untraceable", (16, 16), seed=9)
    assert rep.method.startswith("forward hooks")
    assert len(rep.segment) == 2 and not any("addition" in n for n in rep.notes)
    _exact_checks_agree(rep)


def test_python_api_without_factory_redraws_detected_laws():
    """No factory: each layer is re-drawn from its detected law and matched gain; float64 inputs to a float32 model."""
    torch.manual_seed(10)
    model = nn.Sequential(nn.Linear(24, 48), nn.ReLU(), nn.Linear(48, 48), nn.LeakyReLU(0.2), nn.Linear(48, 5))
    x = torch.randn(12, 24, generator=torch.Generator().manual_seed(10), dtype=torch.float64)
    rep = audit(model, x, networks=NETWORKS, seed=10, alpha=ALPHA)
    assert rep.reinit.startswith("re-drawn")
    assert rep.layers[1].act == ("leaky", 0.2, None, None)
    # leaky layer: FM1 factor c(1 + a²)/2
    assert math.isclose(rep.predictions["per_layer"]["2"]["fm1_rate"], math.log(1.04 / 6), rel_tol=1e-12)
    _exact_checks_agree(rep)


def test_report_outputs_are_notebook_friendly():
    import matplotlib

    backend = matplotlib.get_backend()
    rep = _run("default_mlp", (8, 32), seed=11, networks=40)
    d = rep.to_dict()
    json.dumps(d, allow_nan=False)
    assert d["spot_check"]["checks"][0]["verdict"] == "agrees"
    assert "<table>" in rep._repr_html_()
    from matplotlib.figure import Figure

    assert isinstance(rep.plot(), Figure)
    assert matplotlib.get_backend() == backend


def test_bad_models_and_inputs():
    with pytest.raises(DomainError, match="no Linear, Conv1d or Conv2d"):
        audit(nn.Sequential(nn.ReLU()), torch.randn(4, 3))
    with pytest.raises(DomainError, match="does not fit the model"):
        audit(nn.Sequential(nn.Linear(3, 4)), torch.randn(4, 5))
    with pytest.raises(DomainError, match="torch.nn.Module"):
        audit(42, torch.randn(4, 5))
    with pytest.raises(DomainError, match="float tensor"):
        audit(nn.Linear(3, 4), [1, 2, 3])


def test_very_narrow_mlp_death_and_sign_flip_remeasured():
    """Width 2, depth 8: P(x alive) = (3/4)^8 exactly (bounds.death.liveness); the spot-check's live fraction
    interval must cover it, and sign_flip_ applied to every re-initialized network keeps ≥ 2^-8."""
    rep = _run("very_narrow_mlp", (32, 4), seed=13)
    # 4–8 weights per layer cannot name a rule; the factory's fresh instances pool enough weights to
    assert all(L.rule == "he_fan_in" and L.law == "gaussian" and L.pooled > 1 for L in rep.layers)
    assert rep.predictions["expected_live_fraction"] == pytest.approx(0.75**8, rel=1e-12)
    (live,) = [c for c in rep.checks if c.quantity.startswith("live fraction")]
    assert live.agrees and live.exactness == "exact"
    (flip,) = [r for r in rep.recommendations if r["action"] == "sign_flip"]
    assert flip["guarantee_held"] and flip["after_measured"][0] > rep.predictions["expected_live_fraction"]


def test_conv_width_rebuild_is_the_dense_chain_for_one_position():
    """Kernel-1 Conv1d on length-1 signals is a dense chain, so the rebuilt convolution chains (one grouped call per
    chunk of networks) must reproduce Var M_d/M_0² = (1 + 5/W)² − 1 exactly in law: seed 18, 600 chains, the
    interval at α = 1e-4 must cover it (a mix-up of networks inside a grouped call would not)."""
    torch.manual_seed(18)
    model = nn.Sequential(nn.Conv1d(4, 3, 1), nn.ReLU(), nn.Conv1d(3, 3, 1), nn.ReLU())
    x = torch.randn(8, 4, 1, generator=torch.Generator().manual_seed(18), dtype=torch.float64)
    rep = audit(model, x, networks=600, seed=18, alpha=ALPHA)
    (w,) = [r for r in rep.recommendations if r["action"] == "width"]
    assert w["after_predicted"] == pytest.approx((1 + 5 / w["width"]) ** 2 - 1, rel=1e-12)
    mean, lo, hi = w["after_measured"]
    assert w["chains"] == 600 and lo <= w["after_predicted"] <= hi
