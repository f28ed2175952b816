"""CPU engines for folders written by `spire export`: low-bit weights, same prompts, same answers.

An exported folder holds `spire_export.json` (`ExportManifest`), the model's config.json (with
its `config.spire` unit metadata), tokenizer and chat template, `extractor/`, and the engine's
files. `load_engine(folder)` returns an engine whose `generate(tokenizer, prompts, settings)`
keeps the contract of `spire.inference.generation.generate_transformers`;
`SpireModel.from_pretrained(folder)` uses it by itself.

>>> from spire.inference.engines import is_export
>>> is_export("/nonexistent")
False
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from spire.inference.engines.manifest import (
    BACKENDS,
    EXPORT_MANIFEST,
    QUANTS,
    EngineError,
    ExportManifest,
    is_export,
)

__all__ = [
    "BACKENDS",
    "EXPORT_MANIFEST",
    "QUANTS",
    "EngineError",
    "ExportManifest",
    "is_export",
    "load_engine",
]


def load_engine(
    folder: str | Path, *, device: str = "cpu", threads: int = 0, backend: str | None = None
) -> Any:
    """The engine named by `folder/spire_export.json`, ready to generate.

    `threads` is the engine's intra-op thread count (0 = the engine's default). `backend`, when
    given, must be the engine's own name or "transformers" (the default of `SpireModel`, taken
    to mean "the folder's engine"): an exported folder has no transformers weights.

    >>> engine = load_engine("exports/it-int8")                            # doctest: +SKIP
    >>> engine.backend                                                     # doctest: +SKIP
    'ctranslate2'
    """
    folder = Path(folder)
    manifest = ExportManifest.read(folder)
    if backend not in (None, "transformers", manifest.backend):
        raise EngineError(
            f"backend must be {manifest.backend!r} for the exported folder {folder}, but is "
            f"{backend!r}; fix: leave the backend at its default, or pass the original model folder"
        )
    engine_path = folder / manifest.engine_path
    if not engine_path.exists():
        raise EngineError(
            f"the engine files {engine_path} named by {folder / EXPORT_MANIFEST} must exist, but "
            "do not; fix: re-export the model with `spire export` (the folder is incomplete)"
        )
    if manifest.format == "ct2":
        from spire.inference.engines.ct2 import CT2Engine

        return CT2Engine(engine_path, device=device, threads=threads)
    raise EngineError(f"format {manifest.format!r} has no engine")  # unreachable: validated
