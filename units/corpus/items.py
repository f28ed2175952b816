"""One utterance of a corpus, the unit every manifest reader yields."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["RESERVED_FIELDS", "AudioItem"]

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
