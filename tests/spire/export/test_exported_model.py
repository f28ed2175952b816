"""`SpireModel.from_pretrained(export)` and `spire export` / `spire transcribe --model export`."""

import pytest
import soundfile as sf

pytest.importorskip(
    "ctranslate2",
    reason="the ct2 engine is the optional cpu-infer extra (pip install 'spire-speech[cpu-infer]'); "
    "`make test` installs it",
)

from spire.inference.engines import EngineError  # noqa: E402
from spire.inference.model import SpireModel  # noqa: E402

SR = 16000


def _clips():
    from units.testing import tone_speech

    return [tone_speech(0.6 + 0.3 * i, seed=20 + i) for i in range(4)]


@pytest.fixture(scope="module")
def fp32_model(source_model):
    return SpireModel.from_pretrained(source_model, device="cpu")


@pytest.mark.parametrize("num_beams", [1, 2])
def test_exported_model_transcribes_and_translates_like_fp32(fp32_model, exports, num_beams):
    exported = SpireModel.from_pretrained(exports["float32"], device="cpu")
    assert exported.backend == "ctranslate2"
    options = {"max_new_tokens": 8, "batch_size": 3, "num_beams": num_beams}
    got = exported.transcribe(_clips(), **options)
    expected = fp32_model.transcribe(_clips(), **options)
    assert [r.token_ids for r in got] == [r.token_ids for r in expected]
    assert [r.text for r in got] == [r.text for r in expected]
    assert got[0].decoding.backend == "ctranslate2" and got[0].decoding.num_beams == num_beams
    st = exported.translate(_clips()[:2], to="fr", max_new_tokens=6)
    assert [r.token_ids for r in st] == [
        r.token_ids for r in fp32_model.translate(_clips()[:2], to="fr", max_new_tokens=6)
    ]
    mt = exported.translate_text("the small house", tgt="de", max_new_tokens=6)
    assert mt.token_ids == fp32_model.translate_text("the small house", tgt="de", max_new_tokens=6).token_ids


def test_exported_model_refuses_another_backend(exports):
    with pytest.raises(EngineError, match="^backend must be 'ctranslate2'"):
        SpireModel.from_pretrained(exports["int8"], device="cpu", backend="vllm")


def test_cli_export_then_transcribe(source_model, tmp_path, capsys):
    from spire.cli import main

    out = tmp_path / "exported"
    assert main(["export", "--model", str(source_model), "--out", str(out)]) == 0
    assert "ct2, int8" in capsys.readouterr().out
    wav = tmp_path / "clip.wav"
    sf.write(wav, _clips()[1], SR)
    args = ["--model", str(out), "--max-new-tokens", "6", str(wav)]
    assert main(["transcribe", *args]) == 0
    expected = SpireModel.from_pretrained(out, device="cpu").transcribe(str(wav), max_new_tokens=6)
    assert expected.decoding.backend == "ctranslate2"
    assert capsys.readouterr().out == " ".join(expected.text.split()) + "\n"
    assert main(["export", "--model", str(source_model), "--out", str(out), "--quant", "int4"]) == 2
    assert "quant must be one of" in capsys.readouterr().err
