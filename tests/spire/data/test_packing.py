"""Packing keeps every token, restarts positions per document and pads with -100 labels."""

import random

import pytest

from spire.data.packing import (
    IGNORE_INDEX,
    PackStats,
    buffered_shuffle,
    concat_and_split,
    pack_examples,
    unpacked,
)

PAD = 0


def _examples(count, seed, max_len=30):
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        ids = [rng.randrange(1, 1000) for _ in range(rng.randint(1, max_len))]
        labels = [i if rng.random() < 0.6 else IGNORE_INDEX for i in ids]
        out.append((ids, labels))
    return out


def _segments(row):
    """Split a row at position 0s; drop the padding tail (all-pad ids)."""
    starts = [i for i, p in enumerate(row["position_ids"]) if p == 0] + [len(row["input_ids"])]
    segments = []
    for a, b in zip(starts, starts[1:]):
        ids, labels = row["input_ids"][a:b], row["labels"][a:b]
        assert row["position_ids"][a:b] == list(range(b - a))
        if all(i == PAD for i in ids):
            assert all(label == IGNORE_INDEX for label in labels)
            continue
        segments.append((ids, labels))
    return segments


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("open_rows", [1, 4])
def test_pack_examples_preserves_every_example(seed, open_rows):
    examples = _examples(200, seed)
    stats = PackStats()
    rows = list(pack_examples(examples, seq_len=64, pad_id=PAD, open_rows=open_rows, stats=stats))
    assert all(
        len(r["input_ids"]) == len(r["labels"]) == len(r["position_ids"]) == 64 for r in rows
    )
    packed = [segment for row in rows for segment in _segments(row)]
    assert sorted(packed) == sorted(examples)
    assert stats.tokens == sum(len(ids) for ids, _ in examples)
    assert stats.tokens + stats.padding == 64 * len(rows) and stats.rows == len(rows)


def test_first_fit_pads_less_than_next_fit():
    examples = _examples(400, 7, max_len=60)
    next_fit, first_fit = PackStats(), PackStats()
    list(pack_examples(examples, seq_len=128, pad_id=PAD, open_rows=1, stats=next_fit))
    list(pack_examples(examples, seq_len=128, pad_id=PAD, open_rows=8, stats=first_fit))
    assert first_fit.padding_fraction < next_fit.padding_fraction


def test_example_longer_than_a_row_is_refused():
    with pytest.raises(ValueError, match="at most seq_len=4"):
        list(pack_examples([([1, 2, 3, 4, 5], [1, 2, 3, 4, 5])], seq_len=4, pad_id=PAD))


@pytest.mark.parametrize("seed", range(5))
def test_concat_and_split_keeps_the_stream(seed):
    rng = random.Random(seed)
    documents = [[rng.randrange(1, 1000) for _ in range(rng.randint(1, 150))] for _ in range(60)]
    stats = PackStats()
    rows = list(concat_and_split(documents, seq_len=64, pad_id=PAD, stats=stats))
    stream = [t for d in documents for t in d]
    flat = [t for r in rows for t in r["input_ids"]]
    assert flat[: len(stream)] == stream and all(t == PAD for t in flat[len(stream) :])
    assert stats.tokens == len(stream) and stats.padding == len(flat) - len(stream)
    # positions restart exactly at document starts and at row starts
    starts, offset = set(), 0
    for document in documents:
        starts.add(offset)
        offset += len(document)
    for index, row in enumerate(rows):
        for j, position in enumerate(
            row["position_ids"][: max(0, min(64, len(stream) - 64 * index))]
        ):
            absolute = 64 * index + j
            expected_zero = absolute in starts or j == 0
            assert (position == 0) == expected_zero
        labels = row["labels"]
        assert all(
            lab == tok or (lab == IGNORE_INDEX and tok == PAD)
            for lab, tok in zip(labels, row["input_ids"])
        )


def test_concat_and_split_drop_last():
    rows = list(concat_and_split([[1] * 100], seq_len=64, pad_id=PAD, drop_last=True))
    assert len(rows) == 1 and rows[0]["input_ids"] == [1] * 64


def test_unpacked_rows_are_the_examples():
    examples = _examples(20, 3)
    rows = list(unpacked(examples))
    assert [(r["input_ids"], r["labels"]) for r in rows] == examples
    assert all(r["position_ids"] == list(range(len(r["input_ids"]))) for r in rows)


def test_buffered_shuffle_is_a_seeded_permutation():
    items = list(range(1000))
    a = list(buffered_shuffle(items, buffer_size=100, seed=1))
    assert sorted(a) == items and a != items
    assert a == list(buffered_shuffle(iter(items), buffer_size=100, seed=1))
    assert a != list(buffered_shuffle(items, buffer_size=100, seed=2))
    assert list(buffered_shuffle(items, buffer_size=0)) == items
