"""The synthetic corpus: reproducible bytes, split rules, audio as recorded, manifests that load."""

import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile

from spire.mini.corpus import (
    SPLITS,
    TEST_PITCHES,
    TEST_RATES,
    TEST_VOICES,
    TRAIN_PITCHES,
    TRAIN_RATES,
    TRAIN_VOICES,
    build_corpus,
    plan_corpus,
)
from spire.mini.grammar_sampler import held_out_combinations
from spire.mini.lexicon import ADJECTIVES, GIVE_VERBS, NOUNS, NUMBERS, TRANSITIVE

SEED = 3
SIZES = {"train": 40, "dev": 6, "test": 14}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("corpus")
    corpus = build_corpus(out, SIZES["train"], SIZES["dev"], SIZES["test"], SEED, num_workers=2)
    return out, corpus


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_gives_identical_bytes_whatever_the_workers(built, tmp_path):
    out, _ = built
    build_corpus(tmp_path, SIZES["train"], SIZES["dev"], SIZES["test"], SEED, num_workers=1)
    first, second = _files(out), _files(tmp_path)
    assert sorted(first) == sorted(second)
    assert any(name.endswith(".arrow") for name in first) and any(name.endswith(".flac") for name in first)
    assert [name for name in first if first[name] != second[name]] == []


def test_columns_and_sizes(built):
    _, corpus = built
    assert {split: len(corpus[split]) for split in SPLITS} == SIZES
    assert corpus["train"].column_names == ["id", "audio", "text", "de", "fr", "voice", "rate", "pitch",
                                            "duration_s", "novel_combination"]
    assert corpus["train"].features["audio"].decode is False
    assert sum(corpus["test"]["novel_combination"]) == SIZES["test"] // 2
    assert not any(corpus["train"]["novel_combination"]) and not any(corpus["dev"]["novel_combination"])


def test_audio_is_16khz_speech_with_recorded_durations(built):
    _, corpus = built
    for split in SPLITS:
        for row in corpus[split]:
            wave, sample_rate = soundfile.read(io.BytesIO(row["audio"]["bytes"]), dtype="float32")
            assert sample_rate == 16000 and wave.ndim == 1
            assert len(wave) / 16000 == row["duration_s"]
            assert np.sqrt(np.mean(wave**2)) > 0.01
            assert len(row["text"].split()) <= 15 and row["duration_s"] > 0.5


def test_test_speakers_never_occur_in_train(built):
    _, corpus = built
    train_dev = [row for split in ("train", "dev") for row in corpus[split]]
    assert {row["voice"] for row in train_dev} <= set(TRAIN_VOICES)
    assert {row["voice"] for row in corpus["test"]} <= set(TEST_VOICES)
    for key in ("voice", "rate", "pitch"):
        assert {row[key] for row in train_dev}.isdisjoint(row[key] for row in corpus["test"])
    assert set(TRAIN_VOICES).isdisjoint(TEST_VOICES)
    assert set(TRAIN_RATES).isdisjoint(TEST_RATES) and set(TRAIN_PITCHES).isdisjoint(TEST_PITCHES)


def test_manifests_load_with_soundfile_and_carry_fields(built):
    out, corpus = built
    for split in SPLITS:
        lines = (out / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()
        assert len(lines) == SIZES[split]
        for line, row in zip(lines, corpus[split]):
            entry = json.loads(line)
            assert {"id", "audio", "text", "de", "fr", "duration_s"} <= set(entry)
            assert (entry["id"], entry["text"], entry["de"], entry["fr"]) == (row["id"], row["text"], row["de"],
                                                                              row["fr"])
            info = soundfile.info(str(out / entry["audio"]))
            assert info.samplerate == 16000 and info.frames / 16000 == entry["duration_s"]
            assert (out / entry["audio"]).read_bytes() == row["audio"]["bytes"]


def test_units_manifest_reader_reads_the_jsonl_manifests(built):
    from units.audio import load_audio
    from units.corpus.manifests import read_manifest

    out, corpus = built
    items = list(read_manifest(out / "test.jsonl"))
    assert [item.id for item in items] == corpus["test"]["id"]
    assert [item.fields["de"] for item in items] == corpus["test"]["de"]
    assert [item.duration_s for item in items] == corpus["test"]["duration_s"]
    for item, row in zip(items[:3], corpus["test"]):
        wave = load_audio(item.source)
        assert len(wave) / 16000 == item.duration_s
        assert np.array_equal(wave, load_audio(row["audio"]))


# --- split rules at a larger scale, on the plan (no audio needed) ------------------------------------

_DETERMINERS = {"the", "a", "an"} | {words[0] for words in NUMBERS.values()}
_NOUN_FORMS = {form: key for key, noun in NOUNS.items() for form in (noun.en, noun.en_pl)}
_ADJ_FORMS = {adjective.en: key for key, adjective in ADJECTIVES.items()}
_VERB_FORMS = {form: key for table in (TRANSITIVE, GIVE_VERBS) for key, verb in table.items()
               for form in (verb.en, verb.en_3sg)}


def _combinations_in_english(text: str) -> set[tuple[str, str, str]]:
    """(adjective, noun) and (verb, object) pairs read off the English text alone."""
    words = re.findall(r"[a-z]+", text.lower())
    found = set()
    for i, word in enumerate(words[:-1]):
        if word in _ADJ_FORMS and words[i + 1] in _NOUN_FORMS:
            found.add(("adj", _ADJ_FORMS[word], _NOUN_FORMS[words[i + 1]]))
        if word in ("is", "are") and words[i + 1] in _ADJ_FORMS and words[i - 1] in _NOUN_FORMS:
            found.add(("adj", _ADJ_FORMS[words[i + 1]], _NOUN_FORMS[words[i - 1]]))
        if word in _VERB_FORMS and words[i + 1] in _DETERMINERS:
            j = i + 2 + (words[i + 2] in _ADJ_FORMS)
            if j < len(words) and words[j] in _NOUN_FORMS:
                found.add(("verb", _VERB_FORMS[word], _NOUN_FORMS[words[j]]))
    return found


@pytest.fixture(scope="module")
def plan():
    return plan_corpus(n_train=1500, n_dev=100, n_test=200, seed=SEED)


def test_no_sentence_is_repeated_across_splits(plan):
    texts = [u.text for split in SPLITS for u in plan[split]]
    assert len(texts) == len(set(texts)) == 1800


def test_novel_test_items_hold_combinations_never_seen_in_train(plan):
    train_seen = set().union(*(_combinations_in_english(u.text) for u in plan["train"] + plan["dev"]))
    assert len(train_seen) > 300 and train_seen.isdisjoint(held_out_combinations(SEED))
    novel = [u for u in plan["test"] if u.novel_combination]
    assert len(novel) == 100
    for utterance in novel:
        assert _combinations_in_english(utterance.text) - train_seen, utterance.text


def test_plan_is_deterministic_and_seed_dependent(plan):
    again = plan_corpus(n_train=1500, n_dev=100, n_test=200, seed=SEED)
    assert again == plan
    other = plan_corpus(n_train=50, n_dev=0, n_test=0, seed=SEED + 1)
    assert [u.text for u in other["train"]] != [u.text for u in plan["train"][:50]]


@pytest.mark.integration
def test_cli_builds_a_few_hundred_utterances(tmp_path, capsys):
    from spire.cli import main

    code = main(["mini", "corpus", "--out", str(tmp_path), "--train", "240", "--dev", "30", "--test", "30",
                 "--seed", "0", "--no-progress"])
    assert code == 0
    assert "x real time" in capsys.readouterr().out
    counts = {split: len((tmp_path / f"{split}.jsonl").read_text().splitlines()) for split in SPLITS}
    assert counts == {"train": 240, "dev": 30, "test": 30}
    assert len(list((tmp_path / "audio").rglob("*.flac"))) == 300


def test_docstring_examples_run():
    import doctest

    from spire.mini import corpus

    result = doctest.testmod(corpus)
    assert result.attempted > 0 and result.failed == 0


def test_cli_maps_bad_sizes_to_exit_code_2(tmp_path, capsys):
    from spire.cli import main

    code = main(["mini", "corpus", "--out", str(tmp_path), "--train", "-1", "--no-progress"])
    assert code == 2
    assert "n_train must be a non-negative integer" in capsys.readouterr().err
    assert not (tmp_path / "dataset").exists()
