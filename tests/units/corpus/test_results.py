"""read_labelled / labelled_files: the labeller's own output read back, in every format."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from units.corpus.labelling import LabelConfig, label_corpus
from units.corpus.results import (
    LabelledOutputError,
    is_labelled,
    labelled_files,
    read_labelled,
)
from units.extractor import UnitExtractor
from units.features.mfcc import MfccFeaturizer
from units.kmeans.quantizer import KMeansQuantizer
from units.testing import tone_speech

SECONDS = (0.9, 0.4, 1.3, 0.6, 1.0)


@pytest.fixture(scope="module")
def labelled(tmp_path_factory) -> tuple[Path, UnitExtractor]:
    """A five-utterance corpus (one of them unreadable) and an MFCC extractor for it."""
    root = tmp_path_factory.mktemp("corpus")
    lines = []
    for i, seconds in enumerate(SECONDS):
        sf.write(root / f"u{i}.wav", tone_speech(seconds, seed=i), 16000, subtype="PCM_16")
        lines.append({"id": f"u{i}", "audio": f"u{i}.wav", "text": f"say {i}"})
    (root / "broken.wav").write_bytes(b"not audio")
    lines.insert(2, {"id": "broken", "audio": "broken.wav", "text": "lost"})
    (root / "m.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    featurizer = MfccFeaturizer()
    frames = featurizer.featurize([tone_speech(2.0, seed=9)])[0].numpy()
    centroids = frames[np.random.default_rng(0).choice(len(frames), 8, replace=False)]
    quantizer = KMeansQuantizer(centroids, {"provenance": featurizer.provenance()})
    return root / "m.jsonl", UnitExtractor(featurizer, quantizer)


@pytest.mark.parametrize("fmt", ["jsonl", "jsonl.gz", "arrow"])
def test_reads_back_what_label_corpus_wrote(tmp_path, labelled, fmt):
    manifest, extractor = labelled
    out = tmp_path / fmt
    config = LabelConfig(format=fmt, num_shards=2, part_size=2, progress=False)
    summary = label_corpus(manifest, extractor, out, config=config)
    assert summary.complete and summary.ok == 5 and summary.rejected == 1
    assert is_labelled(out)
    files = labelled_files(out)
    assert [p.name for p in files] == [
        f"units-00000-of-00002.{fmt}",
        f"units-00001-of-00002.{fmt}",
    ]
    rows = list(read_labelled(out))
    assert [r["id"] for r in rows] == [f"u{i}" for i in range(len(SECONDS))]  # manifest order
    for i, row in enumerate(rows):
        single = extractor.extract(str(manifest.parent / f"u{i}.wav"))
        assert row["units"] == single.text and row["n_frames"] == single.n_frames
        assert row["text"] == f"say {i}" and row["duration_s"] == pytest.approx(SECONDS[i])
    # One reader for every format: the same rows whatever the labeller wrote.
    if fmt != "jsonl":
        plain = tmp_path / "plain"
        label_corpus(manifest, extractor, plain, config=LabelConfig(format="jsonl", progress=False))
        assert rows == list(read_labelled(plain))


def test_an_unfinished_run_is_refused_unless_partial(tmp_path, labelled):
    manifest, extractor = labelled
    out = tmp_path / "half"
    config = LabelConfig(format="jsonl", num_shards=2, shard_index=1, part_size=2, progress=False)
    label_corpus(manifest, extractor, out, config=config)
    with pytest.raises(LabelledOutputError, match=r"shards \[0\] of 2 are not"):
        labelled_files(out)
    assert [p.name for p in labelled_files(out, allow_partial=True)] == [
        "units-00001-of-00002.jsonl"
    ]
    assert [r["id"] for r in read_labelled(out, allow_partial=True)] == ["u2", "u3", "u4"]


def test_a_folder_that_is_no_labelling_run_is_refused(tmp_path):
    (tmp_path / "units-00000-of-00001.jsonl").write_text('{"id": "x"}\n')
    assert not is_labelled(tmp_path)
    with pytest.raises(LabelledOutputError, match="out_dir must be the output folder"):
        list(read_labelled(tmp_path))
    (tmp_path / "provenance.json").write_text('{"label": {"format": "csv", "num_shards": 1}}')
    with pytest.raises(LabelledOutputError, match="must name a format"):
        labelled_files(tmp_path)


def test_a_corrupt_shard_names_its_file_and_line(tmp_path, labelled):
    manifest, extractor = labelled
    out = tmp_path / "out"
    label_corpus(manifest, extractor, out, config=LabelConfig(format="jsonl", progress=False))
    shard = labelled_files(out)[0]
    shard.write_text(shard.read_text() + "{not json\n")
    with pytest.raises(LabelledOutputError, match=rf"{shard.name}:6 must be a JSON record"):
        list(read_labelled(out))


def test_spire_readers_use_it(tmp_path, labelled):
    """spire's data sources and the miniature read labeller folders through read_labelled."""
    from spire.data.sources import read_records
    from spire.mini.stages import unit_rows

    manifest, extractor = labelled
    out = tmp_path / "train"
    config = LabelConfig(format="jsonl.gz", num_shards=3, part_size=2, progress=False)
    label_corpus(manifest, extractor, out, config=config)
    expected = list(read_labelled(out))
    assert list(read_records(out)) == expected
    assert unit_rows(tmp_path, "train") == expected
