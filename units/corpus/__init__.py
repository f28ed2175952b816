"""Corpus scale: manifests (JSONL / TSV / folders / saved datasets) with stable ids, audio loading
for them, frame sampling for k-means, and sharded, resumable labelling with its output reader.

>>> from units.corpus import shard_range
>>> shard_range(10, num_shards=2, shard_index=1)
range(5, 10)
"""

from __future__ import annotations

from units._lazy import lazy_getattr

_EXPORTS = {
    "AudioItem": "units.corpus.manifests",
    "read_manifest": "units.corpus.manifests",
    "count_items": "units.corpus.manifests",
    "SampleConfig": "units.corpus.sampling",
    "sample_features": "units.corpus.sampling",
    "LabelConfig": "units.corpus.labelling",
    "LabelSummary": "units.corpus.labelling",
    "label_corpus": "units.corpus.labelling",
    "read_labelled": "units.corpus.results",
    "labelled_files": "units.corpus.results",
    "shard_range": "units.corpus.shards",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_getattr(__name__, _EXPORTS)
