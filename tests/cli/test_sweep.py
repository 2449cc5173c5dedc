"""`initbounds sweep` (commands.sweep, issue 16): the table on disk, the JSON and text reports, the
plot, --data, resumption from the command line, and bad input as one line with exit 2 before any
work."""
from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from initbounds.cli import app
from initbounds.sim.sweep import COLUMNS, read_table

runner = CliRunner()
GRID = ["--widths", "16:64:x2", "--depths", "2,3", "--delta", "0.1", "--eps", "0.4", "--trials", "400"]


def run(*args):
    return runner.invoke(app, ["sweep", *args])


def test_json_table_and_parquet_agree(tmp_path):
    r = run(*GRID, "--samples", "3", "--correlation", "0.5", "--out", str(tmp_path / "o"), "--json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    rows = read_table(tmp_path / "o" / "sweep.csv")
    assert [(c["width"], c["depth"]) for c in d["cells"]] == [(w, L) for L in (2, 3) for w in (16, 32, 64)]
    assert rows == d["cells"] and list(rows[0]) == list(COLUMNS)
    pq = pytest.importorskip("pyarrow.parquet")
    assert pq.read_table(tmp_path / "o" / "sweep.parquet").to_pylist() == d["cells"]
    for c in d["cells"]:
        assert c["ci_low"] <= c["frequency"] <= c["ci_high"] and c["failures"] == round(c["frequency"] * 400)
        assert c["exact_single"] <= c["bound_exact_union"] * (1 + 2e-3)
    assert set(d["min_width_curves"]) == {"authors_formula", "chernoff_per_layer", "chernoff_product", "exact_union"}
    assert d["tasks"] == {"total": 6, "reused": 0, "corrupt_recomputed": 0, "computed": 6}
    assert d["inputs"]["samples"] == 3 and d["scheduler"] == "inprocess"
    # run again: everything reused, the same table
    again = json.loads(run(*GRID, "--samples", "3", "--correlation", "0.5", "--out", str(tmp_path / "o"),
                           "--json").stdout)
    assert again["tasks"]["reused"] == 6 and again["cells"] == d["cells"]


def test_text_report_and_plot(tmp_path):
    r = run(*GRID, "--out", str(tmp_path / "o"), "--plot", str(tmp_path / "h.png"))
    assert r.exit_code == 0, r.output
    for text in ("exact (1 input)", "exact_union", "Minimum width at δ = 0.1 per depth", "Tasks: 6 (0 reused",
                 "sweep.csv", "the AB19 curve is the authors' width formula solved for δ (not a bound)"):
        assert text in " ".join(r.output.split())
    assert (tmp_path / "h.png").stat().st_size > 10_000


def test_data_file_inputs(tmp_path):
    x = np.random.default_rng(0).normal(size=(5, 7))
    np.save(tmp_path / "x.npy", x)
    r = run(*GRID, "--data", str(tmp_path / "x.npy"), "--out", str(tmp_path / "o"), "--json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["inputs"]["samples"] == 5 and d["inputs"]["input_dim"] == 7 and d["inputs"]["correlation"] is None


@pytest.mark.parametrize("args, message", [
    (["--widths", "0:8:x2"], "Error: --widths must be comma-separated integers or a range a:b:xK (geometric) or "
                             "a:b:+K (arithmetic), each ≥ 1 (e.g. 16:4096:x2); got '0:8:x2'"),
    (["--widths", "1:1000000:+1"], "Error: --widths must list at most 64 values; got 1000000"),
    (["--depths", "2,2"], "Error: --depths must list each value once; got [2, 2]"),
    (["--scheduler", "local:0"], "Error: --scheduler must be 'inprocess', 'local:K' (1 ≤ K ≤ 256) or "
                                 "'tcp://host:port'; got 'local:0'"),
    (["--samples", "2", "--data", "x.npy"], "Error: --data must name an existing"),
    (["--trials", "0"], "Error: --trials must be an integer in [1, 1000000000]; got 0"),
])
def test_bad_input_is_one_line_exit_2(tmp_path, args, message):
    base = dict(zip(GRID[::2], GRID[1::2]))
    for flag, value in zip(args[::2], args[1::2]):
        base[flag] = value
    argv = [a for kv in base.items() for a in kv] + ["--out", str(tmp_path / "o")]
    r = run(*argv)
    assert r.exit_code == 2 and r.output.startswith(message) and r.output.count("\n") == 1, r.output
    assert not (tmp_path / "o").exists()                 # nothing written


def test_budget_refusal_states_the_cost_before_any_work(tmp_path):
    r = run("--widths", "4096", "--depths", "64", "--samples", "200", "--delta", "0.1", "--eps", "0.3", "--trials",
            "1000000", "--out", str(tmp_path / "o"))
    assert r.exit_code == 2 and r.output.count("\n") == 1
    assert "s of one core by the cost model" in r.output and "--budget-seconds" in r.output, r.output
    assert not (tmp_path / "o").exists()


def test_an_output_file_or_foreign_sweep_is_refused(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    r = run(*GRID, "--out", str(f))
    assert r.exit_code == 2 and "--out must name a writable directory" in r.output and r.output.count("\n") == 1
    assert run(*GRID, "--out", str(tmp_path / "o")).exit_code == 0
    r = run(*GRID, "--eps", "0.3", "--out", str(tmp_path / "o"))
    assert r.exit_code == 2 and "holds a sweep of other arguments" in r.output and r.output.count("\n") == 1
