"""`initbounds audit` (commands.audit, issue 15): the example factories of models_for_audit.py through the
CLI, the JSON contract, and one-line errors with exit 2 for bad models and inputs."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from initbounds.cli import app

runner = CliRunner()
MODELS = str(Path(__file__).resolve().parent / "models_for_audit.py")


def run(*args):
    return runner.invoke(app, list(args))


def test_default_mlp_json_says_not_he_and_quantifies_the_vanishing():
    r = run("audit", f"{MODELS}:default_mlp", "--args", '{"width": 48}', "--input-shape", "32", "--points", "8",
            "--networks", "60", "--json")
    assert r.exit_code == 0, r.output
    obj = json.loads(r.output, parse_constant=lambda t: (_ for _ in ()).throw(ValueError(t)))
    assert [L["rule"] for L in obj["layers"]] == ["torch_default"] * 4
    assert [L["width"] for L in obj["layers"]] == [48, 48, 48, 10]
    assert obj["predictions"]["fm1"] == "vanishing" and obj["predictions"]["fm1_rate"] == pytest.approx(-1.791759469)
    assert obj["spot_check"]["networks"] == 60 and obj["spot_check"]["reinit"].startswith("factory")
    assert all(c["verdict"] == "agrees" for c in obj["spot_check"]["checks"])
    assert obj["recommendations"][0]["action"] == "he_init"
    assert obj["inputs"]["args"] == {"width": 48}


def test_table_output_and_plot(tmp_path):
    plot = tmp_path / "audit.png"
    r = run("audit", f"{MODELS}:small_cnn", "--input-shape", "1,8,8", "--points", "4", "--networks", "30",
            "--plot", str(plot))
    assert r.exit_code == 0, r.output
    assert "conv2d" in r.output and "channels as width" in r.output and "approximation" in r.output
    assert plot.stat().st_size > 0


def test_module_factory_and_dataset(monkeypatch):
    monkeypatch.syspath_prepend(str(Path(MODELS).parent))
    r = run("audit", "models_for_audit:small_cnn", "--dataset", "digits", "--points", "8", "--networks", "20",
            "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["inputs"]["points"] == 8


def test_data_file(tmp_path):
    import numpy as np

    np.save(tmp_path / "x.npy", np.random.default_rng(0).standard_normal((10, 32)))
    r = run("audit", f"{MODELS}:gelu_mlp", "--data", str(tmp_path / "x.npy"), "--networks", "20", "--json")
    assert r.exit_code == 0, r.output
    obj = json.loads(r.output)
    assert "outside the theory" in obj["layers"][1]["activation"]


def test_help_says_the_file_is_executed():
    r = run("audit", "--help")
    assert r.exit_code == 0 and "EXECUTED" in r.output


@pytest.mark.parametrize("args, msg", [
    (["/nonexistent/m.py:f", "--input-shape", "4"], "Error: MODEL file '/nonexistent/m.py' does not exist"),
    (["{M}:raising", "--input-shape", "4"],
     "Error: MODEL factory raised RuntimeError: this factory fails on purpose"),
    (["{M}:not_a_module", "--input-shape", "4"], "Error: MODEL factory must return a torch.nn.Module; got int"),
    (["{M}:no_layers", "--input-shape", "4"], "Error: the model has no Linear, Conv1d or Conv2d layer to audit"),
    (["{M}:nope", "--input-shape", "4"], "Error: MODEL '{M}' has no callable 'nope'"),
    (["x", "--input-shape", "4"], "Error: MODEL must be FILE.py:factory or module:factory; got 'x'"),
    (["{M}:default_mlp"], "Error: --input-shape (or --data FILE, or --dataset digits) must be given, exactly one of "
                          "them; got 0"),
    (["{M}:default_mlp", "--args", "[1]", "--input-shape", "4"],
     "Error: --args must be a JSON object of keyword arguments; got list"),
    (["{M}:default_mlp", "--data", "/nonexistent.npy"], "Error: --data file '/nonexistent.npy' does not exist"),
])
def test_one_line_errors(args, msg):
    args = [a.replace("{M}", MODELS) for a in args]
    r = run("audit", *args)
    assert r.exit_code == 2
    assert r.output.strip() == msg.replace("{M}", MODELS)


def test_input_shape_that_does_not_fit():
    r = run("audit", f"{MODELS}:default_mlp", "--input-shape", "5")
    assert r.exit_code == 2
    line = r.output.strip()
    assert "\n" not in line and line.startswith("Error: --input-shape must give inputs the model accepts; got inputs "
                                                "of shape (16, 5) (RuntimeError: ")


def test_fix_applies_he_saves_and_reaudits(tmp_path):
    import torch

    out = tmp_path / "fixed.pt"
    r = run("audit", f"{MODELS}:default_mlp", "--input-shape", "32", "--points", "8", "--networks", "60",
            "--fix", str(out), "--json")
    assert r.exit_code == 0, r.output
    obj = json.loads(r.output)
    assert [d["layer"] for d in obj["fix"]["applied"]] == ["0", "2", "4"]
    after = obj["fix"]["after"]
    assert after["predictions"]["fm1_rate"] == 0.0 and after["predictions"]["mean_ratio"] == 1.0
    assert all(c["verdict"] == "agrees" for c in after["checks"])       # re-measured after applying
    state = torch.load(out, weights_only=True)
    assert float(state["0.bias"].abs().sum()) == 0.0
    assert [d["layer"] for d in obj["predictions"]["not_he"]] == ["0", "2", "4"]


@pytest.mark.parametrize("path, why", [("out.txt", "its name must end in .pt"),
                                       ("/nonexistent-dir/out.pt", "no directory")])
def test_fix_path_checked_before_work(path, why):
    r = run("audit", f"{MODELS}:default_mlp", "--input-shape", "32", "--fix", path)
    assert r.exit_code == 2 and r.output.count("\n") == 1
    assert r.output.startswith("Error: --fix must be a .pt file in an existing, writable directory; got") and why in r.output


def test_certified_width_for_the_data_beside_the_width_methods():
    """--dataset: sim.certify.certify on the example batch for the chain's depth (tiny design: 4 digits rows,
    depth 2, 2 s of the cost model); its certified width lies between the exact one-input width and the union
    width, and the design is reported. A budget its first test does not fit is a refusal reported in the audit."""
    from initbounds.sim.certify import certify

    args = ["audit", f"{MODELS}:kaiming_mlp", "--args", '{"depth": 2, "width": 16, "input_dim": 64}', "--dataset",
            "digits", "--points", "4", "--networks", "20", "--json"]
    r = run(*args, "--certify-budget", "2")
    assert r.exit_code == 0, r.output
    cert = json.loads(r.output)["predictions"]["certified"]
    assert cert["design"]["depth"] == 2 and cert["design"]["delta"] == 0.05 and cert["samples"] == 4
    assert cert["single_width"] <= cert["width"] and cert["model_seconds"] <= 2
    # the same call made directly (the audit's example batch: the first 4 digits rows, standardized, float32)
    import numpy as np
    import torch
    from sklearn.datasets import load_digits

    X = load_digits().data[:4]
    X = (X - X.mean(0)) / np.where(X.std(0) > 0, X.std(0), 1.0)
    X = torch.from_numpy(X).to(torch.float32).to(torch.float64).numpy()
    direct = certify(X, depth=2, delta=0.05, eps=0.5, confidence=0.95, budget_seconds=2, seed=0)
    assert (cert["width"], cert["certified_by"], cert["union_width"]) == (direct.certified_width, direct.certified_by,
                                                                         direct.union_width)
    r = run(*args, "--certify-budget", "0.001")
    assert r.exit_code == 0, r.output
    cert = json.loads(r.output)["predictions"]["certified"]
    assert "width" not in cert and cert["reason"].startswith("sim.certify refused: the first test")
    r = run(*args[:-1], "--certify-budget", "0.001")
    assert r.exit_code == 0 and "certified width for these 4 inputs" in r.output and "refused" in r.output
    # no data given: no certificate
    r = run("audit", f"{MODELS}:kaiming_mlp", "--input-shape", "32", "--points", "4", "--networks", "20", "--json")
    assert "certified" not in json.loads(r.output)["predictions"]
