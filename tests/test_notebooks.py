"""The notebooks run top to bottom on the quick demo's artifacts, and are committed without outputs."""

import os
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def test_the_three_notebooks_exist():
    assert [p.name[:2] for p in NOTEBOOKS] == ["01", "02", "03"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_committed_without_outputs(path):
    book = nbformat.read(path, as_version=4)
    nbformat.validate(book)
    for cell in book.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{path.name} has outputs; clear them"


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
