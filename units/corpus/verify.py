"""Check that a finished shard holds every manifest row of its range exactly once.

A shard's rows are its `units-*` records plus its `rejects-*` lines. They are compared with the
manifest as a count and an order-free digest of the ids (the sum of 128-bit hashes), so the check
needs no memory per row; only when it fails are the ids read again to name what is missing or
repeated.

>>> tally = IdTally.of(["a", "b"])
>>> tally == IdTally.of(["b", "a"]), tally == IdTally.of(["a", "a"])
(True, False)
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from units.corpus.output import rejects_file, units_file
from units.corpus.shards import ShardIncompleteError, shard_range

__all__ = ["IdTally", "ShardIncompleteError", "Tallied", "verify_shard"]

_MODULUS = 1 << 128


@dataclass(frozen=True)
class IdTally:
    """How many ids, and an order-independent digest of them (equal multisets, equal tallies)."""

    count: int = 0
    digest: int = 0

    def __add__(self, other: IdTally) -> IdTally:
        return IdTally(self.count + other.count, (self.digest + other.digest) % _MODULUS)

    @staticmethod
    def of(ids: Iterable[str]) -> IdTally:
        count, digest = 0, 0
        for item_id in ids:
            hashed = hashlib.blake2b(item_id.encode("utf-8"), digest_size=16).digest()
            digest = (digest + int.from_bytes(hashed, "big")) % _MODULUS
            count += 1
        return IdTally(count, digest)


class Tallied:
    """Passes items through, keeping the `IdTally` of their ids (a shard's expected rows)."""

    def __init__(self, items: Iterable[Any]) -> None:
        self._items = items
        self.tally = IdTally()

    def __iter__(self) -> Iterator[Any]:
        for item in self._items:
            self.tally = self.tally + IdTally.of([item.id])
            yield item


def shard_tallies(
    items: Iterable[Any], *, num_items: int, num_shards: int, shards: list[int]
) -> dict[int, IdTally]:
    """The `IdTally` of each of `shards` (contiguous ranges of `items`), in one pass."""
    if not shards:
        return {}
    ranges = {i: shard_range(num_items, num_shards=num_shards, shard_index=i) for i in shards}
    tallies = dict.fromkeys(ranges, IdTally())
    stop = max((r.stop for r in ranges.values()), default=0)
    for index, item in enumerate(items):
        if index >= stop:
            break
        for shard_index, indices in ranges.items():
            if index in indices:
                tallies[shard_index] = tallies[shard_index] + IdTally.of([item.id])
    return tallies


def shard_ids(
    out_dir: Path, shard_index: int, num_shards: int, fmt: str
) -> tuple[Iterator[str], Iterator[str]]:
    """(ids of the shard's unit records, ids of its rejects), streamed from its final files."""
    return (
        _unit_ids(units_file(out_dir, shard_index, num_shards, fmt), fmt),
        _reject_ids(rejects_file(out_dir, shard_index, num_shards)),
    )


def verify_shard(
    out_dir: Path,
    *,
    shard_index: int,
    num_shards: int,
    fmt: str,
    expected: IdTally,
    manifest_ids: Callable[[], Iterable[str]],
    summary: dict | None = None,
) -> None:
    """Raise `ShardIncompleteError` unless ok + rejected rows are the manifest range, once each.

    `manifest_ids` gives the ids of the shard's manifest range again, read only to name the
    culprits when the check fails. `summary` (the shard's summary file) must agree as well.
    """
    ok_stream, reject_stream = shard_ids(out_dir, shard_index, num_shards, fmt)
    ok, rejected = IdTally.of(ok_stream), IdTally.of(reject_stream)
    counts_agree = summary is None or (
        summary.get("ok") == ok.count
        and summary.get("rejected") == rejected.count
        and summary.get("total") == expected.count
    )
    if ok + rejected == expected and counts_agree:
        return
    ok_ids, reject_ids = (list(ids) for ids in shard_ids(out_dir, shard_index, num_shards, fmt))
    seen = Counter([*ok_ids, *reject_ids])
    wanted = set(manifest_ids())
    doubled = sorted(i for i, n in seen.items() if n > 1)
    missing = sorted(wanted - set(seen))
    foreign = sorted(set(seen) - wanted)
    files = [
        units_file(out_dir, shard_index, num_shards, fmt).name,
        rejects_file(out_dir, shard_index, num_shards).name,
        f"summary-{shard_index:05d}-of-{num_shards:05d}.json",
    ]
    raise ShardIncompleteError(
        f"shard {shard_index} of {num_shards} in {out_dir} must hold each of its {expected.count} "
        f"manifest rows once (ok + rejected), but holds ok {len(ok_ids)} + rejected "
        f"{len(reject_ids)} = {len(ok_ids) + len(reject_ids)}: {len(doubled)} ids more than once "
        f"{_some(doubled)}, {len(missing)} missing {_some(missing)}, {len(foreign)} not in the "
        f"manifest {_some(foreign)}"
        + ("" if counts_agree else f", and its summary says {_counts(summary)}")
        + f"; fix: delete {', '.join(files)} and .parts/ from {out_dir} (or the whole folder) and "
        "label again, with one process per shard"
    )


def _some(ids: list[str]) -> str:
    return "[]" if not ids else f"(e.g. {ids[:5]})"


def _counts(summary: dict | None) -> str:
    summary = summary or {}
    return f"ok {summary.get('ok')} + rejected {summary.get('rejected')} = {summary.get('total')}"


def _unit_ids(path: Path, fmt: str) -> Iterator[str]:
    if not path.is_file():
        return
    if fmt == "arrow":
        import pyarrow as pa

        with pa.OSFile(str(path), "rb") as source:
            reader = pa.ipc.open_stream(source)
            for batch in reader:
                yield from batch.column("id").to_pylist()
        return
    opener = gzip.open if fmt == "jsonl.gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            yield json.loads(line)["id"]


def _reject_ids(path: Path) -> Iterator[str]:
    if not path.is_file():
        return
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            yield json.loads(line)["id"]
