"""Test factories that ship with the library: tiny random encoders and speech-like signals.

Nothing here downloads anything. The encoders are built from configs with a fixed seed and
saved with ``save_pretrained`` (plus a feature-extractor config), so tests load them exactly
the way users load real checkpoints.

>>> from units.testing import tone_speech
>>> tone_speech(1.0, seed=0).shape
(16000,)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

_STANDARD_CONV = {
    "conv_kernel": (10, 3, 3, 3, 3, 2, 2),
    "conv_stride": (5, 2, 2, 2, 2, 2, 2),
}


def _conv_encoder_config(
    *, stable_layer_norm: bool, num_layers: int, hidden: int, overrides: dict[str, Any]
) -> dict[str, Any]:
    # The standard 400-sample / 320-hop conv stack, narrow, so frames align with real models.
    config: dict[str, Any] = {
        "hidden_size": hidden,
        "num_hidden_layers": num_layers,
        "num_attention_heads": 2,
        "intermediate_size": 2 * hidden,
        "conv_dim": (hidden,) * 7,
        **_STANDARD_CONV,
        "num_conv_pos_embeddings": 16,
        "num_conv_pos_embedding_groups": 2,
        "do_stable_layer_norm": stable_layer_norm,
        # Large checkpoints (stable layer norm) use per-frame layer norm in the conv stack and
        # were trained with an attention mask; base ones use group norm and no mask.
        "feat_extract_norm": "layer" if stable_layer_norm else "group",
        "hidden_dropout": 0.0,
        "attention_dropout": 0.0,
        "activation_dropout": 0.0,
        "feat_proj_dropout": 0.0,
        "layerdrop": 0.0,
        "vocab_size": 8,
    }
    config.update(overrides)
    return config


def _save_wave_feature_extractor(path: Path, *, layer_norm: bool) -> None:
    from transformers import Wav2Vec2FeatureExtractor

    Wav2Vec2FeatureExtractor(
        feature_size=1,
        sampling_rate=16000,
        padding_value=0.0,
        do_normalize=layer_norm,
        return_attention_mask=layer_norm,
    ).save_pretrained(path)


def tiny_hubert(
    path: str | Path,
    *,
    stable_layer_norm: bool = False,
    num_layers: int = 4,
    hidden: int = 32,
    seed: int = 0,
    **overrides: Any,
) -> Path:
    """Build a random-init ``HubertModel`` from a config, save it to ``path`` and return the path.

    ``stable_layer_norm=True`` gives the HuBERT-large layout (layer-norm conv stack, attention
    mask, pre-norm layers, final encoder norm); False gives HuBERT-base (group norm, no mask).

    >>> p = tiny_hubert(tmp_path / "hubert")  # doctest: +SKIP
    >>> SSLFeaturizer.from_pretrained(p, layer=2)  # doctest: +SKIP
    """
    import torch
    from transformers import HubertConfig, HubertModel

    path = Path(path)
    config = HubertConfig(
        **_conv_encoder_config(
            stable_layer_norm=stable_layer_norm,
            num_layers=num_layers,
            hidden=hidden,
            overrides=overrides,
        )
    )
    torch.manual_seed(seed)
    model = HubertModel(config).eval()
    model.save_pretrained(path)
    _save_wave_feature_extractor(path, layer_norm=config.feat_extract_norm == "layer")
    return path


def tiny_wav2vec2(
    path: str | Path,
    *,
    stable_layer_norm: bool = True,
    num_layers: int = 4,
    hidden: int = 32,
    seed: int = 0,
    **overrides: Any,
) -> Path:
    """Build a random-init ``Wav2Vec2Model`` from a config, save it and return the path.

    >>> p = tiny_wav2vec2(tmp_path / "w2v")  # doctest: +SKIP
    """
    import torch
    from transformers import Wav2Vec2Config, Wav2Vec2Model

    path = Path(path)
    config = Wav2Vec2Config(
        **_conv_encoder_config(
            stable_layer_norm=stable_layer_norm,
            num_layers=num_layers,
            hidden=hidden,
            overrides={"codevector_dim": 8, "proj_codevector_dim": 8, **overrides},
        )
    )
    torch.manual_seed(seed)
    Wav2Vec2Model(config).eval().save_pretrained(path)
    _save_wave_feature_extractor(path, layer_norm=config.feat_extract_norm == "layer")
    return path


def tiny_w2v_bert(
    path: str | Path, *, num_layers: int = 3, hidden: int = 32, seed: int = 0, **overrides: Any
) -> Path:
    """Build a random-init ``Wav2Vec2BertModel`` (w2v-BERT 2.0 layout) and its feature extractor.

    >>> p = tiny_w2v_bert(tmp_path / "w2vbert")  # doctest: +SKIP
    """
    import torch
    from transformers import SeamlessM4TFeatureExtractor, Wav2Vec2BertConfig, Wav2Vec2BertModel

    path = Path(path)
    config = Wav2Vec2BertConfig(
        hidden_size=hidden,
        num_hidden_layers=num_layers,
        num_attention_heads=2,
        intermediate_size=2 * hidden,
        output_hidden_size=hidden,
        conv_depthwise_kernel_size=5,
        position_embeddings_type="relative_key",
        left_max_position_embeddings=16,
        right_max_position_embeddings=4,
        hidden_dropout=0.0,
        attention_dropout=0.0,
        activation_dropout=0.0,
        feat_proj_dropout=0.0,
        layerdrop=0.0,
        add_adapter=False,
        vocab_size=8,
        **overrides,
    )
    torch.manual_seed(seed)
    Wav2Vec2BertModel(config).eval().save_pretrained(path)
    SeamlessM4TFeatureExtractor(feature_size=80, num_mel_bins=80, stride=2).save_pretrained(path)
    return path


def tiny_whisper(
    path: str | Path, *, num_layers: int = 2, hidden: int = 32, seed: int = 0, **overrides: Any
) -> Path:
    """Build a random-init ``WhisperModel`` (encoder and a one-layer decoder) and its extractor.

    >>> p = tiny_whisper(tmp_path / "whisper")  # doctest: +SKIP
    """
    import torch
    from transformers import WhisperConfig, WhisperFeatureExtractor, WhisperModel

    path = Path(path)
    config = WhisperConfig(
        d_model=hidden,
        encoder_layers=num_layers,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=2 * hidden,
        decoder_ffn_dim=2 * hidden,
        num_mel_bins=80,
        vocab_size=64,
        max_target_positions=32,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
        decoder_start_token_id=1,
        **overrides,
    )
    torch.manual_seed(seed)
    WhisperModel(config).eval().save_pretrained(path)
    WhisperFeatureExtractor(feature_size=80).save_pretrained(path)
    return path


def tone_speech(seconds: float, seed: int, sample_rate: int = 16000) -> np.ndarray:
    """A deterministic speech-like signal: voiced syllables with gliding pitch, formant-ish
    harmonics, pauses and a little noise; float32 mono in [-1, 1].

    >>> a, b = tone_speech(0.5, seed=3), tone_speech(0.5, seed=3)
    >>> bool((a == b).all()), a.dtype.name
    (True, 'float32')
    """
    rng = np.random.default_rng(seed)
    n = int(round(seconds * sample_rate))
    t = np.arange(n) / sample_rate
    # Syllables of 120-300 ms, each with its own pitch contour and vowel (harmonic weights).
    envelope = np.zeros(n)
    f0 = np.zeros(n)
    weights = np.zeros((n, 8))
    start = 0
    while start < n:
        length = int(rng.uniform(0.12, 0.30) * sample_rate)
        stop = min(n, start + length)
        span = np.linspace(0.0, 1.0, stop - start)
        voiced = rng.random() > 0.15
        envelope[start:stop] = np.sin(np.pi * span) ** 1.5 * (
            rng.uniform(0.4, 1.0) if voiced else 0
        )
        f0[start:stop] = rng.uniform(90, 220) * (1 + rng.uniform(-0.25, 0.25) * span)
        weights[start:stop] = rng.dirichlet(np.ones(8) * 0.6)
        start = stop
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    harmonics = np.sin(np.outer(phase, np.arange(1, 9)))
    voice = (harmonics * weights).sum(axis=1) * envelope
    noise = rng.normal(0.0, 0.02, n) * (0.3 + envelope)
    wave = voice + noise + 0.001 * np.sin(2 * np.pi * 50 * t)
    peak = np.abs(wave).max() if n else 1.0
    return (0.9 * wave / max(peak, 1e-6)).astype(np.float32)
