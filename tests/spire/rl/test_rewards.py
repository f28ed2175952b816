"""Rewards: the toolkit's metrics on one sentence, scaled so that higher is better, matched to the
references row by row, and refused when not finite."""

import math

import pytest

from spire.rl.config import RewardConfig
from spire.rl.rewards import TaskReward, reward_functions, sentence_reward
from spire.training.guards import NonFiniteError


def test_a_perfect_transcript_gets_zero_the_highest_asr_reward():
    assert sentence_reward("wer", "Mr. Smith paid $20.", "mister smith paid twenty dollars") == 0.0
    worse = [sentence_reward("wer", h, "the cat sat on the mat")
             for h in ("the cat sat on mat", "the cat sat on on the mat", "a dog", "")]
    assert all(value < 0.0 for value in worse)
    assert worse[0] == pytest.approx(-1 / 6)  # one deletion over six words
    assert worse[1] == pytest.approx(-1 / 6)  # one insertion
    assert worse[3] == pytest.approx(-1.0)  # everything deleted


def test_hallucinated_continuations_cost_in_proportion_to_their_length():
    reference = "the cat sat on the mat"
    short = sentence_reward("wer", reference + " and then", reference)
    long = sentence_reward("wer", reference + " and then it ran away to the river", reference)
    assert short == pytest.approx(-2 / 6) and long == pytest.approx(-8 / 6) and long < -1.0


def test_translation_rewards_are_chrf_or_bleu_over_100():
    assert sentence_reward("chrf", "Das kleine Haus", "Das kleine Haus") == pytest.approx(1.0)
    assert sentence_reward("chrf", "ab", "ac") == pytest.approx(0.25)
    assert sentence_reward("bleu", "the cat sat on the mat", "the cat sat on the mat") == pytest.approx(1.0)
    assert sentence_reward("cer", "sitting", "kitten") == pytest.approx(-0.5)
    close = sentence_reward("chrf", "Das kleine Haus am Fluss", "Das kleine Haus an dem Fluss")
    far = sentence_reward("chrf", "Musik Wasser Morgen", "Das kleine Haus an dem Fluss")
    assert 0.0 < far < close < 1.0


def test_each_reward_scores_its_own_rows_against_their_references():
    asr, st, mt = reward_functions(RewardConfig())
    columns = {"prompts": ["p0", "p1", "p2", "p3"], "reference": ["a b c", "Haus", "a b c", "maison"],
               "kind": ["asr", "st", "asr", "mt"], "language": ["en", "de", "en", "fr"]}
    completions = ["a b c", "Haus", "a x c", "maison"]
    assert asr(completions=completions, **columns) == [0.0, None, pytest.approx(-1 / 3), None]
    assert st(completions=completions, **columns) == [None, pytest.approx(1.0), None, None]
    assert mt(completions=completions, **columns) == [None, None, None, pytest.approx(1.0)]
    assert [f.__name__ for f in (asr, st, mt)] == ["asr_wer", "st_chrf", "mt_chrf"]
    # Conversational completions (a list of messages) are scored on the answer's text.
    assert asr(completions=[[{"role": "assistant", "content": "a b c"}]], prompts=["p"], reference=["a b c"],
               kind=["asr"], language=["en"]) == [0.0]


def test_metric_names_follow_the_config():
    names = [f.__name__ for f in reward_functions(RewardConfig(asr="cer", st="bleu", mt="chrf"))]
    assert names == ["asr_cer", "st_bleu", "mt_chrf"]


def test_a_non_finite_reward_stops_the_run():
    # A reference that normalises to nothing has no WER: any answer would score -inf.
    assert math.isinf(sentence_reward("wer", "hello", "uh hmm"))  # fillers are dropped by the normaliser
    with pytest.raises(NonFiniteError, match="asr_wer reward must be finite"):
        TaskReward("asr", "wer")(prompts=["p"], completions=["hello"], reference=["uh hmm"], kind=["asr"],
                                 language=["en"])
