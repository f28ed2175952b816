"""`ExportManifest`: what `spire export` wrote into a folder, read back by the engines.

An exported folder is recognised by its `spire_export.json`; it names the engine format, the
quantisation, where the engine's files are (relative to the folder) and what it was made from.

>>> m = ExportManifest(format="ct2", quant="int8", engine_path="ct2", source_model="runs/it")
>>> ExportManifest.from_dict(m.to_dict()) == m
True
>>> m.backend
'ctranslate2'
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from spire.errors import SpireError

#: The file that marks a folder written by `spire export`.
EXPORT_MANIFEST = "spire_export.json"

#: Engine format -> the quantisations it can write and run on a CPU (first = the default).
#: CTranslate2 has no 4-bit weights on CPU (its int4 path is AWQ on CUDA only).
QUANTS: dict[str, tuple[str, ...]] = {
    "ct2": ("int8", "int8_float32", "int16", "float32"),
}

#: Engine format -> the generation backend name recorded in `DecodingSettings.backend`.
BACKENDS: dict[str, str] = {"ct2": "ctranslate2"}

_VERSION = 1


class EngineError(SpireError):
    """An exported folder that cannot be read, or an engine that is not installed."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class ExportManifest:
    """The record `spire export` writes as `spire_export.json`.

    >>> ExportManifest(format="ct2", quant="int8", engine_path="ct2", source_model="m").quant
    'int8'
    """

    format: str
    """Engine format: "ct2" (CTranslate2)."""
    quant: str
    """Weight quantisation, e.g. "int8" (one of `QUANTS[format]`)."""
    engine_path: str
    """The engine's files, relative to the exported folder."""
    source_model: str
    """The model folder it was exported from (as given)."""
    num_parameters: int = 0
    """Parameters of the source model."""
    engine_bytes: int = 0
    """Size of the engine's files on disk."""
    versions: dict[str, str] = dataclasses.field(default_factory=dict)
    """Versions of spire and of the engine package that wrote it."""
    version: int = _VERSION
    """Layout version of this record."""

    def __post_init__(self) -> None:
        if self.format not in QUANTS:
            raise EngineError(
                f"{EXPORT_MANIFEST}: format must be one of {sorted(QUANTS)}, but is "
                f"{self.format!r}; fix: re-export the model with `spire export`"
            )
        if self.quant not in QUANTS[self.format]:
            raise EngineError(
                f"{EXPORT_MANIFEST}: quant must be one of {QUANTS[self.format]} for format "
                f"{self.format!r}, but is {self.quant!r}; fix: re-export with `spire export`"
            )
        if Path(self.engine_path).is_absolute() or ".." in Path(self.engine_path).parts:
            raise EngineError(
                f"{EXPORT_MANIFEST}: engine_path must be a path inside the folder, but is "
                f"{self.engine_path!r}; fix: re-export with `spire export`"
            )

    @property
    def backend(self) -> str:
        """The backend name generation records for this engine ("ctranslate2")."""
        return BACKENDS[self.format]

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready record."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> ExportManifest:
        """Parse a record; EngineError naming the file when it is malformed."""
        fields = {f.name for f in dataclasses.fields(cls)}
        if not isinstance(data, dict) or not {"format", "quant", "engine_path"} <= set(data):
            raise EngineError(
                f"{EXPORT_MANIFEST} must be an object with format, quant and engine_path, but "
                f"is {str(data)[:80]!r}; fix: re-export the model with `spire export`"
            )
        if int(data.get("version", _VERSION)) > _VERSION:
            raise EngineError(
                f"{EXPORT_MANIFEST}: version must be at most {_VERSION}, but is "
                f"{data['version']}; fix: update spire"
            )
        values = {k: v for k, v in data.items() if k in fields}
        values.setdefault("source_model", "")
        return cls(**values)

    @classmethod
    def read(cls, folder: str | Path) -> ExportManifest:
        """The manifest of an exported folder."""
        path = Path(folder) / EXPORT_MANIFEST
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise EngineError(
                f"{path} must be a readable JSON file, but reading it failed "
                f"({error.__class__.__name__}: {error}); fix: re-export with `spire export`"
            ) from error
        return cls.from_dict(data)

    def write(self, folder: str | Path) -> Path:
        """Write `folder/spire_export.json` atomically; returns its path."""
        from units.files import write_json

        path = Path(folder) / EXPORT_MANIFEST
        write_json(path, self.to_dict())
        return path


def is_export(folder: str | Path) -> bool:
    """True when `folder` was written by `spire export` (it holds `spire_export.json`).

    >>> is_export("/nonexistent")
    False
    """
    return (Path(folder) / EXPORT_MANIFEST).is_file()
