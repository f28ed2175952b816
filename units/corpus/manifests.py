"""Corpus manifests: one lazy stream of `AudioItem`s from a folder, a TSV, a JSONL or a saved dataset.

Four inputs are read, all with stable ids and a deterministic order:

- a folder of audio files (recursive, sorted; id = path relative to the folder, no extension);
- a fairseq / SpireLM TSV (first line the root folder, then `relative_path<TAB>num_samples`);
- a JSONL manifest (`id`, `audio` = a path relative to the manifest or absolute; other fields
  are carried through; `duration_s` or `duration` becomes the item's duration);
- a `datasets` dataset saved with `save_to_disk` (audio as a {"bytes", "path"} dict or a path
  string); a split is chosen with `path:split` or `split=`.

>>> import tempfile, pathlib
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> _ = (root / "m.jsonl").write_text('{"id": "a", "audio": "a.wav", "text": "hi"}\\n')
>>> [(item.id, item.fields) for item in read_manifest(root / "m.jsonl")]
[('a', {'text': 'hi'})]
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from units.corpus.items import RESERVED_FIELDS, AudioItem, checked_id
from units.errors import ManifestError

AUDIO_EXTENSIONS = frozenset({".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff"})
_DATASET_BATCH_ROWS = 256


def manifest_kind(path: str | os.PathLike[str]) -> str:
    """Which reader `read_manifest` uses for `path`: "folder", "tsv", "jsonl" or "dataset".

    >>> import tempfile
    >>> manifest_kind(tempfile.mkdtemp())
    'folder'
    """
    text = str(path)
    base, split = _split_suffix(text)
    p = Path(base)
    if p.is_dir():
        if (p / "dataset_info.json").is_file() or (p / "dataset_dict.json").is_file():
            return "dataset"
        if split is not None:
            raise ManifestError(
                f"a `path:split` manifest must be a saved datasets folder, but {base} holds neither "
                "dataset_info.json nor dataset_dict.json; fix: pass the folder saved by save_to_disk"
            )
        return "folder"
    if not p.is_file():
        raise ManifestError(
            f"the manifest must be an existing folder, .tsv, .jsonl or saved dataset, but {text} "
            "does not exist; fix: check the path"
        )
    name = p.name.lower()
    if name.endswith((".jsonl", ".jsonl.gz", ".json")):
        return "jsonl"
    if name.endswith((".tsv", ".txt")):
        return "tsv"
    raise ManifestError(
        f"the manifest must be a folder, a .tsv, a .jsonl or a saved dataset, but {text} is none "
        "of these; fix: rename it with the right extension or convert it"
    )


def read_manifest(
    path: str | os.PathLike[str],
    *,
    split: str | None = None,
    audio_column: str | None = None,
    id_column: str = "id",
) -> Iterator[AudioItem]:
    """Stream the items of a manifest in a stable order; duplicate ids raise `ManifestError`.

    Args:
        path: a folder, a .tsv, a .jsonl(.gz) or a saved `datasets` folder (`folder:split` picks
            a split of a DatasetDict).
        split: the split of a saved DatasetDict (instead of `path:split`).
        audio_column: the audio column of a dataset (default: the Audio-typed column, or "audio").
        id_column: the column/field holding ids (datasets without it get their row index).

    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (root / "m.tsv").write_text("/data\\nspk/a.wav\\t16000\\n")
    >>> [item.id for item in read_manifest(root / "m.tsv")]
    ['spk/a']
    """
    kind = manifest_kind(path)
    base, path_split = _split_suffix(str(path))
    if kind == "folder":
        items = _read_folder(Path(base))
    elif kind == "tsv":
        items = _read_tsv(Path(base))
    elif kind == "jsonl":
        items = _read_jsonl(Path(base), id_column)
    else:
        from units.corpus.datasets import read_saved_dataset

        items = read_saved_dataset(
            Path(base), split=split or path_split, audio_column=audio_column, id_column=id_column
        )
    return _unique(items, str(path))


def count_items(path: str | os.PathLike[str], **kwargs: Any) -> int:
    """The number of items of a manifest (one pass over it, audio untouched).

    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (root / "m.jsonl").write_text('{"id": "a", "audio": "a.wav"}\\n')
    >>> count_items(root / "m.jsonl")
    1
    """
    return sum(1 for _ in read_manifest(path, **kwargs))


def _split_suffix(text: str) -> tuple[str, str | None]:
    """`folder:split` -> (folder, split) when folder exists and the suffix is a plain name."""
    head, sep, tail = text.rpartition(":")
    if sep and head and tail and "/" not in tail and "\\" not in tail and Path(head).is_dir():
        return head, tail
    return text, None


def _unique(items: Iterator[AudioItem], where: str) -> Iterator[AudioItem]:
    seen: set[str] = set()
    for item in items:
        if item.id in seen:
            raise ManifestError(
                f"ids must be unique, but {item.id!r} appears twice in {where}; fix: give every "
                "utterance its own id"
            )
        seen.add(item.id)
        yield item


def _read_folder(root: Path) -> Iterator[AudioItem]:
    # os.walk with sorted dirs/files gives a stable order without holding a full listing twice.
    found = False
    for directory, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            file = Path(directory) / name
            if file.suffix.lower() not in AUDIO_EXTENSIONS:
                continue
            found = True
            relative = file.relative_to(root).with_suffix("")
            yield AudioItem(id=relative.as_posix(), source=str(file), fields={})
    if not found:
        raise ManifestError(
            f"a folder manifest must hold audio files ({', '.join(sorted(AUDIO_EXTENSIONS))}), "
            f"but {root} holds none; fix: point at the folder with the audio"
        )


def _read_tsv(path: Path) -> Iterator[AudioItem]:
    with open(path, encoding="utf-8") as handle:
        root_line = handle.readline().rstrip("\n")
        if not root_line or "\t" in root_line:
            raise ManifestError(
                f"the first line of a TSV manifest must be the root folder, but {path} starts with "
                f"{root_line!r}; fix: add the root folder as line 1 (fairseq format)"
            )
        root = Path(root_line)
        if not root.is_absolute():
            root = path.parent / root
        for number, line in enumerate(handle, start=2):
            line = line.rstrip("\n")
            if not line.strip():
                continue
            parts = line.split("\t")
            if len(parts) < 2 or not parts[1].strip().isdigit():
                raise ManifestError(
                    f"line {number} of {path} must be `relative_path<TAB>num_samples`, but is "
                    f"{line!r}; fix: write one tab-separated pair per line"
                )
            relative = parts[0]
            item_id = Path(relative).with_suffix("").as_posix()
            yield AudioItem(id=item_id, source=str(root / relative), fields={})


def _open_text(path: Path):
    if path.name.lower().endswith(".gz"):
        import gzip

        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


def _read_jsonl(path: Path, id_column: str) -> Iterator[AudioItem]:
    with _open_text(path) as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise ManifestError(
                    f"line {number} of {path} must be a JSON object, but does not parse ({error}); "
                    "fix: write one JSON object per line"
                ) from error
            yield _jsonl_item(record, path, number, id_column)


def _jsonl_item(record: Any, path: Path, number: int, id_column: str) -> AudioItem:
    if not isinstance(record, dict):
        raise ManifestError(
            f"line {number} of {path} must be a JSON object, but is {type(record).__name__}; "
            "fix: write one object per line"
        )
    audio_key = next((key for key in ("audio", "audio_filepath") if key in record), None)
    if id_column not in record or audio_key is None:
        raise ManifestError(
            f"line {number} of {path} must have `{id_column}` and `audio`, but has "
            f"{sorted(record)}; fix: add the missing field"
        )
    fields = {k: v for k, v in record.items() if k not in (id_column, audio_key)}
    duration = fields.pop("duration_s", fields.pop("duration", None))
    clash = sorted(RESERVED_FIELDS & set(fields))
    if clash:
        raise ManifestError(
            f"manifest fields must not be named {sorted(RESERVED_FIELDS)}, but line {number} of "
            f"{path} has {clash}; fix: rename them (the labeller writes these keys itself)"
        )
    audio = record[audio_key]
    if isinstance(audio, str):
        audio_path = Path(audio)
        source: Any = str(audio_path if audio_path.is_absolute() else path.parent / audio_path)
    else:
        raise ManifestError(
            f"`{audio_key}` on line {number} of {path} must be a path string, but is "
            f"{type(audio).__name__}; fix: store audio files and write their paths"
        )
    return AudioItem(
        id=checked_id(record[id_column], f"line {number} of {path}", id_column),
        source=source,
        fields=fields,
        duration_s=float(duration) if isinstance(duration, (int, float)) else None,
    )
