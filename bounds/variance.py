r"""Length mean and variance in deep ReLU nets, Jacobians, residual blocks (HR18, H18; THEORY §5).

M_j = ‖h_j‖²/n_j. Gaussian weights of variance c_j/n_{j−1} (He: c = 2), biases of variance s_j²:

* FM1 (any symmetric laws): E M_j = (c_j/2) E M_{j−1} + s_j²/2, so
  E M_d = M_0 Π (c_j/2) + Σ_j (s_j²/2) Π_{k>j} (c_k/2);
* FM2 (He fan-in, zero bias): M_j/M_{j−1} has the law of ρ_j (independent), so
  E M_d²/M_0² = Π (1 + 5/n_j), Var M_d/M_0² = Π (1 + 5/n_j) − 1, between e^{5β − 12.5Σ1/n_j²} − 1
  and e^{5β} − 1 with β = Σ 1/n_j;
* Jacobian (hidden He fan-in, linear output of variance c/n_{d−1}): E Z² = c/n_0,
  E Z⁴ = (3c²/n_0²) Π_{j<d} (1 + 5/n_j), so E Z⁴/(E Z²)² = 3 Π (1 + 5/n_j) ≤ 3 e^{5β};
* residual block x ← x + η W₂ ReLU(W₁ x): E F = 1 + η², E F² = (1 + η²)² + 4η²/n +
  η⁴[(1 + 5/m)(1 + 2/n) − 1].

[derived; the claims are HR18's (arXiv 1803.01719) and H18's (arXiv 1801.03744)]
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

import mpmath as mp

from .errors import DomainError, check_int, check_real
from .survival import parse_widths

__all__ = ["LengthMoments", "length_moments", "min_width_for_variance", "jacobian_kurtosis_ratio",
           "residual_moments", "ResidualMoments"]

_DPS = 30


def _f(x):
    """float(x), or None where it would overflow a double (the log is reported beside it)."""
    v = float(x)
    return None if math.isinf(v) else v


@dataclass(frozen=True)
class LengthMoments:
    widths: tuple
    beta: float
    mean_ratio: float            # E M_d / M_0 (zero bias) — FM1
    mean_with_bias: float | None  # E M_d for M_0 = 1 with the given bias variances
    fm1: str                     # "preserved", "exploding" or "vanishing" (rate per layer beside it)
    fm1_rate: float              # mean log(c_j/2) per layer
    second_moment_ratio: float   # E M_d² / M_0² (He) — FM2
    var_ratio: float             # Var M_d / M_0²
    var_bracket: tuple           # (e^{5β − 12.5 Σ1/n²} − 1, e^{5β} − 1)
    lognormal: tuple             # (mean, variance) of log(M_d/M_0), leading order: (−5β/2, 5β)
    jacobian_kurtosis_ratio: float
    log_second_moment_ratio: float   # exact logs beside values that overflow doubles (None there)
    log_var_ratio: float

    def as_dict(self) -> dict:
        d = dict(self.__dict__)
        d["widths"] = list(self.widths) if len(self.widths) <= 64 else {"depth": len(self.widths)}
        d["var_bracket"] = list(self.var_bracket)
        d["lognormal"] = {"mean": self.lognormal[0], "var": self.lognormal[1]}
        return d


def length_moments(widths, *, weight_var: float = 2.0, bias_var: float = 0.0) -> LengthMoments:
    r"""FM1 and FM2 quantities for a ReLU net with widths n_1..n_d (THEORY §5).

    ``weight_var`` is c (Var W = c/fan-in; He is 2) and ``bias_var`` is s² (the same for every
    layer). FM2 quantities assume He (c = 2) and zero bias, as in the paper. Products are
    evaluated as exp(Σ log1p(5/n_j)) in mpmath, exact for any depth.

    >>> round(length_moments([10, 10]).second_moment_ratio, 12)   # (1 + 1/2)²
    2.25
    """
    w = parse_widths(widths)
    c = check_real("weight_var", weight_var, lo=0.0, lo_open=True)
    s2 = check_real("bias_var", bias_var, lo=0.0)
    d = len(w)
    with mp.workdps(_DPS):
        half_c = mp.mpf(c) / 2
        mean_ratio = half_c**d
        # E M_d with M_0 = 1: Horner over layers
        # E M_d for M_0 = 1: (c/2)^d + (s²/2) Σ_{i<d} (c/2)^i (geometric sum)
        if half_c == 1:
            m = 1 + d * mp.mpf(s2) / 2
        else:
            m = half_c**d + mp.mpf(s2) / 2 * (half_c**d - 1) / (half_c - 1)
        rate = float(mp.log(half_c))
        fm1 = "preserved" if abs(rate) < 1e-15 else ("exploding" if rate > 0 else "vanishing")
        counts = Counter(w)   # distinct widths: O(#distinct) work for any depth
        beta = mp.fsum(c_ * mp.mpf(1) / n for n, c_ in counts.items())
        inv2 = mp.fsum(c_ * mp.mpf(1) / n**2 for n, c_ in counts.items())
        log_second = mp.fsum(c_ * mp.log1p(mp.mpf(5) / n) for n, c_ in counts.items())
        second = mp.exp(log_second)
        var = mp.expm1(log_second)
        lo = mp.expm1(5 * beta - mp.mpf(25) / 2 * inv2)
        hi = mp.expm1(5 * beta)
        # Jacobian: these widths are the hidden ReLU layers, followed by a linear output layer
        log_jac = mp.log(3) + log_second
        return LengthMoments(w, float(beta), _f(mean_ratio), _f(m), fm1, rate, _f(second), _f(var),
                             (_f(lo), _f(hi)), (float(-5 * beta / 2), float(5 * beta)), _f(mp.exp(log_jac)),
                             float(log_second), float(mp.log(var)) if var > 0 else -math.inf)


def jacobian_kurtosis_ratio(input_dim, hidden) -> float:
    """E Z⁴/(E Z²)² = 3 Π_j (1 + 5/n_j) over the hidden widths (He fan-in, linear output). H18."""
    check_int("input_dim", input_dim, lo=1)
    w = parse_widths(hidden)
    with mp.workdps(_DPS):
        return float(3 * mp.exp(mp.fsum(mp.log1p(mp.mpf(5) / n) for n in w)))


def min_width_for_variance(depth, v, *, proportional: bool = False):
    r"""Smallest constant width n with Var M_d/M_0² = (1 + 5/n)^d − 1 ≤ v, or with
    ``proportional`` the smallest α (n = ⌈α d⌉) doing so: n ≥ 5/((1 + v)^{1/d} − 1).

    >>> min_width_for_variance(10, 1.0)
    70
    """
    d = check_int("depth", depth, lo=1)
    v = check_real("v", v, lo=0.0, lo_open=True)
    with mp.workdps(_DPS):
        need = 5 / mp.expm1(mp.log1p(mp.mpf(v)) / d)
        n = max(1, int(mp.ceil(need - mp.mpf(10) ** -20)))
        while d * mp.log1p(mp.mpf(5) / n) > mp.log1p(mp.mpf(v)):
            n += 1
        while n > 1 and d * mp.log1p(mp.mpf(5) / (n - 1)) <= mp.log1p(mp.mpf(v)):
            n -= 1
        if proportional:
            return n, float(mp.mpf(n) / d)
        return n


@dataclass(frozen=True)
class ResidualMoments:
    blocks: int
    mean_ratio: float            # E‖x_B‖²/‖x_0‖² = Π (1 + η_b²)
    second_moment_ratio: float   # Π E F_b²
    normalized_second: float     # Π E F_b² / (Π E F_b)²
    fm1: bool                    # True when Σ η_b² stays bounded as B grows (schedule-level test)
    schedule: str


def residual_moments(blocks, width, branch_width, eta, *, schedule: str = "const") -> ResidualMoments:
    r"""Moments of ‖x_B‖² for B residual blocks x ← x + η_b W₂ ReLU(W₁ x) (THEORY §5).

    W₁ ∈ R^{m×n} variance 2/n, W₂ ∈ R^{n×m} variance 1/m; F_b = ‖x_b‖²/‖x_{b−1}‖² independent:
    E F = 1 + η², E F² = (1 + η²)² + 4η²/n + η⁴[(1 + 5/m)(1 + 2/n) − 1].
    ``schedule``: "const" (η_b = η), "inv" (η/b) or "invsqrt" (η/√b). FM1 is avoided iff
    Σ η_b² < ∞ (η scales the branch; if η scaled the branch variance the condition would be
    Σ η_b < ∞): true for "inv", false for "const" and "invsqrt".
    """
    B = check_int("blocks", blocks, lo=1)
    n = check_int("width", width, lo=1)
    m = check_int("branch_width", branch_width, lo=1)
    eta = check_real("eta", eta, lo=0.0)
    if schedule not in ("const", "inv", "invsqrt"):
        raise DomainError(f"schedule must be one of 'const', 'inv', 'invsqrt'; got {schedule!r}")
    with mp.workdps(_DPS):
        lm, l2 = mp.mpf(0), mp.mpf(0)
        for b in range(1, B + 1):
            e = mp.mpf(eta) * (1 if schedule == "const" else (mp.mpf(1) / b if schedule == "inv" else 1 / mp.sqrt(b)))
            e2 = e * e
            ef = 1 + e2
            ef2 = ef**2 + 4 * e2 / n + e2**2 * ((1 + mp.mpf(5) / m) * (1 + mp.mpf(2) / n) - 1)
            lm += mp.log(ef)
            l2 += mp.log(ef2)
        return ResidualMoments(B, float(mp.exp(lm)), float(mp.exp(l2)), float(mp.exp(l2 - 2 * lm)),
                               schedule == "inv" or eta == 0, schedule)
