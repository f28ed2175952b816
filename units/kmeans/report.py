"""Fit k-means on a feature sample and report how well it fits (`spire units fit-kmeans`).

A seeded fraction of the frames is held out: the report gives the mean squared distance to the
nearest centroid on the held-out frames (and on the training frames, to see over-fitting), and
cluster usage (clusters used, perplexity of the assignment counts) on all frames.

>>> import numpy as np
>>> x = np.random.default_rng(0).normal(size=(400, 4)).astype(np.float32)
>>> quantizer, report = fit_with_report(x, FitConfig(k=4, niter=5))
>>> report["k"], report["heldout_frames"]
(4, 20)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from units.errors import UnitsError


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


def fit_with_report(
    features: np.ndarray, config: FitConfig, *, provenance: dict[str, Any] | None = None
) -> tuple[Any, dict[str, Any]]:
    """Fit a `KMeansQuantizer` on all but the held-out frames; return it and the report dict."""
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
            "sample more frames (--max-frames/--max-hours) or lower --k"
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
    )
    usage = cluster_usage(quantizer.assign(features), quantizer.k)
    report = {
        "k": quantizer.k,
        "dim": quantizer.dim,
        "train_frames": int(len(train)),
        "heldout_frames": int(n_heldout),
        "train_inertia_per_frame": quantizer.inertia(train) / max(len(train), 1),
        "heldout_inertia_per_frame": (quantizer.inertia(heldout) / n_heldout)
        if n_heldout
        else None,
        "clusters_used": usage.used,
        "perplexity": usage.perplexity,
        "checksum": quantizer.checksum,
        "config": asdict(config),
    }
    return quantizer, report


def describe_report(report: dict[str, Any]) -> str:
    """One human line per number of the report."""
    heldout = report["heldout_inertia_per_frame"]
    return "\n".join(
        [
            f"k-means: k={report['k']} dim={report['dim']} on {report['train_frames']} frames",
            f"inertia per frame: train {report['train_inertia_per_frame']:.6g}, held-out "
            + (
                f"{heldout:.6g} ({report['heldout_frames']} frames)"
                if heldout is not None
                else "n/a"
            ),
            f"clusters used: {report['clusters_used']} of {report['k']}; perplexity "
            f"{report['perplexity']:.1f}",
        ]
    )
