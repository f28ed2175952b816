"""Atomic files: written whole or not at all, plus the JSON / JSONL helpers built on them.

Every writer in `units` and `spire` goes through `atomic_open`, so a kill at any point leaves
the old file or the complete new one, never a truncated one.
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

__all__ = [
    "TMP_PREFIX",
    "atomic_open",
    "json_line",
    "json_text",
    "read_json",
    "remove_stale_temps",
    "write_json",
    "write_lines",
]

TMP_PREFIX = ".tmp-"


def _umask() -> int:
    # Linux states it in /proc (read-only, so safe while other threads create files); elsewhere
    # os.umask can only be read by setting it, so set it back at once.
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0)
    os.umask(mask)
    return mask


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
        # mkstemp makes 0600 files; outputs get the mode any other tool's would (0666 & ~umask).
        os.fchmod(fd, 0o666 & ~_umask())
        encoding = None if "b" in mode else "utf-8"
        with os.fdopen(fd, mode, encoding=encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def json_text(data: Any) -> str:
    """`data` as indented, key-sorted JSON text, the one layout of every JSON file written here."""
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_json(path: str | os.PathLike[str], data: Any) -> None:
    """Write `data` as indented, key-sorted JSON atomically (same data -> same bytes)."""
    with atomic_open(path, "w") as handle:
        handle.write(json_text(data))


def write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write `text` (UTF-8) atomically: a reader, or a hard-linked copy, never sees half of it."""
    with atomic_open(path, "w") as handle:
        handle.write(text)


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
