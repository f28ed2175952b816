"""Fit k-means on a feature sample and report how well it fits (`spire units fit-kmeans`).

A seeded fraction of the frames is held out: the report gives the mean squared distance to the
nearest centroid on the held-out frames (and on the training frames, to see over-fitting), and
cluster usage (clusters used, perplexity of the assignment counts) on all frames.

>>> import numpy as np
>>> x = np.random.default_rng(0).normal(size=(400, 4)).astype(np.float32)
>>> fit = fit_with_report(x, FitConfig(k=4, niter=5))
>>> fit.quantizer.k, fit.report.heldout_frames
(4, 20)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from units.errors import UnitsError

if TYPE_CHECKING:
    from units.kmeans.quantizer import KMeansQuantizer


@dataclass(frozen=True, kw_only=True)
class FitConfig:
    """Settings of `fit_with_report`; defaults are the SPIRE settings where they exist."""

    k: int = 5000
    """Number of clusters (SPIRE: 5000)."""
    niter: int = 25
    """Lloyd iterations."""
    seed: int = 0
    """Seed of the held-out split and of the k-means initialisation."""
    init: str = "kmeans++"
    """"kmeans++" or "random" seeding."""
    heldout_fraction: float = 0.05
    """Fraction of frames kept out of training to measure inertia on unseen frames."""
    max_points_per_centroid: int = 256
    """faiss subsamples to k x this many training frames."""
    gpu: bool | None = None
    """faiss on GPU: None = when faiss sees one."""


@dataclass(frozen=True, kw_only=True)
class FitReport:
    """How well a k-means fits its frames; `to_dict()` is what `fit_report.json` holds.

    >>> report = FitReport(k=2, dim=3, train_frames=9, heldout_frames=1, train_inertia_per_frame=0.5,
    ...     heldout_inertia_per_frame=0.7, clusters_used=2, perplexity=1.9, checksum="ab", config=FitConfig(k=2))
    >>> report.to_dict()["config"]["k"], FitReport.from_dict(report.to_dict()) == report
    (2, True)
    """

    k: int
    """Clusters fitted."""
    dim: int
    """Feature dimension."""
    train_frames: int
    """Frames the centroids were trained on."""
    heldout_frames: int
    """Frames kept out of training."""
    train_inertia_per_frame: float
    """Mean squared distance of a training frame to its nearest centroid."""
    heldout_inertia_per_frame: float | None
    """The same on the held-out frames (None when none were held out)."""
    clusters_used: int
    """Clusters that at least one frame (training or held-out) is assigned to."""
    perplexity: float
    """exp(entropy) of the cluster counts over all frames (k when perfectly even)."""
    checksum: str
    """sha256 of the centroids, as the saved quantizer records it."""
    config: FitConfig
    """The settings of the fit."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the config as a dict too), in field order."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FitReport:
        """The report back from `to_dict()` output, e.g. a `fit_report.json` (other keys ignored)."""
        names = [name for name in cls.__dataclass_fields__ if name != "config"]
        missing = [name for name in [*names, "config"] if name not in data]
        if missing:
            raise UnitsError(
                f"data must hold the fit report fields {missing}, but does not; fix: pass what "
                "FitReport.to_dict() returned"
            )
        try:
            config = FitConfig(**data["config"])
        except TypeError as e:
            raise UnitsError(
                f"data['config'] must hold FitConfig fields, but does not ({e}); fix: pass what "
                "FitReport.to_dict() returned"
            ) from e
        return cls(**{name: data[name] for name in names}, config=config)

    def describe(self) -> str:
        """One human line per number of the report."""
        heldout = self.heldout_inertia_per_frame
        held = f"{heldout:.6g} ({self.heldout_frames} frames)" if heldout is not None else "n/a"
        return "\n".join(
            [
                f"k-means: k={self.k} dim={self.dim} on {self.train_frames} frames",
                f"inertia per frame: train {self.train_inertia_per_frame:.6g}, held-out {held}",
                f"clusters used: {self.clusters_used} of {self.k}; perplexity {self.perplexity:.1f}",
            ]
        )


@dataclass(frozen=True)
class KMeansFit:
    """What `fit_with_report` returns: the fitted quantizer and its report.

    >>> fit = fit_with_report(x, FitConfig(k=4, niter=5))  # doctest: +SKIP
    >>> fit.quantizer.save_pretrained("km/"); fit.report.perplexity  # doctest: +SKIP
    """

    quantizer: KMeansQuantizer
    """The fitted quantizer (trained on all but the held-out frames)."""
    report: FitReport
    """How well it fits."""


def fit_with_report(
    features: np.ndarray,
    config: FitConfig,
    *,
    provenance: dict[str, Any] | None = None,
    progress: bool = True,
) -> KMeansFit:
    """Fit a `KMeansQuantizer` on all but the held-out frames; return it with its report.

    `progress` shows the seeding and iteration bars (stderr); it never changes the centroids.
    """
    from units.kmeans.quantizer import KMeansQuantizer, cluster_usage

    features = np.asarray(features, dtype=np.float32)
    if not 0.0 <= config.heldout_fraction < 1.0:
        raise UnitsError(
            f"heldout_fraction must be in [0, 1), but is {config.heldout_fraction}; fix: pass e.g. 0.05"
        )
    n = len(features)
    order = np.random.default_rng(config.seed).permutation(n)
    n_heldout = int(round(n * config.heldout_fraction))
    heldout, train = features[order[:n_heldout]], features[order[n_heldout:]]
    if len(train) < config.k:
        raise UnitsError(
            f"k-means needs at least k={config.k} training frames, but has {len(train)}; fix: "
            "sample more frames or lower k"
        )
    quantizer = KMeansQuantizer.fit(
        train,
        config.k,
        niter=config.niter,
        seed=config.seed,
        init=config.init,
        gpu=config.gpu,
        provenance=provenance,
        max_points_per_centroid=config.max_points_per_centroid,
        progress=progress,
    )
    usage = cluster_usage(quantizer.assign(features), quantizer.k)
    report = FitReport(
        k=quantizer.k,
        dim=quantizer.dim,
        train_frames=int(len(train)),
        heldout_frames=int(n_heldout),
        train_inertia_per_frame=quantizer.inertia(train) / max(len(train), 1),
        heldout_inertia_per_frame=(quantizer.inertia(heldout) / n_heldout) if n_heldout else None,
        clusters_used=usage.used,
        perplexity=usage.perplexity,
        checksum=quantizer.checksum,
        config=config,
    )
    return KMeansFit(quantizer, report)


def describe_report(report: FitReport) -> str:
    """One human line per number of the report (`report.describe()`)."""
    return report.describe()
