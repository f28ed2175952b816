"""Timed results as files people use: plain text, JSONL, SubRip (.srt) and WebVTT (.vtt).

Each input file gets one output file named after it (`clip.wav` -> `clip.srt`); its content is
the list of timed pieces (`Cue`: start, end, text) that long audio was cut into.

>>> cues = [Cue(0.0, 2.5, "hello there"), Cue(3.0, 4.25, "bye")]
>>> print(render(cues, "srt"), end="")
1
00:00:00,000 --> 00:00:02,500
hello there
<BLANKLINE>
2
00:00:03,000 --> 00:00:04,250
bye
>>> print(render(cues, "vtt"), end="")
WEBVTT
<BLANKLINE>
00:00:00.000 --> 00:00:02.500
hello there
<BLANKLINE>
00:00:03.000 --> 00:00:04.250
bye
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from spire.errors import SpireError
from units.files import atomic_open, json_line

__all__ = [
    "FORMATS",
    "Cue",
    "format_timestamp",
    "output_paths",
    "render",
    "write_cues",
]

FORMATS = ("txt", "jsonl", "srt", "vtt")


@dataclasses.dataclass(frozen=True)
class Cue:
    """One timed piece of a result: seconds from the start of the input, and its text.

    >>> Cue(1.0, 2.0, "hi").text
    'hi'
    """

    start_s: float
    end_s: float
    text: str


def format_timestamp(seconds: float, *, decimal_marker: str = ".") -> str:
    """`HH:MM:SS.mmm` (WebVTT) or, with `decimal_marker=","`, `HH:MM:SS,mmm` (SubRip).

    Rounded to the millisecond; hours keep counting past 99.

    >>> format_timestamp(3725.0456), format_timestamp(0.9996, decimal_marker=",")
    ('01:02:05.046', '00:00:01,000')
    """
    millis = round(seconds * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{decimal_marker}{millis:03d}"


def render(cues: Iterable[Any], format: str) -> str:
    """The text of one output file in `format` (one of `FORMATS`).

    `cues` holds `Cue`s, or anything with `start_s`, `end_s` and `text` (a segment-carrying
    result), or `(start_s, end_s, text)` tuples. jsonl has one JSON object per cue, as given;
    txt one line per cue with text; srt and vtt one subtitle per cue with text, numbered from 1
    in srt (a cue with no text is no subtitle). No text gives an empty file (a vtt file still
    starts with its `WEBVTT` header).

    >>> render([(0, 1.5, "a"), (2, 3, "b")], "txt")
    'a\\nb\\n'
    >>> render([], "vtt"), render([], "srt")
    ('WEBVTT\\n', '')
    """
    if format not in FORMATS:
        raise SpireError(
            f"format must be one of {', '.join(FORMATS)}, but is {format!r}; fix: pass one of them"
        )
    checked = _check(cues)
    if format == "txt":
        lines = (_one_line(cue.text) for cue in checked)
        return "".join(f"{line}\n" for line in lines if line)
    if format == "jsonl":
        return "".join(
            json_line({"start_s": round(c.start_s, 3), "end_s": round(c.end_s, 3), "text": c.text})
            for c in checked
        )
    # A subtitle without text is invalid in both formats (a blank line ends the block).
    shown = [cue for cue in checked if _subtitle_text(cue.text, format)]
    if format == "srt":
        return "\n".join(
            f"{number}\n{_times(cue, ',')}\n{_subtitle_text(cue.text, 'srt')}\n"
            for number, cue in enumerate(shown, start=1)
        )
    body = "".join(f"\n{_times(cue, '.')}\n{_subtitle_text(cue.text, 'vtt')}\n" for cue in shown)
    return "WEBVTT\n" + body


def write_cues(cues: Iterable[Any], path: str | os.PathLike[str], format: str) -> Path:
    """Write `render(cues, format)` to `path` atomically (a kill leaves no half file)."""
    text = render(cues, format)
    with atomic_open(path, "w") as handle:
        handle.write(text)
    return Path(path)


def output_paths(
    inputs: Sequence[str | os.PathLike[str]], out_dir: str | os.PathLike[str], format: str
) -> list[Path]:
    """One output path per input, named after it (`a/clip.wav` -> `out_dir/clip.srt`).

    Inputs that share a name get `-2`, `-3`, … in input order, so no result overwrites another.

    >>> [p.name for p in output_paths(["a/x.wav", "b/x.flac", "y.mp3"], "out", "vtt")]
    ['x.vtt', 'x-2.vtt', 'y.vtt']
    """
    if format not in FORMATS:
        raise SpireError(
            f"format must be one of {', '.join(FORMATS)}, but is {format!r}; fix: pass one of them"
        )
    out, seen, paths = Path(out_dir), set(), []
    for source in inputs:
        stem = Path(source).stem or "input"
        name, count = f"{stem}.{format}", 1
        while name in seen:
            count += 1
            name = f"{stem}-{count}.{format}"
        seen.add(name)
        paths.append(out / name)
    return paths


def _check(cues: Iterable[Any]) -> list[Cue]:
    checked = []
    for index, item in enumerate(cues):
        if isinstance(item, (tuple, list)) and len(item) == 3:
            start, end, text = item
        elif all(hasattr(item, name) for name in ("start_s", "end_s", "text")):
            start, end, text = item.start_s, item.end_s, item.text
        else:
            raise SpireError(
                f"cues[{index}] must be a Cue or a (start_s, end_s, text) triple, but is "
                f"{type(item).__name__}; fix: pass Cue(start_s, end_s, text)"
            )
        if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in (start, end)) or not (
            0 <= start <= end
        ):
            raise SpireError(
                f"cues[{index}] must have 0 <= start_s <= end_s (finite seconds), but has "
                f"start_s={start!r}, end_s={end!r}; fix: check the segment times"
            )
        if not isinstance(text, str):
            raise SpireError(
                f"cues[{index}].text must be a str, but is {type(text).__name__}; fix: pass text"
            )
        checked.append(Cue(float(start), float(end), text))
    return checked


def _times(cue: Cue, marker: str) -> str:
    start = format_timestamp(cue.start_s, decimal_marker=marker)
    return f"{start} --> {format_timestamp(cue.end_s, decimal_marker=marker)}"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _subtitle_text(text: str, format: str) -> str:
    """Cue text that cannot end its block early: no blank lines; in vtt, `&` `<` `>` escaped
    (the format reads them as markup, and `-->` inside text would read as a timing line).
    SubRip has no escapes: its text is kept as it is."""
    lines = [line.strip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    text = "\n".join(line for line in lines if line)
    if format == "vtt":
        text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text
