"""The offline miniature: synthetic speech (espeak-ng), a tiny base LLM, and `spire demo`.

>>> from spire.mini import plan_corpus
>>> len(plan_corpus(n_train=2, n_dev=1, n_test=1, seed=0)["train"])
2
"""

from __future__ import annotations

from units._lazy import lazy_getattr

_EXPORTS = {
    "synthesize": "spire.mini.tts",
    "plan_corpus": "spire.mini.corpus",
    "build_corpus": "spire.mini.corpus",
    "realize": "spire.mini.grammar",
    "DemoConfig": "spire.mini.config",
    "SynthesisError": "spire.mini.errors",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_getattr(__name__, _EXPORTS)
