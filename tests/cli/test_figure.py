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


@pytest.mark.parametrize("out, got", [
    ("", "got ''"),
    ("/proc/figs", "got '/proc/figs' (cannot write in '/proc': "),
    ("{tmp}/missing/figs", "got '{tmp}/missing/figs' (no directory '{tmp}/missing')"),
    ("{tmp}/file.png", "got '{tmp}/file.png' (it exists and is not a directory)"),
])
def test_bad_out_is_refused_before_the_work(out, got, tmp_path):
    """Issue 11: figure --out to /proc, a missing parent or an existing file failed after the
    simulation; now one line naming --out, exit 2, before any work (a run takes ≥ 4 s; this < 1 s)."""

    (tmp_path / "file.png").write_bytes(b"x")
    out, got = out.replace("{tmp}", str(tmp_path)), got.replace("{tmp}", str(tmp_path))
    r = run("figure", "gh21", "--out", out, "--trials", "100")
    assert r.exit_code == 2 and r.output.count("\n") == 1, r.output
    assert r.output.startswith("Error: --out must name a writable directory (existing, or new in an existing, "
                               "writable directory); " + got)


def _valid(path, fmt: str) -> bool:
    """The file is a PNG (signature), a PDF (header and %%EOF) or an SVG (XML whose root is <svg>)."""
    data = path.read_bytes()
    if fmt == "png":
        return data[:8] == b"\x89PNG\r\n\x1a\n"
    if fmt == "pdf":
        return data[:5] == b"%PDF-" and b"%%EOF" in data[-32:]
    import xml.etree.ElementTree as ET

    return ET.fromstring(data).tag == "{http://www.w3.org/2000/svg}svg"


@pytest.mark.parametrize("fmt", ["svg", "pdf"])
def test_issue11_figure_gh21_format_writes_valid_files(fmt, tmp_path):
    """issue 11: one extension rule (png, svg, pdf) in every command; `figure` wrote only PNG. With
    --format each of the four gh21 files is written in that format (checked by its magic bytes or,
    for SVG, by parsing the XML), and nothing else is written."""
    r = run("figure", "gh21", "--out", str(tmp_path), "--trials", "100", "--format", fmt)
    assert r.exit_code == 0, r.output
    names = ["gh21_lognorm_density", "gh21_moment_blowup", "gh21_sigma_vs_s", "gh21_slope"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{n}.{fmt}" for n in names]
    for n in names:
        assert _valid(tmp_path / f"{n}.{fmt}", fmt)
        assert f"wrote {tmp_path / f'{n}.{fmt}'}" in r.output


def test_issue11_figure_regions_format_pdf(tmp_path):  # ~4 s: the sweep at its smallest size
    r = run("figure", "regions", "--out", str(tmp_path), "--trials", "100", "--format", "pdf")
    assert r.exit_code == 0, r.output
    assert [p.name for p in tmp_path.iterdir()] == ["regions_sweep.pdf"]
    assert _valid(tmp_path / "regions_sweep.pdf", "pdf")
    assert not _valid(tmp_path / "regions_sweep.pdf", "png")


@pytest.mark.parametrize("fmt", ["jpg", "", "PNG2", ".png"])
def test_issue11_figure_format_refused_before_the_work(fmt, tmp_path):
    r = run("figure", "gh21", "--out", str(tmp_path / "figs"), "--format", fmt)
    assert r.exit_code == 2 and r.output == f"Error: --format must be one of 'png', 'svg', 'pdf'; got {fmt!r}\n"
    assert not (tmp_path / "figs").exists()


def test_issue11_figure_formats_are_the_plot_rule():
    """The formats of `figure` and of the writers are the suffixes every --plot accepts."""
    from initbounds.commands._options import PLOT_SUFFIXES
    from initbounds.commands.figure import FORMATS
    from initbounds.sim.plots import FIGURE_FORMATS, figure_name

    assert tuple(FORMATS.options) == FIGURE_FORMATS == tuple(s[1:] for s in PLOT_SUFFIXES)
    assert figure_name("a", "svg") == "a.svg"
    with pytest.raises(ValueError, match="fmt"):
        figure_name("a", "jpg")
