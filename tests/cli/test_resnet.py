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
