"""The ``initbounds`` command: the root, its error boundary and the per-topic command modules.

Each command lives in :mod:`initbounds.commands` (parse, call one library function, render); this
module only registers them, in the order ``--help`` lists them. A command's module is imported
when that command runs (``--help`` imports them all), so a command loads only its own topic; torch
is imported only by the commands that simulate.
"""
from __future__ import annotations

import functools
import importlib
import sys

import typer
from typer.core import TyperGroup

from . import __version__
from .bounds.errors import InitBoundsError
from .commands import derive
from .commands._options import spell_error
from .commands._render import Abort, Exit, click

_state = {"debug": False}

#: Each command and its module in initbounds.commands, in the order of ``initbounds --help``
#: (then ``derive``, a group).
COMMANDS = {"width": "width", "prob": "width", "death": "death", "moment": "moments", "figure": "figure",
            "figures": "figure", "regions": "regions", "trainability": "trainability", "variance": "variance", "resnet": "resnet",
            "certify": "certify", "sweep": "sweep", "refine": "refine", "noise": "noise", "breakeven": "noise", "three-factors": "noise",
            "validate": "validate", "check": "check", "sphere": "sphere", "audit": "audit"}


@functools.lru_cache(maxsize=None)
def _topic(module: str) -> TyperGroup:
    """The click commands of one command module (imported on first use)."""
    sub = typer.Typer()
    for command in importlib.import_module(f"{__package__}.commands.{module}").COMMANDS:
        sub.command()(command)
    return typer.main.get_group(sub)


class _Group(TyperGroup):
    """Click group whose errors are one line on stderr with exit code 2 (no usage box).

    A toolkit error names parameters by the library's names; the line names the invoked
    command's options instead (:func:`commands._options.spell_error`).
    """

    def list_commands(self, ctx):
        return list(COMMANDS) + [n for n in super().list_commands(ctx) if n not in COMMANDS]

    def get_command(self, ctx, name):
        if name in COMMANDS:
            return _topic(COMMANDS[name]).get_command(ctx, name)
        return super().get_command(ctx, name)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except InitBoundsError as e:
            if _state["debug"]:
                raise
            name = ctx.invoked_subcommand
            click.echo(f"Error: {spell_error(e, self.get_command(ctx, name) if name else None)}", err=True)
            ctx.exit(2)

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        try:
            rv = super().main(args=args, prog_name=prog_name, complete_var=complete_var,
                              standalone_mode=False, **extra)
        except Exit as e:
            sys.exit(e.exit_code)
        except Abort:
            click.echo("Aborted.", err=True)
            sys.exit(130)
        except click.exceptions.UsageError as e:
            name = e.param.opts[0] if getattr(e, "param", None) is not None and e.param.opts else None
            msg = e.format_message().replace("\n", " ")
            if name and name not in msg:
                msg = f"{name}: {msg}"
            click.echo("Error: " + msg, err=True)
            sys.exit(2)
        if isinstance(rv, int):
            sys.exit(rv)
        sys.exit(0)


app = typer.Typer(
    cls=_Group,
    add_completion=False,
    no_args_is_help=True,
    help="Finite-width guarantees for deep ReLU network initialization: derived and checked.",
    pretty_exceptions_enable=False,
)


def _version(value: bool):
    if value:
        click.echo(f"initbounds {__version__}")
        raise Exit(0)


@app.callback()
def _main(debug: bool = typer.Option(False, "--debug", help="Show tracebacks on errors."),
          version: bool = typer.Option(False, "--version", help="Print the version and exit.", callback=_version,
                                       is_eager=True)):
    _state["debug"] = debug


app.add_typer(derive.app, name="derive")


def main() -> None:
    """Console entry point."""
    app()


if __name__ == "__main__":
    main()
