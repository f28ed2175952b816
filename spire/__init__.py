"""spire: teach a text-only LLM to understand speech (the SPIRE recipe).

Speech becomes discrete units (see the sibling package `units`), units become tokens of the
LLM, and the LLM is trained on them in two stages: continued pretraining, then instruction
tuning. Heavy modules are imported on first use, so `import spire` is instant.
"""

from __future__ import annotations

from units._lazy import lazy_getattr

__version__ = "0.1.0"

_EXPORTS = {
    # errors
    "SpireError": "spire.errors",
    "ConfigError": "spire.errors",
    "VocabularyError": "spire.errors",
    "DataError": "spire.errors",
    "LanguageError": "spire.errors",
    # vocabulary extension
    "extend_model": "spire.vocab.extend",
    "ExtendResult": "spire.vocab.extend",
    # prompts
    "LANGUAGES": "spire.prompts",
    # data
    "CptDataConfig": "spire.data.cpt",
    "build_cpt": "spire.data.cpt",
    "ItDataConfig": "spire.data.instructions",
    "build_it": "spire.data.instructions",
    # training
    "TrainConfig": "spire.training.config",
    "train": "spire.training.recipe",
    # inference and evaluation
    "SpireModel": "spire.inference.model",
    "SpireResult": "spire.inference.model",
    "DecodingSettings": "spire.inference.generation",
    "EvalReport": "spire.evaluation.report",
    "evaluate": "spire.evaluation.evaluator",
    "wer": "spire.evaluation.metrics",
    "cer": "spire.evaluation.metrics",
    "bleu": "spire.evaluation.metrics",
    "chrf": "spire.evaluation.metrics",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_getattr(__name__, _EXPORTS)
