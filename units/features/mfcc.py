"""`MfccFeaturizer`: MFCC + deltas + delta-deltas at 50 frames/s, no weights (numpy only).

The features HuBERT's first training iteration clusters. Frames use the same arithmetic as
HuBERT's conv stack (25 ms window, 20 ms hop: ``(n - 400) // 320 + 1`` frames), so MFCC units
align frame for frame with SSL units. Per-utterance mean normalisation (CMN) is on by
default: it removes the fixed spectral tilt of a speaker and channel, so k-means clusters
sounds rather than voices.

>>> from units.features.mfcc import MfccFeaturizer
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

from units.errors import AudioError, ModelFormatError
from units.features.base import Featurizer, FeaturizerConfigError, write_featurizer_json
from units.features.vtln import VtlnCodebook, warp_frequencies

_WINDOW, _HOP, _NFFT = 400, 320, 512
_CMVN = ("none", "mean", "meanvar")


def _mel(freq: np.ndarray | float) -> np.ndarray:
    return 1127.0 * np.log1p(np.asarray(freq) / 700.0)


def mel_filterbank(
    n_mels: int,
    *,
    sample_rate: int = 16000,
    n_fft: int = _NFFT,
    low_hz: float = 20.0,
    warp: float = 1.0,
) -> np.ndarray:
    """Triangular filters equally spaced on the mel scale, (n_fft // 2 + 1, n_mels).

    `warp` != 1 rescales the frequency axis first (VTLN, see `units.features.vtln.warp_frequencies`):
    below 1 a filter listens higher up, which maps a shorter vocal tract onto a longer one.

    >>> mel_filterbank(23).shape
    (257, 23)
    """
    edges = np.linspace(_mel(low_hz), _mel(sample_rate / 2), n_mels + 2)
    freqs = np.arange(n_fft // 2 + 1) * sample_rate / n_fft
    if warp != 1.0:
        freqs = warp_frequencies(freqs, warp, nyquist=sample_rate / 2)
    bins = _mel(freqs)[:, None]
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
    does not fill a stack is dropped). `vtln` (a codebook from `units.features.vtln_fit.fit_vtln`) picks
    one frequency warp per utterance, so that voices of different vocal tract lengths share units.

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
        vtln: VtlnCodebook | None = None,
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
        if vtln is not None and vtln.dim != self.dim:
            raise FeaturizerConfigError(
                "vtln",
                f"the VTLN codebook has dim {vtln.dim} but these features have dim {self.dim}; "
                "fix: fit the codebook with this featurizer (units.features.vtln_fit.fit_vtln)",
            )
        self.vtln = vtln
        self._filters: dict[tuple[float, ...], np.ndarray] = {}
        self._window = np.hamming(_WINDOW).astype(np.float32)
        self._lift = (
            1 + self.lifter / 2 * np.sin(np.pi * np.arange(self.n_mfcc) / self.lifter)
        ).astype(np.float32)

    @classmethod
    def from_record(
        cls,
        record: dict[str, Any],
        directory: str | Path | None = None,
        *,
        device: str | torch.device | None = None,
    ) -> MfccFeaturizer:
        """Rebuild from a featurizer.json record (see `units.features.registry.load_featurizer`).

        A VTLN featurizer also needs the `directory` its codebook was saved in.
        """
        settings = dict(record["settings"])
        vtln_record = settings.pop("vtln", None)
        vtln = None
        if vtln_record is not None:
            if directory is None:
                raise ModelFormatError(
                    "this MFCC featurizer uses VTLN, whose codebook lives next to featurizer.json; "
                    "fix: load it with units.load_featurizer(folder)"
                )
            vtln = VtlnCodebook.load(directory, vtln_record)
        return cls(**settings, vtln=vtln, device=device)

    def with_vtln(self, vtln: VtlnCodebook | None) -> MfccFeaturizer:
        """The same features with VTLN codebook `vtln` (None: without VTLN)."""
        settings = {key: value for key, value in self._settings().items() if key != "vtln"}
        return type(self)(**settings, vtln=vtln, device=self.device)

    def _settings(self) -> dict[str, Any]:
        settings: dict[str, Any] = {
            "n_mfcc": self.n_mfcc,
            "deltas": self.deltas,
            "n_mels": self.n_mels,
            "cmvn": self.cmvn,
            "lifter": self.lifter,
        }
        # absent at their defaults, so featurizers saved before them keep their identity
        if self.stack != 1:
            settings["stack"] = self.stack
        if self.vtln is not None:
            settings["vtln"] = self.vtln.record()
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
        """Write featurizer.json (settings and provenance) and the VTLN codebook, if any."""
        if self.vtln is not None:
            self.vtln.save(directory)
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
        if self.vtln is None:
            return self._cepstra(self._power(wave, name), (1.0,))[0]
        candidates = self.compute_warped(wave, self.vtln.warps, name=name)
        return candidates[self.vtln.choose(candidates)]

    def warp_of(self, wave: np.ndarray, *, name: str = "wave") -> float:
        """The VTLN warp this featurizer picks for `wave` (1.0 without VTLN)."""
        if self.vtln is None:
            return 1.0
        candidates = self.compute_warped(wave, self.vtln.warps, name=name)
        return self.vtln.warps[self.vtln.choose(candidates)]

    def compute_warped(
        self, wave: np.ndarray, warps: Sequence[float], *, name: str = "wave"
    ) -> np.ndarray:
        """Features of `wave` under each frequency warp in `warps`: (len(warps), n_frames, dim)."""
        return self._cepstra(self._power(wave, name), tuple(float(w) for w in warps))

    def _power(self, wave: np.ndarray, name: str) -> np.ndarray:
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
        return (spectrum.real**2 + spectrum.imag**2).astype(np.float32)

    def _filterbanks(self, warps: tuple[float, ...]) -> np.ndarray:
        # One (n_fft // 2 + 1, len(warps) * n_mels) matrix: all warps in a single matmul.
        if warps not in self._filters:
            banks = [mel_filterbank(self.n_mels, warp=warp) for warp in warps]
            self._filters[warps] = np.concatenate(banks, axis=1).astype(np.float32)
        return self._filters[warps]

    def _cepstra(self, power: np.ndarray, warps: tuple[float, ...]) -> np.ndarray:
        n, w = len(power), len(warps)
        log_mel = np.log(np.maximum(power @ self._filterbanks(warps), np.finfo(np.float32).eps))
        log_mel = log_mel.reshape(n, w, self.n_mels)
        ceps = dct(log_mel, type=2, norm="ortho", axis=2)[:, :, : self.n_mfcc] * self._lift
        if self.deltas:
            first = deltas(ceps.reshape(n, -1))
            second = deltas(first).reshape(n, w, -1)
            ceps = np.concatenate([ceps, first.reshape(n, w, -1), second], axis=2)
        if self.cmvn != "none":
            ceps = ceps - ceps.mean(axis=0, keepdims=True)
        if self.cmvn == "meanvar":
            ceps = ceps / np.maximum(ceps.std(axis=0, keepdims=True), 1e-5)
        whole = n // self.stack * self.stack
        # (frames, warps, dim) -> (warps, frames / stack, stack * dim): consecutive frames side
        # by side
        ceps = ceps[:whole].transpose(1, 0, 2).reshape(w, whole // self.stack, -1)
        return np.ascontiguousarray(ceps, dtype=np.float32)
