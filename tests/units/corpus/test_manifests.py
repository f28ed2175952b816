"""Manifests: every input kind gives the same stable ids, sources that load, and carried fields."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from units.audio import load_audio
from units.corpus.manifests import AudioItem, count_items, manifest_kind, read_manifest
from units.errors import ManifestError


def _write_corpus(root, n=3):
    waves = {}
    for i in range(n):
        wave = (0.1 * np.sin(np.arange(1600 * (i + 1)) / (3 + i))).astype(np.float32)
        path = root / f"spk{i % 2}" / f"utt{i}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, wave, 16000, subtype="FLOAT")
        waves[f"spk{i % 2}/utt{i}"] = wave
    return waves


def _check_sources(items, waves):
    assert [item.id for item in items] == sorted(waves)
    for item in items:
        np.testing.assert_array_equal(load_audio(item.source), waves[item.id])


def test_folder_is_recursive_sorted_and_skips_other_files(tmp_path):
    waves = _write_corpus(tmp_path / "audio")
    (tmp_path / "audio" / "notes.txt").write_text("not audio")
    items = list(read_manifest(tmp_path / "audio"))
    assert manifest_kind(tmp_path / "audio") == "folder"
    _check_sources(items, waves)
    assert all(item.fields == {} for item in items)


def test_empty_folder_is_an_error(tmp_path):
    with pytest.raises(ManifestError, match="holds none"):
        list(read_manifest(tmp_path))


def test_fairseq_tsv(tmp_path):
    waves = _write_corpus(tmp_path / "audio")
    lines = [str(tmp_path / "audio")] + [f"{key}.wav\t{len(w)}" for key, w in sorted(waves.items())]
    (tmp_path / "train.tsv").write_text("\n".join(lines) + "\n")
    _check_sources(list(read_manifest(tmp_path / "train.tsv")), waves)
    assert count_items(tmp_path / "train.tsv") == 3


def test_tsv_with_bad_line_names_the_line(tmp_path):
    (tmp_path / "bad.tsv").write_text("/root\na.wav 100\n")
    with pytest.raises(ManifestError, match="line 2"):
        list(read_manifest(tmp_path / "bad.tsv"))


def test_jsonl_relative_and_absolute_paths_and_carried_fields(tmp_path):
    waves = _write_corpus(tmp_path / "audio")
    keys = sorted(waves)
    records = [
        {"id": keys[0], "audio": f"audio/{keys[0]}.wav", "text": "zero", "speaker": 0},
        {
            "id": keys[1],
            "audio": str(tmp_path / "audio" / f"{keys[1]}.wav"),
            "text": "one",
            "duration": 0.2,
        },
        {"id": keys[2], "audio": f"audio/{keys[2]}.wav", "text": "two", "meta": {"a": [1, 2]}},
    ]
    (tmp_path / "m.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    items = list(read_manifest(tmp_path / "m.jsonl"))
    _check_sources(items, waves)
    assert items[0].fields == {"text": "zero", "speaker": 0}
    assert items[1].fields == {"text": "one"} and items[1].duration_s == 0.2
    assert items[2].fields == {"text": "two", "meta": {"a": [1, 2]}}


def test_jsonl_duplicate_ids_raise(tmp_path):
    (tmp_path / "m.jsonl").write_text(
        '{"id": "a", "audio": "x.wav"}\n{"id": "a", "audio": "y.wav"}\n'
    )
    with pytest.raises(ManifestError, match="'a' appears twice"):
        list(read_manifest(tmp_path / "m.jsonl"))


@pytest.mark.parametrize(
    "line, match",
    [
        ('{"audio": "x.wav"}', "must have `id`"),
        ("[1]", "JSON object"),
        ("{oops", "does not parse"),
        ('{"id": "a", "audio": "x.wav", "units": "u"}', "rename"),
    ],
)
def test_jsonl_bad_lines(tmp_path, line, match):
    (tmp_path / "m.jsonl").write_text(line + "\n")
    with pytest.raises(ManifestError, match=match):
        list(read_manifest(tmp_path / "m.jsonl"))


@pytest.mark.parametrize("value", ["null", "1.5", "true", '""', '["a"]', "{}"])
def test_jsonl_ids_must_be_text_or_integers_naming_file_and_line(tmp_path, value):
    (tmp_path / "m.jsonl").write_text(
        f'{{"id": "a", "audio": "x.wav"}}\n{{"id": {value}, "audio": "y.wav"}}\n'
    )
    where = f"line 2 of {tmp_path / 'm.jsonl'}"
    with pytest.raises(ManifestError, match=f"`id` on {where} must be a non-empty string or an"):
        list(read_manifest(tmp_path / "m.jsonl"))


def test_integer_ids_are_kept_as_their_digits(tmp_path):
    (tmp_path / "m.jsonl").write_text('{"id": 7, "audio": "x.wav"}\n')
    assert [item.id for item in read_manifest(tmp_path / "m.jsonl")] == ["7"]


def test_saved_dataset_with_a_null_id_names_the_row(tmp_path):
    datasets = pytest.importorskip("datasets")
    datasets.Dataset.from_dict({"id": ["a", None], "audio": ["a.wav", "b.wav"]}).save_to_disk(
        tmp_path / "saved"
    )
    with pytest.raises(ManifestError, match=f"`id` on row 1 of {tmp_path / 'saved'} must be"):
        list(read_manifest(tmp_path / "saved"))


def test_missing_manifest_is_a_manifest_error(tmp_path):
    with pytest.raises(ManifestError, match="does not exist"):
        read_manifest(tmp_path / "nope.jsonl")
    with pytest.raises(ManifestError, match="does not exist"):
        manifest_kind(tmp_path / "nothing")


def test_saved_dataset_bytes_and_paths_with_split(tmp_path):
    datasets = pytest.importorskip("datasets")
    waves = _write_corpus(tmp_path / "audio")
    keys = sorted(waves)
    encoded = [(tmp_path / "audio" / f"{k}.wav").read_bytes() for k in keys]
    train = datasets.Dataset.from_dict(
        {
            "id": keys,
            "audio": [{"bytes": b, "path": f"{k}.wav"} for b, k in zip(encoded, keys)],
            "text": ["a", "b", "c"],
            "duration_s": [0.5, 0.25, 0.125],
        }
    ).cast_column("audio", datasets.Audio(decode=False))
    test = datasets.Dataset.from_dict(
        {"file": [str(tmp_path / "audio" / f"{k}.wav") for k in keys], "lang": ["en"] * 3}
    )
    datasets.DatasetDict({"train": train, "test": test}).save_to_disk(tmp_path / "saved")

    assert manifest_kind(f"{tmp_path / 'saved'}:train") == "dataset"
    items = list(read_manifest(f"{tmp_path / 'saved'}:train"))
    _check_sources(items, waves)
    assert [item.fields for item in items] == [{"text": "a"}, {"text": "b"}, {"text": "c"}]
    assert [item.duration_s for item in items] == [0.5, 0.25, 0.125]

    rows = list(read_manifest(tmp_path / "saved", split="test", audio_column="file"))
    assert [item.id for item in rows] == ["000000000", "000000001", "000000002"]
    assert rows[0].fields == {"lang": "en"}
    np.testing.assert_array_equal(load_audio(rows[2].source), waves[keys[2]])

    with pytest.raises(ManifestError, match="split must be one of"):
        list(read_manifest(tmp_path / "saved"))


def test_audio_item_defaults():
    item = AudioItem(id="x", source="x.wav")
    assert item.fields == {} and item.duration_s is None
