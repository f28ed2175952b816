"""Scoring: `evaluate` a model on a data set, the metrics (WER after Whisper's English normaliser,
sacreBLEU BLEU / chrF, COMET), and the `EvalReport` written beside every score.

>>> from spire.evaluation import wer
>>> wer(["a b"], ["a c"]).score
50.0
"""

from __future__ import annotations

from units._lazy import lazy_getattr

_EXPORTS = {
    "evaluate": "spire.evaluation.evaluator",
    "read_eval_data": "spire.evaluation.evaluator",
    "EvalReport": "spire.evaluation.report",
    "wer": "spire.evaluation.metrics",
    "cer": "spire.evaluation.metrics",
    "bleu": "spire.evaluation.metrics",
    "chrf": "spire.evaluation.metrics",
    "long_output_rate": "spire.evaluation.metrics",
    "comet": "spire.evaluation.metrics",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_getattr(__name__, _EXPORTS)
