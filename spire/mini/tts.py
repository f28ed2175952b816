"""Offline speech synthesis: espeak-ng through ctypes on the library bundled by `espeakng-loader`.

The wheel ships the shared library and all voice data, so no system package is needed. One
engine per process; calls are serialized with a lock because espeak-ng keeps global state
(which also carries from one utterance to the next: see `synthesize`).
Output is resampled with soxr from espeak's native 22050 Hz to 16 kHz float32.

    >>> from spire.mini.tts import synthesize
    >>> wave = synthesize("the red dog sleeps", voice="en-us+m3", rate=170, pitch=50)
    >>> wave.dtype, wave.ndim
    (dtype('float32'), 1)
"""

from __future__ import annotations

import ctypes
import threading
from typing import Any

import numpy as np

from spire.mini.errors import SynthesisError

SAMPLE_RATE = 16000
"""Sample rate of every wave returned by `synthesize`."""

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_INITIALIZE_DONT_EXIT = 0x8000
_RATE, _VOLUME, _PITCH, _RANGE = 1, 2, 3, 4
_EE_OK = 0
_MIN_RATE, _MAX_RATE = 80, 450

# int callback(short *wav, int numsamples, espeak_EVENT *events); events are not used.
_SYNTH_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)

_INSTALL_HINT = ("fix: pip install 'spire-speech[demo]' (or pip install espeakng-loader: it bundles libespeak-ng "
                 "and its voice data)")


class _Engine:
    """The loaded library, its native sample rate and the buffer the callback fills."""

    def __init__(self) -> None:
        try:
            import espeakng_loader
        except ImportError as error:
            raise SynthesisError(f"espeakng_loader must be importable, but is missing; {_INSTALL_HINT}") from error
        try:
            library_path = espeakng_loader.get_library_path()
            data_path = espeakng_loader.get_data_path()
            self.lib = ctypes.CDLL(library_path)
        except (OSError, RuntimeError) as error:
            raise SynthesisError(
                f"the espeak-ng library bundled by espeakng-loader must load, but fails: {error}; {_INSTALL_HINT}"
            ) from error
        self._declare()
        self.sample_rate = self.lib.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS, 0, data_path.encode(), _INITIALIZE_DONT_EXIT
        )
        if self.sample_rate <= 0:
            raise SynthesisError(
                f"espeak_Initialize must return a sample rate, but returned {self.sample_rate} "
                f"(data path {data_path}); {_INSTALL_HINT}"
            )
        self._chunks: list[np.ndarray] = []
        # Keep a reference: ctypes frees the trampoline when the Python object dies.
        self._callback = _SYNTH_CALLBACK(self._collect)
        self.lib.espeak_SetSynthCallback(self._callback)
        self.lock = threading.Lock()

    def _declare(self) -> None:
        lib = self.lib
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetSynthCallback.argtypes = [_SYNTH_CALLBACK]
        lib.espeak_SetSynthCallback.restype = None
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_SetParameter.restype = ctypes.c_int
        lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
        lib.espeak_ng_SetRandSeed.restype = None
        lib.espeak_Synth.argtypes = [
            ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
            ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p,
        ]
        lib.espeak_Synth.restype = ctypes.c_int
        lib.espeak_Synchronize.restype = ctypes.c_int

    def _collect(self, wav: Any, num_samples: int, events: Any) -> int:
        if wav and num_samples > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(num_samples,)).copy())
        return 0  # 0 = continue synthesis

    def speak(self, text: str, voice: str, rate: int, pitch: int) -> np.ndarray:
        with self.lock:
            if self.lib.espeak_SetVoiceByName(voice.encode()) != _EE_OK:
                raise SynthesisError(
                    f"voice must be an espeak-ng voice name such as 'en-us' or 'en-us+m3', "
                    f"but is {voice!r}; fix: pick one from espeak-ng-data/voices"
                )
            self.lib.espeak_SetParameter(_RATE, rate, 0)
            self.lib.espeak_SetParameter(_PITCH, pitch, 0)
            # Variants with breath/flutter draw random numbers: reseed so output is reproducible.
            self.lib.espeak_ng_SetRandSeed(0)
            self._chunks = []
            data = text.encode("utf-8") + b"\0"
            status = self.lib.espeak_Synth(data, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
            self.lib.espeak_Synchronize()
            chunks, self._chunks = self._chunks, []
        if status != _EE_OK:
            raise SynthesisError(f"espeak_Synth must succeed, but returned status {status} for {text!r}")
        if not chunks:
            return np.zeros(0, dtype=np.int16)
        return np.concatenate(chunks)


_engine: _Engine | None = None
_engine_lock = threading.Lock()


def _get_engine() -> _Engine:
    global _engine
    with _engine_lock:
        if _engine is None:
            _engine = _Engine()
        return _engine


def synthesize(text: str, voice: str = "en-us", rate: int = 175, pitch: int = 50) -> np.ndarray:
    """Speak `text` with espeak-ng and return 16 kHz mono float32 samples in [-1, 1].

    `voice` is an espeak-ng voice, optionally with a variant ("en-us", "en-us+m3", "en+f2");
    `rate` is in words per minute (80–450), `pitch` in espeak's 0–99 scale. espeak-ng carries
    glottal phase and pitch-flutter state from one utterance to the next, so a repeated call may
    differ by a few samples; the same sequence of calls in a fresh process gives the same samples
    (`spire.mini.corpus` relies on this, synthesizing each shard in a new process).

    >>> wave = synthesize("two green birds", voice="en+f2", rate=190, pitch=60)
    >>> bool(len(wave) > 16000 * 0.3)
    True
    """
    if not isinstance(text, str) or not text.strip():
        raise SynthesisError(f"text must be a non-empty string, but is {text!r}; fix: pass a sentence")
    if not _MIN_RATE <= int(rate) <= _MAX_RATE:
        raise SynthesisError(
            f"rate must be between {_MIN_RATE} and {_MAX_RATE} words per minute, but is {rate}; "
            "fix: pass a rate such as 175"
        )
    if not 0 <= int(pitch) <= 99:
        raise SynthesisError(f"pitch must be between 0 and 99, but is {pitch}; fix: pass a pitch such as 50")
    engine = _get_engine()
    samples = engine.speak(text, voice, int(rate), int(pitch))
    wave = samples.astype(np.float32) / 32768.0
    if engine.sample_rate == SAMPLE_RATE or len(wave) == 0:
        return wave
    import soxr

    return soxr.resample(wave, engine.sample_rate, SAMPLE_RATE, quality="HQ").astype(np.float32)
