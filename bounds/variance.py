r"""Length mean and variance in deep ReLU nets, Jacobians (HR18, H18; docs/theory.md §6).

M_j = ‖h_j‖²/n_j. Gaussian weights of variance c_j/n_{j−1} (He: c = 2), biases of variance s_j².
Throughout, ``widths`` are the ReLU layers' widths n_1..n_d (n_0 is ``input_dim``, never among
them) and ``weight_var`` is c, the factor in Var W = c/fan-in (one value, or one per layer):

* FM1 (any symmetric laws): E M_j = (c_j/2) E M_{j−1} + s_j²/2, so
  E M_d = M_0 Π (c_j/2) + Σ_j (s_j²/2) Π_{k>j} (c_k/2);
* FM2 (He fan-in, zero bias): M_j/M_{j−1} has the law of ρ_j (independent), so
  E M_d²/M_0² = Π (1 + 5/n_j), Var M_d/M_0² = Π (1 + 5/n_j) − 1, between e^{5β − 12.5Σ1/n_j²} − 1
  and e^{5β} − 1 with β = Σ 1/n_j;
* Jacobian (hidden He fan-in, linear output of variance c/n_{d−1}): E Z² = c/n_0,
  E Z⁴ = (3c²/n_0²) Π_{j<d} (1 + 5/n_j), so E Z⁴/(E Z²)² = 3 Π (1 + 5/n_j) ≤ 3 e^{5β};
* residual blocks: :mod:`bounds.resnet` (docs/theory.md §7);
* any symmetric weight law of kurtosis κ_w and symmetric biases (variance s², kurtosis κ_b): the
  vector (E S², E T, E S, 1), S = ‖h‖², T = Σ h_i⁴, obeys an exact linear recursion
  (:func:`transfer_matrix`), so E M_d² is exact for uniform, Rademacher, Laplace… weights; it
  depends on κ_w − 3 and on the input's q = Σ x_i⁴ / (Σ x_i²)².

[derived; the claims are HR18's (arXiv 1803.01719) and H18's (arXiv 1801.03744)]
"""
from __future__ import annotations

import functools
import math
from collections import Counter
from dataclasses import dataclass

import mpmath as mp
import numpy as np

from .errors import (COUNT, NONNEGATIVE, OPEN_UNIT, POSITIVE, REAL, WIDTHS, CostLimitError, DomainError, Integral, Interval,
                     Options, OrNone, PerLayer, Real, constrain)
from .report import Report, fmt_p, fmt_pm, fmt_v

__all__ = ["LengthMoments", "length_moments", "min_width_for_variance", "jacobian_kurtosis_ratio",
           "WEIGHT_LAWS", "weight_kurtosis", "transfer_matrix",
           "SecondMoment", "second_moment", "LengthLaw", "length_law", "derive_variance",
           "variance_report", "p_length_off_by", "JacobianMoments", "jacobian_moments", "WEIGHTS",
           "WEIGHT_VAR", "BIAS_VAR"]

#: Symmetric weight laws with their kurtosis E W⁴ / (E W²)² (exact rationals): Gaussian 3,
#: uniform 9/5, Rademacher 1, Laplace 6.
WEIGHT_LAWS = ("gaussian", "uniform", "rademacher", "laplace")
_KURTOSIS = {"gaussian": (3, 1), "uniform": (9, 5), "rademacher": (1, 1), "laplace": (6, 1)}
#: The weight law, one of :data:`WEIGHT_LAWS`.
WEIGHTS = Options(WEIGHT_LAWS)
#: c in Var W = c/fan-in (c > 0; He: 2), one value for every layer or one per layer.
WEIGHT_VAR = PerLayer(POSITIVE)
#: The bias variance s² (≥ 0), one value for every layer or one per layer.
BIAS_VAR = PerLayer(NONNEGATIVE)
_CELLS = Interval(Integral, 64, None, closed="left")
_FACTOR = Interval(Real, 1, None, closed="neither")   # a factor > 1 (off by more than it)


@constrain(weights=WEIGHTS)
def weight_kurtosis(weights: str):
    """Kurtosis κ = E W⁴/(E W²)² of a symmetric weight law, as a sympy Rational.

    >>> weight_kurtosis("uniform")
    9/5
    """
    import sympy as sy

    return sy.Rational(*_KURTOSIS[weights])


def _log_fm2(counts) -> mp.mpf:
    """Σ_j log(1 + 5/n_j) = log E ρ_1²⋯ρ_d² over widths given as {n: how many} (mpmath; the one
    evaluation of FM2's product, docs/theory.md §6)."""
    return mp.fsum(k * mp.log1p(mp.mpf(5) / n) for n, k in counts.items())


def _per_layer(name: str, value, d: int, *, positive: bool) -> tuple:
    """A scalar or a sequence of d values (:data:`WEIGHT_VAR` with ``positive``, else
    :data:`BIAS_VAR`), broadcast to d layers."""
    return (WEIGHT_VAR if positive else BIAS_VAR).for_layers(name, value, d)

_DPS = 30


def _f(x):
    """float(x), or None where it would overflow a double (the log is reported beside it)."""
    v = float(x)
    return None if math.isinf(v) else v


@dataclass(frozen=True)
class LengthMoments:
    widths: tuple
    beta: float
    mean_ratio: float            # E M_d / M_0 (zero bias) = Π c_j/2 — FM1
    mean_with_bias: float | None  # E M_d for M_0 = 1 with the given bias variances
    fm1: str                     # "preserved", "exploding" or "vanishing" (rate per layer beside it)
    fm1_rate: float              # mean log(c_j/2) per layer (the exponential rate of E M_d)
    second_moment_ratio: float   # E M_d² / M_0² = Π (c_j/2)² (1 + 5/n_j) (zero bias) — FM2
    var_ratio: float             # Var M_d / M_0² (zero bias)
    normalized_var: float        # Var M_d / (E M_d)² = Π (1 + 5/n_j) − 1 (any c_j)
    var_bracket: tuple           # (e^{5β − 12.5 Σ1/n²} − 1, e^{5β} − 1), brackets normalized_var
    lognormal: tuple             # (mean, variance) of log(M_d/M_0), leading order: (Σ log(c_j/2) − 5β/2, 5β)
    jacobian_kurtosis_ratio: float
    log_second_moment_ratio: float   # exact logs beside values that overflow doubles (None there)
    log_var_ratio: float

    def as_dict(self) -> dict:
        d = dict(self.__dict__)
        d["widths"] = list(self.widths) if len(self.widths) <= 64 else {"depth": len(self.widths)}
        d["var_bracket"] = list(self.var_bracket)
        d["lognormal"] = {"mean": self.lognormal[0], "var": self.lognormal[1]}
        return d


@constrain(widths=WIDTHS, weight_var=WEIGHT_VAR, bias_var=BIAS_VAR)
def length_moments(widths, *, weight_var=2.0, bias_var=0.0) -> LengthMoments:
    r"""FM1 and FM2 quantities for a ReLU net with widths n_1..n_d (docs/theory.md §6; HR18).

    .. math:: E M_d = M_0\prod_j \frac{c_j}{2} + \sum_j \frac{s_j^2}{2}\prod_{k>j}\frac{c_k}{2},\qquad
              \frac{E M_d^2}{M_0^2} = \prod_j \frac{c_j^2}{4}\Bigl(1+\frac{5}{n_j}\Bigr)

    ``weight_var`` is c_j (Var W_j = c_j/fan-in; He is 2), a scalar or one value per layer;
    ``bias_var`` is s_j² (scalar or per layer). FM1 holds for any symmetric laws; the FM2 fields
    are for Gaussian weights and zero bias (M_j/M_{j−1} = (c_j/2)ρ_j exactly; docs/theory.md §2) — see
    :func:`second_moment` for biases and non-Gaussian weights. Products are evaluated as
    exp(Σ log) in mpmath (exact for any depth; values beyond a double are None with their logs).
    ``jacobian_kurtosis_ratio`` treats the widths as the hidden layers before a linear output
    (:func:`jacobian_moments`). Source: [derived] docs/theory.md §6; the FM1/FM2 statements are
    HR18's (arXiv 1803.01719).

    >>> round(length_moments([10, 10]).second_moment_ratio, 12)   # (1 + 1/2)²
    2.25
    """
    w = widths
    d = len(w)
    cs = _per_layer("weight_var", weight_var, d, positive=True)
    s2s = _per_layer("bias_var", bias_var, d, positive=False)
    with mp.workdps(_DPS):
        half = Counter(mp.mpf(c) / 2 for c in cs)
        log_mean = mp.fsum(k * mp.log(h) for h, k in half.items())
        # E M_d for M_0 = 1 by the FM1 recursion (Horner over layers; O(d))
        m = mp.mpf(1)
        if len(set(cs)) == 1 and len(set(s2s)) == 1:
            hc, hs = mp.mpf(cs[0]) / 2, mp.mpf(s2s[0]) / 2
            m = 1 + d * hs if hc == 1 else hc**d + hs * (hc**d - 1) / (hc - 1)
        else:
            for c, s2 in zip(cs, s2s):
                m = mp.mpf(c) / 2 * m + mp.mpf(s2) / 2
        rate = float(log_mean / d)
        fm1 = "preserved" if abs(rate) < 1e-15 else ("exploding" if rate > 0 else "vanishing")
        counts = Counter(w)   # distinct widths: O(#distinct) work for any depth
        beta = mp.fsum(c_ * mp.mpf(1) / n for n, c_ in counts.items())
        inv2 = mp.fsum(c_ * mp.mpf(1) / n**2 for n, c_ in counts.items())
        log_norm2 = _log_fm2(counts)
        log_second = 2 * log_mean + log_norm2
        norm_var = mp.expm1(log_norm2)
        var = mp.exp(2 * log_mean) * norm_var
        lo = mp.expm1(5 * beta - mp.mpf(25) / 2 * inv2)
        hi = mp.expm1(5 * beta)
        # Jacobian: these widths are the hidden ReLU layers, followed by a linear output layer
        jac = jacobian_moments(None, w).ratio
        return LengthMoments(w, float(beta), _f(mp.exp(log_mean)), _f(m), fm1, rate, _f(mp.exp(log_second)),
                             _f(var), _f(norm_var), (_f(lo), _f(hi)),
                             (float(log_mean - 5 * beta / 2), float(5 * beta)), jac,
                             float(log_second), float(mp.log(var)) if var > 0 else -math.inf)


def jacobian_kurtosis_ratio(input_dim, hidden) -> float:
    """E Z⁴/(E Z²)² = 3 Π_j (1 + 5/n_j) over the hidden widths (He fan-in, linear output). H18."""
    return jacobian_moments(input_dim, hidden).ratio


@dataclass(frozen=True)
class JacobianMoments:
    """E Z², E Z⁴ of one input–output Jacobian entry Z_pq and their ratio (H18).

    ``second``, ``fourth`` and ``log_fourth`` are None when n_0 was not given (the ratio does
    not depend on n_0 or c)."""

    output: str
    second: float | None
    fourth: float | None
    ratio: float | None
    log_fourth: float | None
    log_second: float | None = None     # beside ``second``, which is None beyond the double range


@constrain(input_dim=OrNone(COUNT), hidden=WIDTHS, weight_var=WEIGHT_VAR, out_var=POSITIVE,
           output=Options(("linear", "relu")))
def jacobian_moments(input_dim, hidden, *, weight_var=2.0, out_var: float = 1.0,
                     output: str = "linear") -> JacobianMoments:
    r"""Moments of a Jacobian entry Z_pq = ∂y_p/∂x_q at init (H18; docs/theory.md §6).

    Hidden ReLU layers of widths ``hidden`` with fan-in Gaussian weights of variance c_j/n_{j−1}
    (``weight_var``, He: c_j = 2), zero bias; output layer of variance c/n_{d−1} (c = ``out_var``),
    linear or ReLU. Scaling layer j's weights by √(c_j/2) leaves every ReLU mask unchanged (zero
    bias), so Z is the He entry times Π_j √(c_j/2):

    .. math:: E Z^2 = \frac{c}{n_0}\prod_j\frac{c_j}{2},\quad
              E Z^4 = \frac{3c^2}{n_0^2}\prod_j\frac{c_j^2}{4}\Bigl(1+\frac5{n_j}\Bigr)
              \quad\text{(linear)};

    ReLU output: Z = 1[w_p·h > 0]·(w_p·∂h/∂x_q) and w_p → −w_p flips the indicator but not the
    even powers, so both moments halve and the ratio doubles, 6 Π(1 + 5/n_j). The ratio
    E Z⁴/(E Z²)² = (3/h) Π(1 + 5/n_j) (h = 1 linear, ½ ReLU) depends on neither n_0 nor c:
    ``input_dim=None`` gives it alone. [derived; the linear-output statement is H18's
    (arXiv 1801.03744)]

    Args: ``input_dim`` n_0 ≥ 1 (or None); ``hidden`` the hidden widths n_1..n_{d−1};
    ``weight_var`` c_j > 0, one value or one per hidden layer; ``out_var`` c > 0 of the output
    layer (Var = c/n_{d−1}); ``output`` "linear" or "relu". Values beyond double range are None
    beside ``log_fourth``; E Z² underflows to 0.0 only below the smallest double.

    >>> jacobian_moments(8, [16, 16, 16], output="relu").second
    0.0625
    >>> round(jacobian_moments(8, [16, 16, 16], weight_var=1 / 3, out_var=1 / 3).second, 10)
    0.0001929012
    """
    n0, w, c = input_dim, hidden, out_var
    cs = _per_layer("weight_var", weight_var, len(w), positive=True)
    half = mp.mpf(1) / 2 if output == "relu" else mp.mpf(1)
    with mp.workdps(_DPS):
        log_prod = _log_fm2(Counter(w))
        ratio = _f(mp.exp(mp.log(3 / half) + log_prod))
        if n0 is None:
            return JacobianMoments(output, None, None, ratio, None)
        log_gain = mp.fsum(mp.log(mp.mpf(cj) / 2) for cj in cs)      # log Π c_j/2
        e2 = mp.exp(mp.log(half * mp.mpf(c) / n0) + log_gain)
        log4 = mp.log(half * 3 * mp.mpf(c) ** 2 / n0**2) + 2 * log_gain + log_prod
        # (E Z² itself is None beyond the double range, beside its log: issue 11, c = 1e308 printed inf)
        return JacobianMoments(output, _f(e2), _f(mp.exp(log4)), ratio, float(log4), float(mp.log(e2)))


@constrain(depth=COUNT, v=POSITIVE)
def min_width_for_variance(depth, v, *, proportional: bool = False):
    r"""Smallest constant width n with Var M_d/M_0² = (1 + 5/n)^d − 1 ≤ v, or with
    ``proportional`` the smallest α (n = ⌈α d⌉) doing so: n ≥ 5/((1 + v)^{1/d} − 1).

    >>> min_width_for_variance(10, 1.0)
    70
    """
    d = depth
    with mp.workdps(_DPS):
        digits = int(mp.log10(5 / mp.expm1(mp.log1p(mp.mpf(v)) / d))) + 1
    # the ceiling is decided with the integer's digits plus guard digits (issue 11: at v = 1e-300 the
    # width has 301 digits, and stepping n by 1 at 30 digits never moved the comparison)
    with mp.workdps(_DPS + max(0, digits)):
        need = 5 / mp.expm1(mp.log1p(mp.mpf(v)) / d)
        n = max(1, int(mp.ceil(need - mp.mpf(10) ** -20)))
        target = mp.log1p(mp.mpf(v))
        while _log_fm2({n: d}) > target:
            n += 1
        while n > 1 and _log_fm2({n - 1: d}) <= target:
            n -= 1
        if proportional:
            return n, _f(mp.mpf(n) / d)
        return n


# --- exact second moment for any symmetric weight law and biases --------------------------------
_SYMS = {}


def _symbols():
    """The sympy symbols of the per-layer recursion (built once, lazily)."""
    if not _SYMS:
        import sympy as sy

        _SYMS.update(
            n_prev=sy.Symbol("n_{j-1}", positive=True, integer=True),
            n=sy.Symbol("n_j", positive=True, integer=True),
            c=sy.Symbol("c_j", positive=True),
            s=sy.Symbol("s_j", nonnegative=True),     # bias standard deviation
            kappa=sy.Symbol("kappa_w", positive=True),
            kappa_b=sy.Symbol("kappa_b", positive=True),
            S=sy.Symbol("S", nonnegative=True),      # ‖h_{j−1}‖²
            T=sy.Symbol("T", nonnegative=True),      # Σ_i h_{j−1,i}⁴
        )
    return _SYMS


def layer_moments_exprs() -> dict:
    r"""The exact conditional moments of one layer given h_{j−1} (sympy expressions).

    z_i = Σ_k W_ik h_k + b_i with W_ik symmetric i.i.d. of variance σ² = c/n_{j−1} and kurtosis
    κ_w, b_i symmetric of variance s² and kurtosis κ_b; rows are i.i.d. given h, and z is symmetric,
    so E relu(z)^{2r} = E z^{2r}/2. With S = ‖h‖², T = Σ h_k⁴:
    E z² = σ²S + s², E z⁴ = σ⁴(3S² + (κ_w − 3)T) + 6σ²s²S + κ_b s⁴, and
    E S' = (n/2) E z², E T' = (n/2) E z⁴, E S'² = (n/2) E z⁴ + n(n−1)/4 (E z²)².
    Returns {"Ez2", "Ez4", "ES", "ES2", "ET"}. [derived]
    """
    import sympy as sy

    y = _symbols()
    sig2 = y["c"] / y["n_prev"]
    s2 = y["s"] ** 2
    ez2 = sig2 * y["S"] + s2
    ez4 = sig2**2 * (3 * y["S"] ** 2 + (y["kappa"] - 3) * y["T"]) + 6 * sig2 * s2 * y["S"] + y["kappa_b"] * s2**2
    n = y["n"]
    half = sy.Rational(1, 2)
    return {"Ez2": ez2, "Ez4": ez4, "ES": n * half * ez2, "ES2": n * half * ez4 + n * (n - 1) / 4 * ez2**2,
            "ET": n * half * ez4}


def transfer_matrix():
    r"""The 4×4 sympy matrix A_j with (E S_j², E T_j, E S_j, 1) = A_j (E S_{j−1}², E T_{j−1}, E S_{j−1}, 1).

    Built from :func:`layer_moments_exprs` by collecting coefficients (sympy does the algebra);
    linearity of expectation makes the recursion exact for the unconditional moments. [derived]
    """
    import sympy as sy

    y = _symbols()
    e = layer_moments_exprs()
    S, T = y["S"], y["T"]
    rows = []
    for key in ("ES2", "ET", "ES"):
        p = sy.Poly(e[key], S, T)
        if p.total_degree() > 2 or p.coeff_monomial(S * T) != 0 or p.coeff_monomial(T**2) != 0:
            raise AssertionError(f"{key} is not linear in (S², T, S, 1)")   # sympy checks the closure
        rows.append([sy.factor(p.coeff_monomial(m)) for m in (S**2, T, S, 1)])
    rows.append([0, 0, 0, 1])
    return sy.Matrix(rows)


_TRANSFER_FN = []


def _transfer_fn():
    if not _TRANSFER_FN:
        import sympy as sy

        y = _symbols()
        args = [y[k] for k in ("n_prev", "n", "c", "s", "kappa", "kappa_b")]
        _TRANSFER_FN.append(sy.lambdify(args, transfer_matrix(), modules="mpmath"))
    return _TRANSFER_FN[0]


@dataclass(frozen=True)
class SecondMoment:
    """Result of :func:`second_moment` (M_0 = ‖x‖²/n_0 = 1)."""

    weights: str
    kurtosis: float
    input_flatness: float        # q = Σx⁴/(Σx²)² of the input
    mean: float | None           # E M_d
    second_moment: float | None  # E M_d²
    var: float | None            # Var M_d
    normalized_var: float | None   # Var M_d / (E M_d)²
    log_second_moment: float
    flatness_range: tuple        # (E M_d² at q = 1/n_0, at q = 1): every input lies between

    def as_dict(self) -> dict:
        d = dict(self.__dict__)
        d["flatness_range"] = list(self.flatness_range)
        return d


def _moment_vector(w, cs, s2s, n0, kappa, kappa_b, q):
    """(E S_d², E T_d, E S_d, 1) as an mpmath matrix for ‖x‖² = n_0 (M_0 = 1), T_0 = q n_0²."""
    fn = _transfer_fn()
    v = mp.matrix([[mp.mpf(n0) ** 2], [mp.mpf(q) * n0**2], [mp.mpf(n0)], [1]])
    prev = n0
    i, d = 0, len(w)
    while i < d:   # consecutive identical layers: one matrix power (O(#runs · log d) work)
        j = i
        while j + 1 < d and (w[j + 1], cs[j + 1], s2s[j + 1]) == (w[i], cs[i], s2s[i]) and w[i] == prev:
            j += 1
        A = mp.matrix(fn(prev, w[i], mp.mpf(cs[i]), mp.sqrt(s2s[i]), kappa, kappa_b))
        v = (A ** (j - i + 1)) * v if j > i else A * v
        prev = w[j]
        i = j + 1
    return v


@constrain(widths=WIDTHS, input_dim=COUNT, weights=WEIGHTS, weight_var=WEIGHT_VAR, bias_var=BIAS_VAR,
           bias_kurtosis=Interval(Real, 1, None, closed="left"), input_flatness=OrNone(REAL))
def second_moment(widths, *, input_dim, weights: str = "gaussian", weight_var=2.0, bias_var=0.0,
                  bias_kurtosis: float = 3.0, input_flatness: float | None = None) -> SecondMoment:
    r"""Exact E M_d and E M_d² for any symmetric weight law, with symmetric biases (docs/theory.md §6).

    Iterates :func:`transfer_matrix` over the layers: (E S², E T, E S, 1) evolves linearly, so the
    moments are exact (no Gaussian or large-width assumption). The input enters through
    M_0 = ‖x‖²/n_0 (set to 1) and its flatness q = Σ x_i⁴ / (Σ x_i²)² ∈ [1/n_0, 1]: default 1/n_0
    (all |x_i| equal). E M_d² is affine in q, so ``flatness_range`` (q = 1/n_0 and q = 1) brackets
    every input. Gaussian weights (κ_w = 3) make q irrelevant; zero bias then gives Π(c_j/2)²(1 + 5/n_j).

    Args: ``widths`` n_1..n_d; ``input_dim`` n_0 ≥ 1; ``weights`` one of WEIGHT_LAWS;
    ``weight_var`` c (Var W = c/fan-in), ``bias_var`` s² (scalar or per layer);
    ``bias_kurtosis`` κ_b of the biases (3 for Gaussian biases).
    Source: [derived] (docs/theory.md §6 asks for it: "the second moment depends on κ_w − 3 and on
    the input's fourth moment"); the claims it refines are HR18's (arXiv 1803.01719).

    >>> round(second_moment([10], input_dim=4, weights="gaussian").second_moment, 12)   # 1 + 5/10
    1.5
    """
    w, n0, kb = widths, input_dim, bias_kurtosis
    kappa = weight_kurtosis(weights)
    cs = _per_layer("weight_var", weight_var, len(w), positive=True)
    s2s = _per_layer("bias_var", bias_var, len(w), positive=False)
    q = 1.0 / n0 if input_flatness is None else _flatness(input_flatness, n0)
    with mp.workdps(_DPS):
        kap = mp.mpf(kappa.p) / kappa.q
        nd = mp.mpf(w[-1])
        # the recursion is linear in (E S², E T, E S, 1) and T_0 = q n_0², so every moment is
        # affine in q: two products give all inputs
        v_flat, v_spiky = (_moment_vector(w, cs, s2s, n0, kap, mp.mpf(kb), qq) for qq in (mp.mpf(1) / n0, 1))
        ends = (v_flat[0] / nd**2, v_spiky[0] / nd**2)
        lam = 0 if n0 == 1 else (mp.mpf(q) - mp.mpf(1) / n0) / (1 - mp.mpf(1) / n0)
        second = ends[0] + lam * (ends[1] - ends[0])
        mean = v_flat[2] / nd          # E S_d does not involve T
        var = second - mean**2
        rng = (_f(ends[0]), _f(ends[1]))
        return SecondMoment(weights, float(kap), float(q), _f(mean), _f(second), _f(var),
                            _f(var / mean**2) if mean > 0 else None, float(mp.log(second)), rng)


def _flatness(q, n0: int) -> float:
    """The input's q = Σx⁴/(Σx²)², which lies in [1/n_0, 1]."""
    return Interval(Real, 1.0 / n0, 1.0).validate("input_flatness", q)


# --- the exact law of M_d/M_0 -------------------------------------------------------------------
@dataclass(frozen=True)
class LengthLaw:
    """The exact law of M_d/M_0 (Gaussian weights, zero bias): see :func:`length_law`."""

    widths: tuple
    log_shift: float        # Σ log(c_j/2): M_d/M_0 = e^{shift} Π ρ_j
    law: object             # bounds.band.ProductLaw of log Π ρ_j

    @property
    def tolerance(self) -> float:
        return self.law.tolerance

    @property
    def p_dead(self) -> float:
        return self.law.p_dead

    def p_below(self, r: float) -> float:
        """P(M_d/M_0 ≤ r)."""
        r = NONNEGATIVE.validate("r", r)
        return self.law.p_dead if r == 0 else float(self.law.log_cdf_at(math.log(r) - self.log_shift))

    def p_off_by(self, factor: float) -> float:
        """P(M_d/M_0 < 1/factor or > factor) for factor > 1 (dead inputs count as off)."""
        f = _FACTOR.validate("factor", factor)
        return min(1.0, self.p_below(1.0 / f) + 1.0 - self.p_below(f))

    def log_quantile(self, p: float) -> float:
        """log of the smallest r with P(M_d/M_0 ≤ r) ≥ p (−inf when p ≤ P(dead))."""
        p = OPEN_UNIT.validate("p", p)
        if p <= self.law.p_dead:
            return -math.inf
        return float(np.interp(p, self.law.cdf, self.law.edges)) + self.log_shift

    def quantile(self, p: float) -> float:
        """The smallest r with P(M_d/M_0 ≤ r) ≥ p (0 when p ≤ P(dead)); None where a positive
        quantile is below the smallest double (see :meth:`log_quantile`)."""
        lq = self.log_quantile(p)
        if lq == -math.inf:
            return 0.0
        return math.exp(lq) if -745.0 < lq < 709.78 else None

    def log_density(self) -> tuple:
        """(grid of log(M_d/M_0), density given alive) for plotting."""
        x, f = self.law.density()
        return x + self.log_shift, f


@constrain(widths=WIDTHS, weight_var=WEIGHT_VAR, cells=_CELLS)
def length_law(widths, *, weight_var=2.0, cells: int = 8192) -> LengthLaw:
    r"""The exact law of M_d/M_0 for Gaussian weights of variance c_j/fan-in and zero bias.

    ``widths`` n_1..n_d; ``weight_var`` c_j > 0 (Var W_j = c_j/fan-in; He: 2), one value or one
    per layer.

    M_j/M_{j−1} = (c_j/2) ρ_j with ρ_j independent (docs/theory.md §2), so log(M_d/M_0) = Σ log(c_j/2) +
    log Π ρ_j, whose law :func:`bounds.band.product_law` computes by convolution with a stated
    absolute tolerance. Quantiles such as P(M_d < M_0/10) are then exact to that tolerance.
    Raises :class:`CostLimitError` where the grid would exceed 2^21 cells.
    Source: [derived] docs/theory.md §2, §6.

    >>> law = length_law([8] * 40)
    >>> 0.99 < law.p_off_by(2.0) < 1.0
    True
    """
    cs = _per_layer("weight_var", weight_var, len(widths), positive=True)
    return _length_law(widths, cs, cells)


@functools.lru_cache(maxsize=8)
def _length_law(w: tuple, cs: tuple, cells: int) -> LengthLaw:
    """Cached: a report and its plot ask for the same law."""
    from .band import product_law

    shift = math.fsum(math.log(c) - math.log(2.0) for c in cs)     # (c/2 is 0.0 at c = 5e-324: issue 11)
    return LengthLaw(w, shift, product_law(w, cells=cells))


# --- derivations --------------------------------------------------------------------------------
def derive_variance():
    """Derivation behind `initbounds variance`: FM1, FM2, the bracket, the exact law, the width
    for a variance target, the non-Gaussian recursion, the Jacobian (sympy does the algebra)."""
    import sympy as sy

    from .derivation import Derivation, Step

    y = _symbols()
    j, d = sy.symbols("j d", positive=True, integer=True)
    c, s2 = sy.Function("c")(j), sy.Function("s^2")(j)
    nj = sy.Function("n")(j)
    EM = sy.Function("E M")
    n, v, x = sy.symbols("n v x", positive=True)
    fm1 = sy.Eq(EM(j), c / 2 * EM(j - 1) + s2 / 2)
    # sympy solves the constant-coefficient recursion (c, s² fixed)
    cc, ss = sy.symbols("c s^2", positive=True)
    m = sy.Function("m")
    rsol = sy.rsolve(m(j) - cc / 2 * m(j - 1) - ss / 2, m(j), {m(0): 1})
    fm2 = sy.Product(1 + 5 / nj, (j, 1, d))
    # bracket: x − x²/2 ≤ log(1 + x) ≤ x for x ≥ 0, summed with x = 5/n_j
    lo_gap = sy.series(sy.log(1 + x) - (x - x**2 / 2), x, 0, 4).removeO()
    # width for Var ≤ v at constant width: sympy solves (1 + 5/n)^d = 1 + v
    nsol = sy.solve(sy.Eq(d * sy.log(1 + 5 / n), sy.log(1 + v)), n)[0]
    A = transfer_matrix()
    gauss_zero_bias = sy.simplify(A[0, 0].subs(y["kappa"], 3) * y["n_prev"] ** 2 / y["n"] ** 2)
    steps = (
        Step("FM1: z is symmetric given h, so E relu(z)² = E z²/2 = (c_j M_{j−1} + s_j²)/2 for any "
             "symmetric weight and bias laws:", fm1, citation="HR18",
             assumptions=("Var W_j = c_j/n_{j−1} (fan-in)", "symmetric weights and biases")),
        Step("sympy solves the recursion for constant c, s² (M_0 = 1): exponential growth/decay "
             "at rate log(c/2) unless c = 2 (He), where it is linear in the bias", sy.Eq(m(j), rsol),
             citation="HR18"),
        Step("FM2, Gaussian weights, zero bias: M_j/M_{j−1} = (c_j/2)ρ_j with ρ_j independent "
             "(docs/theory.md §2) and E ρ² = 1 + 5/n, so at He (c = 2):",
             sy.Eq(sy.Symbol("E M_d²/M_0²"), fm2), citation="HR18",
             assumptions=("Gaussian weights", "zero bias", "He fan-in")),
        Step("Bracket: x − x²/2 ≤ log(1 + x) ≤ x (sympy's series of the gap starts at x³/3 > 0); "
             "with β = Σ 1/n_j, e^{5β − 12.5Σ1/n_j²} − 1 ≤ Var M_d/M_0² ≤ e^{5β} − 1",
             sy.Eq(sy.Symbol("log(1+x) − x + x²/2"), lo_gap), citation="HR18"),
        Step("The exact law: log(M_d/M_0) = Σ log(c_j/2) + Σ log ρ_j, a sum of independent one-layer "
             "laws, convolved numerically (FFT powers, Richardson step, stated tolerance); to leading "
             "order N(Σ log(c_j/2) − 5β/2, 5β)",
             sy.Eq(sy.Symbol("log(M_d/M_0)"), sy.Sum(sy.log(sy.Function("rho")(j)), (j, 1, d))),
             citation="HR18"),
        Step("Constant width n with Var M_d/M_0² ≤ v: sympy solves d log(1 + 5/n) = log(1 + v); "
             "the width is the ceiling (checked at 30 digits); width ∝ depth keeps β bounded",
             sy.Eq(n, nsol), citation="HR18"),
        Step("Any symmetric weight law (kurtosis κ_w) and biases (s_j², κ_b): with S = ‖h‖², "
             "T = Σ h_i⁴, E z⁴ = σ⁴(3S² + (κ_w − 3)T) + 6σ²s²S + κ_b s⁴ and rows independent "
             "given h, so (E S², E T, E S, 1) evolves by this exact matrix:",
             A, citation="HR18",
             assumptions=("symmetric i.i.d. weights of variance c_j/n_{j−1}", "symmetric i.i.d. biases",
                          "input enters through M_0 and q = Σx⁴/(Σx²)²")),
        Step("Check: at κ_w = 3 and zero bias the (1,1) entry gives E M_j²/E M_{j−1}² "
             "(sympy simplifies n_{j−1}²/n_j² · A₁₁):",
             sy.Eq(sy.Symbol("ratio"), gauss_zero_bias), citation="HR18"),
        Step("Jacobian (H18): d hidden He fan-in ReLU layers of widths n_1..n_d, then a linear output "
             "unit of variance c/n_d: E Z² = c/n_0 and E Z⁴ = (3c²/n_0²) Π(1 + 5/n_j), so",
             sy.Eq(sy.Symbol("E Z⁴/(E Z²)²"), 3 * fm2), citation="H18",
             assumptions=("Gaussian weights", "zero bias")),
        Step("ReLU output unit: Z = 1[w·h > 0](w·∂h/∂x_q); w → −w flips the indicator and keeps the "
             "even powers, so E Z² and E Z⁴ halve and the ratio doubles:",
             sy.Eq(sy.Symbol("E Z⁴/(E Z²)² (ReLU output)"), 6 * fm2), citation="H18"),
    )
    return Derivation("Length mean and variance with depth, Jacobian fluctuations (HR18, H18)", steps)


@constrain(widths=WIDTHS, factor=_FACTOR)
def p_length_off_by(widths, factor: float = 2.0, *, law=None) -> dict:
    """P(M_d/M_0 < 1/factor or > factor) at He (Gaussian, zero bias), with its error.

    From the exact law (:func:`length_law`, absolute tolerance); where that probability is
    within 1000 tolerances of 0 and the widths are equal, the band recursion of
    :func:`bounds.band.band_probability` (layers="last", relative accuracy down to 1e-300) is
    used instead. Returns {"p", "tolerance", "method"}.
    """
    from .band import band_probability
    from . import rho
    from .death import logp_dead_uniform
    from .moments import _log_chernoff_lower

    w, f = widths, factor
    ll = law if law is not None else length_law(w)
    p = ll.p_off_by(f)
    if p < 1e3 * ll.tolerance and len(set(w)) == 1:
        n, k = w[0], len(w)
        log_f = math.log(f)
        # a rigorous bound first: the dead atom, P(alive, Π ≤ 1/f) (moments._log_chernoff_lower) and
        # P(Π ≥ f) ≤ min_p f^{−p}(E ρ^p)^k (Markov)
        up = min(k * rho.log_moment(n, q) - q * log_f for q in np.geomspace(1e-3, 1e4, 80))
        log_bound = float(np.logaddexp.reduce([float(logp_dead_uniform(n, k)), _log_chernoff_lower(n, k, -log_f),
                                               up]))
        if log_bound < -745.0:
            # the probability is below the smallest double: 0.0 is its value in doubles (issue 11: the
            # band recursion took 20–270 s to return 0 at three layers of width 10^7)
            return {"p": 0.0, "tolerance": 0.0, "log_p_upper": log_bound,
                    "method": "Chernoff bound below the smallest double"}
        try:  # the band recursion's own cost model is checked before any work
            b = band_probability(n, k, 1.0 / f, f, layers="last", rtol=1e-6)
            return {"p": b.p_fail, "tolerance": b.tolerance, "method": "exact band recursion, relative accuracy"}
        except CostLimitError:
            pass
        if log_bound < math.log(ll.tolerance):
            return {"p": math.exp(log_bound) / 2, "tolerance": math.exp(log_bound) / 2,
                    "method": "within a Chernoff bound (the band recursion is beyond the cost limit)"}
    return {"p": p, "tolerance": ll.tolerance, "method": "exact law by convolution"}


# --- reports behind the CLI ---------------------------------------------------------------------
@constrain(widths=WIDTHS, weight_var=WEIGHT_VAR, bias_var=BIAS_VAR, weights=WEIGHTS, input_dim=OrNone(COUNT),
           input_flatness=OrNone(REAL), target_var=OrNone(POSITIVE))
def variance_report(widths, *, input_dim=None, weights: str = "gaussian", weight_var=2.0, bias_var=0.0,
                    input_flatness=None, target_var=None) -> Report:
    """Everything ``initbounds variance`` prints: the length moments, the exact law, the Jacobian.

    Top-level moments describe the requested design exactly (any symmetric weight law, biases);
    the FM2 bracket, the log-normal approximation and the exact law of M_d/M_0 need Gaussian
    weights and zero bias and are None otherwise (``notes`` says why). Args: ``widths``
    n_1..n_d; ``input_dim`` n_0 (needed for non-Gaussian weights and the Jacobian's E Z²);
    ``weights`` one of :data:`WEIGHT_LAWS`; ``weight_var`` c (Var W = c/fan-in) and ``bias_var``
    s², one value or one per layer; ``input_flatness`` q = Σx⁴/(Σx²)² in [1/n_0, 1] (needs
    ``input_dim``); ``target_var`` v > 0: also the constant width with Var M_d/M_0² ≤ v.
    ``as_dict()`` is the JSON of ``initbounds variance --json``; ``objects["law"]`` is the
    :class:`LengthLaw` where it was computed. Source: [derived] docs/theory.md §6 (HR18, H18).

    >>> variance_report([4], target_var=1.0)["width_for_target_var"]["constant_width"]
    5
    """
    w = widths
    names = ("weights", "input_dim", "input_flatness")
    if input_flatness is not None:
        if input_dim is None:
            raise DomainError("{input_flatness} needs {input_dim} (its range is [1/n0, 1])", param="input_dim",
                              names=names)
        _flatness(input_flatness, input_dim)
    if weights != "gaussian" and input_dim is None:
        raise DomainError(_esc_name(weights) + " needs {input_dim}: the second moment depends on the input's "
                          "q = Σx⁴/(Σx²)²", param="input_dim", names=names)
    cs = _per_layer("weight_var", weight_var, len(w), positive=True)
    s2s = _per_layer("bias_var", bias_var, len(w), positive=False)
    lm = length_moments(w, weight_var=cs, bias_var=s2s)
    plain = weights == "gaussian" and not any(s2s)
    notes = []
    if plain:
        second, var, log_second = lm.second_moment_ratio, lm.var_ratio, lm.log_second_moment_ratio
        exact = None
    else:
        sm = second_moment(w, input_dim=input_dim or 1, weights=weights, weight_var=cs, bias_var=s2s,
                           input_flatness=input_flatness)
        second, var, log_second = sm.second_moment, sm.var, sm.log_second_moment
        exact = sm.as_dict()
        notes.append("moments with biases or non-Gaussian weights from the exact (E S², E T, E S, 1) recursion "
                     "(M_0 = ‖x‖²/n0 = 1)")
        notes.append("bracket, log-normal approximation and exact law: Gaussian weights and zero bias only")
    law, ll = None, None
    if plain:
        try:
            ll = length_law(w, weight_var=cs)
            off = p_length_off_by(w, 2.0, law=ll) if len(set(cs)) == 1 and cs[0] == 2.0 else \
                {"p": ll.p_off_by(2.0), "tolerance": ll.tolerance, "method": "exact law by convolution"}
            law = {"p_dead": ll.p_dead, "p_below_tenth": ll.p_below(0.1), "p_above_ten": 1.0 - ll.p_below(10.0),
                   "p_off_by_2": off["p"], "p_off_by_2_tolerance": off["tolerance"], "p_off_by_2_method": off["method"],
                   "quantiles": {str(p): ll.quantile(p) for p in (0.05, 0.5, 0.95)},
                   "log_quantiles": {str(p): (ll.log_quantile(p) if p > ll.p_dead else None)
                                     for p in (0.05, 0.5, 0.95)},
                   "tolerance": ll.tolerance}
        except CostLimitError as e:
            ll = None
            notes.append(f"exact law not computed: {e}")
    one_c = len(set(cs)) == 1
    # Jacobian moments: Gaussian weights and zero bias only (the masks' law changes otherwise); a linear
    # output layer of variance c/n_d with the same c as the hidden layers (E Z² needs one c and n0)
    jac = jacobian_moments(input_dim, w, weight_var=cs, out_var=cs[0] if one_c else 1.0) if plain else None
    jac_relu = jacobian_moments(None, w, output="relu") if plain else None
    if not plain:
        notes.append("Jacobian moments: Gaussian weights and zero bias only (not derived for this design)")
    out = {
        "widths": list(w) if len(w) <= 64 else {"depth": len(w)},
        "inputs": {"input_dim": input_dim, "weights": weights, "weight_var": list(cs) if len(set(cs)) > 1 else cs[0],
                   "bias_var": list(s2s) if len(set(s2s)) > 1 else s2s[0], "input_flatness": input_flatness},
        "beta": lm.beta,
        "fm1": lm.fm1, "fm1_rate": lm.fm1_rate,
        "mean_ratio": lm.mean_ratio, "mean_with_bias": lm.mean_with_bias,
        # Σ log(c_j/2): the log of E M_d/M_0 beside it (null there beyond the double range)
        "log_mean_ratio": math.fsum(math.log(c) - math.log(2.0) for c in cs),
        "second_moment_ratio": second, "log_second_moment_ratio": log_second,
        "var_ratio": var, "log_var_ratio": lm.log_var_ratio if plain else None,
        "normalized_var": lm.normalized_var if plain else (exact["normalized_var"] if exact else None),
        "var_bracket": list(lm.var_bracket) if plain else None,
        "lognormal": {"mean": lm.lognormal[0], "var": lm.lognormal[1]} if plain else None,
        "law": law,
        "jacobian_kurtosis_ratio": jac.ratio if plain else None,
        "jacobian_kurtosis_ratio_relu_output": jac_relu.ratio if plain else None,
        "jacobian_second_moment": jac.second if plain and one_c else None,
        "log_jacobian_second_moment": jac.log_second if plain and one_c else None,
        "exact_second_moment": exact,
        "notes": notes,
    }
    if target_var is not None:
        v = target_var
        n = min_width_for_variance(len(w), v)
        with mp.workdps(_DPS):
            alpha = 5 / mp.log1p(v)
            per_layer = mp.mpf(n) / len(w)
            # beside them, their logs (issue 11: at v = 1e-310, α = 5e310 is beyond the double range)
            logs = float(mp.log(per_layer)), float(mp.log(alpha))
        # (1 + 5/(αd))^d increases to e^{5/α}: width ≥ α·d with α = 5/log(1 + v) works at every depth
        out["width_for_target_var"] = {"target_var": v, "depth": len(w), "constant_width": n,
                                       "width_per_layer_of_depth": _f(per_layer),
                                       "log_width_per_layer_of_depth": logs[0],
                                       "width_proportional_to_depth_any_depth": _f(alpha),
                                       "log_width_proportional_to_depth_any_depth": logs[1]}
    return Report(title=f"Length moments: widths {','.join(str(n) for n in w)}, {weights} weights "
                        f"(β = Σ1/n = {out['beta']:.4g})",
                  rows=_variance_rows(out, weights, s2s), data=out, lines=tuple(f"note: {n}" for n in notes),
                  assumptions=("ReLU layers", "symmetric i.i.d. weights of variance c_j/n_{j−1} (fan-in)",
                               "symmetric i.i.d. biases", "M_j = ‖h_j‖²/n_j"),
                  objects={"law": ll})


def _fmt_quantile(value, log_value) -> str:
    """A quantile of M_d/M_0: 0 at the dead atom, e^{log} where it is below the double range."""
    if value is None:
        return f"e^{log_value:.6g}"
    return f"{value:.4g}"


def _fmt_log(value, log_value: float) -> str:
    """A value with 6 digits, or e^{log} where it is beyond the double range (the JSON has both)."""
    return fmt_v(value) if value is not None else f"e^{log_value:.6g}"


def _fmt_int(n: int) -> str:
    """An integer with thousands separators, or in e-notation (truncated digits) from 10^16 on (the JSON
    has it exactly)."""
    s = str(n)
    return f"{n:,}" if len(s) <= 16 else f"{s[0]}.{s[1:6]}e+{len(s) - 1}"


def _esc_name(weights: str) -> str:
    """'{weights} laplace' as a message template piece (the law's name is literal text)."""
    return "{weights} " + str(weights).replace("{", "{{").replace("}", "}}")


def _variance_rows(out: dict, weights: str, s2s: tuple) -> tuple:
    rows = [("FM1: E M_d / M_0 (zero bias) = Π c_j/2",
             f"{fmt_v(out['mean_ratio'])} ({out['fm1']}, rate {out['fm1_rate']:.3g}/layer)", "derived (HR18 claim)")]
    if any(s2s):
        rows.append(("E M_d with biases (M_0 = 1)", fmt_v(out["mean_with_bias"]), "derived"))
    rows.append(("FM2: E M_d² / M_0²", fmt_v(out["second_moment_ratio"]),
                 "derived (HR18 claim)" if out["exact_second_moment"] is None else "derived (exact recursion)"))
    rows.append(("Var M_d / M_0²", fmt_v(out["var_ratio"]), "derived"))
    if out["exact_second_moment"] is not None and weights != "gaussian":
        lo, hi = out["exact_second_moment"]["flatness_range"]
        rows.append(("E M_d²/M_0² over all inputs (q = 1/n0 … 1)", f"{fmt_v(lo)} … {fmt_v(hi)}", "derived"))
    if out["var_bracket"] is not None:
        b = out["var_bracket"]
        rows.append(("bracket e^{5β − 12.5Σ1/n²} − 1 … e^{5β} − 1", f"{fmt_v(b[0])} … {fmt_v(b[1])}", "derived"))
        ln = out["lognormal"]
        rows.append(("log(M_d/M_0) ≈ N(Σlog(c/2) − 5β/2, 5β)", f"N({ln['mean']:.4g}, {ln['var']:.4g})",
                     "derived (leading order)"))
    law = out["law"]
    if law is not None:
        q = law["quantiles"]
        rows += [("P(M_d < M_0/10)", fmt_pm(law["p_below_tenth"], law["tolerance"]), "derived (exact law)"),
                 ("P(M_d > 10 M_0)", fmt_pm(law["p_above_ten"], law["tolerance"]), "derived (exact law)"),
                 ("P(M_d off by > 2×)", fmt_pm(law["p_off_by_2"], law["p_off_by_2_tolerance"]),
                  f"derived ({law['p_off_by_2_method']})"),
                 ("5% / 50% / 95% quantiles of M_d/M_0", " / ".join(_fmt_quantile(q[k], law["log_quantiles"][k])
                                                                   for k in ("0.05", "0.5", "0.95")),
                  "derived (exact law)"),
                 ("P(dead: M_d = 0)", fmt_p(law["p_dead"]), "derived (RR20)")]
    if out["jacobian_kurtosis_ratio_relu_output"] is not None or out["jacobian_kurtosis_ratio"] is not None:
        rows += [("Jacobian E Z⁴/(E Z²)² = 3Π(1 + 5/n_j)", fmt_v(out["jacobian_kurtosis_ratio"]),
                  "derived (H18 claim)"),
                 ("… with a ReLU output layer: 6Π(1 + 5/n_j)", fmt_v(out["jacobian_kurtosis_ratio_relu_output"]),
                  "derived")]
    if out["log_jacobian_second_moment"] is not None:
        rows.append(("Jacobian E Z² = (c/n0)·Π c_j/2 (linear output, same c)",
                     _fmt_log(out["jacobian_second_moment"], out["log_jacobian_second_moment"]),
                     "derived (H18)"))
    if "width_for_target_var" in out:
        wt = out["width_for_target_var"]
        rows += [(f"constant width for Var ≤ {wt['target_var']:g} at depth {wt['depth']}",
                  f"{_fmt_int(wt['constant_width'])} "
                  f"({_fmt_log(wt['width_per_layer_of_depth'], wt['log_width_per_layer_of_depth'])} × depth)", "derived"),
                 (f"width ∝ depth for Var ≤ {wt['target_var']:g} at every depth: n ≥ α·d",
                  "α = 5/log(1 + v) = "
                  + _fmt_log(wt["width_proportional_to_depth_any_depth"], wt["log_width_proportional_to_depth_any_depth"]),
                  "derived")]
    return tuple(rows)
