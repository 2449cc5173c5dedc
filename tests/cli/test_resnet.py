"""`initbounds resnet` (commands.resnet): JSON contract, exact errors, plot."""
from __future__ import annotations

import json
import math
import subprocess
import sys


import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
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


def test_issue11_resnet_plot_at_a_million_blocks_plots_logs_without_warnings(tmp_path, monkeypatch):
    """issue 11 (fuzz): `resnet --blocks 1000000 --width 64 --branch-width 64 --eta 1 --plot r.png`
    printed matplotlib's RuntimeWarning "overflow in scalar add" (the normalized second moment,
    e^{4.3e4}, was plotted as inf). The curves are plotted from their logs: every plotted y value is
    finite and equals, for the constant schedule, the closed form b·log10(1 + η²) (mean) and
    b·log10(E F²/(E F)²) (normalized second moment), with E F² from an mpmath evaluation of the
    block's expression; the x values are log-spaced blocks with both ends."""
    import mpmath as mp
    import numpy as np
    import warnings

    from initbounds.sim import plots

    lines = {}
    real_new = plots.new_figure

    def spy(*a, **k):
        fig, axes = real_new(*a, **k)
        for i, ax in enumerate(np.atleast_1d(axes)):
            ax_plot = ax.plot

            def rec(x, y, *args, _i=i, _p=ax_plot, **kw):
                lines.setdefault(_i, []).append((np.asarray(x), np.asarray(y), kw.get("label")))
                return _p(x, y, *args, **kw)
            ax.plot = rec
        return fig, axes
    monkeypatch.setattr(plots, "new_figure", spy)
    path = tmp_path / "r.png"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = run("resnet", "--blocks", "1000000", "--width", "64", "--branch-width", "64", "--eta", "1",
                "--plot", str(path))
    assert r.exit_code == 0, r.output
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    eta, n, m = mp.mpf(1), mp.mpf(64), mp.mpf(64)      # docs/theory.md §7, typed here (not the code's sympy)
    ef = 1 + eta**2
    ef2 = (1 + eta**2) ** 2 + 4 * eta**2 / n + eta**4 * ((1 + 5 / m) * (1 + 2 / n) - 1)
    assert ef == 2
    for ax, per_block in ((0, mp.log10(ef)), (1, mp.log10(ef2 / ef**2))):
        x, y, label = lines[ax][0]
        assert label == "η_b = η (exact)"
        assert x[0] == 1 and x[-1] == 10**6 and np.all(np.diff(x) > 0) and len(x) <= 2100
        assert np.all(np.isfinite(y))
        np.testing.assert_allclose(y, x * float(per_block), rtol=1e-9)
    assert float(1_000_000 * mp.log10(ef2 / ef**2)) > 308      # the value itself is beyond a double


@given(st.integers(1, 10**9), st.integers(2, 5000))
@settings(max_examples=60, deadline=None)
def test_issue11_curve_points_are_increasing_block_indices_with_both_ends(blocks, points):
    """issue 11: the plotted blocks are a strictly increasing subset of 0..B−1 holding both ends,
    every block when B ≤ points, and at most points + 2 of them."""
    import numpy as np

    from initbounds.sim.plots import curve_points

    idx = curve_points(blocks, points)
    assert idx[0] == 0 and idx[-1] == blocks - 1
    assert np.all(np.diff(idx) > 0) and len(idx) <= points + 2
    if blocks <= points:
        assert len(idx) == blocks


def test_issue11_block_moments_have_logs_beside_them():
    """issue 11 (fuzz): at η = 1.8e308 one block's E F and E F² were null with no log; their logs
    are beside them: log E F = log(1 + η²) by mpmath at 50 digits."""
    import mpmath as mp

    eta = 1.7976931348623157e308
    r = run("resnet", "--blocks", "4", "--branch-width", "10000000", "--eta", repr(eta), "--width", "3", "--json")
    assert r.exit_code == 0, r.output
    out = _strict_json(r.output)
    assert out["block_mean"] is None and out["block_second_moment"] is None
    with mp.workdps(50):
        assert out["log_block_mean"] == pytest.approx(float(mp.log(1 + mp.mpf(eta) ** 2)), rel=1e-15)
    assert out["log_block_second_moment"] > 2 * out["log_block_mean"] - 1e-9     # E F² ≥ (E F)²
    r = run("resnet", "--blocks", "4", "--branch-width", "8", "--eta", "0.5", "--width", "3", "--json")
    out = _strict_json(r.output)
    assert out["log_block_mean"] == pytest.approx(math.log(out["block_mean"]), rel=1e-15)
    assert out["log_block_second_moment"] == pytest.approx(math.log(out["block_second_moment"]), rel=1e-15)
