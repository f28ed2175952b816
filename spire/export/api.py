"""`export_model`: an adapted model -> a self-contained folder a CPU engine runs.

The folder is built beside `out_dir` under a temporary name and renamed into place at the end,
so an interrupted export leaves no half-written folder that looks complete.

>>> result = export_model("runs/it", "exports/it-int8", quant="int8")  # doctest: +SKIP
>>> SpireModel.from_pretrained("exports/it-int8").transcribe("clip.wav").text  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import time
from pathlib import Path

from spire.export.errors import ExportError
from spire.export.folder import check_units, copy_extractor, copy_model_files, spire_section
from spire.inference.engines.manifest import QUANTS, ExportManifest, is_export

#: Formats this version cannot write, with what to use instead.
_UNSUPPORTED = {
    "gguf": "GGUF needs llama.cpp, whose Python package (llama-cpp-python) is a long source "
    "build and is not part of spire[cpu-infer]; fix: use format='ct2'",
}


@dataclasses.dataclass(frozen=True, kw_only=True)
class ExportResult:
    """What `export_model` wrote.

    >>> ExportResult(out_dir=Path("e"), manifest=None, num_units=5, seconds=1.0).num_units
    5
    """

    out_dir: Path
    """The exported folder."""
    manifest: ExportManifest | None
    """Its `spire_export.json` record."""
    num_units: int
    """Unit tokens checked to be single tokens in the exported tokenizer."""
    seconds: float
    """Wall time of the export."""


def export_model(
    model_dir: str | Path,
    out_dir: str | Path,
    *,
    format: str = "ct2",
    quant: str = "int8",
    extractor_dir: str | Path | None = None,
    overwrite: bool = False,
) -> ExportResult:
    """Write `model_dir` (a trained or extended model) into `out_dir` for a CPU engine.

    `format` is "ct2" (CTranslate2); `quant` one of `QUANTS[format]` ("int8", "int8_float32",
    "int16", "float32"). The extractor is `extractor_dir`, else `model_dir/extractor`.
    `overwrite` replaces an existing exported folder (never any other folder).

    >>> export_model("runs/it", "exports/it-int8")                       # doctest: +SKIP
    """
    start = time.perf_counter()
    model_dir, out_dir = Path(model_dir), Path(out_dir)
    _check_arguments(format, quant)
    _check_source(model_dir)
    meta = spire_section(model_dir)
    extractor = Path(extractor_dir) if extractor_dir is not None else model_dir / "extractor"
    if not (extractor / "extractor.json").is_file():
        raise ExportError(
            f"extractor_dir must be a saved unit extractor folder, but "
            f"{'none was given and ' + str(extractor) if extractor_dir is None else str(extractor)}"
            " holds no extractor.json; fix: pass the model's extractor folder "
            "(--extractor DIR on the command line)"
        )
    _check_target(out_dir, overwrite)

    work = out_dir.parent / f".{out_dir.name}.partial-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        manifest, checked = _write(model_dir, work, extractor, meta, format, quant)
        if out_dir.exists():
            shutil.rmtree(out_dir)  # an earlier export (checked above), replaced on request
        os.replace(work, out_dir)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return ExportResult(
        out_dir=out_dir, manifest=manifest, num_units=checked, seconds=time.perf_counter() - start
    )


def _write(model_dir, work, extractor, meta, format, quant) -> tuple[ExportManifest, int]:
    import json

    from transformers import AutoTokenizer

    from spire.export.ct2 import convert_ct2

    copy_model_files(model_dir, work)
    copy_extractor(extractor, work)
    tokenizer = AutoTokenizer.from_pretrained(str(work), local_files_only=True)
    engine_dir = work / "ct2"
    convert_ct2(model_dir, engine_dir, quant=quant, tokenizer_size=len(tokenizer))
    vocabulary = json.loads((engine_dir / "vocabulary.json").read_text(encoding="utf-8"))
    checked = check_units(tokenizer, meta, vocabulary)
    manifest = ExportManifest(
        format=format,
        quant=quant,
        engine_path="ct2",
        source_model=str(model_dir),
        num_parameters=_num_parameters(model_dir),
        engine_bytes=sum(p.stat().st_size for p in engine_dir.rglob("*") if p.is_file()),
        versions=_versions(),
    )
    manifest.write(work)  # written last: its presence marks a complete export
    return manifest, checked


def _check_arguments(format: str, quant: str) -> None:
    if format in _UNSUPPORTED:
        raise ExportError(f"format must be one of {sorted(QUANTS)}, but is {format!r}: "
                          + _UNSUPPORTED[format])
    if format not in QUANTS:
        raise ExportError(
            f"format must be one of {sorted(QUANTS)}, but is {format!r}; fix: pass format='ct2'"
        )
    if quant not in QUANTS[format]:
        hint = (
            " (CTranslate2 has no 4-bit weights on CPU)" if "4" in str(quant) else ""
        )
        raise ExportError(
            f"quant must be one of {QUANTS[format]} for format {format!r}, but is {quant!r}"
            f"{hint}; fix: pass quant='int8'"
        )


def _check_source(model_dir: Path) -> None:
    if is_export(model_dir):
        raise ExportError(
            f"model_dir must be a transformers model folder, but {model_dir} is already an "
            "exported folder; fix: export from the trained model folder instead"
        )
    weights = list(model_dir.glob("*.safetensors")) + list(model_dir.glob("pytorch_model*.bin"))
    if not (model_dir / "config.json").is_file() or not weights:
        raise ExportError(
            f"model_dir must be a saved model folder (config.json and weights), but {model_dir} "
            "is not; fix: pass the output folder of `spire train` or `spire extend`"
        )


def _check_target(out_dir: Path, overwrite: bool) -> None:
    if not out_dir.exists() or (out_dir.is_dir() and not any(out_dir.iterdir())):
        if out_dir.is_dir():
            out_dir.rmdir()  # an empty folder is taken as a place to write
        return
    if not is_export(out_dir):
        raise ExportError(
            f"out_dir must be a new folder, an empty one or an earlier export, but {out_dir} "
            "holds other files; fix: pass a new folder"
        )
    if not overwrite:
        raise ExportError(
            f"out_dir must not hold an export already unless overwrite is set, but {out_dir} "
            "does; fix: pass overwrite=True (--force) or a new folder"
        )


def _num_parameters(model_dir: Path) -> int:
    """Counted from the safetensors headers, without loading the weights."""
    from safetensors import safe_open

    total = 0
    for path in sorted(model_dir.glob("*.safetensors")):
        with safe_open(str(path), framework="numpy") as handle:
            for name in handle.keys():
                shape = handle.get_slice(name).get_shape()
                count = 1
                for size in shape:
                    count *= int(size)
                total += count
    return total


def _versions() -> dict[str, str]:
    import ctranslate2

    import spire

    return {"spire": spire.__version__, "ctranslate2": ctranslate2.__version__}
