"""`initbounds variance` (commands.variance): JSON contract, exact one-line errors, plot and target."""
from __future__ import annotations

import json
import math
import subprocess
import sys


import pytest
from typer.testing import CliRunner

from initbounds.cli import app

runner = CliRunner()


def run(*args):
    return runner.invoke(app, list(args))



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


@pytest.mark.parametrize("args", [["variance", "--widths", "16,16,16", "--input-dim", "8", "--weights", "laplace"],
                                  ["variance", "--widths", "8,8,8,8"]])
def test_variance_does_not_import_torch(args):
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
    "--widths 141,141,141,141,141,141 --weight-var 1e308", "--widths 10000000,10000000,10000000",
    "--widths 100,100 --target-var 1e-300", "--widths 100,100 --target-var 5e-324", "--widths 1 --weight-var 1e-300",
    "--widths 1,1,1 --weight-var 1e308", "--widths 10000000 --target-var 1e308",
])
def test_issue11_variance_extremes(args):
    """Issue 11: an OverflowError, 21–274 s and a hang; now exit 0, strict JSON, < 2 s."""

    run("variance", "--widths", "4", "--json")      # imports (not part of the budget)
    r = run("variance", *args.split(), "--json")
    assert r.exit_code == 0, r.output
    _strict_json(r.output)


@pytest.mark.parametrize("v", [1e-310, 5e-324, 1e-300, 0.5])
def test_issue11_target_var_subnormal_answers_with_logs_beside(v):
    """issue 11 (fuzz): `variance --widths 4 --target-var 1e-310` hung (earlier), then printed
    "overflow (see --json logs)" with no logs in the JSON. At depth 1, Var = (1 + 5/n) − 1 = 5/n, so
    the width is ⌈5/v⌉ with v the float's exact rational value (fractions, here); α = 5/log(1 + v)
    and the width per layer of depth are null beyond the double range, with their logs beside (mpmath
    at 60 digits)."""
    import math
    import warnings
    from fractions import Fraction

    import mpmath as mp

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = run("variance", "--widths", "4", "--target-var", repr(v), "--json")
    assert r.exit_code == 0, r.output
    wt = json.loads(r.output, parse_constant=lambda t: pytest.fail(f"non-finite token {t}"))["width_for_target_var"]
    n = math.ceil(5 / Fraction(v))
    assert wt["constant_width"] == n and wt["depth"] == 1
    with mp.workdps(60):
        log_alpha = mp.log(5 / mp.log1p(mp.mpf(v)))
        log_per_layer = mp.log(n)
    assert wt["log_width_proportional_to_depth_any_depth"] == pytest.approx(float(log_alpha), rel=1e-14)
    assert wt["log_width_per_layer_of_depth"] == pytest.approx(float(log_per_layer), rel=1e-14)
    for key in ("width_per_layer_of_depth", "width_proportional_to_depth_any_depth"):
        if wt["log_" + key] < 709:
            assert wt[key] == pytest.approx(math.exp(wt["log_" + key]), rel=1e-13)
        else:
            assert wt[key] is None
    text = run("variance", "--widths", "4", "--target-var", repr(v)).output
    assert "see --json logs" not in text


@pytest.mark.parametrize("trials", [str(10**30), str(2**30 // 8 + 1)])
def test_issue11_plot_trials_beyond_the_memory_budget_refused_before_the_work(trials, tmp_path, monkeypatch):
    """issue 11 (fuzz campaign): `variance --widths 4 --json --plot p.png --trials 10^30` ran until
    stopped. Every simulated ratio is kept (8 bytes each) for the histogram: beyond the 1 GiB budget,
    2^30/8 = 134217728 networks, one line, exit 2, naming --trials and the bound, before any network
    is drawn and with no file written."""
    import initbounds.sim.variance as sv

    def no_draw(*a, **k):
        raise AssertionError("networks drawn before the refusal")
    monkeypatch.setattr(sv, "sample_networks", no_draw)
    path = tmp_path / "p.png"
    r = run("variance", "--widths", "4", "--plot", str(path), "--trials", trials, "--json")
    assert r.exit_code == 2, r.output
    assert len(r.output.strip().splitlines()) == 1
    gib = 8 * int(trials) / 2**30
    assert r.output.startswith(f"Error: --trials {trials} would keep about {gib:.3g} GiB of simulated ratios")
    assert r.output.rstrip().endswith("--trials must be ≤ 134217728")
    assert not path.exists()


def test_issue11_fuzz_campaign_variance_extremes(tmp_path):
    """issue 11 (fuzz campaign, seed 12): `variance --widths 2,3,5 --weight-var 5e-324` raised a math
    domain error (log(c/2) with c/2 = 0.0); `--widths 4 --weight-var 1e308 --input-dim 8` printed
    E Z² = inf (now null beside its log: log E Z² = log(c/n0) + log(c/2), mpmath); `--plot` with
    every simulated net dead (50 layers of width 2, 2 nets) warned from numpy's histogram."""
    import warnings

    import mpmath as mp

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = run("variance", "--widths", "2,3,5", "--weight-var", "5e-324", "--json")
        assert r.exit_code == 0, r.output
        d = json.loads(r.output, parse_constant=lambda t: pytest.fail(t))
        assert d["law"]["p_dead"] == pytest.approx(1 - (1 - 2.0**-2) * (1 - 2.0**-3) * (1 - 2.0**-5), rel=1e-12)
        r = run("variance", "--widths", "4", "--weight-var", "1e308", "--input-dim", "8", "--json")
        assert r.exit_code == 0, r.output
        d = json.loads(r.output, parse_constant=lambda t: pytest.fail(t))
        assert d["jacobian_second_moment"] is None
        with mp.workdps(40):
            ref = mp.log(mp.mpf(1e308) / 8) + mp.log(mp.mpf(1e308) / 2)
        assert d["log_jacobian_second_moment"] == pytest.approx(float(ref), rel=1e-14)
        text = run("variance", "--widths", "4", "--weight-var", "1e308", "--input-dim", "8").output
        assert " inf " not in text and "e^1415.62" in text
        path = tmp_path / "v.png"
        r = run("variance", "--widths", ",".join(["2"] * 50), "--plot", str(path), "--trials", "2")
        assert r.exit_code == 0, r.output
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    d = json.loads(run("variance", "--widths", "16,16,16", "--input-dim", "8", "--json").output)
    assert d["log_jacobian_second_moment"] == pytest.approx(math.log(d["jacobian_second_moment"]), rel=1e-14)
