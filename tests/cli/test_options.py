"""Options from the constraint declarations (commands._options): every command's declared options.

The issue: each parameter's constraint is declared once and drives the library's check, the
command line's message and its help text. For every option of every command: a value outside
its constraint gives one line that names the --option and what must hold (exit 2), text that does
not parse names the option and its range, and the help shows the range. An option that a library
function takes gets its constraint from that function's declaration (and the library raises the
DomainError); an option only the command line has declares its own.
"""
from __future__ import annotations

import pytest
from typer.testing import CliRunner

from initbounds import cli
from initbounds.bounds.errors import (DomainError, IntegerList, Interval, Options, OrNone, Pair, PerLayer,
                                      constraints_of)
from initbounds.cli import app

runner = CliRunner()

#: A valid invocation of each command (a bad option appended overrides the value given here).
BASE = {
    "width": ["--depth", "3", "--delta", "0.1", "--eps", "0.5"],
    "prob": ["--width", "64", "--depth", "2", "--eps", "0.5"],
    "death": ["--widths", "4,4"],
    "moment": ["--s", "1", "--width", "8"],
    "figure": ["gh21"],
    "figures": [],
    "regions": ["--widths", "4"],
    "trainability": [],
    "variance": ["--widths", "4,4"],
    "resnet": ["--blocks", "3", "--width", "4", "--branch-width", "4", "--eta", "0.5"],
    "refine": ["--blocks", "2", "--width", "4", "--steps", "2", "--seeds", "1"],
    "validate": [],
    "check": [],
    "certify": ["--dataset", "iris", "--depth", "1", "--delta", "0.2", "--eps", "0.5"],
    "sweep": ["--widths", "8", "--depths", "1", "--samples", "1", "--delta", "0.1", "--eps", "0.5", "--trials", "10",
              "--out", __import__("tempfile").mkdtemp(prefix="initbounds-sweep-")],
    "sphere": ["--input-dim", "4", "--depth", "1", "--delta", "0.1", "--eps", "0.5"],
    "noise": [],
    "breakeven": [],
    "three-factors": [],
    "audit": [f"{__import__('pathlib').Path(__file__).resolve().parent / 'models_for_audit.py'}:default_mlp",
              "--input-shape", "32", "--networks", "2", "--points", "2"],
}


def _command(name):
    return cli._topic(cli.COMMANDS[name]).get_command(None, name)


def _options():
    """(command, flag, constraint) for every declared option of every command."""
    out = []
    for name in cli.COMMANDS:
        cmd = _command(name)
        declared = cmd.callback.option_constraints
        assert declared, name
        for p in cmd.params:
            if p.name in declared:
                out.append((name, p.opts[0], declared[p.name]))
    return out


OPTIONS = _options()


def _inner(c):
    return c.inner if isinstance(c, OrNone) else c


def _text(value) -> str:
    """A value as the command line writes it."""
    if isinstance(value, list) and value and isinstance(value[0], tuple):
        return ",".join(f"{w}x{d}" for w, d in value)
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)


def test_every_command_declares_its_options():
    names = {(c, f) for c, f, _ in OPTIONS}
    for flag in ("--depth", "--samples", "--delta", "--eps"):
        assert ("width", flag) in names
    assert ("check", "--trials") in names and ("regions", "--grid") in names and ("variance", "--weight-var") in names
    assert len(OPTIONS) >= 60


def test_library_options_take_the_library_declaration():
    """--depth of `width` is width_report's declaration, not a copy."""
    from initbounds.bounds.design import design_report
    from initbounds.bounds.width import width_report

    assert _command("width").callback.option_constraints["depth"] is constraints_of(width_report)["depth"]
    assert _command("check").callback.option_constraints["s"] is constraints_of(design_report)["s"]


@pytest.mark.parametrize("command, flag, constraint", [o for o in OPTIONS if _inner(o[2]).invalid_example() is not None],
                         ids=lambda v: v if isinstance(v, str) else "")
def test_bad_value_names_the_option_and_its_range(command, flag, constraint):
    c = _inner(constraint)
    text = _text(c.invalid_example())
    with pytest.raises(DomainError) as e:
        c.validate(flag, c.parse(text))
    expected = f"Error: {e.value}"
    r = runner.invoke(app, [command, *BASE[command], flag, text])
    assert r.exit_code == 2, r.output
    assert r.output == expected + "\n"
    assert flag in r.output and "Traceback" not in r.output
    if isinstance(c, Interval):
        assert c.describe() in r.output          # the range the declaration states


NUMERIC = [o for o in OPTIONS if isinstance(_inner(o[2]), (Interval, IntegerList, PerLayer, Pair))
           or type(_inner(o[2])).__name__ == "Configs"]


@pytest.mark.parametrize("command, flag, constraint", NUMERIC, ids=lambda v: v if isinstance(v, str) else "")
def test_unparsable_value_names_the_option_and_its_range(command, flag, constraint):
    r = runner.invoke(app, [command, *BASE[command], flag, "x"])
    assert r.exit_code == 2
    assert r.output == f"Error: {flag} must be {_inner(constraint).expects()}; got 'x'\n"


# (--input-flatness has no static range: it is [1/n0, 1], stated in its help in those words)
RANGED = [o for o in NUMERIC if not (isinstance(_inner(o[2]), Interval) and _inner(o[2]).left is None
                                     and _inner(o[2]).right is None)]


@pytest.mark.parametrize("command, flag, constraint", RANGED, ids=lambda v: v if isinstance(v, str) else "")
def test_help_states_the_declared_range(command, flag, constraint):
    c = _inner(constraint)
    p = next(p for p in _command(command).params if p.opts[0] == flag)
    assert c.range_text() in p.help


def test_parse_error_is_one_line_with_the_range():
    """Regression (the issue): `--depth x` named the option but not what it must be."""
    r = runner.invoke(app, ["width", "--depth", "x", "--delta", "0.05", "--eps", "0.1"])
    assert r.exit_code == 2 and r.output == "Error: --depth must be an integer ≥ 1; got 'x'\n"
    r = runner.invoke(app, ["prob", "--width", "64", "--depth", "2", "--eps", "half"])
    assert r.exit_code == 2 and r.output == "Error: --eps must be a real number in (0, 1); got 'half'\n"


def test_library_error_is_spelled_as_the_commands_option():
    """The library names its parameter (DomainError.param); the line names the option."""
    from initbounds.bounds.resnet import resnet_report

    with pytest.raises(DomainError) as e:
        resnet_report(3, 4, 0, 0.5)
    assert e.value.param == "branch_width" and str(e.value) == "branch_width must be an integer ≥ 1; got 0"
    r = runner.invoke(app, ["resnet", "--blocks", "3", "--width", "4", "--branch-width", "0", "--eta", "0.5"])
    assert r.exit_code == 2 and r.output == "Error: --branch-width must be an integer ≥ 1; got 0\n"


def test_messages_that_name_several_options():
    r = runner.invoke(app, ["death", "--widths", "4,4", "--depth", "3"])
    assert r.exit_code == 2 and r.output == "Error: --depth goes with --width or --schedule, not with --widths\n"
    r = runner.invoke(app, ["moment", "--s", "1", "--width", "8", "--slope", "0.2"])
    assert r.exit_code == 2 and r.output == "Error: --slope goes with --activation leaky\n"
    r = runner.invoke(app, ["moment", "--s", "1", "--width", "8", "--lower", "0.2"])
    assert r.exit_code == 2 and r.output == "Error: --lower/--upper go with --activation rrelu\n"


def test_cost_limit_is_one_line():
    # issue 11: the totals answer up to 10^15 blocks; the per-block curves of --plot stop at 10^8
    r = runner.invoke(app, ["resnet", "--blocks", "100000001", "--width", "4", "--branch-width", "4", "--eta", "1",
                            "--plot", "never-written.png"])
    assert r.exit_code == 2
    assert r.output == ("Error: --blocks must be ≤ 10^8 for per-block curves (they are held in memory; about "
                        "4.47 GiB here); got 100000001\n")
    r = runner.invoke(app, ["death", "--schedule", "2,1", "--depth", "2000000"])
    assert r.exit_code == 2
    assert r.output == "Error: --depth with --schedule must be an integer in [1, 1000000]; got 2000000\n"


def test_input_flatness_help_states_its_dependent_range():
    p = next(p for p in _command("variance").params if p.opts[0] == "--input-flatness")
    assert "in [1/n0, 1]" in p.help


def test_trainability_families_are_the_simulators():
    from initbounds.sim.trainability import FAMILIES

    c = _command("trainability").callback.option_constraints["family"]
    assert isinstance(c, Options) and c.options == FAMILIES


# --- issue 11: one rule for --plot (and figure's --out), checked before the work ------------------------
PLOTTING = [name for name in cli.COMMANDS if "plot" in _command(name).callback.option_constraints]


def test_every_plot_option_is_the_one_rule():
    """Issue 11: every command's --plot is the shared option (png, svg, pdf; help says an existing
    file is overwritten); no command has a --plot the rule does not cover."""
    from initbounds.commands._options import PlotFile

    assert set(PLOTTING) == {"check", "validate", "trainability", "variance", "resnet", "sphere", "refine", "breakeven",
                             "three-factors", "audit", "sweep"}
    for name in cli.COMMANDS:
        for p in _command(name).params:
            if "--plot" in p.opts:
                c = _command(name).callback.option_constraints["plot"]
                assert isinstance(c, PlotFile) and c.options == (".png", ".svg", ".pdf")
                assert "an existing file is overwritten" in p.help and ".pdf" in p.help


def _bad_plots(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    return [
        (str(tmp_path / "missing" / "p.png"), f"got '{tmp_path / 'missing' / 'p.png'}' (no directory "
                                              f"'{tmp_path / 'missing'}')"),
        ("/proc/p.png", "got '/proc/p.png' (cannot write in '/proc': "),
        (str(d) + "/", f"got '{d}/', a directory"),
        (str(d), f"got '{d}', a directory"),
        ("", "got ''"),
        (str(d / ".png"), f"got '{d / '.png'}'"),
        (str(d / "p.txt"), f"got '{d / 'p.txt'}'"),
    ]


@pytest.mark.parametrize("command", PLOTTING)
def test_bad_plot_path_is_refused_before_the_work(command, tmp_path, monkeypatch):
    """Issue 11: --plot to a missing directory, /proc, a directory (DIR/ wrote DIR/.png), '' or
    another extension: a traceback after the computation, and the report was lost. Now one line,
    exit 2, naming --plot and the rule, and the command never runs (its callback would raise)."""
    cmd = _command(command)

    def ran(*a, **k):
        raise AssertionError("the command ran")

    monkeypatch.setattr(cmd, "callback", ran)
    rule = "Error: --plot must name a .png, .svg or .pdf file in an existing, writable directory; "
    for path, got in _bad_plots(tmp_path):
        r = runner.invoke(app, [command, *BASE[command], "--plot", path])
        assert r.exit_code == 2, (path, r.output)
        assert r.output.startswith(rule + got) and r.output.count("\n") == 1, r.output
    assert not (tmp_path / "d" / ".png").exists()


def test_plot_overwrites_an_existing_file_and_writes_pdf(tmp_path):
    """Issue 11: the rule for an existing file is to overwrite it (stated in --help); .pdf is a
    format of every --plot (resnet's plot is the quickest to draw)."""
    base = ["resnet", "--blocks", "3", "--width", "4", "--branch-width", "4", "--eta", "0.5"]
    old = tmp_path / "r.png"
    old.write_bytes(b"not a plot")
    r = runner.invoke(app, [*base, "--plot", str(old)])
    assert r.exit_code == 0, r.output
    assert old.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pdf = tmp_path / "r.PDF"
    r = runner.invoke(app, [*base, "--plot", str(pdf)])
    assert r.exit_code == 0, r.output
    assert pdf.read_bytes()[:5] == b"%PDF-"


def test_plot_check_leaves_no_file_behind(tmp_path):
    """The writability probe creates and removes a temporary file: the directory is unchanged."""
    from initbounds.commands._options import PlotFile

    assert PlotFile().validate("--plot", str(tmp_path / "a.svg")) == str(tmp_path / "a.svg")
    assert list(tmp_path.iterdir()) == []
