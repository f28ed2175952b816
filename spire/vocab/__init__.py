"""The vocabulary side: unit tokens added to the LLM's tokenizer and embeddings (`extend`), the
new rows' initialisation (`embeddings`), and the unit metadata a model carries (`metadata`).

>>> from spire.vocab import unit_strings
>>> len(unit_strings(3))
3
"""

from __future__ import annotations

from units._lazy import lazy_getattr

_EXPORTS = {
    "extend_model": "spire.vocab.extend",
    "ExtendResult": "spire.vocab.extend",
    "unit_strings": "spire.vocab.extend",
    "check_unit_vocab": "spire.vocab.extend",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_getattr(__name__, _EXPORTS)
