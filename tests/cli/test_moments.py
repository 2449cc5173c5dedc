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
