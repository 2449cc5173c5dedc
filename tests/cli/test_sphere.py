"""`initbounds sphere` (commands.sphere): JSON contract, exact one-line errors, search, plot, derive."""
from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from initbounds.cli import app

runner = CliRunner()


def run(*args):
    return runner.invoke(app, list(args))


BASE = ["sphere", "--input-dim", "4", "--depth", "1", "--delta", "0.1", "--eps", "0.5"]


def test_sphere_table_and_json():
    r = run(*BASE, "--subspace", "2", "--samples", "100")
    assert r.exit_code == 0, r.output
    assert "sphere (k = 4)" in r.output and "subspace (k = 2)" in r.output and "leading order" in r.output
    r = run(*BASE, "--subspace", "2", "--width", "100000", "--json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["sphere"]["min_width"] > d["subspace"]["min_width"] > 0
    assert d["at_width"]["width"] == 100000 and 0 < d["at_width"]["eps"] < 0.5
    assert all(u["min_width"] > 0 for u in d["union"])
    assert "search" not in d


@pytest.mark.parametrize("args, msg", [
    (BASE[:-2] + ["--eps", "1.5"], "Error: --eps must be in (0, 1); got 1.5"),
    (BASE + ["--subspace", "9"], "Error: --subspace must be an integer in [1, input_dim = 4]; got 9"),
    (BASE + ["--restarts", "1"], "Error: --restarts must be an integer in [2, 4096]; got 1"),
    (BASE + ["--plot", "p.txt"], "Error: --plot must name a .png, .svg or .pdf file in an existing, writable "
                                 "directory; got 'p.txt'"),
    (BASE + ["--method", "exact"], None),
    (["sphere", "--input-dim", "4", "--delta", "0.1", "--eps", "0.5"], None),
])
def test_sphere_errors(args, msg):
    r = run(*args)
    assert r.exit_code == 2
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ")
    if msg is not None:
        assert lines[0] == msg


def test_search_cost_refusal_names_options():
    r = run("sphere", "--input-dim", "64", "--depth", "2", "--delta", "0.05", "--eps", "0.5", "--search")
    assert r.exit_code == 2
    line = r.output.strip()
    assert line.startswith("Error: ") and "--width" in line and "\n" not in line


def test_search_json_and_plot(tmp_path):
    p = tmp_path / "s.png"
    r = run(*BASE, "--search", "--trials", "6", "--restarts", "4", "--steps", "20", "--plot", str(p), "--json")
    assert r.exit_code == 0, r.output
    s = json.loads(r.stdout)["search"]
    assert s["lower_bound_only"] is True and len(s["per_network"]) == 6
    assert 0 <= s["worst_deviation"] < 0.5 and s["exceed_eps"] == 0
    assert p.stat().st_size > 0
    r = run(*BASE, "--search", "--trials", "3", "--restarts", "4", "--steps", "5", "--width", "50")
    assert r.exit_code == 0, r.output
    assert "LOWER bound on the supremum" in r.output and "never confirm" in r.output


def test_plot_without_search_and_derive(tmp_path):
    p = tmp_path / "w.svg"
    r = run(*BASE, "--plot", str(p), "--derive")
    assert r.exit_code == 0, r.output
    assert p.stat().st_size > 0 and "γ-net" in r.output


def test_validate_runs_the_sphere_claims():
    r = run("validate", "sphere_search_exact", "--trials", "10", "--json")
    assert r.exit_code == 0, r.output
    assert "pass" in r.output
