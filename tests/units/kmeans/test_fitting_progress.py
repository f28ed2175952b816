"""k-means fitting shows its progress, and the bars never change the centroids."""

import numpy as np
import pytest

from units.kmeans.quantizer import KMeansQuantizer
from units.kmeans.report import FitConfig, fit_with_report


def _points(n: int, dim: int, seed: int = 0, duplicated: float = 0.0) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    x[: int(n * duplicated)] = x[0]  # many equal rows: faiss must split empty clusters
    return x


@pytest.mark.parametrize(
    "n,dim,k,kwargs",
    [
        (3000, 8, 16, {}),
        (3000, 4, 40, {"init": "random"}),
        (6000, 6, 20, {"max_points_per_centroid": 50}),  # faiss trains on a seeded subsample
        (1500, 8, 120, {"duplicated": 0.5}),
    ],
)
def test_same_centroids_with_and_without_progress(n, dim, k, kwargs):
    x = _points(n, dim, duplicated=kwargs.pop("duplicated", 0.0))
    quiet = KMeansQuantizer.fit(x, k, niter=12, seed=3, **kwargs)
    shown = KMeansQuantizer.fit(x, k, niter=12, seed=3, progress=True, **kwargs)
    assert quiet.checksum == shown.checksum
    assert quiet.metadata["training"]["mean_sq_distance"] == shown.metadata["training"]["mean_sq_distance"]


def test_bars_count_seeding_and_iterations(capsys):
    KMeansQuantizer.fit(_points(2000, 4), 10, niter=7, progress=True)
    err = capsys.readouterr().err
    assert "k-means++ seeding" in err and "10/10" in err
    assert "k-means iterations" in err and "7/7" in err and "objective" in err
    KMeansQuantizer.fit(_points(2000, 4), 10, niter=7)
    assert capsys.readouterr().err == ""


def test_fit_with_report_shows_progress_by_default_and_keeps_the_fit(capsys):
    x = _points(2000, 4)
    shown = fit_with_report(x, FitConfig(k=8, niter=5))
    assert "k-means iterations" in capsys.readouterr().err
    quiet = fit_with_report(x, FitConfig(k=8, niter=5), progress=False)
    assert capsys.readouterr().err == ""
    assert shown.report == quiet.report
