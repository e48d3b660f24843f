"""The layers hold: core is plain Python (no dagster), its packages import only downward in
the order of the graph, and nothing in core reaches up into defs or the CLI."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "distill_assets"
CORE = ROOT / "core"
# The graph's order: a package may import itself and the ones before it, never after.
ORDER = ("common", "regions", "data", "teacher", "dataset", "student", "evaluation")


def _imports(path: Path) -> list[str]:
    """Every absolute module imported anywhere in the file (function-level imports too)."""
    tree = ast.parse(path.read_text("utf-8"))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
            names += [f"{node.module}.{a.name}" for a in node.names]
    return names


def _core_files() -> list[Path]:
    files = sorted(CORE.rglob("*.py"))
    assert len(files) >= 30, "expected the core packages to be found"
    return files


def test_core_packages_are_exactly_the_graph_stages():
    packages = sorted(p.name for p in CORE.iterdir() if p.is_dir() and p.name != "__pycache__")
    assert packages == sorted(ORDER)
    assert [p.name for p in CORE.glob("*.py")] == ["__init__.py"], "core modules live in packages"


def test_core_modules_never_import_dagster():
    offenders = [
        str(f)
        for f in _core_files()
        if {m.split(".")[0] for m in _imports(f)} & {"dagster", "dagster_k8s", "dagster_pipes"}
    ]
    assert offenders == []


def _upward_imports(files: list[Path], core: Path = CORE) -> list[str]:
    """One line per (module, package it must not import)."""
    offenders: set[str] = set()
    for f in files:
        own = f.relative_to(core).parts[0]
        for module in _imports(f):
            parts = module.split(".")
            if parts[:2] == ["distill_assets", "core"] and len(parts) > 2 and parts[2] in ORDER:
                if ORDER.index(parts[2]) > ORDER.index(own):
                    offenders.add(f"{f.relative_to(core)} imports {'.'.join(parts[:3])}")
            elif parts[0] == "distill_assets" and len(parts) > 1 and parts[1] in ("defs", "cli"):
                offenders.add(f"{f.relative_to(core)} imports {'.'.join(parts[:2])}")
    return sorted(offenders)


def test_core_packages_import_only_downward():
    assert _upward_imports(_core_files()) == []


def test_direction_check_catches_upward_and_layer_imports(tmp_path):
    """The rule can fail: a function-level upward import and a defs import are both reported."""
    core = tmp_path / "core"
    (core / "common").mkdir(parents=True)
    (core / "common" / "bad.py").write_text(
        "def f():\n    from distill_assets.core.student.training import train_lora\n"
    )
    (core / "teacher").mkdir()
    (core / "teacher" / "worse.py").write_text("import distill_assets.defs.assets\n")
    (core / "dataset").mkdir()
    (core / "dataset" / "fine.py").write_text("from distill_assets.core.teacher import answers\n")
    found = _upward_imports(sorted(core.rglob("*.py")), core)
    assert len(found) == 2
    assert "common/bad.py imports distill_assets.core.student" in found
    assert "teacher/worse.py imports distill_assets.defs" in found


def test_importing_core_does_not_load_dagster():
    modules = [
        "distill_assets.core." + ".".join(p.relative_to(CORE).with_suffix("").parts)
        for p in CORE.rglob("*.py")
        if p.stem != "__init__"
    ]
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}:\n"
        "    importlib.import_module(m)\n"
        "print('dagster' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False"
