"""bounds.certify: the spending rules, the zero-failure Clopper–Pearson arithmetic, the search, the
exact bracket and the data checks (issue 12 §4). No torch."""
from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest
import sympy as sy
from hypothesis import example, given, settings
from hypothesis import strategies as st

from initbounds.bounds.certify import (SPENDING, check_data, derive_certify, load_array, max_tests, search_scenarios,
                                       search_width, spending_expr, spending_total, spent_level, width_bracket,
                                       zero_failure_bound, zero_failure_trials, _zero_exprs)
from initbounds.bounds.errors import DomainError
from initbounds.bounds.width import min_width

MUST = "data must be an N × n0 array of finite real numbers with no zero row (rows are inputs); got "


# --- spending ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("rule", SPENDING)
def test_spending_sums_to_alpha_symbolically(rule):
    a = sy.Symbol("alpha", positive=True)
    assert sy.simplify(spending_total(rule) - a) == 0


@pytest.mark.parametrize("rule", SPENDING)
@pytest.mark.parametrize("j", [1, 2, 3, 10, 1000])
def test_spent_level_is_the_expression_at_50_digits(rule, j):
    e = spending_expr(rule)
    sym = {s.name: s for s in e.free_symbols}
    exact = e.subs({sym["j"]: j, sym["alpha"]: sy.Rational(1, 20)}).evalf(50)
    assert spent_level(j, 0.05, rule) == pytest.approx(float(exact), rel=1e-14)


@settings(max_examples=60, deadline=None)
@given(alpha=st.floats(1e-12, 0.999), m=st.integers(1, 3000), rule=st.sampled_from(SPENDING))
@example(alpha=0.999, m=3000, rule="basel")
def test_partial_sums_of_the_spending_never_exceed_alpha(alpha, m, rule):
    levels = [spent_level(j, alpha, rule) for j in range(1, m + 1)]
    assert all(a > 0 for a in levels) or rule == "halving"     # halving underflows to 0 past j ≈ 1074
    assert math.fsum(levels) <= alpha
    assert all(b <= a for a, b in zip(levels, levels[1:]))   # non-increasing


def test_spending_refuses_bad_arguments():
    with pytest.raises(DomainError, match=r"^j must be an integer ≥ 1; got 0$"):
        spent_level(0, 0.05)
    with pytest.raises(DomainError, match=r"^alpha must be in \(0, 1\); got 1.0$"):
        spent_level(1, 1.0)
    with pytest.raises(DomainError, match=r"^rule must be one of 'basel', 'halving'; got 'even'$"):
        spent_level(1, 0.05, "even")


# --- the zero-failure Clopper–Pearson arithmetic -------------------------------------------------------
@pytest.mark.parametrize("a, T", [(0.05, 1), (0.05, 100), (1e-6, 7), (0.9, 10**6), (1e-300, 50)])
def test_zero_failure_bound_is_the_expression_at_50_digits(a, T):
    bound, _ = _zero_exprs()
    sym = {s.name: s for s in bound.free_symbols}
    with mp.workdps(50):
        exact = sy.N(bound.subs({sym["alpha_j"]: sy.Float(a, 50), sym["T"]: T}), 50)
    assert zero_failure_bound(a, T) == pytest.approx(float(exact), rel=1e-13)


def test_zero_failure_bound_rule_of_three():
    # 1 − 0.05^{1/T} ≈ 3/T for large T (ln 20 = 2.9957)
    assert zero_failure_bound(0.05, 10**6) * 10**6 == pytest.approx(math.log(20), rel=1e-5)


@settings(max_examples=80, deadline=None)
@given(a=st.floats(1e-30, 0.5), delta=st.floats(1e-6, 0.9))
@example(a=0.05, delta=0.05)
def test_zero_failure_trials_is_the_fewest_that_accept(a, delta):
    t = zero_failure_trials(a, delta)
    assert zero_failure_bound(a, t) <= delta * (1 + 1e-12)
    if t > 1:
        assert zero_failure_bound(a, t - 1) > delta * (1 - 1e-12)


def test_zero_failure_trials_solves_the_symbolic_equation():
    _, trials = _zero_exprs()
    sym = {s.name: s for s in trials.free_symbols}
    v = float(trials.subs({sym["alpha_j"]: sy.Rational(1, 100), sym["delta"]: sy.Rational(1, 10)}))
    assert zero_failure_trials(0.01, 0.1) == math.ceil(v) == 44


# --- the search -------------------------------------------------------------------------------------
def _run(oracle, n_lo, n_hi):
    log = []

    def test(j, n):
        assert j == len(log) + 1
        r = oracle(n)
        log.append((n, r))
        return r
    w, steps = search_width(test, n_lo, n_hi)
    return w, steps, log


@settings(max_examples=200, deadline=None)
@given(n_lo=st.integers(1, 500), span=st.integers(0, 5000), data=st.data())
@example(n_lo=1, span=0, data=None)
def test_search_returns_the_smallest_accepted_width_among_those_tested(n_lo, span, data):
    n_hi = n_lo + span
    answers: dict = {}

    def oracle(n):                      # any answers at all, not monotone: the property still holds
        if n not in answers:
            answers[n] = data.draw(st.booleans()) if data is not None else True
        return answers[n]
    w, steps, log = _run(oracle, n_lo, n_hi)
    accepted = [n for n, r in log if r]
    assert w == min(accepted + [max(n_hi, n_lo)])
    assert all(n_lo <= n < max(n_hi, n_lo) for n, _ in log)
    assert len({n for n, _ in log}) == len(log)             # no width tested twice
    assert len(log) <= max_tests(n_lo, n_hi)
    assert [s.width for s in steps] == [n for n, _ in log]
    # the width just below the answer was tested and not accepted, or is n_lo − 1 (fails exactly)
    assert w == n_lo or (w - 1, False) in log


@settings(max_examples=200, deadline=None)
@given(n_lo=st.integers(1, 1000), span=st.integers(0, 10**5), t=st.integers(1, 2 * 10**5))
def test_search_with_a_monotone_oracle_finds_its_threshold(n_lo, span, t):
    n_hi = n_lo + span
    w, _, log = _run(lambda n: n >= t, n_lo, n_hi)
    assert w == min(max(t, n_lo), n_hi)
    # the tests follow one of the scenarios the cost model enumerates
    d = tuple(n for n, _ in log[:len([1 for s in search_width(lambda j, n: n >= t, n_lo, n_hi)[1]
                                       if s.phase == "doubling"])])
    scen = [s for s in search_scenarios(n_lo, n_hi) if s[0] == d] if n_hi > n_lo else [((), 0, 0)]
    assert scen
    assert len(log) - len(d) <= max(s[1] for s in scen)
    assert all(n <= max(s[2] for s in scen) for n, _ in log[len(d):])


def test_search_stops_when_a_test_is_not_run():
    seen = []

    def test(j, n):
        seen.append(n)
        return None if j == 3 else False
    w, steps = search_width(test, 10, 100)
    assert w == 100 and [s.accepted for s in steps] == [False, False, None] and seen == [10, 20, 40]


def test_search_scenarios_pinned():
    assert search_scenarios(100, 300) == (((100,), 0, 99), ((100, 200), 7, 199), ((100, 200), 7, 299))
    assert max_tests(100, 300) == 9 and max_tests(5, 5) == 0


# --- the exact bracket ---------------------------------------------------------------------------------
def test_bracket_is_the_one_input_and_union_widths():
    b = width_bracket(3, 1797, 0.05, 0.5)
    assert b.single == min_width("exact_union", 3, 1, 0.05, 0.5).min_width
    assert b.union == min_width("exact_union", 3, 1797, 0.05, 0.5).min_width
    assert b.product == min_width("chernoff_product", 3, 1797, 0.05, 0.5).min_width
    assert b.single < b.union < b.product


@settings(max_examples=8, deadline=None)
@given(depth=st.integers(1, 6), samples=st.integers(1, 10**4), delta=st.floats(1e-6, 0.5), eps=st.floats(0.05, 0.9))
def test_bracket_is_ordered(depth, samples, delta, eps):
    b = width_bracket(depth, samples, delta, eps)
    assert b.single - b.single_uncertainty <= b.union + b.union_uncertainty
    if samples == 1:
        assert b.single == b.union


# --- data checks ----------------------------------------------------------------------------------
@pytest.mark.parametrize("array, got", [
    ([], "the array, which is empty (shape (0,))"),
    ([[]], "the array, which is empty (shape (1, 0))"),
    ([1.0, 2.0], "the array, a 1-D array of shape (2,) (one input is a 1 × n0 array, N numbers an N × 1 array)"),
    ([[1.0, 2.0], [0.0, 0.0]], "the array with row 1 all zero (its norm ratio is 0/0)"),
    ([[1.0, math.nan]], "the array with a NaN or infinite entry in row 0"),
    ([[1.0], [math.inf]], "the array with a NaN or infinite entry in row 1"),
    ([["a", "b"]], "the array with non-numeric entries (dtype <U1)"),
    ([[True, False]], "the array with non-numeric entries (dtype bool)"),
    (np.ones((2, 2, 2)), "the array of shape (2, 2, 2)"),
])
def test_check_data_refusals(array, got):
    with pytest.raises(DomainError) as e:
        check_data(array)
    assert str(e.value) == MUST + got and e.value.param == "data"


def test_check_data_accepts_integers_exactly():
    a = check_data(np.array([[2**52 + 1, 3]], dtype=np.int64))
    assert a.dtype == np.float64 and a[0, 0] == 2**52 + 1


@pytest.fixture
def files(tmp_path):
    def write(name, text=None, array=None):
        p = tmp_path / name
        if array is not None:
            np.save(p, array)
        else:
            p.write_text(text)
        return str(p)
    return write


def test_load_array_reads_csv_with_or_without_header(files):
    a = load_array(files("a.csv", "x,y\n1,2\n3,4\n"))
    b = load_array(files("b.csv", "1,2\n3,4\n"))
    np.testing.assert_array_equal(a, [[1, 2], [3, 4]])
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(load_array(files("c.csv", "1\n2\n")), [[1], [2]])   # one column: N × 1
    np.testing.assert_array_equal(load_array(files("d.npy", array=np.eye(2) + 1)), np.eye(2) + 1)


def test_load_array_refusals(files, tmp_path):
    cases = [
        (str(tmp_path / "missing.npy"), "data must name an existing .npy, .csv or .pt file holding an N × n0 array; "
                                        f"got {str(tmp_path / 'missing.npy')!r} (no such file)"),
        (files("a.txt", "1,2\n"), "data must name an existing .npy, .csv or .pt file holding an N × n0 array; "
                                  f"got {str(tmp_path / 'a.txt')!r} (the suffix must be .npy, .csv or .pt; got '.txt')"),
        (files("e.csv", ""), MUST + f"{str(tmp_path / 'e.csv')!r}, an empty file"),
        (files("w.csv", "\n  \n"), MUST + f"{str(tmp_path / 'w.csv')!r}, which holds no rows"),
        (files("n.csv", "1,2\n3,x\n"), MUST + f"{str(tmp_path / 'n.csv')!r} with a non-numeric entry on line 2: '3,x'"),
        (files("h.csv", "a,b\n"), MUST + f"{str(tmp_path / 'h.csv')!r} with a non-numeric entry on line 1: 'a,b'"),
        (files("r.csv", "1,2\n3\n"), MUST + f"{str(tmp_path / 'r.csv')!r} with rows of different lengths [1, 2]"),
        (files("nan.csv", "1,2\nnan,1\n"), MUST + f"{str(tmp_path / 'nan.csv')!r} with a NaN or infinite entry in row 1"),
        (files("z.csv", "1,2\n0,0\n"), MUST + f"{str(tmp_path / 'z.csv')!r} with row 1 all zero (its norm ratio is 0/0)"),
        (files("one.npy", array=np.ones(3)), MUST + f"{str(tmp_path / 'one.npy')!r}, a 1-D array of shape (3,) "
                                                    "(one input is a 1 × n0 array, N numbers an N × 1 array)"),
        (files("s.npy", array=np.array([["a"]])), MUST + f"{str(tmp_path / 's.npy')!r} with non-numeric entries "
                                                         "(dtype <U1)"),
        (files("o.npy", array=np.array([[{}]], dtype=object)), MUST + f"{str(tmp_path / 'o.npy')!r}: non-numeric "
                                                                       "(object) entries"),
        (files("bad.npy", "not npy"), MUST + f"{str(tmp_path / 'bad.npy')!r}: not a readable .npy file"),
    ]
    for path, message in cases:
        with pytest.raises(DomainError) as e:
            load_array(path)
        assert str(e.value) == message and e.value.param == "data"


# --- derivation -----------------------------------------------------------------------------------
def test_derivation_renders_and_states_the_rules():
    d = derive_certify()
    text = d.to_text()
    assert len(d.steps) == 8 and "Clopper–Pearson" in text and "6⋅α" in text
    assert all(s.source == "derived" for s in d.steps)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 12), d=st.integers(1, 6), bad=st.lists(st.tuples(st.integers(0, 11), st.sampled_from(
    ["zero", "nan", "inf", "-inf"])), max_size=3), seed=st.integers(0, 2**32 - 1))
def test_check_data_names_the_first_offending_row(n, d, bad, seed):
    """Any N × n0 array: the refusal names the first row with a NaN/infinity (checked first), else the
    first zero row; an array with neither is returned unchanged as float64."""
    a = np.random.default_rng(seed).normal(size=(n, d)) + 3.0
    bad = [(i, kind) for i, kind in bad if i < n]
    for i, kind in bad:
        a[i] = 0.0 if kind == "zero" else np.nan if kind == "nan" else float(kind)
    rows_nonfinite = [i for i in range(n) if not np.isfinite(a[i]).all()]
    rows_zero = [i for i in range(n) if not (a[i] != 0).any()]
    if rows_nonfinite:
        with pytest.raises(DomainError, match=rf"with a NaN or infinite entry in row {rows_nonfinite[0]}$"):
            check_data(a)
    elif rows_zero:
        with pytest.raises(DomainError, match=rf"with row {rows_zero[0]} all zero \(its norm ratio is 0/0\)$"):
            check_data(a)
    else:
        np.testing.assert_array_equal(check_data(a), a)
