"""What `SpireModel` accepts as audio, and the checks it makes on it.

A bare array carries no sample rate. `SpireModel` takes it to be at the rate the caller passes
(`sample_rate=`), else at its extractor's rate (16 kHz); with no rate passed, it warns when the
array does not look like audio at that rate: almost no energy in the upper half of the band is
what a 44.1/48 kHz recording read as 16 kHz looks like (speech at 16 kHz keeps some energy above
4 kHz; upsampled narrowband audio does not, and the warning says so).

>>> import numpy as np
>>> t = np.arange(48000 * 2) / 48000
>>> hum = np.sin(2 * np.pi * 220 * t).astype(np.float32)      # 2 s of a 220 Hz tone at 48 kHz
>>> rate_doubt(hum, 16000) is not None                         # read as 16 kHz: 0.66 kHz, no highs
True
>>> rate_doubt(np.random.default_rng(0).normal(size=16000).astype(np.float32), 16000) is None
True
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["AudioInput", "audio_files", "is_batch", "named_error", "rate_doubt"]

AudioInput = str | os.PathLike | bytes | np.ndarray | tuple | Mapping
"""A path, encoded bytes, an `(array, sample_rate)` pair, a bare array, a datasets audio dict or
a dataset row with an "audio" column."""

# Share of the power above half the Nyquist frequency below which a bare array is doubted.
_UPPER_BAND_SHARE = 1e-5
_MAX_SECONDS = 30  # enough to judge; bounds the FFT's cost on long recordings


def is_batch(audio: Any) -> bool:
    """A list (or a tuple that is not an `(array, sample_rate)` pair) is a batch.

    >>> is_batch(["a.wav"]), is_batch((np.zeros(4), 16000))
    (True, False)
    """
    if isinstance(audio, list):
        return True
    if isinstance(audio, tuple):
        return not (
            len(audio) == 2
            and isinstance(audio[1], (int, np.integer))
            and not isinstance(audio[0], (str, os.PathLike))
        )
    return False


def rate_doubt(wave: np.ndarray, sample_rate: int) -> str | None:
    """Why `wave` may not be audio at `sample_rate` (see the module docstring), or None."""
    samples = np.asarray(wave, dtype=np.float64)[: sample_rate * _MAX_SECONDS]
    if samples.size < sample_rate // 4:
        return None  # too short to judge
    power = np.abs(np.fft.rfft(samples - samples.mean())) ** 2
    total = float(power.sum())
    if total <= 1e-10 * samples.size:
        return None  # silence says nothing about the rate
    share = float(power[len(power) // 2 :].sum()) / total
    if share >= _UPPER_BAND_SHARE:
        return None
    return (
        f"a bare array is taken to be at {sample_rate} Hz, but this one has only {share:.1e} of "
        f"its power above {sample_rate // 4} Hz, as a recording at a higher rate (e.g. 44.1 or "
        f"48 kHz) read at {sample_rate} Hz would; fix: pass sample_rate= its real rate (or "
        f"sample_rate={sample_rate} if it is right, e.g. upsampled narrowband audio)"
    )


def audio_files(folder: str | Path) -> list[Path]:
    """The audio files under `folder` (any depth), sorted by path; extensions as `units` reads.

    >>> audio_files("clips/")                                     # doctest: +SKIP
    [PosixPath('clips/a.wav'), PosixPath('clips/b/c.flac')]
    """
    from units.corpus.manifests import AUDIO_EXTENSIONS

    return sorted(
        p for p in Path(folder).rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS
    )


def named_error(source: Any, error: Exception) -> str:
    """`error`'s message, starting with the input's name when the message lacks it.

    >>> named_error("a.wav", ValueError("too short"))
    'a.wav: too short'
    """
    from units.audio import describe_source

    if isinstance(source, Mapping) and "audio" in source:
        source = source["audio"]  # a dataset row
    label = describe_source(source)
    text = str(error)
    return text if text.startswith(label) else f"{label}: {text}"
