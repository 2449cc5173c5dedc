"""`initbounds noise`, `breakeven`, `three-factors`, `derive noise` (commands.noise; issue 14):
JSON contracts, exact error lines, refusals before work, figures."""
from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from initbounds.bounds.noise import minibatch_noise, stability_lhs
from initbounds.cli import app

runner = CliRunner()


def run(*args):
    return runner.invoke(app, list(args))


def _strict(text):
    def bad(c):
        raise ValueError(c)
    return json.loads(text, parse_constant=bad)


def test_noise_json_follows_the_closed_forms():
    r = run("noise", "--examples", "30", "--width", "4", "--probes", "3", "--steps", "2", "--json")
    assert r.exit_code == 0, r.output
    obj = _strict(r.stdout)
    for part in ("init", "final"):
        m = obj[part]
        assert m["n"] == 30 and m["n_train"] == 1347 and len(m["lambda_h"]) == 3 and len(m["lambda_k"]) == 3
        assert m["stability_lhs"] == stability_lhs(0.1, m["lambda_h"][0], m["s2"], 1347, 32)
        assert m["noise_without_replacement"] == minibatch_noise(m["trace_k"], 1347, 32, replacement=False)
        assert m["lambda_h"] == sorted(m["lambda_h"], reverse=True)
    assert obj["final"]["step"] == 2 and obj["diverged_at"] is None


def test_noise_table_and_cnn():
    r = run("noise", "--model", "cnn", "--width", "2", "--examples", "12", "--probes", "2", "--k", "2")
    assert r.exit_code == 0, r.output
    assert "stability LHS" in r.stdout and "λ_H top-k (largest algebraic)" in r.stdout and "1/(N−1)" in r.stdout


@pytest.mark.parametrize("args,line", [
    (["noise", "--batch", "2000"], "Error: --batch must be an integer in [1, 1347]; got 2000"),
    (["noise", "--model", "rnn"], "Error: --model must be one of 'mlp', 'cnn'; got 'rnn'"),
    (["noise", "--lr", "0"], "Error: --lr must be in (0, inf); got 0.0"),
    (["noise", "--examples", "5000"], "Error: --examples must be an integer in [2, 1347]; got 5000"),
    (["breakeven", "--lrs", "0.1"], "Error: --lrs must list at least 2 distinct values; got 0.1"),
    (["breakeven", "--lrs", "0.1,x"], "Error: --lrs must be comma-separated numbers in (0, 10] (e.g. 0.01,0.1); got '0.1,x'"),
    (["three-factors", "--batches", "16,2000"],
     "Error: --batches[1] must be an integer in [1, 1347]; got 2000"),
])
def test_errors_are_one_line_naming_the_option(args, line):
    r = run(*args)
    assert r.exit_code == 2 and r.output == line + "\n"


def test_over_budget_model_is_refused_before_work():
    r = run("noise", "--width", "2000", "--depth", "3")
    assert r.exit_code == 2
    assert r.output.startswith("Error: --width and --depth give q = 8,") and "GiB" in r.output


def test_breakeven_json_and_plot(tmp_path):
    png = tmp_path / "be.png"
    r = run("breakeven", "--steps", "4", "--record-every", "2", "--seeds", "2", "--examples", "20", "--width", "4",
            "--alpha", "--plot", str(png), "--json")
    assert r.exit_code == 0, r.output
    obj = _strict(r.stdout)
    assert [c["quantity"] for c in obj["claims"]] == ["lambda_k", "lambda_h", "trace_k_over_lambda_k", "trace_k"]
    assert all(c["verdict"] in ("reproduced", "contradicted", "inconclusive") for c in obj["claims"])
    assert len(obj["runs"]) == 4 and all(u["steps"] == [0, 2, 4] for u in obj["runs"])
    assert all(len(u["curves"]["alpha_star"]) == 3 for u in obj["runs"])
    assert png.stat().st_size > 0


def test_three_factors_json_and_table(tmp_path):
    r = run("three-factors", "--lrs", "0.1,0.2", "--batches", "256,512", "--epochs", "1", "--seeds", "2",
            "--examples", "20", "--width", "4", "--plot", str(tmp_path / "tf.png"))
    assert r.exit_code == 0, r.output
    assert "spread within diagonals" in r.stdout and "J17:" in r.stdout
    r = run("three-factors", "--lrs", "0.1,0.2", "--batches", "256,512", "--epochs", "1", "--seeds", "2",
            "--examples", "20", "--width", "4", "--json")
    obj = _strict(r.stdout)
    assert len(obj["runs"]) == 8
    devs = obj["log_sharpness"]["configs"]
    # η/S = 0.2/512 = 0.1/256 is the one diagonal holding two configurations
    assert [d["deviation"] is not None for d in devs] == [True, False, False, True]
