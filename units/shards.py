"""Shards, parts and atomic files: the pieces that make corpus labelling resumable.

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

import gzip
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from units.errors import UnitsError

TMP_PREFIX = ".tmp-"


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


@contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "wb") -> Iterator[IO[Any]]:
    """Open a temporary file beside `path`; on success fsync it and rename it onto `path`.

    A crash at any point leaves either the old file (or none) or the complete new one, never a
    truncated one; stray temporaries start with `.tmp-` and are removed by `remove_stale_temps`.

    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "x.txt"
    >>> with atomic_open(target, "w") as handle:
    ...     _ = handle.write("done")
    >>> target.read_text()
    'done'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f"{TMP_PREFIX}{path.name}.", dir=path.parent)
    try:
        encoding = None if "b" in mode else "utf-8"
        with os.fdopen(fd, mode, encoding=encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: str | os.PathLike[str], data: Any) -> None:
    """Write `data` as indented, key-sorted JSON atomically (same data -> same bytes)."""
    with atomic_open(path, "w") as handle:
        handle.write(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def read_json(path: str | os.PathLike[str]) -> Any:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def json_line(record: dict[str, Any]) -> str:
    """One compact JSONL line; unit characters stay UTF-8 (4 bytes, not a 12-byte escape)."""
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"


def write_lines(path: str | os.PathLike[str], lines: Iterable[str], *, compress: bool) -> None:
    """Write text lines atomically; gzip with mtime=0 and no name so equal text gives equal bytes."""
    with atomic_open(path, "wb") as raw:
        if compress:
            with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as handle:
                for line in lines:
                    handle.write(line.encode("utf-8"))
        else:
            for line in lines:
                raw.write(line.encode("utf-8"))


def remove_stale_temps(
    folder: str | os.PathLike[str],
    *,
    targets: Iterable[str] | None = None,
    older_than_s: float | None = None,
) -> int:
    """Delete `.tmp-*` files a killed run left in `folder`; returns how many were removed.

    `targets` limits it to the temporaries of those file names (files another process may be
    writing are left alone); `older_than_s` spares temporaries younger than that.
    """
    import time

    folder = Path(folder)
    if not folder.is_dir():
        return 0
    prefixes = (
        tuple(f"{TMP_PREFIX}{name}." for name in targets) if targets is not None else (TMP_PREFIX,)
    )
    now = time.time()
    removed = 0
    for entry in folder.iterdir():
        if not entry.name.startswith(prefixes):
            continue
        try:
            if older_than_s is not None and now - entry.stat().st_mtime < older_than_s:
                continue
            entry.unlink()
            removed += 1
        except FileNotFoundError:
            pass  # its writer renamed or removed it meanwhile
    return removed


def env_rank() -> tuple[int, int] | None:
    """(rank, world_size) from torchrun's environment, or None outside torchrun."""
    if "RANK" in os.environ and "WORLD_SIZE" in os.environ:
        return int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    return None


def maybe_die(point: str, count: int) -> None:
    """Test hook: SIGKILL this process at `point` once `count` reaches SPIRE_TEST_KILL=point:count.

    Lets tests kill a labelling run at an exact place (after k parts, during the merge) without
    timing races; unset in normal use, so it costs one dict lookup.
    """
    wanted = os.environ.get("SPIRE_TEST_KILL")
    if not wanted:
        return
    name, _, number = wanted.partition(":")
    if name == point and count >= int(number or 0):
        import signal

        os.kill(os.getpid(), signal.SIGKILL)
