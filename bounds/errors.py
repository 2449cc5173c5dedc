"""Errors, warnings and the parameter constraints shared by every public function.

One base class for the toolkit's errors; a domain error that is also a ``ValueError``; a
cost-limit error for inputs that are inside the domain but that this implementation refuses
because of its cost model. Messages say what must hold, what arrived, and where:
``widths[1] must be an integer ≥ 1; got 0``.

Each public function declares its parameters' constraints once, with :func:`constrain` (in the
spirit of scikit-learn's ``_param_validation``)::

    @constrain(depth=Interval(Integral, 1, None, closed="left"), eps=Interval(Real, 0, 1, closed="neither"))
    def f(depth, eps): ...

The declaration is the check (the function receives the checked, converted values), the error
message (a :class:`DomainError` whose ``param`` names the offending parameter) and, through
``f.constraints``, the command line's help text, parser and option names (``initbounds.commands``).

>>> f = constrain(depth=Interval(Integral, 1, None, closed="left"))(lambda depth: depth)
>>> f(3.0)
3
>>> try:
...     f(0)
... except DomainError as e:
...     print(e.param, "|", e)
depth | depth must be an integer ≥ 1; got 0
"""
from __future__ import annotations

import functools
import inspect
import math
import numbers
from numbers import Integral, Real
from types import MappingProxyType

__all__ = [
    "InitBoundsError",
    "DomainError",
    "CostLimitError",
    "ApproximationWarning",
    "Constraint",
    "Interval",
    "Options",
    "Flag",
    "OrNone",
    "IntegerList",
    "IntegerGrid",
    "PerLayer",
    "Pair",
    "constrain",
    "constraints_of",
    "parse_widths",
    "check_int",
    "check_real",
    "check_choice",
    "Integral",
    "Real",
    "COUNT",
    "NONNEGATIVE_INT",
    "OPEN_UNIT",
    "POSITIVE",
    "NONNEGATIVE",
    "REAL",
    "WIDTHS",
    "FANS",
]


# --- errors -----------------------------------------------------------------------------------------
def _esc(text: str) -> str:
    """``text`` as a literal piece of a message template (braces doubled)."""
    return str(text).replace("{", "{{").replace("}", "}}")


class InitBoundsError(Exception):
    """Base class of every error the toolkit raises on purpose.

    A message may name parameters through ``{name}`` fields of its template (``names`` lists
    them): ``str(error)`` spells them as the library's parameter names, :meth:`spell` with any
    other spelling, e.g. the command line's ``--option`` names. A message without ``names`` is
    plain text.

    >>> e = InitBoundsError("{width} needs {depth}", names=("width", "depth"))
    >>> str(e), e.spell({"width": "--width", "depth": "--depth"}.get)
    ('width needs depth', '--width needs --depth')
    """

    def __init__(self, message: str, *, names: tuple = ()):
        self.template = message
        self.names = tuple(names)
        super().__init__(self.spell())

    def spell(self, spelling=None) -> str:
        """The message with each named parameter spelled by ``spelling(name)`` (None: the name)."""
        if not self.names:
            return self.template
        return self.template.format_map({n: (spelling(n) if spelling else None) or n for n in self.names})


class DomainError(InitBoundsError, ValueError):
    """An argument is outside the domain where the quantity is defined (or implemented at all;
    inputs refused only because of the cost of computing them raise :class:`CostLimitError`).

    ``param`` is the offending parameter's name (None where no single parameter is at fault).
    """

    def __init__(self, message: str, *, param: str | None = None, names: tuple = ()):
        self.param = param
        super().__init__(message, names=names or ((param,) if param and "{" + param + "}" in message else ()))

    @classmethod
    def must(cls, name: str, must: str, got: str, *, item: str = "") -> "DomainError":
        """The one message form, '<name><item> must <must>; got <got>', naming ``name``.

        >>> str(DomainError.must("widths", "be an integer ≥ 1", "0", item="[1]"))
        'widths[1] must be an integer ≥ 1; got 0'
        """
        return cls("{" + name + "}" + _esc(f"{item} must {must}; got {got}"), param=name)


class CostLimitError(InitBoundsError, ValueError):
    """An input inside the domain, refused because of this implementation's cost model.

    Raised where computing the quantity exactly would exceed a stated limit on time, memory or
    the range where double-precision evaluation is exact (e.g. :data:`bounds.band.COST_LIMIT`).
    A caller that has a cheaper method catches this class (never the message text).
    ``param`` names the parameter that drives the cost, where one does.
    """

    def __init__(self, message: str, *, param: str | None = None, names: tuple = ()):
        self.param = param
        super().__init__(message, names=names or ((param,) if param and "{" + param + "}" in message else ()))


class ApproximationWarning(UserWarning):
    """An approximation is used outside the regime where it is accurate."""


# --- constraints ------------------------------------------------------------------------------------
def _fmt_bound(x) -> str:
    if isinstance(x, float):
        return f"{x:g}"
    return str(x)


def _fail(name: str, item: str, must: str, got: str) -> DomainError:
    return DomainError.must(name, must, got, item=item)


class Constraint:
    """What one parameter must satisfy.

    ``validate(name, value)`` returns the value converted (int, float, tuple) or raises
    :class:`DomainError` with ``param=name``; ``describe()`` says what must hold (messages);
    ``range_text()`` says it briefly (help texts); ``parse(text)`` reads a command-line string
    (raising ``ValueError`` with ``expects()`` as the description of what it takes).
    """

    def validate(self, name: str, value, *, item: str = ""):
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError

    def range_text(self) -> str:
        return self.describe()

    def expects(self) -> str:
        return self.describe()

    def parse(self, text: str):
        return text

    def invalid_example(self):
        """A value that violates the constraint (tests drive every option with one), or None."""
        return None


class Interval(Constraint):
    """A number in an interval: ``Interval(Integral, 1, None, closed="left")`` is an integer ≥ 1,
    ``Interval(Real, 0, 1, closed="neither")`` a real in (0, 1).

    ``closed`` is "left", "right", "both" or "neither" (ignored for a missing end). Integers are
    refused as booleans, NaN, infinities and non-integral floats; integral floats such as 4.0 are
    accepted and returned as ``int``. Reals are refused as booleans, NaN and infinities and are
    returned as ``float``.
    """

    def __init__(self, type, left, right, *, closed: str = "both"):
        if type not in (Integral, Real):
            raise TypeError(f"type must be numbers.Integral or numbers.Real; got {type!r}")
        if closed not in ("left", "right", "both", "neither"):
            raise ValueError(f"closed must be 'left', 'right', 'both' or 'neither'; got {closed!r}")
        self.type, self.left, self.right, self.closed = type, left, right, closed
        if type is Integral:      # an integer interval is closed: (a, b) = [a + 1, b − 1]
            if left is not None and closed in ("right", "neither"):
                self.left = left + 1
            if right is not None and closed in ("left", "neither"):
                self.right = right - 1
            self.closed = "both"

    @property
    def lo_open(self) -> bool:
        return self.closed in ("right", "neither")

    @property
    def hi_open(self) -> bool:
        return self.closed in ("left", "neither")

    def interval_text(self) -> str:
        """'(0, 1)', '[0, inf)': the interval in brackets."""
        left = "(" if self.lo_open or self.left is None else "["
        right = ")" if self.hi_open or self.right is None else "]"
        a = "-inf" if self.left is None else _fmt_bound(self.left)
        b = "inf" if self.right is None else _fmt_bound(self.right)
        return f"{left}{a}, {b}{right}"

    def describe(self) -> str:
        if self.type is Integral:
            lo, hi = self.left, self.right
            if lo is not None and hi is not None:
                return f"an integer in [{_fmt_bound(lo)}, {_fmt_bound(hi)}]"
            if lo is not None:
                return f"an integer ≥ {_fmt_bound(lo)}"
            if hi is not None:
                return f"an integer ≤ {_fmt_bound(hi)}"
            return "an integer"
        return f"in {self.interval_text()}"

    def expects(self) -> str:
        return self.describe() if self.type is Integral else f"a real number in {self.interval_text()}"

    def range_text(self) -> str:
        if self.type is Integral:
            return self.describe()[len("an integer "):] if self.left is not None or self.right is not None else ""
        if self.left is not None and self.right is None:
            return f"{'>' if self.lo_open else '≥'} {_fmt_bound(self.left)}"
        if self.right is not None and self.left is None:
            return f"{'<' if self.hi_open else '≤'} {_fmt_bound(self.right)}"
        if self.left is None and self.right is None:
            return "real"
        return f"in {self.interval_text()}"

    def parse(self, text: str):
        return int(text) if self.type is Integral else float(text)

    def validate(self, name: str, value, *, item: str = ""):
        if self.type is Integral:
            if isinstance(value, bool) or value is None:
                raise _fail(name, item, f"be {self.describe()}", repr(value))
            if isinstance(value, numbers.Integral):
                v = int(value)
            elif isinstance(value, numbers.Real) and math.isfinite(float(value)) and float(value).is_integer():
                v = int(value)
            else:
                raise _fail(name, item, f"be {self.describe()}", repr(value))
            if (self.left is not None and v < self.left) or (self.right is not None and v > self.right):
                raise _fail(name, item, f"be {self.describe()}", str(v))
            return v
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise _fail(name, item, f"be {self.expects()}", repr(value))
        v = float(value)
        if not math.isfinite(v):
            raise _fail(name, item, f"be {self.expects()}", repr(value))
        lo, hi = self.left, self.right
        if (lo is not None and (v < lo or (self.lo_open and v == lo))) or \
                (hi is not None and (v > hi or (self.hi_open and v == hi))):
            raise _fail(name, item, f"be {self.describe()}", repr(value))
        return v

    def validate_all(self, name: str, values, *, item: str = "") -> tuple:
        """Each of ``values`` validated, as a tuple: the same result and the same first error as
        validating them one by one, with a fast path for long lists of plain ints or floats (a
        depth-10^5 width list is checked in milliseconds)."""
        values = tuple(values)
        kind = int if self.type is Integral else float
        if values and all(type(x) is kind for x in values) and (kind is int or all(map(math.isfinite, values))):
            try:                          # every value lies between these two, both inside the interval
                self.validate(name, min(values)), self.validate(name, max(values))
                return values
            except DomainError:
                pass                      # the loop below names the first offending item
        return tuple(self.validate(name, x, item=f"{item}[{i}]") for i, x in enumerate(values))

    def invalid_example(self):
        if self.left is not None:
            return self.left - 1 if self.type is Integral else (self.left if self.lo_open else self.left - 1.0)
        if self.right is not None:
            return self.right + 1 if self.type is Integral else (self.right if self.hi_open else self.right + 1.0)
        return None


class Options(Constraint):
    """One of a fixed tuple of values (the order is the order the message lists them in)."""

    def __init__(self, options):
        self.options = tuple(options)

    def describe(self) -> str:
        return "one of " + ", ".join(repr(o) for o in self.options)

    def range_text(self) -> str:
        return ", ".join(str(o) for o in self.options)

    def validate(self, name: str, value, *, item: str = ""):
        if value not in self.options:
            raise _fail(name, item, f"be {self.describe()}", repr(value))
        return value

    def invalid_example(self):
        return "none-of-these"


class Flag(Constraint):
    """A boolean (True or False, nothing else)."""

    def describe(self) -> str:
        return "True or False"

    def validate(self, name: str, value, *, item: str = ""):
        if not isinstance(value, bool):
            raise _fail(name, item, f"be {self.describe()}", repr(value))
        return value


class OrNone(Constraint):
    """None, or a value satisfying ``inner``."""

    def __init__(self, inner: Constraint):
        self.inner = inner

    def describe(self) -> str:
        return self.inner.describe()

    def range_text(self) -> str:
        return self.inner.range_text()

    def expects(self) -> str:
        return self.inner.expects()

    def parse(self, text: str):
        return self.inner.parse(text)

    def validate(self, name: str, value, *, item: str = ""):
        return None if value is None else self.inner.validate(name, value, item=item)

    def invalid_example(self):
        return self.inner.invalid_example()


class IntegerList(Constraint):
    """A non-empty sequence of integers, each satisfying ``item`` (widths: each ≥ 1).

    Returned as a tuple; an entry is named by its position (``widths[1]``). On the command line
    it is written comma-separated (``example``).
    """

    def __init__(self, item: Interval, *, example: str = "4,4,4", what: str = "layer width"):
        self.item, self.example, self.what = item, example, what

    def describe(self) -> str:
        return f"a sequence of integers {self.item.range_text()}"

    def range_text(self) -> str:
        return f"each {self.item.range_text()}"

    def expects(self) -> str:
        return f"comma-separated integers {self.item.range_text()} (e.g. {self.example})"

    def parse(self, text: str):
        return [int(p.strip()) for p in str(text).split(",")]

    def validate(self, name: str, value, *, item: str = ""):
        if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
            raise _fail(name, item, f"be {self.describe()}", repr(value))
        out = self.item.validate_all(name, value, item=item)
        if not out:
            raise _fail(name, item, f"list at least one {self.what}", "()")
        return out

    def invalid_example(self):
        return [1, self.item.invalid_example()]


class _Points(list):
    """A range too long to build: its first point and its length (refused by IntegerGrid.validate)."""

    def __init__(self, head, count: int):
        super().__init__(head)
        self.count = count


class IntegerGrid(IntegerList):
    """An axis of a sweep: integers each satisfying ``item``, written on the command line as a
    comma list (``4,8,16``), a geometric range ``a:b:xK`` (a, a·K, a·K², … up to b, K ≥ 2) or
    an arithmetic range ``a:b:+K`` (a, a + K, … up to b, K ≥ 1). The range ends at the last term
    ≤ b, and at most ``max_points`` points are accepted (a sweep is a product of axes).

    >>> IntegerGrid(COUNT).parse("16:4096:x2")
    [16, 32, 64, 128, 256, 512, 1024, 2048, 4096]
    >>> IntegerGrid(COUNT).parse("2:9:+3")
    [2, 5, 8]
    """

    def __init__(self, item: "Interval", *, example: str = "16:4096:x2", what: str = "value", max_points: int = 1000):
        super().__init__(item, example=example, what=what)
        self.max_points = max_points

    def expects(self) -> str:
        return (f"comma-separated integers or a range a:b:xK (geometric) or a:b:+K (arithmetic), each "
                f"{self.item.range_text()} (e.g. {self.example})")

    def parse(self, text: str):
        parts = str(text).split(":")
        if len(parts) == 1:
            return super().parse(text)
        if len(parts) != 3 or parts[2][:1] not in ("x", "+"):
            raise ValueError(self.expects())
        try:
            a, b, k = int(parts[0]), int(parts[1]), int(parts[2][1:])
        except ValueError:
            raise ValueError(self.expects()) from None
        geometric = parts[2][0] == "x"
        if (geometric and (a < 1 or k < 2)) or k < 1 or b < a:
            raise ValueError(self.expects())
        if geometric:
            count, v = 0, a
            while v <= b:
                count, v = count + 1, v * k
        else:
            count = (b - a) // k + 1
        if count > self.max_points:              # refused by validate, without building the list
            return _Points([a], count)
        return [a * k ** i if geometric else a + i * k for i in range(count)]

    def validate(self, name: str, value, *, item: str = ""):
        if isinstance(value, str):               # the library takes the command line's text too
            try:
                value = self.parse(value)
            except ValueError:
                raise _fail(name, item, f"be {self.expects()}", repr(value)) from None
        if isinstance(value, _Points):
            raise _fail(name, item, f"list at most {self.max_points} {self.what}s", f"{value.count}")
        out = super().validate(name, value, item=item)
        if len(out) > self.max_points:
            raise _fail(name, item, f"list at most {self.max_points} {self.what}s", f"{len(out)}")
        if len(set(out)) != len(out):
            raise _fail(name, item, f"list each {self.what} once", repr(list(value)))
        return out


class PerLayer(Constraint):
    """One value for every layer, or one per layer: a scalar, or a sequence of values each
    satisfying ``item`` (the length is checked against the layers where they are known)."""

    def __init__(self, item: Interval):
        self.item = item

    def describe(self) -> str:
        return f"a number {self.item.describe()} or one per layer"

    def range_text(self) -> str:
        return self.item.range_text()

    def expects(self) -> str:
        return "a number or comma-separated numbers (one per layer)"

    def parse(self, text: str):
        vals = [float(p.strip()) for p in str(text).split(",")]
        return vals[0] if len(vals) == 1 else vals

    def validate(self, name: str, value, *, item: str = ""):
        if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
            return self.item.validate(name, value, item=item)
        return self.item.validate_all(name, value, item=item)

    def for_layers(self, name: str, value, d: int) -> tuple:
        """``value`` checked and broadcast to ``d`` layers (a sequence must have length d)."""
        v = self.validate(name, value)
        if not isinstance(v, tuple):
            return (v,) * d
        if len(v) != d:
            raise _fail(name, "", f"give one value or one per layer ({d})", str(len(v)))
        return v

    def invalid_example(self):
        return self.item.invalid_example()


class Pair(Constraint):
    """Two named reals, e.g. a schedule's (c, b); written 'c,b' on the command line."""

    def __init__(self, first: tuple, second: tuple, *, text: str):
        (self.n1, self.c1), (self.n2, self.c2) = first, second
        self.text = text

    def describe(self) -> str:
        return self.text

    def range_text(self) -> str:
        return self.text

    def parse(self, text: str):
        a, b = (float(v) for v in str(text).split(","))
        return a, b

    def validate(self, name: str, value, *, item: str = ""):
        try:
            a, b = value
        except (TypeError, ValueError):
            raise _fail(name, item, f"be {self.text}", repr(value))
        return (self.c1.validate(name, a, item=f"{item} {self.n1}"),
                self.c2.validate(name, b, item=f"{item} {self.n2}"))

    def invalid_example(self):
        bad = self.c1.invalid_example()
        return None if bad is None else (bad, 0.0)


# --- declarations -----------------------------------------------------------------------------------
def constrain(**constraints):
    """Declare each parameter's constraint once; the function then receives checked values.

    Arguments that are passed are validated in the order of the declaration (defaults are
    trusted) and replaced by the converted values :meth:`Constraint.validate` returns. The
    declaration is kept as ``func.constraints`` (read-only), which the command line uses for its
    help texts, parsers and the option an error names.
    """
    def decorate(func):
        sig = inspect.signature(func)
        unknown = set(constraints) - set(sig.parameters)
        if unknown:
            raise TypeError(f"{func.__qualname__} has no parameter(s) {sorted(unknown)}")
        items = tuple(constraints.items())

        @functools.wraps(func)
        def checked(*args, **kwargs):
            bound = sig.bind(*args, **kwargs)
            arguments = bound.arguments
            for name, c in items:
                if name in arguments:
                    arguments[name] = c.validate(name, arguments[name])
            return func(*bound.args, **bound.kwargs)

        checked.constraints = MappingProxyType(dict(constraints))
        return checked

    return decorate


def constraints_of(func) -> MappingProxyType:
    """The declared constraints of a public function ({} when it declares none)."""
    return getattr(func, "constraints", MappingProxyType({}))


# --- the shared constraints -------------------------------------------------------------------------
#: an integer ≥ 1 (a width, a depth, a number of inputs or layers)
COUNT = Interval(Integral, 1, None, closed="left")
#: an integer ≥ 0 (a seed, a number of trials that may be 0)
NONNEGATIVE_INT = Interval(Integral, 0, None, closed="left")
#: a real in (0, 1) (a probability δ, a band half-width ε)
OPEN_UNIT = Interval(Real, 0, 1, closed="neither")
#: a real > 0 (a weight-variance factor c)
POSITIVE = Interval(Real, 0, None, closed="neither")
#: a real ≥ 0 (a bias variance, a branch scale)
NONNEGATIVE = Interval(Real, 0, None, closed="left")
#: any finite real
REAL = Interval(Real, None, None)
#: layer widths n_1..n_d, each an integer ≥ 1; never n_0 (that is ``input_dim``)
WIDTHS = IntegerList(COUNT)
#: the fan a weight variance is divided by: Var W = c/fan-in ("in") or c/fan-out ("out")
FANS = Options(("in", "out"))


def parse_widths(widths) -> tuple:
    """Validate a sequence of layer widths n_1..n_d (each an integer ≥ 1; n_0 is never among them).

    >>> parse_widths([4, 4.0])
    (4, 4)
    """
    return WIDTHS.validate("widths", widths)


# --- checks for names that are not parameters of the caller (positions, derived bounds) ---------------
def _split(name: str) -> tuple:
    """'widths[1]' → ('widths', '[1]'), 'configs[0] width' → ('configs', '[0] width')."""
    for i, ch in enumerate(name):
        if ch in "[ ":
            return name[:i], name[i:]
    return name, ""


def check_int(name: str, value, lo: int | None = None, hi: int | None = None) -> int:
    """Return ``value`` as an ``int`` if it is an integer in ``[lo, hi]``; else raise DomainError.

    The same check as ``Interval(Integral, lo, hi)``, for bounds known only at run time.

    >>> check_int("width", 8, lo=1)
    8
    """
    param, item = _split(name)
    return Interval(Integral, lo, hi).validate(param, value, item=item)


def check_real(
    name: str,
    value,
    lo: float | None = None,
    hi: float | None = None,
    *,
    lo_open: bool = False,
    hi_open: bool = False,
) -> float:
    """Return ``value`` as a finite ``float`` inside the given interval; else raise DomainError.

    >>> check_real("eps", 0.1, 0, 1, lo_open=True, hi_open=True)
    0.1
    """
    closed = {(False, False): "both", (True, False): "right", (False, True): "left", (True, True): "neither"}
    param, item = _split(name)
    return Interval(Real, lo, hi, closed=closed[lo_open, hi_open]).validate(param, value, item=item)


def check_choice(name: str, value, choices) -> str:
    """Return ``value`` if it is one of ``choices``; else raise DomainError."""
    param, item = _split(name)
    return Options(choices).validate(param, value, item=item)
