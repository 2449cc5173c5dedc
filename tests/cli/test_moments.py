"""`initbounds moment` (commands.moments): JSON contract and exact one-line errors."""
from __future__ import annotations

import json


import pytest
from typer.testing import CliRunner

from initbounds.cli import app

runner = CliRunner()


def run(*args):
    return runner.invoke(app, list(args))



def test_moment_json_contract():
    r = run("moment", "--activation", "relu", "--s", "1", "--width", "64", "--depth", "100", "--json")
    assert r.exit_code == 0, r.output
    obj = json.loads(r.output)
    for key in ("sigma", "sigma2", "sigma2_large_width", "he_sigma2", "mu", "var", "survival",
                "log_norm_mean", "log_norm_var"):
        assert key in obj
    assert obj["sigma2"] == pytest.approx(0.0318722570, rel=1e-9)
    assert obj["log_norm_mean"] == pytest.approx(-1.020, abs=5e-4)


@pytest.mark.parametrize("args, msg", [
    (["moment", "--s", "0", "--width", "4"], "Error: --s must be in (0, 2]; got 0.0"),
    (["moment", "--s", "2.5", "--width", "4"], "Error: --s must be in (0, 2]; got 2.5"),
    (["moment", "--s", "1", "--width", "4", "--activation", "leaky", "--slope", "2"], "Error: --slope must be in [0, 1]; got 2.0"),
    (["moment", "--s", "1", "--width", "4", "--activation", "rrelu", "--lower", "0.5", "--upper", "0.2"],
     "Error: --lower must be < upper for rrelu; got lower=0.5, upper=0.2"),
    (["moment", "--s", "1", "--width", "0"], "Error: --width must be an integer ≥ 1; got 0"),
])
def test_moment_errors(args, msg):
    r = run(*args)
    assert r.exit_code == 2 and r.output.strip() == msg


def _strict_json(text: str):
    """json.loads that refuses NaN/Infinity tokens."""
    def bad(tok):
        raise AssertionError(f"non-finite token {tok} in the JSON")
    return json.loads(text, parse_constant=bad)


@pytest.mark.parametrize("args, code", [
    ("--s 1e-300 --width 81 --depth 1", 0), ("--s 1e-6 --width 2 --depth 355", 0),
    ("--s 1 --width 100 --depth 2 --small 1e-300", 0), ("--s 1.85621 --width 175 --depth 1000000", 0),
    ("--s 5e-324 --width 100 --depth 2", 0), ("--activation relu --s 1 --width 2000 --depth 200 --small 0.5", 0),
    ("--s 5e-324 --width 1 --depth 1", 2), ("--s 5e-324 --width 10000000 --depth 1", 0),
    ("--s 2 --width 1 --depth 1", 0), ("--s 1e-300 --activation linear --width 1 --depth 1", 0),
    ("--s 5e-324 --activation leaky --width 3 --depth 5", 0), ("--s 1e-300 --width 1 --depth 1", 2),
])
def test_issue11_moment_extremes(args, code):
    """Issue 11: each ended in a traceback, an internal name (`lo`, `p`) or 80 s. Now exit 0 with strict
    JSON (σ_s² beyond the double range is null beside log_sigma2), or exit 2 naming --s; in < 2 s."""

    run("moment", "--s", "1", "--width", "4", "--depth", "2", "--json")      # imports (not part of the budget)
    r = run("moment", *args.split(), "--json")
    assert r.exit_code == code, r.output
    if code == 0:
        out = _strict_json(r.output)
        assert out["log_sigma2"] is not None and (out["sigma2"] is None) == (abs(out["log_sigma2"]) > 709)
        assert 0.0 <= out["p_small_output"] <= 1.0
    else:
        assert r.output.startswith("Error: --s ") and r.output.count("\n") == 1


def test_issue11_depth_beyond_a_double_names_depth():
    """A depth whose log-norm mean kμ_s is beyond the double range (or that a double cannot hold) is a
    one-line refusal naming --depth; just inside, exit 0 with strict JSON."""
    r = run("moment", "--s", "1", "--width", "64", "--depth", "1" + "0" * 400)
    assert r.exit_code == 2 and r.output.startswith("Error: --depth ") and r.output.count("\n") == 1
    r = run("moment", "--s", "2e-300", "--width", "1", "--depth", "1000000000")
    assert r.exit_code == 2 and r.output.startswith("Error: --depth ") and "depth must be ≤ 2.89" in r.output
    r = run("moment", "--s", "1", "--width", "64", "--depth", "1" + "0" * 299, "--json")
    assert r.exit_code == 0 and _strict_json(r.output)["log_norm_mean"] < 0


@pytest.mark.parametrize("s", ["5e-324", "1e-300"])
def test_issue11_moment_at_width_1e30(s):
    """issue 11 (fuzz): `moment --s 5e-324 --width 10^30` named the internal `p`, and `--s 1e-300
    --width 10^30 --json` wrote Infinity. Both answer with finite values. Reference: as s → 0,
    σ_s² → P(alive)^{−2/s}·e^{−E[log Q | alive]} with P(alive) = 1 − 2^{−10^30} (its factor is 1 in
    doubles) and E log Q = log(d/2) − 5/(2d) + O(d⁻²), so σ_s² = 2/d to ~1e-30 relative; the
    per-layer log-norm variance is ¼ Var log Q = 5/(4d) (mpmath, 30 digits)."""
    import math
    import warnings

    import mpmath as mp

    d = 10**30
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = run("moment", "--s", s, "--width", str(d), "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.output, parse_constant=lambda t: pytest.fail(f"non-finite token {t}"))
    with mp.workdps(30):
        two_over_d, var = float(mp.mpf(2) / d), float(mp.mpf(5) / (4 * d))
    assert out["sigma2"] == pytest.approx(two_over_d, rel=1e-14)
    assert out["log_sigma2"] == pytest.approx(math.log(two_over_d), rel=1e-15)
    assert out["var"] == pytest.approx(var, rel=1e-14)          # was 1.34e-27: the float sums' cancellation
    assert out["survival"] == 1.0
    text = run("moment", "--s", s, "--width", str(d))
    assert text.exit_code == 0 and " p " not in text.output


def test_issue11_moment_depth_beyond_exact_widths_answers_by_the_clt():
    """issue 11 (found with the fuzz cases): `moment --s 1 --width 10^30 --depth 3` raised TypeError
    in scipy (a width beyond 2^63 as an integer), then a refusal naming `width`; beyond 2^53 units the
    small-output probability is the CLT's, labelled so, and the depth-3 variance is 3·5/(4d)."""
    d = 10**30
    r = run("moment", "--s", "1", "--width", str(d), "--depth", "3", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.output, parse_constant=lambda t: pytest.fail(f"non-finite token {t}"))
    assert out["p_small_output_method"] == "CLT"
    assert 0.0 <= out["p_small_output"] <= 1.0
    assert out["log_norm_var"] == pytest.approx(3 * 5 / (4 * d), rel=1e-14)
