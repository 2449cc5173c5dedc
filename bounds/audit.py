r"""Torch-free pieces of the model audit (docs/theory.md §15): naming a layer's weight law from its
excess kurtosis and matching its measured gain c = Var W · fan-in with the usual init rules.

The audit itself (reading a PyTorch model, the spot-check) is :mod:`sim.audit`; these functions
decide, from numbers the model gives, which exact formula of :mod:`bounds.variance`,
:mod:`bounds.death` and :mod:`bounds.resnet` applies.

* Weight laws: excess kurtosis κ − 3 is 0 (Gaussian), −6/5 (uniform), −2 (Rademacher), 3 (Laplace)
  (:data:`bounds.variance.WEIGHT_LAWS`). From N weights the sample kurtosis m₄/m₂² has variance
  (μ₈ − κ² + 4κ³ − 4κμ₆)/N to leading order (delta method, moments in units of σ; 24/N for the
  Gaussian, 0 for Rademacher, whose sample kurtosis is exactly 1).
* Gains: the sample c = fan-in · mean(W²) has relative standard error √((κ − 1)/N).

[derived]
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from .errors import COUNT, NONNEGATIVE, POSITIVE, REAL, Interval, Real, constrain
from .variance import WEIGHT_LAWS, weight_kurtosis

__all__ = ["LawMatch", "classify_weight_law", "gain_standard_error", "init_rules", "match_gain", "GainMatch"]

#: (E W⁶/σ⁶, E W⁸/σ⁸) of the laws of WEIGHT_LAWS: Gaussian (15, 105), uniform (27/7, 9),
#: Rademacher (1, 1), Laplace (6!/2³, 8!/2⁴) = (90, 2520).
_HIGHER = {"gaussian": (15.0, 105.0), "uniform": (27.0 / 7.0, 9.0), "rademacher": (1.0, 1.0), "laplace": (90.0, 2520.0)}
_Z = Interval(Real, 0, None, closed="neither")


def _excess(law: str) -> float:
    k = weight_kurtosis(law)
    return float(k.p) / float(k.q) - 3.0


@dataclass(frozen=True)
class LawMatch:
    law: str | None          # the nearest law of WEIGHT_LAWS within z standard errors, else None
    excess_kurtosis: float   # the measured excess kurtosis
    nearest: str             # the nearest law whatever the distance
    z: float                 # |measured − nearest| in standard errors of the nearest law


@constrain(excess_kurtosis=REAL, count=COUNT, z=_Z)
def classify_weight_law(excess_kurtosis, count, *, z: float = 5.0) -> LawMatch:
    """Name the symmetric law of ``count`` weights from their sample excess kurtosis.

    The law is the nearest of :data:`WEIGHT_LAWS` by excess kurtosis when the distance is at most ``z``
    of that law's standard errors √((μ₈ − κ² + 4κ³ − 4κμ₆)/N) (floored at 10⁻³ for Rademacher);
    otherwise ``law`` is None (another law).

    >>> classify_weight_law(-1.19, 4096).law
    'uniform'
    >>> classify_weight_law(1.0, 100000).law is None
    True
    """
    best = min(WEIGHT_LAWS, key=lambda w: abs(excess_kurtosis - _excess(w)))
    k = _excess(best) + 3.0
    m6, m8 = _HIGHER[best]
    se = max(math.sqrt(max(m8 - k * k + 4 * k**3 - 4 * k * m6, 0.0) / count), 1e-3)
    dist = abs(excess_kurtosis - _excess(best)) / se
    return LawMatch(best if dist <= z else None, float(excess_kurtosis), best, dist)


@constrain(count=COUNT)
def gain_standard_error(law: str, count) -> float:
    """Relative standard error of c = fan-in · mean(W²) from ``count`` weights: √((κ − 1)/N).

    >>> round(gain_standard_error("gaussian", 200), 4)
    0.1
    """
    k = weight_kurtosis(law)
    return math.sqrt((float(k.p) / float(k.q) - 1.0) / count)


@constrain(fan_in=COUNT, fan_out=COUNT)
def init_rules(fan_in, fan_out) -> dict:
    """The gain c = Var W · fan-in of the usual rules for a layer with these fans.

    torch's default (``kaiming_uniform_(a=√5)``): 1/3; He (ReLU) fan-in: 2; He fan-out:
    2·fan_in/fan_out; LeCun / linear fan-in: 1; Glorot: 2·fan_in/(fan_in + fan_out).

    >>> init_rules(4, 4)["he_fan_in"]
    2.0
    """
    return {"torch_default": 1.0 / 3.0, "he_fan_in": 2.0, "he_fan_out": 2.0 * fan_in / fan_out,
            "lecun_fan_in": 1.0, "glorot": 2.0 * fan_in / (fan_in + fan_out)}


@dataclass(frozen=True)
class GainMatch:
    rule: str | None      # the rule matched (None: none within z standard errors)
    c: float              # the rule's c if matched, else the measured c
    measured: float
    rel_se: float
    alternatives: tuple = ()


@constrain(measured=POSITIVE, rel_se=NONNEGATIVE, z=_Z)
def match_gain(measured, rel_se, rules: dict, *, z: float = 5.0, prefer: str | None = None) -> GainMatch:
    """The rule of ``rules`` (name → c) whose c is within ``z`` standard errors of the measured c
    (``prefer`` if it is among them, else the nearest), or none. The standard error is ``rel_se`` × the
    rule's c. ``alternatives`` lists the other rules within ``z`` (a small layer may not tell them apart).

    >>> match_gain(0.34, 0.05, init_rules(8, 8)).rule
    'torch_default'
    """
    within = {}
    for name, c in rules.items():
        d = abs(measured - c) / max(rel_se * c, 1e-300)
        if d <= z:
            within[name] = d
    best = prefer if prefer in within else (min(within, key=within.get) if within else None)
    others = tuple(sorted(n for n in within if n != best))
    return GainMatch(best, float(rules[best]) if best else float(measured), float(measured), float(rel_se), others)
