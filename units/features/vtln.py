"""Vocal tract length normalisation (VTLN) for MFCC units: one frequency warp per utterance.

A longer vocal tract puts every formant lower, so the same vowel from a man and a woman lands in
different MFCC clusters and the units encode the voice as much as the sound. VTLN rescales the
frequency axis of each utterance by a factor `alpha` before the mel filterbank. The factor is
chosen the maximum-likelihood way, with a small k-means codebook in place of a GMM: the warp
whose features lie closest to the codebook wins (see `units.features.vtln_fit.fit_vtln`, which trains the
codebook and the warps together). Only the MFCC path needs this; SSL encoders such as HuBERT
have learned their own speaker invariance.

>>> import numpy as np
>>> round(float(warp_frequencies(np.array([1000.0]), 0.9, nyquist=8000.0)[0]), 1)
900.0
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from units.errors import ModelFormatError, UnitsError
from units.kmeans import io as kmeans_io

# A folder in the quantizer format (safetensors centroids + kmeans.json with their checksum).
CODEBOOK_DIR = "vtln_codebook"
# Adult vocal tracts differ by about +-15%. A wider grid (0.80-1.20) and a third fitting round
# measured no better on the miniature (content-word mAP 0.962 vs 0.965).
DEFAULT_WARPS = (0.84, 0.88, 0.92, 0.96, 1.0, 1.04, 1.08, 1.12, 1.16)
# Above this fraction of the Nyquist frequency the warp bends so that Nyquist maps onto itself:
# a plain scaling would push the top filters past the band (alpha > 1) or leave them empty.
_BEND = 0.85


class VtlnError(UnitsError):
    """A VTLN setting or codebook that cannot work, with the key or file and the fix."""


def warp_frequencies(freqs: np.ndarray, alpha: float, *, nyquist: float) -> np.ndarray:
    """Piecewise-linear warp: ``alpha * f`` below the bend, then a line to (nyquist, nyquist).

    >>> warp_frequencies(np.array([0.0, 8000.0]), 1.1, nyquist=8000.0).tolist()
    [0.0, 8000.0]
    """
    bend = _BEND * nyquist * min(1.0, 1.0 / alpha)
    upper = alpha * bend + (nyquist - alpha * bend) * (freqs - bend) / (nyquist - bend)
    return np.where(freqs <= bend, alpha * freqs, upper)


def check_warps(warps: Sequence[float]) -> tuple[float, ...]:
    """Validate a warp grid: at least one factor, each in (0.5, 2), no repeats."""
    values = tuple(float(w) for w in warps)
    if not values or len(set(values)) != len(values) or not all(0.5 < w < 2.0 for w in values):
        raise VtlnError(
            f"vtln warps must be distinct factors between 0.5 and 2, but are {list(values)}; "
            f"fix: use the default grid {list(DEFAULT_WARPS)}"
        )
    return values


@dataclass(frozen=True, eq=False)  # eq over numpy arrays would be ambiguous; compare sha256()
class VtlnCodebook:
    """The warp grid and the k-means codebook (k, dim) that scores each warp of an utterance."""

    warps: tuple[float, ...]
    centroids: np.ndarray

    def __post_init__(self) -> None:
        object.__setattr__(self, "warps", check_warps(self.warps))
        centroids = np.ascontiguousarray(self.centroids, dtype=np.float32)
        if centroids.ndim != 2 or len(centroids) == 0 or not np.isfinite(centroids).all():
            raise VtlnError(
                f"the vtln codebook must be a finite (k, dim) array with k >= 1, but has shape "
                f"{centroids.shape}; fix: refit it with units.features.vtln_fit.fit_vtln"
            )
        object.__setattr__(self, "centroids", centroids)
        object.__setattr__(self, "_norms", (centroids**2).sum(axis=1))

    @property
    def dim(self) -> int:
        return int(self.centroids.shape[1])

    def distortion(self, features: np.ndarray) -> float:
        """Mean squared distance of each frame (n, dim) to its nearest codeword."""
        return float(self.distortions(np.asarray(features)[None])[0])

    def distortions(self, candidates: np.ndarray) -> np.ndarray:
        """`distortion` of each warp's features in a (warps, n, dim) array, in one matmul."""
        w, n, dim = candidates.shape
        flat = candidates.reshape(w * n, dim)
        sq = (flat**2).sum(axis=1)[:, None] + self._norms[None, :]  # type: ignore[attr-defined]
        sq -= 2.0 * flat @ self.centroids.T
        return np.maximum(sq.min(axis=1), 0.0).reshape(w, n).mean(axis=1)

    def choose(self, candidates: np.ndarray) -> int:
        """Index of the warp whose features fit best; `candidates` is (warps, n, dim)."""
        return int(np.argmin(self.distortions(candidates)))

    def sha256(self) -> str:
        return kmeans_io.centroids_checksum(self.centroids)

    def record(self) -> dict[str, Any]:
        """What featurizer.json stores: the grid, the codebook's folder and its checksum."""
        return {"warps": list(self.warps), "codebook": CODEBOOK_DIR, "sha256": self.sha256()}

    def save(self, directory: str | Path) -> dict[str, Any]:
        """Write the codebook next to featurizer.json in the quantizer format; returns `record()`."""
        kmeans_io.save(
            Path(directory) / CODEBOOK_DIR, self.centroids, {"vtln_warps": list(self.warps)}
        )
        return self.record()

    @classmethod
    def load(cls, directory: str | Path, record: dict[str, Any]) -> VtlnCodebook:
        """Read the codebook a featurizer.json names; checks both checksums (no pickle involved)."""
        path = Path(directory) / str(record.get("codebook", CODEBOOK_DIR))
        centroids, _ = kmeans_io.load(path)  # ModelFormatError naming the file when broken
        codebook = cls(tuple(record["warps"]), centroids)
        if record.get("sha256") != codebook.sha256():
            raise ModelFormatError(
                f"{path} does not match the checksum in featurizer.json (the codebook was "
                "changed after saving); fix: copy the whole featurizer folder, or refit with fit_vtln"
            )
        return codebook
