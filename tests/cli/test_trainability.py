"""`initbounds trainability` (issue 5): one-line errors with exit 2, the JSON contract, a tiny run."""
from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from initbounds.cli import app

runner = CliRunner()


def run(*args):
    return runner.invoke(app, ["trainability", *args])


@pytest.mark.parametrize("args, message", [
    (["--seeds", "0"], "Error: --seeds must be an integer ≥ 1; got 0"),
    (["--epochs", "0"], "Error: --epochs must be an integer ≥ 1; got 0"),
    (["--threshold", "0"], "Error: --threshold must be in (0, 1]; got 0.0"),
    (["--threshold", "1.5"], "Error: --threshold must be in (0, 1]; got 1.5"),
    (["--lr", "0"], "Error: --lr must be in (0, inf); got 0.0"),
    (["--batch-size", "0"], "Error: --batch-size must be an integer ≥ 1; got 0"),
    (["--seed", "-1"], "Error: --seed must be an integer ≥ 0; got -1"),
    (["--depths", "2,x"], "Error: --depths must be comma-separated integers ≥ 1 (e.g. 2,4,8,16); got '2,x'"),
    (["--depths", "2,0"], "Error: --depths[1] must be an integer ≥ 1; got 0"),
    (["--family", "wide"], "Error: --family must be one of 'both', 'constant-beta', 'constant-width'; got 'wide'"),
    (["--ratio", "0"], "Error: --ratio must be in (0, inf); got 0.0"),
    (["--ratio", "0.1"], "Error: --ratio × depth must round to a width ≥ 1; got 0.1 × 2"),
    (["--width", "0"], "Error: --width must be an integer ≥ 1; got 0"),
    (["--configs", "8x2", "--depths", "2"], "Error: --configs replaces --depths, --family, --width and --ratio; give one or the other"),
    (["--configs", "8-2"], "Error: --configs must be comma-separated WIDTHxDEPTH pairs (e.g. 16x2,32x4); got '8-2'"),
    (["--configs", "8x2,0x3"], "Error: --configs[1] width must be an integer ≥ 1; got 0"),
    (["--plot", "out.gif"], "Error: --plot must name a .png, .svg or .pdf file in an existing, writable directory; got 'out.gif'"),
])
def test_bad_input_is_one_line_exit_2(args, message):
    r = run(*args)
    assert r.exit_code == 2
    assert r.output.strip() == message
    assert "Traceback" not in r.output


def test_json_contract():
    r = run("--configs", "8x1,8x2", "--seeds", "2", "--epochs", "1", "--threshold", "0.5", "--json")
    assert r.exit_code == 0, r.output
    obj = json.loads(r.output)
    assert set(obj) == {"settings", "configs", "association", "seconds"}
    for key in ("threshold", "epochs_cap", "optimizer", "lr", "batch_size", "nets_per_config", "seed", "accuracy",
                "n_train", "n_test", "init"):
        assert key in obj["settings"]
    assert obj["settings"]["epochs_cap"] == 1 and obj["settings"]["nets_per_config"] == 2
    assert [(c["width"], c["depth"]) for c in obj["configs"]] == [(8, 1), (8, 2)]
    for c in obj["configs"]:
        for key in ("beta", "var_ratio", "reached", "p_reached", "p_reached_ci", "median_epochs_reached",
                    "median_epochs_reached_ci", "median_epochs_all", "median_epochs_all_ci", "epochs_to_threshold",
                    "diverged", "train_accuracy", "test_accuracy"):
            assert key in c
        assert all(e is None or (isinstance(e, int) and 0 <= e <= 1) for e in c["epochs_to_threshold"])
        assert c["reached"] == sum(e is not None for e in c["epochs_to_threshold"])
    assert obj["configs"][1]["beta"] == 0.25
    assert set(obj["association"]) == {"beta_vs_epochs", "depth_vs_epochs"}
    assert set(obj["association"]["beta_vs_epochs"]) == {"rho", "p_value", "n"}


def test_tiny_table_run_and_plot(tmp_path):
    out = tmp_path / "t.png"
    r = run("--depths", "1,2", "--ratio", "4", "--seeds", "2", "--epochs", "1", "--threshold", "0.5",
            "--plot", str(out))
    assert r.exit_code == 0, r.output
    assert "HR18 trainability on digits" in r.output
    assert "Spearman ρ(β, epochs), all nets" in r.output
    assert "Spearman ρ(depth, epochs), constant-width family" in r.output
    assert f"wrote {out}" in r.output.replace("\n", "")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
