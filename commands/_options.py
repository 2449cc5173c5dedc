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
from dataclasses import dataclass

import typer

from ..bounds.errors import (Constraint, DomainError, InitBoundsError, IntegerList, Options, OrNone, Pair, PerLayer,
                             constraints_of)
from ._render import click

__all__ = ["option", "command", "spell_error", "json_option", "PlotFile", "check_device"]


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


class PlotFile(Options):
    """A file name ending in one of ``suffixes`` (the plot formats)."""

    def __init__(self, suffixes=(".png", ".svg")):
        super().__init__(suffixes)

    def describe(self) -> str:
        return "name a " + " or ".join(self.options) + " file"

    def validate(self, name: str, value, *, item: str = ""):
        if not str(value).lower().endswith(self.options):
            raise DomainError.must(name, self.describe(), repr(value), item=item)
        return value


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
