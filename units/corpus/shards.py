"""Shards and parts: the pieces that make corpus labelling resumable.

A corpus of `n` items splits into `num_shards` contiguous ranges (shard i = items
[i*n//N, (i+1)*n//N)), so concatenating the shards in order gives the one-shard output. Each
shard is worked in parts of `part_size` items; a part is written to a temporary file and renamed
into place (`os.replace`), so after a kill a part either exists whole or not at all, and a rerun
redoes only the parts that are missing.

>>> shard_range(10, num_shards=3, shard_index=1)
range(3, 6)
>>> shard_name("units", 0, 2, ".jsonl.gz")
'units-00000-of-00002.jsonl.gz'
"""

from __future__ import annotations

import os

from units.errors import UnitsError


class ShardError(UnitsError):
    """Sharding settings that are impossible, or an output folder left by a different run."""


def shard_range(num_items: int, *, num_shards: int, shard_index: int) -> range:
    """The contiguous item indices that shard `shard_index` of `num_shards` owns.

    >>> [list(shard_range(5, num_shards=2, shard_index=i)) for i in range(2)]
    [[0, 1], [2, 3, 4]]
    """
    if num_shards < 1:
        raise ShardError(
            f"num_shards must be >= 1, but is {num_shards}; fix: pass a positive count"
        )
    if not 0 <= shard_index < num_shards:
        raise ShardError(
            f"shard_index must be in [0, {num_shards}), but is {shard_index}; fix: count shards from 0"
        )
    return range(num_items * shard_index // num_shards, num_items * (shard_index + 1) // num_shards)


def shard_name(stem: str, shard_index: int, num_shards: int, suffix: str) -> str:
    """`stem-00003-of-00008.suffix`, the name of one shard's file (sorts in shard order)."""
    return f"{stem}-{shard_index:05d}-of-{num_shards:05d}{suffix}"


def part_name(part_index: int) -> str:
    """The file name of a part inside a shard's parts folder."""
    return f"part-{part_index:06d}.jsonl"


def env_rank() -> tuple[int, int] | None:
    """(rank, world_size) from torchrun's environment, or None outside torchrun."""
    if "RANK" in os.environ and "WORLD_SIZE" in os.environ:
        return int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    return None
