"""`initbounds resnet` (commands.resnet): JSON contract, exact errors, plot."""
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



def test_resnet_json_and_errors(tmp_path):
    r = run("resnet", "--blocks", "100", "--width", "64", "--branch-width", "64", "--eta", "0.5", "--schedule", "inv",
            "--json", "--plot", str(tmp_path / "r.png"))
    assert r.exit_code == 0, r.output
    obj = json.loads(r.output)
    for key in ("mean_ratio", "second_moment_ratio", "fm1"):
        assert key in obj
    assert obj["fm1"] is True and obj["normalized_second"] < 1.1
    r = run("resnet", "--blocks", "10", "--width", "8", "--branch-width", "8", "--eta", "1", "--schedule", "exp")
    assert r.exit_code == 2 and r.output == "Error: --schedule must be one of 'const', 'inv', 'invsqrt'; got 'exp'\n"
    r = run("resnet", "--blocks", "0", "--width", "8", "--branch-width", "8", "--eta", "1")
    assert r.exit_code == 2 and r.output == "Error: --blocks must be an integer in [1, 1000000000000000]; got 0\n"
    r = run("resnet", "--blocks", "3", "--width", "8", "--branch-width", "8", "--eta", "-1")
    assert r.exit_code == 2 and r.output == "Error: --eta must be in [0, inf); got -1.0\n"


@pytest.mark.parametrize("args", [["resnet", "--blocks", "100", "--width", "8", "--branch-width", "8", "--eta", "1"]])
def test_resnet_does_not_import_torch(args):
    code = ("import sys; from typer.testing import CliRunner; from initbounds.cli import app; "
            f"r = CliRunner().invoke(app, {args!r}); "
            "assert r.exit_code == 0, r.output; print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def _strict_json(text: str):
    """json.loads that refuses NaN/Infinity tokens."""
    def bad(tok):
        raise AssertionError(f"non-finite token {tok} in the JSON")
    return json.loads(text, parse_constant=bad)


@pytest.mark.parametrize("args", [
    "--blocks 100000000 --width 64 --branch-width 64 --eta 1 --schedule inv",
    "--blocks 1000000000000000 --width 1 --branch-width 1 --eta 1e308 --schedule invsqrt",
    "--blocks 1000000 --width 64 --branch-width 64 --eta 1e154",
    "--blocks 1000000 --width 64 --branch-width 64 --eta 1e308",
    "--blocks 1 --width 10000000 --branch-width 1 --eta 0",
])
def test_issue11_resnet_extremes(args):
    """Issue 11: 10^8 blocks took > 60 s; now every B ≤ 10^15 answers in < 2 s with strict JSON."""

    run("resnet", "--blocks", "2", "--width", "4", "--branch-width", "4", "--eta", "1", "--json")      # imports (not part of the budget)
    r = run("resnet", *args.split(), "--json")
    assert r.exit_code == 0, r.output
    out = _strict_json(r.output)
    assert out["log_mean_ratio"] is not None


def test_issue11_resnet_blocks_range_is_stated():
    r = run("resnet", "--blocks", "1000000000000001", "--width", "8", "--branch-width", "8", "--eta", "1")
    assert r.exit_code == 2 and r.output == "Error: --blocks must be an integer in [1, 1000000000000000]; got 1000000000000001\n"
