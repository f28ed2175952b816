"""The unseen-accent test split: drawn beside the corpus without changing it, spoken in accents no
other split uses, scored and reported beside the main test split."""

import hashlib
import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from spire.mini.config import DemoConfig
from spire.mini.corpus import (
    ACCENT_SPLIT,
    ACCENT_VOICES,
    SPLITS,
    TEST_PITCHES,
    TEST_RATES,
    TEST_VOICES,
    TRAIN_VOICES,
    build_corpus,
    plan_corpus,
)
from spire.mini.results import CorpusResult, DemoResults, UnitsResult

# sha256 of the train/dev/test plan of seed 0 (50/5/10 utterances) and seed 3 (1500/100/200), as
# the code drew them before the accent split existed: the accent split must not change them.
PLAN_DIGESTS = {(50, 5, 10, 0): "31ada1e7d692b0625e3036fcaa9e5fd790d560870da06da67946c9943645f6e4",
                (1500, 100, 200, 3): "fb6d197c581ea9b27dcf90fe19fdf540c2b86f250d8d703127d16fef147cc2af"}


def _digest(plan):
    digest = hashlib.sha256()
    for split in SPLITS:
        for utterance in plan[split]:
            digest.update(json.dumps(asdict(utterance), sort_keys=True, ensure_ascii=False).encode() + b"\n")
    return digest.hexdigest()


def _accent(voice: str) -> str:
    return voice.split("+")[0]


@pytest.mark.parametrize("sizes", sorted(PLAN_DIGESTS))
def test_train_dev_test_are_those_drawn_before_the_accent_split(sizes):
    for n_test_accents in (0, 7, 200):
        plan = plan_corpus(*sizes, n_test_accents=n_test_accents)
        assert _digest(plan) == PLAN_DIGESTS[sizes]
        assert len(plan[ACCENT_SPLIT]) == n_test_accents
    first = plan_corpus(50, 5, 10, 0)
    assert (first["train"][0].text, first["test"][0].voice) == ("The children are young.", "en-us+f4")


def test_accent_split_has_its_own_accents_sentences_and_stream():
    plan = plan_corpus(1500, 100, 200, 3, n_test_accents=200)
    accents = plan[ACCENT_SPLIT]
    used = {_accent(u.voice) for split in SPLITS for u in plan[split]}
    assert used == {"en-us", "en", "en-gb-x-rp"}
    assert {_accent(v) for v in TRAIN_VOICES + TEST_VOICES}.isdisjoint(_accent(v) for v in ACCENT_VOICES)
    assert {u.voice for u in accents} == set(ACCENT_VOICES)  # 200 draws reach all 8 voices
    assert {u.rate for u in accents} <= set(TEST_RATES) and {u.pitch for u in accents} <= set(TEST_PITCHES)
    texts = [u.text for u in accents]
    assert len(set(texts)) == 200 and set(texts).isdisjoint(u.text for split in SPLITS for u in plan[split])
    assert sum(u.novel_combination for u in accents) == 100 and all(u.novel_combination for u in accents[:100])
    assert all(u.id.startswith(f"{ACCENT_SPLIT}-") for u in accents)
    # Its own stream: a longer split starts as the shorter one (up to the shorter one's novel
    # items: the novel share is of each size), and the seed changes it.
    assert plan_corpus(1500, 100, 200, 3, n_test_accents=20)[ACCENT_SPLIT][:10] == accents[:10]
    assert plan_corpus(1500, 100, 200, 4, n_test_accents=20)[ACCENT_SPLIT][:10] != accents[:10]


def test_the_recipes_ask_for_the_split():
    assert (DemoConfig.load().n_test_accents, DemoConfig.quick().n_test_accents) == (200, 20)
    assert DemoConfig.load(overrides=["n_test_accents=0"]).n_test_accents == 0


def test_bad_accent_size_is_a_data_error():
    from spire.errors import DataError

    with pytest.raises(DataError, match="n_test_accents must be a non-negative integer"):
        plan_corpus(2, 0, 1, 0, n_test_accents=-1)


def test_accent_voices_exist_and_differ_from_the_training_accents():
    from spire.mini.tts import synthesize

    text = "the old doctor washes the red egg"
    for voice in ACCENT_VOICES:
        variant = voice.split("+")[1]
        wave = synthesize(text, voice=voice, rate=175, pitch=52)
        assert len(wave) > 16000 * 0.5 and np.sqrt(np.mean(wave**2)) > 0.01
        for seen in ("en", "en-us", "en-gb-x-rp"):  # espeak-ng must not fall back to a known accent
            other = synthesize(text, voice=f"{seen}+{variant}", rate=175, pitch=52)
            assert len(other) != len(wave) or not np.array_equal(other, wave), (voice, seen)


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def corpora(tmp_path_factory):
    plain, accents = tmp_path_factory.mktemp("plain"), tmp_path_factory.mktemp("accents")
    build_corpus(plain, 8, 2, 4, 5, num_workers=1)
    corpus = build_corpus(accents, 8, 2, 4, 5, num_workers=1, n_test_accents=6)
    return plain, accents, corpus


def test_building_the_accent_split_leaves_the_other_files_byte_identical(corpora):
    plain, accents, corpus = corpora
    before, after = _files(plain), _files(accents)
    changed = sorted(name for name in before if before[name] != after.get(name))
    assert changed == ["corpus.json", "dataset/dataset_dict.json"]  # they list the new split
    added = {name for name in after if name not in before}
    assert f"{ACCENT_SPLIT}.jsonl" in added and len([n for n in added if n.endswith(".flac")]) == 6
    assert "n_test_accents" not in json.loads((plain / "corpus.json").read_text())
    assert len(corpus[ACCENT_SPLIT]) == 6 and set(corpus) == {*SPLITS, ACCENT_SPLIT}


def test_corpus_metadata_lists_the_accent_voices(corpora):
    _, accents, corpus = corpora
    meta = json.loads((accents / "corpus.json").read_text())
    assert meta["n_test_accents"] == 6
    assert meta["speakers"][ACCENT_SPLIT] == {"voices": list(ACCENT_VOICES), "rates": list(TEST_RATES),
                                             "pitches": list(TEST_PITCHES)}
    rows = [json.loads(line) for line in (accents / f"{ACCENT_SPLIT}.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == corpus[ACCENT_SPLIT]["id"]
    assert {r["voice"] for r in rows} <= set(ACCENT_VOICES)
    assert all((accents / r["audio"]).is_file() and r["audio"].startswith(f"audio/{ACCENT_SPLIT}/") for r in rows)


def _result(text, task, language, duration_s=None):
    from spire.inference.generation import DecodingSettings
    from spire.inference.model import SpireResult

    return SpireResult(text=text, task=task, language=language, decoding=DecodingSettings(), duration_s=duration_s)


class _EchoModel:
    """Answers every prompt with its reference, read from the manifests by audio file name; main
    test transcripts get one extra word, accent-split ones five (so that they count as long)."""

    def __init__(self, folder: Path):
        self.rows = {}
        for split in ("test", ACCENT_SPLIT):
            for line in (folder / f"{split}.jsonl").read_text().splitlines():
                row = json.loads(line)
                self.rows[Path(row["audio"]).name] = row

    def _row(self, source):
        return self.rows[Path(str(source)).name]

    def transcribe(self, sources, **_):
        out = []
        for source in sources:
            row = self._row(source)
            extra = " and then some more words" if row["id"].startswith(ACCENT_SPLIT) else " now"
            out.append(_result(row["text"] + extra, "asr", "English", duration_s=row["duration_s"]))
        return out

    def translate(self, sources, to, **_):
        field = {"German": "de", "French": "fr"}.get(to, to)
        return [_result(self._row(s)[field], "st", to) for s in sources]

    def translate_text(self, texts, src, tgt, **_):
        return [_result(t, "mt", tgt) for t in texts]


def test_eval_scores_both_splits_and_the_report_shows_them(corpora, tmp_path, monkeypatch):
    from spire.inference import model as inference_model
    from spire.mini import scoring
    from spire.mini.demo_report import write_report
    from spire.mini.results import BaseModelResult, TrainedModel

    _, folder, _ = corpora
    monkeypatch.setattr(inference_model.SpireModel, "from_pretrained", classmethod(lambda cls, *a, **k: _EchoModel(folder)))
    monkeypatch.setattr(scoring, "translate_with_base", lambda model, texts, src, tgt, **_: list(texts))
    config = DemoConfig.quick(out_dir=str(tmp_path), n_test_accents=6)
    corpus = CorpusResult(folder=folder, utterances={"train": 8, "dev": 2, "test": 4}, audio_hours={"test": 0.01},
                          wall_s=1.0, accent_utterances=6, accent_audio_hours=0.01)
    run = {"rows": 1, "replayed_rows": 0, "train_loss": 1.0, "steps": 1, "tokens_seen": 1, "tokens_per_s": 1.0,
           "wall_s": 1.0, "curve": [[1, 1.0]]}
    base = BaseModelResult(stage="base", **run, folder=tmp_path / "base", data=None, vocab_size=1, parameters=1)
    it = TrainedModel(stage="it", **run, folder=tmp_path / "it")
    result = scoring.stage_eval(config, corpus, base, {"it": it})

    main, accents = result.models["it"], result.splits[ACCENT_SPLIT]["it"]
    assert main["asr"]["wer"] > 0 and main["asr"]["long_output_rate"] == 0.0
    assert set(main) == {"asr", "st_de", "st_fr", "mt_de", "mt_fr"} and set(accents) == {"asr", "st_de", "st_fr"}
    assert accents["asr"]["wer"] > 2 * main["asr"]["wer"] and accents["asr"]["long_output_rate"] > 0
    assert accents["st_de"]["bleu"] == 100.0 and "base" not in result.splits[ACCENT_SPLIT]
    assert sorted(p.name for p in (tmp_path / "eval" / ACCENT_SPLIT / "it").glob("*.md")) == [
        "asr.md", "st_de.md", "st_fr.md"]

    results = DemoResults(corpus=corpus, units=UnitsResult(
        folder=tmp_path / "u", k=10, clusters_used=10, perplexity=9.0, vtln=None, dedup_ratio=0.9, units_per_s=20.0,
        cluster_counts=[1] * 10, wall_s=1.0), eval=result)
    text = write_report(config, results).read_text()
    assert "## Main test split / unseen accents (6 utterances in en-029, en-gb-scotland" in text
    ratio = accents["asr"]["wer"] / main["asr"]["wer"]
    assert f"| CPT + IT (SpireFull) | {main['asr']['wer']:.1f}% / {accents['asr']['wer']:.1f}% ({ratio:.1f}x) |" in text
    assert "| unseen-accent WER <= 2x the main test split's" in text and "| no |" in text
    assert "+ 6 unseen-accent test utterances" in text
    saved = json.loads((tmp_path / "report.json").read_text())
    assert saved["eval"]["models"]["it"]["asr"]["wer"] == main["asr"]["wer"]  # where readers look, as before
    assert saved["eval"]["splits"][ACCENT_SPLIT]["it"]["asr"]["long_output_rate"] > 0
    assert saved["corpus"]["accent_utterances"] == 6
