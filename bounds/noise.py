r"""SGD noise, curvature and the break-even point: the closed forms (J17, J20; docs/theory.md §14).

Everything here is exact algebra about a *finite* training set of N examples with per-example
losses ℓ_i and gradients g_i; nothing is asymptotic. The measured inputs (Tr K, λ_H¹, s², ‖ḡ‖²)
come from :mod:`sim.noise`; this module turns them into the quantities the papers reason with.

Normalizations (stated once, used everywhere):

* ḡ = (1/N) Σ g_i and the gradient covariance K = (1/N) Σ (g_i − ḡ)(g_i − ḡ)ᵀ — the population
  covariance of the finite set (1/N, not 1/(N − 1)). With this choice the mini-batch noise of a
  batch of S drawn **without replacement** is exactly E‖g_S − ḡ‖² = Tr K (N − S)/(S (N − 1)), and
  **with replacement** Tr K / S (:func:`minibatch_noise`). With the 1/(N − 1) covariance K′ = N K/(N − 1)
  the first reads Tr K′ (N − S)/(S N).
* s² is the variance over examples of the per-example curvature along the top Hessian direction
  e = e_H¹, h_i = eᵀ ∇²ℓ_i e, **with 1/N**: s² = (1/N) Σ (h_i − λ_H¹)², where (1/N) Σ h_i = eᵀHe = λ_H¹.
  This is the normalization under which J20's stability condition (1 − ηλ_H¹)² + s²η²(N − S)/(S(N − 1)) ≤ 1
  is exact for the projection ψ = ⟨θ − θ*, e⟩ of a quadratic model whose per-example Hessians share
  the eigenvector e (:func:`stability_lhs`, :func:`derive_noise`): E[ψ′² | ψ] = LHS · ψ².

[derived; the statements are J17's (arXiv 1711.04623) and J20's (arXiv 2002.09572)]
"""
from __future__ import annotations

from functools import lru_cache

import sympy as sy

from .errors import COUNT, NONNEGATIVE, POSITIVE, DomainError, Flag, Interval, Real, check_int, constrain
from .report import Report

__all__ = ["minibatch_noise", "minibatch_noise_exprs", "stability_lhs", "stability_expr", "noise_temperature",
           "isotropic_sigma2", "critical_batch_simple", "max_stable_lr", "max_stable_lr_expr", "derive_noise", "noise_report",
           "LOSS_RISE", "LOSS_FACTOR"]

#: J20's cheap break-even proxy α*: the smallest multiple of the last step that raises the loss by 20 %.
LOSS_RISE = sy.Rational(1, 5)
LOSS_FACTOR = float(1 + LOSS_RISE)

N, S = sy.symbols("N S", positive=True, integer=True)
_T, _ETA, _LAM, _S2 = sy.symbols("TrK eta lambda_H s2", positive=True)

#: E‖g_S − ḡ‖² without replacement, K with 1/N [derived].
NOISE_WITHOUT_EXPR = _T * (N - S) / (S * (N - 1))
#: E‖g_S − ḡ‖² with replacement [derived].
NOISE_WITH_EXPR = _T / S
#: J20's stability left-hand side, s² with 1/N [paper J20; exact on the quadratic model, derived].
STABILITY_EXPR = (1 - _ETA * _LAM) ** 2 + _S2 * _ETA**2 * (N - S) / (S * (N - 1))


def _check_batch(n: int, batch: int) -> tuple:
    n = check_int("n", n, lo=2)
    batch = check_int("batch", batch, lo=1)
    if batch > n:
        raise DomainError.must("batch", f"be at most the number of examples N = {n}", str(batch))
    return n, batch


@lru_cache(maxsize=None)
def max_stable_lr_expr():
    """sympy's nonzero root in η of STABILITY_EXPR = 1 (the largest stable learning rate), with its
    denominator collected as λ²·S(N − 1) + s²(N − S): sympy's expanded form N·S·λ² + N·s² − S·λ² − S·s²
    cancels catastrophically in floats when s² ≫ λ² (2.3e-12 relative error at λ = 0.01, s² = 2, S = N)."""
    root = [e for e in sy.solve(sy.Eq(STABILITY_EXPR, 1), _ETA) if e != 0][0]
    num, den = sy.fraction(sy.together(root))
    return num / sy.collect(sy.expand(den), [_LAM**2, _S2], func=sy.factor)


@lru_cache(maxsize=None)
def _lambdas():
    return (sy.lambdify((_T, N, S), NOISE_WITHOUT_EXPR, "math"), sy.lambdify((_T, N, S), NOISE_WITH_EXPR, "math"),
            sy.lambdify((_ETA, _LAM, _S2, N, S), STABILITY_EXPR, "math"),
            sy.lambdify((_LAM, _S2, N, S), max_stable_lr_expr(), "math"))


def minibatch_noise_exprs() -> tuple:
    """(without replacement, with replacement) E‖g_S − ḡ‖² as sympy expressions in TrK, N, S."""
    return NOISE_WITHOUT_EXPR, NOISE_WITH_EXPR


def stability_expr():
    """J20's stability left-hand side as a sympy expression in η, λ_H, s2, N, S."""
    return STABILITY_EXPR


@constrain(trace_k=NONNEGATIVE, replacement=Flag())
def minibatch_noise(trace_k, n, batch, *, replacement: bool) -> float:
    r"""E‖g_S − ḡ‖² of the mean gradient of a uniformly drawn mini-batch of S of the N examples.

    .. math:: \text{without replacement: } \operatorname{Tr}K\,\frac{N-S}{S(N-1)},\qquad
              \text{with replacement: } \frac{\operatorname{Tr}K}{S},

    with K = (1/N) Σ (g_i − ḡ)(g_i − ḡ)ᵀ (1/N). ``trace_k`` = Tr K ≥ 0, ``n`` = N ≥ 2 examples,
    ``batch`` = S in [1, N], ``replacement`` says which scheme (no default: the two differ).
    Exact (an identity of finite sampling), [derived] (docs/theory.md §14). Raises DomainError
    outside those ranges.

    >>> minibatch_noise(2.0, 10, 10, replacement=False), minibatch_noise(2.0, 10, 1, replacement=True)
    (0.0, 2.0)
    """
    n, batch = _check_batch(n, batch)
    f = _lambdas()[1 if replacement else 0]
    return float(f(trace_k, n, batch))


@constrain(lr=POSITIVE, lam_h=Interval(Real, None, None), s2=NONNEGATIVE)
def stability_lhs(lr, lam_h, s2, n, batch) -> float:
    r"""J20's stability left-hand side (1 − ηλ_H¹)² + s²η²(N − S)/(S(N − 1)); training along e_H¹
    is (in the mean-square sense) stable while it is ≤ 1.

    ``lr`` = η > 0, ``lam_h`` = λ_H¹ (largest algebraic Hessian eigenvalue, any real), ``s2`` = s²
    ≥ 0 with the 1/N normalization of the module docstring, ``n`` = N ≥ 2, ``batch`` = S in [1, N].
    Exact for the quadratic model (per-example Hessians sharing e_H¹): the factor by which one SGD
    step (without replacement) multiplies E ψ² for ψ = ⟨θ − θ*, e_H¹⟩. Source: J20 (arXiv 2002.09572,
    their condition), the exactness [derived].

    >>> stability_lhs(0.1, 10.0, 0.0, 100, 10)
    0.0
    """
    n, batch = _check_batch(n, batch)
    return float(_lambdas()[2](lr, lam_h, s2, n, batch))


@constrain(lam_h=POSITIVE, s2=NONNEGATIVE)
def max_stable_lr(lam_h, s2, n, batch) -> float:
    r"""The largest η with :func:`stability_lhs` ≤ 1: η* = 2λ/(λ² + s²(N − S)/(S(N − 1))) (λ = λ_H¹ > 0).

    Equals 2/λ_H¹ for full-batch gradient descent (S = N) or s² = 0 [derived from J20's condition].

    >>> max_stable_lr(4.0, 0.0, 100, 10)
    0.5
    """
    n, batch = _check_batch(n, batch)
    return float(_lambdas()[3](lam_h, s2, n, batch))


@constrain(trace_k=NONNEGATIVE, params=COUNT)
def isotropic_sigma2(trace_k, params) -> float:
    r"""σ² = Tr K / q: the variance of the isotropic fit K ≈ σ² I over q parameters (J17's assumption).

    J17 (arXiv 1711.04623) model the gradient covariance as σ² I; the best such fit in Frobenius
    norm has σ² = Tr K/q. Real covariances are far from isotropic (Tr K/λ_K¹ ≪ q), so a noise
    scale built on it is only as good as that assumption.

    >>> isotropic_sigma2(10.0, 5)
    2.0
    """
    return float(trace_k) / int(params)


@constrain(lr=POSITIVE, sigma2=NONNEGATIVE)
def noise_temperature(lr, batch, sigma2) -> float:
    r"""J17's noise scale n = σ²η/(2S) (with replacement, N ≫ S), from the isotropic fit σ² = Tr K/q.

    ``lr`` = η, ``batch`` = S ≥ 1, ``sigma2`` = σ² (:func:`isotropic_sigma2`). Rests on the
    assumption K = σ² I (J17 §2); the ratio η/S is what the paper says controls the dynamics.

    >>> noise_temperature(0.1, 10, 2.0)
    0.01
    """
    batch = check_int("batch", batch, lo=1)
    return sigma2 * lr / (2 * batch)


@constrain(trace_k=NONNEGATIVE, grad_sq=NONNEGATIVE)
def critical_batch_simple(trace_k, grad_sq):
    r"""The "simple" gradient noise scale B_simple = Tr K/‖ḡ‖² (McCandlish et al., arXiv 1812.06162):
    a labelled extension, not in J17/J20. None when ‖ḡ‖² = 0 (at a stationary point it is undefined).

    >>> critical_batch_simple(4.0, 2.0)
    2.0
    """
    return None if grad_sq == 0 else trace_k / grad_sq


def derive_noise():
    """Derivation behind `initbounds noise`: the mini-batch noise identities (sympy sums the
    inclusion probabilities), J20's stability condition and its exactness on the quadratic model,
    and J17's noise scale under the isotropic assumption."""
    from .derivation import Derivation, Step

    d = sy.Symbol("D", positive=True)          # N Tr K = Σ ‖g_i − ḡ‖²
    p1 = S / N
    p2 = S * (S - 1) / (N * (N - 1))
    # E‖Σ_{i∈S} d_i‖² = p1 Σ‖d_i‖² + p2 Σ_{i≠j} ⟨d_i, d_j⟩, and Σ_{i≠j} ⟨d_i, d_j⟩ = ‖Σ d_i‖² − Σ‖d_i‖² = −Σ‖d_i‖²
    without = sy.factor((p1 - p2) * d / S**2).subs(d, N * _T)
    with_rep = sy.factor((S * d / N) / S**2).subs(d, N * _T)          # S independent draws, E‖d_I‖² = D/N each
    psi = sy.Symbol("psi")
    var_h = without.subs(_T, _S2)              # step 1 with the scalars h_i in place of the vectors g_i
    second = (1 - _ETA * _LAM) ** 2 + _ETA**2 * var_h
    sol = max_stable_lr_expr()
    q = sy.Symbol("q", positive=True)
    steps = (
        Step("Mini-batch of S drawn without replacement: P(i ∈ S) = S/N and P(i, j ∈ S) = S(S−1)/(N(N−1)) "
             "for i ≠ j. With d_i = g_i − ḡ, Σ d_i = 0, so Σ_{i≠j}⟨d_i, d_j⟩ = −Σ‖d_i‖² = −N Tr K (K with "
             "1/N). sympy factors E‖(1/S)Σ_{i∈S} d_i‖²:",
             sy.Eq(sy.Symbol("E‖g_S − ḡ‖²"), without), citation="J20",
             assumptions=("K = (1/N) Σ (g_i − ḡ)(g_i − ḡ)ᵀ (1/N normalization)", "uniform batches")),
        Step("With replacement the S indices are independent, each with E‖d_I‖² = Tr K:",
             sy.Eq(sy.Symbol("E‖g_S − ḡ‖²"), with_rep), citation="J20"),
        Step("Quadratic model along e = e_H¹: ℓ_i = ½ h_i ψ² + (terms orthogonal to e), per-example Hessians "
             "sharing e, λ_H¹ = (1/N) Σ h_i and s² = (1/N) Σ (h_i − λ_H¹)². One SGD step: ψ′ = (1 − η h_S) ψ "
             "with h_S the batch mean of h_i, whose variance is the first identity with h in place of g:",
             sy.Eq(sy.Symbol("E[ψ′²]") / psi**2, second), citation="J20",
             assumptions=("s² with 1/N", "batches without replacement")),
        Step("That is J20's left-hand side exactly; training along e is stable in mean square iff it is ≤ 1:",
             sy.Le(STABILITY_EXPR, 1), source="paper", citation="J20"),
        Step("sympy solves LHS = 1 for η: the largest stable learning rate (2/λ_H¹ when S = N or s² = 0). "
             "The break-even point is the first step of a run where the LHS reaches 1.",
             sy.Eq(sy.Symbol("η*"), sol), citation="J20"),
        Step("J17 fit K by σ² I over q parameters (best Frobenius fit σ² = Tr K/q) and take batches with "
             "replacement; the SDE's noise scale is then",
             sy.Eq(sy.Symbol("n"), _ETA * (_T / q) / (2 * S)), source="paper", citation="J17",
             assumptions=("isotropic covariance K = σ² I (rarely true: Tr K/λ_K¹ ≪ q)", "N ≫ S")),
        Step("J20's cheap proxy α*: the smallest multiple α of the last SGD step for which the loss rises "
             "by a fifth, L(θ − α η g_S) ≥ (1 + r) L(θ), with",
             sy.Eq(sy.Symbol("r"), LOSS_RISE), source="paper", citation="J20"),
        Step("Extension (not J17/J20): the simple critical batch size of McCandlish et al. (arXiv 1812.06162)",
             sy.Eq(sy.Symbol("B_simple"), _T / sy.Symbol("‖ḡ‖²")), citation="extension, arXiv 1812.06162"),
    )
    return Derivation("SGD noise, curvature and the break-even point (J17, J20)", steps)


def _g(x) -> str:
    return "undefined" if x is None else f"{x:.6g}"


def noise_report(measured: dict, *, lr: float, batch: int) -> Report:
    """What ``initbounds noise`` prints, from the quantities :func:`sim.noise.measure_noise` measured.

    ``measured`` holds (floats): ``n`` examples measured on (``n_train``, the training set's size
    N that batches are drawn from, when it differs), ``params`` q, ``trace_k`` Tr K (1/N), ``lambda_k``
    (top-k of K, descending), ``lambda_h`` (top-k of H, largest algebraic first), ``trace_h`` and
    ``trace_h_ci`` (Hutchinson), ``s2`` (1/N), ``grad_sq`` = ‖ḡ‖², ``loss``, ``accuracy``, ``step``.
    Adds the derived columns: E‖g_S − ḡ‖² both ways, Tr K/λ_K¹, η/S, J17's n, B_simple, the
    stability LHS, 2/η and the largest stable η.
    """
    n, batch = _check_batch(measured.get("n_train", measured["n"]), batch)
    lr = Interval(Real, 0, None, closed="neither").validate("lr", lr)
    tk, lk, lh = measured["trace_k"], measured["lambda_k"], measured["lambda_h"]
    sigma2 = isotropic_sigma2(tk, measured["params"])
    out = dict(measured)
    out.update({
        "lr": lr, "batch": batch,
        "noise_without_replacement": minibatch_noise(tk, n, batch, replacement=False),
        "noise_with_replacement": minibatch_noise(tk, n, batch, replacement=True),
        "trace_k_over_lambda_k1": tk / lk[0] if lk[0] > 0 else None,
        "lr_over_batch": lr / batch,
        "sigma2_isotropic": sigma2,
        "j17_noise_scale": noise_temperature(lr, batch, sigma2),
        "critical_batch_simple": critical_batch_simple(tk, measured["grad_sq"]),
        "stability_lhs": stability_lhs(lr, lh[0], measured["s2"], n, batch),
        "two_over_lr": 2.0 / lr,
        "max_stable_lr": max_stable_lr(lh[0], measured["s2"], n, batch) if lh[0] > 0 else None,
    })
    lo, hi = measured["trace_h_ci"]
    rows = (
        ("examples N (measured on), parameters q", f"{n} ({measured['n']}), {measured['params']}", "data, model"),
        ("loss, training accuracy", f"{measured['loss']:.4g}, {measured['accuracy']:.4f}", f"measured (step {measured['step']})"),
        ("Tr K (K with 1/N)", f"{tk:.6g}", "measured (per-example gradients, vmap)"),
        ("λ_K top-k", ", ".join(f"{v:.4g}" for v in lk), "measured (N×N centred Gram matrix)"),
        ("Tr K/λ_K¹", _g(out["trace_k_over_lambda_k1"]), "measured (J20's conditioning)"),
        ("λ_H top-k (largest algebraic)", ", ".join(f"{v:.4g}" for v in lh), "measured (Lanczos on HVPs)"),
        ("Tr H (Hutchinson)", f"[{lo:.4g}, {hi:.4g}]", f"measured ({measured['probes']} probes, 95 % interval)"),
        ("s² along e_H¹ (1/N)", f"{measured['s2']:.6g}", "measured (per-example curvature)"),
        ("E‖g_S − ḡ‖², without replacement", f"{out['noise_without_replacement']:.6g}", "derived: Tr K (N−S)/(S(N−1))"),
        ("E‖g_S − ḡ‖², with replacement", f"{out['noise_with_replacement']:.6g}", "derived: Tr K/S"),
        ("η/S", f"{out['lr_over_batch']:.6g}", "J17's ratio"),
        ("J17 noise scale n = σ²η/(2S)", f"{out['j17_noise_scale']:.6g}", "J17 (isotropic fit σ² = Tr K/q)"),
        ("B_simple = Tr K/‖ḡ‖²", _g(out["critical_batch_simple"]), "extension (McCandlish et al. 2018)"),
        ("stability LHS", f"{out['stability_lhs']:.6g}", "J20 condition (≤ 1 stable)"),
        ("λ_H¹ vs 2/η", f"{lh[0]:.4g} vs {out['two_over_lr']:.4g}", "J20"),
        ("largest stable η", _g(out["max_stable_lr"]), "derived from J20's condition"),
    )
    return Report(title=f"SGD noise and curvature: η = {lr:g}, S = {batch}, N = {n}", rows=rows, data=out,
                  assumptions=("K and s² with 1/N", "batches drawn uniformly without replacement (and with, where said)",
                               "J17's n rests on the isotropic fit K ≈ (Tr K/q) I"),
                  lines=("normalizations: K = (1/N)Σ(g_i−ḡ)(g_i−ḡ)ᵀ, s² = (1/N)Σ(h_i−λ_H¹)²; "
                         "with 1/(N−1) the factor (N−S)/(S(N−1)) becomes (N−S)/(SN)",))
