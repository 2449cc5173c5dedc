r"""A certified width for the user's own data set: the exact and closed parts (docs/theory.md §10).

The question: the smallest width n at which P(some of the N data points leaves the ε-band) ≤ δ
for a bias-free He-Gaussian ReLU net (every layer of width n, fan-out), certified with
confidence 1 − α by simulation of the exact law (:mod:`sim.certify`). This module holds what
needs no sampling:

* **the bracket.** Each input's ratio ‖h_l(x)‖²/‖x‖² has the one-input law whatever x is
  (docs/theory.md §2), so P(some input fails) lies between one input's exact failure probability
  1 − p_stay(n) and the union bound N·(1 − p_stay(n)). The exact one-input width n_lo (below it no
  data set can pass) and the union width n_hi (at it every data set passes, rigorously) bracket
  the answer: :func:`width_bracket`.
* **the error spending.** The search tests widths one after the other, each with fresh networks;
  test j is run at level α_j and Σ_j α_j ≤ α, so with probability ≥ 1 − α every width the search
  accepts is truly at most δ (a union bound over the tests, valid however each width was chosen
  from the earlier outcomes): :func:`spent_level`, :data:`SPENDING`.
* **the zero-failure trials.** A one-sided Clopper–Pearson bound at level α_j with no failure
  among T networks is 1 − α_j^{1/T}; it is ≤ δ iff T ≥ ln α_j / ln(1 − δ)
  (:func:`zero_failure_trials`): no width can be accepted with fewer networks.
* **the search.** Doubling from n_lo until a width is accepted (or n_hi is reached, which passes
  without a test), then bisection: :func:`search_width`, a pure function of its test oracle.
* **the data.** An N × n0 array of finite reals with no zero row: :func:`check_data`,
  :func:`load_array` (.npy and .csv; .pt is read by :mod:`sim.certify`, which has torch).

No preprocessing is applied to the data: for a bias-free ReLU net h_L(c·x) = c·h_L(x) for c > 0,
so the ratio of every input is unchanged when that input is rescaled, and the law of the whole
experiment depends on the data only through its matrix of cosines x_i·x_j/(‖x_i‖‖x_j‖).
Centring or standardizing the columns changes those cosines, hence the answer.

Source: [derived]; the question is AB19's property (i) (arXiv 1901.03611) for a given data set.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import mpmath as mp
import numpy as np

from .band import LAYERS, NORMS
from .errors import (COUNT, NONNEGATIVE_INT, OPEN_UNIT, POSITIVE, CostLimitError, DomainError, InitBoundsError,
                     Options, OrNone, constrain)
from .width import min_width

__all__ = ["SPENDING", "spending_expr", "DATA_SUFFIXES", "spent_level", "spending_total", "zero_failure_trials",
           "zero_failure_bound", "search_scenarios", "max_tests", "search_width", "SearchStep", "width_bracket", "WidthBracket",
           "check_data", "data_path", "load_array", "certify_inputs", "PRECISIONS", "BUDGET_SECONDS", "derive_certify"]

#: The error-spending rules: test j = 1, 2, ... is run at level α_j, Σ_j α_j = α.
SPENDING = ("basel", "halving")
#: File types :func:`load_array` reads (.pt: :func:`initbounds.sim.certify.load_data`).
DATA_SUFFIXES = (".npy", ".csv", ".pt")


@lru_cache(maxsize=None)
def _syms():
    import sympy as sy

    return {"j": sy.Symbol("j", positive=True, integer=True), "alpha": sy.Symbol("alpha", positive=True),
            "delta": sy.Symbol("delta", positive=True), "T": sy.Symbol("T", positive=True, integer=True)}


@lru_cache(maxsize=None)
def _spending_exprs() -> dict:
    import sympy as sy

    s = _syms()
    j, a = s["j"], s["alpha"]
    return {"basel": 6 * a / (sy.pi ** 2 * j ** 2), "halving": a / 2 ** j}


def spending_expr(rule="basel"):
    """The sympy expression of α_j for ``rule`` (sympy is imported on first use only)."""
    return _spending_exprs()[Options(SPENDING).validate("rule", rule)]


_SPENT = {"basel": lambda j, a: 6.0 * a / (math.pi ** 2 * j * j), "halving": lambda j, a: math.ldexp(a, -j)}


@constrain(j=COUNT, alpha=OPEN_UNIT, rule=Options(SPENDING))
def spent_level(j, alpha, rule="basel") -> float:
    r"""The error level α_j of the j-th test (j ≥ 1) when the total error is α.

    ``basel``: :math:`\alpha_j = 6\alpha/(\pi^2 j^2)`; ``halving``: :math:`\alpha_j = \alpha/2^j`.
    Both sum to exactly α over j = 1, 2, ... (:func:`spending_total`), so any number of tests,
    chosen adaptively, spends at most α. Source: [derived] (Bonferroni over a countable family).
    The float is the expression :func:`spending_expr` evaluated in doubles (a test checks them
    equal at 50 digits).

    >>> round(spent_level(1, 0.05), 6), spent_level(2, 0.05, "halving")
    (0.030396, 0.0125)
    """
    return _SPENT[rule](j, alpha)


def spending_total(rule="basel"):
    """Σ_{j≥1} α_j as sympy sums it (the total error spent by infinitely many tests): α for both rules."""
    import sympy as sy

    rule = Options(SPENDING).validate("rule", rule)
    s = _syms()
    return sy.summation(_spending_exprs()[rule], (s["j"], 1, sy.oo))


@lru_cache(maxsize=None)
def _zero_exprs():
    import sympy as sy

    s = _syms()
    a, d, T = sy.Symbol("alpha_j", positive=True), s["delta"], s["T"]
    bound = 1 - a ** (1 / T)                              # CP upper bound with no failure in T
    trials = sy.solve(sy.Eq(bound, d), T)[0]              # the T at which it reaches δ
    return bound, trials


@constrain(alpha_j=OPEN_UNIT, trials=COUNT)
def zero_failure_bound(alpha_j, trials) -> float:
    r"""One-sided Clopper–Pearson upper bound, level 1 − α_j, after 0 failures in T trials:
    :math:`1 - \alpha_j^{1/T}` (the "rule of three" for α_j = 0.05: about 3/T). Exact.

    >>> round(zero_failure_bound(0.05, 100), 6)
    0.029513
    """
    with mp.workdps(30):
        return float(-mp.expm1(mp.log(alpha_j) / trials))


@constrain(alpha_j=OPEN_UNIT, delta=OPEN_UNIT)
def zero_failure_trials(alpha_j, delta) -> int:
    r"""The fewest networks T with which a width can be accepted at level α_j for δ:
    :math:`T_0 = \lceil \ln\alpha_j / \ln(1-\delta) \rceil` (0 failures give the bound
    :math:`1-\alpha_j^{1/T} \le \delta` iff T ≥ ln α_j / ln(1 − δ)); with fewer, even 0 failures are
    not enough. Exact (the ceiling decided at 30 digits).

    >>> zero_failure_trials(0.05, 0.05)
    59
    """
    with mp.workdps(30):
        t = mp.log(alpha_j) / mp.log1p(-mp.mpf(delta))
        n = int(mp.ceil(t - mp.mpf(10) ** -20))
    return max(1, n)


def search_scenarios(n_lo: int, n_hi: int) -> tuple:
    """Every way :func:`search_width` can go, by where its doubling stops: a tuple of
    (doubling widths tested, most bisection tests, largest width a bisection test can have).

    Doubling tests n_lo·2^i while below n_hi. If it accepts at i, the bracket is
    (n_lo·2^{i−1}, n_lo·2^i] (i = 0: (n_lo − 1, n_lo]); if it never accepts, (n_lo·2^{D−1}, n_hi].
    Bisection on a bracket of length m makes at most ⌈log₂ m⌉ tests, each inside it.

    >>> search_scenarios(100, 300)[-1]
    ((100, 200), 7, 299)
    """
    n_lo, n_hi = COUNT.validate("n_lo", n_lo), COUNT.validate("n_hi", n_hi)
    doubling, n = [], n_lo
    while n < n_hi:
        doubling.append(n)
        n *= 2
    out = []
    for i, w in enumerate(doubling):
        lo = n_lo - 1 if i == 0 else doubling[i - 1]
        out.append((tuple(doubling[:i + 1]), (w - lo - 1).bit_length(), w - 1))
    lo = doubling[-1] if doubling else n_lo - 1
    out.append((tuple(doubling), (max(n_hi, n_lo) - lo - 1).bit_length(), max(n_hi, n_lo) - 1))
    return tuple(out)


def max_tests(n_lo: int, n_hi: int) -> int:
    """The most tests :func:`search_width` can make between n_lo and n_hi (0 when n_hi ≤ n_lo).

    >>> max_tests(241, 1372)
    12
    """
    return max(len(d) + b for d, b, _ in search_scenarios(n_lo, n_hi))


@dataclass(frozen=True)
class SearchStep:
    """One test of the search: its index j (1, 2, ...), the width, the phase ("doubling" or
    "bisection") and the outcome (True: accepted, False: not accepted, None: not run)."""

    j: int
    width: int
    phase: str
    accepted: bool | None


def search_width(test, n_lo: int, n_hi: int) -> tuple:
    """Smallest accepted width by doubling then bisection: a pure function of the oracle ``test``.

    ``test(j, n)`` runs test j (1, 2, ...) at width n and returns True (accepted), False, or None
    (not run: the caller's budget is spent, the search stops). ``n_lo`` is a width below which
    nothing can pass (n_lo − 1 counts as failed without a test); ``n_hi`` passes without a test
    (the rigorous union width). Doubling tests n_lo, 2·n_lo, ... while below n_hi until one is
    accepted; bisection then halves the bracket (largest failed, smallest accepted] down to
    length 1. Returns (width, steps): ``width`` is the smallest accepted width, or n_hi when
    none was accepted; ``steps`` lists every :class:`SearchStep`. Under the assumption that the
    failure probability is non-increasing in n, ``width`` is the first width that the tests accept.

    >>> w, steps = search_width(lambda j, n: n >= 300, 100, 1000)
    >>> w, [s.width for s in steps]
    (300, [100, 200, 400, 300, 250, 275, 287, 293, 296, 298, 299])
    """
    n_lo, n_hi = COUNT.validate("n_lo", n_lo), COUNT.validate("n_hi", n_hi)
    steps: list = []
    lo, hi = n_lo - 1, max(n_hi, n_lo)

    def run(n, phase):
        r = test(len(steps) + 1, n)
        steps.append(SearchStep(len(steps) + 1, n, phase, r))
        return r

    n = n_lo
    while n < hi:
        r = run(n, "doubling")
        if r is None:
            return hi, tuple(steps)
        if r:
            hi = n
            break
        lo, n = n, 2 * n
    while hi - lo > 1:
        m = (lo + hi) // 2
        r = run(m, "bisection")
        if r is None:
            break
        if r:
            hi = m
        else:
            lo = m
    return hi, tuple(steps)


@dataclass(frozen=True)
class WidthBracket:
    """The exact widths around the certified one for N inputs: ``single`` (one input's exact
    width: no data set passes below it), ``union`` (exact_union for N inputs: every data set
    passes), ``product`` (chernoff_product for N inputs; None where it cannot answer) and each
    one's numerical uncertainty (± widths) and notes."""

    single: int
    single_uncertainty: int
    union: int
    union_uncertainty: int
    product: int | None
    notes: tuple


@constrain(depth=COUNT, samples=COUNT, delta=OPEN_UNIT, eps=OPEN_UNIT, norm=NORMS, layers=LAYERS)
def width_bracket(depth, samples, delta, eps, *, norm="squared", layers="all") -> WidthBracket:
    r"""The exact bracket n_lo ≤ n* ≤ n_hi for the minimum width n* of N given inputs.

    :math:`1-p_{stay}(n) \le P(\exists i\le N: x_i \text{ leaves the band}) \le N(1-p_{stay}(n))`
    (each input alone has the one-input law; union bound), so n_lo = the one-input exact width
    (:func:`bounds.width.min_width` "exact_union", N = 1) and n_hi = the N-input union width. Also
    the Doob product bound's width for N inputs. [derived] Raises CostLimitError where the exact
    recursion would exceed its cost model.

    >>> b = width_bracket(3, 1797, 0.05, 0.5)
    >>> b.single, b.union
    (241, 1372)
    """
    try:
        one = min_width("exact_union", depth, 1, delta, eps, norm=norm, layers=layers)
        union = min_width("exact_union", depth, samples, delta, eps, norm=norm, layers=layers)
    except InitBoundsError as e:       # beyond the exact recursion's range or cost (its message names the width)
        if isinstance(e, DomainError) and e.param in ("depth", "samples", "delta", "eps", "norm", "layers"):
            raise
        raise CostLimitError("the exact widths that bracket the certified one cannot be computed here ("
                             + str(e).replace("{", "{{").replace("}", "}}") + "); a larger {eps} or {delta}, or a "
                             "smaller {depth}, is needed", param="eps", names=("eps", "delta", "depth")) from None
    notes = []
    try:
        product = min_width("chernoff_product", depth, samples, delta, eps, norm=norm, layers=layers).min_width
    except CostLimitError as e:
        product = None
        notes.append(f"chernoff_product not computed: {e}")
    return WidthBracket(one.min_width, one.width_uncertainty, union.min_width, union.width_uncertainty, product,
                        tuple(notes))


#: Default budget (seconds by the cost model) of a whole search.
BUDGET_SECONDS = 600.0
#: Arithmetic of the Gram sampler in :func:`initbounds.sim.certify.certify`.
PRECISIONS = ("float32", "float64")


@constrain(depth=COUNT, delta=OPEN_UNIT, eps=OPEN_UNIT, confidence=OPEN_UNIT, norm=NORMS, layers=LAYERS,
           trials=OrNone(COUNT), budget_seconds=POSITIVE, spending=Options(SPENDING), seed=NONNEGATIVE_INT,
           precision=Options(PRECISIONS))
def certify_inputs(*, depth, delta, eps, confidence=0.95, norm="squared", layers="all", trials=None,
                   budget_seconds=BUDGET_SECONDS, spending="basel", seed=0, precision="float32") -> dict:
    """The design of :func:`initbounds.sim.certify.certify`, checked (one declaration of its
    constraints, shared with ``initbounds certify``), as a dict.

    >>> certify_inputs(depth=3, delta=0.05, eps=0.5)["confidence"]
    0.95
    """
    return {"depth": depth, "delta": delta, "eps": eps, "confidence": confidence, "norm": norm, "layers": layers,
            "trials": trials, "budget_seconds": budget_seconds, "spending": spending, "seed": seed,
            "precision": precision}


# --- the data -------------------------------------------------------------------------------------
def _refuse(what: str, got: str) -> DomainError:
    return DomainError.must("data", what, got)


_MUST = "be an N × n0 array of finite real numbers with no zero row (rows are inputs)"


def check_data(array, *, source: str = "the array") -> np.ndarray:
    """The data as a float64 (N, n0) array, or a DomainError naming ``data`` that says why not.

    Refused: a non-numeric array (strings, objects, booleans, complex numbers), an empty one, a
    1-D array (ambiguous: one input or N scalars; reshape it), more than 2 dimensions, a NaN or
    infinite entry, a zero row (its ratio ‖h_L(x)‖²/‖x‖² is 0/0). ``source`` names the file in
    the message. Integers are converted exactly to float64 (up to 2^53).

    >>> check_data([[1, 2], [3, 4]]).dtype
    dtype('float64')
    >>> try:
    ...     check_data([[1, 2], [0, 0]])
    ... except DomainError as e:
    ...     print(e)
    data must be an N × n0 array of finite real numbers with no zero row (rows are inputs); got the array with row 1 all zero (its norm ratio is 0/0)
    """
    try:
        a = np.asarray(array)
    except (TypeError, ValueError):
        raise _refuse(_MUST, f"{source}, which is not an array of numbers") from None
    if a.dtype.kind not in "iuf":
        raise _refuse(_MUST, f"{source} with non-numeric entries (dtype {a.dtype})")
    if a.size == 0:
        raise _refuse(_MUST, f"{source}, which is empty (shape {a.shape})")
    if a.ndim == 1:
        raise _refuse(_MUST, f"{source}, a 1-D array of shape {a.shape} (one input is a 1 × n0 array, "
                             "N numbers an N × 1 array)")
    if a.ndim != 2:
        raise _refuse(_MUST, f"{source} of shape {a.shape}")
    a = a.astype(np.float64)
    finite = np.isfinite(a).all(axis=1)
    if not finite.all():
        i = int(np.argmin(finite))
        raise _refuse(_MUST, f"{source} with a NaN or infinite entry in row {i}")
    zero = ~(a != 0).any(axis=1)
    if zero.any():
        i = int(np.argmax(zero))
        raise _refuse(_MUST, f"{source} with row {i} all zero (its norm ratio is 0/0)")
    return a


def _suffix_error(path: str, why: str, name: str = "data") -> DomainError:
    return DomainError.must(name, "name an existing .npy, .csv or .pt file holding an N × n0 array",
                            f"{path!r} ({why})")


def data_path(path, *, name: str = "data") -> Path:
    """``path`` as a Path to an existing, readable file whose suffix is .npy, .csv or .pt (any
    case); else a DomainError naming ``name`` (the command line passes ``--data``)."""
    text = str(path)
    p = Path(text)
    if p.suffix.lower() not in DATA_SUFFIXES:
        raise _suffix_error(text, f"the suffix must be .npy, .csv or .pt; got {p.suffix or 'none'!r}", name)
    if not p.exists():
        raise _suffix_error(text, "no such file", name)
    if not p.is_file():
        raise _suffix_error(text, "not a regular file", name)
    try:
        with open(p, "rb"):
            pass
    except OSError as e:
        raise _suffix_error(text, f"cannot be read: {e.strerror or e}", name) from None
    return p


def load_array(path) -> np.ndarray:
    """Read an N × n0 data set from a .npy (``np.load``, no pickles) or .csv (commas, one input
    per line, one optional header line) file and :func:`check_data` it.

    Raises DomainError (naming ``data``) for a missing file, another suffix (.pt is read by
    :func:`initbounds.sim.certify.load_data`), an unreadable or empty file, non-numeric entries,
    NaN or infinities, a 1-D array or a zero row.
    """
    p = data_path(path)
    src = repr(str(path))
    suffix = p.suffix.lower()
    if suffix == ".pt":
        raise _suffix_error(str(path), ".pt files are read by initbounds.sim.certify.load_data (torch)")
    if p.stat().st_size == 0:
        raise _refuse(_MUST, f"{src}, an empty file")
    if suffix == ".npy":
        with open(p, "rb") as f:
            magic = f.read(6)
        if magic != b"\x93NUMPY":
            raise _refuse(_MUST, f"{src}: not a readable .npy file")
        try:
            a = np.load(p, allow_pickle=False)
        except (ValueError, OSError, EOFError) as e:
            why = "non-numeric (object) entries" if "pickle" in str(e) else "not a readable .npy file"
            raise _refuse(_MUST, f"{src}: {why}") from None
        if not isinstance(a, np.ndarray):
            raise _refuse(_MUST, f"{src}, not a single array")
        return check_data(a, source=src)
    return check_data(_read_csv(p, src), source=src)


def _read_csv(p: Path, src: str) -> np.ndarray:
    try:
        text = p.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        raise _refuse(_MUST, f"{src}, not a UTF-8 text file") from None
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        raise _refuse(_MUST, f"{src}, which holds no rows")

    def parse(ln, i):
        try:
            return [float(v) for v in ln.split(",")]
        except ValueError:
            raise _refuse(_MUST, f"{src} with a non-numeric entry on line {i + 1}: {ln.strip()[:40]!r}") from None

    start = 0
    try:
        parse(lines[0], 0)
    except DomainError:
        if len(lines) == 1:
            raise
        start = 1                     # one header line
    rows = [parse(ln, i + start) for i, ln in enumerate(lines[start:])]
    widths = {len(r) for r in rows}
    if len(widths) != 1:
        raise _refuse(_MUST, f"{src} with rows of different lengths {sorted(widths)[:4]}")
    return np.array(rows, dtype=np.float64).reshape(len(rows), -1)


# --- the derivation -----------------------------------------------------------------------------
def derive_certify():
    """The derivation behind ``initbounds certify``: the reduction to the Gram law, the bracket,
    the one-sided Clopper–Pearson bound and the error spending."""
    import sympy as sy

    from . import rho
    from .derivation import Derivation, Step

    s = _syms()
    j, d, T = s["j"], s["delta"], s["T"]
    n, N, k = rho.n_sym, sy.Symbol("N", positive=True, integer=True), sy.Symbol("k", nonnegative=True, integer=True)
    p = sy.Symbol("p", positive=True)
    bound, trials = _zero_exprs()
    basel, halving = _spending_exprs()["basel"], _spending_exprs()["halving"]
    X = sy.MatrixSymbol("H_{l-1}", sy.Symbol("n_{l-1}"), N)
    G = sy.MatrixSymbol("G_{l-1}", N, N)
    pfail, pstay = sy.Function("P_fail")(n), sy.Function("p_stay")(n)
    h, c = sy.Function("h_l"), sy.Symbol("c", positive=True)
    x = sy.Symbol("x")
    steps = (
        Step("Given the layer's inputs H_{l−1} (one column per data point), the rows of W_l H_{l−1} are "
             "i.i.d. Gaussian vectors with covariance v_l·G_{l−1}: the next layer depends on the data only "
             "through its Gram matrix, and by induction so does the whole joint law of every norm and "
             "cosine (docs/theory.md §9). The exact Gram sampler draws from this law.",
             sy.Eq(G, X.T * X), assumptions=("Gaussian weights", "zero bias", "ReLU")),
        Step("Positive homogeneity: rescaling an input rescales every layer's output by the same factor, so "
             "each ratio ‖h_l(x)‖²/‖x‖² is unchanged and only the cosines x_i·x_j/(‖x_i‖‖x_j‖) of the data "
             "matter. No preprocessing is applied.",
             sy.Eq(h(c * x), c * h(x)), assumptions=("c > 0",)),
        Step("Each input alone has the one-input law, so the failure probability of the data set is "
             "bracketed exactly: the one-input exact width is a lower bound on the answer, the union width an "
             "upper bound (both computed exactly, docs/theory.md §3).",
             sy.And(sy.Le(1 - pstay, pfail), sy.Le(pfail, N * (1 - pstay)))),
        Step("One test at width n: T fresh networks, k of them with some input out of the band. The one-sided "
             "Clopper–Pearson bound at level α_j is the p at which k or fewer failures have probability α_j "
             "(sim.stats.clopper_pearson_upper evaluates it); "
             "the width is accepted when that bound is ≤ δ.",
             sy.Eq(sy.Sum(sy.binomial(T, sy.Symbol("i")) * p ** sy.Symbol("i") * (1 - p) ** (T - sy.Symbol("i")),
                          (sy.Symbol("i"), 0, k)), sy.Symbol("alpha_j"))),
        Step("With no failure the bound is explicit, and sympy solves it for the fewest networks that can "
             "accept a width: with fewer, no width is ever accepted.",
             sy.Tuple(sy.Eq(sy.Symbol("u_0"), bound), sy.Eq(sy.Symbol("T_0"), trials))),
        Step("Error spending: the j-th test runs at level α_j, chosen before any test; sympy sums each rule "
             "to the total error α (basel, the default; halving).",
             sy.Tuple(sy.Eq(sy.Sum(basel, (j, 1, sy.oo)), spending_total("basel")),
                      sy.Eq(sy.Sum(halving, (j, 1, sy.oo)), spending_total("halving")))),
        Step("Validity for an adaptive search: each test uses fresh networks, so given everything before it, "
             "test j accepts a width whose failure probability exceeds δ with probability ≤ α_j. A union bound "
             "over the tests bounds P_err, the probability that some accepted width has P_fail > δ: with "
             "probability ≥ 1 − α every accepted width has failure probability ≤ δ, in "
             "particular the certified (smallest accepted) one.",
             sy.Le(sy.Symbol("P_err"), sy.Sum(sy.Function("alpha")(j), (j, 1, sy.oo)))),
        Step("Search: doubling from the one-input width, then bisection; that it finds the smallest passing "
             "width assumes P_fail non-increasing in n (not proved; violations among the tested widths are "
             "reported). The certified statement P_fail(n_c) ≤ δ does not rest on this assumption.",
             sy.Le(sy.Function("P_fail")(sy.Symbol("n_c")), d), assumptions=("confidence 1 − α",)),
    )
    return Derivation("A certified width for a given data set", steps)
