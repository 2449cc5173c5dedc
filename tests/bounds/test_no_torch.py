"""STYLE.md: `bounds` never imports torch, rich or typer, not even inside a function at import."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_SCRIPT = textwrap.dedent("""
    import importlib, pkgutil, sys
    import initbounds, initbounds.bounds
    names = ["initbounds.bounds"]
    for info in pkgutil.walk_packages(initbounds.bounds.__path__, prefix="initbounds.bounds."):
        importlib.import_module(info.name)
        names.append(info.name)
    print(",".join(names))
    print(",".join(sorted(m for m in ("torch", "rich", "typer") if m in sys.modules)))
""")


def test_bounds_imports_neither_torch_nor_rich_nor_typer(tmp_path):
    # a fresh interpreter (this test process may already hold torch from other test files), run
    # from an empty folder so that only the installed package can answer `import initbounds`
    proc = subprocess.run([sys.executable, "-c", _SCRIPT], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    imported, forbidden = proc.stdout.splitlines()[-2:]
    modules = imported.split(",")
    # the walk really visited the package (names checked against the files on disk)
    on_disk = {f"initbounds.bounds.{p.stem}" for p in (ROOT / "bounds").glob("*.py") if p.stem != "__init__"}
    assert on_disk <= set(modules), on_disk - set(modules)
    assert forbidden == "", f"bounds pulled in: {forbidden}"


def test_bounds_never_imports_torch_rich_typer():
    code = ("import importlib, pkgutil, sys, initbounds.bounds as bounds\n"
            "for m in pkgutil.walk_packages(bounds.__path__, 'initbounds.bounds.'):\n"
            "    importlib.import_module(m.name)\n"
            "from initbounds.bounds.width import derive_width; derive_width().to_text()\n"
            "print(sorted(n for n in ('torch', 'rich', 'typer') if n in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
