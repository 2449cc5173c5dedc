r"""The gradient side of AB19 (property ii), exactly: the law of the weight-gradient norms at init.

Setting (the toolkit's simulation convention, :func:`initbounds.sim.engine.sample_networks` with
``grads=True``): L ReLU layers z_l = W_l h_{l−1}, h_l = relu(z_l), zero bias, W_l with i.i.d.
N(0, v_l) entries; one input x; the loss ℓ = ⟨e, h_L⟩ with e ~ N(0, I) independent of the
weights, so δ_L = ∂ℓ/∂z_L = e ⊙ 1[z_L > 0] and δ_{l−1} = 1[z_{l−1} > 0] ⊙ W_lᵀ δ_l. The weight
gradient is the outer product δ_l h_{l−1}ᵀ, so ‖∂ℓ/∂W_l‖_F = ‖δ_l‖·‖h_{l−1}‖, and AB19's property
(ii) concerns

    G_l = ‖∂ℓ/∂W_l‖_F² / (‖δ_L‖² ‖x‖²) = r_l · s_{l−1},
    r_l = ‖δ_l‖²/‖δ_L‖² (backward),  s_{l−1} = ‖h_{l−1}‖²/‖x‖² (forward),

with G_l = 0 when δ_L = 0 (no unit of layer L active).

**Theorem** ([derived], docs/theory.md §3, "The gradient side"). Each G_l has exactly the law of
an independent Bernoulli(1 − 2^{−n_L}) (layer L keeps an active unit) times a product of L − 1
independent one-layer ratios:

    G_l =d B · Π_{i<l} v_i χ²_{K_i} · Π_{j=l}^{L−1} v_{j+1} χ²_{K'_j},   K_i ~ Bin(n_i, ½), K'_j ~ Bin(n_j, ½),

the forward ratios of layers 1..l−1, and for the backward part the law of layer j's ratio with
the variance of W_{j+1} (fan-in and fan-out swapped). Under He with equal widths this is
B·ρ_1 ⋯ ρ_{L−1}: the law of ‖h_{L−1}‖²/‖x‖² (docs/theory.md §2, its atom at 0 included) times B,
for every l.

Proof (printed in full by :func:`derive_gradient`). (1) Downstream of W_l the network depends on W_l
only through z_l = W_l h_{l−1}; splitting W_l along ĥ_{l−1} = h_{l−1}/‖h_{l−1}‖, the orthogonal
part is a fresh Gaussian independent of everything else, and the part along ĥ contributes
⟨z_l, δ_l⟩/‖h_{l−1}‖, which by Euler's identity (the bias-free ReLU network is positively
homogeneous of degree 1) equals ℓ/‖h_{l−1}‖ at every l. So, with ι_j = 1[K_j ≥ 1],
β_j = v_{j+1} χ²_{(K_j − 1)⁺} fresh, ρ_j = v_j χ²_{K_j} and P_j = Π_{i=j}^{L−1} ρ_i:

    r_L = 1,   r_j = ι_j (U_{j+1} + β_j r_{j+1}),   U_j = v_L ξ² P_j,  ξ² ~ χ²_1

(ℓ²/‖δ_L‖² = ‖h_L‖² u² with u² ~ Beta(½, (K_L − 1)/2) the squared cosine of the uniform direction
of e on the active units with h_L; χ²_K · Beta(½, (K − 1)/2) = χ²_1). (2) Invariant, by induction
from j = L down: (U_j, r_j) =d (v_j r_j ζ², r_j) with ζ² ~ χ²_1 independent of r_j. Then
r_j = v_{j+1} r_{j+1}(ζ² + B_j) = v_{j+1} r_{j+1} χ²_{K_j}, and U_j = v_j v_{j+1} r_{j+1} ζ² A_j with
ζ² = Yβ, Y = ζ² + B_j ~ χ²_{K_j} independent of β ~ Beta(½, (K_j − 1)/2), and A_j β ~ χ²_1
independent of Y: the invariant holds at j. (3) s_{l−1} depends on layers < l only, r_l on layers
≥ l only (and on the direction of z_l, not its length), so they are independent.

The joint law over l is NOT a random walk of partial products (ξ² and the forward products are
shared), so for "every layer" the toolkit takes a union over l of these exact marginals.
The independence approximation the toolkit stated before (an O(1/n) correction per layer) was
therefore wrong for each layer's marginal: the marginal is exactly the independent product.

No torch here; ``sim.width`` checks the law against real networks (autograd).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from . import rho
from .errors import WIDTHS, DomainError, Interval, Real, constrain

__all__ = ["GradientLaw", "gradient_law", "gradient_moments", "log_moment_he", "derive_gradient"]

_VARIANCE = Interval(Real, 0, None, closed="neither")
_LOG2 = math.log(2.0)


@dataclass(frozen=True)
class GradientLaw:
    """The exact law of G_1..G_L (see :func:`gradient_law`).

    ``factors[l − 1]`` lists the (width n, variance v) of the L − 1 independent factors
    v χ²_{K}, K ~ Bin(n, ½), whose product times B ~ Bernoulli(1 − 2^{−n_L}) is G_l in law;
    ``log_p_output_alive`` = log(1 − 2^{−n_L}).
    """

    widths: tuple
    variances: tuple
    factors: tuple
    log_p_output_alive: float

    def log_moment(self, l: int, p: float) -> float:
        """log E G_l^p (p > 0), exact: log P(δ_L ≠ 0) + Σ_factors [p log(v n/2) + log E ρ_n^p]."""
        total = self.log_p_output_alive
        for n, v in self.factors[l - 1]:
            total += p * math.log(v * n / 2.0) + rho.log_moment(n, p)
        return total


def _variances(widths: tuple, variances) -> tuple:
    L = len(widths)
    if variances is None:                        # He, fan-in with n_0 = n_1
        return tuple(2.0 / widths[max(l - 1, 0)] for l in range(L))
    vals = list(variances) if hasattr(variances, "__iter__") and not isinstance(variances, str) else [variances] * L
    if len(vals) != L:
        raise DomainError(f"variances must give one value per layer ({L}); got {len(vals)}", param="variances")
    return tuple(_VARIANCE.validate("variances", x, item=f"[{i}]") for i, x in enumerate(vals))


@constrain(widths=WIDTHS)
def gradient_law(widths, *, variances=None) -> GradientLaw:
    r"""The exact law of the normalized weight-gradient norms G_l, l = 1..L.

    .. math:: G_l \overset{d}{=} \prod_{i<l} v_i\chi^2_{K_i}\prod_{j=l}^{L-1} v_{j+1}\chi^2_{K'_j}
              \cdot B,\ B\sim\mathrm{Bernoulli}(1-2^{-n_L})

    Args:
        widths: n_1..n_L, the ReLU layers' widths.
        variances: Var W_l per layer (default He fan-in with n_0 = n_1: 2/n_{l−1}; AB19's fan-out
            He is 2/n_l: the same for equal widths).

    Exact. Source: [derived] docs/theory.md §3 (the gradient side). Assumptions: Gaussian
    weights, zero bias, one input x ≠ 0, ℓ = ⟨e, h_L⟩ with e ~ N(0, I) independent of the weights.

    >>> law = gradient_law([64, 64, 64])
    >>> law.factors[0]                      # G_1 = r_1: the backward ratios of layers 1 and 2
    ((64, 0.03125), (64, 0.03125))
    """
    w = tuple(widths)
    v = _variances(w, variances)
    L = len(w)
    factors = tuple(tuple((w[i], v[i]) for i in range(l - 1)) + tuple((w[j], v[j + 1]) for j in range(l - 1, L - 1))
                    for l in range(1, L + 1))
    log_alive = math.log1p(-math.exp(-w[-1] * _LOG2)) if w[-1] < 1100 else 0.0
    return GradientLaw(w, v, factors, log_alive)


def log_moment_he(width: int, depth: int, p: float) -> float:
    """log E G_l^p for ``depth`` He layers of equal ``width`` (the same for every l): by
    :func:`gradient_law`, log(1 − 2^{−n}) + (L − 1)·log E ρ_n^p, in O(1) for any depth (the general
    :meth:`GradientLaw.log_moment` lists every factor). Tested equal to it."""
    n, L = int(width), int(depth)
    alive = math.log1p(-math.exp(-n * _LOG2)) if n < 1100 else 0.0
    return alive + (L - 1) * rho.log_moment(n, p) if L > 1 else alive


@dataclass(frozen=True)
class GradientMoments:
    """E G_l, E G_l², Var G_l and the same for r_l = ‖δ_l‖²/‖δ_L‖² (given δ_L ≠ 0), l = 1..L."""

    widths: tuple
    mean: np.ndarray
    second: np.ndarray
    var: np.ndarray
    r_mean: np.ndarray
    r_second: np.ndarray

    def as_dict(self) -> dict:
        return {"widths": list(self.widths), "mean": self.mean.tolist(), "second_moment": self.second.tolist(),
                "var": self.var.tolist(), "r_mean": self.r_mean.tolist(), "r_second_moment": self.r_second.tolist()}


@constrain(widths=WIDTHS)
def gradient_moments(widths, *, variances=None) -> GradientMoments:
    """Exact first and second moments of G_l and of r_l = ‖δ_l‖²/‖δ_L‖² (given δ_L ≠ 0), from
    :func:`gradient_law`: E G_l^k = (1 − 2^{−n_L}) Π_factors (v n/2)^k E ρ_n^k, E ρ_n = 1,
    E ρ_n² = 1 + 5/n (docs/theory.md §2).

    >>> m = gradient_moments([10, 10, 10])
    >>> round(float(m.second[0]), 10) == round((1 - 2**-10) * 1.5 ** 2, 10)
    True
    """
    law = gradient_law(widths, variances=variances)
    L = len(law.widths)
    mean = np.array([math.exp(law.log_moment(l, 1)) for l in range(1, L + 1)])
    second = np.array([math.exp(law.log_moment(l, 2)) for l in range(1, L + 1)])
    # Var = E G² − (E G)², without cancellation: log E G² − 2 log E G = Σ log(E ρ²/(E ρ)²) − log P(alive)
    var = np.array([mean[l] ** 2 * math.expm1(law.log_moment(l + 1, 2) - 2 * law.log_moment(l + 1, 1))
                    for l in range(L)])
    r_mean, r_second = [], []
    for l in range(1, L + 1):
        back = law.factors[l - 1][l - 1:]                 # the backward factors j = l..L−1
        r_mean.append(math.exp(sum(math.log(v * n / 2.0) for n, v in back)))
        r_second.append(math.exp(sum(2 * math.log(v * n / 2.0) + rho.log_moment(n, 2) for n, v in back)))
    return GradientMoments(law.widths, mean, second, var, np.array(r_mean), np.array(r_second))


# --- derivation ------------------------------------------------------------------------------------
@lru_cache(maxsize=None)
def derive_gradient():
    """The exact law of the weight-gradient norms (AB19 property ii), step by step."""
    import sympy as sy

    from .derivation import Derivation, Step

    k = sy.Symbol("k", positive=True, integer=True)
    s = sy.Symbol("s", positive=True)
    # Mellin transform: E[(χ²_k)^s] E[β^s] for β ~ Beta(1/2, (k−1)/2) vs E[(χ²_1)^s]
    m_chi = lambda dof: 2**s * sy.gamma(dof / 2 + s) / sy.gamma(dof / 2)  # noqa: E731
    m_beta = sy.gamma(sy.Rational(1, 2) + s) * sy.gamma(k / 2) / (sy.gamma(sy.Rational(1, 2)) * sy.gamma(k / 2 + s))
    lemma = sy.Eq(sy.Symbol("E[(Aβ)ˢ]"), sy.gammasimp(m_chi(k) * m_beta))
    U, r, xi2, P, beta, iota, vL = sy.symbols("U_{j+1} r_{j+1} ξ² P_j β_j ι_j v_L", positive=True)
    rec = sy.Eq(sy.Symbol("r_j"), iota * (U + beta * r))
    n = sy.Symbol("n", positive=True, integer=True)
    L = sy.Symbol("L", positive=True, integer=True)
    steps = (
        Step("The weight gradient of layer l is the outer product δ_l h_{l−1}ᵀ, so its Frobenius norm "
             "is ‖δ_l‖·‖h_{l−1}‖; normalized by the output error and the input it is a product of a "
             "backward and a forward ratio.",
             sy.Eq(sy.Symbol("G_l"), sy.Symbol("r_l") * sy.Symbol("s_{l-1}"))),
        Step("Euler's identity: the bias-free ReLU network is positively homogeneous of degree 1 in "
             "z_l, so ⟨z_l, δ_l⟩ = ℓ at every layer l.",
             sy.Eq(sy.Symbol("⟨z_l, δ_l⟩"), sy.Symbol("ℓ"))),
        Step("Downstream of W_l everything depends on W_l only through z_l = W_l h_{l−1}. Split "
             "W_l = W_l ĥĥᵀ + W_l(I − ĥĥᵀ): the second part is a fresh Gaussian independent of z_l and "
             "of all other weights, so 1[z_{l−1} > 0] W_lᵀ δ_l = ĥ ℓ/‖h_{l−1}‖ + (D − ĥĥᵀ) g with "
             "g ~ N(0, v_l‖δ_l‖² I); D − ĥĥᵀ projects on K_{l−1} − 1 dimensions.",
             sy.Eq(sy.Symbol("‖δ_{l−1}‖²"),
                   sy.Symbol("ℓ")**2 / sy.Symbol("‖h_{l−1}‖²")
                   + sy.Symbol("v_l") * sy.Symbol("‖δ_l‖²") * sy.Symbol("χ²_{K_{l−1}−1}"))),
        Step("The direction of e on the K_L active units is uniform, so ℓ²/‖δ_L‖² = ‖h_L‖² u² with "
             "u² ~ Beta(½, (K_L − 1)/2); ‖h_L‖² = v_L‖h_{L−1}‖² χ²_{K_L}, and χ²_K·Beta(½, (K−1)/2) is χ²_1 "
             "(the lemma below). Dividing by ‖δ_L‖² gives a recursion with U_j = v_L ξ² Π_{i≥j} ρ_i, "
             "ξ² ~ χ²_1, β_j = v_{j+1} χ²_{(K_j−1)⁺}, ι_j = 1[K_j ≥ 1], r_L = 1, U_L = v_L ξ²:", rec),
        Step("Lemma (Mellin transforms): for A ~ χ²_k independent of β ~ Beta(½, (k−1)/2), "
             "E[(Aβ)^s] is the Mellin transform of χ²_1, so Aβ ~ χ²_1.", lemma),
        Step("Invariant, by induction from j = L: (U_j, r_j) has the law of (v_j r_j ζ², r_j) with "
             "ζ² ~ χ²_1 independent of r_j. Then r_j = v_{j+1} r_{j+1}(ζ² + B_j) = v_{j+1} r_{j+1} χ²_{K_j}; "
             "and U_j = v_j v_{j+1} r_{j+1} A_j ζ² with ζ² = Yβ, Y = ζ² + B_j independent of β, so by "
             "the lemma U_j = v_j r_j ζ'²: the invariant holds at j.",
             sy.Eq(sy.Symbol("r_l"), sy.Product(sy.Symbol("v_{j+1}") * sy.Symbol("χ²_{K_j}"),
                                                (sy.Symbol("j"), sy.Symbol("l"), L - 1)))),
        Step("s_{l−1} depends on layers < l, r_l only on layers ≥ l and on the direction of z_l (δ_l is "
             "homogeneous of degree 0 in z_l): they are independent. So every G_l is a Bernoulli"
             "(1 − 2^{−n_L}) (layer L keeps an active unit) times a product of L − 1 independent one-layer "
             "ratios; under He with equal widths, B times the law of ‖h_{L−1}‖²/‖x‖², with the exact "
             "moments E G_l = 1 − 2^{−n} and E G_l² = (1 − 2^{−n})(1 + 5/n)^{L−1}.",
             sy.Eq(sy.Symbol("E[G_l²]"), (1 - 2**-n) * (1 + 5 / n)**(L - 1))),
        Step("The minimum width for property (ii) uses the four methods of property (i) on that "
             "product (depth L − 1, last layer) plus the event B = 0 (probability 2^{−n}), with a "
             "union over the N inputs and, for every layer, over the L layers (the joint law across l "
             "is not a random walk).",
             sy.Le(sy.Symbol("P(fail)"), sy.Symbol("N") * L * (2**-n + sy.Symbol("P(ρ_1⋯ρ_{L−1} ∉ band)")))),
    )
    return Derivation("AB19 property (ii): the exact law of the weight-gradient norms (Gaussian weights, zero "
                      "bias, ReLU, one input, ℓ = ⟨e, h_L⟩ with e ~ N(0, I) independent of the weights)", steps)
