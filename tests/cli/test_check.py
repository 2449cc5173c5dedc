"""`initbounds check` (commands.check): exit codes, exact errors, the JSON of the design report, the plot."""
from __future__ import annotations

import json


import pytest
from typer.testing import CliRunner

from initbounds.cli import app

runner = CliRunner()


def run(*args):
    return runner.invoke(app, list(args))



@pytest.mark.parametrize(
    "args, message",
    [
        (["check", "--trials", "-1"], "Error: --trials must be an integer ≥ 0; got -1"),
    ],
)
def test_bad_input_is_one_line_exit_2(args, message):
    r = run(*args)
    assert r.exit_code == 2
    assert r.output.strip() == message
    assert "Traceback" not in r.output


def test_check_json_small_design(tmp_path):
    r = run("check", "--depth", "2", "--width", "256", "--samples", "2", "--delta", "0.1",
            "--eps", "0.5", "--trials", "10", "--json")
    assert r.exit_code == 0, r.output
    obj = json.loads(r.output)
    assert [m["name"] for m in obj["methods"]][-1] == "exact_union"
    assert obj["spot_check"]["trials"] == 10
    assert 0.0 <= obj["spot_check"]["estimate"] <= 1.0
    lv = obj["length_variance"]
    assert lv["beta"] == pytest.approx(2 / 256) and lv["fm1"] == "preserved"
    assert lv["fm2_var_ratio"] == pytest.approx((1 + 5 / 256) ** 2 - 1, rel=1e-12)
    from initbounds.bounds.band import band_probability

    b = band_probability(256, 2, 0.5, 2.0, layers="last")       # issue 5: P(off by > 2×) in check
    assert abs(lv["p_off_by_2"] - b.p_fail) <= lv["p_off_by_2_tolerance"] + b.tolerance


def test_check_plot(tmp_path):
    p = tmp_path / "check.png"
    r = run("check", "--depth", "3", "--width", "64", "--samples", "2", "--delta", "0.1", "--eps", "0.5",
            "--trials", "300", "--plot", str(p))
    assert r.exit_code == 0, r.output
    assert "P(last-layer length off by > 2×)" in r.output and p.stat().st_size > 10_000


def test_check_refuses_at_once_where_the_exact_probabilities_exceed_the_cost_model():
    """Issue 11 (widthsolve): `check --width 64 --depth 100000 --trials 0` took 13–22 s, then refused;
    the exact probabilities now come first, so the one-line refusal comes at once."""
    import time

    t = time.perf_counter()
    r = run("check", "--width", "64", "--depth", "100000", "--trials", "0")
    assert time.perf_counter() - t < 2.0
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1
    assert "depth=100000" in r.output and "Traceback" not in r.output
