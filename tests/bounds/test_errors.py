"""Errors and the constraint declarations (bounds.errors): one declaration, one message form."""
from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import initbounds.bounds as bounds
from initbounds.bounds.errors import (COUNT, OPEN_UNIT, WIDTHS, CostLimitError, DomainError, InitBoundsError,
                                      IntegerList, Integral, Interval, Options, OrNone, Pair, PerLayer, Real,
                                      check_int, check_real, constrain, constraints_of, parse_widths)


@pytest.mark.parametrize("constraint, value, msg", [
    (COUNT, 0, "x must be an integer ≥ 1; got 0"),
    (COUNT, True, "x must be an integer ≥ 1; got True"),
    (COUNT, 2.5, "x must be an integer ≥ 1; got 2.5"),
    (COUNT, None, "x must be an integer ≥ 1; got None"),
    (COUNT, float("inf"), "x must be an integer ≥ 1; got inf"),
    (Interval(Integral, 2, 1024), 2000, "x must be an integer in [2, 1024]; got 2000"),
    (Interval(Integral, 0, 10, closed="neither"), 10, "x must be an integer in [1, 9]; got 10"),
    (OPEN_UNIT, 1, "x must be in (0, 1); got 1"),
    (OPEN_UNIT, 0.0, "x must be in (0, 1); got 0.0"),
    (OPEN_UNIT, float("nan"), "x must be a real number in (0, 1); got nan"),
    (OPEN_UNIT, "0.5", "x must be a real number in (0, 1); got '0.5'"),
    (OPEN_UNIT, False, "x must be a real number in (0, 1); got False"),
    (Interval(Real, 0, 2, closed="right"), 2.5, "x must be in (0, 2]; got 2.5"),
    (Interval(Real, 1, None, closed="neither"), 1.0, "x must be in (1, inf); got 1.0"),
    (Options(("in", "out")), "both", "x must be one of 'in', 'out'; got 'both'"),
    (WIDTHS, "44", "x must be a sequence of integers ≥ 1; got '44'"),
    (WIDTHS, [3, 0], "x[1] must be an integer ≥ 1; got 0"),
    (WIDTHS, [], "x must list at least one layer width; got ()"),
    (PerLayer(Interval(Real, 0, None, closed="neither")), [2, 0], "x[1] must be in (0, inf); got 0"),
    (Pair(("c", Interval(Real, 0, None)), ("b", Interval(Real, None, None)), text="'c,b'"), (-1.0, 1.0),
     "x c must be in [0, inf); got -1.0"),
])
def test_constraint_messages_and_param(constraint, value, msg):
    with pytest.raises(DomainError) as e:
        constraint.validate("x", value)
    assert str(e.value) == msg
    assert e.value.param == "x"
    # the message names its parameter as a field: another spelling replaces the name only
    assert e.value.spell({"x": "--x"}.get) == "--" + msg


def test_constraints_convert():
    assert COUNT.validate("n", 4.0) == 4 and type(COUNT.validate("n", 4.0)) is int
    assert OPEN_UNIT.validate("p", 1 / 2) == 0.5 and type(Interval(Real, 0, 2).validate("p", 1)) is float
    assert WIDTHS.validate("w", [4, 4.0]) == (4, 4)
    assert OrNone(COUNT).validate("n", None) is None
    assert PerLayer(COUNT).validate("c", 3) == 3 and PerLayer(COUNT).validate("c", [1, 2]) == (1, 2)
    with pytest.raises(DomainError, match=r"^c must give one value or one per layer \(3\); got 2$"):
        PerLayer(COUNT).for_layers("c", [1, 2], 3)


def test_legacy_checks_share_the_message_form():
    assert check_int("width", 8, lo=1) == 8
    with pytest.raises(DomainError) as e:
        check_int("configs[1] width", 0, lo=1)
    assert str(e.value) == "configs[1] width must be an integer ≥ 1; got 0" and e.value.param == "configs"
    with pytest.raises(DomainError) as e:
        check_real("eps", 0, lo=0.0, hi=1.0, lo_open=True, hi_open=True)
    assert str(e.value) == "eps must be in (0, 1); got 0" and e.value.param == "eps"


def test_constrain_checks_in_declaration_order_and_keeps_the_declaration():
    @constrain(n=COUNT, p=OPEN_UNIT)
    def f(n, p=0.5, *, tag="t"):
        return n, p, tag

    assert f(3.0, 0.25) == (3, 0.25, "t")
    assert dict(constraints_of(f)) == {"n": COUNT, "p": OPEN_UNIT}
    with pytest.raises(DomainError) as e:
        f(0, 2.0)
    assert e.value.param == "n"
    with pytest.raises(TypeError):
        constrain(q=COUNT)(lambda n: n)
    assert constraints_of(len) == {}


def test_every_declaration_names_a_parameter_of_its_function():
    found = 0
    for info in pkgutil.iter_modules(bounds.__path__):
        mod = importlib.import_module(f"initbounds.bounds.{info.name}")
        for name, obj in vars(mod).items():
            if callable(obj) and getattr(obj, "__module__", None) == mod.__name__ and constraints_of(obj):
                params = inspect.signature(obj).parameters
                assert set(constraints_of(obj)) <= set(params), (mod.__name__, name)
                found += 1
    assert found >= 40


def test_message_templates_escape_braces():
    e = DomainError("{a} must be one of {{1}}; got 'x'", param="a")
    assert str(e) == "a must be one of {1}; got 'x'" and e.spell({"a": "--a"}.get) == "--a must be one of {1}; got 'x'"
    assert str(InitBoundsError("plain {text} stays")) == "plain {text} stays"
    with pytest.raises(DomainError) as info:
        Options(("a",)).validate("k", "{b}")
    assert str(info.value) == "k must be one of 'a'; got '{b}'"


def test_parse_widths_lives_with_the_constraints():
    from initbounds.bounds import death

    assert not hasattr(death, "parse_widths") and parse_widths([4, 4]) == (4, 4)
    assert isinstance(WIDTHS, IntegerList)


# --- the cost-limit class (the issue: catch the class, never the message text) --------------------
def test_cost_limit_error_is_its_own_class():
    from initbounds.bounds.band import band_probability

    assert issubclass(CostLimitError, InitBoundsError) and not issubclass(CostLimitError, DomainError)
    with pytest.raises(CostLimitError, match="beyond this tool's cost limit") as e:
        band_probability(10**6, 10**7, 0.5, 2.0, layers="last")
    assert not isinstance(e.value, DomainError)


def test_min_widths_catches_the_class_not_the_text(monkeypatch):
    """A cost-limit error worded without 'beyond' still gives a per-method note."""
    from initbounds.bounds import width as W

    real = W.min_width

    def fake(method, *a, **k):
        if method == "chernoff_product":
            raise CostLimitError("too costly here")
        return real(method, *a, **k)

    monkeypatch.setattr(W, "min_width", fake)
    res = {r.name: r for r in W.min_widths(3, 4, 0.1, 0.5, methods=("authors_formula", "chernoff_product"))}
    assert res["chernoff_product"].min_width is None
    assert res["chernoff_product"].notes == ("not computed: too costly here",)

    def bad(method, *a, **k):
        raise DomainError("a domain error is not swallowed")

    monkeypatch.setattr(W, "min_width", bad)
    with pytest.raises(DomainError):
        W.min_widths(3, 4, 0.1, 0.5, methods=("authors_formula", "chernoff_product"))


@pytest.mark.parametrize("call, param", [
    (lambda: __import__("initbounds.bounds.resnet", fromlist=["x"]).residual_growth(10**8 + 1, 4, 4, 1.0), "blocks"),
    (lambda: __import__("initbounds.bounds.death", fromlist=["x"]).death_report(schedule=(2, 1), depth=10**6 + 1),
     "depth"),
])
def test_cost_limit_errors_name_their_parameter(call, param):
    with pytest.raises(CostLimitError) as e:
        call()
    assert e.value.param == param and "must be" in str(e.value)


from hypothesis import given, settings, strategies as st  # noqa: E402

_items = st.one_of(st.integers(-3, 12), st.floats(allow_nan=True, allow_infinity=True), st.booleans(),
                   st.none(), st.text(max_size=2))


@settings(max_examples=300, deadline=None)
@given(st.lists(_items, min_size=1, max_size=8),
       st.sampled_from([Interval(Integral, 1, 10), Interval(Real, 0, 1, closed="neither"),
                        Interval(Real, None, 5.0), Interval(Integral, None, None)]))
def test_validate_all_equals_item_by_item(values, c):
    """The fast path of a list check returns and raises exactly what checking item by item does."""
    def one_by_one():
        return tuple(c.validate("x", v, item=f"[{i}]") for i, v in enumerate(values))

    try:
        want = one_by_one()
    except DomainError as e:
        with pytest.raises(DomainError) as got:
            c.validate_all("x", values)
        assert str(got.value) == str(e)
        return
    got = c.validate_all("x", values)
    assert got == want and [type(v) for v in got] == [type(v) for v in want]
