"""`fit_vtln`: train the VTLN codebook and the per-utterance warps together.

Start from unwarped features; fit a small codebook; give every utterance the warp whose features
fit it best; refit the codebook on the warped features; repeat. Each round pulls the voices
toward one shared frequency scale (measured on the miniature's voices: women's utterances settle
near 0.86-0.94 and men's near 0.99-1.05, and content-word detection from the units rises from
mAP 0.92 to 0.97 at k=1000).

>>> featurizer = fit_vtln(MfccFeaturizer(cmvn="meanvar", stack=2), waves)  # doctest: +SKIP
>>> featurizer.warp_of(waves[0])  # doctest: +SKIP
0.9
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from units.errors import AudioError
from units.features.mfcc import MfccFeaturizer
from units.features.vtln import DEFAULT_WARPS, VtlnCodebook, VtlnError, check_warps
from units.kmeans.fitting import train_centroids


def fit_vtln(
    featurizer: MfccFeaturizer,
    waves: Iterable[np.ndarray],
    *,
    warps: Sequence[float] = DEFAULT_WARPS,
    codebook_size: int = 256,
    iterations: int = 2,
    max_frames: int = 100_000,
    seed: int = 0,
    report: dict[str, Any] | None = None,
) -> MfccFeaturizer:
    """Return `featurizer` with a VTLN codebook fitted on `waves` (16 kHz mono arrays).

    Waves are read until they hold `max_frames` frames (the rest are not needed: every frame
    is kept once per warp, 9 x 100,000 x 78 floats = 280 MB at the defaults). `report`, when
    given, receives the warp chosen for each wave used in the last round (``warps``) and each
    round's mean distortion (``distortion``).
    """
    grid = check_warps(warps)
    if iterations < 1:
        raise VtlnError(f"iterations must be >= 1, but is {iterations}; fix: pass iterations=2")
    base = featurizer.with_vtln(None)
    candidates, n_frames = [], 0
    for index, wave in enumerate(waves):
        if n_frames >= max_frames:
            break
        try:
            candidates.append(base.compute_warped(wave, grid, name=f"waves[{index}]"))
        except AudioError:
            continue  # too short for one frame: it cannot vote for a warp
        n_frames += len(candidates[-1][0])
    if n_frames < codebook_size:
        raise VtlnError(
            f"fitting a VTLN codebook of {codebook_size} needs at least as many frames, but the "
            f"waves hold {n_frames}; fix: pass more audio or a smaller codebook_size"
        )
    chosen = [grid.index(1.0) if 1.0 in grid else len(grid) // 2] * len(candidates)
    distortions = []
    for round_ in range(iterations):
        frames = np.concatenate([c[i] for c, i in zip(candidates, chosen)])
        centroids, _ = train_centroids(
            frames,
            codebook_size,
            niter=20,
            seed=seed + round_,
            init="kmeans++",
            gpu=None,
            max_points_per_centroid=256,
            init_points=None,
        )
        codebook = VtlnCodebook(grid, centroids)
        chosen = [codebook.choose(c) for c in candidates]
        distortions.append(
            float(np.mean([codebook.distortion(c[i]) for c, i in zip(candidates, chosen)]))
        )
    if report is not None:
        report["warps"] = [grid[i] for i in chosen]
        report["distortion"] = distortions
    return base.with_vtln(codebook)
