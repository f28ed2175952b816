"""One writer per output: OS-level locks on files inside a labelling output folder.

`hold(path)` takes an exclusive `fcntl.flock` on `path` and writes the holder (pid, host, start
time, command) into it. The kernel releases the lock when its process ends, however it ends, so
a killed run never leaves a lock that blocks the rerun. The holder removes the file while it
still holds the lock; whoever then acquires the old, unlinked file sees that its inode is no
longer the one at `path` and retries, so removing lock files is safe.

A lock on a network filesystem is as strong as that filesystem's flock (NFSv4 and Lustre
mounted with `-o flock` honour it across hosts; NFSv3 without lockd does not).

>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / ".lock"
>>> with hold(path, what="the folder"):
...     path.exists()
True
>>> path.exists()
False
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from units.corpus.shards import ShardError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows has no flock
    fcntl = None  # type: ignore[assignment]

__all__ = ["OutputLockedError", "hold"]


class OutputLockedError(ShardError):
    """Another live process holds the lock of an output (a shard) that this run would write.

    `path` is the lock file, `holder` what that process wrote into it (pid, host, since, command).
    """

    def __init__(self, message: str, *, path: Path, holder: dict[str, Any]) -> None:
        super().__init__(message)
        self.path = path
        self.holder = holder


@contextmanager
def hold(path: Path, *, what: str, wait: bool = False) -> Iterator[None]:
    """Hold an exclusive lock on `path` (created if missing) for the `with` block; remove it after.

    `wait=False` refuses at once with `OutputLockedError` naming the holder when another process
    holds it; `wait=True` blocks until it is free (for short critical sections).
    """
    if fcntl is None:  # pragma: no cover
        import warnings

        warnings.warn(
            f"{what} is not locked: this system has no fcntl.flock, so keep one process per "
            "output folder yourself",
            stacklevel=3,
        )
        yield
        return
    fd = _acquire(path, what=what, wait=wait)
    try:
        _write_holder(fd)
        yield
    finally:
        # Unlink before unlocking: a process that opened the old file re-checks the inode.
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        os.close(fd)


def _acquire(path: Path, *, what: str, wait: bool) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)  # the umask applies, as for any file
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise OutputLockedError(
                _refusal(path, what, holder), path=path, holder=holder
            ) from None
        except BaseException:
            os.close(fd)
            raise
        if _still_linked(fd, path):
            return fd
        os.close(fd)  # its holder removed it while we waited: lock the file now at `path`


def _still_linked(fd: int, path: Path) -> bool:
    try:
        now = os.stat(path)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (mine.st_dev, mine.st_ino) == (now.st_dev, now.st_ino)


def _write_holder(fd: int) -> None:
    holder = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "since": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": " ".join(sys.argv)[:500],
    }
    data = (json.dumps(holder, sort_keys=True) + "\n").encode("utf-8")
    os.ftruncate(fd, 0)
    os.pwrite(fd, data, 0)


def _read_holder(fd: int) -> dict[str, Any]:
    try:
        data = os.pread(fd, 4096, 0)
        holder = json.loads(data.decode("utf-8"))
    except (OSError, ValueError):
        return {}
    return holder if isinstance(holder, dict) else {}


def _refusal(path: Path, what: str, holder: dict[str, Any]) -> str:
    if holder.get("pid"):
        who = (
            f"process {holder['pid']} on host {holder.get('host', '?')} (since "
            f"{holder.get('since', '?')}: {holder.get('command', '?')})"
        )
        stop = f"wait for it to end or stop it (kill {holder['pid']} on {holder.get('host', '?')})"
    else:
        who = "another process (it has not written its name yet)"
        stop = "wait for it to end or stop it"
    return (
        f"{what} must be written by one process at a time, but {who} holds {path}; fix: {stop}, "
        "then rerun (a rerun resumes its work), or label into another out_dir"
    )
