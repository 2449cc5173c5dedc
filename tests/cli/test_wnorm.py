"""`initbounds width --weight-norm`, `prob --weight-norm [--gain]` and `derive wnorm` (AB19 v1;
docs/theory.md §12): exit codes, JSON shape (nulls with their reasons), exact error lines."""
from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from initbounds.bounds import wnorm
from initbounds.cli import app

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_width_weight_norm_json():
    r = run("width", "--depth", 3, "--samples", 4, "--delta", 0.1, "--eps", 0.5, "--weight-norm", "--json")
    assert r.exit_code == 0, r.output
    obj = json.loads(r.output)
    assert obj["inputs"]["weight_norm"] is True
    by = {m["name"]: m for m in obj["methods"]}
    assert list(by) == list(wnorm.METHODS)
    ref = {x.name: x.min_width for x in wnorm.min_widths(3, 4, 0.1, 0.5)}
    for name in wnorm.METHODS:
        assert by[name]["min_width"] == ref[name]
    assert by["exact_union"]["min_width"] <= by["chernoff_product"]["min_width"]
    r = run("width", "--depth", 3, "--samples", 4, "--delta", 1e-12, "--eps", 0.5, "--weight-norm", "--json")
    by = {m["name"]: m for m in json.loads(r.output)["methods"]}
    assert by["exact_union"]["min_width"] is None and "tolerance" in by["exact_union"]["min_width_not_computed"]


def test_width_default_unchanged_by_the_new_option():
    a = run("width", "--depth", 2, "--delta", 0.1, "--eps", 0.5, "--json")
    obj = json.loads(a.output)
    assert "weight_norm" not in obj["inputs"]
    assert obj["methods"][-1]["min_width"] is not None


def test_width_weight_norm_table_shows_the_dash_with_its_reason():
    r = run("width", "--depth", 2, "--delta", 0.1, "--eps", 0.5, "--weight-norm")
    assert r.exit_code == 0, r.output
    assert "weight-normalized" in r.output and "exact_union" in r.output


def test_prob_weight_norm_gain_one_halves_the_mean():
    r = run("prob", "--width", 100, "--depth", 3, "--eps", 0.5, "--weight-norm", "--gain", 1, "--json")
    assert r.exit_code == 0, r.output
    obj = json.loads(r.output)
    assert obj["mean_ratio"] == 0.5
    assert obj["log_mean_sq_ratio_L"] == pytest.approx(3 * -0.6931471805599453, rel=1e-14)
    assert obj["chernoff_product"] is None and "norm-preserving" in obj["chernoff_product_not_computed"]
    # the mean 1/2 per layer: after 3 layers the ratio sits near 1/8, far below the band [0.5, 1.5];
    # staying in the band at every layer is rarer than at the last one, and than at the first (the
    # one-layer CDF at gain 1)
    tol = obj["tolerance"]
    c = wnorm.law_cdf(100, 100, [0.5, 1.5], gain=1.0)
    assert obj["p_stay"] <= obj["p_last"] + tol
    assert obj["p_stay"] <= float(c.cdf[1] - c.cdf[0]) + 2 * c.tolerance + tol
    assert obj["p_last"] < 1e-3


def test_prob_weight_norm_default_gain_preserves():
    obj = json.loads(run("prob", "--width", 64, "--depth", 2, "--eps", 0.5, "--weight-norm", "--json").output)
    assert obj["gain"] == pytest.approx(2**0.5, rel=1e-15) and obj["mean_ratio"] == 1.0
    assert 0.0 <= obj["chernoff_product"] <= obj["chernoff_per_layer"] <= 1.0
    # the bounds are above the union value N·(1 − p_stay), less its tolerance
    assert obj["p_fail_union"] - obj["tolerance"] <= obj["chernoff_product"]


@pytest.mark.parametrize("args, line", [
    (("--gain", 1), "Error: --gain applies only with --weight-norm"),
    (("--weight-norm", "--gain", -1), "Error: --gain must be in (0, inf); got -1.0"),
    (("--weight-norm", "--gain", "x"), "Error: --gain must be a real number in (0, inf); got 'x'"),
])
def test_prob_bad_gain_is_one_line(args, line):
    r = run("prob", "--width", 10, "--depth", 2, "--eps", 0.5, *args)
    assert r.exit_code == 2
    assert r.output.strip().splitlines() == [line]


def test_prob_weight_norm_huge_width_refuses_in_one_line():
    r = run("prob", "--width", 2**54, "--depth", 2, "--eps", 0.5, "--weight-norm")
    assert r.exit_code == 2
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and "2^53" in lines[0] and "--width" in lines[0]


def test_derive_wnorm():
    r = run("derive", "wnorm")
    assert r.exit_code == 0 and "Beta" in r.output
