"""What `SpireModel` does with inputs: bad ones in a batch, and bare arrays of unknown rate."""

import warnings

import numpy as np
import pytest
import soundfile as sf

from spire.inference.inputs import rate_doubt
from spire.inference.model import SpireModel
from units.errors import AudioError

K = 12
SR = 16000


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    from spire.testing import tiny_llama
    from spire.vocab.extend import extend_model
    from units import KMeansQuantizer, MfccFeaturizer, UnitExtractor

    root = tmp_path_factory.mktemp("inputs")
    featurizer = MfccFeaturizer()
    features = np.random.default_rng(0).standard_normal((900, 39)).astype("float32")
    quantizer = KMeansQuantizer.fit(features, K, seed=0, provenance=featurizer.provenance())
    extractor = UnitExtractor(featurizer, quantizer)
    extractor.save_pretrained(root / "extractor")
    out = extend_model(tiny_llama(root / "base"), root / "m", num_units=K,
                       extractor_dir=root / "extractor").out_dir
    return SpireModel.from_pretrained(out, device="cpu")


def _speech(seconds: float, seed: int, sample_rate: int = SR) -> np.ndarray:
    from units.testing import tone_speech

    return tone_speech(seconds, seed=seed, sample_rate=sample_rate)


def test_a_bad_input_does_not_take_the_batch_down(model, tmp_path):
    good = tmp_path / "good.wav"
    sf.write(good, _speech(0.8, 3), SR)
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF not really a wav file")
    batch = [str(good), str(corrupt), (np.zeros(100, dtype=np.float32), SR), str(good)]
    with pytest.raises(AudioError, match="corrupt.wav"):
        model.transcribe(batch, max_new_tokens=4)
    results = model.transcribe(batch, max_new_tokens=4, on_error="keep")
    alone = model.transcribe(str(good), max_new_tokens=4)
    assert [r.error is None for r in results] == [True, False, False, True]
    assert "corrupt.wav" in results[1].error and results[1].text == ""
    assert results[2].error and results[2].num_chunks == 0
    assert results[0].token_ids == alone.token_ids == results[3].token_ids
    with pytest.raises(Exception, match="on_error"):
        model.transcribe(str(good), on_error="ignore")


def test_bare_array_rate_is_doubted_only_when_it_looks_wrong(model):
    t = np.arange(48000 * 2) / 48000
    at_48k = sum(np.sin(2 * np.pi * f * t) / (i + 1) for i, f in enumerate((180, 360, 540, 900)))
    at_48k = (0.3 * at_48k).astype(np.float32)
    with pytest.warns(UserWarning, match="sample_rate"):
        model.transcribe(at_48k, max_new_tokens=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.transcribe(at_48k, sample_rate=48000, max_new_tokens=2)  # the rate said: no doubt
        model.transcribe(_speech(1.0, 5), max_new_tokens=2)  # speech at 16 kHz: no doubt
        model.transcribe((at_48k, 48000), max_new_tokens=2)  # a pair carries its rate
    assert rate_doubt(np.zeros(SR, dtype=np.float32), SR) is None  # silence says nothing
    assert "16000 Hz" in model.transcribe.__doc__ or "16 kHz" in model.transcribe.__doc__
