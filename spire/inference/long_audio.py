"""Long recordings read in pieces the model was trained on, and results as timed segments.

A recording is read in one of three ways (`cut_recording`):

- no speech found (silence, noise, music): no piece, so nothing is generated and the result is
  empty, where a model given silence makes up a sentence (audio under 32 ms, too short to
  judge, is read whole, and the extractor refuses it when it holds no unit);
- speech, and the whole recording no longer than `max_piece_s`: one piece, the whole wave, as
  before speech detection existed (the units, and so the text, of short clips do not change);
- longer: the pieces that `speech_segments` finds, cut at pauses (a piece without a pause that is
  still longer than `max_piece_s` is cut at its quietest points).

Each piece's answer is cut to the answer itself (`answer_text`), and the answers are joined with
spaces; every piece becomes a `TextSegment` (start, end, text), as whisper users expect.

>>> import numpy as np
>>> cut = cut_recording(np.zeros(16000 * 30, dtype=np.float32), 16000, max_piece_s=10.0)
>>> cut.waves, cut.spans
([], [])
>>> answer_text("the cat sleeps\\nEnglish: the cat sleeps")
'the cat sleeps'
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from spire.inference.chunking import chunk_bounds
from spire.inference.segmentation import Segment, speech_segments, trim_edges
from spire.prompts import LANGUAGES

__all__ = ["RecordingCut", "TextSegment", "answer_text", "cut_recording"]

# Audio shorter than one frame of the speech detector (32 ms) cannot be judged; it is read as
# before, so that the extractor refuses it by name when it is too short to hold any unit.
_MIN_JUDGED_S = 0.032
# A tail this short, left when a long stretch of speech is cut at its quietest points, holds no
# word; the extractor cannot even read under 25 ms.
_MIN_PIECE_S = 0.1

# The labels of the prompts and of the continued-pretraining documents ("Speech: …",
# "English: …", "German: …"). A model that does not end its turn goes on writing such a
# document, and each of its lines starts with one of these labels.
_LABELS = ("Speech", *LANGUAGES.values())
_LEADING_LABEL = re.compile(rf"^\s*(?:{'|'.join(_LABELS)})\s*:\s*")
_INNER_LABEL = re.compile(rf"(?:^|\s)(?:{'|'.join(_LABELS)})\s*:")


@dataclasses.dataclass(frozen=True)
class TextSegment:
    """What was said in one piece of a recording: seconds from its start, and the text.

    >>> TextSegment(0.0, 2.5, "hello there").end_s
    2.5
    """

    start_s: float
    end_s: float
    text: str


@dataclasses.dataclass(frozen=True)
class RecordingCut:
    """How one recording is read: the waves given to the model and where each one's speech lies.

    >>> cut = RecordingCut(waves=[np.zeros(8)], spans=[Segment(0.25, 1.5)])
    >>> cut.segments(["hi"])
    (TextSegment(start_s=0.25, end_s=1.5, text='hi'),)
    """

    waves: list[np.ndarray]
    """The pieces, in order (views of the recording, not copies)."""
    spans: list[Segment]
    """Where each piece's speech lies, in seconds; increasing and not overlapping."""

    def segments(self, texts: Sequence[str]) -> tuple[TextSegment, ...]:
        """The pieces' times with their texts (one text per piece, in order)."""
        if len(texts) != len(self.spans):
            raise ValueError(f"texts must hold {len(self.spans)} texts, but holds {len(texts)}")
        return tuple(
            TextSegment(round(s.start_s, 3), round(s.end_s, 3), t) for s, t in zip(self.spans, texts)
        )


def cut_recording(
    wave: np.ndarray,
    sample_rate: int,
    *,
    max_piece_s: float,
    vad: bool = True,
    detector: Any = None,
    trim_db: float | None = 40.0,
) -> RecordingCut:
    """The pieces of `wave` that the model reads (see the module docstring).

    With `vad=False` nothing looks for speech: the recording is read whole when it is no longer
    than `max_piece_s`, else cut at its quietest points (`chunk_bounds`), and silence then gives
    whatever text the model makes up. `detector` is a `SileroVad` (default: the packaged one).
    Each piece found is trimmed to its frames within `trim_db` of its loudest (`trim_edges`; None
    keeps the detector's edges): models trained on clips that start and end with speech read
    edge silence badly.

    >>> cut = cut_recording(np.zeros(16000 * 5, dtype=np.float32), 16000, max_piece_s=2.0, vad=False)
    >>> [round(s.duration_s, 2) for s in cut.spans]     # cut in the quietest window, all silent here
    [1.99, 2.0, 1.01]
    """
    whole = len(wave) <= int(max_piece_s * sample_rate)  # the test `chunk_bounds` makes
    if not vad:
        bounds = chunk_bounds(wave, sample_rate, max_chunk_s=max_piece_s)
        return RecordingCut(
            waves=[wave[a:b] for a, b in bounds],
            spans=[Segment(a / sample_rate, b / sample_rate) for a, b in bounds],
        )
    if len(wave) < _MIN_JUDGED_S * sample_rate:
        return RecordingCut(waves=[wave], spans=[Segment(0.0, len(wave) / sample_rate)])
    found = speech_segments(wave, sample_rate, max_piece_s=max_piece_s, vad=detector)
    if not found:
        return RecordingCut(waves=[], spans=[])
    if whole:
        # Read whole, as before: trimming the silence would change a short clip's units.
        return RecordingCut(waves=[wave], spans=[Segment(found[0].start_s, found[-1].end_s)])
    found = [s for s in found if s.duration_s >= _MIN_PIECE_S]
    if trim_db is not None:
        found = _trimmed(wave, sample_rate, found, trim_db)
    return RecordingCut(waves=[wave[s.samples(sample_rate)] for s in found], spans=found)


def _trimmed(wave: np.ndarray, sample_rate: int, spans: list[Segment], top_db: float) -> list[Segment]:
    """`spans` trimmed at the edges next to a pause; an edge where two pieces of unbroken speech
    touch (a cut at the quietest point) stays, so nothing between them is lost."""
    out = []
    for i, span in enumerate(spans):
        piece = span.samples(sample_rate)
        kept = trim_edges(wave[piece], sample_rate, top_db=top_db)
        if kept.stop <= kept.start:
            continue
        joined_before = i > 0 and spans[i - 1].end_s == span.start_s
        joined_after = i + 1 < len(spans) and spans[i + 1].start_s == span.end_s
        start = span.start_s if joined_before else (piece.start + kept.start) / sample_rate
        end = span.end_s if joined_after else (piece.start + kept.stop) / sample_rate
        if end - start >= _MIN_PIECE_S:
            out.append(Segment(start, end))
    return out


def answer_text(text: str) -> str:
    """The answer alone, without the prompt text a model may go on to write.

    Every answer the model was trained on is one line, ended by the end of its turn (or of its
    document). A model that does not stop writes a new line of a training document instead —
    `English: …`, `French: …`, `Speech: …` — so the answer ends at the first line break or at a
    label of the prompts; a label the answer starts with is dropped.

    >>> answer_text("English: the cat sleeps")
    'the cat sleeps'
    >>> answer_text("le chat dort French: le chat")
    'le chat dort'
    >>> answer_text("the Englishman said hello")
    'the Englishman said hello'
    """
    text = _LEADING_LABEL.sub("", text, count=1).lstrip()
    text = text.split("\n", 1)[0]
    found = _INNER_LABEL.search(text)
    if found:
        text = text[: found.start()]
    return text.strip()
