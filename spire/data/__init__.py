"""Training data for the two stages: continued pretraining (CPT) and instruction tuning (IT).

Both builders stream their sources, tokenize with the extended model's tokenizer, pack into
fixed-length rows (`input_ids`, `labels` with -100 where no loss, `position_ids` restarting at
each document) and account for every input row in a `BuildSummary`.

>>> from spire.data import CptDataConfig
>>> CptDataConfig(tokenizer="runs/ext").seq_len
2048
"""

from __future__ import annotations

from units._lazy import lazy_getattr

_EXPORTS = {
    "CptDataConfig": "spire.data.cpt",
    "build_cpt": "spire.data.cpt",
    "ItDataConfig": "spire.data.instructions",
    "build_it": "spire.data.instructions",
    "BuildSummary": "spire.data.output",
    "SpeechSource": "spire.data.sources",
    "ParallelSource": "spire.data.sources",
    "TextSource": "spire.data.sources",
    "pack_examples": "spire.data.packing",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_getattr(__name__, _EXPORTS)
