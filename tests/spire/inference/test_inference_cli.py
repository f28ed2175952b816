"""`spire transcribe / translate / eval`: outputs, reports and exit codes (2 for user errors)."""

import json

import numpy as np
import pytest
import soundfile as sf

from spire.cli import main

NUM_UNITS = 16
SR = 16000


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """A tiny extended model with its extractor beside it, two clips and a manifest."""
    from spire.testing import tiny_llama
    from spire.vocab.extend import extend_model
    from units import KMeansQuantizer, MfccFeaturizer, UnitExtractor
    from units.testing import tone_speech

    root = tmp_path_factory.mktemp("cli")
    featurizer = MfccFeaturizer()
    waves = [tone_speech(1.0, seed=s) for s in range(3)]
    features = np.concatenate([f.cpu().numpy() for f in featurizer.featurize(waves)])
    quantizer = KMeansQuantizer.fit(features, NUM_UNITS, seed=0, provenance=featurizer.provenance())
    extractor = UnitExtractor(featurizer, quantizer)
    base = tiny_llama(root / "base")
    model = extend_model(base, root / "model", num_units=NUM_UNITS).out_dir
    extractor.save_pretrained(model / "extractor")
    files = []
    for index, wave in enumerate(waves[:2]):
        files.append(root / f"clip{index}.wav")
        sf.write(files[-1], wave, SR)
    manifest = root / "test.jsonl"
    rows = [
        {"id": "a", "audio": "clip0.wav", "text": "The house.", "de": "Das Haus."},
        {"id": "b", "audio": "clip1.wav", "text": "A river.", "de": "Ein Fluss."},
    ]
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return {
        "root": root,
        "base": base,
        "model": model,
        "files": [str(f) for f in files],
        "manifest": manifest,
    }


def test_transcribe_jsonl(workspace, capsys):
    code = main(
        [
            "transcribe",
            "--model",
            str(workspace["model"]),
            "--format",
            "jsonl",
            "--max-new-tokens",
            "4",
            *workspace["files"],
        ]
    )
    assert code == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["file"] for r in records] == workspace["files"]
    assert all(isinstance(r["text"], str) and r["decoding"]["max_new_tokens"] == 4 for r in records)


def test_translate_text_output_one_line_per_file(workspace, tmp_path):
    out = tmp_path / "out.txt"
    code = main(
        [
            "translate",
            "--model",
            str(workspace["model"]),
            "--to",
            "fr",
            "--max-new-tokens",
            "3",
            "-o",
            str(out),
            *workspace["files"],
        ]
    )
    assert code == 0
    assert len(out.read_text().splitlines()) == 2


def test_eval_asr_writes_report(workspace, tmp_path):
    code = main(
        [
            "eval",
            "--model",
            str(workspace["model"]),
            "--data",
            str(workspace["manifest"]),
            "--task",
            "asr",
            "--max-new-tokens",
            "3",
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 0
    report = json.loads((tmp_path / "report-asr.json").read_text())
    assert [s["name"] for s in report["scores"]] == ["wer", "cer"]
    assert report["decoding"]["max_new_tokens"] == 3 and report["data"]["examples"] == 2
    assert report["timing"]["real_time_factor"] > 0
    assert (tmp_path / "report-asr.md").read_text().startswith("# spire eval: asr")


def test_eval_st_reports_bleu_chrf_and_comet_note(workspace, tmp_path, capsys):
    code = main(
        [
            "eval",
            "--model",
            str(workspace["model"]),
            "--data",
            str(workspace["manifest"]),
            "--task",
            "st",
            "--to",
            "German",
            "--max-new-tokens",
            "3",
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 0
    report = json.loads((tmp_path / "report-st-german.json").read_text())
    assert [s["name"] for s in report["scores"]] == ["bleu", "chrf"]
    assert "COMET not computed" in report["notes"][0]
    assert "bleu" in capsys.readouterr().out


def test_unknown_language_exits_2(workspace, capsys):
    code = main(
        ["translate", "--model", str(workspace["model"]), "--to", "Klingon", *workspace["files"]]
    )
    assert code == 2
    assert "German" in capsys.readouterr().err


def test_missing_file_exits_2(workspace, capsys):
    code = main(["transcribe", "--model", str(workspace["model"]), "nowhere.wav"])
    assert code == 2
    assert "nowhere.wav" in capsys.readouterr().err


def test_model_without_unit_tokens_exits_2(workspace, capsys):
    code = main(["transcribe", "--model", str(workspace["base"]), *workspace["files"]])
    assert code == 2
    assert "spire extend" in capsys.readouterr().err


def test_eval_missing_reference_column_exits_2(workspace, capsys):
    code = main(
        [
            "eval",
            "--model",
            str(workspace["model"]),
            "--data",
            str(workspace["manifest"]),
            "--task",
            "st",
            "--to",
            "ru",
        ]
    )
    assert code == 2
    assert "reference" in capsys.readouterr().err


def test_eval_mt_on_jsonl(workspace, tmp_path):
    data = tmp_path / "mt.jsonl"
    data.write_text(json.dumps({"en": "the small house", "de": "das kleine Haus"}) + "\n")
    code = main(
        [
            "eval",
            "--model",
            str(workspace["model"]),
            "--data",
            str(data),
            "--task",
            "mt",
            "--src",
            "en",
            "--to",
            "de",
            "--max-new-tokens",
            "3",
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 0
    report = json.loads((tmp_path / "report-mt-german.json").read_text())
    assert (
        report["data"]["source_language"] == "English"
        and report["examples"][0]["reference"] == "das kleine Haus"
    )


def test_eval_asr_on_saved_dataset(workspace, tmp_path):
    import datasets

    from spire.evaluation.evaluator import read_eval_data

    folder = tmp_path / "ds"
    datasets.DatasetDict(
        {"test": datasets.Dataset.from_dict({"audio": workspace["files"], "text": ["one", "two"]})}
    ).save_to_disk(str(folder))
    examples = read_eval_data(folder, task="asr")
    assert [e.reference for e in examples] == ["one", "two"] and examples[0].input == workspace[
        "files"
    ][0]
    code = main(
        [
            "eval",
            "--model",
            str(workspace["model"]),
            "--data",
            str(folder),
            "--task",
            "asr",
            "--limit",
            "1",
            "--max-new-tokens",
            "2",
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 0
    assert json.loads((tmp_path / "report-asr.json").read_text())["data"]["examples"] == 1


def test_model_folder_that_is_not_a_model_exits_2(workspace, tmp_path, capsys):
    code = main(["transcribe", "--model", str(tmp_path), *workspace["files"]])
    assert code == 2
    assert "config.json" in capsys.readouterr().err


def test_transcribe_a_folder_one_result_per_file_sorted(workspace, tmp_path, capsys):
    import shutil

    folder = tmp_path / "clips"
    (folder / "sub").mkdir(parents=True)
    shutil.copy(workspace["files"][1], folder / "b.wav")
    shutil.copy(workspace["files"][0], folder / "a.wav")
    shutil.copy(workspace["files"][0], folder / "sub" / "c.flac.wav")
    (folder / "notes.txt").write_text("not audio")
    args = ["transcribe", "--model", str(workspace["model"]), "--format", "jsonl"]
    assert main(args + ["--max-new-tokens", "3", str(folder)]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["file"] for r in records] == [
        str(folder / "a.wav"), str(folder / "b.wav"), str(folder / "sub" / "c.flac.wav")
    ]
    (tmp_path / "empty").mkdir()
    assert main(args + [str(tmp_path / "empty")]) == 2
    assert "holds none" in capsys.readouterr().err


def test_a_bad_file_gets_an_error_entry_and_a_nonzero_exit(workspace, tmp_path, capsys):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF\x00\x00 truncated")
    files = [workspace["files"][0], str(bad), workspace["files"][1]]
    args = ["transcribe", "--model", str(workspace["model"]), "--max-new-tokens", "3"]
    assert main(args + ["--format", "jsonl", *files]) == 2
    captured = capsys.readouterr()
    records = [json.loads(line) for line in captured.out.splitlines()]
    assert [r["file"] for r in records] == files
    assert "error" in records[1] and "text" not in records[1]
    assert all(isinstance(records[i]["text"], str) for i in (0, 2))
    assert "bad.wav" in captured.err and "1 of 3 files" in captured.err
    out = tmp_path / "plain.txt"
    assert main(args + ["-o", str(out), *files]) == 2
    assert len(out.read_text().splitlines()) == 3  # still one line per file


def test_output_into_a_missing_folder_is_created(workspace, tmp_path, capsys):
    out = tmp_path / "new" / "deeper" / "out.jsonl"
    args = ["translate", "--model", str(workspace["model"]), "--max-new-tokens", "2"]
    assert main(args + ["--format", "jsonl", "-o", str(out), *workspace["files"]]) == 0
    assert len(out.read_text().splitlines()) == 2
    assert main(args + ["-o", str(tmp_path), *workspace["files"]]) == 2
    assert "is a folder" in capsys.readouterr().err
