"""load_audio: every source kind, mono, resampling, and every way audio is refused."""

import io

import numpy as np
import pytest
import soundfile as sf

from units.audio import describe_source, load_audio
from units.errors import AudioError


def sine(freq_hz: float, seconds: float, sample_rate: int, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(round(seconds * sample_rate))) / sample_rate
    return (amplitude * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)


def peak_hz(wave: np.ndarray, sample_rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(wave * np.hanning(wave.size)))
    return float(np.fft.rfftfreq(wave.size, 1 / sample_rate)[np.argmax(spectrum)])


WAVE = sine(440.0, 0.5, 16000)


@pytest.mark.parametrize(
    ("fmt", "subtype", "atol"),
    [
        ("WAV", "PCM_16", 1e-4),
        ("WAV", "FLOAT", 0.0),
        ("FLAC", "PCM_16", 1e-4),
        ("OGG", "VORBIS", 0.05),
    ],
)
def test_files_decode_to_the_written_signal(tmp_path, fmt, subtype, atol):
    path = tmp_path / f"clip.{fmt.lower()}"
    sf.write(path, WAVE, 16000, format=fmt, subtype=subtype)
    for source in (path, str(path), path.read_bytes(), {"bytes": path.read_bytes(), "path": None}):
        out = load_audio(source)
        assert out.dtype == np.float32 and out.ndim == 1
        assert out.shape == WAVE.shape
        np.testing.assert_allclose(out, WAVE, atol=atol)


def test_mp3_decodes_with_its_frequency(tmp_path):
    path = tmp_path / "clip.mp3"
    wave = sine(440.0, 1.0, 16000)
    sf.write(path, wave, 16000, format="MP3")
    for source in (path, path.read_bytes()):
        out = load_audio(source)
        assert out.dtype == np.float32 and abs(out.size - wave.size) < 0.1 * wave.size
        assert abs(peak_hz(out, 16000) - 440.0) < 3.0


def test_datasets_audio_dict_by_path_and_bytes(tmp_path):
    datasets = pytest.importorskip("datasets")
    path = tmp_path / "a.wav"
    sf.write(path, WAVE, 16000, subtype="FLOAT")
    ds = datasets.Dataset.from_dict({"audio": [str(path)]}).cast_column(
        "audio", datasets.Audio(decode=False)
    )
    row = ds[0]["audio"]
    assert row["path"] == str(path)
    np.testing.assert_array_equal(load_audio(row), WAVE)
    # embedded bytes win over a stale path
    stale = {"bytes": path.read_bytes(), "path": str(tmp_path / "gone.wav")}
    np.testing.assert_array_equal(load_audio(stale), WAVE)
    decoded = {"array": WAVE.astype(np.float64), "sampling_rate": 16000}
    np.testing.assert_array_equal(load_audio(decoded), WAVE)


class FakeDecoder:
    """The surface of the torchcodec AudioDecoder that `datasets` >= 4 returns."""

    def __init__(self, data, sample_rate, error=None):
        self.data, self.sample_rate, self.error = data, sample_rate, error

    def get_all_samples(self):
        if self.error:
            raise self.error
        return self


def test_datasets_torchcodec_decoder_is_read_channels_first():
    torch = pytest.importorskip("torch")
    left, right = sine(300.0, 0.5, 8000), sine(700.0, 0.5, 8000)
    decoder = FakeDecoder(torch.from_numpy(np.stack([left, right])), 8000)
    expected = load_audio(((left + right) / 2, 8000))
    np.testing.assert_allclose(load_audio(decoder), expected, atol=1e-6)
    with pytest.raises(AudioError, match="cannot be decoded \\(bad stream\\)"):
        load_audio(FakeDecoder(None, 8000, RuntimeError("bad stream")))


def test_array_pairs_and_int_pcm_scaling():
    np.testing.assert_array_equal(load_audio((WAVE, 16000)), WAVE)
    pcm16 = np.array([0, 16384, -32768, 32767], dtype=np.int16)
    np.testing.assert_allclose(load_audio((pcm16, 16000)), [0, 0.5, -1.0, 32767 / 32768])
    pcm32 = np.array([0, -(2**31), 2**30], dtype=np.int32)
    np.testing.assert_allclose(load_audio((pcm32, 16000)), [0, -1.0, 0.5])
    pcm8u = np.array([128, 0, 192], dtype=np.uint8)
    np.testing.assert_allclose(load_audio((pcm8u, 16000)), [0, -1.0, 0.5])
    torch = pytest.importorskip("torch")
    np.testing.assert_array_equal(load_audio((torch.from_numpy(WAVE), 16000)), WAVE)


def test_stereo_is_averaged_in_both_layouts(tmp_path):
    left, right = WAVE, sine(1000.0, 0.5, 16000, amplitude=0.25)
    expected = (left + right) / 2
    frames_first = np.stack([left, right], axis=1)
    np.testing.assert_allclose(load_audio((frames_first, 16000)), expected, atol=1e-7)
    np.testing.assert_allclose(load_audio((frames_first.T, 16000)), expected, atol=1e-7)
    path = tmp_path / "stereo.wav"
    sf.write(path, frames_first, 16000, subtype="FLOAT")
    np.testing.assert_allclose(load_audio(path), expected, atol=1e-7)


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000])
def test_resampling_keeps_length_in_seconds_and_frequency(tmp_path, rate):
    wave = sine(1000.0, 1.0, rate)
    out = load_audio((wave, rate))
    assert out.dtype == np.float32 and out.size == 16000
    assert abs(peak_hz(out, 16000) - 1000.0) <= 1.0
    # the passband is kept: a 1 kHz tone keeps its amplitude
    assert abs(np.abs(out[2000:-2000]).max() - 0.5) < 0.01
    path = tmp_path / "r.flac"
    sf.write(path, wave, rate)
    assert load_audio(path).size == 16000


def test_resampling_to_another_target_rate():
    out = load_audio((WAVE, 16000), sample_rate=8000)
    assert out.size == 4000 and abs(peak_hz(out, 8000) - 440.0) <= 2.0


def _wav_at(tmp_path, rate):
    path = tmp_path / f"at{rate}.wav"
    sf.write(path, np.zeros(rate, dtype=np.float32), rate, subtype="PCM_16")
    return path


def _cut_wav(tmp_path):
    """A WAV whose header states 24000 samples, cut off after 7985 (a partial copy)."""
    path = tmp_path / "cut.wav"
    if not path.exists():
        whole = io.BytesIO()
        sf.write(whole, sine(440.0, 1.5, 16000), 16000, format="WAV", subtype="PCM_16")
        path.write_bytes(whole.getvalue()[: 44 + 7985 * 2])
    return path


def test_complete_wavs_with_extra_chunks_or_unknown_size_still_load():
    wave = sine(440.0, 1.5, 16000)
    tagged = io.BytesIO()
    with sf.SoundFile(tagged, "w", 16000, 1, "PCM_24", format="WAV") as handle:
        handle.title = "a LIST chunk first"
        handle.write(np.stack([wave], axis=1))
    assert load_audio(tagged.getvalue()).size == wave.size
    streamed = bytearray(tagged.getvalue())
    at = streamed.index(b"data")
    streamed[at + 4 : at + 8] = (0xFFFFFFFF).to_bytes(4, "little")  # a writer that could not seek
    assert load_audio(bytes(streamed)).size == wave.size


def test_too_short_for_one_frame_names_the_file_and_the_fix(tmp_path):
    from units.audio import require_one_frame
    from units.extractor import UnitExtractor
    from units.features.mfcc import MfccFeaturizer
    from units.kmeans.quantizer import KMeansQuantizer

    featurizer = MfccFeaturizer()
    centroids = np.random.default_rng(0).standard_normal((4, featurizer.dim)).astype(np.float32)
    extractor = UnitExtractor(
        featurizer,
        KMeansQuantizer(centroids, {"provenance": featurizer.provenance()}),
    )
    path = tmp_path / "blip.wav"
    sf.write(path, sine(440.0, 0.01, 16000), 16000)
    with pytest.raises(
        AudioError, match="at least 400 samples \\(0.0250 s at 16000 Hz\\)"
    ) as caught:
        extractor.extract(str(path))
    assert caught.value.source == str(path) and "fix: drop this file, or pad it" in str(
        caught.value
    )
    with pytest.raises(AudioError, match="^<array 50 at 16000 Hz>: the audio must last"):
        extractor.extract([(WAVE, 16000), (WAVE[:50], 16000)])
    require_one_frame(WAVE, featurizer, "fine.wav")  # long enough: no error


def _errors(tmp_path):
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunkjunk" * 4)
    empty_wav = tmp_path / "empty.wav"
    sf.write(empty_wav, np.zeros(0, dtype=np.float32), 16000)
    nan = WAVE.copy()
    nan[7] = np.nan
    inf = WAVE.copy()
    inf[3] = -np.inf
    return [
        (tmp_path / "missing.wav", {}, "does not exist"),
        (tmp_path, {}, "not a file"),
        (corrupt, {}, "cannot be decoded"),
        (corrupt.read_bytes(), {}, "cannot be decoded as audio"),
        (b"", {}, "bytes are empty"),
        (empty_wav, {}, "0 samples"),
        ((np.zeros(0, dtype=np.float32), 16000), {}, "0 samples"),
        ((nan, 16000), {}, r"1 samples are NaN or Inf \(first at sample 7\)"),
        ((inf, 16000), {}, r"first at sample 3"),
        ((WAVE, 16000), {"min_duration_s": 1.0}, "at least 1 s, but lasts 0.5 s"),
        ((WAVE, 0), {}, "sample rate must be a positive integer"),
        ((WAVE, 16000.5), {}, "sample rate must be a positive integer"),
        ((WAVE, 16000, 1), {}, "must be \\(array, sample_rate\\)"),
        (WAVE, {}, "bare array has no sample rate"),
        ((np.zeros((2, 2, 2)), 16000), {}, "1-D or 2-D"),
        ((np.zeros((100, 100)), 16000), {}, "at most 32 channels"),
        ((np.array(["a", "b"]), 16000), {}, "integer or float"),
        (12, {}, "must be a path, bytes"),
        ({"path": None, "bytes": None}, {}, "must hold 'bytes', 'path' or 'array'"),
        ({"array": WAVE}, {}, "also hold 'sampling_rate'"),
        ((WAVE, 16000), {"sample_rate": 0}, "target sample_rate must be a positive integer"),
        ((WAVE, 10**12), {}, "from 1000 to 384000 Hz, but is 1000000000000"),
        ((WAVE, 999), {}, "from 1000 to 384000 Hz, but is 999"),
        ({"array": WAVE, "sampling_rate": 10**7}, {}, "from 1000 to 384000 Hz"),
        ((WAVE, 16000), {"sample_rate": 10**12}, "target sample_rate must be .* to 384000 Hz"),
        (_wav_at(tmp_path, 500), {}, "from 1000 to 384000 Hz, but is 500"),
        (_cut_wav(tmp_path), {}, "cut off: its header states 24000 samples"),
        (_cut_wav(tmp_path).read_bytes(), {}, "cut off: .* but it holds 7985 \\(0.499 s\\)"),
    ]


def test_every_audio_error_names_source_reason_and_fix(tmp_path):
    for source, kwargs, reason in _errors(tmp_path):
        with pytest.raises(AudioError, match=reason) as caught:
            load_audio(source, **kwargs)
        error = caught.value
        assert error.source == describe_source(source)
        assert "fix:" in error.reason
        assert str(error).startswith(error.source)


def test_error_uses_the_given_name(tmp_path):
    with pytest.raises(AudioError) as caught:
        load_audio(tmp_path / "nope.flac", name="utt-17")
    assert caught.value.source == "utt-17" and str(caught.value).startswith("utt-17: ")


def test_describe_source():
    assert describe_source("a/b.wav") == "a/b.wav"
    assert describe_source(b"abc") == "<3 bytes of encoded audio>"
    assert describe_source((np.zeros((3, 2)), 8000)) == "<array 3x2 at 8000 Hz>"
    assert describe_source({"path": "x.flac", "bytes": b"1"}) == "x.flac"
    assert describe_source({"bytes": b"12", "path": None}) == "<audio dict with 2 bytes>"
    assert describe_source(io.BytesIO()) == "<BytesIO>"
