"""SSLFeaturizer: layer L == transformers' hidden_states[L], layers above L never run,
batched == one by one, chunked long audio, bf16 vs fp32, save/load and provenance."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
import torch
from transformers import AutoModel, WhisperModel

from units.errors import AudioError, ModelFormatError
from units.features.base import FeaturizerConfigError
from units.features.fft_conv import FftGroupedConv1d
from units.features.registry import load_featurizer
from units.features.ssl_featurizer import SSLFeaturizer
from units.kmeans.quantizer import KMeansQuantizer
from units.testing import tiny_hubert, tone_speech

LENGTHS_S = (1.0, 1.37, 0.6, 2.1, 1.37)


def _waves(lengths=LENGTHS_S, offset=0):
    return [tone_speech(s, seed=offset + i) for i, s in enumerate(lengths)]


def _reference(model_dir, wave, layer, featurizer):
    """hidden_states[layer] of the full, untruncated model, fed the way its processor would."""
    with torch.no_grad():
        if featurizer.provenance()["model_type"] == "whisper":
            model = WhisperModel.from_pretrained(model_dir).eval()
            x = featurizer._family.feature_extractor(wave, sampling_rate=16000, return_tensors="pt")
            out = model.encoder(x.input_features, output_hidden_states=True)
            return out.hidden_states[layer][0]
        model = AutoModel.from_pretrained(model_dir).eval()
        if featurizer.provenance()["model_type"] == "wav2vec2-bert":
            x = featurizer._family.feature_extractor(
                wave, sampling_rate=16000, padding=False, return_tensors="pt"
            ).input_features
        else:
            x = torch.from_numpy(wave)[None]
            if featurizer.normalize:
                x = (x - x.mean()) / torch.sqrt(x.var(unbiased=False) + 1e-7)
        return model(x, output_hidden_states=True).hidden_states[layer][0]


@pytest.mark.parametrize(
    "name", ["hubert_base_dir", "hubert_large_dir", "wav2vec2_dir", "w2v_bert_dir", "whisper_dir"]
)
@pytest.mark.parametrize("layer", [1, 2])
def test_layer_equals_full_model_hidden_state(request, name, layer):
    model_dir = request.getfixturevalue(name)
    featurizer = SSLFeaturizer.from_pretrained(model_dir, layer=layer, device="cpu")
    wave = tone_speech(1.3, seed=layer)
    ours = featurizer.featurize([wave])[0]
    reference = _reference(model_dir, wave, layer, featurizer)
    assert ours.shape == (featurizer.num_frames(len(wave)), featurizer.dim)
    torch.testing.assert_close(ours, reference[: ours.shape[0]], atol=1e-5, rtol=1e-5)


def test_top_layer_is_before_the_final_norm(hubert_large_dir):
    # Stable-layer-norm HuBERT (the large layout) applies a final encoder norm after its last
    # layer; the featurizer must stop before it, like hidden_states[22] of HuBERT-large.
    featurizer = SSLFeaturizer.from_pretrained(hubert_large_dir, layer=4, device="cpu")
    wave = tone_speech(1.0, seed=0)
    model = AutoModel.from_pretrained(hubert_large_dir).eval()
    captured = {}
    model.encoder.layers[3].register_forward_hook(lambda m, i, o: captured.setdefault("h", o))
    with torch.no_grad():
        out = model(torch.from_numpy((wave - wave.mean()) / np.sqrt(wave.var() + 1e-7))[None])
    ours = featurizer.featurize([wave])[0]
    torch.testing.assert_close(ours, captured["h"][0], atol=1e-5, rtol=1e-5)
    assert not torch.allclose(ours, out.last_hidden_state[0], atol=1e-2)


@pytest.mark.parametrize("stable", [False, True])
def test_layers_above_l_are_never_called(hubert_base_dir, hubert_large_dir, stable):
    model = AutoModel.from_pretrained(hubert_large_dir if stable else hubert_base_dir)
    calls = [0] * len(model.encoder.layers)
    for index, module in enumerate(model.encoder.layers):
        module.register_forward_hook(
            lambda m, i, o, index=index: calls.__setitem__(index, calls[index] + 1)
        )
    featurizer = SSLFeaturizer(model, 2, device="cpu")
    featurizer.featurize(_waves())
    assert calls[0] > 0 and calls[1] > 0
    assert calls[2:] == [0, 0]
    assert len(featurizer._family.layers) == 2


@pytest.mark.parametrize(
    "name", ["hubert_large_dir", "wav2vec2_dir", "w2v_bert_dir", "whisper_dir"]
)
def test_batched_equals_one_by_one_with_attention_mask(request, name):
    featurizer = SSLFeaturizer.from_pretrained(request.getfixturevalue(name), layer=2, device="cpu")
    waves = _waves()
    batched = featurizer.featurize(waves)
    single = [featurizer.featurize([w])[0] for w in waves]
    for a, b in zip(batched, single):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)
    quantizer = KMeansQuantizer.fit(torch.cat(single).numpy(), 8, niter=10)
    for a, b in zip(batched, single):
        assert np.array_equal(quantizer.assign(a), quantizer.assign(b))


def test_group_norm_conv_stack_is_never_padded(hubert_base_dir):
    # The conv stack (group norm over time) sees each wave alone; the transformer layers after
    # it run as one masked batch of mixed lengths, and give what each wave gives alone.
    featurizer = SSLFeaturizer.from_pretrained(hubert_base_dir, layer=3, device="cpu")
    family, waves = featurizer._family, _waves()
    conv_inputs, batches = [], []
    conv_features, forward = family.conv_features, family.forward
    family.conv_features = lambda wave, *rest: (
        conv_inputs.append(len(wave)) or conv_features(wave, *rest)
    )
    family.forward = lambda b, *rest: batches.append({len(w) for w in b}) or forward(b, *rest)
    batched = featurizer.featurize(waves)
    assert sorted(conv_inputs) == sorted(len(w) for w in waves)
    assert any(len(lengths) > 1 for lengths in batches)  # mixed lengths share a batch
    family.conv_features, family.forward = conv_features, forward
    single = [featurizer.featurize([w])[0] for w in waves]
    for a, b in zip(batched, single):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)
    quantizer = KMeansQuantizer.fit(torch.cat(single).numpy(), 8, niter=10)
    for a, b in zip(batched, single):
        assert np.array_equal(quantizer.assign(a), quantizer.assign(b))
    # Why: padding a group-norm model's input changes its output, attention mask or not.
    model = AutoModel.from_pretrained(hubert_base_dir).eval()
    short, long = waves[0], waves[3]
    padded = torch.zeros(2, len(long))
    padded[0, : len(short)], padded[1] = torch.from_numpy(short), torch.from_numpy(long)
    mask = (torch.arange(len(long))[None] < torch.tensor([len(short), len(long)])[:, None]).long()
    with torch.no_grad():
        alone = model(torch.from_numpy(short)[None]).last_hidden_state[0]
        together = model(padded, attention_mask=mask).last_hidden_state[0, : len(alone)]
    assert (together - alone).abs().max() > 1e-3


def test_chunked_and_short_waves_batch_together_exactly(hubert_base_dir):
    # Chunks normalised with whole-utterance statistics share batches with unchunked waves.
    featurizer = SSLFeaturizer.from_pretrained(
        hubert_base_dir, layer=2, device="cpu", chunk_seconds=6.0, context_seconds=1.0
    )
    waves = [tone_speech(14.0, seed=3), *_waves((1.2, 2.0))]
    batched = featurizer.featurize(waves)
    single = [featurizer.featurize([w])[0] for w in waves]
    for a, b in zip(batched, single):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


def test_positional_conv_runs_folded_and_by_fft_on_cpu(hubert_base_dir):
    featurizer = SSLFeaturizer.from_pretrained(hubert_base_dir, layer=1, device="cpu")
    swapped = featurizer._family.model.encoder.pos_conv_embed.conv
    original = AutoModel.from_pretrained(hubert_base_dir).encoder.pos_conv_embed.conv
    assert isinstance(swapped, FftGroupedConv1d)
    assert torch.nn.utils.parametrize.is_parametrized(original)
    x = torch.randn(2, original.in_channels, 77)
    with torch.no_grad():
        torch.testing.assert_close(swapped(x), original(x), atol=1e-5, rtol=1e-5)


def test_batches_respect_max_batch_seconds(hubert_large_dir):
    featurizer = SSLFeaturizer.from_pretrained(
        hubert_large_dir, layer=1, device="cpu", max_batch_seconds=3.0
    )
    seen = []
    forward = featurizer._family.forward
    featurizer._family.forward = lambda b, d, t: (
        seen.append([len(w) for w in b]) or forward(b, d, t)
    )
    featurizer.featurize(_waves())
    assert sum(len(b) for b in seen) == len(LENGTHS_S)
    assert all(len(b) * max(b) <= 3.0 * 16000 or len(b) == 1 for b in seen)
    assert all(b == sorted(b, reverse=True) for b in seen)


@pytest.mark.parametrize("name", ["hubert_large_dir", "hubert_base_dir"])
def test_batches_keep_padding_below_its_share(request, name):
    featurizer = SSLFeaturizer.from_pretrained(request.getfixturevalue(name), layer=1, device="cpu")
    seen = []
    forward = featurizer._family.forward
    featurizer._family.forward = lambda b, *rest: (
        seen.append([len(w) for w in b]) or forward(b, *rest)
    )
    waves = _waves((2.0, 1.9, 0.5, 1.95, 0.45, 1.0))
    batched = featurizer.featurize(waves)
    share = featurizer._family.max_padding_share
    # One batch would fit the 160 s budget, but would spend most of its work on padding.
    assert sorted(len(b) for b in seen) == [2, 4]  # {2.0, 1.95, 1.9, 1.0}, {0.5, 0.45}
    assert all(len(b) * max(b) <= (1 + share) * sum(b) for b in seen)
    for a, wave in zip(batched, waves):
        torch.testing.assert_close(a, featurizer.featurize([wave])[0], atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("name", ["hubert_large_dir", "hubert_base_dir"])
def test_chunked_matches_unchunked(request, name):
    model_dir = request.getfixturevalue(name)
    wave = tone_speech(20.0, seed=7)
    whole = SSLFeaturizer.from_pretrained(model_dir, layer=3, device="cpu")
    chunked = SSLFeaturizer.from_pretrained(
        model_dir, layer=3, device="cpu", chunk_seconds=6.0, context_seconds=1.0
    )
    a, b = whole.featurize([wave])[0], chunked.featurize([wave])[0]
    assert a.shape == b.shape == (whole.num_frames(len(wave)), whole.dim)
    quantizer = KMeansQuantizer.fit(a.numpy(), 16, niter=10)
    agreement = float((quantizer.assign(a) == quantizer.assign(b)).mean())
    print(f"{name}: chunked vs whole unit agreement {agreement:.4f}")
    assert agreement >= 0.98


def test_whisper_long_audio_is_chunked_to_30_s(whisper_dir):
    featurizer = SSLFeaturizer.from_pretrained(
        whisper_dir, layer=2, device="cpu", context_seconds=1.0
    )
    assert featurizer.chunk_seconds == 30.0
    wave = tone_speech(45.3, seed=1)
    out = featurizer.featurize([wave])[0]
    assert out.shape[0] == featurizer.num_frames(len(wave)) == int(np.ceil((len(wave) // 160) / 2))
    assert torch.isfinite(out).all()


@pytest.mark.integration
def test_ten_minutes_in_bounded_chunks(tmp_path):
    model_dir = tiny_hubert(
        tmp_path / "narrow", stable_layer_norm=True, hidden=16, conv_dim=(8,) * 7, num_layers=2
    )
    featurizer = SSLFeaturizer.from_pretrained(
        model_dir,
        layer=1,
        device="cpu",
        chunk_seconds=20.0,
        context_seconds=1.0,
        max_batch_seconds=40.0,
    )
    seen = []
    forward = featurizer._family.forward
    featurizer._family.forward = lambda b, d, t: (
        seen.append([len(w) for w in b]) or forward(b, d, t)
    )
    wave = tone_speech(600.0, seed=2)
    out = featurizer.featurize([wave])[0]
    assert out.shape == ((len(wave) - 400) // 320 + 1, 16)
    assert max(max(b) for b in seen) <= 20.0 * 16000
    assert max(len(b) * max(b) for b in seen) <= 40.0 * 16000
    assert torch.isfinite(out).all()


def test_bf16_units_mostly_agree_with_fp32(hubert_large_dir):
    waves = _waves((3.0, 2.5, 4.1, 1.7), offset=10)
    fp32 = torch.cat(
        SSLFeaturizer.from_pretrained(hubert_large_dir, layer=3, device="cpu").featurize(waves)
    )
    bf16 = SSLFeaturizer.from_pretrained(hubert_large_dir, layer=3, device="cpu", dtype="bfloat16")
    low = torch.cat(bf16.featurize(waves))
    assert low.dtype == torch.float32
    quantizer = KMeansQuantizer.fit(fp32.numpy(), 16, niter=20)
    agreement = float((quantizer.assign(fp32) == quantizer.assign(low)).mean())
    print(f"bf16 vs fp32 unit agreement: {agreement:.4f} over {len(fp32)} frames (k=16)")
    assert agreement >= 0.9
    assert bf16.provenance()["dtype"] == "bfloat16"


def test_provenance_records_encoder_and_hash(hubert_large_dir):
    featurizer = SSLFeaturizer.from_pretrained(hubert_large_dir, layer=3, device="cpu")
    prov = featurizer.provenance()
    expected = hashlib.sha256((hubert_large_dir / "model.safetensors").read_bytes()).hexdigest()
    assert prov["encoder_hash"] == "sha256:" + expected
    assert prov | {"encoder_hash": None} == {
        "type": "ssl",
        "encoder": str(hubert_large_dir),
        "model_type": "hubert",
        "encoder_hash": None,
        "layer": 3,
        "num_layers": 4,
        "dim": 32,
        "frame_rate_hz": 50.0,
        "sample_rate": 16000,
        "dtype": "float32",
        "normalize": True,
    }


@pytest.mark.parametrize("copy_weights", [False, True])
def test_save_and_load_round_trip(hubert_base_dir, tmp_path, copy_weights):
    featurizer = SSLFeaturizer.from_pretrained(
        hubert_base_dir, layer=2, device="cpu", chunk_seconds=9.0
    )
    featurizer.save_pretrained(tmp_path / "f", copy_weights=copy_weights)
    record = json.loads((tmp_path / "f" / "featurizer.json").read_text())
    assert record["type"] == "ssl" and record["layer"] == 2
    assert (record["encoder_path"] == "encoder") is copy_weights
    assert (tmp_path / "f" / "encoder" / "model.safetensors").exists() is copy_weights
    loaded = load_featurizer(tmp_path / "f", device="cpu")
    assert loaded.provenance() == featurizer.provenance()
    assert loaded.chunk_seconds == 9.0
    waves = _waves()
    for a, b in zip(featurizer.featurize(waves), loaded.featurize(waves)):
        assert torch.equal(a, b)


def test_changed_weights_are_refused_on_load(tmp_path):
    model_dir = tiny_hubert(tmp_path / "enc", seed=1)
    SSLFeaturizer.from_pretrained(model_dir, layer=1, device="cpu").save_pretrained(tmp_path / "f")
    tiny_hubert(model_dir, seed=2)  # overwritten by other weights
    with pytest.raises(ModelFormatError, match="hash"):
        load_featurizer(tmp_path / "f")


def test_from_parts_without_checkpoint_hashes_the_weights(hubert_base_dir):
    model = AutoModel.from_pretrained(hubert_base_dir)
    model.config._name_or_path = "in-memory"
    featurizer = SSLFeaturizer(model, 2, device="cpu")
    assert featurizer.provenance()["encoder_hash"].startswith("state_dict-sha256:")
    with pytest.raises(ModelFormatError, match="save_pretrained"):
        featurizer.save_pretrained("unused")


@pytest.mark.parametrize("layer", [5, -1, 2.0])
def test_wrong_layer_names_the_key_and_range(hubert_base_dir, layer):
    with pytest.raises(FeaturizerConfigError, match=r"between 0 and 4") as info:
        SSLFeaturizer.from_pretrained(hubert_base_dir, layer=layer)
    assert info.value.key == "layer"


def test_bad_inputs_are_clear_errors(hubert_base_dir, tmp_path):
    featurizer = SSLFeaturizer.from_pretrained(hubert_base_dir, layer=1, device="cpu")
    with pytest.raises(AudioError, match="one frame"):
        featurizer.featurize([np.zeros(300, np.float32)])
    with pytest.raises(AudioError, match="1-D"):
        featurizer.featurize([np.zeros((2, 16000), np.float32)])
    with pytest.raises(FeaturizerConfigError, match="dtype"):
        SSLFeaturizer.from_pretrained(hubert_base_dir, layer=1, dtype="int8")
    with pytest.raises(ModelFormatError, match="config.json"):
        SSLFeaturizer.from_pretrained(tmp_path, layer=1)


# ---------------------------------------------------------------- several layers, fixed weights


def _hidden_states(model_dir, wave, normalize):
    """Every hidden state of the full, untruncated model (no featurizer involved)."""
    model = AutoModel.from_pretrained(model_dir).eval()
    x = torch.from_numpy(wave)[None]
    if normalize:
        x = (x - x.mean()) / torch.sqrt(x.var(unbiased=False) + 1e-7)
    with torch.no_grad():
        return [h[0] for h in model(x, output_hidden_states=True).hidden_states]


@pytest.mark.parametrize("name", ["hubert_base_dir", "hubert_large_dir"])
@pytest.mark.parametrize(
    "layers, weights", [((1, 3), None), ((3, 0, 2), (0.5, 0.2, 0.3)), ((2, 4), (1.0, -0.5))]
)
def test_layer_mix_equals_hidden_states_mixed_by_hand(request, name, layers, weights):
    model_dir = request.getfixturevalue(name)
    featurizer = SSLFeaturizer.from_pretrained(
        model_dir, layer=list(layers), layer_weights=weights, device="cpu"
    )
    wave = tone_speech(1.3, seed=7)
    ours = featurizer.featurize([wave])[0]
    states = _hidden_states(model_dir, wave, featurizer.normalize)
    given = weights or [1 / len(layers)] * len(layers)
    by_hand = sum(w * states[i] for i, w in zip(layers, given))
    assert ours.shape == (featurizer.num_frames(len(wave)), featurizer.dim)
    torch.testing.assert_close(ours, by_hand[: ours.shape[0]], atol=1e-5, rtol=1e-5)
    assert featurizer.layer == max(layers)


def test_layer_mix_runs_only_up_to_the_deepest_layer(hubert_large_dir):
    model = AutoModel.from_pretrained(hubert_large_dir)
    calls = [0] * len(model.encoder.layers)
    for index, module in enumerate(model.encoder.layers):
        module.register_forward_hook(
            lambda m, i, o, index=index: calls.__setitem__(index, calls[index] + 1)
        )
    featurizer = SSLFeaturizer(model, [1, 2], device="cpu")
    featurizer.featurize(_waves())
    assert calls[0] > 0 and calls[1] > 0 and calls[2:] == [0, 0]
    assert len(featurizer._family.layers) == 2
    # The featurizer's hooks are removed after each call: only this test's counters remain.
    layers = featurizer._family.layers
    assert all(len(m._forward_hooks) == 1 and not m._forward_pre_hooks for m in layers)


def test_layer_mix_batched_equals_one_by_one(hubert_large_dir):
    featurizer = SSLFeaturizer.from_pretrained(hubert_large_dir, layer=[1, 3], device="cpu")
    waves = _waves()
    batched = featurizer.featurize(waves)
    for wave, together in zip(waves, batched):
        torch.testing.assert_close(together, featurizer.featurize([wave])[0], atol=1e-4, rtol=1e-4)


def test_layer_mix_provenance_round_trip_and_pairing(hubert_large_dir, tmp_path):
    from units.extractor import provenance_differences

    single = SSLFeaturizer.from_pretrained(hubert_large_dir, layer=3, device="cpu")
    mixed = SSLFeaturizer.from_pretrained(
        hubert_large_dir, layer=[3, 1], layer_weights=[0.75, 0.25], device="cpu"
    )
    prov = mixed.provenance()
    assert (prov["layer"], prov["layer_weights"]) == ([1, 3], [0.25, 0.75])
    assert "layer_weights" not in single.provenance() and single.provenance()["layer"] == 3
    # A k-means fit on one layer's features is not paired with the mix (and the reverse).
    assert provenance_differences(prov, single.provenance())
    assert provenance_differences(single.provenance(), prov)
    mixed.save_pretrained(tmp_path / "mix")
    record = json.loads((tmp_path / "mix" / "featurizer.json").read_text())
    assert record["layer"] == [1, 3] and record["layer_weights"] == [0.25, 0.75]
    loaded = load_featurizer(tmp_path / "mix", device="cpu")
    assert loaded.provenance() == prov
    wave = [tone_speech(1.1, seed=3)]
    assert torch.equal(loaded.featurize(wave)[0], mixed.featurize(wave)[0])


@pytest.mark.parametrize(
    "layer, weights, key, match",
    [
        ([1, 1], None, "layer", "distinct"),
        ([1, 5], None, "layer", "between 0 and 4"),
        ([], None, "layer", "distinct"),
        ([1, 2], [1.0], "layer_weights", "2 finite numbers"),
        ([1, 2], [1.0, float("nan")], "layer_weights", "finite"),
        ([1, 2], [0.0, 0.0], "layer_weights", "not all by zero"),
        (2, [1.0], "layer_weights", "several layers"),
    ],
)
def test_layer_mix_bad_settings_name_the_key(hubert_base_dir, layer, weights, key, match):
    with pytest.raises(FeaturizerConfigError, match=match) as info:
        SSLFeaturizer.from_pretrained(hubert_base_dir, layer=layer, layer_weights=weights)
    assert info.value.key == key
