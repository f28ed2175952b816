"""Read a `datasets` dataset saved with `save_to_disk` as a stream of `AudioItem`s.

Audio is never decoded here: rows are read as Arrow, so an Audio column arrives as its stored
{"bytes", "path"} dict (decode=False) and `units.load_audio` decodes it later, per item.

>>> # read_saved_dataset(Path("corpus_saved"), split="train")  -> Iterator[AudioItem]
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from units.corpus.items import RESERVED_FIELDS, AudioItem, checked_id
from units.errors import ManifestError

_BATCH_ROWS = 256


def read_saved_dataset(
    path: Path, *, split: str | None, audio_column: str | None, id_column: str = "id"
) -> Iterator[AudioItem]:
    """Stream a saved Dataset (or one split of a saved DatasetDict) as `AudioItem`s.

    Rows without an `id_column` get their zero-padded row index as id (stable for a saved dataset).

    >>> # next(read_saved_dataset(Path("saved"), split=None, audio_column=None)).id
    """
    dataset = _load(path, split)
    column = _audio_column(dataset, audio_column, path)
    names = list(dataset.column_names)
    carried = [name for name in names if name not in (column, id_column)]
    # A duration column is the item's duration (as in JSONL manifests), not a clash.
    clash = sorted(RESERVED_FIELDS & set(carried) - {"duration_s", "duration"})
    if clash:
        raise ManifestError(
            f"dataset columns must not be named {sorted(RESERVED_FIELDS)}, but {path} has {clash}; "
            "fix: rename them with dataset.rename_column (the labeller writes these keys itself)"
        )
    table = dataset.with_format("arrow")
    for start in range(0, len(dataset), _BATCH_ROWS):
        rows = table[start : start + _BATCH_ROWS].to_pylist()
        for offset, row in enumerate(rows):
            index = start + offset
            item_id = (
                checked_id(row[id_column], f"row {index} of {path}", id_column)
                if id_column in row
                else f"{index:09d}"
            )
            fields = {name: row[name] for name in carried}
            duration = fields.pop("duration_s", fields.pop("duration", None))
            yield AudioItem(
                id=item_id,
                source=_source(row[column], path, item_id),
                fields=fields,
                duration_s=float(duration) if isinstance(duration, (int, float)) else None,
            )


def _load(path: Path, split: str | None) -> Any:
    import datasets

    try:
        loaded = datasets.load_from_disk(str(path))
    except (FileNotFoundError, ValueError, OSError) as error:
        raise ManifestError(
            f"{path} must be a dataset saved with save_to_disk, but it does not load ({error}); "
            "fix: save it again with dataset.save_to_disk"
        ) from error
    if isinstance(loaded, datasets.DatasetDict):
        if split is None and len(loaded) == 1:
            split = next(iter(loaded))
        if split not in loaded:
            raise ManifestError(
                f"the split must be one of {sorted(loaded)}, but is {split!r}; fix: pass "
                f"`{path}:SPLIT` or --split"
            )
        return loaded[split]
    if split is not None and split != (loaded.split or split):
        raise ManifestError(
            f"{path} is a single Dataset (split {loaded.split!r}), but split {split!r} was asked "
            "for; fix: drop the split"
        )
    return loaded


def _audio_column(dataset: Any, wanted: str | None, path: Path) -> str:
    import datasets

    names = list(dataset.column_names)
    if wanted is not None:
        if wanted not in names:
            raise ManifestError(
                f"the audio column must be one of {names}, but is {wanted!r}; fix: pass "
                "--audio-column with an existing column"
            )
        return wanted
    typed = [
        name for name, feature in dataset.features.items() if isinstance(feature, datasets.Audio)
    ]
    if len(typed) == 1:
        return typed[0]
    if "audio" in names:
        return "audio"
    raise ManifestError(
        f"a saved dataset must have one audio column, but {path} has columns {names}; fix: pass "
        "--audio-column"
    )


def _source(value: Any, root: Path, item_id: str) -> Any:
    if isinstance(value, str):
        candidate = Path(value)
        return str(candidate if candidate.is_absolute() else root / candidate)
    if isinstance(value, dict) and (value.get("bytes") is not None or value.get("path")):
        if value.get("bytes") is None:
            candidate = Path(value["path"])
            return str(candidate if candidate.is_absolute() else root / candidate)
        return {"bytes": value["bytes"], "path": value.get("path")}
    # An empty/None cell is kept as-is so the labeller rejects it by id, visibly.
    return value
