"""STYLE.md: `bounds` never imports torch, rich or typer, not even inside a function at import."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_SCRIPT = textwrap.dedent("""
    import importlib, pkgutil, sys
    import bounds
    names = ["bounds"]
    for info in pkgutil.walk_packages(bounds.__path__, prefix="bounds."):
        importlib.import_module(info.name)
        names.append(info.name)
    print(",".join(names))
    print(",".join(sorted(m for m in ("torch", "rich", "typer") if m in sys.modules)))
""")


def test_bounds_imports_neither_torch_nor_rich_nor_typer():
    # a fresh interpreter: this test process may already hold torch from other test files
    proc = subprocess.run([sys.executable, "-c", _SCRIPT], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    imported, forbidden = proc.stdout.splitlines()[-2:]
    modules = imported.split(",")
    # the walk really visited the package (names checked against the files on disk)
    on_disk = {f"bounds.{p.stem}" for p in (ROOT / "bounds").glob("*.py") if p.stem != "__init__"}
    assert on_disk <= set(modules), on_disk - set(modules)
    assert forbidden == "", f"bounds pulled in: {forbidden}"
