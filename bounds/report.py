"""Reports: what one command prints, as a library object (no rich, no colour).

A :class:`Report` holds a titled table of rows — by default (quantity, value, source), the value
already written as text — the assumptions the numbers rest on, lines that follow the table, and
the JSON-ready dict that ``as_dict()`` returns (exactly what ``initbounds <command> --json``
prints). Each topic module builds its own (``width_report``, ``prob_report``, ``moment_report``,
``death_report``, ``variance_report``, ``resnet_report``, ``design_report``); the command line only
parses, calls one of them and renders.

The number formats shared by the reports live here too.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

__all__ = ["Report", "QUANTITY_COLUMNS", "fmt_p", "fmt_logp", "fmt_v", "fmt_pm"]

#: The default columns of a report's table.
QUANTITY_COLUMNS = ("quantity", "value", "source")


@dataclass(frozen=True)
class Report:
    """One command's result: a table, its assumptions, the lines after it and the JSON object.

    ``rows`` are tuples of text cells, one per entry of ``columns``; ``lines`` follow the table
    (notes, tolerances, statements); ``heading`` (optional) precedes it; ``data`` is the
    JSON-ready dict; ``objects`` holds results a caller may want beyond the JSON (e.g. the exact
    law a plot draws), never printed. Subscripting reads ``data`` (``report["fm1"]``), as the
    dicts these reports replace did.
    """

    title: str
    rows: tuple
    data: dict
    assumptions: tuple = ()
    lines: tuple = ()
    columns: tuple = QUANTITY_COLUMNS
    heading: str = ""
    objects: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        """The JSON object (``initbounds <command> --json``)."""
        return self.data

    def __getitem__(self, key):
        return self.data[key]


def fmt_p(p: float) -> str:
    """A probability: six decimals down to 1e-3, then four significant digits in e-notation.

    >>> fmt_p(0.5), fmt_p(1.5e-7), fmt_p(0.0)
    ('0.500000', '1.5000e-07', '0')
    """
    if p == 0:
        return "0"
    if p >= 1e-3:
        return f"{p:.6f}"
    return f"{p:.4e}"


def fmt_logp(lp: float) -> str:
    """A probability given by its natural log; below 1e-300 as a power of ten.

    >>> fmt_logp(-1000.0)
    '10^-434.29'
    """
    if lp > math.log(1e-300):
        return fmt_p(math.exp(lp))
    return f"10^{lp / math.log(10):.2f}"


def fmt_v(v) -> str:
    """A value that may overflow a double (None: see its log in the JSON)."""
    return "overflow (see --json logs)" if v is None else f"{v:.6g}"


def fmt_pm(p: float, tol: float) -> str:
    """A probability with its absolute error; below the error, only the bound is meaningful."""
    return f"≤ {p + tol:.1e}" if p < tol else f"{fmt_p(p)} (± {tol:.1e})"
