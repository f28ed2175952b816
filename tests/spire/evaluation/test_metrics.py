"""Metric functions against values computed by hand, and the report they end up in."""

import json
import math
import os

import pytest

from spire.errors import DataError
from spire.evaluation.metrics import MetricUnavailableError, bleu, cer, chrf, comet, wer
from spire.evaluation.report import EvalReport


def test_wer_single_sentence_by_hand():
    # ref: the cat sat on the mat (6 words); hyp: the cat sit on mat → 1 sub (sat/sit), 1 del (the)
    score = wer(["the cat sit on mat"], ["the cat sat on the mat"], normalize=False)
    assert score.value == pytest.approx(100 * 2 / 6)
    assert score.details == {
        "substitutions": 1,
        "deletions": 1,
        "insertions": 0,
        "reference_length": 6,
    }


def test_wer_is_corpus_level_not_mean_of_sentences():
    # sentence 1: 0 errors / 1 word; sentence 2: 1 insertion / 3 words → corpus 1/4, not mean(0, 1/3)
    score = wer(["yes", "a b c d"], ["yes", "a b c"], normalize=False)
    assert score.value == pytest.approx(25.0)
    assert score.details["insertions"] == 1


def test_wer_applies_whisper_normalizer():
    hyps = ["mister smith paid twenty dollars", "it is colour"]
    refs = ["Mr. Smith paid $20.", "It's color!"]
    assert wer(hyps, refs).value == 0.0
    assert wer(hyps, refs, normalize=False).value > 0
    assert "whisper-english-normalizer" in wer(hyps, refs).signature


def test_cer_by_hand():
    # kitten → sitting: k→s, e→i substitutions, g inserted: 3 edits over 6 reference characters
    assert cer(["sitting"], ["kitten"], normalize=False).value == pytest.approx(50.0)
    # spaces count: "ab cd" (5 chars) vs "abcd": one deletion
    assert cer(["abcd"], ["ab cd"], normalize=False).value == pytest.approx(20.0)


def test_empty_hypothesis_is_all_deletions():
    score = wer([""], ["one two three"], normalize=False)
    assert score.value == pytest.approx(100.0)
    assert score.details["deletions"] == 3


def test_bleu_by_hand():
    # clipped n-gram precisions 5/6, 3/5, 2/4, 1/3; equal lengths so BP = 1; BLEU = geometric mean
    expected = 100 * (5 / 6 * 3 / 5 * 2 / 4 * 1 / 3) ** 0.25
    score = bleu(["the cat sat on the mat"], ["the cat sat on a mat"])
    assert score.value == pytest.approx(expected, abs=1e-6)
    assert score.details["brevity_penalty"] == pytest.approx(1.0)
    assert "tok:13a" in score.signature and "version:" in score.signature


def test_bleu_brevity_penalty_by_hand():
    # hyp 4 tokens, ref 6 tokens: all hyp n-grams match, BP = exp(1 - 6/4)
    score = bleu(["the cat sat on"], ["the cat sat on the mat"])
    assert score.value == pytest.approx(100 * math.exp(1 - 6 / 4), abs=1e-6)


def test_bleu_picks_a_tokenizer_for_chinese():
    assert "tok:zh" in bleu(["我爱你"], ["我爱你"], language="Chinese").signature


def test_chrf_by_hand():
    # char unigrams: P = R = 1/2 → F = 1/2; bigrams: no match → 0; no longer n-grams exist
    # (effective order 2) → mean F = 1/4
    assert chrf(["ab"], ["ac"]).value == pytest.approx(25.0)
    assert chrf(["same text"], ["same text"]).value == pytest.approx(100.0)
    assert "nc:6" in chrf(["ab"], ["ac"]).signature
    assert "nw:2" in chrf(["ab"], ["ac"], word_order=2).signature


def test_lengths_must_match():
    with pytest.raises(DataError, match="parallel"):
        wer(["a"], ["a", "b"])


def test_comet_without_model_is_a_clear_error():
    with pytest.raises(MetricUnavailableError, match="local model"):
        comet(["s"], ["h"], ["r"], model_path=None)


def test_report_round_trips_to_json_and_markdown(tmp_path):
    scores = [wer(["a b"], ["a c"], normalize=False), bleu(["a b c d"], ["a b c d"])]
    report = EvalReport(
        task="asr",
        model={"path": "model"},
        data={"path": "data.jsonl", "examples": 1},
        decoding={"num_beams": 1, "max_new_tokens": 256},
        scores=scores,
        examples=[{"hypothesis": "a|b", "reference": "a c"}],
    )
    json_path, md_path = report.save(tmp_path)
    loaded = json.loads(json_path.read_text())
    assert loaded["decoding"] == {"num_beams": 1, "max_new_tokens": 256}
    assert loaded["scores"][0]["value"] == pytest.approx(50.0)
    assert loaded["scores"][1]["signature"] == scores[1].signature
    markdown = md_path.read_text()
    assert "| wer | 50.00 |" in markdown and "num_beams" in markdown and "a\\|b" in markdown


def test_report_replaces_its_files_instead_of_writing_into_them(tmp_path):
    """A copy made with hard links (`cp -al`, how runs are branched) keeps its own report."""
    report = EvalReport(task="asr", model={"path": "m"}, data={"path": "d", "examples": 1},
                        decoding={}, scores=[wer(["a b"], ["a b"], normalize=False)])
    json_path, md_path = report.save(tmp_path / "run")
    copy = tmp_path / "copy"
    copy.mkdir()
    for path in (json_path, md_path):
        os.link(path, copy / path.name)
    before = {path.name: (copy / path.name).read_text() for path in (json_path, md_path)}
    EvalReport(task="asr", model={"path": "other"}, data={"path": "d", "examples": 1},
               decoding={}, scores=[wer(["a b"], ["a c"], normalize=False)]).save(tmp_path / "run")
    assert {name: (copy / name).read_text() for name in before} == before
    assert '"other"' in json_path.read_text()
    assert not [p for p in (tmp_path / "run").iterdir() if p.name.startswith(".tmp-")]
