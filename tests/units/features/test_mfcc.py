"""MfccFeaturizer: shape and frame rate, frames aligned with HuBERT, deltas, CMN, save/load."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch
from transformers import HubertConfig, HubertModel

from units.features.base import FeaturizerConfigError
from units.features.mfcc import MfccFeaturizer, deltas, mel_filterbank
from units.features.registry import load_featurizer
from units.testing import tone_speech


def test_shape_and_frame_rate():
    featurizer = MfccFeaturizer()
    feats = featurizer.featurize([tone_speech(1.0, seed=0), tone_speech(2.5, seed=1)])
    assert [tuple(f.shape) for f in feats] == [(49, 39), (124, 39)]
    assert feats[0].dtype == torch.float32
    assert featurizer.dim == 39 and featurizer.frame_rate_hz == 50.0
    assert MfccFeaturizer(deltas=False).featurize([tone_speech(1.0, seed=0)])[0].shape == (49, 13)


def test_frames_align_with_hubert_conv_stack():
    config = HubertConfig(
        hidden_size=8,
        num_hidden_layers=1,
        num_attention_heads=1,
        intermediate_size=8,
        conv_dim=(4,) * 7,
        num_conv_pos_embeddings=4,
        num_conv_pos_embedding_groups=1,
    )
    model = HubertModel(config)
    featurizer = MfccFeaturizer()
    lengths = [400, 401, 719, 720, 721, 16000, 16079, 16080, 123457]
    expected = model._get_feat_extract_output_lengths(torch.tensor(lengths)).tolist()
    assert [featurizer.num_frames(n) for n in lengths] == expected
    assert [
        featurizer.compute(np.random.default_rng(n).normal(size=n).astype(np.float32)).shape[0]
        for n in lengths
    ] == expected


def test_deltas_of_a_ramp_and_filterbank_shape():
    ramp = np.arange(10.0)[:, None] * 3.0
    d = deltas(ramp)
    assert np.allclose(d[2:-2], 3.0)  # slope 3 away from the edges
    assert np.allclose(deltas(d)[4:-4], 0.0)
    bank = mel_filterbank(23)
    assert bank.shape == (257, 23) and (bank >= 0).all() and (bank.max(axis=0) > 0.5).all()


def test_mean_normalisation_removes_gain():
    # A louder or quieter recording of the same speech: CMN makes the features equal.
    wave = tone_speech(2.0, seed=3)
    cmn = MfccFeaturizer(cmvn="mean")
    torch.testing.assert_close(
        cmn.featurize([wave])[0], cmn.featurize([wave * 0.25])[0], atol=2e-3, rtol=1e-3
    )
    raw = MfccFeaturizer(cmvn="none")
    assert (raw.featurize([wave])[0] - raw.featurize([wave * 0.25])[0]).abs().max() > 1.0
    assert cmn.featurize([wave])[0].mean(dim=0).abs().max() < 1e-3
    var = MfccFeaturizer(cmvn="meanvar").featurize([wave])[0]
    torch.testing.assert_close(var.std(dim=0, unbiased=False), torch.ones(39), atol=1e-3, rtol=1e-3)


def test_deterministic_and_order_preserving():
    featurizer = MfccFeaturizer()
    waves = [tone_speech(s, seed=i) for i, s in enumerate([1.2, 0.5, 2.0])]
    together = featurizer.featurize(waves)
    for wave, feats in zip(waves, together):
        assert torch.equal(feats, featurizer.featurize([wave])[0])


def test_save_load_round_trip(tmp_path):
    featurizer = MfccFeaturizer(n_mfcc=12, cmvn="meanvar")
    featurizer.save_pretrained(tmp_path)
    loaded = load_featurizer(tmp_path)
    assert isinstance(loaded, MfccFeaturizer)
    assert loaded.provenance() == featurizer.provenance()
    assert loaded.provenance()["dim"] == 36 and loaded.provenance()["type"] == "mfcc"
    wave = tone_speech(1.0, seed=5)
    assert torch.equal(loaded.featurize([wave])[0], featurizer.featurize([wave])[0])
    assert MfccFeaturizer().provenance()["encoder_hash"] != featurizer.provenance()["encoder_hash"]


def test_fast_enough_for_corpus_labelling():
    featurizer = MfccFeaturizer()
    wave = tone_speech(120.0, seed=0)
    start = time.perf_counter()
    featurizer.featurize([wave])
    elapsed = time.perf_counter() - start
    print(f"MFCC: 120 s of audio in {elapsed:.3f} s ({120 / elapsed:.0f}x real time)")
    assert elapsed < 5.0


def test_bad_settings_and_inputs():
    with pytest.raises(FeaturizerConfigError, match="cmvn"):
        MfccFeaturizer(cmvn="global")
    with pytest.raises(FeaturizerConfigError, match="n_mfcc"):
        MfccFeaturizer(n_mfcc=40)
    from units.errors import AudioError

    with pytest.raises(AudioError, match="400 samples"):
        MfccFeaturizer().featurize([np.zeros(399, np.float32)])


def test_stacked_frames_are_consecutive_frames_side_by_side(tmp_path):
    plain, stacked = MfccFeaturizer(cmvn="meanvar"), MfccFeaturizer(cmvn="meanvar", stack=2)
    wave = tone_speech(1.0, seed=3)  # 49 frames at 50 Hz: the 49th does not fill a pair
    one, two = plain.featurize([wave])[0], stacked.featurize([wave])[0]
    assert two.shape == (24, 78) and stacked.num_frames(len(wave)) == 24
    assert stacked.dim == 78 and stacked.frame_rate_hz == 25.0
    assert torch.equal(two[:, :39], one[0:48:2]) and torch.equal(two[:, 39:], one[1:48:2])
    stacked.save_pretrained(tmp_path)
    loaded = load_featurizer(tmp_path)
    assert loaded.stack == 2 and loaded.provenance() == stacked.provenance()
    # stack=1 is left out of the settings: featurizers saved before the option keep their hash
    assert "stack" not in plain.provenance() and stacked.provenance()["stack"] == 2
    from units.errors import AudioError

    with pytest.raises(AudioError, match="720 samples"):
        stacked.featurize([np.zeros(700, np.float32)])
    for bad in (0, 1.5, True):
        with pytest.raises(FeaturizerConfigError, match="stack"):
            MfccFeaturizer(stack=bad)
