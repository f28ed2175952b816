"""Label one part of a shard: load its audio (threads), bucket by length, extract, make records.

A part's result is a list of JSON-ready lines, in manifest order: `{"ok": record, "n_units": n}`
for a labelled item and `{"reject": {"id", "source", "reason"}}` for one that could not be used.
Batches are formed inside the part only, so a rerun of the part computes exactly the same batches.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from typing import Any

import numpy as np

from units.corpus.items import AudioItem
from units.errors import AudioError


@dataclass(frozen=True)
class LoadedItem:
    """An item with its decoded wave, or with the reason it was rejected."""

    item: AudioItem
    wave: np.ndarray | None
    reason: str | None


def load_one(item: AudioItem, *, sample_rate: int, featurizer: Any) -> LoadedItem:
    """Decode one item; every failure becomes a reject reason, never an exception.

    A decoder can fail in ways `load_audio` does not foresee on a corpus of millions of files;
    one such file must not stop a multi-day job, so anything raised while decoding is recorded
    (with its type) in the rejects file instead.
    """
    from units.audio import load_audio

    try:
        wave = load_audio(item.source, sample_rate, name=item.id)
    except AudioError as error:
        return LoadedItem(item, None, error.reason)
    except Exception as error:  # noqa: BLE001 - see docstring: recorded, not swallowed
        return LoadedItem(item, None, f"decoding failed ({type(error).__name__}: {error})")
    if featurizer.num_frames(len(wave)) < 1:
        return LoadedItem(
            item,
            None,
            f"the audio must give at least one frame, but {len(wave)} samples "
            f"({len(wave) / sample_rate:.4f} s) give none; fix: drop the item",
        )
    return LoadedItem(item, wave, None)


def submit_loads(
    executor: Executor, items: Sequence[AudioItem], *, sample_rate: int, featurizer: Any
) -> list[Future]:
    """Start decoding a part's items on the thread pool (overlaps with the current part's model)."""
    return [
        executor.submit(load_one, item, sample_rate=sample_rate, featurizer=featurizer)
        for item in items
    ]


def length_batches(
    lengths: Sequence[int], *, sample_rate: int, batch_seconds: float
) -> list[list[int]]:
    """Indices grouped into batches of similar length, each at most `batch_seconds` of audio
    (a longer single item gets a batch of its own). Sorted longest first, ties by index.

    >>> length_batches([16000, 48000, 16000, 32000], sample_rate=16000, batch_seconds=4)
    [[1], [3, 0, 2]]
    """
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    batches: list[list[int]] = []
    current: list[int] = []
    total = 0.0
    for index in order:
        seconds = lengths[index] / sample_rate
        if current and total + seconds > batch_seconds:
            batches.append(current)
            current, total = [], 0.0
        current.append(index)
        total += seconds
    if current:
        batches.append(current)
    return batches


def label_loaded(
    loaded: Sequence[LoadedItem], extractor: Any, *, sample_rate: int, batch_seconds: float
) -> tuple[list[dict[str, Any]], float]:
    """Extract units for the loaded items; returns (part lines in input order, audio seconds)."""
    from units.audio import describe_source

    good = [i for i, entry in enumerate(loaded) if entry.wave is not None]
    lengths = [len(loaded[i].wave) for i in good]
    sequences: dict[int, Any] = {}
    for batch in length_batches(lengths, sample_rate=sample_rate, batch_seconds=batch_seconds):
        indices = [good[j] for j in batch]
        results = extractor.extract_waves([loaded[i].wave for i in indices])
        sequences.update(zip(indices, results))
    lines: list[dict[str, Any]] = []
    audio_s = 0.0
    for i, entry in enumerate(loaded):
        item = entry.item
        if entry.wave is None:
            reject = {"id": item.id, "source": describe_source(item.source), "reason": entry.reason}
            lines.append({"reject": reject})
            continue
        sequence = sequences[i]
        audio_s += len(entry.wave) / sample_rate
        record = {
            "id": item.id,
            "units": sequence.text,
            "n_frames": int(sequence.n_frames),
            "duration_s": float(sequence.duration_s),
            **item.fields,
        }
        lines.append({"ok": record, "n_units": int(len(sequence.ids))})
    return lines, audio_s
