"""`spire export` (CTranslate2): a self-contained folder whose engine answers like the fp32 model."""

import json

import pytest

pytest.importorskip(
    "ctranslate2",
    reason="the ct2 engine is the optional cpu-infer extra (pip install 'spire-speech[cpu-infer]'); "
    "`make test` installs it",
)

from spire.export import ExportError, export_model  # noqa: E402
from spire.inference.engines import EngineError, ExportManifest, load_engine  # noqa: E402
from spire.inference.generation import DecodingSettings, generate_transformers  # noqa: E402


def _transformers(folder):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    return model, AutoTokenizer.from_pretrained(folder)


def test_folder_is_self_contained(source_model, exports):
    from transformers import AutoTokenizer

    from spire import prompts

    out = exports["int8"]
    manifest = ExportManifest.read(out)
    assert (manifest.format, manifest.quant, manifest.engine_path) == ("ct2", "int8", "ct2")
    assert manifest.num_parameters > 0 and manifest.engine_bytes > 0
    assert {"model.bin", "vocabulary.json", "config.json"} <= {p.name for p in (out / "ct2").iterdir()}
    assert (out / "extractor" / "extractor.json").is_file()
    assert not list(out.glob("*.safetensors"))  # the weights are the engine's only
    source_config = json.loads((source_model / "config.json").read_text())
    assert json.loads((out / "config.json").read_text())["spire"] == source_config["spire"]
    for name in ("tokenizer.json", "tokenizer_config.json"):
        assert (out / name).read_bytes() == (source_model / name).read_bytes()
    tokenizer = AutoTokenizer.from_pretrained(out)
    messages = [{"role": "user", "content": "Speech: x\nEnglish:"}]
    rendered = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert rendered == prompts.chat([("user", "Speech: x\nEnglish:")], add_generation_prompt=True)


def test_every_unit_is_one_token_in_the_exported_tokenizer_and_vocabulary(exports, num_units):
    from transformers import AutoTokenizer

    from units.encoding import unit_strings

    out = exports["int8"]
    tokenizer = AutoTokenizer.from_pretrained(out)
    first = json.loads((out / "config.json").read_text())["spire"]["first_unit_id"]
    vocabulary = json.loads((out / "ct2" / "vocabulary.json").read_text())
    for index, text in enumerate(unit_strings(num_units, "pua")):
        assert tokenizer.encode(text, add_special_tokens=False) == [first + index]
        assert vocabulary[first + index] == text


@pytest.mark.parametrize("num_beams", [1, 2])
def test_float32_engine_equals_transformers(source_model, exports, learned, num_beams):
    model, tokenizer = _transformers(source_model)
    chats, _ = learned
    prompts = chats + ["<|im_start|>user\nTranslate: the small house<|im_end|>\n"]
    settings = DecodingSettings(max_new_tokens=12, batch_size=3, num_beams=num_beams)
    expected = generate_transformers(model, tokenizer, prompts, settings)
    engine = load_engine(exports["float32"], threads=1)
    assert engine.generate(tokenizer, prompts, settings) == expected


def test_int8_greedy_matches_fp32_on_learned_prompts(source_model, exports, learned):
    """Stated margin: at most 1 of the 8 answers may differ at 8 bits (0 measured here)."""
    model, tokenizer = _transformers(source_model)
    chats, answers = learned
    settings = DecodingSettings(max_new_tokens=40, batch_size=4)
    expected = generate_transformers(model, tokenizer, chats, settings)
    assert [tokenizer.decode(ids, skip_special_tokens=True).strip() for ids in expected] == answers
    got = load_engine(exports["int8"], threads=1).generate(tokenizer, chats, settings)
    assert sum(a != b for a, b in zip(got, expected)) <= 1


def test_batched_equals_one_at_a_time(source_model, exports, learned):
    _, tokenizer = _transformers(source_model)
    chats, _ = learned
    engine = load_engine(exports["int8"], threads=1)
    batched = engine.generate(tokenizer, chats, DecodingSettings(max_new_tokens=10, batch_size=8))
    alone = [engine.generate(tokenizer, [c], DecodingSettings(max_new_tokens=10))[0] for c in chats]
    assert batched == alone


def test_overwrite_replaces_an_export_and_a_failure_leaves_nothing(source_model, tmp_path, monkeypatch):
    out = tmp_path / "e"
    export_model(source_model, out, quant="int8")
    with pytest.raises(ExportError, match="overwrite"):
        export_model(source_model, out, quant="int8_float32")
    export_model(source_model, out, quant="int8_float32", overwrite=True)
    assert ExportManifest.read(out).quant == "int8_float32"

    import spire.export.ct2

    def broken(*args, **kwargs):
        raise ExportError("conversion failed on purpose")

    monkeypatch.setattr(spire.export.ct2, "convert_ct2", broken)
    with pytest.raises(ExportError, match="on purpose"):
        export_model(source_model, tmp_path / "f", quant="int8")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e"]  # no partial folder left


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"format": "gguf"}, "format"),
        ({"format": "onnx"}, "format"),
        ({"quant": "int4"}, "quant"),
        ({"quant": "q4_0"}, "quant"),
        ({"extractor_dir": "/nonexistent"}, "extractor_dir"),
    ],
)
def test_export_refuses_bad_arguments_by_name(source_model, tmp_path, change, named):
    with pytest.raises(ExportError, match=f"^{named} must"):
        export_model(source_model, tmp_path / "out", **change)
    assert not (tmp_path / "out").exists()


def test_export_refuses_bad_folders_by_name(source_model, exports, tmp_path):
    crowded = tmp_path / "crowded"
    crowded.mkdir()
    (crowded / "notes.txt").write_text("mine")
    with pytest.raises(ExportError, match="^out_dir must"):
        export_model(source_model, crowded)
    assert (crowded / "notes.txt").read_text() == "mine"
    with pytest.raises(ExportError, match="^model_dir must .* already an exported folder"):
        export_model(exports["int8"], tmp_path / "again")
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "config.json").write_text("{}")
    (plain / "model.safetensors").write_bytes(b"")
    with pytest.raises(ExportError, match="^model_dir must hold an extended model"):
        export_model(plain, tmp_path / "out")


def test_broken_export_folders_are_refused(exports, tmp_path):
    import shutil

    with pytest.raises(EngineError, match="format must be one of"):
        ExportManifest.from_dict({"format": "gguf", "quant": "q4_0", "engine_path": "m.gguf"})
    with pytest.raises(EngineError, match="engine_path must be a path inside"):
        ExportManifest.from_dict({"format": "ct2", "quant": "int8", "engine_path": "../x"})
    broken = tmp_path / "broken"
    shutil.copytree(exports["int8"], broken)
    shutil.rmtree(broken / "ct2")
    with pytest.raises(EngineError, match="must exist"):
        load_engine(broken)


def test_length_groups_batch_only_close_lengths():
    from spire.inference.engines.ct2 import length_groups

    lengths = [120, 272, 125, 167, 236, 169, 216, 222, 121, 122, 123]
    groups = length_groups(lengths, batch_size=3, answer_tokens=8)
    assert sorted(i for g in groups for i in g) == list(range(len(lengths)))
    for group in groups:
        steps = [lengths[b] - lengths[a] for a, b in zip(group, group[1:])]
        assert len(group) <= 3 and all(0 <= s <= 8 for s in steps)
    assert groups[:2] == [[0, 8, 9], [10, 2]]  # 120 121 122 | 123 125: full batches first


def test_an_ssl_extractors_encoder_is_copied_into_the_export(tmp_path):
    from spire.export.folder import copy_extractor

    encoder = tmp_path / "hubert"
    encoder.mkdir()
    (encoder / "model.safetensors").write_bytes(b"weights")
    extractor = tmp_path / "extractor"
    extractor.mkdir()
    (extractor / "extractor.json").write_text("{}")
    record = {"type": "ssl", "encoder_path": str(encoder), "layer": 6}
    (extractor / "featurizer.json").write_text(json.dumps(record))
    out = tmp_path / "out"
    out.mkdir()
    copied = copy_extractor(extractor, out)
    assert json.loads((copied / "featurizer.json").read_text()) == {**record, "encoder_path": "encoder"}
    assert (copied / "encoder" / "model.safetensors").read_bytes() == b"weights"
    assert json.loads((extractor / "featurizer.json").read_text()) == record  # source untouched
    (copied.parent / "again").mkdir()
    import shutil

    shutil.rmtree(encoder)
    with pytest.raises(ExportError, match="encoder folder .* must exist"):
        copy_extractor(extractor, copied.parent / "again")
