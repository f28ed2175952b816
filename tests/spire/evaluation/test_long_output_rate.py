"""`long_output_rate`: the share of outputs much longer than their reference (insertions)."""

import doctest

import pytest

from spire.errors import DataError
from spire.evaluation import long_output_rate, metrics


def test_counts_outputs_over_the_ratio_only():
    refs = ["the red dog sleeps", "the red dog sleeps", "a cat", "a cat"]
    hyps = ["the red dog sleeps at home", "the red dog sleeps at the station", "a cat sat", "a"]
    score = long_output_rate(hyps, refs)
    # 6 words is exactly 1.5x 4 (not over); 7 > 6 and 3 <= 3: one long output in four.
    assert score.value == 25.0
    assert score.details == {"long_outputs": 1, "outputs": 4, "ratio": 1.5}
    assert score.name == "long_output_rate" and "1.5x" in score.signature


def test_ratio_and_normalizer_change_the_count():
    assert long_output_rate(["a b c"], ["a b"], ratio=1.0).value == 100.0
    assert long_output_rate(["a b c"], ["a b"], ratio=2.0).value == 0.0
    # The normalizer spells "$20" as two words ("20 dollars"): raw, one word against two.
    assert long_output_rate(["paid 20 dollars"], ["paid $20"], ratio=1.0).value == 0.0
    assert long_output_rate(["paid 20 dollars"], ["paid $20"], ratio=1.0, normalize=False).value == 100.0


def test_an_empty_reference_makes_any_output_long():
    assert long_output_rate(["hello", ""], ["", ""]).value == 50.0


def test_bad_inputs_raise_data_errors_naming_the_parameter():
    with pytest.raises(DataError, match="parallel lists"):
        long_output_rate(["a"], ["a", "b"])
    with pytest.raises(DataError, match="ratio must be positive"):
        long_output_rate(["a"], ["a"], ratio=0)


def test_docstring_example_runs():
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    for test in finder.find(metrics.long_output_rate, "long_output_rate", globs=vars(metrics)):
        runner.run(test)
    assert runner.tries > 0 and runner.failures == 0
