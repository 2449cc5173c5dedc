"""`initbounds figure` (commands.figure): exact errors, the PNG files."""
from __future__ import annotations

import pytest
from typer.testing import CliRunner

from initbounds.cli import app

runner = CliRunner()


def run(*args):
    return runner.invoke(app, list(args))



@pytest.mark.parametrize(
    "args, message",
    [
        (["figure", "nope"], "Error: FIGURE must be one of 'gh21', 'regions'; got 'nope'"),
        (["figure", "regions", "--trials", "50"], "Error: --trials must be an integer ≥ 100; got 50"),
    ],
)
def test_bad_input_is_one_line_exit_2(args, message):
    r = run(*args)
    assert r.exit_code == 2
    assert r.output.strip() == message
    assert "Traceback" not in r.output


def test_figure_gh21_writes_four_pngs(tmp_path):
    r = run("figure", "gh21", "--out", str(tmp_path), "--trials", "500")
    assert r.exit_code == 0, r.output
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["gh21_lognorm_density.png", "gh21_moment_blowup.png", "gh21_sigma_vs_s.png", "gh21_slope.png"]
    r = run("figure", "nope")
    assert r.exit_code == 2 and r.output.strip() == "Error: FIGURE must be one of 'gh21', 'regions'; got 'nope'"


def test_figure_regions_writes_the_png(tmp_path):  # ~4 s: the sweep at its smallest size
    r = run("figure", "regions", "--out", str(tmp_path), "--trials", "100")
    assert r.exit_code == 0, r.output
    png = tmp_path / "regions_sweep.png"
    assert png.exists() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
