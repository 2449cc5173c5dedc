"""HR18 trainability experiment (issue 5): determinism, β from bounds, censoring, statistics."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats as st

from initbounds.bounds.errors import DomainError
from initbounds.bounds.variance import length_moments
from initbounds.sim.core import Stream
from initbounds.sim.stats import median_ci
from initbounds.sim.trainability import (ConfigOutcome, TrainabilityConfig, estimate_trainability, load_digits_split,
                              make_configs, plot_trainability, sample_he_mlps,
                              spearman_censored, train_he_mlps)

TINY = dict(nets=3, epochs=2, threshold=0.5, lr=0.05, batch_size=32)


def _strip(d: dict) -> dict:
    d = dict(d)
    d.pop("seconds")
    d["configs"] = [{k: v for k, v in c.items() if k != "seconds"} for c in d["configs"]]
    return d


def test_same_seed_same_result_and_configs_do_not_interact():
    """Seed 3, twice: identical epochs, accuracy curves and statistics; a configuration's nets do
    not depend on which other configurations run beside it; another seed gives other nets."""
    a = estimate_trainability([(8, 2), (4, 1)], seed=3, **TINY)
    b = estimate_trainability([(8, 2), (4, 1)], seed=3, **TINY)
    assert _strip(a.as_dict()) == _strip(b.as_dict())
    alone = estimate_trainability([(4, 1)], seed=3, **TINY)
    assert alone.outcomes[0].train_accuracy == a.outcomes[1].train_accuracy
    other = estimate_trainability([(4, 1)], seed=4, **TINY)
    assert other.outcomes[0].train_accuracy != alone.outcomes[0].train_accuracy


def test_beta_and_variance_are_the_bounds_values():
    r = estimate_trainability([TrainabilityConfig(8, 2, ("constant-beta",)), TrainabilityConfig(4, 3, ("constant-width",))],
                              nets=2, epochs=1, threshold=0.5, seed=0)
    for o in r.outcomes:
        lm = length_moments([o.width] * o.depth)
        assert o.beta == lm.beta and o.var_ratio == lm.var_ratio and o.log_var_ratio == lm.log_var_ratio
    assert r.outcomes[0].beta == 0.25 and r.outcomes[0].var_ratio == pytest.approx((1 + 5 / 8) ** 2 - 1, rel=1e-15)
    assert r.outcomes[0].families == ("constant-beta",)


def test_censoring_is_reported_never_as_the_cap():
    """Threshold 1.0 within one epoch is out of reach for 2×1 nets: every net is censored."""
    data = load_digits_split(0)
    o = train_he_mlps(2, 1, data, nets=4, epochs=1, threshold=1.0, lr=0.05, batch_size=32,
                      stream=Stream(1, "tests/sim/test_trainability"))
    assert o.epochs_to_threshold == [None] * 4 and o.reached == 0 and o.epochs_run == 1
    assert o.median_reached is None and o.median_all is None
    assert o.median_reached_ci == (None, None)
    d = o.as_dict()
    assert d["epochs_to_threshold"] == [None] * 4 and d["median_epochs_all"] is None
    assert all(len(c) == 2 for c in d["train_accuracy"])                     # epochs 0 and 1
    # every net meets a threshold it already meets at initialization: 0 epochs, training stops
    o = train_he_mlps(2, 1, data, nets=4, epochs=5, threshold=1e-9, lr=0.05, batch_size=32,
                      stream=Stream(1, "tests/sim/test_trainability"))
    assert o.epochs_to_threshold == [0, 0, 0, 0] and o.epochs_run == 0


def _outcome(epochs_to_threshold, cap=10):
    k = len(epochs_to_threshold)
    return ConfigOutcome(8, 2, ("explicit",), 0.25, 0.64, math.log(0.64), k, cap, list(epochs_to_threshold), cap,
                         [[0.0]] * k, [[0.0]] * k, 0, 0.0)


def test_censored_summaries_on_planted_outcomes():
    o = _outcome([1, 2, 3, 4, 5, 6, None, None])
    assert o.reached == 6 and o.p_reached == 0.75
    lo, hi = st.beta.ppf(0.025, 6, 3), st.beta.ppf(0.975, 7, 2)           # Clopper–Pearson 95 %
    assert o.p_reached_ci == pytest.approx((lo, hi), rel=1e-12)
    assert o.median_reached == 3.5 and o.median_all == 4.5
    assert o.median_all_ci == (1.0, None)        # n = 8: [x_(1), x_(8)], and x_(8) is censored
    o = _outcome([1, 2, 3, None, None, None, None, None])
    assert o.median_all is None                  # the median itself is censored
    assert o.median_reached == 2.0 and o.median_reached_ci == (None, None)   # 3 values: too few
    o = _outcome([7] + [None] * 11)
    assert o.median_all_ci == (11.0, None)       # lower end censored: at least cap + 1 epochs


def test_median_ci_levels():
    """[x_(j), x_(n−j+1)] with the largest j whose coverage 1 − 2 P(Bin(n, ½) ≤ j − 1) ≥ level."""
    for n in range(1, 40):
        x = np.arange(1.0, n + 1)
        lo, hi = median_ci(x, 0.95)
        cov = lambda j: 1 - 2 * st.binom.cdf(j - 1, n, 0.5)  # noqa: E731
        if cov(1) < 0.95:
            assert (lo, hi) == (None, None) and n <= 5
        else:
            j = int(lo)
            assert hi == n - j + 1 and cov(j) >= 0.95 and (j + 1 > n // 2 or cov(j + 1) < 0.95)
    with pytest.raises(DomainError):
        median_ci([1.0, float("nan")])


def test_spearman_on_planted_examples():
    # epochs grow with β and the largest β is censored: perfect association
    d = spearman_censored([0.1, 0.2, 0.3, 0.4, 0.5], [1, 2, 4, 9, None], cap=10)
    assert d["rho"] == pytest.approx(1.0, abs=1e-12) and d["n"] == 5
    assert d["p_value"] == pytest.approx(st.spearmanr([1, 2, 3, 4, 5], [1, 2, 3, 4, 5]).pvalue, abs=1e-12)
    # a censored net ranks above every observed value, even one equal to the cap
    d = spearman_censored([1, 2, 3], [None, 10, 0], cap=10)
    assert d["rho"] == pytest.approx(-1.0, abs=1e-12)
    # ties among censored nets are average ranks (scipy on the placeholder cap + 1)
    x = [0.1, 0.1, 0.2, 0.2, 0.4, 0.4]
    e = [2, 3, 3, None, None, None]
    assert spearman_censored(x, e, cap=5)["rho"] == pytest.approx(st.spearmanr(x, [2, 3, 3, 6, 6, 6]).statistic, abs=1e-12)
    assert spearman_censored([0.5] * 4, [1, 2, 3, None], cap=5)["rho"] is None
    with pytest.raises(DomainError):
        spearman_censored([1, 2], [1], cap=3)
    with pytest.raises(DomainError):
        spearman_censored([1, 2, 3], [1, 7, 2], cap=3)


def test_make_configs_families():
    c = make_configs([2, 4, 8], ratio=4)
    assert [(x.width, x.depth, x.families) for x in c] == [
        (8, 2, ("constant-beta", "constant-width")), (16, 4, ("constant-beta",)), (32, 8, ("constant-beta",)),
        (8, 4, ("constant-width",)), (8, 8, ("constant-width",))]
    assert [(x.width, x.depth) for x in make_configs([3, 1], family="constant-width", width=5)] == [(5, 1), (5, 3)]
    assert [(x.width, x.depth) for x in make_configs([1, 2, 3], family="constant-beta", ratio=1.5)] == [(2, 1), (3, 2), (5, 3)]
    with pytest.raises(DomainError, match="family must be one of"):
        make_configs([2], family="wide")
    with pytest.raises(DomainError, match=r"depths\[1\] must be an integer ≥ 1; got 0"):
        make_configs([2, 0])


def test_he_init_draw_order_and_the_he_variance():
    """Net k's matrices are chunk k's draws (one net per chunk: stream.generator(k)), N(0, 2/fan-in)
    in nn.Linear's (out, in) layout, layer by layer, the output layer too; entries have variance
    2/fan-in (normal CI on the sample variance, α = 1e-4), the output layer included; biases are
    zero; a net does not depend on how many nets are drawn with it."""
    s = Stream(9, "tests/sim/test_trainability/init")
    ps = sample_he_mlps(64, [16, 12], 10, 2, stream=s)
    for k in range(2):
        g = s.generator(k)
        for (W, _), (a, b) in zip(ps, [(64, 16), (16, 12), (12, 10)]):
            w = torch.empty(1, b, a, dtype=torch.float64).normal_(0.0, math.sqrt(2 / a), generator=g)
            assert torch.equal(W[k], w[0])
    one = sample_he_mlps(64, [16, 12], 10, 1, stream=s)
    assert all(torch.equal(W[:1], W1) for (W, _), (W1, _) in zip(ps, one))
    ps = sample_he_mlps(200, [300], 40, 2, stream=Stream(2, "tests/sim/test_trainability/init"))
    w = ps[0][0].flatten()
    z = st.norm.ppf(1 - 1e-4 / 2)
    assert abs(float(w.var()) - 2 / 200) <= z * math.sqrt(2 / (w.numel() - 1)) * (2 / 200)
    wout = ps[1][0].flatten()                                # 2 · 300 · 40 = 24000 entries
    assert abs(float(wout.var()) - 2 / 300) <= z * math.sqrt(2 / (wout.numel() - 1)) * (2 / 300)
    assert all(float(b.abs().max()) == 0.0 for _, b in ps)


def test_plot_is_written(tmp_path):
    cfgs = make_configs([1, 2], ratio=4)
    r = estimate_trainability(cfgs, nets=2, epochs=1, threshold=0.3, seed=0)
    assert set(r.association["depth_vs_epochs"]) == {"constant-beta", "constant-width"}
    out = tmp_path / "t.png"
    plot_trainability(r, str(out))
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 10_000
