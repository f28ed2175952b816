"""The vocabulary side: unit tokens added to the LLM's tokenizer and embeddings (`extend`), the
new rows' initialisation (`embeddings`), the unit metadata a model carries (`metadata`:
`UnitVocab`, one typed record read by every stage), where unit tokens sit in a tokenizer
(`tokens`), the model ↔ extractor pairing (`pairing`), and saved folders that transformers 4.x and 5.x
both load, with spire's chat template (`saving`).

>>> from spire.vocab import UnitVocab, unit_strings
>>> len(unit_strings(3))
3
>>> UnitVocab(num_units=3, first_unit_id=10, first_new_id=5).unit_id(1)
11
"""

from __future__ import annotations

from units._lazy import lazy_getattr

_EXPORTS = {
    "extend_model": "spire.vocab.extend",
    "ExtendResult": "spire.vocab.extend",
    "unit_strings": "spire.vocab.extend",
    "check_unit_vocab": "spire.vocab.tokens",
    "UnitVocab": "spire.vocab.metadata",
    "ExtractorMismatchError": "spire.vocab.pairing",
    "copy_extractor": "spire.vocab.pairing",
    "render_chat": "spire.vocab.saving",
    "set_chat_template": "spire.vocab.saving",
    "write_compatible_files": "spire.vocab.saving",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_getattr(__name__, _EXPORTS)
