"""Run the notebooks top to bottom on a `spire demo` output and store them with their outputs.

    python notebooks/execute.py                  # on demo_out/ (after `make demo`), as `make notebooks`
    python notebooks/execute.py --demo my_out/   # another demo folder

Each notebook runs in a fresh kernel started in `notebooks/` (where Jupyter starts it), so the
stored outputs are what a reader gets by running it. Every code cell records the SHA-256 of the
source it ran (`metadata.spire.source_sha256`): `tests/test_notebooks.py` refuses a notebook whose
outputs no longer belong to its code. A cell that raises stops the run and nothing is written
(exit 1), so a stored notebook never shows an error.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def source_sha256(source: str) -> str:
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


def execute(path: Path, demo: Path, timeout_s: int) -> None:
    import nbformat
    from nbclient import NotebookClient

    book = nbformat.read(path, as_version=4)
    os.environ["SPIRE_DEMO_DIR"] = os.path.relpath(os.path.abspath(demo), HERE)
    NotebookClient(book, timeout=timeout_s, kernel_name="python3",
                   resources={"metadata": {"path": str(HERE)}}).execute()
    for cell in book.cells:
        if cell.cell_type == "code":
            cell.metadata["spire"] = {"source_sha256": source_sha256(cell.source)}
    nbformat.validate(book)
    tmp = path.with_suffix(".ipynb.tmp")
    nbformat.write(book, tmp)
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--demo", type=Path, default=HERE.parent / "demo_out", help="a `spire demo` output folder")
    parser.add_argument("--timeout-s", type=int, default=600, help="per cell")
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every notebooks/*.ipynb")
    args = parser.parse_args(argv)
    if not (args.demo / "report.json").is_file():
        print(f"error: --demo must be a finished `spire demo` output (with report.json), but {args.demo} "
              "has none; fix: run `make demo` first or pass --demo", file=sys.stderr)
        return 2
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ["TQDM_DISABLE"] = "1"  # the kernel's: progress bars would fill the stored outputs
    os.environ["PYTHONWARNINGS"] = "ignore:IProgress not found"  # tqdm.auto without ipywidgets
    for path in args.notebooks or sorted(HERE.glob("*.ipynb")):
        print(f"running {path.name} on {args.demo}", file=sys.stderr)
        try:
            execute(path, args.demo, args.timeout_s)
        except Exception as error:  # noqa: BLE001 - nbclient raises CellExecutionError and kernel errors
            print(f"error: {path.name} failed, left as it was: {error}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
