"""`initbounds death` (commands.death): JSON contract, exact one-line errors, schedules."""
from __future__ import annotations

import json


import pytest
from typer.testing import CliRunner

from initbounds.cli import app

runner = CliRunner()


def run(*args):
    return runner.invoke(app, list(args))



def test_death_json_contract():
    r = run("death", "--widths", "4,4,4", "--points", "10", "--target", "0.99", "--json")
    assert r.exit_code == 0, r.output
    obj = json.loads(r.output)
    for key in ("p_alive_point", "expected_live_fraction", "lower", "upper", "sign_flip_guarantee",
                "min_constant_width"):
        assert key in obj
    assert obj["p_alive_point"] == pytest.approx((1 - 1 / 16) ** 3)
    assert obj["sign_flip_guarantee"] == 0.125
    r = run("death", "--width", "1", "--depth", "1000000", "--json")
    assert r.exit_code == 0
    assert json.loads(r.output)["log_p_alive_point"] == pytest.approx(-1e6 * 0.6931471805599453)


@pytest.mark.parametrize("args, msg", [
    (["death"], "Error: give one of --widths, --width with --depth, or --schedule with --depth"),
    (["death", "--schedule", "2", "--depth", "3"], "Error: --schedule must be 'c,b' with real c ≥ 0 and b (e.g. 2,1); got '2'"),
    (["death", "--widths", "4,x"], "Error: --widths must be comma-separated integers ≥ 1 (e.g. 4,4,4); got '4,x'"),
    (["death", "--widths", "4,0"], "Error: --widths[1] must be an integer ≥ 1; got 0"),
    (["death", "--width", "4"], "Error: --width needs --depth"),
    (["death", "--widths", "4", "--target", "2"], "Error: --target must be in (0, 1); got 2.0"),
])
def test_death_errors(args, msg):
    r = run(*args)
    assert r.exit_code == 2 and r.output.strip() == msg


def test_death_schedule():
    r = run("death", "--schedule", "2,1", "--depth", "1000", "--json")
    assert r.exit_code == 0, r.output
    lim = json.loads(r.output)["schedule_limit"]
    assert lim["positive"] and 0 < lim["lower"] <= lim["upper"] < 1
    r = run("death", "--schedule", "1,3", "--depth", "50", "--json")
    assert json.loads(r.output)["schedule_limit"]["positive"] is False


def test_issue11_huge_schedule_answers_or_names_schedule():
    """Issue 11 (fuzz campaign): `death --depth 1000000 --schedule 1e308,1` raised OverflowError and
    `--schedule 1e15,1` ran for minutes; now the first is one line naming --schedule, the second answers."""
    r = run("death", "--depth", "1000000", "--schedule", "1e308,1")
    assert r.exit_code == 2 and r.output.startswith("Error: --schedule") and r.output.count("\n") == 1
    r = run("death", "--depth", "100000", "--schedule", "1e15,1", "--json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert d["p_alive_point"] == 1.0 and d["schedule_limit"]["positive"] is True
