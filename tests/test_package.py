"""The distribution: one import package `initbounds`, its curated lazy API, and the import direction
cli → commands → sim → bounds (issue 10: "one `initbounds` package")."""
from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_SKIP = shutil.ignore_patterns(".git", ".venv", "__pycache__", "*.egg-info", "build", "dist", ".pytest_cache",
                               ".hypothesis", ".ruff_cache", "figures", "out", "tests", "docs", "benchmarks")


def _run(code: str, cwd) -> str:
    out = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


@pytest.mark.slow
def test_wheel_holds_only_the_initbounds_package(tmp_path):
    """Built from a copy of the source tree (the build writes build/ and *.egg-info beside it)."""
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, ignore=_SKIP)
    out = subprocess.run([sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation",
                          "--no-index", "-q", "-w", str(tmp_path / "dist")], capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr
    (wheel,) = (tmp_path / "dist").glob("initbounds-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/", 1)[0] for n in names}
    dist_info = {t for t in top if t.endswith(".dist-info")}
    assert top - dist_info == {"initbounds"} and len(dist_info) == 1, sorted(top)
    for must in ("initbounds/__init__.py", "initbounds/__main__.py", "initbounds/cli.py", "initbounds/py.typed",
                 "initbounds/bounds/width.py", "initbounds/sim/core.py", "initbounds/commands/__init__.py"):
        assert must in names, must
    assert not any(n.startswith("initbounds/tests/") for n in names)
    (info,) = dist_info
    assert f"{info}/licenses/LICENSE" in names or any(n.endswith("LICENSE") for n in names)
    entry = zipfile.ZipFile(wheel).read(f"{info}/entry_points.txt").decode()
    assert "initbounds = initbounds.cli:main" in entry


def test_import_from_a_folder_with_its_own_sim_and_cli(tmp_path):
    """A user's own sim/ package and cli.py do not shadow ours (nothing is installed top-level)."""
    (tmp_path / "sim").mkdir()
    (tmp_path / "sim" / "__init__.py").write_text("MINE = True\n")
    (tmp_path / "sim" / "init.py").write_text("MINE = True\n")
    (tmp_path / "cli.py").write_text("MINE = True\n")
    (tmp_path / "bounds.py").write_text("MINE = True\n")
    code = ("import sim.init, cli, bounds\n"
            "from initbounds.sim.init import fractional_moment_normal_\n"
            "from initbounds.cli import app\n"
            "import initbounds.bounds.width as w\n"
            "assert sim.init.MINE and cli.MINE and bounds.MINE\n"
            "print(w.min_width('exact_union', 2, 1, 0.1, 0.5).min_width > 0, callable(fractional_moment_normal_))")
    assert _run(code, tmp_path) == "True True"


def test_import_initbounds_is_light_and_lazy(tmp_path):
    code = ("import sys, initbounds\n"
            "heavy = sorted(m for m in ('torch', 'rich', 'typer', 'sympy') if m in sys.modules)\n"
            "x = initbounds.liveness([4, 4, 4]).p_alive_point\n"
            "after = sorted(m for m in ('torch', 'rich', 'typer') if m in sys.modules)\n"
            "print(heavy, after, round(x, 6), initbounds.__version__)")
    assert _run(code, tmp_path) == "[] [] 0.823975 0.1.0"


def test_curated_api_names_resolve():
    import initbounds

    for name in initbounds.__all__:
        assert getattr(initbounds, name) is not None, name
    assert set(initbounds._API) <= set(dir(initbounds))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        initbounds.nope  # noqa: B018


def test_python_dash_m(tmp_path):
    out = subprocess.run([sys.executable, "-m", "initbounds", "--help"], cwd=tmp_path, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0 and "Usage:" in out.stdout and "validate" in out.stdout


# --- the direction of imports: cli → commands → sim → bounds, never backwards ------------------------
_LAYERS = {"bounds": 0, "sim": 1, "commands": 2, "cli": 3, "__main__": 4, "__init__": 4}


def _layer_of(module: str) -> str:
    return module.split(".", 2)[1] if module.startswith("initbounds.") else module


def _imports(path: Path, package: str) -> set:
    """Modules of this package imported anywhere in ``path`` (top level or inside functions)."""
    tree = ast.parse(path.read_text())
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            out.add(mod)
            out.update(f"{mod}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return {m for m in out if m.startswith("initbounds.")}


def _package_files():
    for layer in ("bounds", "sim", "commands"):
        for p in sorted((ROOT / layer).glob("*.py")):
            yield p, f"initbounds.{layer}"
    yield ROOT / "cli.py", "initbounds"


def test_imports_point_down_the_layers_only():
    bad = []
    for path, package in _package_files():
        me = _LAYERS[path.parent.name if path.parent != ROOT else path.stem]
        for mod in _imports(path, package):
            layer = _layer_of(mod)
            if layer in _LAYERS and _LAYERS[layer] > me:
                bad.append(f"{path.relative_to(ROOT)} imports {mod}")
    assert bad == []


def test_no_absolute_top_level_imports_of_our_folders():
    """Inside the package every import is relative or initbounds-qualified (never `import bounds`)."""
    bad = []
    for path, _ in _package_files():
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([node.module] if isinstance(node, ast.ImportFrom) and not node.level and node.module else
                     [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            bad += [f"{path.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0] in ("bounds", "sim", "cli",
                                                                                           "commands")]
    assert bad == []
