"""Training k-means centroids: our k-means++ seeding, then faiss Lloyd iterations (CPU or GPU).

Kept apart from `units.kmeans.quantizer` so that the quantizer (load, assign) never needs faiss; only
fitting does. `KMeansQuantizer.fit` is the public entry point.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from units.errors import UnitsError

INIT_METHODS = ("kmeans++", "random")


class KMeansFitError(UnitsError):
    """Features or settings that k-means cannot be fitted with."""


def kmeans_plus_plus(
    points: np.ndarray,
    k: int,
    *,
    seed: int = 0,
    n_local_trials: int | None = None,
    progress: bool = False,
) -> np.ndarray:
    """Greedy k-means++ seeding (Arthur & Vassilvitskii, 2007): k rows of `points`.

    Each new centre is drawn with probability proportional to the squared distance to the
    nearest centre already chosen; of `n_local_trials` draws (2 + ln k by default), the one that
    lowers the total squared distance most is kept. `progress` shows a bar over the k centres.

    >>> pts = np.array([[0.0, 0.0], [0.0, 0.1], [9.0, 9.0]], dtype=np.float32)
    >>> sorted(kmeans_plus_plus(pts, 2, seed=0)[:, 0].tolist())[-1]
    9.0
    """
    from tqdm.auto import tqdm

    points = np.ascontiguousarray(points, dtype=np.float32)
    n = points.shape[0]
    if not 1 <= k <= n:
        raise KMeansFitError(
            f"k-means++ seeding needs 1 <= k <= {n} (its sample size), but k is {k}; "
            "fix: raise init_points or lower k"
        )
    rng = np.random.default_rng(seed)
    trials = n_local_trials or 2 + int(math.log(k))
    norms = np.einsum("ij,ij->i", points, points, dtype=np.float64)

    first = int(rng.integers(n))
    chosen = [first]
    closest = _sq_dist(points, norms, np.array([first]))[:, 0]
    owner = np.zeros(n, dtype=np.int64)  # index (in `chosen`) of each point's nearest centre
    potential = closest.sum()
    for i in tqdm(range(1, k), desc="k-means++ seeding", unit="centre", disable=not progress,
                  initial=1, total=k, dynamic_ncols=True):
        if potential <= 0:  # every point coincides with a centre: any point will do
            candidates = rng.integers(n, size=1)
        else:
            draws = rng.random(trials) * potential
            candidates = np.minimum(np.searchsorted(np.cumsum(closest), draws), n - 1)
        # Triangle inequality: a candidate c can only come closer to p than p's centre o if
        # |c - o| < 2 |p - o|. Only those points are visited, which after the first centres are
        # few, so seeding no longer reads every point k times. (The margin absorbs rounding.)
        to_centres = _sq_dist_between(points, norms, candidates, np.asarray(chosen))
        slack = 1e-5 * (norms + norms[candidates].max())
        visit = np.flatnonzero((to_centres[:, owner] < 4.0 * closest * (1 + 1e-4) + slack).any(0))
        if visit.size > n // 2:  # gathering most rows costs more than reading them all
            visit = np.arange(n)
            near = _sq_dist(points, norms, candidates)
        else:
            near = _sq_dist_between(points, norms, visit, candidates)
        trial_closest = np.minimum(closest[visit, None], near)
        trial_potential = potential - (closest[visit, None] - trial_closest).sum(axis=0)
        best = int(np.argmin(trial_potential))
        improved = trial_closest[:, best] < closest[visit]
        closest[visit] = trial_closest[:, best]
        owner[visit[improved]] = i
        chosen.append(int(candidates[best]))
        potential = closest.sum()  # re-summed, so that no drift accumulates over k steps
    return points[chosen].copy()


def _sq_dist(points: np.ndarray, norms: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Squared distances (float64, clipped at 0) from all points to the points at `rows`."""
    dots = points @ points[rows].T
    return np.maximum(norms[:, None] + norms[rows][None, :] - 2.0 * dots, 0.0)


def _sq_dist_between(
    points: np.ndarray, norms: np.ndarray, rows: np.ndarray, cols: np.ndarray
) -> np.ndarray:
    """Squared distances (float64, clipped at 0) between points[rows] and points[cols]."""
    dots = points[rows] @ points[cols].T
    return np.maximum(norms[rows][:, None] + norms[cols][None, :] - 2.0 * dots, 0.0)


def train_centroids(
    features: np.ndarray,
    k: int,
    *,
    niter: int,
    seed: int,
    init: str,
    gpu: bool | None,
    max_points_per_centroid: int,
    init_points: int | None,
    progress: bool = False,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Fit k centroids with faiss; return (centroids float32 (k, dim), training stats).

    `progress` shows bars for the seeding and the Lloyd iterations (stderr); the centroids are
    the same bit for bit either way.
    """
    import faiss

    x = _check_features(features, k)
    if init not in INIT_METHODS:
        raise KMeansFitError(f"init must be one of {INIT_METHODS}, but is {init!r}")
    if niter < 1:
        raise KMeansFitError(f"niter must be >= 1, but is {niter}; fix: e.g. niter=25")
    if max_points_per_centroid < 1:
        raise KMeansFitError(
            f"max_points_per_centroid must be >= 1, but is {max_points_per_centroid}"
        )
    n_gpus = faiss.get_num_gpus() if hasattr(faiss, "get_num_gpus") else 0
    use_gpu = n_gpus > 0 if gpu is None else bool(gpu)
    if use_gpu and n_gpus == 0:
        raise KMeansFitError(
            "gpu=True needs a faiss build that sees a GPU, but faiss.get_num_gpus() is 0; "
            "fix: pip install the faiss GPU wheel (extra 'gpu') or pass gpu=None"
        )

    start = time.perf_counter()
    init_centroids, m = None, None
    if init == "kmeans++":
        m = min(x.shape[0], init_points or max(16 * k, 4096))
        rng = np.random.default_rng(seed)
        sample = x if m == x.shape[0] else x[np.sort(rng.choice(x.shape[0], m, replace=False))]
        init_centroids = kmeans_plus_plus(sample, k, seed=seed, progress=progress)
    init_s = time.perf_counter() - start

    kmeans = faiss.Kmeans(
        x.shape[1],
        k,
        niter=niter,
        seed=seed,
        max_points_per_centroid=max_points_per_centroid,
        gpu=n_gpus if use_gpu else False,
        verbose=False,
    )
    if progress:
        _train_with_progress(kmeans, x, init_centroids, niter)
    else:
        kmeans.train(x, init_centroids=init_centroids)
    seconds = time.perf_counter() - start
    n_train = min(x.shape[0], k * max_points_per_centroid)
    stats = {
        "backend": "faiss-gpu" if use_gpu else "faiss-cpu",
        "faiss_version": getattr(faiss, "__version__", "unknown"),
        "n_points": int(x.shape[0]),
        "n_train_points": int(n_train),
        "k": int(k),
        "niter": int(niter),
        "seed": int(seed),
        "init": init,
        "init_points": m,
        "max_points_per_centroid": int(max_points_per_centroid),
        # faiss's objective is the summed squared distance on the points it trained on
        "mean_sq_distance": float(kmeans.obj[-1]) / n_train if len(kmeans.obj) else None,
        "init_seconds": round(init_s, 3),
        "seconds": round(seconds, 3),
    }
    return np.ascontiguousarray(kmeans.centroids, dtype=np.float32), stats


def _train_with_progress(kmeans: Any, x: np.ndarray, init: np.ndarray | None, niter: int) -> None:
    """faiss's Lloyd iterations one call at a time, so a bar can count them.

    faiss runs all `niter` iterations in one C++ call with no callback. One iteration per call,
    each starting from the last one's centroids, does the same arithmetic: the training
    subsample is drawn from the same seed every call and empty clusters are split with a
    generator that faiss re-seeds every iteration, so the centroids are identical (tested).
    """
    from tqdm.auto import tqdm

    kmeans.cp.niter = 1
    centroids = init
    with tqdm(total=niter, desc="k-means iterations", unit="it", dynamic_ncols=True) as bar:
        for i in range(niter):
            kmeans.train(x, init_centroids=centroids)
            centroids = kmeans.centroids
            if i == 0:
                # Only faiss's "please provide at least N training points" warning reads this;
                # printed once is enough.
                kmeans.cp.min_points_per_centroid = 1
            bar.set_postfix_str(f"objective {kmeans.obj[-1]:.6g}", refresh=False)
            bar.update(1)
    kmeans.cp.niter = niter


def _check_features(features: Any, k: int) -> np.ndarray:
    if hasattr(features, "detach"):  # torch tensor
        features = features.detach().float().cpu().numpy()
    x = np.ascontiguousarray(features, dtype=np.float32)
    if x.ndim != 2 or x.shape[1] == 0:
        raise KMeansFitError(
            f"features must be a 2-D array (n_points, dim), but have shape {x.shape}; "
            "fix: stack the frames of all utterances into one matrix"
        )
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise KMeansFitError(f"k must be a positive integer, but is {k!r}")
    if x.shape[0] < k:
        raise KMeansFitError(
            f"k-means with k={k} needs at least k points, but got {x.shape[0]}; "
            "fix: sample more frames or lower k"
        )
    if not np.isfinite(x).all():
        raise KMeansFitError(
            "features must be finite, but hold NaN or Inf; fix: check the featurizer's output"
        )
    return x
