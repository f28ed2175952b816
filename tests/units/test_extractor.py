"""UnitExtractor: save/load round trip, mismatch refusal, list == one by one, all audio inputs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
import torch

from units.encoding import text_to_ids
from units.errors import QuantizerMismatchError, UnitFormatError
from units.extractor import UnitExtractor, UnitSequence
from units.features.mfcc import MfccFeaturizer
from units.features.ssl_featurizer import SSLFeaturizer
from units.kmeans.quantizer import KMeansQuantizer
from units.testing import tone_speech


def _waves(n=4, offset=0):
    return [tone_speech(0.8 + 0.37 * i, seed=offset + i) for i in range(n)]


def _fit(featurizer, k=12, waves=None):
    feats = torch.cat(featurizer.featurize(waves or _waves(6, offset=50))).cpu().numpy()
    return KMeansQuantizer.fit(feats, k, niter=10, provenance=featurizer.provenance())


@pytest.fixture(scope="module")
def mfcc_extractor():
    featurizer = MfccFeaturizer()
    return UnitExtractor(featurizer, _fit(featurizer))


def test_sequence_invariants(mfcc_extractor):
    wave = tone_speech(2.0, seed=1)
    seq = mfcc_extractor.extract((wave, 16000))
    assert isinstance(seq, UnitSequence)
    assert seq.ids.dtype == np.int64 and seq.durations.dtype == np.int64
    assert len(seq.ids) == len(seq.durations) and int(seq.durations.sum()) == seq.n_frames == 99
    assert (seq.ids[1:] != seq.ids[:-1]).all() and (seq.durations >= 1).all()
    assert text_to_ids(seq.text) == seq.ids.tolist()
    assert seq.duration_s == pytest.approx(2.0) and seq.frame_rate_hz == 50.0
    raw = UnitExtractor(mfcc_extractor.featurizer, mfcc_extractor.quantizer, dedup=False).extract(
        (wave, 16000)
    )
    assert len(raw.ids) == raw.n_frames == 99 and (raw.durations == 1).all()
    assert np.array_equal(np.repeat(seq.ids, seq.durations), raw.ids)
    extra = UnitExtractor(
        mfcc_extractor.featurizer, mfcc_extractor.quantizer, unit_format="extra_id"
    )
    assert extra.extract((wave, 16000)).text.startswith(f"<extra_id_{seq.ids[0]}>")


def test_list_equals_one_by_one(mfcc_extractor):
    waves = _waves()
    together = mfcc_extractor.extract([(w, 16000) for w in waves])
    assert isinstance(together, list) and len(together) == len(waves)
    for wave, seq in zip(waves, together):
        alone = mfcc_extractor.extract((wave, 16000))
        assert np.array_equal(seq.ids, alone.ids) and np.array_equal(seq.durations, alone.durations)
        assert seq.text == alone.text
    assert mfcc_extractor.extract([]) == []


def test_accepts_every_load_audio_source(mfcc_extractor, tmp_path):
    wave = tone_speech(1.5, seed=4)
    path = tmp_path / "clip.flac"
    sf.write(path, wave, 16000)
    expected = mfcc_extractor.extract((wave, 16000)).text
    flac_wave = sf.read(path, dtype="float32")[0]
    from_file = mfcc_extractor.extract(str(path))
    assert from_file.text == mfcc_extractor.extract((flac_wave, 16000)).text
    assert mfcc_extractor.extract(path.read_bytes()).text == from_file.text
    assert mfcc_extractor.extract({"array": wave, "sampling_rate": 16000}).text == expected
    assert mfcc_extractor.extract(wave, sample_rate=16000).text == expected
    assert mfcc_extractor.extract(torch.from_numpy(wave), sample_rate=16000).text == expected
    at_8k = mfcc_extractor.extract((wave[::2], 8000))
    assert at_8k.n_frames == mfcc_extractor.featurizer.num_frames(len(wave))


def test_ssl_round_trip_gives_identical_units(hubert_large_dir, tmp_path):
    featurizer = SSLFeaturizer.from_pretrained(hubert_large_dir, layer=3, device="cpu")
    extractor = UnitExtractor(featurizer, _fit(featurizer), unit_format="extra_id")
    extractor.save_pretrained(tmp_path / "ex")
    assert {p.name for p in (tmp_path / "ex").iterdir()} >= {
        "extractor.json",
        "featurizer.json",
        "kmeans",
    }
    loaded = UnitExtractor.from_pretrained(tmp_path / "ex", device="cpu")
    assert loaded.provenance() == extractor.provenance()
    assert loaded.unit_format == "extra_id" and loaded.dedup
    record = json.loads((tmp_path / "ex" / "extractor.json").read_text())
    assert record["provenance"]["featurizer"]["layer"] == 3
    assert record["provenance"]["kmeans"]["checksum"] == extractor.quantizer.checksum
    waves = _waves()
    for a, b in zip(extractor.extract_waves(waves), loaded.extract_waves(waves)):
        assert np.array_equal(a.ids, b.ids) and a.text == b.text


def test_mfcc_round_trip(mfcc_extractor, tmp_path):
    mfcc_extractor.save_pretrained(tmp_path / "ex")
    loaded = UnitExtractor.from_pretrained(tmp_path / "ex")
    waves = _waves()
    assert [s.text for s in loaded.extract_waves(waves)] == [
        s.text for s in mfcc_extractor.extract_waves(waves)
    ]


def test_mismatched_layer_is_refused_with_override(hubert_large_dir):
    layer2 = SSLFeaturizer.from_pretrained(hubert_large_dir, layer=2, device="cpu")
    layer3 = SSLFeaturizer.from_pretrained(hubert_large_dir, layer=3, device="cpu")
    quantizer = _fit(layer2)
    UnitExtractor(layer2, quantizer)
    with pytest.raises(
        QuantizerMismatchError, match=r"layer \(k-means was fit on 2, the featurizer gives 3\)"
    ) as info:
        UnitExtractor(layer3, quantizer)
    assert "check_compatible=False" in str(info.value)
    assert (
        UnitExtractor(layer3, quantizer, check_compatible=False)
        .extract_waves(_waves(1))[0]
        .n_frames
        > 0
    )


def test_other_encoder_weights_are_refused(hubert_large_dir, wav2vec2_dir):
    hubert = SSLFeaturizer.from_pretrained(hubert_large_dir, layer=2, device="cpu")
    wav2vec2 = SSLFeaturizer.from_pretrained(wav2vec2_dir, layer=2, device="cpu")
    with pytest.raises(QuantizerMismatchError, match="encoder weights") as info:
        UnitExtractor(wav2vec2, _fit(hubert))
    assert "model_type" in str(info.value)


def test_wrong_dimension_is_refused_even_with_override(hubert_large_dir):
    mfcc = MfccFeaturizer()
    hubert = SSLFeaturizer.from_pretrained(hubert_large_dir, layer=2, device="cpu")
    for check in (True, False):
        with pytest.raises(QuantizerMismatchError, match="dimension 32, but have 39"):
            UnitExtractor(hubert, _fit(mfcc), check_compatible=check)


def test_quantizer_without_provenance_is_accepted():
    featurizer = MfccFeaturizer()
    centroids = np.random.default_rng(0).normal(size=(5, 39)).astype(np.float32)
    seq = UnitExtractor(featurizer, KMeansQuantizer(centroids)).extract(
        (tone_speech(1.0, seed=0), 16000)
    )
    assert set(seq.ids.tolist()) <= set(range(5))


def test_bad_unit_format():
    featurizer = MfccFeaturizer()
    with pytest.raises(UnitFormatError, match="unit_format"):
        UnitExtractor(featurizer, KMeansQuantizer(np.zeros((2, 39), np.float32)), unit_format="hex")


def test_save_is_atomic_and_honours_the_umask(mfcc_extractor, tmp_path):
    import os

    old = os.umask(0o027)
    try:
        folder = mfcc_extractor.save_pretrained(tmp_path / "ex")
    finally:
        os.umask(old)
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert files == [
        "extractor.json",
        "featurizer.json",
        "kmeans/centroids.safetensors",
        "kmeans/kmeans.json",
    ]  # no temporaries left behind
    for name in files:
        assert (folder / name).stat().st_mode & 0o777 == 0o640, name
    record = json.loads((folder / "extractor.json").read_text())
    assert record["unit_format"] == "pua" and record["provenance"] == mfcc_extractor.provenance()
