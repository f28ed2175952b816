"""K-means over frame features: the quantizer (assignment), fitting (faiss / numpy), our own safe
file format (`io`: safetensors centroids + JSON with a checksum; sklearn pickles only on opt-in),
and `report` (a fit with its cluster-usage report).

>>> from units.kmeans import KMeansQuantizer
>>> import numpy as np
>>> KMeansQuantizer(np.eye(3, dtype=np.float32)).k
3
"""

from __future__ import annotations

from units._lazy import lazy_getattr

_EXPORTS = {
    "KMeansQuantizer": "units.kmeans.quantizer",
    "cluster_usage": "units.kmeans.quantizer",
    "train_centroids": "units.kmeans.fitting",
    "FitConfig": "units.kmeans.report",
    "fit_with_report": "units.kmeans.report",
    "FitReport": "units.kmeans.report",
    "KMeansFit": "units.kmeans.report",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_getattr(__name__, _EXPORTS)
