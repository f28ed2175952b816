"""VTLN for MFCC units: the warp, the codebook fit, the per-utterance choice, save/load."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from units.errors import ModelFormatError
from units.features.base import FeaturizerConfigError
from units.features.mfcc import MfccFeaturizer, mel_filterbank
from units.features.registry import load_featurizer
from units.features.vtln import CODEBOOK_DIR, VtlnCodebook, VtlnError, warp_frequencies
from units.features.vtln_fit import fit_vtln
from units.kmeans import io as kmeans_io

_VOWELS = (
    (730, 1090, 2440),
    (270, 2290, 3010),
    (570, 840, 2410),
    (440, 1020, 2240),
    (660, 1720, 2410),
)


def vowels(seconds: float, seed: int, scale: float = 1.0) -> np.ndarray:
    """Syllables of fixed vowels (formants F1-F3) from a vocal tract `scale` times shorter.

    A shorter tract scales every formant and, for these voices, the pitch by the same factor:
    the difference VTLN undoes.
    """
    rng = np.random.default_rng(seed)
    rate, n = 16000, int(seconds * 16000)
    out, start = np.zeros(n), 0
    while start < n:
        stop = min(n, start + int(rng.uniform(0.15, 0.3) * rate))
        formants = np.array(_VOWELS[rng.integers(len(_VOWELS))]) * scale
        f0 = rng.uniform(100, 140) * scale
        t = np.arange(stop - start) / rate
        for h in range(1, int(7000 / f0)):
            gain = sum(np.exp(-(((h * f0 - f) / 90.0) ** 2)) for f in formants) + 0.01
            out[start:stop] += gain * np.sin(2 * np.pi * h * f0 * t)
        out[start:stop] *= np.hanning(stop - start)
        start = stop
    out += rng.normal(0, 0.01, n)
    return (0.9 * out / np.abs(out).max()).astype(np.float32)


def test_warp_maps_band_onto_itself_and_shifts_filters():
    freqs = np.linspace(0, 8000, 257)
    for alpha in (0.82, 1.0, 1.18):
        warped = warp_frequencies(freqs, alpha, nyquist=8000.0)
        assert warped[0] == 0 and warped[-1] == pytest.approx(8000.0)
        assert (np.diff(warped) > 0).all()
    assert np.array_equal(mel_filterbank(23, warp=1.0), mel_filterbank(23))
    # below 1 each filter listens higher up: its peak moves to a higher FFT bin
    peaks = mel_filterbank(23).argmax(axis=0)
    assert (mel_filterbank(23, warp=0.85).argmax(axis=0)[3:] > peaks[3:]).all()
    assert (mel_filterbank(23, warp=1.15).argmax(axis=0)[3:] < peaks[3:]).all()


@pytest.fixture(scope="module")
def fitted():
    base = MfccFeaturizer(cmvn="meanvar")
    report: dict = {}
    waves = [vowels(2.0, seed) for seed in range(8)]
    return fit_vtln(base, waves, codebook_size=32, iterations=2, report=report), report


def test_fit_picks_the_warp_that_undoes_a_shorter_or_longer_tract(fitted):
    featurizer, report = fitted
    assert len(report["warps"]) == 8 and len(report["distortion"]) == 2
    assert all(0.94 <= w <= 1.06 for w in report["warps"])  # the voices it was fitted on
    # unseen sentences from a tract 12% shorter / 10% longer
    shorter = [featurizer.warp_of(vowels(2.0, 100 + s, scale=1.12)) for s in range(3)]
    longer = [featurizer.warp_of(vowels(2.0, 200 + s, scale=0.9)) for s in range(3)]
    assert all(w <= 0.94 for w in shorter), shorter
    assert all(w >= 1.06 for w in longer), longer
    # and the chosen warp brings the features closer to the codebook than no warp does
    wave = vowels(2.0, 300, scale=1.12)
    plain = featurizer.with_vtln(None).compute(wave)
    assert featurizer.vtln.distortion(featurizer.compute(wave)) < featurizer.vtln.distortion(plain)


def test_save_load_round_trip_and_identity(fitted, tmp_path):
    featurizer, _ = fitted
    featurizer.save_pretrained(tmp_path)
    loaded = load_featurizer(tmp_path)
    wave = vowels(1.5, seed=42, scale=1.1)
    assert loaded.provenance() == featurizer.provenance()
    assert torch.equal(loaded.featurize([wave])[0], featurizer.featurize([wave])[0])
    plain = featurizer.with_vtln(None)
    assert plain.provenance()["encoder_hash"] != featurizer.provenance()["encoder_hash"]
    assert "vtln" not in plain.provenance()
    other = VtlnCodebook(featurizer.vtln.warps, featurizer.vtln.centroids + 0.5)
    assert (
        plain.with_vtln(other).provenance()["encoder_hash"]
        != featurizer.provenance()["encoder_hash"]
    )


def test_tampered_or_missing_codebook_is_refused(fitted, tmp_path):
    featurizer, _ = fitted
    featurizer.save_pretrained(tmp_path)
    # a valid codebook folder, but not the one featurizer.json was saved with
    kmeans_io.save(tmp_path / CODEBOOK_DIR, featurizer.vtln.centroids * 2, {})
    with pytest.raises(ModelFormatError, match="checksum"):
        load_featurizer(tmp_path)
    # centroids edited in place: the folder's own checksum catches it
    featurizer.save_pretrained(tmp_path)
    centroids = tmp_path / CODEBOOK_DIR / kmeans_io.CENTROIDS_NAME
    from safetensors.numpy import load_file, save_file

    tensors = load_file(centroids)
    save_file({key: value + 1 for key, value in tensors.items()}, centroids)
    with pytest.raises(ModelFormatError, match=CODEBOOK_DIR):
        load_featurizer(tmp_path)
    shutil.rmtree(tmp_path / CODEBOOK_DIR)
    with pytest.raises(ModelFormatError, match=CODEBOOK_DIR):
        load_featurizer(tmp_path)


def test_bad_settings_name_the_key():
    codebook = VtlnCodebook((0.9, 1.0, 1.1), np.zeros((4, 39), np.float32))
    with pytest.raises(FeaturizerConfigError, match="vtln"):
        MfccFeaturizer(stack=2, vtln=codebook)  # 78-dim features, 39-dim codebook
    for warps in ((), (0.9, 0.9), (0.3, 1.0)):
        with pytest.raises(VtlnError, match="warps"):
            VtlnCodebook(warps, np.zeros((4, 39), np.float32))
    with pytest.raises(VtlnError, match="codebook_size"):
        fit_vtln(MfccFeaturizer(), [vowels(0.1, 0)], codebook_size=64)
    with pytest.raises(VtlnError, match="iterations"):
        fit_vtln(MfccFeaturizer(), [vowels(1.0, 0)], iterations=0)
