"""`MfccFeaturizer`: MFCC + deltas + delta-deltas at 50 frames/s, no weights (numpy only).

The features HuBERT's first training iteration clusters. Frames use the same arithmetic as
HuBERT's conv stack (25 ms window, 20 ms hop: ``(n - 400) // 320 + 1`` frames), so MFCC units
align frame for frame with SSL units. Per-utterance mean normalisation (CMN) is on by
default: it removes the fixed spectral tilt of a speaker and channel, so k-means clusters
sounds rather than voices.

>>> from units.mfcc import MfccFeaturizer
>>> from units.testing import tone_speech
>>> feats = MfccFeaturizer().featurize([tone_speech(1.0, seed=0)])
>>> tuple(feats[0].shape)
(49, 39)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy.fft import dct

from units.errors import AudioError
from units.featurizers import Featurizer, FeaturizerConfigError, write_featurizer_json

_WINDOW, _HOP, _NFFT = 400, 320, 512
_CMVN = ("none", "mean", "meanvar")


def _mel(freq: np.ndarray | float) -> np.ndarray:
    return 1127.0 * np.log1p(np.asarray(freq) / 700.0)


def mel_filterbank(
    n_mels: int, *, sample_rate: int = 16000, n_fft: int = _NFFT, low_hz: float = 20.0
) -> np.ndarray:
    """Triangular filters equally spaced on the mel scale, (n_fft // 2 + 1, n_mels).

    >>> mel_filterbank(23).shape
    (257, 23)
    """
    edges = np.linspace(_mel(low_hz), _mel(sample_rate / 2), n_mels + 2)
    bins = _mel(np.arange(n_fft // 2 + 1) * sample_rate / n_fft)[:, None]
    left, centre, right = edges[:-2], edges[1:-1], edges[2:]
    rising = (bins - left) / (centre - left)
    falling = (right - bins) / (right - centre)
    return np.clip(np.minimum(rising, falling), 0.0, None)


def deltas(features: np.ndarray, width: int = 2) -> np.ndarray:
    """Regression deltas over +-`width` frames (edges repeated), like Kaldi's add-deltas.

    >>> deltas(np.arange(5.0)[:, None])[:, 0].tolist()
    [0.5, 0.8, 1.0, 0.8, 0.5]
    """
    padded = np.pad(features, ((width, width), (0, 0)), mode="edge")
    n = len(features)
    total = np.zeros_like(features)
    for k in range(1, width + 1):
        total += k * (padded[width + k : width + k + n] - padded[width - k : width - k + n])
    return total / (2 * sum(k * k for k in range(1, width + 1)))


class MfccFeaturizer(Featurizer):
    """MFCCs (Hamming window, pre-emphasis 0.97, 23 mel bins, lifter 22) with optional deltas.

    `stack` > 1 concatenates that many consecutive frames into one (50/stack frames per second):
    shorter unit sequences for a language model that has to read them (a trailing frame that
    does not fill a stack is dropped).

    >>> MfccFeaturizer(n_mfcc=13, deltas=True).dim
    39
    >>> MfccFeaturizer(stack=2).frame_rate_hz
    25.0
    """

    def __init__(
        self,
        n_mfcc: int = 13,
        deltas: bool = True,
        *,
        n_mels: int = 23,
        cmvn: str = "mean",
        lifter: float = 22.0,
        stack: int = 1,
        device: str | torch.device | None = None,
    ) -> None:
        if cmvn not in _CMVN:
            raise FeaturizerConfigError(
                "cmvn", f"cmvn must be one of {_CMVN}, but is {cmvn!r}; fix: pass cmvn='mean'"
            )
        if not 1 <= n_mfcc <= n_mels:
            raise FeaturizerConfigError(
                "n_mfcc",
                f"n_mfcc must be between 1 and n_mels={n_mels}, but is {n_mfcc}; fix: pass n_mfcc=13",
            )
        if isinstance(stack, bool) or not isinstance(stack, int) or stack < 1:
            raise FeaturizerConfigError(
                "stack", f"stack must be an integer >= 1, but is {stack!r}; fix: pass stack=1 or 2"
            )
        self.n_mfcc, self.deltas, self.n_mels = int(n_mfcc), bool(deltas), int(n_mels)
        self.cmvn, self.lifter, self.stack = cmvn, float(lifter), stack
        self.dim = self.n_mfcc * (3 if self.deltas else 1) * stack
        self.frame_rate_hz = 16000 / _HOP / stack
        self.device = torch.device(device or "cpu")
        self._filters = mel_filterbank(self.n_mels).astype(np.float32)
        self._window = np.hamming(_WINDOW).astype(np.float32)
        self._lift = (
            1 + self.lifter / 2 * np.sin(np.pi * np.arange(self.n_mfcc) / self.lifter)
        ).astype(np.float32)

    @classmethod
    def from_record(
        cls, record: dict[str, Any], *, device: str | torch.device | None = None
    ) -> MfccFeaturizer:
        """Rebuild from a featurizer.json record (see `units.featurizers.load_featurizer`)."""
        return cls(**record["settings"], device=device)

    def _settings(self) -> dict[str, Any]:
        settings: dict[str, Any] = {
            "n_mfcc": self.n_mfcc,
            "deltas": self.deltas,
            "n_mels": self.n_mels,
            "cmvn": self.cmvn,
            "lifter": self.lifter,
        }
        if self.stack != 1:  # absent at 1, so featurizers saved before it keep their identity
            settings["stack"] = self.stack
        return settings

    def provenance(self) -> dict[str, Any]:
        settings = self._settings()
        digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()
        return {
            "type": "mfcc",
            "encoder": "mfcc",
            "encoder_hash": "settings-sha256:" + digest,
            "layer": None,
            "dim": self.dim,
            "frame_rate_hz": self.frame_rate_hz,
            "sample_rate": self.sample_rate,
            **settings,
        }

    def save_pretrained(self, directory: str | Path) -> Path:
        """Write featurizer.json (settings and provenance; there are no weights)."""
        record = {"type": "mfcc", "settings": self._settings(), "provenance": self.provenance()}
        return write_featurizer_json(directory, record)

    def num_frames(self, num_samples: int) -> int:
        return max(0, (int(num_samples) - _WINDOW) // _HOP + 1) // self.stack

    def featurize(self, waves: Sequence[np.ndarray]) -> list[torch.Tensor]:
        out = []
        for index, wave in enumerate(waves):
            feats = self.compute(np.asarray(wave, dtype=np.float32), name=f"waves[{index}]")
            out.append(torch.from_numpy(feats).to(self.device))
        return out

    def compute(self, wave: np.ndarray, *, name: str = "wave") -> np.ndarray:
        """Features of one 16 kHz wave as a float32 numpy array (n_frames, dim)."""
        if wave.ndim != 1:
            raise AudioError(name, f"must be 1-D mono samples, but has shape {wave.shape}")
        if self.num_frames(len(wave)) == 0:
            raise AudioError(
                name,
                f"must hold at least {_WINDOW + (self.stack - 1) * _HOP} samples (one frame), "
                f"but holds {len(wave)}",
            )
        # Kaldi's 16-bit scale keeps the log floor below in a sensible place.
        frames = np.lib.stride_tricks.sliding_window_view(wave * 32768.0, _WINDOW)[::_HOP]
        frames = frames - frames.mean(axis=1, keepdims=True)
        emphasised = np.empty_like(frames)
        emphasised[:, 1:] = frames[:, 1:] - 0.97 * frames[:, :-1]
        emphasised[:, 0] = frames[:, 0] * (1 - 0.97)
        spectrum = np.fft.rfft(emphasised * self._window, n=_NFFT)
        power = spectrum.real**2 + spectrum.imag**2
        log_mel = np.log(
            np.maximum(power.astype(np.float32) @ self._filters, np.finfo(np.float32).eps)
        )
        ceps = dct(log_mel, type=2, norm="ortho", axis=1)[:, : self.n_mfcc] * self._lift
        if self.deltas:
            first = deltas(ceps)
            ceps = np.concatenate([ceps, first, deltas(first)], axis=1)
        if self.cmvn != "none":
            ceps = ceps - ceps.mean(axis=0, keepdims=True)
        if self.cmvn == "meanvar":
            ceps = ceps / np.maximum(ceps.std(axis=0, keepdims=True), 1e-5)
        if self.stack > 1:
            whole = len(ceps) // self.stack * self.stack
            ceps = ceps[:whole].reshape(whole // self.stack, -1)
        return np.ascontiguousarray(ceps, dtype=np.float32)
