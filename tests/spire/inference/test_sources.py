"""Audio rows for `spire transcribe` / `spire eval`: manifests, saved datasets, audiofolders and
in-memory datasets, read without decoding on the datasets side (no torchcodec, no FFmpeg)."""

import json

import numpy as np
import pytest
import soundfile as sf

from spire.cli import main
from spire.errors import DataError
from spire.evaluation.evaluator import read_eval_data
from spire.inference.sources import dataset_rows, decoding_error, read_rows, source_kind
from units import load_audio

SR = 16000
NUM_UNITS = 16


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    from units.testing import tone_speech

    root = tmp_path_factory.mktemp("clips")
    paths = []
    for index in range(3):
        paths.append(root / f"clip{index}.wav")
        sf.write(paths[-1], tone_speech(0.6 + 0.2 * index, seed=index), SR)
    return root, [str(p) for p in paths]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, clips):
    from spire.testing import tiny_llama
    from spire.vocab.extend import extend_model
    from units import KMeansQuantizer, MfccFeaturizer, UnitExtractor

    root = tmp_path_factory.mktemp("model")
    featurizer = MfccFeaturizer()
    waves = [load_audio(p) for p in clips[1]]
    features = np.concatenate([f.cpu().numpy() for f in featurizer.featurize(waves)])
    quantizer = KMeansQuantizer.fit(features, NUM_UNITS, seed=0, provenance=featurizer.provenance())
    out = extend_model(tiny_llama(root / "base"), root / "model", num_units=NUM_UNITS).out_dir
    UnitExtractor(featurizer, quantizer).save_pretrained(out / "extractor")
    return out


def _audio_dataset(paths, texts):
    import datasets

    return datasets.Dataset.from_dict({"speech": paths, "transcription": texts}).cast_column(
        "speech", datasets.Audio()  # decode=True: reading it through datasets needs torchcodec
    )


def test_every_kind_of_source_gives_the_same_rows(clips, tmp_path):
    import datasets

    root, paths = clips
    texts = ["one", "two", "three"]
    manifest = root / "test.jsonl"
    manifest.write_text("".join(json.dumps({"audio": f"clip{i}.wav", "text": t}) + "\n" for i, t in enumerate(texts)))
    tsv = root / "test.tsv"
    tsv.write_text(f"{root}\n" + "".join(f"clip{i}.wav\t16000\n" for i in range(3)))
    tsv.with_suffix(".wrd").write_text("\n".join(texts) + "\n")
    saved = tmp_path / "saved"
    data = _audio_dataset(paths, texts)
    datasets.DatasetDict({"train": data.select([0]), "test": data}).save_to_disk(str(saved))
    folder = tmp_path / "audiofolder"
    (folder / "test").mkdir(parents=True)
    for i, path in enumerate(paths):
        (folder / "test" / f"c{i}.wav").write_bytes(open(path, "rb").read())
    (folder / "test" / "metadata.csv").write_text("file_name,transcription\n" + "".join(
        f"c{i}.wav,{t}\n" for i, t in enumerate(texts)))
    kinds = {"jsonl": manifest, "tsv": tsv, "dataset": saved, "audiofolder": folder}
    expected = [load_audio(p) for p in paths]
    for kind, path in kinds.items():
        assert source_kind(path) == kind
        rows = read_rows(path)  # the dataset's and the audiofolder's "test" split by default
        assert len(rows) == 3, kind
        for row, wave in zip(rows, expected):
            assert np.array_equal(load_audio(row.audio), wave), kind
        column = "transcription" if kind in ("dataset", "audiofolder") else "text"
        assert [row.fields[column] for row in rows] == texts, kind
        examples = read_eval_data(path, task="asr", reference_column=column, audio_column=None)
        assert [e.reference for e in examples] == texts, kind
    assert len(read_rows(f"{saved}:train")) == 1 and len(read_rows(saved, split="train")) == 1
    assert [r.id for r in read_rows(folder)] == ["c0", "c1", "c2"]


def test_an_in_memory_dataset_needs_no_torchcodec(clips):
    root, paths = clips
    data = _audio_dataset(paths, ["a", "b", "c"])
    rows = dataset_rows(data)  # the Audio column is found by its type
    assert np.array_equal(load_audio(rows[1].audio), load_audio(paths[1]))
    assert rows[1].fields == {"transcription": "b"}
    examples = read_eval_data(data, task="asr", reference_column="transcription")
    assert [e.reference for e in examples] == ["a", "b", "c"]
    with pytest.raises(DataError, match="audio_column must be one of"):
        dataset_rows(data, audio_column="audio")


def test_the_torchcodec_error_names_both_fixes():
    text = str(decoding_error(ImportError("To support decoding audio data, please install 'torchcodec'.")))
    assert "Audio(decode=False)" in text and "pip install torchcodec" in text and "FFmpeg" in text


def test_bad_sources_are_data_errors(tmp_path):
    with pytest.raises(DataError, match="must exist"):
        read_rows(tmp_path / "nothing.jsonl")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(DataError, match="none of these"):
        read_rows(tmp_path / "notes.txt")
    tsv = tmp_path / "m.tsv"
    tsv.write_text(f"{tmp_path}\na.wav\t16000\nb.wav\t16000\n")
    tsv.with_suffix(".wrd").write_text("only one\n")
    with pytest.raises(DataError, match="one transcript per row"):
        read_rows(tsv)
    folder = tmp_path / "af"
    folder.mkdir()
    (folder / "metadata.jsonl").write_text('{"audio": "x.wav"}\n')
    with pytest.raises(DataError, match="'file_name' column"):
        read_rows(folder)


def test_model_transcribes_a_dataset_and_decoded_rows(model_dir, clips):
    from spire.inference.model import SpireModel

    model = SpireModel.from_pretrained(model_dir, device="cpu")
    paths = clips[1]
    by_path = [r.token_ids for r in model.transcribe(paths, max_new_tokens=3)]
    from_dataset = model.transcribe(_audio_dataset(paths, ["a", "b", "c"]), max_new_tokens=3)
    assert [r.token_ids for r in from_dataset] == by_path
    decoded = [{"audio": {"array": load_audio(p), "sampling_rate": SR}} for p in paths]  # decode=True rows
    assert [r.token_ids for r in model.transcribe(decoded, max_new_tokens=3)] == by_path


def test_transcribe_and_eval_commands_read_manifests_and_datasets(model_dir, clips, tmp_path, capsys):
    import datasets

    root, paths = clips
    saved = tmp_path / "saved"
    _audio_dataset(paths, ["a", "b", "c"]).save_to_disk(str(saved))
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("".join(json.dumps({"id": f"u{i}", "speech": p}) + "\n" for i, p in enumerate(paths[:2])))
    args = ["transcribe", "--model", str(model_dir), "--format", "jsonl", "--max-new-tokens", "2"]
    assert main(args + ["--audio-column", "speech", str(manifest), str(saved)]) == 0
    names = [json.loads(line)["file"] for line in capsys.readouterr().out.splitlines()]
    assert names == [f"{manifest}#u0", f"{manifest}#u1"] + [f"{saved}#{i:09d}" for i in range(3)]
    code = main(["eval", "--model", str(model_dir), "--data", str(saved), "--task", "asr",
                 "--ref-column", "transcription", "--max-new-tokens", "2", "--out", str(tmp_path / "eval")])
    assert code == 0 and json.loads((tmp_path / "eval" / "report-asr.json").read_text())["data"]["examples"] == 3
    assert isinstance(datasets.load_from_disk(str(saved)).features["speech"], datasets.Audio)


def test_a_stage_folder_stands_for_its_model_and_a_wrong_one_names_the_right_one(model_dir, tmp_path):
    from spire.errors import SpireError
    from spire.inference.folders import model_folder
    from spire.inference.model import SpireModel

    stage = tmp_path / "demo_out" / "it"
    stage.mkdir(parents=True)
    (stage / "model").symlink_to(model_dir, target_is_directory=True)
    assert model_folder(stage) == stage / "model"
    assert SpireModel.from_pretrained(stage, device="cpu").model_dir == stage / "model"
    with pytest.raises(SpireError, match=f"pass one of the model folders in it: {stage / 'model'}"):
        model_folder(tmp_path / "demo_out")
    with pytest.raises(SpireError, match="does not exist; fix: .*demo_out/it/model"):
        model_folder(tmp_path / "nowhere")


def test_prompts_are_built_with_the_tokenizers_chat_template(model_dir):
    from spire import prompts
    from spire.inference.model import SpireModel

    model = SpireModel.from_pretrained(model_dir, device="cpu")
    assert model.tokenizer.chat_template == prompts.CHAT_TEMPLATE
    assert model._chat("Speech: x\nEnglish:") == prompts.chat([("user", "Speech: x\nEnglish:")], add_generation_prompt=True)
    model.tokenizer.chat_template = "{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}{% endfor %}"
    assert model._chat("P") == "<user>P"  # what transformers' own chat tools would send
    with pytest.warns(UserWarning, match="prompts follow the tokenizer's template"):
        SpireModel(model.model, model.tokenizer, model.extractor)


def test_a_decoder_that_fails_names_both_fixes():
    from units.errors import AudioError

    class BrokenDecoder:  # what datasets >= 4 hands out for decoded rows, here without FFmpeg
        def get_all_samples(self):
            raise RuntimeError("Could not load libtorchcodec: FFmpeg libraries not found")

    with pytest.raises(AudioError) as info:
        load_audio(BrokenDecoder())
    text = str(info.value)
    assert "Audio(decode=False)" in text and "pip install torchcodec" in text and "FFmpeg" in text
