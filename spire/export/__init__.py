"""Exporting an adapted model for CPU engines: `spire export` / `export_model`.

The written folder runs with `SpireModel.from_pretrained(folder)` (or `spire transcribe
--model folder`) through the engine, with the same prompts and decoding settings.

>>> from spire.export import QUANTS
>>> QUANTS["ct2"][0]
'int8'
"""

from __future__ import annotations

from units._lazy import lazy_getattr

_EXPORTS = {
    "export_model": "spire.export.api",
    "ExportResult": "spire.export.api",
    "ExportError": "spire.export.errors",
    "QUANTS": "spire.inference.engines.manifest",
    "ExportManifest": "spire.inference.engines.manifest",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_getattr(__name__, _EXPORTS)
