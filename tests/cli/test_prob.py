"""issue 11: `initbounds prob` regressions — every listed command answers (exit 0, numbers checked
against an independent computation or an identity) or refuses with one line that states the cost
(exit 2). Not timed here: the timings are in the benchmarks."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
from typer.testing import CliRunner

from initbounds.bounds import rho
from initbounds.cli import app

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def prob_json(width, depth, eps, *extra):
    r = run("prob", "--width", width, "--depth", depth, "--eps", eps, "--json", *extra)
    assert r.exit_code == 0, r.output
    return json.loads(r.output)


def test_width_two_depth_two_answers():
    """issue 11: `prob --width 2 --depth 2 --eps 0.05` did not finish. Both probabilities match an
    independent mpmath quadrature of the exact mixture (see tests/bounds/test_band_reference.py
    for the reference itself); here: the exact values it gives at this design."""
    from tests.bounds.test_band_reference import _mp_depth_two
    obj = prob_json(2, 2, 0.05)
    for key, layers in (("p_stay", "all"), ("p_last", "last")):
        ref = float(_mp_depth_two(2, 0.95, 1.05, layers))
        assert abs(obj[key] - ref) <= obj["tolerance"] + 1e-13, (key, obj[key], ref)
    assert obj["tolerance"] <= 1e-6


def test_huge_width_refuses_at_once_without_warnings():
    """issue 11: width 10^23 printed RuntimeWarnings and refused after 3.4 s; now one line naming
    --width with the exact range (the one-layer law is exact in doubles up to 2^53)."""
    r = run("prob", "--width", "99999999999999999999999", "--depth", "3", "--eps", "0.1")
    assert r.exit_code == 2
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and "Warning" not in r.output
    assert lines[0].startswith("Error: --width must be ≤ 2^53")


def test_narrow_band_wide_layer_answers():
    """issue 11: `prob --width 100000 --depth 10 --eps 1e-6` took > 30 s and 6.5 GB. The band is
    3e-4 standard deviations of log ρ wide: p_last ≈ (B − A)·density of log Π_10 at 0, whose law
    is close to normal with mean 10·E log ρ and variance 10·Var log ρ; p_stay ≤ p_last."""
    obj = prob_json(100000, 10, 1e-6)
    lm = rho.log_moments(100000)
    width = math.log1p(1e-6) - math.log1p(-1e-6)
    mu, sd = 10 * lm.mean, math.sqrt(10 * lm.var)
    normal = width * math.exp(-0.5 * (mu / sd) ** 2) / (sd * math.sqrt(2 * math.pi))
    assert obj["p_last"] == pytest.approx(normal, rel=2e-3)       # the normal law's error at 10 layers
    assert 0.0 <= obj["p_stay"] <= obj["p_last"]


def test_deep_wide_band_answers():
    """issue 11: `prob --width 460 --depth 1000 --eps 0.88` took 9.5 s. p_last against the normal
    approximation of log Π_1000 (1000 layers: the central limit error is small at this band)."""
    obj = prob_json(460, 1000, 0.88)
    lm = rho.log_moments(460)
    mu, sd = 1000 * lm.mean, math.sqrt(1000 * lm.var)
    from scipy import stats
    normal = stats.norm.cdf(math.log(1.88), mu, sd) - stats.norm.cdf(math.log(0.12), mu, sd)
    assert obj["p_last"] == pytest.approx(normal, abs=5e-3)
    assert 0.0 < obj["p_stay"] <= obj["p_last"] and obj["tolerance"] <= 1e-6


def test_wide_layers_depth_two_answers():
    """issue 11: `prob --width 10000000 --depth 2 --eps 0.67694` took 4.5 s. The failure
    probability is e^-148900: p_stay and p_last are 1 in doubles, and log p_fail lies between the
    first layer's exact exit probability and twice the larger of the two layers' values."""
    obj = prob_json(10000000, 2, 0.67694)
    assert obj["p_stay"] == 1.0 and obj["p_last"] == 1.0
    q1 = float(np.logaddexp(rho.log_cdf(10**7, 1 - 0.67694), rho.log_sf(10**7, 1 + 0.67694)))
    assert obj["log_p_fail_stay"] >= q1
    assert -2e5 < obj["log_p_fail_stay"] < -1e5


def test_very_deep_answers():
    """issue 11: `prob --width 1000 --depth 100000 --eps 0.5` refused only after 15–43 s. It now
    answers by transfer-matrix doubling (p_stay) and one FFT power (p_last): after 10^5 layers
    the walk has left the band (log Π_L has mean −250 and sd 22): both are 0 within the tolerance."""
    obj = prob_json(1000, 100000, 0.5)
    assert obj["p_stay"] <= obj["tolerance"] and obj["p_last"] <= obj["tolerance"]
    assert obj["tolerance"] <= 1e-6
    assert obj["p_fail_stay"] == 1.0


@pytest.mark.parametrize("args", [
    ("--width", 1000000000, "--depth", 1000000, "--eps", 0.01),
    ("--width", 5000000, "--depth", 3000, "--eps", 0.9),
])
def test_beyond_the_cost_model_refuses_in_one_line_with_the_cost(args):
    """A design beyond the cost model is refused with one line that states the time and memory."""
    r = run("prob", *args)
    assert r.exit_code == 2, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1
    assert "--width" in lines[0] and "--depth" in lines[0] and " s and " in lines[0] and "MiB" in lines[0]
