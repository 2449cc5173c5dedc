"""Derivations: ordered steps, each a sentence, a sympy expression, assumptions and a source tag.

A :class:`Derivation` renders to the terminal (unicode), LaTeX and Markdown. The expressions are
the objects the toolkit evaluates (``bounds.rho.*_EXPR`` and what sympy derives from them), never
strings typed by hand.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sy

__all__ = ["Step", "Derivation", "SOURCE_TAGS", "CITATIONS"]

#: Source tags (docs/theory.md §1): the paper's claim, the authors' public code, or our own derivation.
SOURCE_TAGS = ("paper", "authors' code", "derived")
CITATIONS = {
    "AB19": "Arpit & Bengio, arXiv 1901.03611",
    "GH21": "Gurbuzbalaban & Hu, arXiv 2005.11878",
    "HR18": "Hanin & Rolnick, arXiv 1803.01719",
    "H18": "Hanin, arXiv 1801.03744",
    "HR19": "Hanin & Rolnick, arXiv 1906.00904",
    "RR20": "Rister & Rubin, arXiv 2007.06192",
    "DS01": "Davidson & Szarek, Handbook of the Geometry of Banach Spaces I (2001), Thm II.13",
    "J18": "Jastrzębski et al., arXiv 1710.04773",
    "J17": "Jastrzębski et al., arXiv 1711.04623",
    "J20": "Jastrzębski et al., arXiv 2002.09572",
}


@dataclass(frozen=True)
class Step:
    """One step: our sentence, a sympy expression or equation, its assumptions, its source."""

    text: str
    expr: sy.Basic
    source: str = "derived"
    citation: str = "AB19"
    assumptions: tuple = field(default_factory=tuple)

    def __post_init__(self):
        if self.source not in SOURCE_TAGS:
            raise ValueError(f"source must be one of {SOURCE_TAGS}; got {self.source!r}")

    @property
    def tag(self) -> str:
        return f"[{self.source}; {self.citation}]"


@dataclass(frozen=True)
class Derivation:
    """An ordered list of :class:`Step`."""

    title: str
    steps: tuple

    def to_text(self) -> str:
        out = [self.title, "=" * len(self.title), ""]
        for i, s in enumerate(self.steps, 1):
            out.append(f"{i}. {s.text}  {s.tag}")
            pretty = sy.pretty(s.expr, use_unicode=True, wrap_line=False)
            out.extend("     " + line for line in pretty.splitlines())
            if s.assumptions:
                out.append("     assuming: " + "; ".join(s.assumptions))
            out.append("")
        return "\n".join(out)

    def to_latex(self) -> str:
        out = [r"\section*{" + self.title + "}", r"\begin{enumerate}"]
        for s in self.steps:
            out.append(r"\item " + s.text + r" \emph{" + s.tag + "}")
            out.append(r"\[ " + sy.latex(s.expr) + r" \]")
            if s.assumptions:
                out.append(r"Assuming: " + "; ".join(s.assumptions) + ".")
        out.append(r"\end{enumerate}")
        return "\n".join(out)

    def to_markdown(self) -> str:
        out = [f"# {self.title}", ""]
        for i, s in enumerate(self.steps, 1):
            out.append(f"{i}. {s.text} *{s.tag}*")
            out.append("")
            out.append(f"   $$ {sy.latex(s.expr)} $$")
            if s.assumptions:
                out.append("")
                out.append("   Assuming: " + "; ".join(s.assumptions) + ".")
            out.append("")
        return "\n".join(out)

    def render(self, fmt: str) -> str:
        """Render as ``text``, ``latex`` or ``markdown``."""
        if fmt == "text":
            return self.to_text()
        if fmt == "latex":
            return self.to_latex()
        if fmt == "markdown":
            return self.to_markdown()
        raise ValueError(f"format must be one of 'text', 'latex', 'markdown'; got {fmt!r}")
