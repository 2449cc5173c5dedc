"""The root of `initbounds` (cli.py): the command list, --version, the error boundary, a thin root."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import initbounds
from initbounds import cli
from initbounds.bounds.errors import DomainError
from initbounds.cli import app

runner = CliRunner()

#: The commands of `initbounds --help`, in its order (the order before the split into commands/).
ORDER = ["width", "prob", "death", "moment", "figure", "figures", "regions", "trainability", "variance", "resnet", "certify",
         "sweep", "refine", "noise", "breakeven", "three-factors", "validate", "check", "sphere", "audit", "derive"]


def run(*args):
    return runner.invoke(app, list(args))


def test_help_lists_the_commands_in_order():
    r = run("--help")
    assert r.exit_code == 0, r.output
    listed = re.findall(r"^│ ([\w-]+) ", r.output.split("Commands")[1], flags=re.M)
    assert listed == ORDER
    assert "Minimum width for ‖h_l‖ ≈ ‖x‖ (within ε) with probability ≥ 1" in r.output
    assert "Print a derivation (text, LaTeX or Markdown)." in r.output


def test_version():
    r = run("--version")
    assert r.exit_code == 0 and r.output == f"initbounds {initbounds.__version__}\n"
    assert initbounds.__version__ == "0.1.0"


def test_python_m_initbounds_version():
    out = subprocess.run([sys.executable, "-m", "initbounds", "--version"], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "initbounds 0.1.0\n"


def test_cli_root_is_thin():
    """The issue: cli.py is the root only (≤ 150 lines); the commands live in commands/."""
    lines = Path(cli.__file__).read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 150
    assert not re.search(r"check_(int|real|choice)\(", Path(cli.__file__).read_text(encoding="utf-8"))


def test_no_hand_checks_in_command_modules():
    """Constraints are declared once: no command module re-checks a range by hand."""
    for path in (Path(cli.__file__).parent / "commands").glob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"check_(int|real|choice)\(", text), path.name
        assert '"--" + str(' not in text and "'--' + str(" not in text, path.name


def test_unknown_command_is_one_line():
    r = run("nope")
    assert r.exit_code == 2 and r.output.strip() == "Error: No such command 'nope'."


def test_debug_shows_the_error_with_its_parameter():
    r = run("--debug", "width", "--depth", "0", "--delta", "0.1", "--eps", "0.5")
    assert isinstance(r.exception, DomainError) and r.exception.param == "depth"
    assert str(r.exception) == "depth must be an integer ≥ 1; got 0"


@pytest.mark.parametrize("args", [
    ["width", "--depth", "2", "--delta", "0.1", "--eps", "0.5"],
    ["prob", "--width", "64", "--depth", "2", "--eps", "0.5"],
    ["moment", "--s", "1", "--width", "16", "--depth", "3"],
    ["death", "--widths", "4,4,4"],
    ["variance", "--widths", "8,8"],
    ["resnet", "--blocks", "10", "--width", "8", "--branch-width", "8", "--eta", "0.5"],
    ["derive", "width"],
])
def test_exact_commands_do_not_import_torch(args):
    code = ("import sys; from typer.testing import CliRunner; from initbounds.cli import app; "
            f"r = CliRunner().invoke(app, {args!r}); "
            "assert r.exit_code == 0, r.output; print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


#: A seed beyond 2^64 (torch's range), beyond 2^32 (scikit-learn's): issue 11 found both crashing.
HUGE_SEED = str(10**23 - 1)


@pytest.mark.parametrize("args", [
    ["validate", "rho_mean", "--trials", "100"],
    ["regions", "--widths", "4", "--trials", "20"],
    ["check", "--depth", "2", "--width", "32", "--samples", "2", "--trials", "20"],
    ["trainability", "--configs", "4x2", "--seeds", "1", "--epochs", "1"],
])
def test_any_nonnegative_seed_is_accepted(args):
    """Seeds enter the seed sequence (sim.core.Stream) whole, so every non-negative integer works."""
    r = run(*args, "--seed", HUGE_SEED, "--json")
    assert r.exit_code in (0, 1), r.output
    assert "Traceback" not in r.output and r.output.lstrip().startswith("{")


def test_validate_list_json_is_json():
    import json

    from initbounds.sim.validate import CLAIMS

    r = run("validate", "--list", "--json")
    assert r.exit_code == 0, r.output
    listed = json.loads(r.output)["claims"]
    assert [c["name"] for c in listed] == list(CLAIMS)
    assert set(listed[0]) == {"name", "kind", "claim", "source", "default_trials"}


def test_emit_json_is_strict(capsys):
    """Issue 11: with --json, `moment --s 1e-300 --width 10^30` printed the token Infinity, which
    is not JSON. emit_json writes non-finite floats (also numpy's) as null; the output parses with
    NaN/Infinity refused."""
    import math

    import numpy as np

    from initbounds.commands._render import emit_json

    def refuse(token):
        raise ValueError(token)

    emit_json({"a": math.inf, "b": [1.5, -math.inf, (math.nan, 2)], "c": np.float64("nan"), "d": np.float32(0.5),
               "e": {"f": np.int64(3)}})
    out = capsys.readouterr().out
    assert json.loads(out, parse_constant=refuse) == {"a": None, "b": [1.5, None, [None, 2]], "c": None, "d": 0.5,
                                                      "e": {"f": 3}}
    r = run("moment", "--s", "1e-300", "--width", str(10**30), "--json")
    if r.exit_code == 0:
        json.loads(r.stdout, parse_constant=refuse)
    else:
        assert r.exit_code == 2 and r.output.count("\n") == 1
