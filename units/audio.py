"""Audio in: decode (soundfile), downmix to mono, resample (soxr), validate.

Every way audio reaches the toolkit goes through `load_audio`, so every consumer gets the same
float32 mono signal at the same rate, and every unusable input fails the same way: an
`AudioError` naming the source, the reason and the fix.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from units.errors import AudioError

# Sample rates outside this range are taken as a mistake (a rate in kHz, samples passed as the
# rate), not audio: 1 kHz is below any speech corpus, 384 kHz the top of studio converters.
MIN_SAMPLE_RATE = 1_000
MAX_SAMPLE_RATE = 384_000

# A 2-D array is (frames, channels) or (channels, frames); the channel axis is the short one,
# and real recordings have few channels. More than this is taken as a mistake, not audio.
_MAX_CHANNELS = 32

_INT_SCALE = {
    np.dtype(np.int8): 2.0**7,
    np.dtype(np.int16): 2.0**15,
    np.dtype(np.int32): 2.0**31,
    np.dtype(np.int64): 2.0**63,
}


def describe_source(source: Any) -> str:
    """A short human name for an audio source, for messages and reject files.

    >>> describe_source("data/clip.wav")
    'data/clip.wav'
    >>> describe_source(b"RIFF....")
    '<8 bytes of encoded audio>'
    """
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return f"<{len(source)} bytes of encoded audio>"
    if isinstance(source, tuple) and len(source) == 2:
        array, rate = source
        shape = "x".join(str(s) for s in getattr(array, "shape", ()))
        return f"<array {shape or '?'} at {rate} Hz>"
    if isinstance(source, Mapping):
        path = source.get("path")
        if path:
            return os.fspath(path)
        if source.get("bytes") is not None:
            return f"<audio dict with {len(source['bytes'])} bytes>"
        if source.get("array") is not None:
            return f"<audio dict array at {source.get('sampling_rate')} Hz>"
        return "<audio dict>"
    return f"<{type(source).__name__}>"


def load_audio(
    source: Any,
    sample_rate: int = 16000,
    *,
    min_duration_s: float = 0.0,
    name: str | None = None,
) -> np.ndarray:
    """Decode any supported audio source into a float32 mono array at `sample_rate`.

    Sources: a path (wav, flac, ogg, mp3: whatever soundfile reads), encoded bytes, an
    `(array, sample_rate)` pair (1-D, or 2-D with the shorter axis as channels; integer PCM is
    scaled to [-1, 1]), a `datasets` audio dict (`{"bytes", "path"}` or
    `{"array", "sampling_rate"}`), or the torchcodec decoder that `datasets` >= 4 returns.
    Channels are averaged; resampling uses soxr's high-quality filter. `name` replaces the
    source's own description in error messages. Sample rates (the source's and `sample_rate`)
    must be integers from 1 kHz to 384 kHz. A WAV file shorter than its header says (cut off
    while copying or downloading) is refused rather than read as the shorter audio.

    >>> import numpy as np
    >>> wave = load_audio((np.zeros(8000, dtype=np.int16), 8000))
    >>> wave.dtype, wave.shape
    (dtype('float32'), (16000,))
    """
    label = name or describe_source(source)
    if (
        isinstance(sample_rate, bool)
        or not isinstance(sample_rate, (int, np.integer))
        or not MIN_SAMPLE_RATE <= sample_rate <= MAX_SAMPLE_RATE
    ):
        raise AudioError(
            label,
            f"the target sample_rate must be a positive integer from {MIN_SAMPLE_RATE} to "
            f"{MAX_SAMPLE_RATE} Hz, but is {sample_rate!r}; fix: pass e.g. sample_rate=16000",
        )
    samples, rate, frames_first = _decode(source, label)
    wave = _to_mono_float(samples, label, frames_first)
    _validate(wave, rate, label, min_duration_s)
    if rate != sample_rate:
        import soxr

        wave = soxr.resample(wave, rate, int(sample_rate), quality="HQ").astype(
            np.float32, copy=False
        )
    return np.ascontiguousarray(wave, dtype=np.float32)


def require_one_frame(wave: np.ndarray, featurizer: Any, label: str) -> None:
    """Refuse `wave` (at the featurizer's rate) when it is too short for one featurizer frame.

    The `AudioError` names `label` (the file), the shortest usable length and the fix; without
    it the featurizer would refuse an anonymous batch entry.

    >>> from units.features.mfcc import MfccFeaturizer  # doctest: +SKIP
    >>> require_one_frame(np.zeros(100, np.float32), MfccFeaturizer(), "a.wav")  # doctest: +SKIP
    Traceback (most recent call last):
    units.errors.AudioError: a.wav: the audio must last at least 400 samples ...
    """
    if featurizer.num_frames(len(wave)) >= 1:
        return
    rate = int(featurizer.sample_rate)
    need = _min_samples(featurizer.num_frames)
    shortest = f"{need} samples ({need / rate:.4f} s at {rate} Hz)" if need else "one frame"
    raise AudioError(
        label,
        f"the audio must last at least {shortest} to give one frame of features, but holds "
        f"{len(wave)} samples ({len(wave) / rate:.4f} s); fix: drop this file, or pad it with "
        "silence to that length",
    )


def _min_samples(num_frames: Any, limit: int = 1 << 26) -> int | None:
    """The fewest samples that give one frame (num_frames grows with length), or None."""
    high = 1
    while num_frames(high) < 1:
        high *= 2
        if high > limit:
            return None
    low = high // 2  # gives no frame (or is 0)
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if num_frames(middle) >= 1 else (middle, high)
    return high


def _decode(source: Any, label: str) -> tuple[np.ndarray, int, bool]:
    """Return (samples, sample rate, whether a 2-D layout is known to be frames-first)."""
    if isinstance(source, (str, os.PathLike)):
        return (*_read_file(Path(source), label), True)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return (*_read_encoded(bytes(source), label), True)
    if isinstance(source, tuple):
        if len(source) != 2:
            raise AudioError(
                label,
                f"an audio tuple must be (array, sample_rate), but has {len(source)} items; "
                "fix: pass (samples, sample_rate)",
            )
        return _as_array(source[0], label), _check_rate(source[1], label), False
    if isinstance(source, Mapping):
        return _decode_dict(source, label)
    if hasattr(source, "get_all_samples"):  # datasets >= 4 decodes Audio to a torchcodec decoder
        return _decode_torchcodec(source, label)
    if isinstance(source, np.ndarray) or hasattr(source, "numpy"):
        raise AudioError(
            label,
            "a bare array has no sample rate; fix: pass (array, sample_rate) instead",
        )
    raise AudioError(
        label,
        f"an audio source must be a path, bytes, (array, sample_rate) or a datasets audio dict, "
        f"but is a {type(source).__name__}; fix: convert it to one of these",
    )


def _decode_dict(source: Mapping, label: str) -> tuple[np.ndarray, int, bool]:
    if source.get("array") is not None:
        rate = source.get("sampling_rate", source.get("sample_rate"))
        if rate is None:
            raise AudioError(
                label,
                "an audio dict with 'array' must also hold 'sampling_rate'; fix: add it",
            )
        return _as_array(source["array"], label), _check_rate(rate, label), False
    # Embedded bytes win over the path: a saved dataset keeps the path of a file that may no
    # longer exist, while the bytes are the audio itself.
    if source.get("bytes") is not None:
        return (*_read_encoded(bytes(source["bytes"]), label), True)
    if source.get("path"):
        return (*_read_file(Path(source["path"]), label), True)
    raise AudioError(
        label,
        "an audio dict must hold 'bytes', 'path' or 'array', but holds none of them; "
        "fix: load the dataset with its Audio feature, or pass the file path",
    )


def _decode_torchcodec(decoder: Any, label: str) -> tuple[np.ndarray, int, bool]:
    try:
        samples = decoder.get_all_samples()
    except Exception as e:  # the decoder's own errors have no common base class
        raise AudioError(
            label,
            f"the audio cannot be decoded ({_first_line(e)}); fix: load the column with "
            "Audio(decode=False) and pass the rows (soundfile decodes the bytes), or make "
            "torchcodec work: pip install torchcodec plus FFmpeg (e.g. apt-get install ffmpeg)",
        ) from e
    channels_first = _as_array(samples.data, label)
    frames_first = channels_first.T if channels_first.ndim == 2 else channels_first
    return frames_first, _check_rate(samples.sample_rate, label), True


def _read_file(path: Path, label: str) -> tuple[np.ndarray, int]:
    if not path.exists():
        raise AudioError(
            label, "the file does not exist; fix: check the path (and the manifest root)"
        )
    if not path.is_file():
        raise AudioError(label, "the path is not a file; fix: point at an audio file")
    import soundfile as sf

    try:
        return _read_sound(str(path), label)
    except (sf.LibsndfileError, RuntimeError, ValueError, TypeError, OSError) as e:
        raise AudioError(
            label,
            f"the file cannot be decoded ({_first_line(e)}); fix: check that it is a complete "
            "wav/flac/ogg/mp3 file, or convert it (e.g. ffmpeg -i in -ar 16000 out.wav)",
        ) from e


def _read_encoded(data: bytes, label: str) -> tuple[np.ndarray, int]:
    if not data:
        raise AudioError(label, "the audio bytes are empty; fix: check how the bytes were produced")
    import soundfile as sf

    try:
        return _read_sound(io.BytesIO(data), label)
    except (sf.LibsndfileError, RuntimeError, ValueError, TypeError, OSError) as e:
        raise AudioError(
            label,
            f"the bytes cannot be decoded as audio ({_first_line(e)}); fix: pass the bytes of a "
            "complete wav/flac/ogg/mp3 file",
        ) from e


def _read_sound(source: str | BinaryIO, label: str) -> tuple[np.ndarray, int]:
    """Decode a path or an open file; a WAV holding fewer frames than its header states is refused."""
    import soundfile as sf

    with sf.SoundFile(source) as sound:
        rate = _check_rate(sound.samplerate, label)
        samples = sound.read(dtype="float32", always_2d=True)
        container = sound.format
    if container in ("WAV", "WAVEX"):
        # libsndfile quietly shortens a cut-off WAV to what is there; its header still knows.
        if isinstance(source, str):
            with open(source, "rb") as handle:
                stated = _wav_data_frames(handle)
        else:
            source.seek(0)
            stated = _wav_data_frames(source)
        if stated is not None and len(samples) < stated:
            raise AudioError(
                label,
                f"the file is cut off: its header states {stated} samples ({stated / rate:.3f} s) "
                f"but it holds {len(samples)} ({len(samples) / rate:.3f} s); fix: copy or "
                "download the file again, or re-export it",
            )
    return samples, rate


def _wav_data_frames(handle: BinaryIO) -> int | None:
    """Frames a RIFF/WAVE header states for its data chunk; None when it does not say.

    Streaming writers put 0 or 0xFFFFFFFF as the size ("unknown"); RF64 keeps it elsewhere.
    """
    head = handle.read(12)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    block_align = None
    for _ in range(64):  # a few chunks (fmt, LIST, fact, ...) come before the data
        chunk = handle.read(8)
        if len(chunk) < 8:
            return None
        kind, size = chunk[:4], int.from_bytes(chunk[4:], "little")
        if kind == b"fmt ":
            body = handle.read(size)
            if len(body) < 14:
                return None
            block_align = int.from_bytes(body[12:14], "little")
            handle.seek(size % 2, io.SEEK_CUR)
            continue
        if kind == b"data":
            if not block_align or size in (0, 0xFFFFFFFF):
                return None
            return size // block_align
        handle.seek(size + size % 2, io.SEEK_CUR)  # chunks are padded to even sizes
    return None


def _as_array(array: Any, label: str) -> np.ndarray:
    if hasattr(array, "detach"):  # a torch tensor, without importing torch here
        array = array.detach().cpu().numpy()
    try:
        return np.asarray(array)
    except (TypeError, ValueError) as e:
        raise AudioError(
            label, f"the samples are not an array ({e}); fix: pass a numeric array"
        ) from e


def _check_rate(rate: Any, label: str) -> int:
    try:
        value = float(rate)
    except (TypeError, ValueError):
        value = float("nan")
    if (
        not np.isfinite(value)
        or value != int(value)
        or not MIN_SAMPLE_RATE <= value <= MAX_SAMPLE_RATE
    ):
        raise AudioError(
            label,
            f"the sample rate must be a positive integer from {MIN_SAMPLE_RATE} to "
            f"{MAX_SAMPLE_RATE} Hz, but is {rate!r}; fix: pass the rate the samples were "
            "recorded at (in Hz)",
        )
    return int(value)


def _to_mono_float(samples: np.ndarray, label: str, frames_first: bool) -> np.ndarray:
    if samples.dtype.kind not in "iuf":
        raise AudioError(
            label,
            f"the samples must be integer or float, but are {samples.dtype}; fix: convert them",
        )
    if samples.ndim == 2:
        # decoders say the layout; for arrays the channel axis is the shorter one
        channel_axis = 1 if frames_first or samples.shape[1] <= samples.shape[0] else 0
        if samples.shape[1 - channel_axis] == 0 or samples.shape[channel_axis] == 0:
            return np.zeros(0, dtype=np.float32)
        if samples.shape[channel_axis] > _MAX_CHANNELS:
            raise AudioError(
                label,
                f"a 2-D array must be (frames, channels) with at most {_MAX_CHANNELS} channels, "
                f"but has shape {samples.shape}; fix: pass one channel or transpose",
            )
        samples = _scale(samples).mean(axis=channel_axis, dtype=np.float64)
    elif samples.ndim == 1:
        samples = _scale(samples)
    else:
        raise AudioError(
            label,
            f"the samples must be 1-D or 2-D, but have shape {samples.shape}; "
            "fix: pass one utterance at a time",
        )
    return samples.astype(np.float32, copy=False)


def _scale(samples: np.ndarray) -> np.ndarray:
    """Integer PCM to floats in [-1, 1]; floats unchanged."""
    if samples.dtype.kind == "f":
        return samples
    if samples.dtype.kind == "u":  # unsigned PCM (8-bit wav) is centred on half the range
        half = 2.0 ** (8 * samples.dtype.itemsize - 1)
        return (samples.astype(np.float64) - half) / half
    return samples.astype(np.float64) / _INT_SCALE[samples.dtype]


def _validate(wave: np.ndarray, rate: int, label: str, min_duration_s: float) -> None:
    if wave.size == 0:
        raise AudioError(
            label, "the audio holds 0 samples; fix: drop the item or re-export the file"
        )
    finite = np.isfinite(wave)
    if not finite.all():
        bad = wave.size - int(finite.sum())
        first = int(np.argmin(finite))
        raise AudioError(
            label,
            f"the audio must be finite, but {bad} samples are NaN or Inf (first at sample {first}); "
            "fix: re-export the file or drop the item",
        )
    duration_s = wave.size / rate
    if duration_s < min_duration_s:
        raise AudioError(
            label,
            f"the audio must last at least {min_duration_s:g} s, but lasts {duration_s:.4g} s; "
            "fix: drop the item or lower min_duration_s",
        )


def _first_line(error: BaseException) -> str:
    # libsndfile's own words, without the "Error opening <file object>:" prefix soundfile adds
    text = str(getattr(error, "error_string", None) or error).strip().splitlines()
    return text[0] if text else type(error).__name__
