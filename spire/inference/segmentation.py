"""Find the speech in long audio and cut it into pieces the size the model was trained on.

A voice activity detector (Silero VAD, the weights that the `silero-vad` package ships as
safetensors) scores every 32 ms frame; speech starts where the score reaches `threshold` and
ends where it stays below `threshold - 0.15` for `min_silence_s`, so a piece ends at a real pause
and a short dip inside a word does not cut it. A piece still longer than `max_piece_s` (speech
without a pause) is cut at its quietest points (`spire.inference.chunking.chunk_bounds`). Silence
and noise give no piece at all, so nothing is generated for them.

>>> import numpy as np
>>> speech_segments(np.zeros(16000 * 5, dtype=np.float32), 16000)
[]
>>> Segment(1.25, 3.5).samples(16000)
slice(20000, 56000, None)
"""

from __future__ import annotations

import dataclasses
import math
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from spire.errors import SpireError
from spire.inference.chunking import chunk_bounds

__all__ = ["Segment", "SileroVad", "speech_segments", "trim_edges", "VAD_SAMPLE_RATE"]

VAD_SAMPLE_RATE = 16000
_FRAME = 512  # samples per scored frame at 16 kHz (32 ms), as the model was trained
_CONTEXT = 64  # samples of the previous frame each frame sees
_BLOCK = 4096  # frames scored per batch (131 s of audio): bounds memory on hour-long input
_HYSTERESIS = 0.15  # speech ends below threshold - this, so scores near it do not flicker
_WEIGHTS = "silero_vad/data/silero_vad_16k.safetensors"
_SHAPES = {
    "stft_conv.weight": (258, 1, 256),
    **{f"conv{i}.weight": shape for i, shape in
       enumerate([(128, 129, 3), (64, 128, 3), (64, 64, 3), (128, 64, 3)], start=1)},
    **{f"conv{i}.bias": (size,) for i, size in enumerate([128, 64, 64, 128], start=1)},
    **{f"lstm_cell.{name}": (512, 128) for name in ("weight_ih", "weight_hh")},
    **{f"lstm_cell.{name}": (512,) for name in ("bias_ih", "bias_hh")},
    "final_conv.weight": (1, 128, 1),
    "final_conv.bias": (1,),
}


@dataclasses.dataclass(frozen=True)
class Segment:
    """A piece of a recording, in seconds from its start.

    >>> Segment(0.5, 2.0).duration_s
    1.5
    """

    start_s: float
    end_s: float

    @property
    def duration_s(self) -> float:
        """Length in seconds."""
        return self.end_s - self.start_s

    def samples(self, sample_rate: int) -> slice:
        """The piece as a slice of a wave at `sample_rate` (rounded to the nearest sample)."""
        return slice(round(self.start_s * sample_rate), round(self.end_s * sample_rate))


class SileroVad:
    """Silero VAD (16 kHz) run with torch from its safetensors weights: no pickle, no TorchScript.

    The network (an STFT as a convolution, four convolutions, an LSTM cell, a 1x1 convolution) is
    written out here because the package itself only loads its TorchScript or ONNX files; the
    convolutions run on all frames at once and the LSTM over the frame sequence.

    >>> vad = SileroVad.from_package()                                  # doctest: +SKIP
    >>> vad.probabilities(np.zeros(16000, dtype=np.float32)).shape     # doctest: +SKIP
    (32,)
    """

    def __init__(self, weights: dict[str, Any]) -> None:
        import torch

        for key, shape in _SHAPES.items():
            if key not in weights or tuple(weights[key].shape) != shape:
                found = tuple(weights[key].shape) if key in weights else "missing"
                raise SpireError(
                    f"weights[{key!r}] must have shape {shape}, but is {found}; fix: pass the "
                    "silero_vad_16k.safetensors that the silero-vad package ships"
                )
        self.weights = {k: torch.as_tensor(v, dtype=torch.float32) for k, v in weights.items()}
        self._lstm = torch.nn.LSTM(128, 128, batch_first=True)
        with torch.no_grad():
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(self._lstm, f"{name}_l0").copy_(self.weights[f"lstm_cell.{name}"])
        self._lstm.eval()

    @classmethod
    def from_package(cls) -> SileroVad:
        """The model from the installed `silero-vad` package (read once, then shared)."""
        return _packaged_vad()

    @classmethod
    def from_file(cls, path: str | Path) -> SileroVad:
        """The model from a `silero_vad_16k.safetensors` file."""
        from safetensors.torch import load_file

        path = Path(path)
        if not path.is_file():
            raise SpireError(
                f"path must be a silero_vad_16k.safetensors file, but {path} does not exist; "
                "fix: pip install 'silero-vad>=6.2.1' (it ships the file from that release on)"
            )
        try:
            weights = load_file(str(path))
        except Exception as e:  # safetensors raises its own error type for a damaged file
            raise SpireError(
                f"path must be a readable safetensors file, but {path} is not ({e}); fix: "
                "reinstall silero-vad"
            ) from e
        return cls(weights)

    def probabilities(self, wave: np.ndarray) -> np.ndarray:
        """Speech probability of each 32 ms frame of a 16 kHz wave (the last one zero-padded)."""
        import torch
        import torch.nn.functional as F

        num_frames = -(-len(wave) // _FRAME)
        if num_frames == 0:
            return np.zeros(0, dtype=np.float32)
        padded = torch.zeros(_CONTEXT + num_frames * _FRAME)
        padded[_CONTEXT : _CONTEXT + len(wave)] = torch.from_numpy(np.asarray(wave, np.float32))
        w = self.weights
        state = None
        out = []
        with torch.inference_mode():
            for first in range(0, num_frames, _BLOCK):
                stop = min(first + _BLOCK, num_frames)
                span = padded[first * _FRAME : stop * _FRAME + _CONTEXT]
                x = span.unfold(0, _FRAME + _CONTEXT, _FRAME).unsqueeze(1)
                x = F.pad(x, (0, _CONTEXT), mode="reflect")
                spec = F.conv1d(x, w["stft_conv.weight"], stride=128)
                x = torch.sqrt(spec[:, :129] ** 2 + spec[:, 129:] ** 2)
                for i, stride in ((1, 1), (2, 2), (3, 2), (4, 1)):
                    x = F.relu(F.conv1d(x, w[f"conv{i}.weight"], w[f"conv{i}.bias"],
                                        stride=stride, padding=1))
                h, state = self._lstm(x.squeeze(-1).unsqueeze(0), state)
                logits = F.conv1d(F.relu(h[0]).unsqueeze(-1), w["final_conv.weight"],
                                  w["final_conv.bias"])
                out.append(torch.sigmoid(logits).reshape(-1))
        return torch.cat(out).numpy()


@lru_cache(maxsize=1)
def _packaged_vad() -> SileroVad:
    from importlib import metadata

    # Located through the distribution's file list: importing `silero_vad` would run its
    # `torch.set_num_threads(1)` and slow every later torch call in this process.
    try:
        path = Path(str(metadata.distribution("silero-vad").locate_file(_WEIGHTS)))
    except metadata.PackageNotFoundError as e:
        raise SpireError(
            "the silero-vad package must be installed to find speech in long audio, but is "
            "not; fix: pip install 'silero-vad>=6.2.1'"
        ) from e
    return SileroVad.from_file(path)


def speech_segments(
    wave: np.ndarray,
    sample_rate: int,
    *,
    max_piece_s: float = 20.0,
    min_silence_s: float = 0.5,
    min_speech_s: float = 0.25,
    pad_s: float = 0.1,
    threshold: float = 0.5,
    vad: SileroVad | None = None,
) -> list[Segment]:
    """The speech of `wave` as pieces cut at pauses, none longer than `max_piece_s`.

    A pause of at least `min_silence_s` ends a piece; speech shorter than `min_speech_s` is
    dropped (a click, a cough); each piece keeps `pad_s` of the audio around it (never past the
    middle of the pause to the next one). A piece without such a pause that is longer than
    `max_piece_s` is cut at its quietest points, so its parts touch and cover it whole.
    Silence and noise give an empty list. `vad` defaults to the packaged Silero model.

    >>> speech_segments(np.zeros(800, dtype=np.float32), 8000, max_piece_s=8.0)
    []
    """
    wave = _check(wave, sample_rate, max_piece_s, min_silence_s, min_speech_s, pad_s, threshold)
    duration_s = len(wave) / sample_rate
    if len(wave) == 0:
        return []
    at_16k = wave
    if sample_rate != VAD_SAMPLE_RATE:
        import soxr

        at_16k = soxr.resample(wave, sample_rate, VAD_SAMPLE_RATE).astype(np.float32, copy=False)
    probs = (vad or SileroVad.from_package()).probabilities(at_16k)
    frame_s = _FRAME / VAD_SAMPLE_RATE
    regions = _speech_frames(probs, threshold, math.ceil(min_silence_s / frame_s))
    regions = [(a * frame_s, min(b * frame_s, duration_s)) for a, b in regions]
    regions = [(a, b) for a, b in regions if b - a >= min_speech_s]
    pieces: list[Segment] = []
    for i, (start, end) in enumerate(regions):
        before = (regions[i - 1][1] + start) / 2 if i else 0.0
        after = (end + regions[i + 1][0]) / 2 if i + 1 < len(regions) else duration_s
        start, end = max(start - pad_s, before), min(end + pad_s, after)
        pieces.extend(_cut_long(wave, sample_rate, start, end, max_piece_s))
    return pieces


def _speech_frames(probs: np.ndarray, threshold: float, min_silence: int) -> list[tuple[int, int]]:
    """(first, end) frame ranges of speech, with hysteresis and pauses of at least min_silence."""
    low = max(threshold - _HYSTERESIS, 0.01)
    regions: list[tuple[int, int]] = []
    start: int | None = None
    quiet_since: int | None = None
    for i, p in enumerate(probs.tolist()):
        if start is None:
            if p >= threshold:
                start, quiet_since = i, None
            continue
        if p >= low:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = i
        if quiet_since is not None and i + 1 - quiet_since >= min_silence:
            regions.append((start, quiet_since))
            start, quiet_since = None, None
    if start is not None:
        regions.append((start, quiet_since if quiet_since is not None else len(probs)))
    return regions


def _cut_long(
    wave: np.ndarray, sample_rate: int, start_s: float, end_s: float, max_piece_s: float
) -> list[Segment]:
    if end_s - start_s <= max_piece_s:
        return [Segment(start_s, end_s)]
    first = round(start_s * sample_rate)
    part = wave[first : round(end_s * sample_rate)]
    # Cut in whole samples, one sample short of the limit, so float error never makes a part
    # longer than max_piece_s.
    bounds = chunk_bounds(part, sample_rate, max_chunk_s=max_piece_s - 1.0 / sample_rate)
    return [Segment((first + a) / sample_rate, (first + b) / sample_rate) for a, b in bounds]


def _check(
    wave: Any,
    sample_rate: Any,
    max_piece_s: float,
    min_silence_s: float,
    min_speech_s: float,
    pad_s: float,
    threshold: float,
) -> np.ndarray:
    array = np.asarray(wave)
    if array.ndim != 1 or not np.issubdtype(array.dtype, np.floating):
        raise SpireError(
            f"wave must be a 1-D float array, but has shape {array.shape} and dtype "
            f"{array.dtype}; fix: decode it with units.load_audio"
        )
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)) or (
        sample_rate < 1000
    ):
        raise SpireError(
            f"sample_rate must be an integer of at least 1000 Hz, but is {sample_rate!r}; "
            "fix: pass the rate the wave was decoded at, e.g. 16000"
        )
    limits = {
        "max_piece_s": (max_piece_s, 0.1, math.inf),
        "min_silence_s": (min_silence_s, 0.0, math.inf),
        "min_speech_s": (min_speech_s, 0.0, math.inf),
        "pad_s": (pad_s, 0.0, math.inf),
        "threshold": (threshold, 0.0, 1.0),
    }
    for name, (value, low, high) in limits.items():
        if not (isinstance(value, (int, float)) and math.isfinite(value) and low <= value <= high):
            raise SpireError(
                f"{name} must be a finite number from {low} to {high}, but is {value!r}; "
                f"fix: pass a value in that range"
            )
    if not np.isfinite(array).all():
        raise SpireError("wave must hold only finite samples, but has NaN or inf; fix: check it")
    return np.ascontiguousarray(array, dtype=np.float32)


def trim_edges(wave: np.ndarray, sample_rate: int, *, top_db: float = 40.0, frame_s: float = 0.01) -> slice:
    """The part of `wave` between its first and last 10 ms frame within `top_db` of its loudest one.

    A speech detector's piece keeps some silence at its edges (its frames are 32 ms, its onsets
    lag, and `pad_s` adds more); a model whose training clips start and end with the speech reads
    such edges as units it never saw there (the miniature: WER 13.7% -> 23.7% with 0.15 s of
    silence around each test clip). Silence and noise only give `slice(0, 0)`.

    >>> wave = np.concatenate([np.zeros(1600), np.ones(800), np.zeros(1600)]).astype(np.float32)
    >>> trim_edges(wave, 16000)
    slice(1600, 2400, None)
    """
    if not top_db > 0:
        raise SpireError(f"top_db must be > 0, but is {top_db}; fix: pass e.g. 40.0")
    hop = max(1, int(round(frame_s * sample_rate)))
    frames = len(wave) // hop + (len(wave) % hop > 0)
    if frames == 0:
        return slice(0, 0)
    padded = np.zeros(frames * hop, dtype=np.float64)
    padded[: len(wave)] = wave
    rms = np.sqrt((padded.reshape(frames, hop) ** 2).mean(axis=1))
    loud = np.nonzero(rms >= rms.max() * 10 ** (-top_db / 20))[0] if rms.max() > 0 else []
    if len(loud) == 0:
        return slice(0, 0)
    return slice(int(loud[0]) * hop, min(len(wave), (int(loud[-1]) + 1) * hop))
