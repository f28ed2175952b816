"""Verifiable rewards: each sampled answer scored against its prompt's reference with the toolkit's
own metrics (`spire.evaluation.metrics`), so RL optimises what the evaluation reports.

    asr: -WER (after Whisper's English normaliser) as a fraction: 0 for a perfect transcript
    st, mt: sentence chrF / 100 (or BLEU / 100)

One reward function per task kind; it scores the rows of its kind and returns None for the
others (TRL then sums the one score each row has). A non-finite reward stops the run.

>>> sentence_reward("wer", "the cat sat", "The cat sat.")
0.0
>>> round(sentence_reward("wer", "the cat sat on on the mat", "the cat sat on the mat"), 4)  # 1 insertion / 6
-0.1667
>>> sentence_reward("chrf", "ab", "ac")
0.25
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from spire.errors import ConfigError
from spire.rl.config import RewardConfig
from spire.training.guards import NonFiniteError

__all__ = ["METRICS", "TaskReward", "reward_functions", "sentence_reward"]

#: Metric name -> (function name in spire.evaluation.metrics, sign): error rates are negated.
METRICS = {"wer": ("wer", -1.0), "cer": ("cer", -1.0), "chrf": ("chrf", 1.0), "bleu": ("bleu", 1.0)}


def sentence_reward(metric: str, hypothesis: str, reference: str, *, language: str | None = None) -> float:
    """One answer's reward: the metric on this one sentence, / 100, negated for error rates.

    >>> sentence_reward("cer", "sitting", "kitten")
    -0.5
    """
    from spire.evaluation import metrics

    if metric not in METRICS:
        raise ConfigError("rewards", f"a metric must be one of {sorted(METRICS)}, but is {metric!r}")
    name, sign = METRICS[metric]
    hypotheses, references = [hypothesis.strip()], [reference]
    if name == "bleu":
        score = metrics.bleu(hypotheses, references, language=language)
    elif name == "chrf":
        score = metrics.chrf(hypotheses, references)
    else:
        score = getattr(metrics, name)(hypotheses, references)
    return sign * score.value / 100.0 + 0.0  # + 0.0: a perfect transcript scores 0.0, not -0.0


class TaskReward:
    """A TRL reward function for one task kind ("asr", "st" or "mt") scored with `metric`.

    TRL calls it with the sampled answers and the dataset's columns, row by row in the same
    order (`reference`, `kind`, `language` come from `spire.rl.data.prompt_dataset`).

    >>> reward = TaskReward("asr", "wer")
    >>> reward(prompts=["p", "q"], completions=["a b", "x"], reference=["a b", "y"], kind=["asr", "mt"],
    ...        language=["en", "de"])
    [0.0, None]
    >>> reward.__name__
    'asr_wer'
    """

    def __init__(self, kind: str, metric: str) -> None:
        self.kind = kind
        self.metric = metric
        self.__name__ = f"{kind}_{metric}"  # the name TRL logs the mean reward under

    def __call__(self, *, prompts: Sequence[Any], completions: Sequence[Any], reference: Sequence[str],
                 kind: Sequence[str], language: Sequence[str], **_: Any) -> list[float | None]:
        from spire.prompts import resolve_language

        rewards: list[float | None] = []
        for index, (completion, ref, row_kind, code) in enumerate(zip(completions, reference, kind, language)):
            if row_kind != self.kind:
                rewards.append(None)
                continue
            text = completion if isinstance(completion, str) else completion[-1]["content"]
            value = sentence_reward(self.metric, text, ref, language=resolve_language(code))
            if not math.isfinite(value):
                raise NonFiniteError(
                    f"the {self.__name__} reward must be finite, but is {value} for the answer {text[:80]!r} to the "
                    f"reference {ref[:80]!r} (row {index} of the batch); fix: drop prompts whose reference is empty "
                    "after normalisation (spire.rl.data does so for ASR)"
                )
            rewards.append(value)
        return rewards


def reward_functions(config: RewardConfig) -> list[TaskReward]:
    """The reward functions of the three task kinds with the configured metrics.

    >>> [f.__name__ for f in reward_functions(RewardConfig())]
    ['asr_wer', 'st_chrf', 'mt_chrf']
    """
    return [TaskReward("asr", config.asr), TaskReward("st", config.st), TaskReward("mt", config.mt)]
