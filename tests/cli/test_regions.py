"""`initbounds regions` (commands.regions): exit codes, exact errors, JSON keys."""
from __future__ import annotations

import json


import pytest
from typer.testing import CliRunner

from initbounds.cli import app

runner = CliRunner()


def run(*args):
    return runner.invoke(app, list(args))



@pytest.mark.parametrize(
    "args, message",
    [
        (["regions", "--widths", "16,0"], "Error: --widths[1] must be an integer ≥ 1; got 0"),
        (["regions", "--widths", "a,b"], "Error: --widths must be comma-separated integers ≥ 1 (e.g. 4,4,4); got 'a,b'"),
        (["regions", "--widths", "8", "--input-dim", "0"], "Error: --input-dim must be an integer ≥ 1; got 0"),
        (["regions", "--widths", "8", "--weight-var", "0"], "Error: --weight-var must be in (0, inf); got 0.0"),
        (["regions", "--widths", "8", "--bias-var", "-1"], "Error: --bias-var must be in [0, inf); got -1.0"),
        (["regions", "--widths", "8", "--trials", "5"], "Error: --trials must be an integer ≥ 10; got 5"),
        (["regions", "--widths", "8", "--grid", "1"], "Error: --grid must be an integer in [2, 1024]; got 1"),
        (["regions", "--widths", "8", "--grid", "2000"], "Error: --grid must be an integer in [2, 1024]; got 2000"),
        (["regions", "--widths", "8", "--seed", "-1"], "Error: --seed must be an integer ≥ 0; got -1"),
        (["regions", "--widths", "8", "--input-dim", "1", "--slice"], "Error: --slice needs --input-dim ≥ 2; got 1"),
    ],
)
def test_bad_input_is_one_line_exit_2(args, message):
    r = run(*args)
    assert r.exit_code == 2
    assert r.output.strip() == message
    assert "Traceback" not in r.output


def test_missing_widths():
    r = run("regions")
    assert r.exit_code == 2 and r.output.strip() == "Error: Missing option '--widths'."


def test_segment_json_contract():
    r = run("regions", "--widths", "16,16", "--trials", "200", "--seed", "4", "--json")
    assert r.exit_code == 0, r.output
    obj = json.loads(r.output)
    assert set(obj) == {"inputs", "neurons", "depth", "first_layer_segment", "one_layer_window", "hr19", "simulated"}
    assert obj["inputs"]["mode"] == "segment" and obj["inputs"]["segment"] == {"x0": [2**0.5, 0.0], "x1": [0.0, 2**0.5]}
    assert obj["inputs"]["bias_var"] == 1.0 and obj["inputs"]["weight_var"] == 2.0 and obj["inputs"]["fan"] == "in"
    assert obj["neurons"] == 32 and obj["depth"] == 2 and obj["one_layer_window"] is None
    fl = obj["first_layer_segment"]
    assert fl["regions"] == pytest.approx(1 + fl["breakpoints"]) and fl["source"].startswith("derived")
    assert obj["hr19"] == {"value": 32.0, "dim": 1, "source": "paper", "citation": "HR19", "text": obj["hr19"]["text"]}
    sim = obj["simulated"]
    assert sim["trials"] == 200 and sim["level"] == 0.95 and sim["ci"][0] <= sim["mean"] <= sim["ci"][1]
    assert set(sim["first_layer_breakpoints"]) == {"mean", "ci"}


def test_slice_json_contract_and_table():
    r = run("regions", "--widths", "12", "--slice", "--trials", "40", "--grid", "33", "--json")
    assert r.exit_code == 0, r.output
    obj = json.loads(r.output)
    w = obj["one_layer_window"]
    assert w["method"] == "closed form (square)" and 0 < w["p_pair"] < w["p_line"] < 1
    assert w["regions"] == pytest.approx(1 + 12 * w["p_line"] + 66 * w["p_pair"])
    assert obj["hr19"]["dim"] == 2 and obj["hr19"]["value"] == 144.0
    assert set(obj["simulated"]["exact_one_layer"]) == {"mean", "ci", "method"}
    assert obj["inputs"]["window"]["half_side"] == pytest.approx(2**0.5)
    r = run("regions", "--widths", "12", "--slice", "--trials", "40", "--grid", "33")
    assert r.exit_code == 0, r.output
    assert "paper claim (HR19), order of magnitude" in r.output and "derived, exact" in r.output
    assert "exact arrangement count" in r.output and "lower bound" in r.output


@pytest.mark.parametrize("args, derived", [
    (["--widths", "50", "--input-dim", "2", "--segment", "--bias-var", "1e12", "--trials", "200"],
     lambda d: d["first_layer_segment"]["regions"]),
    (["--widths", "1", "--input-dim", "2", "--slice", "--bias-var", "0.01", "--trials", "200", "--grid", "32"],
     lambda d: d["one_layer_window"]["regions"]),
])
def test_issue11_nearly_constant_counts_get_an_honest_interval(args, derived):
    """issue 11: these printed [1, 1] (CI of [0, 0] breakpoints around 3.2e-5) and [2, 2] around
    1.998. The interval now has positive width and contains the exact mean (bounds.regions)."""
    r = run("regions", *args, "--json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    lo, hi = d["simulated"]["ci"]
    truth = derived(d)
    assert hi > lo and lo <= truth <= hi
    if "first_layer_breakpoints" in d["simulated"]:
        lo, hi = d["simulated"]["first_layer_breakpoints"]["ci"]
        assert hi > lo and lo <= d["first_layer_segment"]["breakpoints"] <= hi
    if "exact_one_layer" in d["simulated"]:
        lo, hi = d["simulated"]["exact_one_layer"]["ci"]
        assert hi > lo and lo <= truth <= hi


def test_issue11_input_dim_100000_slice_answers_and_an_oversized_network_is_refused():
    """issue 11: `regions --widths 8 --input-dim 100000 --slice --trials 10` tried to allocate
    74.5 GiB; it answers now. A network too large for the memory budget is one line, exit 2,
    stating the estimate and naming the options."""
    r = run("regions", "--widths", "8", "--input-dim", "100000", "--slice", "--trials", "10", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["simulated"]["trials"] == 10
    r = run("regions", "--widths", "100000", "--input-dim", "100000", "--slice", "--trials", "10")
    assert r.exit_code == 2
    assert r.output.startswith("Error: --widths 100000, --input-dim 100000 and --grid 128: counting the activation "
                               "patterns on the grid needs about 75.2 GiB for one network")
    assert len(r.output.strip().splitlines()) == 1


@pytest.mark.parametrize("mode", ["--segment", "--slice"])
def test_issue11_any_nonnegative_seed_on_both_paths(mode):
    """issue 11: seeds ≥ 2^64 crashed inside torch; they enter the seed sequence whole now (the
    segment path is also in tests/cli/test_cli.py); the same huge seed gives the same numbers."""
    out = []
    for seed in (str(10**23 - 1), str(10**23 - 2)):
        r = run("regions", "--widths", "6", mode, "--trials", "10", "--grid", "16", "--seed", seed, "--json")
        assert r.exit_code == 0, r.output
        d = json.loads(r.output)
        assert d["inputs"]["seed"] == int(seed)
        out.append(d["simulated"]["mean"])
    r = run("regions", "--widths", "6", mode, "--trials", "10", "--grid", "16", "--seed", str(10**23 - 1), "--json")
    assert json.loads(r.output)["simulated"]["mean"] == out[0]


@pytest.mark.parametrize("mode", ["--segment", "--slice"])
def test_issue11_input_dim_2_to_63_refused_with_the_estimate(mode):
    """issue 11 (fuzz): `regions --trials 10 --widths 3,5,2 --input-dim 9223372036854775808` raised
    numpy's "Maximum allowed dimension exceeded" in default_segment; it is one line, exit 2, naming
    --input-dim and stating the memory of the input vectors (128 bytes per coordinate, computed
    here independently), before any work."""
    from initbounds.sim.regions import DERIVED_BYTES_PER_INPUT

    n0 = 2**63
    r = run("regions", "--trials", "10", "--widths", "3,5,2", "--input-dim", str(n0), mode)
    assert r.exit_code == 2, r.output
    assert len(r.output.strip().splitlines()) == 1
    gib = DERIVED_BYTES_PER_INPUT * n0 / 2**30
    assert r.output.startswith(f"Error: --input-dim {n0}: storing the segment's and the window's input vectors "
                               f"needs about {gib:.3g} GiB")
    assert f"{gib:.3g}" == "1.1e+12"


def test_issue11_input_dim_a_million_answers_with_the_exact_first_layer():
    """issue 11 (fuzz campaign): `regions --trials 20 --widths 3,5,2 --input-dim 1000000` took 15-98 s,
    47 s of it in 60-digit sums over a million zero coordinates of the default segment. The first
    layer's expected breakpoints are n1·∠/π with, for x0 = √n0·e1, x1 = √n0·e2, σ_w² = 2/n0 and
    σ_b² = 1, the lifted ends (√2·e1, 1) and (√2·e2, 1): cos ∠ = 1/3 (independent of n0)."""
    import math

    r = run("regions", "--trials", "10", "--widths", "3", "--input-dim", "1000000", "--json")
    assert r.exit_code == 0, r.output
    fl = json.loads(r.output)["first_layer_segment"]
    assert fl["angle"] == pytest.approx(math.acos(1 / 3), rel=1e-15)
    assert fl["breakpoints"] == pytest.approx(3 * math.acos(1 / 3) / math.pi, rel=1e-15)
