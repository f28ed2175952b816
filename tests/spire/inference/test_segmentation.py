"""Speech activity detection on synthesized speech: pauses, silence, noise, long speech."""

import doctest

import numpy as np
import pytest

from spire.errors import SpireError
from spire.inference import segmentation
from spire.inference.segmentation import Segment, SileroVad, speech_segments

pytest.importorskip("espeakng_loader", reason="speech synthesis needs espeakng-loader (dev extra)")
from spire.mini.tts import synthesize  # noqa: E402

SR = 16000
SENTENCES = [
    "the old man sees three black dogs in the garden",
    "a red car stops near the small house",
    "she reads a long book every night",
    "we walked to the station in the rain",
    "my brother plays the piano after dinner",
]


def _voiced_span(wave: np.ndarray) -> tuple[float, float]:
    """Where the synthesized waveform is audible, in seconds (espeak adds ~10 ms either side)."""
    loud = np.flatnonzero(np.abs(wave) > 1e-3)
    return loud[0] / SR, (loud[-1] + 1) / SR


@pytest.fixture(scope="module")
def utterances():
    voices = ["en-us", "en-us+f2", "en-us+m3", "en", "en-us"]
    return [synthesize(text, voice=voice) for text, voice in zip(SENTENCES, voices)]


@pytest.fixture(scope="module")
def vad():
    return SileroVad.from_package()


def test_silence_gives_no_segment(vad):
    assert speech_segments(np.zeros(SR * 10, dtype=np.float32), SR, vad=vad) == []
    assert speech_segments(np.zeros(0, dtype=np.float32), SR, vad=vad) == []


@pytest.mark.parametrize("std", [0.01, 0.1, 0.3])
def test_white_noise_gives_no_segment(vad, std):
    # At the default threshold 0.5; std 0.3 is louder than the synthesized speech (RMS ~0.1).
    noise = np.random.default_rng(0).normal(0, std, SR * 10).astype(np.float32)
    assert speech_segments(noise, SR, vad=vad) == []


def _with_pauses(utterances, seed: int) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """The utterances joined with 1-3 s of silence before each (and 1 s after the last), and
    where each one is audible in the recording, in seconds."""
    rng = np.random.default_rng(seed)
    parts, truth, now = [], [], 0.0
    for wave in utterances:
        pause = np.zeros(int(rng.uniform(1.0, 3.0) * SR), dtype=np.float32)
        start, end = _voiced_span(wave)
        truth.append((now + len(pause) / SR + start, now + len(pause) / SR + end))
        parts += [pause, wave]
        now += (len(pause) + len(wave)) / SR
    parts.append(np.zeros(SR, dtype=np.float32))
    return np.concatenate(parts), truth


def test_one_segment_per_utterance_between_pauses(vad, utterances):
    recording, truth = _with_pauses(utterances, seed=3)
    found = speech_segments(recording, SR, vad=vad, max_piece_s=30.0)
    assert len(found) == len(truth)
    for piece, (start, end) in zip(found, truth):
        assert abs(piece.start_s - start) <= 0.3 and abs(piece.end_s - end) <= 0.3, (piece, start, end)


def test_speech_without_pauses_is_cut_into_short_pieces_covering_it(vad, utterances):
    wave = np.concatenate(utterances)  # ~12 s with no pause between sentences
    start, end = _voiced_span(wave)
    pieces = speech_segments(wave, SR, vad=vad, max_piece_s=4.0)
    assert len(pieces) >= 3
    assert all(p.duration_s <= 4.0 for p in pieces)
    assert all(a.end_s == b.start_s for a, b in zip(pieces, pieces[1:]))  # parts touch
    assert pieces[0].start_s <= start + 0.3 and pieces[-1].end_s >= end - 0.3


def test_other_sample_rates_give_the_same_pieces(vad, utterances):
    import soxr

    wave = np.concatenate([np.zeros(SR, np.float32), utterances[0], np.zeros(2 * SR, np.float32),
                           utterances[1], np.zeros(SR, np.float32)])
    at_16k = speech_segments(wave, SR, vad=vad)
    at_44k = speech_segments(soxr.resample(wave, SR, 44100).astype(np.float32), 44100, vad=vad)
    assert len(at_16k) == len(at_44k) == 2
    for a, b in zip(at_16k, at_44k):
        assert abs(a.start_s - b.start_s) < 0.05 and abs(a.end_s - b.end_s) < 0.05


def test_segment_slices_the_wave():
    wave = np.arange(SR * 4, dtype=np.float32)
    piece = wave[Segment(1.5, 2.25).samples(SR)]
    assert len(piece) == int(0.75 * SR) and piece[0] == 1.5 * SR


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"wave": np.zeros((2, 100), np.float32)}, "wave must be a 1-D float array"),
        ({"wave": np.zeros(100, np.int16)}, "wave must be a 1-D float array"),
        ({"wave": np.full(100, np.nan, np.float32)}, "finite samples"),
        ({"sample_rate": 0}, "sample_rate must be an integer"),
        ({"sample_rate": 16000.0}, "sample_rate must be an integer"),
        ({"max_piece_s": 0.0}, "max_piece_s must be a finite number"),
        ({"max_piece_s": float("inf")}, "max_piece_s must be a finite number"),
        ({"min_silence_s": -1.0}, "min_silence_s must be"),
        ({"threshold": 1.5}, "threshold must be"),
        ({"pad_s": float("nan")}, "pad_s must be"),
    ],
)
def test_bad_arguments_are_refused_by_name(vad, kwargs, match):
    args = {"wave": np.zeros(SR, np.float32), "sample_rate": SR, "vad": vad, **kwargs}
    with pytest.raises(SpireError, match=match):
        speech_segments(args.pop("wave"), args.pop("sample_rate"), **args)


def test_wrong_weights_are_refused(tmp_path):
    with pytest.raises(SpireError, match=r"weights\['conv1.weight'\] must have shape"):
        SileroVad({"stft_conv.weight": np.zeros((258, 1, 256), np.float32)})
    with pytest.raises(SpireError, match="pip install 'silero-vad>=6.2.1'"):
        SileroVad.from_file(tmp_path / "missing.safetensors")
    (tmp_path / "damaged.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(SpireError, match="must be a readable safetensors file"):
        SileroVad.from_file(tmp_path / "damaged.safetensors")


def test_loading_leaves_torch_threads_alone():
    import torch

    before = torch.get_num_threads()
    segmentation._packaged_vad.cache_clear()
    SileroVad.from_package().probabilities(np.zeros(SR, np.float32))
    assert torch.get_num_threads() == before  # importing silero_vad itself would set it to 1


def test_scoring_in_blocks_equals_scoring_at_once(vad, utterances, monkeypatch):
    wave = np.concatenate(utterances[:2])
    whole = vad.probabilities(wave)
    monkeypatch.setattr(segmentation, "_BLOCK", 7)  # LSTM state carried across block edges
    np.testing.assert_allclose(vad.probabilities(wave), whole, atol=1e-5)


def test_docstring_examples_run():
    result = doctest.testmod(segmentation)
    assert result.attempted > 0 and result.failed == 0


def test_pieces_are_trimmed_to_the_speech_within_a_few_frames(vad, utterances):
    # Models trained on clips that start and end with speech read edge silence as units they never
    # saw there; cut_recording trims every piece it finds to its audible part.
    from spire.inference.long_audio import cut_recording

    recording, truth = _with_pauses(utterances, seed=5)
    trimmed = cut_recording(recording, SR, max_piece_s=8.0, detector=vad)
    kept = cut_recording(recording, SR, max_piece_s=8.0, detector=vad, trim_db=None)
    assert len(trimmed.spans) == len(kept.spans) == len(truth)
    for piece, wide, (start, end) in zip(trimmed.spans, kept.spans, truth):
        assert abs(piece.start_s - start) <= 0.03 and abs(piece.end_s - end) <= 0.03, (piece, start, end)
        assert wide.start_s < piece.start_s - 0.05 and wide.end_s > piece.end_s + 0.05  # the detector's edges
    for wave, span in zip(trimmed.waves, trimmed.spans):
        assert len(wave) == span.samples(SR).stop - span.samples(SR).start


def test_trim_edges_keeps_quiet_speech_and_drops_silence():
    from spire.inference.segmentation import trim_edges

    quiet = np.concatenate([np.zeros(SR // 2), 0.001 * np.ones(SR // 10), np.zeros(SR // 2)]).astype(np.float32)
    assert trim_edges(quiet, SR) == slice(SR // 2, SR // 2 + SR // 10)   # relative to the piece's own peak
    assert trim_edges(np.zeros(SR, dtype=np.float32), SR) == slice(0, 0)
    assert trim_edges(np.zeros(0, dtype=np.float32), SR) == slice(0, 0)
    with pytest.raises(SpireError, match="top_db must be > 0"):
        trim_edges(quiet, SR, top_db=0)
