"""Vocabulary extension invariants, for a SentencePiece and a byte-level BPE base."""

import json
import random

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from spire.cli import main as spire_main
from spire.errors import VocabularyError
from spire.testing import sample_sentences
from spire.vocab.embeddings import freeze_all_but_new_embeddings
from spire.vocab.extend import (
    PUA_OFFSET,
    SPIRE_SPECIALS,
    check_unit_vocab,
    extend_model,
    extend_tokenizer,
    unit_strings,
    unit_token_ids,
)

NUM_UNITS = 200  # as in conftest.py


def _mixed_strings(count, num_units, unit_format="pua", seed=0):
    rng = random.Random(seed)
    words = " ".join(sample_sentences(50, seed=seed)).split()
    units = unit_strings(num_units, unit_format)
    out = []
    for _ in range(count):
        parts = []
        for _ in range(rng.randint(1, 8)):
            if rng.random() < 0.5:
                parts.append("".join(rng.choice(units) for _ in range(rng.randint(1, 6))))
            else:
                parts.append(rng.choice(words))
            parts.append(rng.choice(["", " ", "\n", ": ", "  "]))
        out.append("".join(parts).lstrip(" "))  # a leading space is lost by Llama's own decoder
    return out


def test_original_token_ids_unchanged(tiny_base, tiny_extended):
    base = AutoTokenizer.from_pretrained(tiny_base)
    extended = AutoTokenizer.from_pretrained(tiny_extended)
    for text in sample_sentences(200, seed=3) + ["Hello <unk> 123 ü ß\n\nx"]:
        assert extended.encode(text) == base.encode(text)
    assert {t: i for t, i in extended.get_vocab().items() if i < len(base)} == base.get_vocab()


def test_each_unit_is_one_token_with_consecutive_ids(extended_tokenizer, tiny_extended):
    first = json.loads((tiny_extended / "config.json").read_text())["spire"]["first_unit_id"]
    ids = unit_token_ids(extended_tokenizer, NUM_UNITS)
    assert ids == list(range(first, first + NUM_UNITS))
    assert check_unit_vocab(extended_tokenizer, NUM_UNITS) == first
    for index in (0, 7, NUM_UNITS - 1):
        unit = chr(PUA_OFFSET + index)
        encoded = extended_tokenizer.encode(f"abc{unit}{unit}def {unit}", add_special_tokens=False)
        assert encoded.count(first + index) == 3


def test_decode_encode_round_trip_mixed(extended_tokenizer):
    for text in _mixed_strings(200, NUM_UNITS):
        ids = extended_tokenizer.encode(text, add_special_tokens=False)
        assert extended_tokenizer.decode(ids) == text
        assert extended_tokenizer.decode(ids, skip_special_tokens=True) == text


def test_specials_order_rows_and_config(tiny_base, tiny_extended, extended_tokenizer):
    base_size = len(AutoTokenizer.from_pretrained(tiny_base))
    tok = extended_tokenizer
    expected = list(SPIRE_SPECIALS) + unit_strings(NUM_UNITS) + ["<|im_end|>", "<|im_start|>"]
    assert tok.convert_ids_to_tokens(list(range(base_size, len(tok)))) == expected
    config = json.loads((tiny_extended / "config.json").read_text())
    assert config["spire"]["num_units"] == NUM_UNITS and config["spire"]["unit_format"] == "pua"
    assert config["spire"]["first_unit_id"] == base_size + len(SPIRE_SPECIALS)
    assert config["vocab_size"] % 64 == 0 and config["vocab_size"] >= len(tok)
    assert config["tie_word_embeddings"] is False
    generation = json.loads((tiny_extended / "generation_config.json").read_text())
    assert tok.convert_tokens_to_ids("<|im_end|>") in generation["eos_token_id"]
    assert tok.pad_token == "<PAD>" and config["pad_token_id"] == tok.pad_token_id
    im_end = tok.convert_tokens_to_ids("<|im_end|>")
    assert tok.decode(
        [im_end, tok.encode(chr(PUA_OFFSET), add_special_tokens=False)[0]], skip_special_tokens=True
    ) == chr(PUA_OFFSET)


def test_old_rows_and_other_weights_unchanged(tiny_base, tiny_extended):
    base = AutoModelForCausalLM.from_pretrained(tiny_base)
    extended = AutoModelForCausalLM.from_pretrained(tiny_extended)
    old = base.get_input_embeddings().weight.shape[0]
    base_state, new_state = base.state_dict(), extended.state_dict()
    assert base_state.keys() == new_state.keys()
    for name, value in base_state.items():
        if value.shape[0] == old and new_state[name].shape != value.shape:
            assert torch.equal(new_state[name][:old], value), name
        else:
            assert torch.equal(new_state[name], value), name
    assert extended.lm_head.weight.data_ptr() != extended.get_input_embeddings().weight.data_ptr()


def test_extended_model_reloads_and_generates(tiny_extended, extended_tokenizer):
    model = AutoModelForCausalLM.from_pretrained(tiny_extended)
    prompt = "Speech: " + "".join(unit_strings(NUM_UNITS)[:20]) + "\nEnglish:"
    inputs = extended_tokenizer(prompt, return_tensors="pt")
    out = model.generate(**inputs, max_new_tokens=6, do_sample=False)
    assert out.shape[1] > inputs.input_ids.shape[1]
    assert int(out.max()) < model.get_input_embeddings().weight.shape[0]


def test_extending_twice_is_refused(tiny_extended, tmp_path):
    with pytest.raises(VocabularyError, match="must not be extended yet"):
        extend_model(tiny_extended, tmp_path / "again", num_units=NUM_UNITS)
    tokenizer = AutoTokenizer.from_pretrained(tiny_extended)
    size = len(tokenizer)
    with pytest.raises(VocabularyError, match="must not contain unit tokens"):
        extend_tokenizer(tokenizer, num_units=NUM_UNITS)
    assert len(tokenizer) == size


def test_base_tokenizer_has_no_units(tiny_base):
    with pytest.raises(VocabularyError, match="exactly one token"):
        check_unit_vocab(AutoTokenizer.from_pretrained(tiny_base), 10)


@pytest.mark.parametrize("init", ["default", "mean"])
def test_new_row_initialisation(tiny_base, tmp_path, init):
    result = extend_model(
        tiny_base, tmp_path / "out", num_units=300, init=init, chat_specials=False
    )
    model = AutoModelForCausalLM.from_pretrained(result.out_dir)
    for weight in (model.get_input_embeddings().weight, model.lm_head.weight):
        old, new = weight[: result.first_new_id].float(), weight[result.first_new_id :].float()
        assert new.shape[0] == result.embedding_rows - result.first_new_id
        if init == "default":
            assert abs(new.std().item() - model.config.initializer_range) < 0.003
        else:
            mean = old.mean(0)
            assert torch.allclose(new.mean(0), mean, atol=1e-3)
            # per-dimension variance of the new rows ≈ 1e-5 × that of the old rows
            ratio = (new.var(0) / old.var(0)).mean().item()
            assert 0.5e-5 < ratio < 2e-5


def test_only_new_rows_train_after_freeze(tiny_extended):
    model = AutoModelForCausalLM.from_pretrained(tiny_extended)
    first_new = json.loads((tiny_extended / "config.json").read_text())["spire"]["first_new_id"]
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    handle = freeze_all_but_new_embeddings(model, first_new)
    assert sorted(handle.trainable) == ["lm_head.weight", "model.embed_tokens.weight"]
    optimizer = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], lr=1e-2, weight_decay=0.0
    )
    ids = torch.tensor([[1, 5, 9, first_new + 8, first_new + 9, 30, first_new + 40]])
    model(input_ids=ids, labels=ids).loss.backward()
    optimizer.step()
    for name, param in model.named_parameters():
        if name in handle.trainable:
            assert torch.equal(param[:first_new], before[name][:first_new]), name
            assert not torch.equal(param[first_new:], before[name][first_new:]), name
        else:
            assert torch.equal(param, before[name]), name
    handle.remove()


def test_extra_id_units(tmp_path):
    from spire.testing import tiny_llama

    base = tiny_llama(tmp_path / "base", tokenizer="bpe")
    result = extend_model(base, tmp_path / "ext", num_units=50, unit_format="extra_id")
    tokenizer = AutoTokenizer.from_pretrained(result.out_dir)
    assert unit_token_ids(tokenizer, 50, "extra_id") == list(
        range(result.first_unit_id, result.first_unit_id + 50)
    )
    for text in _mixed_strings(50, 50, "extra_id", seed=1):
        assert tokenizer.decode(tokenizer.encode(text, add_special_tokens=False)) == text


def test_cli_records_extractor_provenance(tiny_base, tmp_path):
    provenance = {"type": "mfcc", "k": 30, "unit_format": "pua", "dedup": True, "checksum": "abc"}
    (tmp_path / "extractor.json").write_text(json.dumps(provenance))
    out = tmp_path / "out"
    args = ["extend", "--model", str(tiny_base), "--out", str(out), "--num-units", "30"]
    assert (
        spire_main(args + ["--extractor", str(tmp_path / "extractor.json"), "--init", "mean"]) == 0
    )
    assert json.loads((out / "config.json").read_text())["spire"]["extractor"] == provenance
    mismatch = [
        "extend",
        "--model",
        str(tiny_base),
        "--out",
        str(tmp_path / "bad"),
        "--num-units",
        "40",
    ]
    assert spire_main(mismatch + ["--extractor", str(tmp_path / "extractor.json")]) == 2
    assert (
        spire_main(
            ["extend", "--model", str(out), "--out", str(tmp_path / "twice"), "--num-units", "30"]
        )
        == 2
    )


def test_extractor_folder_provenance_is_stored_and_checked(tmp_path):
    import numpy as np

    from spire.testing import tiny_llama
    from units import KMeansQuantizer, MfccFeaturizer, UnitExtractor

    features = np.random.default_rng(0).standard_normal((600, 39)).astype("float32")
    featurizer = MfccFeaturizer()
    quantizer = KMeansQuantizer.fit(features, 30, seed=0, provenance=featurizer.provenance())
    extractor = UnitExtractor(featurizer, quantizer)
    extractor.save_pretrained(tmp_path / "extractor")
    base = tiny_llama(tmp_path / "base", tokenizer="bpe")
    args = ["extend", "--model", str(base), "--extractor", str(tmp_path / "extractor")]
    assert spire_main(args + ["--out", str(tmp_path / "ok"), "--num-units", "30"]) == 0
    stored = json.loads((tmp_path / "ok" / "config.json").read_text())["spire"]["extractor"]
    assert stored == json.loads(json.dumps(extractor.provenance()))
    # The model folder carries its extractor, so raw audio needs nothing else.
    copied = UnitExtractor.from_pretrained(tmp_path / "ok" / "extractor")
    assert copied.provenance() == extractor.provenance()
    assert spire_main(args + ["--out", str(tmp_path / "bad"), "--num-units", "31"]) == 2
    bad = ["--out", str(tmp_path / "fmt"), "--num-units", "30", "--unit-format", "extra_id"]
    assert spire_main(args + bad) == 2
