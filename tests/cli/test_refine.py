"""`initbounds refine` (issue 13): one-line errors with exit 2, the JSON contract, a tiny run with
its figure, and `initbounds derive refine`."""
from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from initbounds.cli import app

runner = CliRunner()
TINY = ["--blocks", "2", "--width", "6", "--steps", "6", "--seeds", "2"]


def run(*args):
    return runner.invoke(app, ["refine", *args])


@pytest.mark.parametrize("args, message", [
    (["--blocks", "0"], "Error: --blocks must be an integer in [1, 32]; got 0"),
    (["--width", "257"], "Error: --width must be an integer in [1, 256]; got 257"),
    (["--alpha", "0"], "Error: --alpha must be in (0, 10]; got 0.0"),
    (["--norm", "ln"], "Error: --norm must be one of 'none', 'bn', 'ubn'; got 'ln'"),
    (["--steps", "0"], "Error: --steps must be an integer in [1, 100000]; got 0"),
    (["--lr", "0"], "Error: --lr must be in (0, 10]; got 0.0"),
    (["--batch", "1"], "Error: --batch must be an integer in [2, 1000]; got 1"),
    (["--momentum", "1"], "Error: --momentum must be in [0, 1); got 1.0"),
    (["--seeds", "0"], "Error: --seeds must be an integer in [1, 64]; got 0"),
    (["--plot", "out.gif"],
     "Error: --plot must name a .png, .svg or .pdf file in an existing, writable directory; got 'out.gif'"),
])
def test_bad_input_is_one_line_exit_2(args, message):
    r = run(*args)
    assert r.exit_code == 2, r.output
    assert r.output.strip() == message
    assert "Traceback" not in r.output


def test_cost_refusal_and_divergence_name_an_option():
    r = run("--blocks", "32", "--width", "256", "--steps", "100000", "--seeds", "64")
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1
    assert r.output.startswith("Error: this run plans about") and "--steps" in r.output
    r = run("--blocks", "4", "--width", "16", "--steps", "40", "--seeds", "1", "--lr", "10", "--alpha", "10")
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1
    assert "diverged" in r.output and "--lr" in r.output


def test_json_contract_and_figure(tmp_path):
    png = tmp_path / "refine.png"
    r = run(*TINY, "--json", "--plot", str(png))
    assert r.exit_code == 0, r.output
    obj = json.loads(r.output, parse_constant=lambda c: pytest.fail(f"non-finite {c} in JSON"))
    assert {"config", "steps", "cos_backprop", "cos_head_at_h", "ratio", "drop_loss", "sharing", "summary", "gap",
            "closed_forms", "findings", "plot"} <= set(obj)
    assert obj["config"]["blocks"] == 2 and obj["steps"][0] == 0 and obj["steps"][-1] == 6
    assert len(obj["cos_backprop"]) == 2 and len(obj["cos_backprop"][0][0]) == 2
    assert obj["closed_forms"]["branch_ratio_mean"] == 0.25
    for f in obj["findings"]:
        assert f["verdict"] in ("agrees", "contradicts", "undecided", "not measured")
    assert png.stat().st_size > 10_000


def test_text_output_names_the_paper_and_the_closed_forms():
    r = run(*TINY, "--norm", "bn", "--variant", "pre")
    assert r.exit_code == 0, r.output
    for text in ("Closed forms at initialization", "E‖F‖²/‖h‖² = α²", "cos backprop", "cos head_at_h",
                 "J18's statements beside our figures", "shared + ubn (remedy)", "equal weight count"):
        assert text in r.output
    assert "nan" not in r.output.lower().replace("nano", "")


def test_derive_refine_prints_the_closed_forms():
    r = runner.invoke(app, ["derive", "refine"])
    assert r.exit_code == 0
    assert "J18" in r.stdout and "atan(α)" in r.stdout and "B² + B(B−1)/n" not in r.stdout   # sympy's, not typed
