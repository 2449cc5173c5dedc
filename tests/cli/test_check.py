"""`initbounds check` (commands.check): exit codes, exact errors, the JSON of the design report, the plot."""
from __future__ import annotations

import json
import math


import pytest
from typer.testing import CliRunner

from initbounds.cli import app

runner = CliRunner()


def run(*args):
    return runner.invoke(app, list(args))



@pytest.mark.parametrize(
    "args, message",
    [
        (["check", "--trials", "-1"], "Error: --trials must be an integer ≥ 0; got -1"),
    ],
)
def test_bad_input_is_one_line_exit_2(args, message):
    r = run(*args)
    assert r.exit_code == 2
    assert r.output.strip() == message
    assert "Traceback" not in r.output


def test_check_json_small_design(tmp_path):
    r = run("check", "--depth", "2", "--width", "256", "--samples", "2", "--delta", "0.1",
            "--eps", "0.5", "--trials", "10", "--json")
    assert r.exit_code == 0, r.output
    obj = json.loads(r.output)
    assert [m["name"] for m in obj["methods"]][-1] == "exact_union"
    assert obj["spot_check"]["trials"] == 10
    assert 0.0 <= obj["spot_check"]["estimate"] <= 1.0
    lv = obj["length_variance"]
    assert lv["beta"] == pytest.approx(2 / 256) and lv["fm1"] == "preserved"
    assert lv["fm2_var_ratio"] == pytest.approx((1 + 5 / 256) ** 2 - 1, rel=1e-12)
    from initbounds.bounds.band import band_probability

    b = band_probability(256, 2, 0.5, 2.0, layers="last")       # issue 5: P(off by > 2×) in check
    assert abs(lv["p_off_by_2"] - b.p_fail) <= lv["p_off_by_2_tolerance"] + b.tolerance


def test_check_plot(tmp_path):
    p = tmp_path / "check.png"
    r = run("check", "--depth", "3", "--width", "64", "--samples", "2", "--delta", "0.1", "--eps", "0.5",
            "--trials", "300", "--plot", str(p))
    assert r.exit_code == 0, r.output
    assert "P(last-layer length off by > 2×)" in r.output and p.stat().st_size > 10_000


def test_check_answers_with_a_dash_where_an_exact_part_exceeds_the_cost_model():
    """Issue 11 (widthsolve): `check --width 64 --depth 100000 --trials 0` took 13–22 s, then refused
    the whole report. The part beyond its cost model (p_last) now reads as "—" with its reason,
    naming the options; the rest answers."""
    r = run("check", "--width", "64", "--depth", "100000", "--trials", "0")
    assert r.exit_code == 0, r.output
    assert "p_last = —" in r.output and "beyond this tool's cost limit" in r.output
    assert "Traceback" not in r.output


def test_check_tiny_eps_and_tiny_s_answer():
    """Issue 11 (fuzz): `check --eps 1e-300` named the internal `lo`; `check --width 1 --s 1e-300`
    refused (σ_s² beyond doubles). Both answer now: "—"/null with the reason, σ_s²'s log beside it."""
    import json

    r = run("check", "--eps", "1e-300", "--trials", "0", "--json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert d["probabilities"]["p_stay"] is None and "eps" in d["probabilities"]["p_stay_not_computed"]
    r = run("check", "--width", "1", "--s", "1e-300", "--trials", "0", "--json")
    assert r.exit_code == 0, r.output
    fm = json.loads(r.output)["fractional_moment"]
    assert fm["sigma2"] is None and fm["log_sigma2"] > 1e300


# --- issue 11: the spot-check's budget is stated, decided before sampling, and buys more on request ----
def test_spot_check_says_when_it_cuts_the_networks():
    """Issue 11: the spot-check cut the networks to 2 under its budget and said nothing (CI
    [0.158, 1.0]). Now the text and the JSON say how many of the requested networks ran and name
    --spot-seconds with the budget that runs them all; the cut result is the one --trials T gives."""
    args = ["check", "--depth", "6", "--width", "2048", "--samples", "16", "--trials", "2000",
            "--spot-seconds", "0.5"]
    r = run(*args, "--json")
    assert r.exit_code == 0, r.output
    spot = json.loads(r.output)["spot_check"]
    T = spot["trials"]
    assert 1 <= T < 2000 and spot["trials_capped"] and spot["trials_requested"] == 2000
    assert spot["budget_seconds"] == 0.5 and spot["budget_for_all"] > 0.5
    assert f"--spot-seconds {spot['budget_for_all']} runs all 2,000" in spot["note"]
    text = run(*args)
    assert text.exit_code == 0, text.output
    flat = " ".join(text.output.split())
    assert f"Spot-check cut to {T:,} of the 2,000 requested networks" in flat and "--spot-seconds" in flat
    # the same networks as asking for T of them (same seed): the cut is reproducible
    same = json.loads(run(*args[:-4], "--trials", str(T), "--json").output)["spot_check"]
    assert same["trials"] == T and not same["trials_capped"] and same["note"] is None
    assert (same["failures"], same["worst_deviation"]) == (spot["failures"], spot["worst_deviation"])
    # a budget that covers them all runs them all
    full = json.loads(run(*args[:-2], "--spot-seconds", str(spot["budget_for_all"]), "--json").output)
    assert full["spot_check"]["trials"] == 2000 and not full["spot_check"]["trials_capped"]


def test_spot_check_refuses_before_sampling_and_states_the_cost():
    """Issue 11: `check --width 10000000 --depth 3 --trials 10` spent ~20 s in the spot-check (the
    inputs alone are 1.7·10^8 numbers). The cost model refuses it before any sampling (< 1 s), with
    the estimate and the --spot-seconds that buys it."""

    from initbounds.sim.spotcheck import spot_check
    spot = spot_check(depth=3, width=10_000_000, samples=16, eps=0.5, trials=10, seed=0)
    assert spot["trials"] == 0 and "more than the budget of 5 s" in spot["skipped"]
    one = spot["estimated_fixed_seconds"] + spot["estimated_seconds_per_network"]
    assert one > 5 and f"--spot-seconds {math.ceil(one)} runs one network" in spot["skipped"]
    spot = spot_check(depth=100_000, width=64, samples=16, eps=0.5, trials=10, seed=0)
    assert spot["trials"] == 0 and "--spot-seconds" in spot["skipped"]


def test_spot_check_stays_within_its_budget_and_reports_progress():
    """Issue 11: the spot-check's networks are fixed before sampling by a cost model measured on the
    loaded 2-core machine; it stays within the budget (2 s here, with margin for a busier machine)
    and calls progress(done, total) up to (T, T)."""
    from initbounds.sim.spotcheck import spot_check

    seen = []
    spot = spot_check(depth=6, width=2048, samples=16, eps=0.5, trials=100_000, seed=3, budget=2.0,
                      progress=lambda done, total: seen.append((done, total)))
    assert spot["trials_capped"] and spot["trials"] >= 10
    assert seen and seen[-1] == (spot["trials"], spot["trials"])


def test_check_shows_progress_unless_json(monkeypatch):
    """Issue 11: check ran silently for up to a minute. It now drives a progress bar (shown on a
    terminal; disabled with --json) for the exact part and the spot-check's networks."""
    from initbounds.commands import check as check_mod

    made = []

    class Recorder:
        def __init__(self, *, disable, **kw):
            self.disable, self.updates = disable, []
            made.append(self)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def add_task(self, description, total=None):
            return description

        def update(self, task, **kw):
            self.updates.append((task, kw))

    monkeypatch.setattr(check_mod, "progress", Recorder)
    r = run("check", "--depth", "2", "--width", "64", "--samples", "2", "--trials", "30")
    assert r.exit_code == 0, r.output
    assert not made[0].disable
    tasks = [t for t, _ in made[0].updates]
    assert "exact probabilities" in tasks and "spot-check networks" in tasks
    assert made[0].updates[-1] == ("spot-check networks", {"completed": 30, "total": 30})
    r = run("check", "--depth", "2", "--width", "64", "--samples", "2", "--trials", "5", "--json")
    assert r.exit_code == 0 and made[-1].disable


def test_spot_seconds_default_and_range():
    from initbounds.commands.check import SPOT_BUDGET, SPOT_SECONDS
    from initbounds.sim import spotcheck

    assert SPOT_SECONDS == spotcheck.SPOT_SECONDS
    r = run("check", "--spot-seconds", "0")
    assert r.exit_code == 2 and r.output == "Error: --spot-seconds must be in (0, 86400]; got 0.0\n"
    assert SPOT_BUDGET.describe() == "in (0, 86400]"


def test_check_accepts_any_nonnegative_seed():
    """Issue 11: seeds ≥ 2^64 crashed inside torch; any non-negative integer is a seed (and the
    same seed gives the same spot-check)."""
    args = ["check", "--depth", "2", "--width", "64", "--samples", "2", "--trials", "50", "--json"]
    a = json.loads(run(*args, "--seed", str(10**30)).output)["spot_check"]
    b = json.loads(run(*args, "--seed", str(10**30)).output)["spot_check"]
    assert a["trials"] == 50 and (a["failures"], a["worst_deviation"]) == (b["failures"], b["worst_deviation"])
