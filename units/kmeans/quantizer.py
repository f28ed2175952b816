"""The k-means quantizer: features -> unit ids by nearest centroid.

`assign` computes argmin_j ||x - c_j||^2 as argmin_j (||c_j||^2 - 2 x.c_j) with matrix products,
in row chunks to bound memory, on the input's own device (numpy on CPU, torch on its tensor's
device). Rows whose best and second-best scores are closer than the float32 rounding error of
that product are recomputed in float64 on the CPU, so the result is the argmin of the squared
Euclidean distance (first index on exact ties), as scikit-learn's `predict` computes it, not a
product of rounding. Fitting is in `units.kmeans.fitting` (faiss); files in `units.kmeans.io`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

import numpy as np

from units.errors import UnitsError
from units.kmeans import io as kmeans_io

# Scores per chunk (rows x k): 2**24 float32 = 64 MiB, whatever k is.
_CHUNK_SCORES = 2**24
# Unit roundoff of float32; torch matmuls run in true float32 here (no TF32/bf16 shortcuts).
_ROUNDOFF = 2.0**-24


class ClusterUsage(NamedTuple):
    """How evenly unit ids use the k clusters: `used` of k, and the perplexity of their counts."""

    used: int
    perplexity: float


class KMeansQuantizer:
    """k centroids (float32, k x dim) with provenance; maps feature frames to unit ids.

    >>> q = KMeansQuantizer(np.array([[0.0, 0.0], [1.0, 1.0]], dtype=np.float32))
    >>> q.assign(np.array([[0.9, 0.8], [0.1, 0.0]], dtype=np.float32)).tolist()
    [1, 0]
    """

    def __init__(self, centroids: Any, metadata: dict[str, Any] | None = None) -> None:
        if hasattr(centroids, "detach"):  # torch tensor
            centroids = centroids.detach().float().cpu().numpy()
        array = np.array(centroids, dtype=np.float32, order="C", copy=True)
        if array.ndim != 2 or array.shape[0] < 1 or array.shape[1] < 1:
            raise UnitsError(
                f"centroids must be a 2-D array (k, dim) with k, dim >= 1, but have shape "
                f"{array.shape}"
            )
        if not np.isfinite(array).all():
            raise UnitsError("centroids must be finite, but hold NaN or Inf")
        array.flags.writeable = False
        self._centroids = array
        self._norms64 = np.einsum("ij,ij->i", array, array, dtype=np.float64)
        self._metadata = dict(metadata or {})
        self._checksum = kmeans_io.centroids_checksum(array)
        self._on_device: dict[Any, Any] = {}

    # ---- properties -----------------------------------------------------------------------
    @property
    def k(self) -> int:
        """Number of clusters (units)."""
        return int(self._centroids.shape[0])

    @property
    def dim(self) -> int:
        """Feature dimension the centroids live in."""
        return int(self._centroids.shape[1])

    @property
    def centroids(self) -> np.ndarray:
        """The centroids, read-only float32 (k, dim)."""
        return self._centroids

    @property
    def metadata(self) -> dict[str, Any]:
        """A copy of the metadata: "provenance", "training", "source" where known."""
        return dict(self._metadata)

    @property
    def provenance(self) -> dict[str, Any] | None:
        """Provenance of the featurizer whose features were clustered (None when unknown)."""
        return self._metadata.get("provenance")

    @property
    def checksum(self) -> str:
        """sha256 of the float32 centroid bytes; identifies the quantizer in provenance."""
        return self._checksum

    def __repr__(self) -> str:
        return f"KMeansQuantizer(k={self.k}, dim={self.dim}, sha256={self.checksum[:12]}…)"

    # ---- fitting ----------------------------------------------------------------------------
    @classmethod
    def fit(
        cls,
        features: Any,
        k: int,
        *,
        niter: int = 25,
        seed: int = 0,
        init: str = "kmeans++",
        gpu: bool | None = None,
        provenance: dict[str, Any] | None = None,
        max_points_per_centroid: int = 256,
        init_points: int | None = None,
        progress: bool = False,
    ) -> KMeansQuantizer:
        """Fit k centroids with faiss (on GPU when faiss sees one and `gpu` is not False).

        `init="kmeans++"` seeds with greedy k-means++ on a random subsample of `init_points`
        frames (default max(16 k, 4096)); faiss then runs `niter` Lloyd iterations on at most
        k x `max_points_per_centroid` frames. The same seed gives the same centroids, with or
        without the `progress` bars.

        >>> x = np.random.default_rng(0).normal(size=(300, 4)).astype(np.float32)
        >>> KMeansQuantizer.fit(x, 3, niter=5).k
        3
        """
        from units.kmeans.fitting import train_centroids

        centroids, stats = train_centroids(
            features,
            k,
            niter=niter,
            seed=seed,
            init=init,
            gpu=gpu,
            max_points_per_centroid=max_points_per_centroid,
            init_points=init_points,
            progress=progress,
        )
        return cls(centroids, {"provenance": provenance, "training": stats})

    # ---- assignment -------------------------------------------------------------------------
    def assign(self, features: Any) -> np.ndarray:
        """Unit id (int64) of each row of `features` (n, dim): numpy array or torch tensor.

        >>> q = KMeansQuantizer(np.eye(3, dtype=np.float32))
        >>> q.assign(np.eye(3, dtype=np.float32)[::-1]).tolist()
        [2, 1, 0]
        """
        is_torch = hasattr(features, "detach")
        if not is_torch:
            features = np.asarray(features)
        shape = tuple(features.shape)
        if len(shape) != 2 or shape[1] != self.dim:
            raise UnitsError(
                f"features must have shape (n_frames, {self.dim}) to match the quantizer, but "
                f"have {shape}; fix: use the featurizer (encoder and layer) the k-means was "
                "fitted on"
            )
        if shape[0] == 0:
            return np.zeros(0, dtype=np.int64)
        if is_torch:
            return self._assign_torch(features)
        return self._assign_numpy(features)

    def inertia(self, features: Any) -> float:
        """Sum over rows of the squared distance to the nearest centroid (float64 arithmetic).

        >>> q = KMeansQuantizer(np.zeros((1, 2), dtype=np.float32))
        >>> q.inertia(np.array([[3.0, 4.0]], dtype=np.float32))
        25.0
        """
        ids = self.assign(features)
        x = _to_numpy(features)
        total = 0.0
        step = max(1, _CHUNK_SCORES // max(self.dim, 1))
        for start in range(0, x.shape[0], step):
            diff = x[start : start + step].astype(np.float64) - self._centroids[
                ids[start : start + step]
            ].astype(np.float64)
            total += float(np.einsum("ij,ij->", diff, diff))
        return total

    def _chunk_rows(self) -> int:
        return max(1, _CHUNK_SCORES // self.k)

    def _assign_numpy(self, x: np.ndarray) -> np.ndarray:
        exact = x.dtype == np.float64
        centroids = self._centroids.astype(np.float64) if exact else self._centroids
        norms = self._norms64 if exact else self._norms64.astype(np.float32)
        out = np.empty(x.shape[0], dtype=np.int64)
        for start in range(0, x.shape[0], self._chunk_rows()):
            block = np.asarray(x[start : start + self._chunk_rows()], dtype=centroids.dtype)
            scores = norms[None, :] - 2.0 * (block @ centroids.T)
            best = scores.argmin(axis=1)
            if not exact:
                rows = np.arange(block.shape[0])
                best_score = scores[rows, best]
                scores[rows, best] = np.inf
                gap = scores.min(axis=1) - best_score
                block_norms = np.einsum("ij,ij->i", block, block, dtype=np.float64)
                unsure = np.flatnonzero(gap <= self._tolerance(block_norms))
                if unsure.size:
                    best[unsure] = self._exact_argmin(block[unsure])
            out[start : start + block.shape[0]] = best
        return out

    def _assign_torch(self, x: Any) -> np.ndarray:
        import torch

        exact = x.dtype == torch.float64
        dtype = torch.float64 if exact else torch.float32
        key = (x.device, dtype)
        if key not in self._on_device:
            c = torch.from_numpy(self._centroids.copy()).to(device=x.device, dtype=dtype)
            self._on_device[key] = (c, torch.from_numpy(self._norms64).to(x.device, dtype))
        centroids, norms = self._on_device[key]
        out = np.empty(x.shape[0], dtype=np.int64)
        with torch.no_grad(), _ieee_float32_matmul():
            for start in range(0, x.shape[0], self._chunk_rows()):
                block = x[start : start + self._chunk_rows()].to(dtype)
                scores = torch.addmm(norms[None, :], block, centroids.T, alpha=-2.0)
                best = scores.argmin(dim=1)  # first index on exact ties, as numpy and sklearn
                if not exact and self.k > 1:
                    two = torch.topk(scores, 2, dim=1, largest=False).values
                    block_norms = (block.double() ** 2).sum(dim=1)
                    tolerance = self._tolerance(block_norms)
                    unsure = torch.nonzero(two[:, 1] - two[:, 0] <= tolerance).flatten()
                    best = best.cpu().numpy()
                    if unsure.numel():
                        rows = block[unsure].cpu().numpy()
                        best[unsure.cpu().numpy()] = self._exact_argmin(rows)
                else:
                    best = best.cpu().numpy()
                out[start : start + best.shape[0]] = best
        return out

    def _tolerance(self, block_norms: Any) -> Any:
        """Margin below which a float32 argmin may be a product of rounding.

        The error of ||c||^2 - 2 x.c in float32 is bounded by about dim * u * (||x||^2 +
        ||c||^2) (u: unit roundoff); a margin above twice that cannot flip the argmin.
        """
        return 4.0 * self.dim * _ROUNDOFF * (block_norms + float(self._norms64.max()))

    def _exact_argmin(self, rows: np.ndarray) -> np.ndarray:
        """Argmin of squared distances in float64 on the CPU (first index on exact ties)."""
        sub = np.asarray(rows, dtype=np.float64)
        scores = self._norms64[None, :] - 2.0 * (sub @ self._centroids.T.astype(np.float64))
        return scores.argmin(axis=1)

    # ---- files --------------------------------------------------------------------------------
    def save_pretrained(self, directory: str | os.PathLike) -> None:
        """Write `directory/kmeans.json` and `directory/centroids.safetensors`.

        >>> import tempfile
        >>> q = KMeansQuantizer(np.eye(2, dtype=np.float32))
        >>> with tempfile.TemporaryDirectory() as d:
        ...     q.save_pretrained(d)
        ...     KMeansQuantizer.from_pretrained(d).checksum == q.checksum
        True
        """
        kmeans_io.save(directory, self._centroids, self._metadata)

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike) -> KMeansQuantizer:
        """Load a folder written by `save_pretrained`, verifying the centroids' checksum."""
        centroids, metadata = kmeans_io.load(directory)
        return cls(centroids, metadata)

    @classmethod
    def from_sklearn(
        cls,
        path: str | os.PathLike,
        *,
        trust: bool = False,
        provenance: dict[str, Any] | None = None,
    ) -> KMeansQuantizer:
        """Import a joblib-pickled scikit-learn KMeans / MiniBatchKMeans (e.g. SPIRE's release).

        Unpickling can run code, so it needs `trust=True`. Convert once, then keep the result
        in our format: `KMeansQuantizer.from_sklearn(p, trust=True).save_pretrained(folder)`.
        Assignments equal scikit-learn's own `predict`.
        """
        centroids, source = kmeans_io.import_sklearn(path, trust=trust)
        return cls(centroids, {"provenance": provenance, "source": source})


def cluster_usage(ids: Any, k: int) -> ClusterUsage:
    """Clusters used and the perplexity exp(H) of the id distribution (k when perfectly even).

    >>> cluster_usage([0, 1, 1, 0], k=4)
    ClusterUsage(used=2, perplexity=2.0)
    """
    ids = np.asarray(ids, dtype=np.int64).reshape(-1)
    if ids.size and (ids.min() < 0 or ids.max() >= k):
        raise UnitsError(f"unit ids must be in [0, {k}), but range over [{ids.min()}, {ids.max()}]")
    counts = np.bincount(ids, minlength=k)
    if ids.size == 0:
        return ClusterUsage(0, 0.0)
    p = counts[counts > 0] / ids.size
    return ClusterUsage(int((counts > 0).sum()), float(round(math.exp(-(p * np.log(p)).sum()), 6)))


@contextmanager
def _ieee_float32_matmul() -> Iterator[None]:
    """Run torch float32 matmuls in full float32 (not TF32/bf16), restoring the settings after.

    The rounding tolerance of `assign` assumes float32 products; TF32 would make most rows
    ambiguous. Scripts often enable TF32 globally for speed, so it is switched off locally.
    """
    import torch

    matmul = torch.backends.cuda.matmul
    previous = torch.get_float32_matmul_precision()
    previous_cuda = getattr(matmul, "fp32_precision", None)  # the newer per-backend setting
    torch.set_float32_matmul_precision("highest")
    if previous_cuda is not None:
        matmul.fp32_precision = "ieee"
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(previous)
        if previous_cuda is not None:
            matmul.fp32_precision = previous_cuda


def _to_numpy(features: Any) -> np.ndarray:
    if hasattr(features, "detach"):
        return features.detach().cpu().numpy()
    return np.asarray(features)
