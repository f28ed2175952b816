"""Streaming readers for the data builders: unit manifests, transcripts, parallel and plain text.

Everything is read lazily, row by row, so corpora larger than memory stream through:

>>> rows = read_records("labels/")            # the output folder of `spire units label`   # doctest: +SKIP
>>> next(iter(rows))["units"][:2]                                                           # doctest: +SKIP

Accepted inputs: a JSONL file (`.jsonl`, `.jsonl.gz`), an Arrow IPC stream (`.arrow`, what
`spire units label --format arrow` writes), a labeller's output folder (its shards, as
`units.corpus.results` lists them), another folder of JSONL/Arrow files (all, in name order),
a `datasets` folder saved with `save_to_disk`, and for plain text a `.txt` file (one document
per line).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spire.errors import ConfigError, DataError, VocabularyError
from spire.vocab.metadata import UnitVocab

__all__ = [
    "ParallelSource",
    "encode_batch",
    "SpeechSource",
    "TextSource",
    "read_records",
    "read_transcripts",
    "unit_text",
    "vocab_info",
]

_SUFFIXES = (".jsonl", ".jsonl.gz", ".json.gz", ".arrow", ".txt")


@dataclass(kw_only=True)
class SpeechSource:
    """Speech as units: the output of `spire units label` (or any manifest with ids and units)."""

    path: str
    """Unit manifest: JSONL(.gz)/Arrow file, folder of shards, or saved `datasets` folder."""
    transcripts: str | None = None
    """Optional JSONL (`id`, `text`) or TSV (`id<TAB>text`) of English transcripts joined by id;
    when unset, the transcript is the row's `transcript_field`."""
    transcript_field: str = "text"
    """Row field holding the English transcript."""
    units_field: str = "units"
    """Row field holding the units (a unit string, or a list of unit ids)."""
    id_field: str = "id"
    """Row field holding the example id (named in errors)."""


@dataclass(kw_only=True)
class ParallelSource:
    """Parallel text: rows holding a sentence and its translation."""

    path: str
    """JSONL(.gz)/Arrow file, folder of shards, or saved `datasets` folder."""
    source_lang: str
    """Language code (or name) of the source side, e.g. `en`."""
    target_lang: str
    """Language code (or name) of the target side, e.g. `de`."""
    source_field: str | None = None
    """Row field of the source text; default: the source language code."""
    target_field: str | None = None
    """Row field of the target text; default: the target language code."""
    id_field: str = "id"
    """Row field holding the example id (the row number when absent)."""


@dataclass(kw_only=True)
class TextSource:
    """Monolingual text: a `.txt` file (one document per line) or rows with a text field."""

    path: str
    """Text file, JSONL(.gz)/Arrow file, folder of shards, or saved `datasets` folder."""
    text_field: str = "text"
    """Row field holding the text (ignored for `.txt`)."""


def _shard_files(folder: Path) -> list[Path]:
    from units.corpus.results import is_labelled, labelled_files

    if is_labelled(folder):
        return labelled_files(folder)
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.name.endswith(_SUFFIXES))
    return [p for p in files if not p.name.startswith(("rejects", "summary"))]


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """Rows of a JSONL(.gz) file; a line that is not a JSON object is a DataError naming it."""
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                raise DataError(
                    f"{path}:{number} must be a JSON object, but does not parse: {error}"
                ) from error
            if not isinstance(row, dict):
                raise DataError(
                    f"{path}:{number} must be a JSON object, but is {type(row).__name__}"
                )
            yield row


def _read_arrow(path: Path) -> Iterator[dict[str, Any]]:
    import pyarrow as pa

    with pa.memory_map(str(path)) as source:
        try:
            reader = pa.ipc.open_stream(source)
        except pa.ArrowInvalid:
            source.seek(0)
            reader = pa.ipc.open_file(source)
            for index in range(reader.num_record_batches):
                yield from reader.get_batch(index).to_pylist()
            return
        for batch in reader:
            yield from batch.to_pylist()


def _read_text(path: Path) -> Iterator[dict[str, Any]]:
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle):
            yield {"id": f"{path.name}:{number + 1}", "text": line.rstrip("\n")}


def read_records(path: str | Path) -> Iterator[dict[str, Any]]:
    """Rows of a manifest, lazily, in file order (see the module docstring for formats)."""
    path = Path(path)
    if path.is_dir():
        if (path / "state.json").is_file() or (path / "dataset_dict.json").is_file():
            yield from _read_saved_dataset(path)
            return
        files = _shard_files(path)
        if not files:
            raise DataError(f"{path} must hold JSONL, Arrow or text shards, but holds none")
        for file in files:
            yield from read_records(file)
        return
    if not path.is_file():
        raise DataError(
            f"{path} must be an existing file or folder, but does not exist; fix: check the path"
        )
    if path.name.endswith((".jsonl", ".jsonl.gz", ".json.gz")):
        yield from read_jsonl(path)
    elif path.suffix == ".arrow":
        yield from _read_arrow(path)
    elif path.suffix == ".txt":
        yield from _read_text(path)
    else:
        raise DataError(f"{path} must end in .jsonl, .jsonl.gz, .arrow or .txt, but does not")


def _read_saved_dataset(path: Path) -> Iterator[dict[str, Any]]:
    from datasets import DatasetDict, load_from_disk

    dataset = load_from_disk(str(path))
    splits = list(dataset.values()) if isinstance(dataset, DatasetDict) else [dataset]
    for split in splits:
        # Audio bytes are not needed here; skip decoding and leave them out.
        columns = [c for c in split.column_names if c != "audio"]
        yield from split.select_columns(columns).to_iterable_dataset()


def read_transcripts(path: str | Path) -> dict[str, str]:
    """id -> transcript from a JSONL (`id`, `text`) or TSV (`id<TAB>text`) file.

    Transcripts are small next to their units, so they are held in memory for the join.
    """
    path = Path(path)
    if path.suffix == ".tsv":
        table = {}
        with open(path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                key, sep, text = line.rstrip("\n").partition("\t")
                if not sep:
                    raise DataError(f"{path}:{number} must be 'id<TAB>text', but has no tab")
                table[key] = text
        return table
    return {str(row["id"]): str(row.get("text", "")) for row in read_records(path)}


#: The unit vocabulary of an extended model: `spire.vocab.metadata.UnitVocab` under its old name.
VocabInfo = UnitVocab


def vocab_info(model_dir: str | Path) -> UnitVocab:
    """The `UnitVocab` of an extended model folder (`UnitVocab.load`); ConfigError naming
    `tokenizer` (the data config's key) when the folder has no unit tokens.

    >>> vocab_info("runs/extended").first_unit_id                          # doctest: +SKIP
    32005
    """
    try:
        return UnitVocab.load(model_dir)
    except VocabularyError as error:
        raise ConfigError("tokenizer", f"must be an extended model folder, but: {error}") from error


def unit_text(value: Any, *, num_units: int, unit_format: str, example_id: str) -> str:
    """The unit string of one example, checked against the extended vocabulary.

    `value` is a unit string or a sequence of unit ids. A character (or id) outside the
    vocabulary raises DataError naming the example.
    """
    from units.encoding import ids_to_text, text_to_ids
    from units.errors import UnitsError

    try:
        if isinstance(value, str):
            text_to_ids(value, unit_format, num_units, allow_whitespace=False)
            return value
        if isinstance(value, Sequence) and not isinstance(value, (bytes, Mapping)):
            ids = [int(i) for i in value]
            if any(i < 0 or i >= num_units for i in ids):
                bad = next(i for i in ids if i < 0 or i >= num_units)
                raise DataError(
                    f"example {example_id!r}: unit ids must be in 0..{num_units - 1}, but one is {bad}; "
                    "fix: label with the k-means model the vocabulary was extended for"
                )
            return ids_to_text(ids, unit_format)
    except UnitsError as error:
        raise DataError(
            f"example {example_id!r}: units must be {unit_format} characters of the extended vocabulary "
            f"({num_units} units), but are not: {error}"
        ) from error
    raise DataError(
        f"example {example_id!r}: units must be a string or a list of ids, but are {type(value).__name__}"
    )


def encode_batch(texts: list[str], tokenizer: Any) -> list[tuple[list[int], list[tuple[int, int]]]]:
    """(ids, character offsets) of each text, with the tokenizer's own specials (e.g. BOS).

    Goes straight to the Rust tokenizer of a fast tokenizer (same ids as `tokenizer(text)`,
    without transformers' per-example conversion cost); other tokenizers take the usual path.
    """
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        return [(e.ids, e.offsets) for e in backend.encode_batch(texts, add_special_tokens=True)]
    encoded = tokenizer(texts, add_special_tokens=True, return_offsets_mapping=True)
    return list(zip(encoded["input_ids"], encoded["offset_mapping"]))
