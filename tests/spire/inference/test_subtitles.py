"""Subtitle and per-file outputs, read back by each format's rules (and its library if present)."""

import doctest
import html
import json
import re
from types import SimpleNamespace

import pytest

from spire.errors import SpireError
from spire.inference import subtitles
from spire.inference.subtitles import Cue, format_timestamp, output_paths, render, write_cues

CUES = [
    Cue(0.0, 2.5, "hello there"),
    Cue(2.5, 4.0, "a <b> & c --> d"),
    Cue(5.25, 6.0, "   "),  # nothing said: no subtitle
    Cue(6.0, 9.125, "two lines\n\n  second  "),
    Cue(3725.0456, 3726.5, "past an hour"),
]
SHOWN = [  # what a reader of the srt / vtt must get back: (start, end, text)
    (0.0, 2.5, "hello there"),
    (2.5, 4.0, "a <b> & c --> d"),
    (6.0, 9.125, "two lines\nsecond"),
    (3725.046, 3726.5, "past an hour"),
]
_TIME = r"(\d{{2,}}):([0-5]\d):([0-5]\d){sep}(\d{{3}})"


def _seconds(match: re.Match, first: int) -> float:
    h, m, s, ms = (int(match.group(i)) for i in range(first, first + 4))
    return h * 3600 + m * 60 + s + ms / 1000


def _parse_srt(text: str) -> list[tuple[float, float, str]]:
    """SubRip by its rules: blank-line separated blocks of number, timing line, text lines."""
    timing = re.compile(_TIME.format(sep=",") + " --> " + _TIME.format(sep=",") + "$")
    cues = []
    for number, block in enumerate(text.strip("\n").split("\n\n"), start=1):
        lines = block.split("\n")
        assert lines[0] == str(number), block  # numbered from 1, no gaps
        match = timing.match(lines[1])
        assert match, lines[1]
        assert len(lines) >= 3 and all(line.strip() for line in lines[2:]), block
        cues.append((_seconds(match, 1), _seconds(match, 5), "\n".join(lines[2:])))
    return cues


def _parse_vtt(text: str) -> list[tuple[float, float, str]]:
    """WebVTT by its rules: `WEBVTT` header, blank line, cues of timing line plus text, where
    text holds no `-->` and no raw `<` or `&` outside a character reference."""
    assert text.startswith("WEBVTT\n")
    timing = re.compile(_TIME.format(sep=r"\.") + " --> " + _TIME.format(sep=r"\.") + "$")
    cues = []
    for block in text[len("WEBVTT\n"):].strip("\n").split("\n\n"):
        lines = block.split("\n")
        match = timing.match(lines[0])
        assert match, lines[0]
        body = "\n".join(lines[1:])
        assert body and "-->" not in body and "<" not in body
        assert not re.search(r"&(?!amp;|lt;|gt;)", body)
        cues.append((_seconds(match, 1), _seconds(match, 5), html.unescape(body)))
    return cues


def test_timestamps_follow_each_format():
    assert format_timestamp(0) == "00:00:00.000"
    assert format_timestamp(59.9996, decimal_marker=",") == "00:01:00,000"  # rounding carries
    assert format_timestamp(3725.0456) == "01:02:05.046"
    assert format_timestamp(100 * 3600 + 1.5) == "100:00:01.500"


def test_srt_reads_back_by_its_rules():
    assert _parse_srt(render(CUES, "srt")) == SHOWN


def test_vtt_reads_back_by_its_rules():
    assert _parse_vtt(render(CUES, "vtt")) == SHOWN


def test_srt_library_reads_it():
    srt = pytest.importorskip("srt", reason="the srt package is optional (pip install srt)")
    parsed = list(srt.parse(render(CUES, "srt")))
    assert [p.index for p in parsed] == [1, 2, 3, 4]
    assert [(p.start.total_seconds(), p.end.total_seconds(), p.content) for p in parsed] == SHOWN


def test_webvtt_library_reads_it():
    webvtt = pytest.importorskip("webvtt", reason="webvtt-py is optional (pip install webvtt-py)")
    parsed = webvtt.from_string(render(CUES, "vtt"))
    assert [(c.start, c.end, html.unescape(c.text)) for c in parsed] == [
        (format_timestamp(a), format_timestamp(b), t) for a, b, t in SHOWN
    ]


def test_txt_and_jsonl_keep_every_piece():
    assert render(CUES, "txt") == (
        "hello there\na <b> & c --> d\ntwo lines second\npast an hour\n"
    )
    rows = [json.loads(line) for line in render(CUES, "jsonl").splitlines()]
    assert [r["text"] for r in rows] == [c.text for c in CUES]
    assert rows[4] == {"start_s": 3725.046, "end_s": 3726.5, "text": "past an hour"}


@pytest.mark.parametrize("fmt,expected", [("txt", ""), ("jsonl", ""), ("srt", ""), ("vtt", "WEBVTT\n")])
def test_no_speech_gives_an_empty_but_valid_file(fmt, expected):
    assert render([], fmt) == expected
    silent = render([Cue(0.0, 1.0, " ")], fmt)  # a piece with no text is no subtitle or line
    assert silent == (expected if fmt != "jsonl" else '{"start_s":0.0,"end_s":1.0,"text":" "}\n')


def test_segments_tuples_and_result_objects_are_accepted():
    from spire.inference.segmentation import Segment

    piece = Segment(1.0, 2.0)
    items = [(piece.start_s, piece.end_s, "one"), SimpleNamespace(start_s=2, end_s=3, text="two")]
    assert _parse_srt(render(items, "srt")) == [(1.0, 2.0, "one"), (2.0, 3.0, "two")]


@pytest.mark.parametrize(
    "cue,match",
    [
        ((-1.0, 2.0, "x"), r"cues\[0\] must have 0 <= start_s <= end_s"),
        ((3.0, 2.0, "x"), r"start_s=3.0, end_s=2.0"),
        ((0.0, float("nan"), "x"), "finite seconds"),
        ((0.0, 1.0, None), r"cues\[0\].text must be a str"),
        ("text", r"cues\[0\] must be a Cue"),
    ],
)
def test_bad_cues_are_refused_by_index(cue, match):
    with pytest.raises(SpireError, match=match):
        render([cue], "srt")


def test_unknown_format_is_refused():
    with pytest.raises(SpireError, match="format must be one of txt, jsonl, srt, vtt, but is 'ass'"):
        render(CUES, "ass")
    with pytest.raises(SpireError, match="format must be one of"):
        output_paths(["a.wav"], "out", "text")


def test_one_file_per_input_named_after_it(tmp_path):
    inputs = ["talks/intro.wav", "other/intro.flac", "outro.mp3"]
    paths = output_paths(inputs, tmp_path, "srt")
    assert [p.name for p in paths] == ["intro.srt", "intro-2.srt", "outro.srt"]
    for path in paths:
        assert write_cues(CUES[:1], path, "srt") == path
    assert _parse_srt(paths[1].read_text(encoding="utf-8")) == [SHOWN[0]]
    assert not list(tmp_path.glob(".tmp-*"))


def test_unicode_text_is_kept():
    cue = [Cue(0, 1, "Grüße, 你好 — ça va?")]
    assert _parse_vtt(render(cue, "vtt"))[0][2] == "Grüße, 你好 — ça va?"
    assert json.loads(render(cue, "jsonl"))["text"] == "Grüße, 你好 — ça va?"


def test_docstring_examples_run():
    result = doctest.testmod(subtitles)
    assert result.attempted > 0 and result.failed == 0
