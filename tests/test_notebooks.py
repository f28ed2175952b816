"""The notebooks run top to bottom on the quick demo's artifacts, and are stored with the outputs of a
real run of their code (`make notebooks` after `make demo`: notebooks/execute.py)."""

import os
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def test_the_three_notebooks_exist():
    assert [p.name[:2] for p in NOTEBOOKS] == ["01", "02", "03"]


def _stored_run_problems(book) -> list[str]:
    """Why `book` is not a notebook stored with the outputs of one top-to-bottom run of its code."""
    from importlib.util import module_from_spec, spec_from_file_location

    spec = spec_from_file_location("execute", NOTEBOOKS[0].parent / "execute.py")
    execute = module_from_spec(spec)
    spec.loader.exec_module(execute)
    problems, cells = [], [cell for cell in book.cells if cell.cell_type == "code"]
    if [cell.execution_count for cell in cells] != list(range(1, len(cells) + 1)):
        problems.append("execution counts are not 1..n: not one run from the top")
    for number, cell in enumerate(cells, 1):
        recorded = cell.metadata.get("spire", {}).get("source_sha256")
        if recorded != execute.source_sha256(cell.source):
            problems.append(f"cell {number}: its outputs are from other code (edited after the run)")
        if any(out.output_type == "error" for out in cell.outputs):
            problems.append(f"cell {number} shows an error")
        text = "".join(str(out.get("text", "")) + str(out.get("data", {}).get("text/plain", ""))
                       for out in cell.outputs)
        if "/work/" in text or "/home/" in text:
            problems.append(f"cell {number} shows a path of the machine it ran on")
    if sum(bool(cell.outputs) for cell in cells) < len(cells) // 2:
        problems.append("most code cells have no output")
    return problems


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_stored_with_the_outputs_of_a_run_of_its_code(path):
    book = nbformat.read(path, as_version=4)
    nbformat.validate(book)
    assert _stored_run_problems(book) == [], f"{path.name}: rerun `make notebooks` after `make demo`"


def test_a_stale_or_partial_notebook_is_refused():
    book = nbformat.read(NOTEBOOKS[-1], as_version=4)
    code = [cell for cell in book.cells if cell.cell_type == "code"]
    code[1].source += "\nprint('edited')"
    code[2].execution_count = 7
    problems = _stored_run_problems(book)
    assert any("cell 2: its outputs are from other code" in p for p in problems)
    assert any("execution counts" in p for p in problems)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
@pytest.mark.parametrize("start", ["root", "notebooks"])
def test_notebook_finds_the_demo_output_from_where_jupyter_starts(path, start, tmp_path, monkeypatch):
    (tmp_path / "demo_out").mkdir()
    (tmp_path / "demo_out" / "report.json").write_text("{}")
    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path if start == "root" else tmp_path / "notebooks")
    monkeypatch.delenv("SPIRE_DEMO_DIR", raising=False)
    first = next(cell for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "code")
    scope = {}
    exec(first.source, scope)
    assert scope["DEMO"].resolve() == (tmp_path / "demo_out").resolve()


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory):
    from spire.mini.config import DemoConfig
    from spire.mini.demo import run_demo

    # The same folder as tests/mini/test_demo.py: whichever runs first builds it, the other reuses it.
    out = tmp_path_factory.getbasetemp() / "quick_demo"
    run_demo(DemoConfig.quick(out_dir=str(out), progress=False))
    return out


@pytest.mark.integration
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom(path, demo_dir, tmp_path, monkeypatch):
    from nbclient import NotebookClient

    monkeypatch.setenv("SPIRE_DEMO_DIR", str(demo_dir))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("OMP_NUM_THREADS", os.environ.get("OMP_NUM_THREADS", "2"))
    book = nbformat.read(path, as_version=4)
    NotebookClient(book, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    errors = [out for cell in book.cells if cell.cell_type == "code" for out in cell.outputs
              if out.output_type == "error"]
    assert not errors
