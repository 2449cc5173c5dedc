"""The gradient side of AB19 (issue 12 §1): bounds.gradient's theorem and the widths for property (ii).

The theorem (each G_l is B·(a product of L − 1 independent layer ratios)) is checked against two
computations that do not use it, both of the *representation* it is proved from (the backward
recursion r_j = ι_j(v_L ξ² P_{j+1} + β_j r_{j+1}), whose law the simulation claims check against real
networks):

* ``_representation_moments`` — a recursion over layers on the centred joint moments
  E[(P_j − 1)^a (r_j − 1)^g | ξ²] (a + g ≤ 4, polynomials in ξ² − 1) with exact rational per-layer
  coefficients E[(ρ−1)^a ρ^b c0^c ι^d β^e] (binomial factorial moments), giving E (G_l − c)^m, m ≤ 4;
* ``_unrolled_moments`` — E r_l and E r_l² by brute force over the unrolled sum of products
  (exact rationals, O(L³)).

An earlier version of the toolkit called the gradient side an "independence approximation" with an
O(1/n) correction per layer; these computations showed the first four moments agree exactly, which led
to the proof now in bounds.gradient.
"""
from __future__ import annotations

import math
from fractions import Fraction
from functools import lru_cache

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from initbounds.bounds import gradient
from initbounds.bounds.band import band_for_eps, band_probability
from initbounds.bounds.errors import CostLimitError, DomainError
from initbounds.bounds.width import METHODS, log_failure_bound, min_width, width_report

_M = 4
_W_MOMENTS = (1, 0, 2, 8, 60)          # E (ξ² − 1)^k for ξ² ~ χ²_1


# --- exact per-layer coefficients ---------------------------------------------------------------
def _poly_mul(a: list, b: list) -> list:
    out = [Fraction(0)] * (len(a) + len(b) - 1)
    for i, x in enumerate(a):
        if x:
            for j, y in enumerate(b):
                out[i + j] += x * y
    return out


def _rising(i: int, shift: int) -> list:
    """μ_i(K + shift) = Π_{t<i} (K + shift + 2t) = E[(χ²_{K+shift})^i] as a polynomial in K."""
    p = [Fraction(1)]
    for t in range(i):
        p = _poly_mul(p, [Fraction(shift + 2 * t), Fraction(1)])
    return p


@lru_cache(maxsize=None)
def _stirling2(d: int, r: int) -> int:
    if d == r:
        return 1
    if r == 0 or r > d:
        return 0
    return r * _stirling2(d - 1, r) + _stirling2(d - 1, r - 1)


@lru_cache(maxsize=4096)
def _binomial_raw_moment(n: int, d: int) -> Fraction:
    """E[K^d] for K ~ Bin(n, ½), exactly: Σ_r S(d, r) n(n−1)…(n−r+1) / 2^r."""
    total = Fraction(0)
    fall = 1
    for r in range(0, d + 1):
        if r > 0:
            fall *= n - r + 1
        if fall == 0:
            break
        total += Fraction(_stirling2(d, r) * fall, 2**r)
    return total


def _expect_poly_k(n: int, poly: list) -> Fraction:
    return sum((c * _binomial_raw_moment(n, d) for d, c in enumerate(poly) if c), Fraction(0))


@lru_cache(maxsize=65536)
def _layer_entry(n: int, vj: Fraction, vn: Fraction, sig: Fraction, e1: int, e2: int, e3: int, e4: int,
                 e5: int) -> Fraction:
    """E[(ρ − 1)^e1 ρ^e2 c0^e3 ι^e4 β^e5] exactly, for one layer of width n:
    ρ = vj·A, β = vn·B, A ~ χ²_K, B ~ χ²_{(K−1)⁺} independent given K ~ Bin(n, ½), ι = 1[K ≥ 1],
    c0 = ι·sig + β − 1."""
    # K ≥ 1 (ι = 1): expand in powers of A and B, then E over K of μ_i(K) μ_k(K − 1)
    pa = {0: Fraction(1)}                       # polynomial in A
    for _ in range(e1):
        pa = _mul_lin(pa, vj, Fraction(-1))
    for _ in range(e2):
        pa = _mul_lin(pa, vj, Fraction(0))
    pb = {0: Fraction(1)}                       # polynomial in B
    for _ in range(e3):
        pb = _mul_lin(pb, vn, sig - 1)
    for _ in range(e5):
        pb = _mul_lin(pb, vn, Fraction(0))
    poly_k = [Fraction(0)]
    for i, ca in pa.items():
        for k, cb in pb.items():
            term = _poly_mul(_rising(i, 0), _rising(k, -1))
            term = [ca * cb * t for t in term]
            if len(term) > len(poly_k):
                poly_k += [Fraction(0)] * (len(term) - len(poly_k))
            for d, t in enumerate(term):
                poly_k[d] += t
    p0 = Fraction(1, 2**n) if n < 4096 else Fraction(0)   # P(K = 0) (below 2^-4096: far under double rounding)
    # Σ_{K≥1} P(K) poly(K) = E[poly(K)] − P(K = 0)·poly(0); K = 0 gives ρ = β = ι = 0, c0 = −1
    value = _expect_poly_k(n, poly_k) - p0 * poly_k[0]
    at_zero = (-1) ** (e1 + e3) if (e2 == 0 and e4 == 0 and e5 == 0) else 0
    return value + p0 * at_zero


def _mul_lin(p: dict, a: Fraction, b: Fraction) -> dict:
    """p(X)·(a X + b)."""
    out: dict = {}
    for i, c in p.items():
        if a:
            out[i + 1] = out.get(i + 1, Fraction(0)) + c * a
        if b:
            out[i] = out.get(i, Fraction(0)) + c * b
    return out


# --- the recursion --------------------------------------------------------------------------------
_STATES = tuple((a, g) for a in range(_M + 1) for g in range(_M + 1 - a))
_INDEX = {s: i for i, s in enumerate(_STATES)}
_D = _M + 1                              # coefficients of a polynomial in w = ξ² − 1 (degree ≤ 4)


def _compositions(g: int):
    for g1 in range(g + 1):
        for g2 in range(g + 1 - g1):
            yield g1, g2, g - g1 - g2


def _w_poly(h: int, g2: int) -> np.ndarray:
    """w^h (1 + w)^g2 as coefficients in w."""
    p = np.zeros(_D)
    for i in range(g2 + 1):
        if h + i < _D:
            p[h + i] += math.comb(g2, i)
    return p


@lru_cache(maxsize=256)
def _transition(n: int, vj: Fraction, vn: Fraction, sig: Fraction) -> np.ndarray:
    """The linear map from E[p_{j+1}^a q_{j+1}^g | w] (all a + g ≤ 4, as polynomials in w) to
    E[p_j^α q_j^γ | w], for layer j of width n (p = P − 1, q = r − 1; see the module docstring):
    p_j = (ρ − 1) + ρ p_{j+1},  q_j = c0 + ι σ w + ι σ (1 + w) p_{j+1} + β q_{j+1}."""
    S = len(_STATES)
    T = np.zeros((S * _D, S * _D))
    for (alpha, gamma), row in _INDEX.items():
        for a in range(alpha + 1):
            ca = math.comb(alpha, a)
            for g1, g2, g3 in _compositions(gamma):
                cg = math.factorial(gamma) // (math.factorial(g1) * math.factorial(g2) * math.factorial(g3))
                col = _INDEX[(a + g2, g3)]
                for h in range(g1 + 1):
                    iota = 1 if h + g2 > 0 else 0
                    e = _layer_entry(n, vj, vn, sig, alpha - a, a, g1 - h, iota, g3)
                    if not e:
                        continue
                    coef = float(ca * cg * math.comb(g1, h) * sig ** (h + g2) * e)
                    wp = _w_poly(h, g2)
                    # out[row, x + y] += coef · wp[x] · in[col, y]
                    for x in np.nonzero(wp)[0]:
                        for y in range(_D - x):
                            T[row * _D + x + y, col * _D + y] += coef * wp[x]
    return T


def _forward_table(n: int, vj: Fraction) -> np.ndarray:
    """E[(ρ − 1)^{i−a} ρ^a] for i, a ≤ 4 (exact, as floats)."""
    out = np.zeros((_M + 1, _M + 1))
    for i in range(_M + 1):
        for a in range(i + 1):
            out[i, a] = float(_layer_entry(n, vj, vj, Fraction(0), i - a, a, 0, 0, 0))
    return out


def _frac(x) -> Fraction:
    return Fraction(x) if not isinstance(x, Fraction) else x


def _moments(widths: tuple, variances: tuple):
    """(E t_{l−1}^i, E q_l^i, P(K_L ≥ 1)) for l = 1..L, i ≤ 4 (t = s − 1, q = r − 1)."""
    L = len(widths)
    v = tuple(_frac(x) for x in variances)
    sig = v[-1]
    # backward: state after layers j..L−1; q_L = 0, p_L = 0
    S = len(_STATES)
    state = np.zeros(S * _D)
    state[_INDEX[(0, 0)] * _D] = 1.0
    wmom = np.array(_W_MOMENTS, dtype=float)
    q_mom = np.zeros((L, _M + 1))
    q_mom[L - 1, 0] = 1.0
    for j in range(L - 1, 0, -1):                   # layer j (1-based): state becomes level j
        state = _transition(widths[j - 1], v[j - 1], v[j], sig) @ state
        for g in range(_M + 1):
            q_mom[j - 1, g] = state[_INDEX[(0, g)] * _D:(_INDEX[(0, g)] + 1) * _D] @ wmom
    # forward: t_0 = 0, t_l = (ρ_l − 1) + ρ_l t_{l−1}
    t_mom = np.zeros((L, _M + 1))
    cur = np.zeros(_M + 1)
    cur[0] = 1.0
    for l in range(1, L + 1):
        t_mom[l - 1] = cur                           # E t_{l−1}^i
        tab = _forward_table(widths[l - 1], v[l - 1])
        cur = np.array([sum(math.comb(i, a) * tab[i, a] * cur[a] for a in range(i + 1)) for i in range(_M + 1)])
    alive_last = 1.0 - (2.0 ** -widths[-1] if widths[-1] < 1100 else 0.0)
    return t_mom, q_mom, alive_last


def _central_about(t_mom, q_mom, alive_last: float, c: float) -> np.ndarray:
    """E (G_l − c)^m for m = 0..4, l = 1..L (G = 0 with probability 1 − alive_last)."""
    L = t_mom.shape[0]
    out = np.zeros((L, _M + 1))
    for l in range(L):
        t, q = t_mom[l], q_mom[l]
        # given δ_L ≠ 0: G − 1 = t + q + t q with t ⟂ q
        g1 = np.zeros(_M + 1)
        for k in range(_M + 1):
            g1[k] = sum(math.factorial(k) // (math.factorial(i) * math.factorial(j) * math.factorial(k - i - j))
                        * t[i + k - i - j] * q[j + k - i - j]
                        for i in range(k + 1) for j in range(k + 1 - i))
        for m in range(_M + 1):
            shifted = sum(math.comb(m, k) * g1[k] * (1.0 - c) ** (m - k) for k in range(m + 1))
            out[l, m] = alive_last * shifted + (1.0 - alive_last) * (-c) ** m
    return out


def _unrolled_moments(widths, variances=None) -> tuple:
    """(E r_l, E r_l²) for l = 1..L by brute force over the unrolled representation (O(L³), exact
    rationals; a reference for the recursion in tests, small L only)."""
    w = tuple(widths)
    L = len(w)
    v = tuple(Fraction(2, w[max(l - 1, 0)]) for l in range(L)) if variances is None else tuple(map(_frac, variances))
    sig = v[-1]

    def E(n, vj, vn, e1, e2, e3, e4, e5):
        return _layer_entry(n, vj, vn, sig, e1, e2, e3, e4, e5)

    # per layer j (1-based, j ≤ L−1): E ρ_j, E ρ_j², E β_j, E β_j², E ρ_j β_j, E ι_j (β_j = v_{j+1} χ²_{(K_j−1)+})
    def lay(j):
        n, vj, vn = w[j - 1], v[j - 1], v[j]
        return {"rho": E(n, vj, vn, 0, 1, 0, 0, 0), "rho2": E(n, vj, vn, 0, 2, 0, 0, 0),
                "beta": E(n, vj, vn, 0, 0, 0, 0, 1), "beta2": E(n, vj, vn, 0, 0, 0, 0, 2),
                "rhobeta": E(n, vj, vn, 0, 1, 0, 0, 1), "iota": E(n, vj, vn, 0, 0, 0, 1, 0)}

    F = {j: lay(j) for j in range(1, L)}
    out_m, out_s = [], []
    for l in range(1, L + 1):
        # r_l = Σ_{m=l}^{L−1} T_m + T_L, T_m = Π_{i=l}^{m−1} β_i · ι_m · σ ξ² · Π_{i=m+1}^{L−1} ρ_i, T_L = Π β
        terms = list(range(l, L)) + [L]

        def mean_of(m):
            val = Fraction(1)
            for i in range(l, m):
                val *= F[i]["beta"]
            if m < L:
                val *= F[m]["iota"] * sig
                for i in range(m + 1, L):
                    val *= F[i]["rho"]
            return val

        def cross(m, mp):            # E T_m T_mp with m ≤ mp
            val = Fraction(1)
            for i in range(l, m):
                val *= F[i]["beta2"]
            if m == mp:
                if m == L:
                    return val
                val *= F[m]["iota"] * sig * sig * 3
                for i in range(m + 1, L):
                    val *= F[i]["rho2"]
                return val
            val *= F[m]["beta"]          # index m: ι_m (from T_m) · β_m (from T_mp) = β_m
            for i in range(m + 1, mp):
                val *= F[i]["rhobeta"]
            if mp < L:
                val *= F[mp]["rho"]      # ρ_mp (from T_m) · ι_mp = ρ_mp
                for i in range(mp + 1, L):
                    val *= F[i]["rho2"]
                val *= 3 * sig * sig
            else:
                val *= sig               # T_L carries no ξ²: E ξ² = 1
            return val

        out_m.append(sum((mean_of(m) for m in terms), Fraction(0)))
        s2 = Fraction(0)
        for a in terms:
            for b in terms:
                s2 += cross(min(a, b), max(a, b))
        out_s.append(s2)
    return out_m, out_s




def _representation_moments(widths, variances):
    """E (G_l − 1)^m, m = 0..4, l = 1..L, from the representation (no use of the theorem)."""
    t_mom, q_mom, alive = _moments(tuple(widths), tuple(Fraction(v) for v in variances))
    return _central_about(t_mom, q_mom, alive, 1.0)


def _product_central(widths, variances):
    """E (G_l − 1)^m from bounds.gradient.gradient_law: raw moments E G^k (exact rationals through
    E(χ²_K)^k = E[K(K+2)⋯(K+2k−2)]) turned into central ones in exact arithmetic."""
    law = gradient.gradient_law(list(widths), variances=list(variances))
    L = len(widths)
    out = np.zeros((L, 5))
    n_last = widths[-1]
    alive = 1 - Fraction(1, 2**n_last)
    for l in range(1, L + 1):
        raw = [Fraction(1)]
        for k in range(1, 5):
            m = alive
            for n, v in law.factors[l - 1]:
                m *= Fraction(v) ** k * _expect_poly_k(n, _rising(k, 0))
            raw.append(m)
        for mm in range(5):
            out[l - 1, mm] = float(sum(math.comb(mm, k) * raw[k] * (-1) ** (mm - k) for k in range(mm + 1)))
    return out


# --- the theorem -----------------------------------------------------------------------------------
_designs = st.integers(1, 6).flatmap(lambda L: st.tuples(
    st.lists(st.integers(1, 40), min_size=L, max_size=L),
    st.lists(st.sampled_from([0.5, 1.0, 2.0, 0.1, 3.0]), min_size=L, max_size=L)))


@settings(max_examples=60, deadline=None)
@given(_designs)
@example(([6, 6, 6, 6], [1 / 3] * 4))
@example(([1, 1, 1], [2.0, 2.0, 2.0]))
@example(([3, 17, 2, 9], [0.5, 2.0, 0.1, 3.0]))
def test_representation_moments_equal_the_product_law(design):
    """The first four moments of every G_l from the backward-pass representation equal those of
    B·(product of L − 1 independent layer ratios, backward ones with the next layer's variance), for
    any widths and variances (exact per-layer rationals; the recursion in doubles: rel. 1e-9)."""
    widths, variances = design
    got = _representation_moments(widths, variances)
    want = _product_central(widths, variances)
    scale = np.maximum(np.abs(want), 1e-300)
    assert np.all(np.abs(got - want) <= 1e-9 * scale + 1e-12), (got, want)


@pytest.mark.parametrize("widths", [[5, 5, 5], [2, 7, 3, 4], [9], [4, 4]])
def test_unrolled_representation_second_moments_exactly(widths):
    """E r_l and E r_l² by brute force over the unrolled representation (exact rationals) equal
    the product law's: E r_l = Π (v_{j+1} n_j / 2), E r_l² = Π (v_{j+1}²) E(χ²_K)² over j ≥ l."""
    m, s2 = _unrolled_moments(widths)
    v = [Fraction(2, widths[max(l - 1, 0)]) for l in range(len(widths))]
    for l in range(1, len(widths) + 1):
        em, e2 = Fraction(1), Fraction(1)
        for j in range(l, len(widths)):
            n = widths[j - 1]
            em *= v[j] * Fraction(n, 2)
            e2 *= v[j] ** 2 * _expect_poly_k(n, _rising(2, 0))
        assert m[l - 1] == em and s2[l - 1] == e2


@pytest.mark.parametrize("k", [2, 3, 5, 8])
def test_conditional_laplace_identity_of_the_induction(k):
    """The induction step as a Laplace-transform identity, by quadrature: with Y ~ χ²_k and
    ζ² = Yβ, β ~ Beta(½, (k−1)/2) independent of Y, E[exp(−s A ζ²) | Y = y] = E[(1 + 2syβ)^{−k/2}]
    must equal (1 + 2sy)^{−1/2} (the transform of y·χ²_1): A·β ~ χ²_1 independent of Y."""
    from scipy import integrate, stats

    for s_, y in [(0.1, 1.0), (1.0, 3.0), (5.0, 0.2), (0.7, 40.0)]:
        lhs = integrate.quad(lambda b: (1 + 2 * s_ * y * b) ** (-k / 2) * stats.beta.pdf(b, 0.5, (k - 1) / 2), 0, 1,
                             epsabs=1e-14, epsrel=1e-12, limit=200)[0]
        assert lhs == pytest.approx((1 + 2 * s_ * y) ** -0.5, rel=1e-9)


def test_lemma_chi_square_times_beta_is_chi_square_one():
    """The lemma of the proof, symbolically: E[(χ²_k β)^s] = 2^s Γ(s + ½)/√π, β ~ Beta(½, (k−1)/2)."""
    import sympy as sy

    step = gradient.derive_gradient().steps[4]
    s = sy.Symbol("s", positive=True)
    assert sy.simplify(step.expr.rhs - 2**s * sy.gamma(s + sy.Rational(1, 2)) / sy.sqrt(sy.pi)) == 0


def test_representation_sampler_matches_the_product_law():
    """Monte Carlo of the representation (numpy, seed 20261130) against the exact CDF of
    B·ρ_1⋯ρ_{L−1} at width 6, depth 4: KS at α = 1e-3 per layer (Bonferroni over 4)."""
    from scipy import stats

    from initbounds.bounds.band import product_law

    n, L, T = 6, 4, 40000
    rng = np.random.default_rng(20261130)
    v = 2.0 / n
    K = rng.binomial(n, 0.5, size=(T, L + 1))
    rho_ = v * rng.chisquare(np.maximum(K, 1)) * (K > 0)
    beta = v * rng.chisquare(np.maximum(K - 1, 1)) * (K > 1)
    xi2 = rng.chisquare(1, size=T)
    r, P, rs = np.ones(T), np.ones(T), {L: np.ones(T)}
    for l in range(L - 1, 0, -1):
        r = (K[:, l] > 0) * (v * xi2 * P + beta[:, l] * r)
        P = P * rho_[:, l]
        rs[l] = r
    law = product_law([n] * (L - 1))
    alive = 1 - 2.0**-n
    p0 = (1 - alive) + alive * law.p_dead                 # the atom P(G_l = 0)
    s_prev = np.ones(T)
    for l in range(1, L + 1):
        G = rs[l] * s_prev * (K[:, L] > 0)
        s_prev = s_prev * rho_[:, l]
        # the atom by an exact binomial test, the continuous part by KS against the conditional CDF
        zeros = int((G == 0).sum())
        assert stats.binomtest(zeros, T, p0).pvalue > 1e-3 / (2 * L), (l, zeros / T, p0)
        pos = G[G > 0]
        cdf = lambda x: (alive * np.array([law.p_below(float(u)) for u in x]) + (1 - alive) - p0) / (1 - p0)  # noqa: E731
        res = stats.kstest(pos, cdf)
        assert res.pvalue > 1e-3 / (2 * L), (l, res)


def test_gradient_moments_closed_forms():
    m = gradient.gradient_moments([10, 10, 10])
    assert np.allclose(m.mean, 1 - 2.0**-10, rtol=1e-14)
    assert np.allclose(m.second, (1 - 2.0**-10) * 1.5**2, rtol=1e-13)
    assert np.allclose(m.var, m.second - m.mean**2, rtol=1e-10)
    assert np.allclose(m.r_second, [1.5**2, 1.5, 1.0], rtol=1e-13)
    # huge widths: Var = (1 + 5/n)^{L−1} − 1 without cancellation
    big = gradient.gradient_moments([10**12] * 3)
    assert big.var[0] == pytest.approx((1 + 5e-12) ** 2 - 1, rel=1e-9)


def test_gradient_law_factors_swap_fans():
    law = gradient.gradient_law([3, 5, 7], variances=[0.1, 0.2, 0.3])
    assert law.factors == (((3, 0.2), (5, 0.3)), ((3, 0.1), (5, 0.3)), ((3, 0.1), (5, 0.2)))
    assert law.log_p_output_alive == pytest.approx(math.log1p(-2.0**-7))
    with pytest.raises(DomainError, match="variances"):
        gradient.gradient_law([3, 5], variances=[0.1])
    with pytest.raises(DomainError, match="variances"):
        gradient.gradient_law([3, 5], variances=[0.1, -1.0])


# --- widths for property (ii) -------------------------------------------------------------------------
@settings(max_examples=40, deadline=None)
@given(st.integers(1, 64), st.integers(1, 5), st.floats(0.05, 0.95), st.sampled_from(["squared", "plain"]),
       st.sampled_from(METHODS[1:]))
def test_gradient_bounds_are_at_least_the_exact_marginal_failure(n, L, eps, norm, method):
    """Each method's property-(ii) bound with N = 1 and the last layer is ≥ the exact
    P(G_L ∉ band) = 2^-n + (1 − 2^-n)(1 − p_last(n, L − 1))."""
    lo, hi = band_for_eps(eps, norm)
    death = 2.0**-n
    if L == 1:
        exact = death
    else:
        p_fail = math.exp(band_probability(n, L - 1, lo, hi, layers="last", rtol=1e-8).logp_fail)
        exact = death + (1 - death) * p_fail
    bound = math.exp(log_failure_bound(method, n, L, 1, eps, norm=norm, layers="last", property="gradients"))
    assert bound >= exact * (1 - 1e-6)


@pytest.mark.parametrize("method", METHODS[1:])
@pytest.mark.parametrize("L, N, delta, eps, layers", [(3, 4, 0.1, 0.5, "all"), (10, 100, 1e-6, 0.3, "last"),
                                                      (1, 7, 1e-300, 0.2, "all")])
def test_gradient_min_width_is_the_smallest(method, L, N, delta, eps, layers):
    r = min_width(method, L, N, delta, eps, layers=layers, property="gradients")
    n = r.min_width
    f = lambda w: log_failure_bound(method, w, L, N, eps, layers=layers, property="gradients")  # noqa: E731
    assert f(n) <= math.log(delta) < f(n - 1)


def test_gradient_width_depth_one_is_the_death_event():
    """L = 1: G_1 = B, so the width is the smallest n with N·2^-n ≤ δ."""
    for N, delta in [(1, 0.05), (7, 1e-300), (10**6, 1e-3)]:
        n = min_width("exact_union", 1, N, delta, 0.2, property="gradients").min_width
        assert N * 2.0**-n <= delta < N * 2.0 ** -(n - 1)


def test_width_report_both_properties():
    r = width_report(3, 4, 0.1, 0.5, property="both")
    d = r.as_dict()
    assert [m["name"] for m in d["methods"]] == list(METHODS)
    assert [m["name"] for m in d["gradient_methods"]] == list(METHODS)
    assert r.columns[0] == "property" and len(r.rows) == 8
    g = width_report(3, 4, 0.1, 0.5, property="gradients").as_dict()
    assert "methods" not in g and g["inputs"]["property"] == "gradients"
    with pytest.raises(DomainError, match="property"):
        width_report(3, 4, 0.1, 0.5, property="weights")


def test_gradient_cost_limits_are_refusals():
    with pytest.raises(CostLimitError):
        min_width("chernoff_product", 10, 10, 1e-300, 1e-6, property="gradients")


def test_prob_report_gradient_rows():
    from initbounds.bounds.width import prob_report

    d = prob_report(64, 4, 0.5).as_dict()
    lo, hi = band_for_eps(0.5, "squared")
    p_last3 = band_probability(64, 3, lo, hi, layers="last", rtol=1e-8).p_in
    assert d["p_fail_gradient_layer"] == pytest.approx(2.0**-64 + (1 - 2.0**-64) * (1 - p_last3), rel=1e-5)
    assert d["gradient_second_moment"] == pytest.approx((1 - 2.0**-64) * (1 + 5 / 64) ** 3, rel=1e-12)
    far = prob_report(1, 1000, 0.5).as_dict()          # (1 + 5)^999 is beyond doubles: null beside its log
    assert far["gradient_second_moment"] is None
    assert far["log_gradient_second_moment"] == pytest.approx(math.log(0.5) + 999 * math.log(6.0))


@pytest.mark.parametrize("n, L", [(1, 1), (3, 4), (64, 5), (2000, 3)])
@pytest.mark.parametrize("p", [1.0, 2.0, 0.5])
def test_log_moment_he_equals_the_general_law(n, L, p):
    law = gradient.gradient_law([n] * L, variances=[2.0 / n] * L)
    for l in range(1, L + 1):
        assert gradient.log_moment_he(n, L, p) == pytest.approx(law.log_moment(l, p), rel=1e-12, abs=1e-14)
