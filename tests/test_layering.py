"""The layering rules, checked on the source: `units` never imports `spire`; no import circles;
inside `spire`, the stages import only downwards; `spire --help` imports nothing heavy."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("units", "spire")

# Inside spire, a module may import only from its own level or below (lower number).
SPIRE_LEVELS = {
    "spire.errors": 0,
    "spire.config": 0,
    "spire.prompts": 1,
    "spire.vocab": 1,
    "spire.data": 2,
    "spire.training": 3,
    "spire.inference": 3,
    "spire.evaluation": 4,
    "spire.export": 4,
    "spire.rl": 4,
    "spire.testing": 5,
    "spire.mini": 6,
    "spire.commands": 7,
    "spire.cli": 7,
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Project modules imported anywhere in the file (inside functions too: a lazy import is
    still a dependency), resolved to modules (`from a import b` counts `a.b` if it is one)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name and target.split(".")[0] in PACKAGES:
                found.add(target)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    graph = {name: _imports(name, path, known) for name, path in modules.items()}
    # A package's __init__ that only re-exports lazily is not a dependency of its children.
    return {name: {t for t in deps if not name.startswith(t + ".")} for name, deps in graph.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(10000)
    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _level(name: str) -> int | None:
    for prefix in sorted(SPIRE_LEVELS, key=len, reverse=True):
        if name == prefix or name.startswith(prefix + "."):
            return SPIRE_LEVELS[prefix]
    return None


def test_units_never_imports_spire():
    offenders = [f"{a} -> {b}" for a, deps in _graph().items() if a.startswith("units") for b in deps if b.startswith("spire")]
    assert offenders == []


def test_no_import_circles():
    assert _cycles(_graph()) == []


def test_cycle_finder_finds_a_planted_circle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_spire_stages_import_only_downwards():
    offenders = []
    for name, deps in _graph().items():
        if not name.startswith("spire") or name == "spire":
            continue
        mine = _level(name)
        for dep in deps:
            theirs = _level(dep)
            if dep.startswith("spire") and mine is not None and theirs is not None and theirs > mine:
                offenders.append(f"{name} (level {mine}) -> {dep} (level {theirs})")
    assert offenders == []


def test_every_spire_module_has_a_level():
    unplaced = [n for n in _graph() if n.startswith("spire.") and _level(n) is None]
    assert unplaced == []


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
