"""`initbounds derive` (commands.derive): every derivation in every format."""
from __future__ import annotations

import pytest
from typer.testing import CliRunner

from initbounds.cli import app

runner = CliRunner()


def run(*args):
    return runner.invoke(app, list(args))



@pytest.mark.parametrize("fmt, marker", [("text", "Minimum width"), ("latex", r"\begin{enumerate}"),
                                         ("markdown", "# Minimum width")])
def test_derive_formats(fmt, marker):
    r = run("derive", "width", "--format", fmt)
    assert r.exit_code == 0, r.output
    assert marker in r.output
    assert "authors' code" in r.output


def test_derive_death():
    r = run("derive", "death", "--format", "markdown")
    assert r.exit_code == 0 and "Neuron death" in r.output


@pytest.mark.parametrize("which", ["variance", "resnet"])
def test_derive_variance_and_resnet(which):
    for fmt in ("text", "latex", "markdown"):
        r = run("derive", which, "--format", fmt)
        assert r.exit_code == 0 and "HR18" in r.output


def test_derive_regions_formats():
    r = run("derive", "regions")
    assert r.exit_code == 0 and "Activation regions at initialization (HR19)" in r.output
    assert "[paper; HR19]" in r.output and "Kac–Rice" in r.output
    r = run("derive", "regions", "--format", "latex")
    assert r.exit_code == 0 and r.output.startswith(r"\section*{") and "#" not in r.output
    r = run("derive", "regions", "--format", "markdown")
    assert r.exit_code == 0 and r.output.startswith("# Activation regions")
