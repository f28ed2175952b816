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
from numbers import Integral

from units.errors import UnitsError


class ShardError(UnitsError):
    """Sharding settings that are impossible, or an output folder left by a different run."""


class ShardIncompleteError(ShardError):
    """A finished shard (or run) whose rows are not its manifest rows, each once: lost or doubled."""


def shard_range(num_items: int, *, num_shards: int, shard_index: int) -> range:
    """The contiguous item indices that shard `shard_index` of `num_shards` owns.

    >>> [list(shard_range(5, num_shards=2, shard_index=i)) for i in range(2)]
    [[0, 1], [2, 3, 4]]
    """
    if isinstance(num_shards, bool) or not isinstance(num_shards, Integral) or num_shards < 1:
        raise ShardError(
            f"num_shards must be an integer >= 1, but is {num_shards!r}; fix: pass a positive count"
        )
    if (
        isinstance(shard_index, bool)
        or not isinstance(shard_index, Integral)
        or not 0 <= shard_index < num_shards
    ):
        raise ShardError(
            f"shard_index must be an integer in [0, {num_shards}), but is {shard_index!r}; fix: "
            "count shards from 0"
        )
    return range(num_items * shard_index // num_shards, num_items * (shard_index + 1) // num_shards)


def shard_name(stem: str, shard_index: int, num_shards: int, suffix: str) -> str:
    """`stem-00003-of-00008.suffix`, the name of one shard's file (sorts in shard order)."""
    return f"{stem}-{shard_index:05d}-of-{num_shards:05d}{suffix}"


def part_name(part_index: int) -> str:
    """The file name of a part inside a shard's parts folder."""
    return f"part-{part_index:06d}.jsonl"


def plan_shards(num_shards: int | None, shard_index: int | None) -> tuple[int, list[int], bool]:
    """(num_shards, the shards this process labels, whether to synchronise ranks at the end).

    Given counts win; otherwise torchrun's RANK / WORLD_SIZE choose; otherwise one shard.

    >>> plan_shards(3, None)[:2]  # outside torchrun: every shard, in turn
    (3, [0, 1, 2])
    """
    ranked = env_rank()
    if num_shards is not None:
        shard_range(0, num_shards=num_shards, shard_index=0)  # refuses a count below 1 by name
        if shard_index is not None:
            shards = [shard_index]
        elif ranked is not None:
            rank, world = ranked
            shards = list(range(rank, num_shards, world))
        else:
            shards = list(range(num_shards))
    elif ranked is not None:
        rank, num_shards = ranked
        shards = [rank] if shard_index is None else [shard_index]
    else:
        num_shards = 1
        shards = [0] if shard_index is None else [shard_index]
    for index in shards:
        shard_range(0, num_shards=num_shards, shard_index=index)  # validates both numbers
    distributed = ranked is not None and ranked[1] > 1 and _init_process_group()
    return num_shards, shards, distributed


def _init_process_group() -> bool:
    """Join torchrun's process group (gloo on CPU, nccl on GPU) so ranks can wait for each other."""
    if "MASTER_ADDR" not in os.environ:
        return False
    import torch
    import torch.distributed as dist

    if not dist.is_available():
        return False
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if torch.cuda.is_available() else "gloo")
    return True


def env_rank() -> tuple[int, int] | None:
    """(rank, world_size) from torchrun's environment, or None outside torchrun."""
    if "RANK" in os.environ and "WORLD_SIZE" in os.environ:
        return int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    return None
