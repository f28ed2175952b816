"""Finding the saved model a path names, so a stage folder works where its model folder does.

>>> import tempfile
>>> try:
...     model_folder(tempfile.mkdtemp())
... except SpireError as error:
...     "demo_out/it/model" in str(error)
True
"""

from __future__ import annotations

from pathlib import Path

from spire.errors import SpireError

__all__ = ["model_folder"]


def model_folder(path: str | Path) -> Path:
    """The saved model `path` names: the folder itself (with config.json), or the one `model/`
    inside a stage folder (`spire demo`'s `demo_out/it` holds `demo_out/it/model`); otherwise a
    SpireError naming the model folders found below it.

    >>> model_folder("demo_out/it")                                          # doctest: +SKIP
    PosixPath('demo_out/it/model')
    """
    folder = Path(path)
    if (folder / "config.json").is_file():
        return folder
    if (folder / "model" / "config.json").is_file():
        return folder / "model"
    found = sorted(p.parent for p in folder.glob("*/config.json")) if folder.is_dir() else []
    found += sorted(p.parent for p in folder.glob("*/*/config.json")) if folder.is_dir() else []
    hint = (f"pass one of the model folders in it: {', '.join(str(p) for p in found[:5])}" if found
            else "pass the output folder of `spire extend` or `spire train` (for `spire demo`: "
                 "demo_out/it/model)")
    raise SpireError(
        f"model_dir must be a folder holding a saved model (config.json), but {folder} "
        f"{'is not' if folder.is_dir() else 'does not exist'}; fix: {hint}"
    )
