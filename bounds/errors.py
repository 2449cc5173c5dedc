"""Errors, warnings and the argument checks shared by every public function.

One base class for the toolkit's errors; a domain error that is also a ``ValueError``.
Messages say what must hold, what arrived, and where: ``width must be an integer ≥ 1; got 0``.
"""
from __future__ import annotations

import math
import numbers

__all__ = [
    "InitBoundsError",
    "DomainError",
    "ApproximationWarning",
    "check_int",
    "check_real",
    "check_choice",
]


class InitBoundsError(Exception):
    """Base class of every error the toolkit raises on purpose."""


class DomainError(InitBoundsError, ValueError):
    """An argument is outside the domain where the quantity is defined or implemented."""


class ApproximationWarning(UserWarning):
    """An approximation is used outside the regime where it is accurate."""


def _fmt_bound(x) -> str:
    if isinstance(x, float):
        return f"{x:g}"
    return str(x)


def check_int(name: str, value, lo: int | None = None, hi: int | None = None) -> int:
    """Return ``value`` as an ``int`` if it is an integer in ``[lo, hi]``; else raise DomainError.

    Booleans, floats with a fractional part, NaN and infinities are refused. Integral floats
    (``4.0``) are accepted only when exactly representable.

    >>> check_int("width", 8, lo=1)
    8
    """
    rng = _range_text(lo, hi, integer=True)
    if isinstance(value, bool) or value is None:
        raise DomainError(f"{name} must be {rng}; got {value!r}")
    if isinstance(value, numbers.Integral):
        v = int(value)
    elif isinstance(value, numbers.Real) and math.isfinite(float(value)) and float(value).is_integer():
        v = int(value)
    else:
        raise DomainError(f"{name} must be {rng}; got {value!r}")
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        raise DomainError(f"{name} must be {rng}; got {v}")
    return v


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
    rng = _interval_text(lo, hi, lo_open, hi_open)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise DomainError(f"{name} must be a real number in {rng}; got {value!r}")
    v = float(value)
    if not math.isfinite(v):
        raise DomainError(f"{name} must be a real number in {rng}; got {value!r}")
    bad = (
        (lo is not None and (v < lo or (lo_open and v == lo)))
        or (hi is not None and (v > hi or (hi_open and v == hi)))
    )
    if bad:
        raise DomainError(f"{name} must be in {rng}; got {value!r}")
    return v


def check_choice(name: str, value, choices) -> str:
    """Return ``value`` if it is one of ``choices``; else raise DomainError."""
    if value not in choices:
        opts = ", ".join(repr(c) for c in choices)
        raise DomainError(f"{name} must be one of {opts}; got {value!r}")
    return value


def _range_text(lo, hi, integer: bool) -> str:
    kind = "an integer"
    if lo is not None and hi is not None:
        return f"{kind} in [{_fmt_bound(lo)}, {_fmt_bound(hi)}]"
    if lo is not None:
        return f"{kind} ≥ {_fmt_bound(lo)}"
    if hi is not None:
        return f"{kind} ≤ {_fmt_bound(hi)}"
    return kind


def _interval_text(lo, hi, lo_open, hi_open) -> str:
    left = "(" if lo_open or lo is None else "["
    right = ")" if hi_open or hi is None else "]"
    a = "-inf" if lo is None else _fmt_bound(lo)
    b = "inf" if hi is None else _fmt_bound(hi)
    return f"{left}{a}, {b}{right}"
