"""Instruction data: ChatML examples, loss only on answers, packing, bad input, accounting."""

import itertools
import json

import pytest
from datasets import load_from_disk
from transformers import AutoTokenizer

from spire.cli import main as spire_main
from spire.data.instructions import ItDataConfig, build_it, encode_chat, it_rows, speech_examples
from spire.data.output import BuildSummary
from spire.data.packing import IGNORE_INDEX
from spire.data.sources import ParallelSource, SpeechSource, vocab_info
from spire.errors import DataError
from spire.prompts import asr_prompt, chat
from spire.testing import fake_unit_rows

NUM_UNITS = 200  # as in conftest.py
IM_END = "<|im_end|>"


def _write_jsonl(path, rows):
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))
    return path


def _label_runs(ids, labels):
    runs, current = [], []
    for token, label in zip(ids, labels):
        if label != IGNORE_INDEX:
            assert label == token
            current.append(token)
        elif current:
            runs.append(current)
            current = []
    return runs + ([current] if current else [])


def _answers(example):
    return [content + IM_END for role, content in example.messages if role == "assistant"]


@pytest.fixture
def manifest(tmp_path):
    rows = fake_unit_rows(40, num_units=NUM_UNITS, seed=11)
    rows[2]["text"] = ""
    rows[3]["fr"] = " "
    return rows, _write_jsonl(tmp_path / "units.jsonl", rows)


def _config(tiny_extended, path, **overrides):
    base = {
        "tokenizer": str(tiny_extended),
        "speech": [SpeechSource(path=str(path))],
        "st_languages": ["de", "fr"],
        "parallel": [
            ParallelSource(path=str(path), source_lang="en", target_lang="de", source_field="text")
        ],
        "seq_len": 512,
        "shuffle_buffer": 16,
    }
    return ItDataConfig(**{**base, **overrides})


def test_labels_are_exactly_the_answers(tiny_extended, manifest):
    rows, _ = manifest
    tokenizer = AutoTokenizer.from_pretrained(tiny_extended)
    config = _config(tiny_extended, "-")
    summary = BuildSummary(kind="it", seq_len=512, packed=False)
    examples = list(
        speech_examples(
            rows,
            source=SpeechSource(path="-"),
            config=config,
            vocab=vocab_info(tiny_extended),
            summary=summary,
        )
    )
    assert {e.task for e in examples} == {
        "asr",
        "st_de",
        "st_fr",
        "st_multiturn_de",
        "st_multiturn_fr",
    }
    for example, (ids, labels) in zip(examples, encode_chat(examples, tokenizer)):
        runs = [tokenizer.decode(run) for run in _label_runs(ids, labels)]
        assert runs == _answers(example)
        assert tokenizer.decode(ids, skip_special_tokens=False).endswith(
            chat(example.messages).rstrip("\n") + "\n"
        )
        # what the model sees at inference (prompt + generation prompt) is a prefix of training
        prompt = chat(example.messages[:1], add_generation_prompt=True)
        prompt_ids = tokenizer(prompt)["input_ids"]
        assert ids[: len(prompt_ids)] == prompt_ids
        assert all(label == IGNORE_INDEX for label in labels[: len(prompt_ids)])


def test_multiturn_has_the_transcript_turn_first(tiny_extended, manifest):
    rows, _ = manifest
    config = _config(tiny_extended, "-", tasks=["st_multiturn"], st_languages=["de"])
    summary = BuildSummary(kind="it", seq_len=512, packed=False)
    example = next(
        speech_examples(
            rows,
            source=SpeechSource(path="-"),
            config=config,
            vocab=vocab_info(tiny_extended),
            summary=summary,
        )
    )
    roles = [role for role, _ in example.messages]
    assert roles == ["user", "assistant", "user", "assistant"]
    assert example.messages[0][1] == asr_prompt(rows[0]["units"])
    assert example.messages[1][1] == rows[0]["text"] and example.messages[3][1] == rows[0]["de"]
    assert example.messages[2][1].endswith("German:")


def test_packed_equals_unpacked_and_accounts_for_every_example(tiny_extended, manifest, tmp_path):
    rows, path = manifest
    tokenizer = AutoTokenizer.from_pretrained(tiny_extended)
    packed = build_it(_config(tiny_extended, path), tmp_path / "packed", progress=False)
    plain = build_it(
        _config(tiny_extended, path, packing=False), tmp_path / "plain", progress=False
    )
    # rows x (asr + 2 st + 2 multi-turn) + one MT example per row
    assert packed.total == plain.total == len(rows) * 5 + len(rows)
    assert (
        packed.dropped
        == plain.dropped
        == {"empty_transcript": 3, "empty_translation": 2, "empty_text": 1}
    )
    assert packed.kept + sum(packed.dropped.values()) == packed.total
    assert (
        json.loads((tmp_path / "packed" / "summary.json").read_text())["dropped"] == packed.dropped
    )
    unpacked_rows = load_from_disk(str(tmp_path / "plain"))
    expected = sorted((r["input_ids"], r["labels"]) for r in unpacked_rows)
    segments = []
    for row in load_from_disk(str(tmp_path / "packed")):
        assert len(row["input_ids"]) == 512
        starts = [i for i, p in enumerate(row["position_ids"]) if p == 0] + [512]
        for a, b in zip(starts, starts[1:]):
            assert row["position_ids"][a:b] == list(range(b - a))
            ids, labels = row["input_ids"][a:b], row["labels"][a:b]
            if all(t == tokenizer.pad_token_id for t in ids):
                assert all(label == IGNORE_INDEX for label in labels)
            else:
                segments.append((ids, labels))
    assert sorted(segments) == expected
    assert packed.tokens == plain.tokens == sum(len(r["input_ids"]) for r in unpacked_rows)
    assert packed.padding_tokens == packed.sequences * 512 - packed.tokens


@pytest.mark.parametrize("overlong", ["drop", "truncate"])
def test_overlong_examples(tiny_extended, manifest, tmp_path, overlong):
    rows, path = manifest
    config = _config(tiny_extended, path, seq_len=48, overlong=overlong, parallel=[])
    summary = build_it(config, tmp_path / "out", progress=False)
    ds = load_from_disk(str(tmp_path / "out"))
    assert all(len(r["input_ids"]) == 48 for r in ds)
    assert summary.kept + sum(summary.dropped.values()) == summary.total == len(rows) * 5
    if overlong == "drop":
        assert summary.dropped["too_long"] > 0 and summary.truncated == 0
    else:
        assert summary.truncated > 0


def test_units_outside_the_vocabulary_name_the_example(tiny_extended, tmp_path):
    rows = fake_unit_rows(5, num_units=NUM_UNITS, seed=12)
    rows[1]["units"] += "oops"
    path = _write_jsonl(tmp_path / "units.jsonl", rows)
    with pytest.raises(DataError, match="utt00001"):
        build_it(_config(tiny_extended, path), tmp_path / "out", progress=False)


def test_streams_from_an_endless_generator(tiny_extended):
    tokenizer = AutoTokenizer.from_pretrained(tiny_extended)
    config = _config(tiny_extended, "-", shuffle_buffer=8, tokenize_batch=16, open_rows=2)
    summary = BuildSummary(kind="it", seq_len=512, packed=True)
    pulled = []

    def endless():
        for n in itertools.count():
            pulled.append(n)
            yield fake_unit_rows(1, num_units=NUM_UNITS, seed=n)[0]

    examples = speech_examples(
        endless(),
        source=SpeechSource(path="-"),
        config=config,
        vocab=vocab_info(tiny_extended),
        summary=summary,
    )
    first = list(itertools.islice(it_rows(examples, tokenizer, config, summary), 3))
    assert len(first) == 3 and len(pulled) < 100


def test_cli_builds_it(tiny_extended, manifest, tmp_path):
    _, path = manifest
    out = tmp_path / "cli"
    args = [
        "build-data",
        "it",
        "--tokenizer",
        str(tiny_extended),
        "--speech",
        str(path),
        "--out",
        str(out),
        "--quiet",
    ]
    assert spire_main(args + ["seq_len=256", "st_languages=[fr]", "packing=false"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["packed"] is False and summary["tokens_by_source"].keys() == {
        "asr",
        "st_fr",
        "st_multiturn_fr",
    }
    assert spire_main(args + ["st_languages=[xx]"]) == 2
