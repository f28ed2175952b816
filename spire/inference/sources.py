"""Where `spire transcribe` and `spire eval` read audio from, as rows with an id, audio and fields.

- a JSONL manifest (`audio` = a path relative to it, or absolute; other keys are fields);
- a fairseq TSV (root folder, then `path<TAB>num_samples`); a `.wrd` file beside it
  (one transcript per line, fairseq's) becomes the `text` field;
- a `datasets` folder saved with `save_to_disk` (`folder:split` or `split=` picks a split;
  default "test", or the only one);
- a Hugging Face audiofolder: a folder with `metadata.csv` or `metadata.jsonl` (a `file_name`
  column, relative to it), or one such folder per split;
- a folder of audio files (no fields: for transcription), or an in-memory `datasets.Dataset`.

Audio is never decoded on the `datasets` side: Audio columns are read as their stored bytes or
paths, and `units.load_audio` (soundfile) decodes them, so neither torchcodec nor FFmpeg is
needed. Rows the caller decoded already (`{"array", "sampling_rate"}` dicts or torchcodec
decoders) are passed on as they are.

>>> import tempfile, pathlib
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> _ = (root / "test.jsonl").write_text('{"audio": "a.wav", "text": "hi"}\\n')
>>> [(row.id, row.fields) for row in read_rows(root / "test.jsonl")]
[('0', {'text': 'hi'})]
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spire.errors import DataError

__all__ = [
    "METADATA_FILES",
    "AudioRow",
    "dataset_rows",
    "decoding_error",
    "is_dataset",
    "read_rows",
    "source_kind",
]

#: The metadata files that make a folder an audiofolder (as `datasets.load_dataset("audiofolder")`).
METADATA_FILES = ("metadata.jsonl", "metadata.csv")
_DEFAULT_AUDIO_COLUMNS = ("audio", "audio_filepath", "file_name", "path")


@dataclass(frozen=True)
class AudioRow:
    """One input: a stable id, an audio source `units.load_audio` reads, and the other columns.

    >>> AudioRow(id="a", audio="a.wav", fields={"text": "hi"}).fields["text"]
    'hi'
    """

    id: str
    audio: Any
    fields: dict[str, Any] = field(default_factory=dict)


def source_kind(path: str | Path) -> str:
    """"jsonl", "tsv", "dataset", "audiofolder", "folder" or "file" (an audio file).

    >>> import tempfile
    >>> source_kind(tempfile.mkdtemp())
    'folder'
    """
    base, _ = _split_suffix(str(path))
    p = Path(base)
    if p.is_dir():
        if (p / "dataset_info.json").is_file() or (p / "dataset_dict.json").is_file():
            return "dataset"
        if _metadata_file(p) is not None or _split_folders(p):
            return "audiofolder"
        return "folder"
    name = p.name.lower()
    if name.endswith((".jsonl", ".jsonl.gz")):
        return "jsonl"
    if name.endswith(".tsv"):
        return "tsv"
    return "file"


def read_rows(
    path: str | Path, *, split: str | None = None, audio_column: str | None = None
) -> list[AudioRow]:
    """The rows of a manifest, saved dataset, audiofolder or audio folder (see the module doc).

    `audio_column` names the audio column (default: the Audio-typed column of a dataset, else
    "audio", "audio_filepath", "file_name" or "path").
    """
    text = str(path)
    base, suffix_split = _split_suffix(text)
    split = split or suffix_split
    if not Path(base).exists():
        raise DataError(f"path must exist, but {base} does not; fix: check the path")
    kind = source_kind(text)
    if kind == "jsonl":
        return _jsonl_rows(Path(base), audio_column)
    if kind == "audiofolder":
        return _audiofolder_rows(Path(base), split, audio_column)
    if kind == "file":
        raise DataError(
            f"path must be a .jsonl or .tsv manifest, a saved dataset, an audiofolder or a folder "
            f"of audio, but {base} is none of these; fix: convert it, or pass the folder it is in"
        )
    from units.corpus.manifests import read_manifest

    if kind == "dataset":
        split = split or _default_split(Path(base))
    items = read_manifest(base, split=split, audio_column=audio_column)
    rows = [AudioRow(id=item.id, audio=item.source, fields=dict(item.fields)) for item in items]
    if kind == "tsv":
        rows = _with_transcripts(Path(base), rows)
    return rows


def is_dataset(value: Any) -> bool:
    """Whether `value` is a `datasets.Dataset` or `IterableDataset` (without importing datasets).

    >>> is_dataset(["a.wav"])
    False
    """
    return hasattr(value, "features") and hasattr(value, "cast_column")


def dataset_rows(dataset: Any, *, audio_column: str | None = None) -> list[AudioRow]:
    """The rows of an in-memory `datasets.Dataset` (or IterableDataset); its Audio column is
    read undecoded, so decoding needs neither torchcodec nor FFmpeg.

    >>> rows = dataset_rows(load_dataset("audiofolder", data_dir="clips")["train"])  # doctest: +SKIP
    """
    import datasets

    names = list(dataset.column_names or (dataset.features or {}))
    features = dataset.features or {}
    column = audio_column or next(
        (n for n, f in features.items() if isinstance(f, datasets.Audio)),
        next((n for n in _DEFAULT_AUDIO_COLUMNS if n in names), None),
    )
    if column not in names:
        raise DataError(
            f"audio_column must be one of the dataset's columns {names}, but is {column!r}; fix: "
            "pass audio_column= the column holding the audio"
        )
    feature = features.get(column)
    if isinstance(feature, datasets.Audio) and feature.decode:
        # Stored bytes/paths, decoded by soundfile: no torchcodec or FFmpeg needed.
        dataset = dataset.cast_column(column, datasets.Audio(decode=False))
    rows = []
    try:
        for index, row in enumerate(dataset):
            fields = {k: v for k, v in row.items() if k not in (column, "id")}
            rows.append(AudioRow(id=str(row.get("id", index)), audio=row[column], fields=fields))
    except ImportError as error:  # another column that datasets decodes (e.g. nested audio)
        raise decoding_error(error) from error
    return rows


def decoding_error(error: ImportError, where: str = "the dataset") -> DataError:
    """The error for audio that `datasets` wants torchcodec (and FFmpeg) to decode: both fixes.

    >>> print(decoding_error(ImportError("install 'torchcodec'")))        # doctest: +ELLIPSIS
    the audio of the dataset must be decodable, but datasets needs torchcodec for it ...
    """
    return DataError(
        f"the audio of {where} must be decodable, but datasets needs torchcodec for it ({error}); "
        "fix: pass the rows undecoded (dataset.cast_column('audio', datasets.Audio(decode=False)): "
        "spire decodes the bytes itself with soundfile), or install the decoder: "
        "pip install torchcodec, plus FFmpeg (e.g. apt-get install ffmpeg)"
    )


def _split_suffix(text: str) -> tuple[str, str | None]:
    head, sep, tail = text.rpartition(":")
    if sep and head and tail and "/" not in tail and "\\" not in tail and Path(head).is_dir():
        return head, tail
    return text, None


def _default_split(folder: Path) -> str | None:
    index = folder / "dataset_dict.json"
    if not index.is_file():
        return None
    splits = json.loads(index.read_text(encoding="utf-8")).get("splits", [])
    return "test" if "test" in splits else splits[0] if len(splits) == 1 else None


def _jsonl_rows(path: Path, audio_column: str | None) -> list[AudioRow]:
    from spire.data.sources import read_jsonl

    rows = []
    for index, record in enumerate(read_jsonl(path)):
        column = audio_column or next((c for c in _DEFAULT_AUDIO_COLUMNS if c in record), "audio")
        audio = record.get(column)
        if isinstance(audio, str) and not Path(audio).is_absolute():
            audio = str(path.parent / audio)  # relative to the manifest
        fields = {k: v for k, v in record.items() if k not in (column, "id")}
        rows.append(AudioRow(id=str(record.get("id", index)), audio=audio, fields=fields))
    return rows


def _metadata_file(folder: Path) -> Path | None:
    return next((folder / n for n in METADATA_FILES if (folder / n).is_file()), None)


def _split_folders(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and _metadata_file(p) is not None)


def _audiofolder_rows(folder: Path, split: str | None, audio_column: str | None) -> list[AudioRow]:
    metadata = _metadata_file(folder)
    if metadata is None:
        splits = _split_folders(folder)
        chosen = split or ("test" if "test" in splits else splits[0] if len(splits) == 1 else None)
        if chosen not in splits:
            raise DataError(
                f"split must be one of {splits} (the sub-folders of {folder} with metadata), but "
                f"is {chosen!r}; fix: pass `{folder}:SPLIT` or --split"
            )
        metadata = _metadata_file(folder / chosen)
    if metadata.suffix == ".csv":
        with open(metadata, newline="", encoding="utf-8") as handle:
            records = list(csv.DictReader(handle))
    else:
        from spire.data.sources import read_jsonl

        records = list(read_jsonl(metadata))
    column = audio_column or "file_name"
    rows = []
    for index, record in enumerate(records):
        if column not in record:
            raise DataError(
                f"every row of {metadata} must have a {column!r} column (the audio file, relative "
                f"to it), but row {index + 1} has {sorted(record)}; fix: add it (audiofolder layout)"
            )
        audio = Path(str(record[column]))
        audio = audio if audio.is_absolute() else metadata.parent / audio
        fields = {k: v for k, v in record.items() if k not in (column, "id")}
        rows.append(AudioRow(id=str(record.get("id") or Path(record[column]).with_suffix("").as_posix()),
                             audio=str(audio), fields=fields))
    return rows


def _with_transcripts(tsv: Path, rows: list[AudioRow]) -> list[AudioRow]:
    words = tsv.with_suffix(".wrd")
    if not words.is_file():
        return rows
    lines = words.read_text(encoding="utf-8").splitlines()
    if len(lines) != len(rows):
        raise DataError(
            f"{words} must hold one transcript per row of {tsv} ({len(rows)}), but has "
            f"{len(lines)} lines; fix: write them from the same manifest"
        )
    return [AudioRow(id=r.id, audio=r.audio, fields={**r.fields, "text": t}) for r, t in zip(rows, lines)]
