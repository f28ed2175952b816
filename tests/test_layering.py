"""The layering rule: `units` never imports `spire`; `spire --help` imports nothing heavy."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_units_never_imports_spire():
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "units").rglob("*.py")
        if any(name == "spire" or name.startswith("spire.") for name in _imported_modules(path))
    ]
    assert offenders == []


def test_cli_help_is_light():
    code = (
        "import sys; from spire.cli import build_parser; build_parser().format_help(); "
        "heavy = [m for m in ('torch', 'transformers', 'datasets', 'faiss') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_import_units_is_light():
    code = "import sys, units; print(','.join(m for m in ('torch', 'transformers') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
