"""`initbounds validate` (commands.validate): exit codes, exact errors, JSON, plots."""
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
        (["validate", "--trials", "3"], "Error: --trials must be an integer ≥ 10; got 3"),
        (["validate", "--plot", "out.gif"], "Error: --plot must name a .png, .svg or .pdf file in an existing, writable directory; got 'out.gif'"),
    ],
)
def test_bad_input_is_one_line_exit_2(args, message):
    r = run(*args)
    assert r.exit_code == 2
    assert r.output.strip() == message
    assert "Traceback" not in r.output


def test_unknown_claim():
    r = run("validate", "nope")
    assert r.exit_code == 2
    assert r.output.startswith("Error: CLAIM must be one of rho_mean, ")
    assert r.output.strip().endswith("got 'nope'")


def test_validate_json_single_claim():
    r = run("validate", "rho_cdf_ks", "--trials", "2000", "--seed", "3", "--json")
    assert r.exit_code == 0, r.output
    obj = json.loads(r.output)
    assert obj["seed"] == 3
    (c,) = obj["claims"]
    assert set(c) >= {"name", "kind", "theory", "estimate", "ci", "verdict", "source"}
    assert c["verdict"] == "pass"


def test_validate_real_path_and_device_errors():
    r = run("validate", "rho_mean", "--trials", "500", "--real", "--json")
    assert r.exit_code == 0, r.output
    (c,) = json.loads(r.output)["claims"]
    assert c["path"] == "real" and c["verdict"] == "pass"
    r = run("validate", "rho_mean", "--device", "tpu7")
    assert r.exit_code == 2
    assert r.output.strip() == "Error: --device must be a torch device such as 'cpu' or 'cuda'; got 'tpu7'"


def test_validate_plot_is_written(tmp_path):
    out = tmp_path / "v.png"
    r = run("validate", "rho_mean", "width_authors_formula", "--trials", "300", "--plot", str(out))
    assert r.exit_code == 0, r.output
    assert out.exists() and out.stat().st_size > 10_000
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
