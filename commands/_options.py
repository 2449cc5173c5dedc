"""Command options from the constraint declarations, and the option an error names.

A command declares each numeric option with :func:`option` and the library function(s) it calls
with :func:`command`. The option's constraint is the one that function declares for the parameter
of the same name (``bounds.errors.constrain``): it writes the help text (``{range}``), it parses
the text (a parse error names the option and the range: ``--depth must be an integer ≥ 1; got
'x'``) and the library checks the value and raises a ``DomainError`` whose ``param`` is that name,
which :func:`spell_error` turns back into the option. An option no library function takes (the
simulation's trials and seeds, the command line's own limits) declares its constraint here, with
``constraint=``, and is checked when it is parsed. Either way the constraint is written once.
"""
from __future__ import annotations

import inspect
import os
from enum import Enum
import tempfile
from dataclasses import dataclass
from pathlib import Path

import typer

from ..bounds.errors import (Constraint, DomainError, InitBoundsError, IntegerList, Options, OrNone, Pair, PerLayer,
                             constraints_of)
from ._render import click


class Norm(str, Enum):
    """--norm of the band commands (width, prob, certify): the squared or the plain norm ratio."""
    squared = "squared"
    plain = "plain"


class Layers(str, Enum):
    """--layers of the band commands (width, certify, sphere): every layer, or the last only."""
    all = "all"
    last = "last"

__all__ = ["option", "command", "spell_error", "json_option", "PlotFile", "PLOT_SUFFIXES", "plot_option", "OutDir", "scheduler_option",
           "check_device"]


@dataclass(frozen=True)
class _Opt:
    default: object
    help: str
    flag: str | None
    constraint: Constraint | None


def option(default=..., *, help: str, flag: str | None = None, constraint: Constraint | None = None) -> _Opt:
    """A command option whose constraint is declared once (see the module docstring).

    ``help`` may hold ``{range}``, replaced by the constraint's range text. ``flag`` defaults to
    ``--`` and the parameter's name with dashes; the parameter's name is the library parameter's.
    """
    return _Opt(default, help, flag, constraint)


def json_option():
    return typer.Option(False, "--json", help="Print one JSON object.")


def command(*calls):
    """Turn the :func:`option` defaults of a command into typer options.

    ``calls``: the library functions the command calls; an option without its own ``constraint``
    takes the one the first of them declares for its name (a missing declaration is a TypeError
    at import, so an option cannot drift from the library).
    """
    declared: dict = {}
    for f in calls:
        for name, c in constraints_of(f).items():
            declared.setdefault(name, c)

    def decorate(fn):
        sig = inspect.signature(fn, eval_str=True)
        params, constraints = [], {}
        for p in sig.parameters.values():
            d = p.default
            if isinstance(d, _Opt):
                flag = d.flag or "--" + p.name.replace("_", "-")
                c = d.constraint if d.constraint is not None else declared.get(p.name)
                if c is None:
                    raise TypeError(f"{fn.__name__}: --{p.name} has no declared constraint")
                constraints[p.name] = c
                p = p.replace(default=typer.Option(
                    d.default, flag, help=d.help.format(range=c.range_text()), metavar=_metavar(c),
                    parser=_parser(c, flag, check=d.constraint is not None)))
            params.append(p)
        fn.__signature__ = sig.replace(parameters=params)
        fn.option_constraints = constraints      # {parameter: its constraint}, for tests and tools
        return fn

    return decorate


def _metavar(c: Constraint) -> str | None:
    """How the help writes a list-valued option's value (None: typer's, from the annotation)."""
    c = c.inner if isinstance(c, OrNone) else c
    if isinstance(c, IntegerList):
        return "N,N,..."
    if isinstance(c, PerLayer):
        return "X[,X,...]"
    if isinstance(c, Pair):
        return f"{c.n1},{c.n2}".upper()
    return getattr(c, "metavar", None)


def _parser(c: Constraint, flag: str, *, check: bool):
    """Text → value by the constraint; unparsable text and (``check``) a value outside the
    constraint are one-line usage errors that name the option."""
    def parse(value):
        if not isinstance(value, str):
            return value                          # a default, already a value
        try:
            v = c.parse(value)
        except (TypeError, ValueError):
            raise click.exceptions.UsageError(f"{flag} must be {c.expects()}; got {value!r}")
        if check:
            try:
                v = c.validate(flag, v)
            except DomainError as e:
                raise click.exceptions.UsageError(str(e))
        return v

    return parse


def spell_error(error: InitBoundsError, command) -> str:
    """The error's message with each parameter it names spelled as the command's option.

    The option of a parameter is the click option of the same name (the command's parameter is
    named like the library's); a name the command has no option for stays as it is.
    """
    opts = {p.name: p.opts[0] for p in getattr(command, "params", ()) if getattr(p, "opts", None)}
    return error.spell(opts.get)


#: The formats every --plot writes (matplotlib picks the format from the suffix).
PLOT_SUFFIXES = (".png", ".svg", ".pdf")


def _writable_dir(directory: Path) -> str | None:
    """None if a file can be created in ``directory``; else why not (tried by creating and
    removing an empty temporary file: permission bits say nothing for root, /proc, read-only mounts)."""
    if not directory.exists():
        return f"no directory {str(directory)!r}"
    if not directory.is_dir():
        return f"{str(directory)!r} is not a directory"
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".initbounds-", suffix=".tmp")
    except OSError as e:
        return f"cannot write in {str(directory)!r}: {e.strerror or e}"
    os.close(fd)
    os.unlink(tmp)
    return None


class PlotFile(Options):
    """The file a --plot writes, checked when the option is parsed (before any work).

    The rule, the same for every command: the name ends in .png, .svg or .pdf (any case) after a
    non-empty stem; it is not a directory (``DIR/`` and ``''`` are refused); its directory exists
    and a file can be created there; an existing file is overwritten (it must be a writable
    regular file). Returns the name unchanged.
    """

    metavar = "FILE"

    def __init__(self, suffixes=PLOT_SUFFIXES):
        super().__init__(suffixes)

    def describe(self) -> str:
        return "name a " + ", ".join(self.options[:-1]) + " or " + self.options[-1] + " file"

    def range_text(self) -> str:
        return ", ".join(self.options[:-1]) + " or " + self.options[-1] + "; an existing file is overwritten"

    def expects(self) -> str:
        return self.describe()

    def validate(self, name: str, value, *, item: str = ""):
        text = str(value)
        must = self.describe() + " in an existing, writable directory"
        if text.endswith(("/", os.sep)) or (os.altsep and text.endswith(os.altsep)):
            raise DomainError.must(name, must, f"{value!r}, a directory", item=item)
        p = Path(text)
        if text and p.is_dir():
            raise DomainError.must(name, must, f"{value!r}, a directory", item=item)
        if not text or p.suffix.lower() not in self.options or not p.stem:
            raise DomainError.must(name, must, repr(value), item=item)
        why = _writable_dir(p.parent)
        if why is None and p.exists():
            if not p.is_file():
                why = "it exists and is not a regular file"
            else:
                try:
                    with open(p, "r+b"):
                        pass
                except OSError as e:
                    why = f"the existing file cannot be overwritten: {e.strerror or e}"
        if why is not None:
            raise DomainError.must(name, must, f"{value!r} ({why})", item=item)
        return text

    def invalid_example(self):
        return "plot.txt"


def plot_option(what: str):
    """The one --plot option of every command: ``what`` the file shows; the help states the rule."""
    return option(None, help=f"Write {what} to this file ({{range}}).", constraint=PlotFile())


class OutDir(Constraint):
    """A directory to write files into, checked when the option is parsed: an existing directory
    where a file can be created, or a new one whose parent directory exists and is writable
    (created at the end of the run). Files of the same name in it are overwritten."""

    metavar = "DIR"

    def describe(self) -> str:
        return "name a writable directory (existing, or new in an existing, writable directory)"

    def range_text(self) -> str:
        return "existing or new in an existing directory; files of the same name are overwritten"

    def expects(self) -> str:
        return self.describe()

    def validate(self, name: str, value, *, item: str = ""):
        text = str(value)
        if not text.strip():
            raise DomainError.must(name, self.describe(), repr(value), item=item)
        p = Path(text)
        if p.exists() and not p.is_dir():
            why = "it exists and is not a directory"
        else:
            why = _writable_dir(p if p.exists() else p.parent)
        if why is not None:
            raise DomainError.must(name, self.describe(), f"{value!r} ({why})", item=item)
        return text

    def invalid_example(self):
        return ""


def scheduler_option():
    """The one --scheduler option (validate, certify, sweep): where the simulation's tasks run."""
    from ..sim.scheduler import SCHEDULER

    return option("inprocess", help="Where the simulation's tasks run: inprocess (default; no Dask), local:K "
                  "(a Dask LocalCluster of K worker processes) or tcp://host:port (a running Dask scheduler); "
                  "the same numbers on each ({range}).", constraint=SCHEDULER)


def check_device(device: str) -> None:
    """--device must name a torch device that exists here (imports torch)."""
    import torch

    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError):
        raise InitBoundsError(f"--device must be a torch device such as 'cpu' or 'cuda'; got {device!r}")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InitBoundsError(f"--device {device}: torch sees no CUDA device here")
    if dev.type not in ("cpu", "cuda"):
        raise InitBoundsError(f"--device must be 'cpu' or 'cuda[:k]'; got {device!r}")
