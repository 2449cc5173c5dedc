"""Reports (bounds.report and each topic's report function): rows, JSON, no rendering in bounds."""
from __future__ import annotations

import math

import pytest

from initbounds.bounds.report import Report, fmt_logp, fmt_p, fmt_pm, fmt_v


def test_formats():
    assert fmt_p(0) == "0" and fmt_p(0.5) == "0.500000" and fmt_p(1.5e-7) == "1.5000e-07"
    assert fmt_logp(math.log(0.25)) == "0.250000" and fmt_logp(-1000.0) == "10^-434.29"
    assert fmt_v(None) == "overflow (see --json logs)" and fmt_v(2.0) == "2"
    assert fmt_pm(1e-9, 1e-7) == "≤ 1.0e-07" and fmt_pm(0.5, 1e-7) == "0.500000 (± 1.0e-07)"


def _reports():
    from initbounds.bounds.death import death_report
    from initbounds.bounds.design import design_report
    from initbounds.bounds.moments import moment_report
    from initbounds.bounds.resnet import resnet_report
    from initbounds.bounds.variance import variance_report
    from initbounds.bounds.width import prob_report, width_report

    return {
        "width": width_report(3, 4, 0.1, 0.5),
        "prob": prob_report(200, 3, 0.5, 4),
        "death": death_report(width=8, depth=100, bias=True),
        "moment": moment_report("leaky", s=1.5, width=32, slope=0.3, depth=10, fan="in", in_width=16),
        "variance": variance_report([16, 16, 16], input_dim=8, target_var=0.5),
        "resnet": resnet_report(20, 16, 8, 0.5, schedule="inv"),
        "check": design_report(depth=3, width=256, samples=4, delta=0.1, eps=0.5),
    }


@pytest.fixture(scope="module")
def reports():
    return _reports()


@pytest.mark.parametrize("name", ["width", "prob", "death", "moment", "variance", "resnet", "check"])
def test_report_shape(reports, name):
    r = reports[name]
    assert isinstance(r, Report) and r.title and r.rows and r.assumptions
    assert all(len(row) == len(r.columns) and all(isinstance(c, str) for c in row) for row in r.rows)
    assert all(isinstance(line, str) for line in r.lines)
    assert r.as_dict() is r.data and isinstance(r.data, dict)
    assert not any("[/" in c or "[green" in c or "[red" in c for row in r.rows for c in row)   # no markup in bounds


def test_report_values_match_their_json(reports):
    prob = reports["prob"].as_dict()
    assert prob["p_fail_union"] == pytest.approx(min(1.0, 4 * (1 - prob["p_stay"])), rel=1e-9)
    assert reports["resnet"]["fm1"] is True and reports["resnet"].lines[0].startswith("FM1 avoided")
    check = reports["check"]
    assert [row[2] for row in check.rows] == ["yes" if m["meets"] else "no" for m in check["methods"]]
    assert set(check.as_dict()) == {"inputs", "methods", "probabilities", "verdict", "liveness",
                                    "fractional_moment", "length_variance"}
    assert check.objects["law"].p_dead == check["length_variance"]["p_dead"]
    m = reports["moment"].as_dict()
    assert m["sigma2"] == pytest.approx(m["sigma2_norm_preserving"] * 32 / 16, rel=1e-15)   # the fan ratio, in bounds


def test_variance_report_jacobian_is_jacobian_moments(reports):
    from initbounds.bounds.variance import jacobian_moments

    v = reports["variance"].as_dict()
    lin, relu = jacobian_moments(8, [16, 16, 16], out_var=2.0), jacobian_moments(8, [16, 16, 16], output="relu")
    assert v["jacobian_kurtosis_ratio"] == lin.ratio == 3 * (1 + 5 / 16) ** 3
    assert v["jacobian_kurtosis_ratio_relu_output"] == relu.ratio == pytest.approx(6 * (1 + 5 / 16) ** 3, rel=1e-15)
    assert v["jacobian_second_moment"] == lin.second == 2.0 / 8
    assert jacobian_moments(None, [16]).second is None and jacobian_moments(None, [16]).ratio == lin.ratio / (1 + 5 / 16) ** 2
