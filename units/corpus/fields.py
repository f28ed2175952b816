"""Check, before any audio is labelled, that the output format can hold every manifest field.

Records carry the manifest's own fields through. JSON Lines holds anything JSON can; Arrow needs
one type per column, so for `format="arrow"` the column types are unified over the whole manifest
(a field missing from some rows is null there; int and float become float), and a field whose
types cannot be unified (int in one row, str in another) is refused at the start, naming the
field and two rows, instead of failing after the work is done.

>>> from units.corpus.items import AudioItem
>>> check = FieldCheck("arrow")
>>> check.observe(AudioItem(id="a", source="a.wav", fields={"text": "hi"}))
>>> check.observe(AudioItem(id="b", source="b.wav", fields={"speaker": 3}))
>>> [f.name for f in check.arrow_schema()]
['id', 'units', 'n_frames', 'duration_s', 'text', 'speaker']
"""

from __future__ import annotations

import json
from typing import Any

from units.corpus.items import AudioItem
from units.errors import ManifestError

__all__ = ["FieldCheck"]

_BATCH_ROWS = 1024


class FieldCheck:
    """Watches the manifest's items (in order) and refuses fields `fmt` cannot write."""

    def __init__(self, fmt: str) -> None:
        self.fmt = fmt
        self._index = 0
        self._batch: list[AudioItem] = []
        self._batch_start = 0
        self._schema: Any = None  # pyarrow schema of the fields seen so far

    def observe(self, item: AudioItem) -> None:
        if self.fmt == "arrow":
            if not self._batch:
                self._batch_start = self._index
            self._batch.append(item)
            if len(self._batch) >= _BATCH_ROWS:
                self._flush()
        else:
            self._check_json(item)
        self._index += 1

    def arrow_schema(self) -> Any:
        """The output's Arrow schema: the labeller's four columns, then every manifest field."""
        import pyarrow as pa

        self._flush()
        base = [
            pa.field("id", pa.string()),
            pa.field("units", pa.string()),
            pa.field("n_frames", pa.int64()),
            pa.field("duration_s", pa.float64()),
        ]
        return pa.schema(base + (list(self._schema) if self._schema is not None else []))

    def _check_json(self, item: AudioItem) -> None:
        try:
            json.dumps(item.fields, ensure_ascii=False)
        except (TypeError, ValueError) as error:
            bad = next(k for k, v in item.fields.items() if not _json_ok(v))
            raise ManifestError(
                f"manifest field {bad!r} must be JSON-writable for format {self.fmt!r}, but item "
                f"{self._index} (id {item.id!r}) holds a {type(item.fields[bad]).__name__} "
                f"({error}); fix: convert or drop that field, or use format='arrow'"
            ) from error

    def _flush(self) -> None:
        if not self._batch:
            return
        import pyarrow as pa

        batch, self._batch = self._batch, []
        try:
            struct = pa.array([item.fields for item in batch]).type
            found = pa.schema(list(struct)) if pa.types.is_struct(struct) else pa.schema([])
            self._schema = (
                found
                if self._schema is None
                else pa.unify_schemas([self._schema, found], promote_options="permissive")
            )
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as error:
            raise self._conflict(batch, error) from error

    def _conflict(self, batch: list[AudioItem], error: Exception) -> ManifestError:
        """Name the field and two rows whose types Arrow cannot hold in one column."""
        import pyarrow as pa

        first: dict[str, tuple[Any, int, str]] = {}  # field -> (type, item index, id)
        for field in self._schema or []:
            first[field.name] = (field.type, -1, "an earlier row")
        for offset, item in enumerate(batch):
            index = self._batch_start + offset
            for name, value in item.fields.items():
                try:
                    kind = pa.array([value]).type
                except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as e:
                    return _refusal(
                        name, f"an unstorable {type(value).__name__}", index, item.id, e
                    )
                if pa.types.is_null(kind):
                    continue
                if name not in first:
                    first[name] = (kind, index, item.id)
                    continue
                seen, seen_index, seen_id = first[name]
                try:
                    merged = pa.unify_schemas(
                        [pa.schema([(name, seen)]), pa.schema([(name, kind)])],
                        promote_options="permissive",
                    )
                except (pa.ArrowInvalid, pa.ArrowTypeError):
                    where = (
                        "an earlier row"
                        if seen_index < 0
                        else f"item {seen_index} (id {seen_id!r})"
                    )
                    return ManifestError(
                        f"manifest field {name!r} must have one type in every row to be written "
                        f"as Arrow, but is {seen} in {where} and {kind} in item {index} (id "
                        f"{item.id!r}); fix: give the field one type in the manifest, or use "
                        "format='jsonl.gz'"
                    )
                first[name] = (merged.field(name).type, seen_index, seen_id)
        return _refusal("?", "values Arrow cannot hold", self._batch_start, batch[0].id, error)


def _refusal(name: str, what: str, index: int, item_id: str, error: Exception) -> ManifestError:
    return ManifestError(
        f"manifest field {name!r} must be storable in Arrow, but item {index} (id {item_id!r}) "
        f"holds {what} ({error}); fix: convert or drop that field, or use format='jsonl.gz'"
    )


def _json_ok(value: Any) -> bool:
    try:
        json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return False
    return True
