"""Long recordings through SpireModel: speech found and cut at pauses, silence gives nothing,
results carry timed segments, prompt text never leaks, and the CLI writes one file per input."""

import doctest
import json
import re

import numpy as np
import pytest
import soundfile as sf

from spire.cli import main
from spire.inference import long_audio
from spire.inference.long_audio import answer_text, cut_recording
from spire.inference.model import SpireModel

NUM_UNITS = 16
SR = 16000
SENTENCES = [
    "the old man sees three black dogs in the garden",
    "a red car stops near the small house",
    "she reads a long book every night",
]


def _voiced_span(wave: np.ndarray) -> tuple[float, float]:
    loud = np.flatnonzero(np.abs(wave) > 1e-3)
    return loud[0] / SR, (loud[-1] + 1) / SR


@pytest.fixture(scope="module")
def sentences():
    pytest.importorskip("espeakng_loader", reason="speech synthesis needs espeakng-loader (dev extra)")
    from spire.mini.tts import synthesize

    return [synthesize(text, voice=voice) for text, voice in zip(SENTENCES, ["en-us", "en+f2", "en-us+m3"])]


@pytest.fixture(scope="module")
def talk(sentences):
    """(wave, voiced spans): the sentences with pauses of 1-2.5 s before, between and after."""
    parts, spans, now = [], [], 0.0
    for wave, pause_s in zip(sentences, [1.0, 2.5, 1.5]):
        parts.append(np.zeros(int(pause_s * SR), dtype=np.float32))
        start, end = _voiced_span(wave)
        spans.append((now + pause_s + start, now + pause_s + end))
        parts.append(wave)
        now += pause_s + len(wave) / SR
    parts.append(np.zeros(SR, dtype=np.float32))
    return np.concatenate(parts), spans


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    from spire.testing import tiny_llama
    from spire.vocab.extend import extend_model
    from units import KMeansQuantizer, MfccFeaturizer, UnitExtractor
    from units.testing import tone_speech

    root = tmp_path_factory.mktemp("long_audio")
    featurizer = MfccFeaturizer()
    waves = [tone_speech(1.5, seed=s) for s in range(3)]
    features = np.concatenate([f.cpu().numpy() for f in featurizer.featurize(waves)])
    quantizer = KMeansQuantizer.fit(features, NUM_UNITS, seed=0, provenance=featurizer.provenance())
    model = extend_model(tiny_llama(root / "base"), root / "model", num_units=NUM_UNITS).out_dir
    UnitExtractor(featurizer, quantizer).save_pretrained(model / "extractor")
    return model


@pytest.fixture(scope="module")
def model(model_dir):
    return SpireModel.from_pretrained(model_dir, device="cpu")


def test_docstring_examples():
    assert doctest.testmod(long_audio).failed == 0


def test_segments_follow_the_speech_in_time(model, talk):
    wave, spans = talk
    result = model.transcribe(wave, max_chunk_s=4.0, max_new_tokens=4)
    assert result.num_chunks == len(result.segments) == len(result.token_ids) == len(spans)
    for segment, (start, end) in zip(result.segments, spans):
        assert abs(segment.start_s - start) <= 0.3 and abs(segment.end_s - end) <= 0.3
        assert segment.end_s - segment.start_s <= 4.0
    times = [t for s in result.segments for t in (s.start_s, s.end_s)]
    assert times == sorted(times) and times[-1] <= len(wave) / SR
    assert result.text == " ".join(s.text for s in result.segments if s.text)
    assert result.decoding.max_chunk_s == 4.0  # the piece length is recorded with the result


def test_speech_without_pauses_is_read_in_pieces_no_longer_than_the_limit(model, sentences):
    wave = np.concatenate(sentences)
    result = model.translate(wave, to="German", max_chunk_s=2.5, max_new_tokens=3)
    pieces = result.segments
    assert len(pieces) >= 3 and result.num_chunks == len(pieces)
    assert all(0 < p.end_s - p.start_s <= 2.5 for p in pieces)
    assert all(a.end_s == b.start_s for a, b in zip(pieces, pieces[1:]))  # nothing skipped
    start, end = _voiced_span(wave)
    assert pieces[0].start_s <= start + 0.3 and pieces[-1].end_s >= end - 0.3


@pytest.mark.parametrize("seconds", [2.0, 30.0])
@pytest.mark.parametrize("kind", ["silence", "noise"])
def test_no_speech_gives_an_empty_result(model, seconds, kind):
    n = int(seconds * SR)
    wave = np.zeros(n, np.float32) if kind == "silence" else (
        np.random.default_rng(1).normal(0, 0.05, n).astype(np.float32)
    )
    for result in (model.transcribe(wave, max_chunk_s=8.0), model.translate(wave, to="fr")):
        assert result.text == "" and result.segments == () and result.token_ids == ()
        assert result.num_chunks == 0 and result.error is None
        assert result.duration_s == pytest.approx(seconds)
    # Without the search for speech, the model is asked anyway (and answers something).
    assert model.transcribe(wave, max_new_tokens=2, vad=False).num_chunks >= 1


def test_short_speech_is_read_whole_as_without_speech_detection(model, sentences):
    wave = np.concatenate([np.zeros(SR // 2, np.float32), sentences[1]])
    found = model.transcribe(wave, max_new_tokens=5)
    whole = model.transcribe(wave, max_new_tokens=5, vad=False)
    assert found.token_ids == whole.token_ids and found.num_units == whole.num_units
    (segment,) = found.segments
    start, end = _voiced_span(wave)
    assert abs(segment.start_s - start) <= 0.3 and abs(segment.end_s - end) <= 0.3
    assert whole.segments[0].start_s == 0.0 and whole.segments[0].end_s == round(len(wave) / SR, 3)


def test_cut_recording_pieces_are_views_within_the_limit(talk):
    wave, spans = talk
    cut = cut_recording(wave, SR, max_piece_s=3.0)
    assert len(cut.waves) == len(cut.spans) == len(spans)
    for piece, span in zip(cut.waves, cut.spans):
        assert piece.base is wave or piece.base is wave.base  # a view, no copy
        assert len(piece) == pytest.approx(span.duration_s * SR, abs=1) and span.duration_s <= 3.0


@pytest.mark.parametrize(
    "generated, answer",
    [
        ("the cat sleeps\nEnglish: the cat sleeps", "the cat sleeps"),
        ("English: the cat sleeps", "the cat sleeps"),
        ("  \nthe dog runs\nSpeech: \nEnglish: a dog", "the dog runs"),
        ("die Katze schläft French: le chat dort", "die Katze schläft"),
        ("the Englishman reads German books", "the Englishman reads German books"),
        ("Speech:", ""),
        ("", ""),
    ],
)
def test_answer_text_stops_at_prompt_text(generated, answer):
    assert answer_text(generated) == answer


def test_prompt_text_never_reaches_the_result(model, talk, monkeypatch):
    wave, spans = talk
    # A model that never ends its turn writes on into training documents of the pretraining mix.
    monkeypatch.setattr(model, "_decode", lambda ids: "a red car\nEnglish: a red car\nSpeech: ")
    for result in (model.transcribe(wave, max_chunk_s=4.0, max_new_tokens=2),
                   model.translate(wave[: 3 * SR], to="de", max_new_tokens=2)):
        assert result.segments and all(s.text == "a red car" for s in result.segments)
        words = re.findall(r"\w+:", result.text)
        assert words == [] and "Speech" not in result.text and "English" not in result.text


# ------------------------------------------------------------------ CLI: one file per input


def _parse_srt(text: str) -> list[tuple[str, str]]:
    blocks = text.strip("\n").split("\n\n") if text.strip() else []
    out = []
    for number, block in enumerate(blocks, start=1):
        index, timing, *lines = block.split("\n")
        assert index == str(number) and lines
        assert re.fullmatch(r"\d\d:\d\d:\d\d,\d{3} --> \d\d:\d\d:\d\d,\d{3}", timing)
        out.append((timing, "\n".join(lines)))
    return out


@pytest.fixture(scope="module")
def files(tmp_path_factory, talk):
    root = tmp_path_factory.mktemp("cli_long")
    (root / "a").mkdir()
    (root / "b").mkdir()
    sf.write(root / "a" / "talk.wav", talk[0], SR)
    sf.write(root / "b" / "talk.flac", talk[0][: SR * 3], SR)  # same name, other folder
    sf.write(root / "quiet.wav", np.zeros(SR * 3, np.float32), SR)
    return root, [str(root / "a" / "talk.wav"), str(root / "b" / "talk.flac"), str(root / "quiet.wav")]


def _cli(model_dir, *argv):
    return main(["transcribe", "--model", str(model_dir), "--max-new-tokens", "3",
                 "--max-chunk-s", "4", *argv])


def test_cli_writes_srt_and_vtt_named_after_each_input(model_dir, files, tmp_path, capsys):
    root, inputs = files
    for format in ("srt", "vtt"):
        out = tmp_path / format
        assert _cli(model_dir, "--output-format", format, "--output-dir", str(out), *inputs) == 0
        printed = capsys.readouterr().out.splitlines()
        written = [out / f"talk.{format}", out / f"talk-2.{format}", out / f"quiet.{format}"]
        assert printed == [f"{i} -> {p}" for i, p in zip(inputs, written)]
        texts = [p.read_text() for p in written]
        if format == "srt":
            srt = pytest.importorskip("srt")
            parsed = list(srt.parse(texts[0]))
            assert [s.index for s in parsed] == list(range(1, len(parsed) + 1))
            starts = [s.start.total_seconds() for s in parsed]
            assert starts == sorted(starts)
            assert len(_parse_srt(texts[0])) == len(parsed) and texts[2] == ""
        else:
            webvtt = pytest.importorskip("webvtt")
            from io import StringIO

            captions = webvtt.from_buffer(StringIO(texts[0])).captions
            assert all(c.start_in_seconds <= c.end_in_seconds for c in captions)
            assert texts[2] == "WEBVTT\n"  # no speech: a valid file without cues


def test_cli_jsonl_and_txt_files_hold_the_segments(model_dir, files, tmp_path, capsys):
    root, inputs = files
    assert _cli(model_dir, "--output-format", "jsonl", "--output-dir", str(tmp_path), inputs[0]) == 0
    rows = [json.loads(line) for line in (tmp_path / "talk.jsonl").read_text().splitlines()]
    assert len(rows) == 3 and all(set(r) == {"start_s", "end_s", "text"} for r in rows)
    assert [r["start_s"] for r in rows] == sorted(r["start_s"] for r in rows)
    assert _cli(model_dir, "--output-dir", str(tmp_path), inputs[0]) == 0  # txt by default
    lines = (tmp_path / "talk.txt").read_text().splitlines()
    assert lines == [r["text"] for r in rows if r["text"].strip()]
    capsys.readouterr()
    # The default output is unchanged: one line per input on stdout, and jsonl carries segments.
    assert _cli(model_dir, *inputs) == 0
    assert len(capsys.readouterr().out.splitlines()) == 3
    assert _cli(model_dir, "--format", "jsonl", inputs[2]) == 0
    (record,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert record["text"] == "" and record["segments"] == [] and record["num_chunks"] == 0


def test_cli_rows_are_named_by_id_and_clashing_options_refused(model_dir, files, tmp_path, capsys):
    root, inputs = files
    manifest = root / "test.jsonl"
    manifest.write_text(json.dumps({"id": "utt.1", "audio": "quiet.wav", "text": ""}) + "\n")
    assert _cli(model_dir, "--output-format", "vtt", "--output-dir", str(tmp_path), str(manifest)) == 0
    assert (tmp_path / "utt.1.vtt").read_text() == "WEBVTT\n"
    capsys.readouterr()
    assert _cli(model_dir, "--output-dir", str(tmp_path), "-o", str(tmp_path / "x.txt"), inputs[2]) == 2
    assert "--output must not be given" in capsys.readouterr().err
    assert _cli(model_dir, "--output-format", "srt", "--format", "jsonl", inputs[2]) == 2
    assert "--output-format jsonl" in capsys.readouterr().err
    (tmp_path / "file").write_text("")
    assert _cli(model_dir, "--output-dir", str(tmp_path / "file"), inputs[2]) == 2
    assert "must be a folder" in capsys.readouterr().err
