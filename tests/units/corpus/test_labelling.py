"""Corpus labelling: records, rejects accounting, formats, shards, and resume after SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf
from labelling_helpers import REPO, SECONDS, cli_label, make_corpus, records
from labelling_helpers import all_files as _files
from labelling_helpers import extractor_of as _extractor

from units.corpus.labelling import LabelConfig, LabelSummary, label_corpus
from units.corpus.shards import ShardError, shard_range
from units.extractor import UnitExtractor
from units.features.mfcc import MfccFeaturizer
from units.files import atomic_open
from units.kmeans.quantizer import KMeansQuantizer
from units.testing import tone_speech

_corpus = make_corpus
_records = records


def test_records_follow_the_manifest_and_match_one_by_one_extraction(tmp_path, kmeans_dir):
    manifest = _corpus(tmp_path / "c")
    extractor = _extractor(kmeans_dir)
    config = LabelConfig(part_size=4, batch_seconds=2.5, progress=False)
    summary = label_corpus(manifest, extractor, tmp_path / "out", config=config)
    assert isinstance(summary, LabelSummary) and summary.complete
    records = _records(tmp_path / "out")
    assert [r["id"] for r in records] == [f"u{i}" for i in range(len(SECONDS))]
    for i, record in enumerate(records):
        single = extractor.extract(str(tmp_path / "c" / f"u{i}.wav"))
        assert record["units"] == single.text
        assert (
            record["n_frames"]
            == single.n_frames
            == MfccFeaturizer().num_frames(int(SECONDS[i] * 16000))
        )
        assert record["duration_s"] == pytest.approx(SECONDS[i])
        assert record["text"] == f"utterance {i}" and record["speaker"] == i % 3
    total = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert total["ok"] == total["total"] == len(SECONDS) and total["rejected"] == 0
    assert total["n_units"] == sum(len(r["units"]) for r in records)
    provenance = json.loads((tmp_path / "out" / "provenance.json").read_text())
    assert provenance["extractor"] == json.loads(json.dumps(extractor.provenance()))
    assert not (tmp_path / "out" / ".parts").exists()


def test_bad_files_go_to_rejects_and_counts_add_up(tmp_path, kmeans_dir, capsys):
    manifest = _corpus(tmp_path / "c", bad=True)
    summary = label_corpus(
        manifest,
        _extractor(kmeans_dir),
        tmp_path / "out",
        config=LabelConfig(part_size=3, progress=False),
    )
    rejects = [
        json.loads(line) for line in (tmp_path / "out" / "rejects.jsonl").read_text().splitlines()
    ]
    assert [r["id"] for r in rejects] == ["corrupt", "empty", "nan", "missing"]
    assert all(r["reason"] and r["source"].endswith(".wav") for r in rejects)
    assert "NaN" in rejects[2]["reason"] and "not exist" in rejects[3]["reason"]
    ids = [r["id"] for r in _records(tmp_path / "out")]
    assert ids == [f"u{i}" for i in range(len(SECONDS))]  # nothing dropped, no placeholders
    assert summary.ok == len(SECONDS) and summary.rejected == 4
    assert summary.ok + summary.rejected == summary.total == len(SECONDS) + 4
    total = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert total["ok"] + total["rejected"] == total["total"] == 13


def test_too_short_audio_is_rejected_not_padded(tmp_path, kmeans_dir):
    root = tmp_path / "c"
    root.mkdir()
    sf.write(root / "tiny.wav", tone_speech(0.01, seed=1), 16000)
    sf.write(root / "ok.wav", tone_speech(0.5, seed=1), 16000)
    summary = label_corpus(
        root, _extractor(kmeans_dir), tmp_path / "out", config=LabelConfig(progress=False)
    )
    assert (summary.ok, summary.rejected) == (1, 1)
    assert "frame" in json.loads((tmp_path / "out" / "rejects.jsonl").read_text())["reason"]


def test_cut_off_wav_is_rejected_with_its_reason(tmp_path, kmeans_dir):
    root = tmp_path / "c"
    root.mkdir()
    sf.write(root / "ok.wav", tone_speech(0.5, seed=1), 16000, subtype="PCM_16")
    sf.write(root / "cut.wav", tone_speech(1.5, seed=2), 16000, subtype="PCM_16")
    whole = (root / "cut.wav").read_bytes()
    (root / "cut.wav").write_bytes(whole[: 44 + 7985 * 2])  # a copy cut short
    summary = label_corpus(
        root, _extractor(kmeans_dir), tmp_path / "out", config=LabelConfig(progress=False)
    )
    assert (summary.ok, summary.rejected) == (1, 1)
    reject = json.loads((tmp_path / "out" / "rejects.jsonl").read_text())
    assert reject["id"] == "cut" and "header states 24000 samples" in reject["reason"]


def test_formats_hold_the_same_records_and_gzip_is_deterministic(tmp_path, kmeans_dir):
    manifest = _corpus(tmp_path / "c")
    extractor = _extractor(kmeans_dir)
    outs = {}
    for fmt in ("jsonl", "jsonl.gz", "arrow"):
        outs[fmt] = tmp_path / fmt
        label_corpus(
            manifest,
            extractor,
            outs[fmt],
            config=LabelConfig(format=fmt, part_size=4, progress=False),
        )
    plain = [
        json.loads(line)
        for line in (outs["jsonl"] / "units-00000-of-00001.jsonl").read_text().splitlines()
    ]
    assert plain == _records(outs["jsonl.gz"])
    datasets = pytest.importorskip("datasets")
    table = datasets.Dataset.from_file(str(outs["arrow"] / "units-00000-of-00001.arrow"))
    assert table.to_list() == plain
    label_corpus(
        manifest, extractor, tmp_path / "again", config=LabelConfig(part_size=4, progress=False)
    )
    assert _files(tmp_path / "again") == _files(outs["jsonl.gz"])


def test_shards_concatenate_to_the_single_shard_output(tmp_path, kmeans_dir):
    manifest = _corpus(tmp_path / "c", bad=True)
    extractor = _extractor(kmeans_dir)
    label_corpus(
        manifest, extractor, tmp_path / "one", config=LabelConfig(part_size=2, progress=False)
    )
    first = label_corpus(
        manifest,
        extractor,
        tmp_path / "two",
        config=LabelConfig(num_shards=2, shard_index=1, part_size=2, progress=False),
    )
    assert not first.complete and not (tmp_path / "two" / "summary.json").exists()
    second = label_corpus(
        manifest,
        extractor,
        tmp_path / "two",
        config=LabelConfig(num_shards=2, shard_index=0, part_size=2, progress=False),
    )
    assert second.complete
    assert _records(tmp_path / "two") == _records(tmp_path / "one")
    assert (tmp_path / "two" / "rejects.jsonl").read_bytes() == (
        tmp_path / "one" / "rejects.jsonl"
    ).read_bytes()
    one = json.loads((tmp_path / "one" / "summary.json").read_text())
    two = json.loads((tmp_path / "two" / "summary.json").read_text())
    assert {k: v for k, v in one.items() if "shard" not in k} == {
        k: v for k, v in two.items() if "shard" not in k
    }


def test_shard_ranges_cover_every_item_once():
    for n in (0, 1, 7, 100):
        for shards in (1, 3, 8):
            covered = [
                i for s in range(shards) for i in shard_range(n, num_shards=shards, shard_index=s)
            ]
            assert covered == list(range(n))
    with pytest.raises(ShardError, match="shard_index"):
        shard_range(5, num_shards=2, shard_index=2)


def test_rerun_with_other_settings_is_refused(tmp_path, kmeans_dir):
    manifest = _corpus(tmp_path / "c")
    extractor = _extractor(kmeans_dir)
    label_corpus(
        manifest, extractor, tmp_path / "out", config=LabelConfig(part_size=4, progress=False)
    )
    with pytest.raises(ShardError, match="differs in \\['label'\\]"):
        label_corpus(
            manifest, extractor, tmp_path / "out", config=LabelConfig(part_size=3, progress=False)
        )


def test_atomic_open_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "x.bin"
    with pytest.raises(RuntimeError):
        with atomic_open(target) as handle:
            handle.write(b"half")
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def _cli_label(manifest: Path, kmeans_dir: Path, out: Path, *, kill: str | None = None):
    return cli_label(manifest, kmeans_dir, out, kill=kill)


@pytest.mark.integration
@pytest.mark.parametrize("kill", ["part:2", "merge:1"])
def test_sigkilled_run_resumes_to_identical_bytes(tmp_path, kmeans_dir, kill):
    manifest = _corpus(tmp_path / "c", bad=True)
    killed = _cli_label(manifest, kmeans_dir, tmp_path / "resumed", kill=kill)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    parts = sorted((tmp_path / "resumed" / ".parts").rglob("part-*.jsonl"))
    assert len(parts) == (2 if kill == "part:2" else 7)
    assert not (tmp_path / "resumed" / "summary.json").exists()
    # a temporary file from a write cut short must not disturb the rerun
    (parts[0].parent / ".tmp-part-000005.jsonl.abc").write_text('{"ok": {"id": "u')
    (tmp_path / "resumed" / ".tmp-units-00000-of-00001.jsonl.gz.xyz").write_bytes(b"\x1f\x8b")

    resumed = _cli_label(manifest, kmeans_dir, tmp_path / "resumed")
    assert resumed.returncode == 0, resumed.stderr
    assert f"{2 if kill == 'part:2' else 7} parts resumed" in resumed.stdout
    assert "ok 9 + rejected 4 = total 13" in resumed.stdout
    # the uninterrupted run, in-process (same settings as the CLI's: part size 2, jsonl.gz)
    label_corpus(
        manifest,
        _extractor(kmeans_dir),
        tmp_path / "fresh",
        config=LabelConfig(part_size=2, progress=False),
    )
    assert _files(tmp_path / "resumed") == _files(tmp_path / "fresh")
    assert any(name.startswith("units-") for name in _files(tmp_path / "fresh"))


@pytest.mark.integration
def test_two_torchrun_processes_equal_one(tmp_path, kmeans_dir):
    manifest = _corpus(tmp_path / "c", bad=True)
    label_corpus(
        manifest,
        _extractor(kmeans_dir),
        tmp_path / "one",
        config=LabelConfig(part_size=2, progress=False),
    )
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    env.pop("SPIRE_TEST_KILL", None)
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "units",
        "label",
        "--manifest",
        str(manifest),
        "--featurizer",
        "mfcc",
        "--kmeans",
        str(kmeans_dir),
        "--out",
        str(tmp_path / "two"),
        "--part-size",
        "2",
        "--no-progress",
    ]
    run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, cwd=REPO)
    assert run.returncode == 0, run.stderr[-3000:]
    names = sorted(p.name for p in (tmp_path / "two").glob("units-*"))
    assert names == ["units-00000-of-00002.jsonl.gz", "units-00001-of-00002.jsonl.gz"]
    assert _records(tmp_path / "two") == _records(tmp_path / "one")
    assert (tmp_path / "two" / "rejects.jsonl").read_bytes() == (
        tmp_path / "one" / "rejects.jsonl"
    ).read_bytes()
    one = json.loads((tmp_path / "one" / "summary.json").read_text())
    two = json.loads((tmp_path / "two" / "summary.json").read_text())
    assert (
        one["ok"] == two["ok"]
        and one["rejected"] == two["rejected"]
        and one["total"] == two["total"] == 13
    )
    assert two["num_shards"] == 2


def test_rank_environment_picks_the_shard(tmp_path, kmeans_dir, monkeypatch):
    manifest = _corpus(tmp_path / "c")
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.delenv("MASTER_ADDR", raising=False)  # no process group: ranks sync through files
    summary = label_corpus(
        manifest, _extractor(kmeans_dir), tmp_path / "out", config=LabelConfig(progress=False)
    )
    assert summary.shards == (1,) and summary.num_shards == 2 and not summary.complete
    ids = [r["id"] for r in _records(tmp_path / "out")]
    assert ids == [f"u{i}" for i in shard_range(len(SECONDS), num_shards=2, shard_index=1)]


def test_same_corpus_through_another_path_resumes(tmp_path, kmeans_dir):
    manifest = _corpus(tmp_path / "c")
    extractor = _extractor(kmeans_dir)
    label_corpus(manifest, extractor, tmp_path / "out", config=LabelConfig(progress=False))
    again = label_corpus(
        Path(os.path.relpath(manifest)),
        extractor,
        tmp_path / "out",
        config=LabelConfig(progress=False),
    )
    assert again.complete and again.ok == len(SECONDS)


@pytest.mark.parametrize("stable_layer_norm", [False, True])
def test_ssl_encoder_labels_match_one_by_one_extraction(tmp_path, stable_layer_norm):
    # HuBERT-base's group-norm conv stack and HuBERT-large's layer-norm one: the corpus is
    # labelled in mixed-length batches, yet every item gets the units it gets alone.
    from units.features.ssl_featurizer import SSLFeaturizer
    from units.testing import tiny_hubert

    model_dir = tiny_hubert(tmp_path / "hubert", stable_layer_norm=stable_layer_norm)
    featurizer = SSLFeaturizer.from_pretrained(model_dir, layer=2, device="cpu")
    frames = featurizer.featurize([tone_speech(3.0, seed=5)])[0].numpy()
    quantizer = KMeansQuantizer.fit(frames, 12, niter=10)
    extractor = UnitExtractor(featurizer, quantizer)
    manifest = _corpus(tmp_path / "c")
    config = LabelConfig(part_size=5, progress=False)
    label_corpus(manifest, extractor, tmp_path / "out", config=config)
    records = _records(tmp_path / "out")
    assert len(records) == len(SECONDS)
    for i, record in enumerate(records):
        single = extractor.extract(str(tmp_path / "c" / f"u{i}.wav"))
        assert record["units"] == single.text
        assert (
            record["n_frames"] == single.n_frames == featurizer.num_frames(int(SECONDS[i] * 16000))
        )
