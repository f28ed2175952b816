"""Dense featurizers: audio -> (frames, dim) features. One module per kind (`ssl_featurizer`:
a pretrained encoder cut at a layer; `mfcc`: no weights; `vtln`: frequency warps for MFCC), the
encoder families they wrap (`encoders`), and `registry`, which maps a saved kind to its class.

>>> from units.features import MfccFeaturizer
>>> MfccFeaturizer().frame_rate_hz
100.0
"""

from __future__ import annotations

from units._lazy import lazy_getattr

_EXPORTS = {
    "Featurizer": "units.features.base",
    "FeaturizerConfigError": "units.features.base",
    "load_featurizer": "units.features.registry",
    "SSLFeaturizer": "units.features.ssl_featurizer",
    "MfccFeaturizer": "units.features.mfcc",
    "VtlnCodebook": "units.features.vtln",
    "fit_vtln": "units.features.vtln_fit",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_getattr(__name__, _EXPORTS)
