"""Cut long audio into chunks at quiet points, so no prompt outgrows memory or the context.

A recording longer than `max_chunk_s` is cut greedily: from the current start, the cut goes at
the quietest short window (lowest RMS energy) between `min_chunk_s` and `max_chunk_s` later.
Cutting in a pause rather than at a fixed length keeps words whole, and the bound keeps every
chunk's unit sequence (about 35 units per second after dedup) within the model's context.

>>> import numpy as np
>>> wave = np.ones(16000 * 50, dtype=np.float32)
>>> wave[16000 * 18 : 16000 * 18 + 800] = 0.0          # a pause at 18 s
>>> chunk_bounds(wave, 16000, max_chunk_s=20.0)[0]
(0, 288520)
"""

from __future__ import annotations

import numpy as np

from spire.errors import SpireError

_WINDOW_S = 0.025
_HOP_S = 0.010


def _frame_energy(wave: np.ndarray, window: int, hop: int) -> np.ndarray:
    """RMS energy of windows starting every `hop` samples (a strided view, no copy)."""
    frames = np.lib.stride_tricks.sliding_window_view(wave, window)[::hop]
    return np.sqrt(np.mean(np.square(frames, dtype=np.float64), axis=1))


def chunk_bounds(
    wave: np.ndarray,
    sample_rate: int,
    *,
    max_chunk_s: float = 20.0,
    min_chunk_s: float | None = None,
) -> list[tuple[int, int]]:
    """(start, end) sample indices covering `wave`, each at most `max_chunk_s` long.

    `min_chunk_s` (default half of `max_chunk_s`) is the earliest a cut may come after the
    previous one, so the search favours long chunks; only the last chunk may be shorter.

    >>> chunk_bounds(np.zeros(16000 * 5, dtype=np.float32), 16000, max_chunk_s=20.0)
    [(0, 80000)]
    """
    if not max_chunk_s > 0:
        raise SpireError(f"max_chunk_s must be > 0, but is {max_chunk_s}; fix: pass e.g. 20.0")
    min_chunk_s = max_chunk_s / 2 if min_chunk_s is None else min_chunk_s
    if not 0 < min_chunk_s <= max_chunk_s:
        raise SpireError(
            f"min_chunk_s must be in (0, max_chunk_s={max_chunk_s}], but is {min_chunk_s}; "
            "fix: pass a smaller min_chunk_s"
        )
    n = len(wave)
    max_len = max(1, int(max_chunk_s * sample_rate))
    if n <= max_len:
        return [(0, n)]
    window = max(1, int(_WINDOW_S * sample_rate))
    hop = max(1, int(_HOP_S * sample_rate))
    energy = _frame_energy(wave, window, hop) if n >= window else np.zeros(1)
    min_len = max(1, int(min_chunk_s * sample_rate))

    bounds: list[tuple[int, int]] = []
    start = 0
    while n - start > max_len:
        # Frame f covers [f*hop, f*hop + window); its centre f*hop + window//2 is the candidate
        # cut. Only frames whose centre lies in [start + min_len, start + max_len] qualify.
        half = window // 2
        first = -(-(start + min_len - half) // hop)
        last = (start + max_len - half) // hop
        first, last = max(first, 0), min(last, len(energy) - 1)
        if first > last:
            cut = start + max_len
        else:
            # Ties (e.g. a long silence) go to the latest frame: fewer, longer chunks.
            quietest = last - int(np.argmin(energy[first : last + 1][::-1]))
            cut = quietest * hop + half
        bounds.append((start, cut))
        start = cut
    bounds.append((start, n))
    return bounds


def split_audio(
    wave: np.ndarray,
    sample_rate: int,
    *,
    max_chunk_s: float = 20.0,
    min_chunk_s: float | None = None,
) -> list[np.ndarray]:
    """`wave` cut at `chunk_bounds` (views, not copies).

    >>> [len(c) for c in split_audio(np.zeros(10, dtype=np.float32), 1, max_chunk_s=4.0)]
    [4, 4, 2]
    """
    bounds = chunk_bounds(wave, sample_rate, max_chunk_s=max_chunk_s, min_chunk_s=min_chunk_s)
    return [wave[start:end] for start, end in bounds]
