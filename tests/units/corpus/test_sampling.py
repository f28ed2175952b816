"""Feature sampling: a uniform reservoir, bounded by the budget, deterministic for a seed."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from units.corpus.sampling import (
    FrameReservoir,
    SampleConfig,
    SampleError,
    keep_utterance,
    load_sample,
    sample_features,
    save_sample,
)
from units.features.mfcc import MfccFeaturizer
from units.testing import tone_speech


def _jsonl_corpus(root, seconds=(1.0, 0.6, 1.4, 0.8, 1.2, 0.5), bad=False):
    root.mkdir(parents=True, exist_ok=True)
    lines = []
    for i, s in enumerate(seconds):
        sf.write(root / f"u{i}.wav", tone_speech(s, seed=i), 16000, subtype="FLOAT")
        lines.append({"id": f"u{i}", "audio": f"u{i}.wav"})
    if bad:
        (root / "broken.wav").write_bytes(b"RIFF garbage")
        lines.append({"id": "broken", "audio": "broken.wav"})
    (root / "m.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    return root / "m.jsonl"


def test_reservoir_keeps_at_most_capacity_rows_from_the_stream():
    stream = np.arange(1000, dtype=np.float32).reshape(-1, 1)
    reservoir = FrameReservoir(50, seed=1)
    for start in range(0, 1000, 37):  # uneven blocks
        reservoir.add(stream[start : start + 37])
    sample = reservoir.sample()
    assert sample.shape == (50, 1) and reservoir.seen == 1000
    assert len(np.unique(sample)) == 50  # each stream row at most once
    assert set(sample[:, 0]).issubset(set(stream[:, 0]))


def test_reservoir_is_uniform():
    # Every stream position should be kept with probability capacity / n.
    hits = np.zeros(200)
    for seed in range(300):
        reservoir = FrameReservoir(20, seed=seed)
        for start in range(0, 200, 13):
            reservoir.add(np.arange(start, min(start + 13, 200), dtype=np.float32)[:, None])
        hits[reservoir.sample()[:, 0].astype(int)] += 1
    rate = hits / 300
    assert abs(rate[:100].mean() - 0.1) < 0.015 and abs(rate[100:].mean() - 0.1) < 0.015


def test_reservoir_smaller_stream_than_capacity_keeps_everything_in_order():
    reservoir = FrameReservoir(100, seed=0)
    block = np.arange(30, dtype=np.float32).reshape(15, 2)
    reservoir.add(block)
    np.testing.assert_array_equal(reservoir.sample(), block)


def test_keep_utterance_fraction_is_seeded_and_order_free():
    ids = [f"utt{i}" for i in range(2000)]
    kept = [i for i in ids if keep_utterance(i, seed=3, fraction=0.25)]
    assert 400 < len(kept) < 600
    assert kept == [i for i in reversed(ids) if keep_utterance(i, seed=3, fraction=0.25)][::-1]
    assert kept != [i for i in ids if keep_utterance(i, seed=4, fraction=0.25)]


def test_sample_is_bounded_deterministic_and_records_rejects(tmp_path):
    manifest = _jsonl_corpus(tmp_path / "c", bad=True)
    featurizer = MfccFeaturizer()
    config = SampleConfig(max_frames=120, seed=7, chunk_items=4, batch_seconds=1.5, progress=False)
    first, info = sample_features(manifest, featurizer, config=config)
    again, _ = sample_features(manifest, featurizer, config=config)
    other, _ = sample_features(
        manifest, featurizer, config=SampleConfig(max_frames=120, seed=8, progress=False)
    )
    total_frames = sum(
        featurizer.num_frames(int(s * 16000)) for s in (1.0, 0.6, 1.4, 0.8, 1.2, 0.5)
    )
    assert first.shape == (120, 39) and first.dtype == np.float32
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    assert info["frames_seen"] == total_frames
    assert info["rejected"] == 1 and info["rejects"][0]["id"] == "broken"
    assert info["utterances_seen"] == 7 and info["utterances_used"] == 6
    assert info["featurizer"]["type"] == "mfcc"
    # every sampled frame is one of the corpus frames
    all_frames = np.concatenate(
        [
            featurizer.featurize([tone_speech(s, seed=i)])[0].numpy()
            for i, s in enumerate((1.0, 0.6, 1.4, 0.8, 1.2, 0.5))
        ]
    )
    rows = {row.tobytes() for row in all_frames}
    assert all(row.tobytes() in rows for row in first)


def test_sample_does_not_depend_on_batching(tmp_path):
    manifest = _jsonl_corpus(tmp_path / "c")
    a, _ = sample_features(
        manifest,
        MfccFeaturizer(),
        config=SampleConfig(max_frames=60, chunk_items=2, batch_seconds=0.5, progress=False),
    )
    b, _ = sample_features(
        manifest,
        MfccFeaturizer(),
        config=SampleConfig(max_frames=60, chunk_items=10, batch_seconds=100, progress=False),
    )
    np.testing.assert_allclose(a, b, atol=1e-5)


def test_max_hours_budget_and_fraction(tmp_path):
    manifest = _jsonl_corpus(tmp_path / "c")
    features, info = sample_features(
        manifest,
        MfccFeaturizer(),
        config=SampleConfig(max_frames=None, max_hours=1.0 / 3600, progress=False),
    )
    assert info["budget_frames"] == 50 and features.shape[0] == 50
    _, thinned = sample_features(
        manifest,
        MfccFeaturizer(),
        config=SampleConfig(utterance_fraction=0.5, seed=1, progress=False),
    )
    assert thinned["utterances_seen"] < 6
    with pytest.raises(SampleError, match="budget"):
        sample_features(
            manifest, MfccFeaturizer(), config=SampleConfig(max_frames=0, progress=False)
        )


def test_save_and_load_round_trip(tmp_path):
    features = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
    path = save_sample(tmp_path / "f.npy", features, {"seed": 1})
    loaded, info = load_sample(path)
    np.testing.assert_array_equal(loaded, features)
    assert info == {"seed": 1}
    with pytest.raises(SampleError, match="must exist"):
        load_sample(tmp_path / "missing.npy")
