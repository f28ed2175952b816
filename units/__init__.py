"""units: speech -> self-supervised features -> k-means -> deduplicated discrete units.

A standalone package (it never imports `spire`). Heavy modules load on first use, so
`import units` is instant.

>>> import units
>>> units.ids_to_text([0, 1])
'\\U000f0000\\U000f0001'
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    # errors
    "UnitsError": "units.errors",
    "AudioError": "units.errors",
    "UnitFormatError": "units.errors",
    "QuantizerMismatchError": "units.errors",
    "ModelFormatError": "units.errors",
    "ManifestError": "units.errors",
    "UntrustedFileError": "units.errors",
    # audio
    "load_audio": "units.audio",
    "describe_source": "units.audio",
    # encoding
    "PUA_OFFSET": "units.encoding",
    "UNIT_FORMATS": "units.encoding",
    "unit_strings": "units.encoding",
    "dedup": "units.encoding",
    "ids_to_text": "units.encoding",
    "text_to_ids": "units.encoding",
    # featurizers
    "Featurizer": "units.features.base",
    "SSLFeaturizer": "units.features.ssl_featurizer",
    "MfccFeaturizer": "units.features.mfcc",
    "load_featurizer": "units.features.registry",
    "VtlnCodebook": "units.features.vtln",
    "fit_vtln": "units.features.vtln_fit",
    # k-means
    "KMeansQuantizer": "units.kmeans.quantizer",
    # extractor
    "UnitExtractor": "units.extractor",
    "UnitSequence": "units.extractor",
    # corpus scale
    "read_manifest": "units.corpus.manifests",
    "AudioItem": "units.corpus.manifests",
    "sample_features": "units.corpus.sampling",
    "label_corpus": "units.corpus.labelling",
    "LabelSummary": "units.corpus.labelling",
    "read_labelled": "units.corpus.results",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'units' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
