"""Packing token sequences into fixed-length rows, streaming.

Every row has `input_ids`, `labels` (-100 = no loss) and `position_ids`, which restart at 0 at
each document (and at each row, and for the padding tail), so that a packing-aware attention
(transformers derives per-document masks from position ids) never looks across documents.

>>> rows = list(pack_examples([([1, 2], [-100, 2]), ([3], [3])], seq_len=4, pad_id=0))
>>> rows[0]["input_ids"], rows[0]["labels"], rows[0]["position_ids"]
([1, 2, 3, 0], [-100, 2, 3, -100], [0, 1, 0, 0])
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

__all__ = [
    "IGNORE_INDEX",
    "PackStats",
    "buffered_shuffle",
    "concat_and_split",
    "pack_examples",
    "unpacked",
]

IGNORE_INDEX = -100
T = TypeVar("T")
Example = tuple[list[int], list[int]]  # (input_ids, labels) of one document/example


@dataclass
class PackStats:
    """Counts of what the packers emitted."""

    rows: int = 0
    tokens: int = 0  # real (non-padding) tokens
    padding: int = 0
    documents: int = 0

    @property
    def padding_fraction(self) -> float:
        """Padding tokens over all emitted positions."""
        total = self.tokens + self.padding
        return self.padding / total if total else 0.0


def _row(
    ids: list[int], labels: list[int], positions: list[int], seq_len: int | None, pad_id: int
) -> dict[str, Any]:
    pad = 0 if seq_len is None else seq_len - len(ids)
    return {
        "input_ids": ids + [pad_id] * pad,
        "labels": labels + [IGNORE_INDEX] * pad,
        "position_ids": positions + list(range(pad)),
    }


def concat_and_split(
    documents: Iterable[list[int]],
    *,
    seq_len: int,
    pad_id: int,
    stats: PackStats | None = None,
    drop_last: bool = False,
) -> Iterator[dict[str, Any]]:
    """Continued-pretraining packing: documents back to back, cut every `seq_len` tokens.

    A document that crosses a row boundary continues in the next row (its positions restart
    there). Labels equal the input ids; only the last row may carry padding (or be dropped).
    """
    stats = stats if stats is not None else PackStats()
    ids: list[int] = []
    positions: list[int] = []
    for document in documents:
        stats.documents += 1
        start = 0
        while start < len(document):
            take = min(seq_len - len(ids), len(document) - start)
            ids.extend(document[start : start + take])
            positions.extend(range(take))
            start += take
            if len(ids) == seq_len:
                stats.rows += 1
                stats.tokens += seq_len
                yield _row(ids, list(ids), positions, seq_len, pad_id)
                ids, positions = [], []
    if ids and not drop_last:
        stats.rows += 1
        stats.tokens += len(ids)
        stats.padding += seq_len - len(ids)
        yield _row(ids, list(ids), positions, seq_len, pad_id)


def pack_examples(
    examples: Iterable[Example],
    *,
    seq_len: int,
    pad_id: int,
    open_rows: int = 8,
    stats: PackStats | None = None,
) -> Iterator[dict[str, Any]]:
    """Pack whole examples (each at most `seq_len` tokens) into padded rows, first fit.

    Up to `open_rows` partly filled rows stay open; an example goes into the first one with
    room, and when none has room the fullest row is emitted. Examples are never split.
    """
    stats = stats if stats is not None else PackStats()
    bins: list[tuple[list[int], list[int], list[int]]] = []

    def emit(index: int) -> dict[str, Any]:
        ids, labels, positions = bins.pop(index)
        stats.rows += 1
        stats.tokens += len(ids)
        stats.padding += seq_len - len(ids)
        return _row(ids, labels, positions, seq_len, pad_id)

    for ids, labels in examples:
        if len(ids) > seq_len:
            raise ValueError(
                f"an example must have at most seq_len={seq_len} tokens, but has {len(ids)}"
            )
        stats.documents += 1
        target = next((b for b in bins if len(b[0]) + len(ids) <= seq_len), None)
        if target is None:
            if len(bins) >= max(open_rows, 1):
                yield emit(max(range(len(bins)), key=lambda i: len(bins[i][0])))
            target = ([], [], [])
            bins.append(target)
        target[0].extend(ids)
        target[1].extend(labels)
        target[2].extend(range(len(ids)))
    while bins:
        yield emit(0)


def unpacked(
    examples: Iterable[Example], *, stats: PackStats | None = None
) -> Iterator[dict[str, Any]]:
    """One row per example, unpadded (a collator pads each batch), for comparison with packing."""
    stats = stats if stats is not None else PackStats()
    for ids, labels in examples:
        stats.documents += 1
        stats.rows += 1
        stats.tokens += len(ids)
        yield _row(list(ids), list(labels), list(range(len(ids))), None, 0)


def buffered_shuffle(items: Iterable[T], *, buffer_size: int, seed: int = 0) -> Iterator[T]:
    """Shuffle a stream through a buffer of `buffer_size` items (0 or 1: order kept).

    >>> sorted(buffered_shuffle(range(10), buffer_size=4)) == list(range(10))
    True
    """
    if buffer_size <= 1:
        yield from items
        return
    rng = random.Random(seed)
    buffer: list[T] = []
    for item in items:
        if len(buffer) < buffer_size:
            buffer.append(item)
            continue
        index = rng.randrange(buffer_size)
        yield buffer[index]
        buffer[index] = item
    rng.shuffle(buffer)
    yield from buffer
