"""`initbounds width` and `initbounds prob` (commands.width): exit codes, exact one-line errors, JSON shapes."""
from __future__ import annotations

import json
import subprocess
import sys


import pytest
from typer.testing import CliRunner

from initbounds.cli import app

runner = CliRunner()


def run(*args):
    return runner.invoke(app, list(args))



@pytest.mark.parametrize(
    "args, message",
    [
        (["width", "--depth", "0", "--delta", "0.05", "--eps", "0.1"], "Error: --depth must be an integer ≥ 1; got 0"),
        (["width", "--depth", "3", "--delta", "0", "--eps", "0.1"], "Error: --delta must be in (0, 1); got 0.0"),
        (["width", "--depth", "3", "--delta", "0.05", "--eps", "1.5"], "Error: --eps must be in (0, 1); got 1.5"),
        (["width", "--depth", "3", "--samples", "0", "--delta", "0.05", "--eps", "0.1"], "Error: --samples must be an integer ≥ 1; got 0"),
        (["prob", "--width", "0", "--depth", "1", "--eps", "0.1"], "Error: --width must be an integer ≥ 1; got 0"),
    ],
)
def test_bad_input_is_one_line_exit_2(args, message):
    r = run(*args)
    assert r.exit_code == 2
    assert r.output.strip() == message
    assert "Traceback" not in r.output


def test_parse_errors_are_one_line_exit_2():
    r = run("width", "--depth", "x", "--delta", "0.05", "--eps", "0.1")
    assert r.exit_code == 2
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error:") and "--depth" in lines[0]
    # the parse error names the option's declared range (bounds.width.width_report's constraint)
    assert lines[0] == "Error: --depth must be an integer ≥ 1; got 'x'"
    r = run("width", "--delta", "0.05", "--eps", "0.1")
    assert r.exit_code == 2 and r.output.strip() == "Error: Missing option '--depth'."


def test_width_json_contract():
    r = run("width", "--depth", "3", "--samples", "4", "--delta", "0.1", "--eps", "0.5", "--json")
    assert r.exit_code == 0, r.output
    obj = json.loads(r.output)
    assert obj["inputs"] == {"depth": 3, "samples": 4, "delta": 0.1, "eps": 0.5,
                             "norm": "squared", "layers": "all", "property": "activations"}
    names = [m["name"] for m in obj["methods"]]
    assert names == ["authors_formula", "chernoff_per_layer", "chernoff_product", "exact_union"]
    for m in obj["methods"]:
        assert isinstance(m["min_width"], int) and m["min_width"] >= 1
        assert isinstance(m["source"], str) and m["source"]
    w = {m["name"]: m["min_width"] for m in obj["methods"]}
    assert w["exact_union"] <= w["chernoff_product"] <= w["chernoff_per_layer"]


def test_width_gradient_property_json_and_table():
    """--property gradients|both (issue 12 §1): AB19 property (ii) by the four methods."""
    r = run("width", "--depth", "3", "--samples", "4", "--delta", "0.1", "--eps", "0.5", "--property", "both", "--json")
    assert r.exit_code == 0, r.output
    obj = json.loads(r.output)
    assert obj["inputs"]["property"] == "both"
    act = {m["name"]: m["min_width"] for m in obj["methods"]}
    grad = {m["name"]: m["min_width"] for m in obj["gradient_methods"]}
    assert grad["authors_formula"] == act["authors_formula"]
    assert all(isinstance(v, int) and v >= 1 for v in grad.values())
    r = run("width", "--depth", "3", "--samples", "4", "--delta", "0.1", "--eps", "0.5", "--property", "gradients",
            "--derive")
    assert r.exit_code == 0, r.output
    assert "weight-gradient norms (AB19 ii)" in r.output and "Euler's identity" in r.output
    r = run("width", "--depth", "3", "--delta", "0.1", "--eps", "0.5", "--property", "weights")
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1 and "--property" in r.output


def test_width_table_and_derive():
    r = run("width", "--depth", "2", "--samples", "2", "--delta", "0.1", "--eps", "0.5", "--derive")
    assert r.exit_code == 0, r.output
    assert "exact_union" in r.output and "authors' code" in r.output
    assert "I₊" in r.output and "Var[rho]" in r.output  # the derivation follows the table


def test_prob_json_contract():
    r = run("prob", "--width", "500", "--depth", "4", "--eps", "0.3", "--samples", "8", "--json")
    assert r.exit_code == 0, r.output
    obj = json.loads(r.output)
    for key in ("p_stay", "p_last", "p_fail_union", "tolerance"):
        assert key in obj
    assert 0.0 <= obj["p_stay"] <= obj["p_last"] <= 1.0
    assert obj["tolerance"] < 1e-4
    assert obj["p_fail_union"] == pytest.approx(min(1.0, 8 * (1.0 - obj["p_stay"])), rel=1e-9)


def test_width_command_does_not_import_torch():
    code = ("import sys; from typer.testing import CliRunner; from initbounds.cli import app; "
            "r = CliRunner().invoke(app, ['width', '--depth', '2', '--delta', '0.1', '--eps', '0.5']); "
            "assert r.exit_code == 0, r.output; print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_width_at_an_astronomical_depth_answers():
    """Issue 11: `width --depth 99999999999999999999999 --samples 1 --delta 0.05 --eps 0.3` raised
    "Maximum allowed size exceeded"; now exit 0, each method answers or says why not."""
    r = run("width", "--depth", "99999999999999999999999", "--samples", "1", "--delta", "0.05",
            "--eps", "0.3", "--json")
    assert r.exit_code == 0, r.output
    obj = json.loads(r.output)
    w = {m["name"]: m["min_width"] for m in obj["methods"]}
    assert w["chernoff_per_layer"] > 10**48 and w["chernoff_product"] is None and w["exact_union"] is None
