"""One utterance of a corpus, the unit every manifest reader yields."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from units.errors import ManifestError

__all__ = ["RESERVED_FIELDS", "AudioItem", "checked_id"]

# Keys the labeller writes itself; a manifest field of the same name would be overwritten.
RESERVED_FIELDS = frozenset({"id", "units", "n_frames", "duration_s"})


@dataclass(frozen=True)
class AudioItem:
    """One utterance of a corpus: a stable id, where its audio is, and the fields to carry through.

    `source` is anything `units.load_audio` accepts (a path, bytes, a datasets audio dict).

    >>> AudioItem(id="spk1/utt1", source="/data/spk1/utt1.wav", fields={"text": "hello"})
    AudioItem(id='spk1/utt1', source='/data/spk1/utt1.wav', fields={'text': 'hello'}, duration_s=None)
    """

    id: str
    source: Any
    fields: dict[str, Any] = field(default_factory=dict)
    duration_s: float | None = None


def checked_id(value: Any, where: str, id_column: str = "id") -> str:
    """An item id as text: a non-empty string, or an integer (written as its digits).

    Anything else (null, a float, a bool, a list) is refused: `str()` would turn null into
    "None" and 1.0 into "1.0", ids nobody meant.

    >>> checked_id(7, "line 1 of m.jsonl")
    '7'
    """
    if isinstance(value, str) and value.strip():
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise ManifestError(
        f"`{id_column}` on {where} must be a non-empty string or an integer, but is {value!r}; "
        "fix: give every item its own id"
    )
