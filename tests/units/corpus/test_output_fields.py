"""Output formats keep what they were given: every manifest field of every row, or a refusal
at the start (naming the field and the rows) when a format cannot hold it."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
import soundfile as sf
from labelling_helpers import extractor_of

from units.corpus.fields import FieldCheck
from units.corpus.items import AudioItem
from units.corpus.labelling import LabelConfig, label_corpus
from units.errors import ManifestError
from units.testing import tone_speech


def _manifest(root: Path, rows: list[dict]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    lines = []
    for i, fields in enumerate(rows):
        sf.write(root / f"u{i}.wav", tone_speech(0.4 + 0.1 * i, seed=i), 16000, subtype="PCM_16")
        lines.append(json.dumps({"id": f"u{i}", "audio": f"u{i}.wav", **fields}) + "\n")
    (root / "m.jsonl").write_text("".join(lines))
    return root / "m.jsonl"


def _arrow_rows(out: Path) -> list[dict]:
    import pyarrow as pa

    rows = []
    for path in sorted(out.glob("units-*.arrow")):
        with pa.OSFile(str(path), "rb") as source:
            rows += pa.ipc.open_stream(source).read_all().to_pylist()
    return rows


def _jsonl_rows(out: Path) -> list[dict]:
    rows = []
    for path in sorted(out.glob("units-*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            rows += [json.loads(line) for line in handle]
    return rows


@pytest.mark.parametrize("num_shards", [1, 3])
def test_arrow_keeps_fields_missing_from_the_first_row(tmp_path, kmeans_dir, num_shards):
    rows = [
        {"text": "first"},
        {"text": "second", "speaker": "s2", "de": "zweite"},
        {"speaker": "s3", "score": 1},
        {"text": "fourth", "score": 2.5},
    ]
    manifest = _manifest(tmp_path / "c", rows)
    extractor = extractor_of(kmeans_dir)
    for fmt in ("arrow", "jsonl.gz"):
        config = LabelConfig(format=fmt, num_shards=num_shards, part_size=2, progress=False)
        label_corpus(manifest, extractor, tmp_path / fmt, config=config)
    arrow, plain = _arrow_rows(tmp_path / "arrow"), _jsonl_rows(tmp_path / "jsonl.gz")
    assert [row["id"] for row in arrow] == [f"u{i}" for i in range(len(rows))]
    for got, want in zip(arrow, plain):
        # every field the jsonl output kept is in the arrow row, with its value
        assert {k: v for k, v in got.items() if k in want} == want
        assert all(got[k] is None for k in got if k not in want)
    assert arrow[1]["speaker"] == "s2" and arrow[1]["de"] == "zweite"
    assert [row["score"] for row in arrow] == [None, None, 1.0, 2.5]  # int and float: float


def test_arrow_refuses_a_type_change_at_the_start_naming_field_and_rows(tmp_path, kmeans_dir):
    manifest = _manifest(tmp_path / "c", [{"speaker": 1}, {"text": "x"}, {"speaker": "anna"}])
    extractor = extractor_of(kmeans_dir)
    calls = []
    extractor.extract_waves = lambda waves: calls.append(waves)  # must never be reached
    out = tmp_path / "out"
    config = LabelConfig(format="arrow", progress=False)
    with pytest.raises(ManifestError) as caught:
        label_corpus(manifest, extractor, out, config=config)
    message = str(caught.value)
    assert "field 'speaker'" in message and "int64 in item 0 (id 'u0')" in message
    assert "string in item 2 (id 'u2')" in message and "fix:" in message
    assert calls == [] and sorted(p.name for p in out.iterdir()) == []


def test_jsonl_refuses_a_field_json_cannot_hold_at_the_start():
    check = FieldCheck("jsonl.gz")
    check.observe(AudioItem(id="a", source="a.wav", fields={"blob": "fine"}))
    with pytest.raises(ManifestError, match=r"field 'blob' .* item 1 \(id 'b'\) holds a bytes"):
        check.observe(AudioItem(id="b", source="b.wav", fields={"blob": b"\x00\x01"}))


def test_type_conflicts_across_batches_name_the_earlier_row():
    check = FieldCheck("arrow")
    for i in range(1030):  # more than one inference batch
        check.observe(AudioItem(id=f"x{i}", source="a.wav", fields={"n": i}))
    check.observe(AudioItem(id="late", source="a.wav", fields={"n": [1, 2]}))
    with pytest.raises(ManifestError, match=r"field 'n' .* int64 in an earlier row and list"):
        check.arrow_schema()
