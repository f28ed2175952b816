"""Fixtures of the corpus tests: a k-means model over MFCC frames, built once per session.

The helpers shared by several test modules (tiny corpora, the labeller run as a real process)
live in `labelling_helpers.py`, importable because this folder is put on the path here.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture(scope="session")
def kmeans_dir(tmp_path_factory) -> Path:
    from units.features.mfcc import MfccFeaturizer
    from units.kmeans.quantizer import KMeansQuantizer
    from units.testing import tone_speech

    featurizer = MfccFeaturizer()
    frames = featurizer.featurize([tone_speech(3.0, seed=123)])[0].numpy()
    centroids = frames[np.random.default_rng(0).choice(len(frames), 12, replace=False)]
    folder = tmp_path_factory.mktemp("kmeans")
    KMeansQuantizer(centroids, {"provenance": featurizer.provenance()}).save_pretrained(folder)
    return folder
