"""Encoder families behind `SSLFeaturizer`: how each one is cut at layer L, fed and framed.

Each family knows three things the featurizer needs: how to drop everything above layer L
(so those layers are never run and the final encoder norm is not applied), how to turn a
batch of 16 kHz waves into model inputs (padding plus attention mask, or none), and the
frame arithmetic (``num_frames``, and which samples a run of frames needs).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Any

import numpy as np
import torch
from torch import nn

from units.errors import ModelFormatError

SUPPORTED_MODEL_TYPES = ("hubert", "wav2vec2", "wav2vec2-bert", "whisper")


class EncoderFamily(ABC):
    """A truncated encoder plus its input and frame conventions."""

    #: samples between consecutive frames
    hop: int = 320
    #: whether padded batches are exact (an attention mask the model was trained with)
    pads_exactly: bool = True
    #: longest segment the model accepts in one run (Whisper: 30 s), or None
    max_segment_samples: int | None = None
    #: whether chunks of one utterance need statistics of the whole (see ConvStackFamily)
    uses_utterance_stats: bool = False
    #: most padded work per unit of real work in a batch (None: no limit, inputs are padded
    #: to a fixed length anyway); beyond it a new batch pays more than the padding would
    max_padding_share: float | None = 0.2

    @property
    def batches_exactly(self) -> bool:
        """Whether `forward` on waves of unequal lengths equals running each wave alone."""
        return self.pads_exactly

    def prepare_for_inference(self, device: torch.device) -> None:
        """Swap in faster equivalents of modules (same outputs up to float rounding)."""
        return None  # noqa: B027 - most families have nothing to swap

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.config = model.config

    @property
    @abstractmethod
    def layers(self) -> nn.ModuleList:
        """The encoder's layer list (already truncated after `truncate`)."""

    @property
    def dim(self) -> int:
        return int(
            self.config.hidden_size if hasattr(self.config, "hidden_size") else self.config.d_model
        )

    @abstractmethod
    def truncate(self, layer: int) -> None:
        """Keep layers 1..layer; drop the final encoder norm and anything after the encoder."""

    @abstractmethod
    def num_frames(self, num_samples: int) -> int:
        """Frames the full model gives for `num_samples` samples."""

    @abstractmethod
    def span(self, first: int, stop: int, num_samples: int) -> tuple[int, int]:
        """The samples [start, end) whose own frames are exactly frames [first, stop)."""

    @abstractmethod
    def forward(
        self, waves: list[np.ndarray], device: torch.device, dtype: torch.dtype
    ) -> torch.Tensor:
        """Run a batch; returns (batch, max_frames, dim). Rows are valid up to num_frames."""


class ConvStackFamily(EncoderFamily):
    """HuBERT and wav2vec 2.0: a conv feature encoder on raw samples, then transformer layers."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__(model)
        window, hop = 1, 1
        for kernel, stride in zip(self.config.conv_kernel, self.config.conv_stride):
            window += (kernel - 1) * hop
            hop *= stride
        self.window, self.hop = window, hop
        # Group norm in the first conv normalises over time, padding included: such models
        # (HuBERT-base, wav2vec2-base) were trained without a mask and must not see padding.
        self.pads_exactly = self.config.feat_extract_norm == "layer"
        self._norm: _UtteranceGroupNorm | None = None
        if not self.pads_exactly:
            first = self.model.feature_extractor.conv_layers[0]
            self._norm = first.layer_norm = _UtteranceGroupNorm(first.layer_norm)

    @property
    def uses_utterance_stats(self) -> bool:
        """Whether chunks need the whole utterance's group-norm statistics to match it."""
        return self._norm is not None

    @property
    def batches_exactly(self) -> bool:
        # `forward` never pads the conv stack, and the transformer honours a frame mask.
        return True

    def prepare_for_inference(self, device: torch.device) -> None:
        # The positional conv's weight norm recomputes g * v / |v| on every forward; the
        # folded weight is that same tensor, computed once. On CPU the conv itself (kernel 128,
        # 16 groups) costs as much as a transformer layer; by FFT it costs a fraction of one.
        from torch.nn.utils import parametrize

        from units.features.fft_conv import FftGroupedConv1d

        embed = getattr(self.model.encoder, "pos_conv_embed", None)
        conv = getattr(embed, "conv", None)
        if conv is None:
            return
        if parametrize.is_parametrized(conv, "weight"):
            with torch.no_grad():
                parametrize.remove_parametrizations(conv, "weight", leave_parametrized=True)
        # Released checkpoints all use kernel 128 (measured 3-10x faster by FFT); the bound of
        # 16 lets the test models (kernel 16) run the same path.
        if device.type == "cpu" and isinstance(conv, nn.Conv1d) and conv.kernel_size[0] >= 16:
            embed.conv = FftGroupedConv1d(conv)

    def utterance_stats(
        self, wave: np.ndarray, device: torch.device, dtype: torch.dtype, block: int = 160_000
    ) -> torch.Tensor:
        """Per-channel (mean, var) of the first conv over the whole wave, streamed in blocks.

        Chunks normalised with these statistics see what the unchunked model sees.
        """
        conv = self.model.feature_extractor.conv_layers[0].conv
        kernel, stride = conv.kernel_size[0], conv.stride[0]
        total = (len(wave) - kernel) // stride + 1
        step = max(1, block // stride)
        sums = torch.zeros(2, conv.out_channels, dtype=torch.float64, device=device)
        with torch.inference_mode():
            for first in range(0, total, step):
                stop = min(total, first + step)
                piece = torch.from_numpy(wave[first * stride : (stop - 1) * stride + kernel])
                out = conv(piece.to(device=device, dtype=dtype)[None, None])[0].double()
                sums[0] += out.sum(dim=1)
                sums[1] += (out * out).sum(dim=1)
        mean = sums[0] / total
        return torch.stack([mean, sums[1] / total - mean * mean])

    @property
    def layers(self) -> nn.ModuleList:
        return self.model.encoder.layers

    def truncate(self, layer: int) -> None:
        encoder = self.model.encoder
        encoder.layers = nn.ModuleList(list(encoder.layers)[:layer])
        if self.config.do_stable_layer_norm:
            # Pre-norm layout: the encoder norm is applied after the last layer only.
            encoder.layer_norm = nn.Identity()
        if getattr(self.model, "adapter", None) is not None:
            self.model.adapter = None

    def num_frames(self, num_samples: int) -> int:
        return max(0, (num_samples - self.window) // self.hop + 1)

    def span(self, first: int, stop: int, num_samples: int) -> tuple[int, int]:
        return first * self.hop, min(num_samples, (stop - 1) * self.hop + self.window)

    def forward(
        self,
        waves: list[np.ndarray],
        device: torch.device,
        dtype: torch.dtype,
        stats: list[torch.Tensor | None] | None = None,
    ) -> torch.Tensor:
        # The conv stack runs on each wave alone: group norm (HuBERT-base) normalises over time,
        # so padding would shift its statistics, and for layer-norm stacks padded samples would
        # only be wasted work. The projection and transformer layers run as one masked batch.
        features = [
            self.conv_features(wave, device, dtype, None if stats is None else stats[row])
            for row, wave in enumerate(waves)
        ]
        return self.encode(features)

    def conv_features(
        self,
        wave: np.ndarray,
        device: torch.device,
        dtype: torch.dtype,
        stats: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The conv feature encoder's output for one unpadded wave: (frames, conv channels).

        `stats` (2, channels): whole-utterance group-norm statistics for a chunk of it.
        """
        if self._norm is not None:
            self._norm.stats = None if stats is None else stats[None]
        try:
            x = torch.from_numpy(wave).to(device=device, dtype=dtype)[None]
            return self.model.feature_extractor(x)[0].transpose(0, 1)
        finally:
            if self._norm is not None:
                self._norm.stats = None

    def encode(self, features: list[torch.Tensor]) -> torch.Tensor:
        """Projection and the kept transformer layers over conv features of unequal lengths.

        Rows are right-padded with zeros and masked (the encoder zeroes padded frames, so its
        positional conv sees what it sees at the end of an unpadded sequence); with equal
        lengths no mask is built, so a batch of one is exactly the model's own forward.
        """
        lengths = [f.shape[0] for f in features]
        longest = max(lengths)
        if len(features) == 1:
            batch = features[0][None]
        else:
            batch = features[0].new_zeros(len(features), longest, features[0].shape[1])
            for row, feature in enumerate(features):
                batch[row, : lengths[row]] = feature
        hidden = self.model.feature_projection(batch)
        if isinstance(hidden, tuple):  # wav2vec 2.0 also returns the normed conv features
            hidden = hidden[0]
        mask = None
        if any(n != longest for n in lengths):
            frames = torch.arange(longest, device=batch.device)
            mask = frames[None, :] < torch.tensor(lengths, device=batch.device)[:, None]
        return self.model.encoder(hidden, attention_mask=mask).last_hidden_state


class _UtteranceGroupNorm(nn.Module):
    """The first conv's per-channel GroupNorm, optionally with statistics given from outside.

    Without `stats` it is the original module; with `stats` of shape (batch, 2, channels) it
    normalises each row by those (mean, var) instead of the row's own.
    """

    def __init__(self, norm: nn.GroupNorm) -> None:
        super().__init__()
        self.norm = norm
        self.stats: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stats is None:
            return self.norm(x)
        mean = self.stats[:, 0, :, None].to(x.dtype)
        var = self.stats[:, 1, :, None].to(x.dtype)
        scale = self.norm.weight[None, :, None] / torch.sqrt(var + self.norm.eps)
        return (x - mean) * scale + self.norm.bias[None, :, None]


class W2vBertFamily(EncoderFamily):
    """w2v-BERT 2.0: stacked 80-bin fbanks (25 ms / 10 ms, two frames stacked) into a conformer."""

    window, hop = 560, 320

    def __init__(self, model: nn.Module, feature_extractor: Any = None) -> None:
        super().__init__(model)
        if feature_extractor is None:
            from transformers import SeamlessM4TFeatureExtractor

            feature_extractor = SeamlessM4TFeatureExtractor()
        self.feature_extractor = feature_extractor

    @property
    def layers(self) -> nn.ModuleList:
        return self.model.encoder.layers

    def truncate(self, layer: int) -> None:
        self.model.encoder.layers = nn.ModuleList(list(self.model.encoder.layers)[:layer])
        self.model.intermediate_ffn = None
        self.model.adapter = None

    def num_frames(self, num_samples: int) -> int:
        fbank_frames = max(0, (num_samples - 400) // 160 + 1)
        return fbank_frames // 2

    def span(self, first: int, stop: int, num_samples: int) -> tuple[int, int]:
        return first * self.hop, min(num_samples, (stop - 1) * self.hop + self.window)

    def forward(
        self, waves: list[np.ndarray], device: torch.device, dtype: torch.dtype
    ) -> torch.Tensor:
        feats = [
            self.feature_extractor(
                w,
                sampling_rate=16000,
                padding=False,
                return_attention_mask=False,
                return_tensors="np",
            )["input_features"][0]
            for w in waves
        ]
        longest = max(f.shape[0] for f in feats)
        batch = torch.zeros(len(feats), longest, feats[0].shape[1], dtype=torch.float32)
        mask = torch.zeros(len(feats), longest, dtype=torch.long)
        for row, f in enumerate(feats):
            batch[row, : f.shape[0]] = torch.from_numpy(np.asarray(f, dtype=np.float32))
            mask[row, : f.shape[0]] = 1
        out = self.model(batch.to(device=device, dtype=dtype), attention_mask=mask.to(device))
        return out.last_hidden_state


class WhisperFamily(EncoderFamily):
    """The Whisper encoder: log-mels padded to 30 s; output frames past the audio are dropped."""

    max_padding_share = None

    def __init__(self, model: nn.Module, feature_extractor: Any = None) -> None:
        super().__init__(model)
        if feature_extractor is None:
            from transformers import WhisperFeatureExtractor

            feature_extractor = WhisperFeatureExtractor(feature_size=self.config.num_mel_bins)
        self.feature_extractor = feature_extractor
        mel_frames = self.config.max_source_positions * 2
        self.max_segment_samples = mel_frames * 160

    @property
    def layers(self) -> nn.ModuleList:
        return self.model.layers

    @property
    def dim(self) -> int:
        return int(self.config.d_model)

    def truncate(self, layer: int) -> None:
        self.model.layers = nn.ModuleList(list(self.model.layers)[:layer])
        self.model.layer_norm = nn.Identity()

    def num_frames(self, num_samples: int) -> int:
        # Whisper's mel frames: n // 160 (centred STFT, last frame dropped); conv2 halves them.
        return math.ceil((num_samples // 160) / 2)

    def span(self, first: int, stop: int, num_samples: int) -> tuple[int, int]:
        end = num_samples if stop >= self.num_frames(num_samples) else stop * self.hop
        return first * self.hop, end

    def forward(
        self, waves: list[np.ndarray], device: torch.device, dtype: torch.dtype
    ) -> torch.Tensor:
        feats = self.feature_extractor(
            waves,
            sampling_rate=16000,
            padding="max_length",
            max_length=self.max_segment_samples,
            return_tensors="pt",
        )["input_features"]
        out = self.model(feats.to(device=device, dtype=dtype))
        return out.last_hidden_state


def family_for(model: nn.Module, feature_extractor: Any = None) -> EncoderFamily:
    """Wrap a transformers audio model (base model, task head, or Whisper) in its family."""
    model_type = getattr(getattr(model, "config", None), "model_type", None)
    if model_type not in SUPPORTED_MODEL_TYPES:
        raise ModelFormatError(
            f"the encoder's model_type must be one of {', '.join(SUPPORTED_MODEL_TYPES)}, "
            f"but is {model_type!r}; fix: pass a HuBERT, wav2vec 2.0, w2v-BERT 2.0 or Whisper model"
        )
    base = getattr(model, "base_model", model)
    if model_type == "whisper":
        encoder = base.get_encoder() if hasattr(base, "get_encoder") else base
        return WhisperFamily(encoder, _fe(feature_extractor, "WhisperFeatureExtractor"))
    if model_type == "wav2vec2-bert":
        return W2vBertFamily(base, _fe(feature_extractor, "SeamlessM4TFeatureExtractor"))
    return ConvStackFamily(base)


def _fe(feature_extractor: Any, expected: str) -> Any:
    if feature_extractor is not None and type(feature_extractor).__name__ != expected:
        return None  # a processor of another kind (e.g. saved by a CTC head): rebuild defaults
    return feature_extractor
