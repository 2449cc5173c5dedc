"""The documentation stays true to the code.

* ``docs/derivations/<topic>.md`` is byte for byte what ``initbounds derive <topic> --format
  markdown`` prints today (the files are generated, never edited by hand);
* ``docs/theory.md`` has its numbered sections (:data:`SECTIONS`), so "docs/theory.md §k" citations are stable;
* every "docs/theory.md §k" cited in code or docs names one of those sections, and every cited
  ``docs/derivations/<topic>.md`` exists.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer.main
from typer.testing import CliRunner

from initbounds.cli import app

ROOT = Path(__file__).resolve().parents[1]
THEORY = ROOT / "docs" / "theory.md"
DERIVATIONS = ROOT / "docs" / "derivations"

#: The topics of `initbounds derive`, one generated Markdown file each.
TOPICS = ("width", "gradient", "moment", "death", "variance", "resnet", "regions", "certify", "sphere", "wnorm",
          "refine", "noise")

#: The numbered sections of docs/theory.md, exactly as other files cite them.
SECTIONS = {
    1: "Conventions",
    2: "The one-layer law",
    3: "Width (AB19)",
    4: "Fractional moments (GH21)",
    5: "Neuron death (RR20)",
    6: "Length variance and Jacobians (HR18, H18)",
    7: "Residual networks (HR18)",
    8: "Activation regions (HR19)",
    9: "Exact reduced samplers",
    10: "Certified width for a data set",
    11: "Infinitely many inputs (AB19)",
    12: "Weight-normalized networks (AB19 v1)",
    13: "Iterative refinement in residual networks (J18)",
    14: "SGD noise, curvature and the break-even point (J17, J20)",
    15: "Auditing a PyTorch model",
    16: "Phase diagrams and distributed runs",
    17: "Sources",
}

#: Where citations are looked for: these folders (recursively) and the root's own .py/.md files.
CITING_DIRS = ("bounds", "sim", "commands", "docs")

# "docs/theory.md §3", "docs/theory.md §2, §5", "docs/theory.md §6 and §7"
_THEORY_CITE = re.compile(r"docs/theory\.md((?:(?:\s*[,;/&–-]\s*|\s+and\s+|\s*)§\s*\d+)+)")
_SECTION_NUMBER = re.compile(r"§\s*(\d+)")
_DERIVATION_CITE = re.compile(r"docs/derivations/([A-Za-z0-9_.-]+?)\.md")


def _regenerate(topic: str) -> str:
    return f"regenerate it with: initbounds derive {topic} --format markdown > docs/derivations/{topic}.md"


@pytest.mark.parametrize("topic", TOPICS)
def test_derivation_file_matches_derive_output(topic):
    path = DERIVATIONS / f"{topic}.md"
    assert path.is_file(), f"docs/derivations/{topic}.md is missing; {_regenerate(topic)}"
    result = CliRunner().invoke(app, ["derive", topic, "--format", "markdown"])
    assert result.exit_code == 0, f"initbounds derive {topic} failed (exit {result.exit_code}): {result.output}"
    assert result.stdout_bytes, f"initbounds derive {topic} printed nothing to stdout"
    assert result.stdout_bytes == path.read_bytes(), (
        f"docs/derivations/{topic}.md is not the current output of the derive command; {_regenerate(topic)}")


def test_every_derive_topic_has_a_file_and_no_file_is_stale():
    group = typer.main.get_command(app)
    cli_topics = set(group.commands["derive"].commands)
    assert cli_topics == set(TOPICS), (
        f"`initbounds derive` offers {sorted(cli_topics)} but tests/test_docs.py knows {sorted(TOPICS)}: "
        "update TOPICS and generate the new files")
    on_disk = {p.stem for p in DERIVATIONS.glob("*.md")}
    assert on_disk == set(TOPICS), f"docs/derivations/ holds {sorted(on_disk)}; expected {sorted(TOPICS)}"


def _theory_headings() -> list:
    return re.findall(r"^## §(\d+) (.+?)\s*$", THEORY.read_text(encoding="utf-8"), flags=re.MULTILINE)


def test_theory_has_the_numbered_sections_in_order():
    found = [(int(k), title) for k, title in _theory_headings()]
    assert found == list(SECTIONS.items()), (
        f"docs/theory.md must have exactly the headings "
        f"{['## §%d %s' % kv for kv in SECTIONS.items()]}; found {['## §%d %s' % kv for kv in found]}")


def _citing_files() -> list:
    files = [p for p in ROOT.iterdir() if p.is_file() and p.suffix in (".py", ".md")]
    for d in CITING_DIRS:
        if (ROOT / d).is_dir():
            files += [p for p in (ROOT / d).rglob("*") if p.is_file() and p.suffix in (".py", ".md")]
    return sorted(files)


def _citations() -> tuple:
    sections, derivations = [], []
    for path in _citing_files():
        text = path.read_text(encoding="utf-8")
        rel = path.relative_to(ROOT).as_posix()
        for m in _THEORY_CITE.finditer(text):
            line = text.count("\n", 0, m.start()) + 1
            sections += [(f"{rel}:{line}", int(k)) for k in _SECTION_NUMBER.findall(m.group(1))]
        for m in _DERIVATION_CITE.finditer(text):
            line = text.count("\n", 0, m.start()) + 1
            derivations.append((f"{rel}:{line}", m.group(1)))
    return sections, derivations


def test_theory_citations_name_existing_sections():
    existing = {int(k) for k, _ in _theory_headings()}
    sections, _ = _citations()
    assert sections, "no 'docs/theory.md §k' citation found anywhere: the search pattern or the walk is broken"
    bad = [f"{where}: §{k}" for where, k in sections if k not in existing or not 1 <= k <= max(SECTIONS)]
    assert not bad, f"citations of docs/theory.md sections that do not exist (§1..§{max(SECTIONS)}): {bad}"


def test_cited_derivation_files_exist():
    _, derivations = _citations()
    assert derivations, "no 'docs/derivations/<topic>.md' citation found: the search pattern or the walk is broken"
    bad = [f"{where}: docs/derivations/{name}.md" for where, name in derivations
           if not (DERIVATIONS / f"{name}.md").is_file()]
    assert not bad, f"cited derivation files that do not exist: {bad}"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("see docs/theory.md §3.", [3]),
        ("(HR18; docs/theory.md §6, §7)", [6, 7]),
        ("docs/theory.md §2 and §9", [2, 9]),
        ("docs/theory.md §10", [10]),
        ("(RR20; docs/theory.md)", []),
    ],
)
def test_citation_pattern(text, expected):
    got = [int(k) for m in _THEORY_CITE.finditer(text) for k in _SECTION_NUMBER.findall(m.group(1))]
    assert got == expected
