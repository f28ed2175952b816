"""SpireModel on a tiny extended Llama and an MFCC + k-means extractor fit on the spot."""

import numpy as np
import pytest
import soundfile as sf

from spire.errors import LanguageError, VocabularyError
from spire.inference.chunking import chunk_bounds, split_audio
from spire.inference.generation import DecodingSettings
from spire.inference.model import SpireModel, SpireResult
from spire.vocab.metadata import ExtractorMismatchError

NUM_UNITS = 24
SR = 16000


def _extractor(k: int, seed: int = 0):
    from units import KMeansQuantizer, MfccFeaturizer, UnitExtractor
    from units.testing import tone_speech

    featurizer = MfccFeaturizer()
    waves = [tone_speech(1.5, seed=seed + s) for s in range(4)]
    features = np.concatenate([f.cpu().numpy() for f in featurizer.featurize(waves)])
    quantizer = KMeansQuantizer.fit(features, k, seed=seed, provenance=featurizer.provenance())
    return UnitExtractor(featurizer, quantizer)


@pytest.fixture(scope="module")
def parts(tmp_path_factory):
    """(model_dir with extractor/ beside it, extractor)."""
    from spire.testing import tiny_llama
    from spire.vocab.extend import extend_model

    root = tmp_path_factory.mktemp("spire_model")
    extractor = _extractor(NUM_UNITS)
    base = tiny_llama(root / "base")
    result = extend_model(
        base, root / "model", num_units=NUM_UNITS, extractor_provenance=extractor.provenance()
    )
    extractor.save_pretrained(result.out_dir / "extractor")
    return result.out_dir, extractor


@pytest.fixture(scope="module")
def model(parts):
    return SpireModel.from_pretrained(parts[0], device="cpu")


def _clip(seconds: float, seed: int) -> np.ndarray:
    from units.testing import tone_speech

    return tone_speech(seconds, seed=seed)


def test_transcribe_file_array_and_batch(model, tmp_path):
    path = tmp_path / "clip.wav"
    sf.write(path, _clip(1.0, 7), SR)
    one = model.transcribe(str(path), max_new_tokens=6)
    assert isinstance(one, SpireResult) and isinstance(one.text, str)
    assert one.task == "asr" and one.language == "English" and one.num_chunks == 1
    assert one.decoding == DecodingSettings(max_new_tokens=6)
    assert one.duration_s == pytest.approx(1.0)
    assert one.num_units > 0 and 1 <= len(one.token_ids[0]) <= 6
    from_array = model.transcribe(_clip(1.0, 7), max_new_tokens=6)
    assert from_array.token_ids == one.token_ids  # same audio, same answer
    batch = model.transcribe(
        [str(path), (_clip(0.7, 8), SR), {"audio": {"array": _clip(0.5, 9), "sampling_rate": SR}}],
        max_new_tokens=6,
    )
    assert [type(r) for r in batch] == [SpireResult] * 3
    assert batch[0].token_ids == one.token_ids


def test_translate_and_translate_text_return_strings(model):
    result = model.translate(_clip(0.8, 3), to="de", max_new_tokens=5)
    assert isinstance(result.text, str) and result.task == "st" and result.language == "German"
    texts = model.translate_text(
        ["the small house", "a green river"], src="en", tgt="French", max_new_tokens=5
    )
    assert [r.language for r in texts] == ["French", "French"] and all(
        isinstance(r.text, str) for r in texts
    )


def test_prompt_is_chatml_with_paper_prompt(model):
    from spire import prompts

    units = model.extractor.extract_waves([_clip(0.5, 1)])[0].text
    chat = model._chat(prompts.st_prompt(units, "German"))
    assert chat == f"<|im_start|>user\nSpeech: {units}\nGerman:<|im_end|>\n<|im_start|>assistant\n"


def test_batched_equals_one_by_one_under_greedy(model):
    clips = [
        _clip(seconds, seed)
        for seconds, seed in [(0.4, 11), (1.3, 12), (0.8, 13), (2.0, 14), (0.6, 15)]
    ]
    alone = [model.transcribe(c, max_new_tokens=8).token_ids for c in clips]
    batched = model.transcribe(clips, batch_size=3, max_new_tokens=8)
    assert [r.token_ids for r in batched] == alone


def test_beam_search_runs_and_is_recorded(model):
    result = model.transcribe(_clip(0.6, 4), num_beams=3, max_new_tokens=4)
    assert result.decoding.num_beams == 3 and isinstance(result.text, str)


def test_long_audio_is_chunked_within_bound(model):
    wave = _clip(9.0, 21)
    bounds = chunk_bounds(wave, SR, max_chunk_s=2.0)
    assert bounds[0][0] == 0 and bounds[-1][1] == len(wave)
    assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))  # contiguous, no gaps
    assert all(0 < end - start <= 2 * SR for start, end in bounds)
    assert len(bounds) >= 5
    result = model.transcribe(wave, max_chunk_s=2.0, max_new_tokens=3)
    assert result.num_chunks == len(bounds) == len(result.token_ids)


def test_chunks_cut_in_pauses():
    loud = np.random.default_rng(0).normal(0, 0.5, SR * 30).astype(np.float32)
    loud[SR * 12 : SR * 12 + SR // 5] = 0.0  # 200 ms of silence at 12 s
    (first, cut), (start, end) = chunk_bounds(loud, SR, max_chunk_s=20.0)
    assert SR * 12 <= cut <= SR * 12 + SR // 5 and start == cut and end == len(loud)
    assert [len(c) for c in split_audio(loud[: SR * 10], SR, max_chunk_s=20.0)] == [SR * 10]


def test_unknown_language_lists_supported(model):
    with pytest.raises(LanguageError, match="German"):
        model.translate(_clip(0.5, 2), to="Klingon")


def test_model_without_unit_tokens_says_run_extend(tmp_path, parts):
    from spire.testing import tiny_llama

    base = tiny_llama(tmp_path / "plain")
    with pytest.raises(VocabularyError, match="spire extend"):
        SpireModel.from_pretrained(base, parts[1])


def test_extractor_with_other_units_is_refused(parts):
    with pytest.raises(ExtractorMismatchError, match="k \\(the model's: 24, the extractor's: 25\\)"):
        SpireModel.from_pretrained(parts[0], _extractor(NUM_UNITS + 1))
    with pytest.raises(ExtractorMismatchError, match="checksum"):
        SpireModel.from_pretrained(parts[0], _extractor(NUM_UNITS, seed=5))


def test_vllm_backend_without_vllm_is_a_clear_error(monkeypatch):
    import sys

    from spire.inference.generation import BackendError, load_vllm

    monkeypatch.setitem(sys.modules, "vllm", None)  # makes `import vllm` fail
    with pytest.raises(BackendError, match="pip install vllm"):
        load_vllm("model")


def test_decoding_settings_are_validated():
    from spire.errors import SpireError

    with pytest.raises(SpireError, match="num_beams must be an integer >= 1"):
        DecodingSettings(num_beams=0)
    with pytest.raises(SpireError, match="backend must be"):
        DecodingSettings(backend="onnx")
