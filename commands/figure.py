"""`initbounds figure`: reproduce a paper's figures, theory curves over simulated data."""
from __future__ import annotations

from typing import Optional

import typer

from ..bounds.errors import NONNEGATIVE_INT, Integral, Interval, Options, Real
from ._options import PLOT_SUFFIXES, OutDir, command, option
from ._render import console, progress

__all__ = ["figure", "figures", "COMMANDS"]

#: The figures this command reproduces.
FIGURES = Options(("gh21", "regions"))
#: The file formats: the one extension rule of every --plot (PLOT_SUFFIXES), without the dot.
FORMATS = Options(tuple(s.lstrip(".") for s in PLOT_SUFFIXES))


@command()
def figure(
    which: str = typer.Argument(..., help="Which figures: gh21, regions."),
    out: str = option("figures", help="Output directory ({range}).", constraint=OutDir()),
    seed: int = option(0, help="Seed of the simulations ({range}).", constraint=NONNEGATIVE_INT),
    trials: Optional[int] = option(None, help="Simulated networks per panel or point ({range}; default 20000 for "
                                              "gh21, 400 for regions).",
                                   constraint=Interval(Integral, 100, None, closed="left")),
    fmt: str = option("png", flag="--format", help="Format of every file written: {range}.",
                      constraint=FORMATS),
):
    """Reproduce a paper's figures, theory curves over simulated data (PNG, SVG or PDF files)."""
    FIGURES.validate("FIGURE", which)
    if which == "regions":
        from ..sim.regions import figures_regions

        paths = figures_regions(out, seed=seed, trials=trials or 400, fmt=fmt)
    else:
        from ..sim.moments import figures_gh21

        paths = figures_gh21(out, seed=seed, trials=trials or 20000, fmt=fmt)
    c = console()
    for p in paths:
        c.print(f"wrote {p}")


@command()
def figures(
    out: str = option("docs/figures", help="Output directory ({range}).", constraint=OutDir()),
    seed: int = option(0, help="Seed of every simulation ({range}).", constraint=NONNEGATIVE_INT),
    scale: float = option(1.0, help="Multiplier of every simulation's size ({range}; 1 = the README's figures).",
                          constraint=Interval(Real, 0, 1, closed="right")),
    fmt: str = option("png", flag="--format", help="Format of every file written: {range}.", constraint=FORMATS),
):
    """Regenerate every figure the README shows (and docs/figures.md lists), from fixed seeds."""
    from ..sim.gallery import build_gallery

    with progress(disable=False) as bar:
        task = bar.add_task("figure groups", total=6)
        paths = build_gallery(out, seed=seed, scale=scale, fmt=fmt,
                              progress=lambda done, total: bar.update(task, completed=done, total=total))
    c = console()
    for p in paths:
        c.print(f"wrote {p}")


COMMANDS = (figure, figures)
