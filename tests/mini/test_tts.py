"""espeak-ng synthesis through ctypes: format, content, settings, reproducibility, errors."""

import subprocess
import sys

import numpy as np
import pytest

from spire.mini import tts
from spire.mini.errors import SynthesisError
from spire.mini.tts import SAMPLE_RATE, synthesize

TEXT = "the old man sees three black dogs in the garden"


def test_output_is_16khz_float32_speech():
    wave = synthesize(TEXT)
    assert wave.dtype == np.float32 and wave.ndim == 1
    duration_s = len(wave) / SAMPLE_RATE
    assert 1.5 < duration_s < 6.0  # ten words at 175 words per minute
    assert np.sqrt(np.mean(wave**2)) > 0.01
    assert np.abs(wave).max() <= 1.0


def test_resampled_to_16khz_keeps_duration_of_native_rate():
    engine = tts._get_engine()
    native = engine.speak(TEXT, "en-us", 175, 50)
    wave = synthesize(TEXT, voice="en-us", rate=175, pitch=50)
    # Same text and settings: 16 kHz length equals native length scaled (phase state may move a few samples).
    assert abs(len(wave) - len(native) * SAMPLE_RATE / engine.sample_rate) < 0.01 * len(wave)


def test_rate_changes_duration_and_voice_changes_signal():
    slow = synthesize(TEXT, rate=120)
    fast = synthesize(TEXT, rate=300)
    assert len(slow) > 1.5 * len(fast)
    male = synthesize(TEXT, voice="en-us+m3")
    female = synthesize(TEXT, voice="en-us+f2")
    n = min(len(male), len(female))
    assert not np.allclose(male[:n], female[:n], atol=1e-3)


def test_same_calls_in_fresh_processes_give_identical_samples():
    code = (
        "import hashlib; from spire.mini.tts import synthesize; "
        "print(hashlib.sha256(b''.join(synthesize(t, voice=v, rate=r, pitch=p).tobytes() for t, v, r, p in "
        "[('a red car', 'en-us+m3', 170, 40), ('two green birds', 'en+f2', 190, 60)])).hexdigest())"
    )
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
            for _ in range(2)]
    assert runs[0] == runs[1] and len(runs[0].strip()) == 64


@pytest.mark.parametrize("kwargs,match", [
    ({"text": ""}, "non-empty"),
    ({"text": "hello", "rate": 10}, "rate must be between"),
    ({"text": "hello", "pitch": 120}, "pitch must be between"),
    ({"text": "hello", "voice": "xx-nonexistent"}, "voice must be an espeak-ng voice"),
])
def test_bad_arguments_raise_synthesis_error(kwargs, match):
    with pytest.raises(SynthesisError, match=match):
        synthesize(**kwargs)


def test_missing_library_says_what_to_install(monkeypatch):
    import espeakng_loader

    monkeypatch.setattr(tts, "_engine", None)
    monkeypatch.setattr(espeakng_loader, "get_library_path", lambda: "/nonexistent/libespeak-ng.so")
    with pytest.raises(SynthesisError, match="pip install espeakng-loader"):
        synthesize("hello")


def test_docstring_examples_run():
    import doctest

    result = doctest.testmod(tts)
    assert result.attempted > 0 and result.failed == 0
