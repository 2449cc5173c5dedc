"""What the commands share for output: the console, tables, report rendering, JSON, progress bars.

Nothing here computes: a :class:`bounds.report.Report` arrives with its rows written as text.
"""
from __future__ import annotations

import contextlib
import json
import math
import sys

from rich.console import Console
from rich.table import Table

try:  # typer ≥ 0.20 vendors click as typer._click, with Exit/Abort in typer.exceptions
    from typer import _click as click
    from typer.exceptions import Abort, Exit
except ImportError:  # pragma: no cover - older typer depends on click
    import click
    from click.exceptions import Abort, Exit

__all__ = ["click", "Abort", "Exit", "console", "table", "show", "print_lines", "emit_json", "progress", "cluster"]


def console() -> Console:
    """Rich console; when output is not a terminal, tables get 140 columns instead of 80."""
    c = Console(highlight=False)
    if not c.is_terminal:
        c = Console(highlight=False, width=140)
    return c


def table(title: str, columns, justify: dict | None = None) -> Table:
    """A table with these columns (``justify``: column name → 'right', ...)."""
    t = Table(title=title)
    for col in columns:
        t.add_column(col, **({"justify": justify[col]} if justify and col in justify else {}))
    return t


def show(report, *, justify: dict | None = None, lines: bool = True, c: Console | None = None) -> Console:
    """Print a report's table (and, with ``lines``, the lines after it); return the console."""
    c = c or console()
    t = table(report.title, report.columns, justify)
    for row in report.rows:
        t.add_row(*row)
    c.print(t)
    if lines:
        print_lines(c, report.lines)
    return c


def print_lines(c: Console, lines) -> None:
    for line in lines:
        c.print(line)


def emit_json(obj) -> None:
    """One strict JSON object on stdout (a report's ``as_dict()`` or a simulation's result).

    A non-finite float is written as null (json.dumps would write the non-JSON tokens NaN and
    Infinity); numpy scalars are written as numbers.
    """
    sys.stdout.write(json.dumps(_finite(obj), indent=2, default=_json_default, allow_nan=False) + "\n")


def _finite(o):
    """``o`` with every non-finite float replaced by None (dicts, lists and tuples walked)."""
    if isinstance(o, float):
        return o if math.isfinite(o) else None
    if isinstance(o, dict):
        return {k: _finite(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_finite(v) for v in o]
    return o


def _json_default(o):
    if hasattr(o, "item") and callable(o.item):           # numpy scalars
        v = o.item()
        if isinstance(v, float) and not math.isfinite(v):
            return None
        if isinstance(v, (int, float, bool)):
            return v
    raise TypeError(f"not JSON serializable: {type(o).__name__}")


@contextlib.contextmanager
def cluster(spec: str, bar: "progress", *, quiet: bool):
    """:func:`sim.scheduler.connect` for a command: with a Dask cluster, its dashboard link goes to
    stderr (unless ``quiet``) and a "tasks" row of ``bar`` counts tasks done out of submitted."""
    from ..sim.scheduler import connect

    with connect(spec) as ex:
        if ex.distributed:
            if not quiet:
                Console(stderr=True, highlight=False).print(
                    f"Dask: {ex.scheduler} with {ex.workers} workers; dashboard {ex.dashboard or '(none)'}")
            row = bar.add_task("tasks", total=None)
            ex.listener = lambda done, total: bar.update(row, completed=done, total=total)
        yield ex


class progress:
    """A transient progress bar on stderr (``disable`` with --json), shown from its first update
    and only when stderr is a terminal, so that an error raised before any work starts stays one
    line on stderr and redirected output has no trace of it."""

    def __init__(self, *, disable: bool, description: str = "{task.description}",
                 count: str = "{task.completed}/{task.total}"):
        self.disable, self.columns, self.bar, self.tasks = disable, (description, count), None, []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.stop()
        return False

    def add_task(self, description: str, total=None) -> int:
        self.tasks.append((description, total))
        if self.bar is not None:
            self.bar.add_task(description, total=total)
        return len(self.tasks) - 1

    def update(self, task: int, **kwargs) -> None:
        if self.disable:
            return
        if self.bar is None:
            err = Console(stderr=True)
            if not err.is_terminal:           # nothing to draw: no stray newline on a pipe or file
                self.disable = True
                return
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            description, count = self.columns
            self.bar = Progress(TextColumn(description), BarColumn(), TextColumn(count), TimeElapsedColumn(),
                                console=err, transient=True)
            self.bar.start()
            for d, t in self.tasks:
                self.bar.add_task(d, total=t)
        self.bar.update(task, **kwargs)
