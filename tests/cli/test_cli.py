"""CLI contract tests: exit codes, exact one-line errors, JSON shapes (typer's CliRunner)."""
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
        (["validate", "--trials", "3"], "Error: --trials must be an integer ≥ 10; got 3"),
        (["validate", "--plot", "out.pdf"], "Error: --plot must name a .png or .svg file; got 'out.pdf'"),
        (["check", "--trials", "-1"], "Error: --trials must be an integer ≥ 0; got -1"),
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
    r = run("width", "--delta", "0.05", "--eps", "0.1")
    assert r.exit_code == 2 and r.output.strip() == "Error: Missing option '--depth'."


def test_unknown_claim():
    r = run("validate", "nope")
    assert r.exit_code == 2
    assert r.output.startswith("Error: CLAIM must be one of rho_mean, ")
    assert r.output.strip().endswith("got 'nope'")


def test_width_json_contract():
    r = run("width", "--depth", "3", "--samples", "4", "--delta", "0.1", "--eps", "0.5", "--json")
    assert r.exit_code == 0, r.output
    obj = json.loads(r.output)
    assert obj["inputs"] == {"depth": 3, "samples": 4, "delta": 0.1, "eps": 0.5,
                             "norm": "squared", "layers": "all"}
    names = [m["name"] for m in obj["methods"]]
    assert names == ["authors_formula", "chernoff_per_layer", "chernoff_product", "exact_union"]
    for m in obj["methods"]:
        assert isinstance(m["min_width"], int) and m["min_width"] >= 1
        assert isinstance(m["source"], str) and m["source"]
    w = {m["name"]: m["min_width"] for m in obj["methods"]}
    assert w["exact_union"] <= w["chernoff_product"] <= w["chernoff_per_layer"]


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


@pytest.mark.parametrize("fmt, marker", [("text", "Minimum width"), ("latex", r"\begin{enumerate}"),
                                         ("markdown", "# Minimum width")])
def test_derive_formats(fmt, marker):
    r = run("derive", "width", "--format", fmt)
    assert r.exit_code == 0, r.output
    assert marker in r.output
    assert "authors' code" in r.output


def test_validate_json_single_claim():
    r = run("validate", "rho_cdf_ks", "--trials", "2000", "--seed", "3", "--json")
    assert r.exit_code == 0, r.output
    obj = json.loads(r.output)
    assert obj["seed"] == 3
    (c,) = obj["claims"]
    assert set(c) >= {"name", "kind", "theory", "estimate", "ci", "verdict", "source"}
    assert c["verdict"] == "pass"


def test_check_json_small_design(tmp_path):
    r = run("check", "--depth", "2", "--width", "256", "--samples", "2", "--delta", "0.1",
            "--eps", "0.5", "--trials", "10", "--json")
    assert r.exit_code == 0, r.output
    obj = json.loads(r.output)
    assert [m["name"] for m in obj["methods"]][-1] == "exact_union"
    assert obj["spot_check"]["trials"] == 10
    assert 0.0 <= obj["spot_check"]["estimate"] <= 1.0
    lv = obj["length_variance"]
    assert lv["beta"] == pytest.approx(2 / 256) and lv["fm1"] == "preserved"
    assert lv["fm2_var_ratio"] == pytest.approx((1 + 5 / 256) ** 2 - 1, rel=1e-12)
    from initbounds.bounds.band import band_probability

    b = band_probability(256, 2, 0.5, 2.0, layers="last")       # issue 5: P(off by > 2×) in check
    assert abs(lv["p_off_by_2"] - b.p_fail) <= lv["p_off_by_2_tolerance"] + b.tolerance


def test_check_plot(tmp_path):
    p = tmp_path / "check.png"
    r = run("check", "--depth", "3", "--width", "64", "--samples", "2", "--delta", "0.1", "--eps", "0.5",
            "--trials", "300", "--plot", str(p))
    assert r.exit_code == 0, r.output
    assert "P(last-layer length off by > 2×)" in r.output and p.stat().st_size > 10_000


def test_width_command_does_not_import_torch():
    code = ("import sys; from typer.testing import CliRunner; from initbounds.cli import app; "
            "r = CliRunner().invoke(app, ['width', '--depth', '2', '--delta', '0.1', '--eps', '0.5']); "
            "assert r.exit_code == 0, r.output; print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("args", [["variance", "--widths", "16,16,16", "--input-dim", "8", "--weights", "laplace"],
                                  ["variance", "--widths", "8,8,8,8"],
                                  ["resnet", "--blocks", "100", "--width", "8", "--branch-width", "8", "--eta", "1"]])
def test_variance_and_resnet_do_not_import_torch(args):
    code = ("import sys; from typer.testing import CliRunner; from initbounds.cli import app; "
            f"r = CliRunner().invoke(app, {args!r}); "
            "assert r.exit_code == 0, r.output; print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_validate_real_path_and_device_errors():
    r = run("validate", "rho_mean", "--trials", "500", "--real", "--json")
    assert r.exit_code == 0, r.output
    (c,) = json.loads(r.output)["claims"]
    assert c["path"] == "real" and c["verdict"] == "pass"
    r = run("validate", "rho_mean", "--device", "tpu7")
    assert r.exit_code == 2
    assert r.output.strip() == "Error: --device must be a torch device such as 'cpu' or 'cuda'; got 'tpu7'"


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


def test_derive_death():
    r = run("derive", "death", "--format", "markdown")
    assert r.exit_code == 0 and "Neuron death" in r.output


def test_validate_plot_is_written(tmp_path):
    out = tmp_path / "v.png"
    r = run("validate", "rho_mean", "width_authors_formula", "--trials", "300", "--plot", str(out))
    assert r.exit_code == 0, r.output
    assert out.exists() and out.stat().st_size > 10_000
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_death_schedule():
    r = run("death", "--schedule", "2,1", "--depth", "1000", "--json")
    assert r.exit_code == 0, r.output
    lim = json.loads(r.output)["schedule_limit"]
    assert lim["positive"] and 0 < lim["lower"] <= lim["upper"] < 1
    r = run("death", "--schedule", "1,3", "--depth", "50", "--json")
    assert json.loads(r.output)["schedule_limit"]["positive"] is False


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


def test_figure_gh21_writes_four_pngs(tmp_path):
    r = run("figure", "gh21", "--out", str(tmp_path), "--trials", "500")
    assert r.exit_code == 0, r.output
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["gh21_lognorm_density.png", "gh21_moment_blowup.png", "gh21_sigma_vs_s.png", "gh21_slope.png"]
    r = run("figure", "nope")
    assert r.exit_code == 2 and r.output.strip() == "Error: FIGURE must be one of 'gh21', 'regions'; got 'nope'"


def test_variance_json_contract():
    r = run("variance", "--widths", "16,16,16", "--input-dim", "8", "--json")
    assert r.exit_code == 0, r.output
    obj = json.loads(r.output)
    for key in ("beta", "mean_ratio", "second_moment_ratio", "var_ratio", "var_bracket", "jacobian_kurtosis_ratio"):
        assert key in obj
    assert obj["beta"] == pytest.approx(3 / 16)
    assert obj["law"]["p_off_by_2"] == pytest.approx(0.5334, abs=1e-3) and obj["exact_second_moment"] is None
    r = run("variance", "--widths", "4", "--weights", "laplace")
    assert r.exit_code == 2 and r.output == ("Error: --weights laplace needs --input-dim: the second moment "
                                             "depends on the input's q = Σx⁴/(Σx²)²\n")
    r = run("variance", "--widths", "16,16,16", "--input-dim", "8", "--weights", "rademacher", "--bias-var", "0.1", "--json")
    obj = json.loads(r.output)
    assert r.exit_code == 0 and obj["law"] is None and obj["var_bracket"] is None
    assert obj["exact_second_moment"]["kurtosis"] == 1.0 and obj["mean_with_bias"] == pytest.approx(1.15)


@pytest.mark.parametrize("args, message", [
    (["--widths", "4,4", "--weight-var", "2,0"], "Error: --weight-var[1] must be in (0, inf); got 0.0"),
    (["--widths", "4,4", "--weight-var", "2,2,2"], "Error: --weight-var must give one value or one per layer (2); got 3"),
    (["--widths", "4,4", "--bias-var", "x"], "Error: --bias-var must be a number or comma-separated numbers (one per layer); got 'x'"),
    (["--widths", "4,4", "--weights", "cauchy"], "Error: --weights must be one of 'gaussian', 'uniform', 'rademacher', 'laplace'; got 'cauchy'"),
    (["--widths", "4,4", "--input-dim", "4", "--input-flatness", "0.1"], "Error: --input-flatness must be in [0.25, 1]; got 0.1"),
    (["--widths", "4,4", "--input-flatness", "0.5"], "Error: --input-flatness needs --input-dim (its range is [1/n0, 1])"),
    (["--widths", "4,4", "--target-var", "0"], "Error: --target-var must be in (0, inf); got 0.0"),
    (["--widths", "4,4", "--bias-var", "1", "--plot", "x.png"], "Error: --plot needs Gaussian weights and zero bias (the exact law is only known there)"),
])
def test_variance_bad_input(args, message):
    r = run("variance", *args)
    assert r.exit_code == 2 and r.output == message + "\n", r.output


def test_variance_plot_and_target(tmp_path):
    p = tmp_path / "d.png"
    r = run("variance", "--widths", "8,8,8", "--target-var", "1", "--plot", str(p), "--trials", "500", "--json")
    assert r.exit_code == 0, r.output
    obj = json.loads(r.output)
    assert p.stat().st_size > 10_000 and obj["width_for_target_var"]["constant_width"] == 20


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
    assert r.exit_code == 2 and r.output == "Error: --blocks must be an integer ≥ 1; got 0\n"
    r = run("resnet", "--blocks", "3", "--width", "8", "--branch-width", "8", "--eta", "-1")
    assert r.exit_code == 2 and r.output == "Error: --eta must be in [0, inf); got -1.0\n"


@pytest.mark.parametrize("which", ["variance", "resnet"])
def test_derive_variance_and_resnet(which):
    for fmt in ("text", "latex", "markdown"):
        r = run("derive", which, "--format", fmt)
        assert r.exit_code == 0 and "HR18" in r.output
