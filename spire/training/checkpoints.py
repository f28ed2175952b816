"""Checkpoints known to be complete: a marker written last, checked before any resume.

    trainer = build_trainer(cfg)                     # CompleteCheckpointCallback is one of its callbacks
    resume = resume_checkpoint(cfg.output_dir, "auto")

The Trainer writes `checkpoint-N/` in place, file after file; a pre-emption during that save (a
window of minutes for a 7B model with optimizer state) leaves a folder that looks like a
checkpoint. So after the Trainer's save (and every callback's addition, e.g. `config.yaml`),
`CompleteCheckpointCallback` flushes the files to disk and writes `checkpoint-N/spire-complete.json`
(every file with its size) under a temporary name renamed into place. Only then are older
complete checkpoints beyond `save_total_limit` deleted (here, not by the Trainer, which would
delete them before the new one is complete; each loses its marker before its files).

`resume_checkpoint` resumes from the newest checkpoint whose marker matches its files. Every
other `checkpoint-N/` (interrupted saves, half-deleted old ones, folders written before spire
marked them) is never used: it is moved to `output_dir/partial/checkpoint-N` with a warning, kept
for inspection rather than deleted (delete `partial/` when it is not needed; a resumed run would
otherwise write its own `checkpoint-N` over the leftovers).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import warnings
from pathlib import Path
from typing import Any, Literal

from transformers import TrainerCallback

from spire.errors import ConfigError, SpireError

__all__ = ["MARKER", "PARTIAL_DIR", "CompleteCheckpointCallback", "checkpoint_problem", "explicit_checkpoint",
           "resume_checkpoint", "write_marker"]

MARKER = "spire-complete.json"
PARTIAL_DIR = "partial"
_NAME = re.compile(r"^checkpoint-(\d+)$")


def _files(folder: Path) -> dict[str, int]:
    return {
        path.relative_to(folder).as_posix(): path.stat().st_size
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name != MARKER and not path.name.startswith(f".{MARKER}")
    }


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_marker(folder: str | Path, step: int) -> Path:
    """Flush every file of `folder` to disk, then record them (with sizes) in its marker, atomically.

    >>> write_marker("runs/it/checkpoint-500", 500)          # doctest: +SKIP
    PosixPath('runs/it/checkpoint-500/spire-complete.json')
    """
    folder = Path(folder)
    files = _files(folder)
    for name in files:
        _fsync(folder / name)
    tmp = folder / f".{MARKER}.tmp"
    tmp.write_text(json.dumps({"step": step, "files": files}, indent=1), encoding="utf-8")
    _fsync(tmp)
    os.replace(tmp, folder / MARKER)
    _fsync(folder)  # the rename itself
    return folder / MARKER


def checkpoint_problem(folder: str | Path) -> str | None:
    """None when `folder` holds a marker that matches its files, else what is wrong.

    >>> checkpoint_problem("runs/it/checkpoint-500")        # doctest: +SKIP
    "optimizer.pt has 1048576 bytes, but the marker recorded 2097152"
    """
    folder = Path(folder)
    try:
        record = json.loads((folder / MARKER).read_text(encoding="utf-8"))
        files = record["files"]
        if not isinstance(files, dict) or not files:
            return f"its {MARKER} lists no files"
        for name, size in files.items():
            path = folder / name
            if not path.is_file():
                return f"{name} is missing (listed in {MARKER})"
            if path.stat().st_size != size:
                return f"{name} has {path.stat().st_size} bytes, but {MARKER} recorded {size}"
    except FileNotFoundError:
        return f"it has no {MARKER} (its save was interrupted, or it was written before spire marked checkpoints)"
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        return f"its {MARKER} cannot be read: {error}"
    return None


def _checkpoints(output_dir: Path) -> list[tuple[int, Path]]:
    """(step, folder) of every checkpoint-N folder, newest first."""
    if not output_dir.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in output_dir.iterdir() if (m := _NAME.match(p.name)) and p.is_dir()]
    return sorted(found, reverse=True)


def _move_aside(folder: Path) -> Path:
    target_dir = folder.parent / PARTIAL_DIR
    target_dir.mkdir(exist_ok=True)
    target = target_dir / folder.name
    suffix = 0
    while target.exists():
        suffix += 1
        target = target_dir / f"{folder.name}.{suffix}"
    os.replace(folder, target)
    return target


def resume_checkpoint(output_dir: str | Path, mode: Literal["latest", "auto"], *,
                      move_partials: bool = True) -> str | None:
    """The newest complete `checkpoint-N` of `output_dir`; incomplete ones are moved to `partial/`.

    `mode="auto"` returns None when there is no complete checkpoint (a fresh start), `"latest"`
    raises. `move_partials=False` (processes other than rank 0) only reads.

    >>> resume_checkpoint("runs/it", "auto")                  # doctest: +SKIP
    'runs/it/checkpoint-500'
    """
    output_dir = Path(output_dir)
    chosen: Path | None = None
    skipped: list[tuple[Path, str]] = []
    for _, folder in _checkpoints(output_dir):
        problem = checkpoint_problem(folder)
        if problem is None and chosen is None:
            chosen = folder
        elif problem is not None:
            skipped.append((folder, problem))
    for folder, problem in skipped:
        where = f"moved to {PARTIAL_DIR}/" if move_partials else "left in place (not rank 0)"
        if move_partials:
            try:
                where = f"moved to {_move_aside(folder)}"
            except OSError as error:  # another process may have moved it first
                where = f"could not be moved ({error})"
        warnings.warn(
            f"{folder} is not a complete checkpoint: {problem}; it is not used and {where}, kept for inspection. "
            f"Resuming from {chosen or 'the start (no complete checkpoint)'}. "
            f"If you know it is complete, resume from it explicitly with resume=<its path>.",
            stacklevel=2,
        )
    if chosen is None and mode == "latest":
        raise SpireError(
            f"resume=latest needs a complete checkpoint-* folder in {output_dir}, but there is none; "
            "fix: drop resume to start afresh, or set resume=auto"
        )
    return str(chosen) if chosen is not None else None


def explicit_checkpoint(path: str | Path) -> str:
    """A checkpoint folder named by the user: refused if its marker disagrees with its files;
    accepted with a warning when it has no marker at all (older spire, other tools)."""
    folder = Path(path)
    if not (folder / "trainer_state.json").is_file():
        raise ConfigError("resume", f"must be a checkpoint folder with trainer_state.json, but is {str(path)!r}")
    problem = checkpoint_problem(folder)
    if problem is not None and (folder / MARKER).exists():
        raise ConfigError("resume", f"must be a complete checkpoint, but {folder} is not: {problem}; "
                          "fix: resume from an earlier checkpoint-N, or use resume=auto")
    if problem is not None:
        warnings.warn(f"{folder} has no {MARKER}, so nothing shows that its save finished; "
                      "resuming from it because it was named explicitly", stacklevel=2)
    return str(folder)


class CompleteCheckpointCallback(TrainerCallback):
    """Mark each checkpoint complete once all its files are written; then keep at most
    `save_total_limit` complete checkpoints (None: all). Put it after any callback that adds files
    to a checkpoint in `on_save` (they would be written after the marker, and not be listed)."""

    def __init__(self, save_total_limit: int | None) -> None:
        self.save_total_limit = save_total_limit

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        # A save into an existing checkpoint-N (a run resumed from an earlier one) overwrites it
        # file by file: its old marker must not vouch for the mixture a kill would leave.
        if control.should_save and state.is_world_process_zero:
            (Path(args.output_dir) / f"checkpoint-{state.global_step}" / MARKER).unlink(missing_ok=True)

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            dist.barrier()  # every rank's files (e.g. its rng_state_<rank>.pth) are written
        if not state.is_world_process_zero:
            return
        folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        if not folder.is_dir():
            return
        write_marker(folder, state.global_step)
        if self.save_total_limit is not None:
            complete = [f for _, f in _checkpoints(Path(args.output_dir)) if checkpoint_problem(f) is None]
            for old in complete[self.save_total_limit:]:
                # Marker first: a kill halfway through the deletion leaves an unmarked folder, never used.
                (old / MARKER).unlink()
                shutil.rmtree(old)
