"""Corpus -> unit sequences: sharded, resumable, length-bucketed labelling (`spire units label`).

The output folder holds `provenance.json` (extractor, manifest fingerprint, settings), one
`units-SSSSS-of-NNNNN.*` file per shard (records `id`, `units`, `n_frames`, `duration_s` and the
manifest's other fields, in manifest order), per-shard rejects and summaries, and, once every
shard is done, `rejects.jsonl` and `summary.json` (ok + rejected = total).

Killed at any moment, a rerun with the same settings redoes only the missing parts and ends with
the same bytes as an uninterrupted run, and a clean folder. Under torchrun each rank labels the
shard of its rank.

Nothing is lost silently: each shard is owned by one process at a time (an OS lock, see
`locks.py`; a second process is refused at once, naming the holder); a shard is marked done only
once its units and rejects hold each of its manifest rows exactly once (checked again on every
rerun, see `verify.py`); the output format is checked against every manifest field before any
audio is labelled (see `fields.py`).

>>> from units import KMeansQuantizer, MfccFeaturizer, UnitExtractor  # doctest: +SKIP
>>> summary = label_corpus("corpus/", extractor, "out/")  # doctest: +SKIP
>>> summary.ok + summary.rejected == summary.total  # doctest: +SKIP
True
"""

from __future__ import annotations

import itertools
import math
import os
import shutil
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from numbers import Integral, Real
from pathlib import Path
from typing import Any

from units.corpus.faults import maybe_die, maybe_pause
from units.corpus.items import AudioItem
from units.corpus.loading import label_loaded, submit_loads
from units.corpus.locks import hold
from units.corpus.output import (
    FOLDER_LOCK,
    FORMATS,
    finalize,
    merge_shard,
    shard_files,
    shard_lock,
    summary_file,
    write_shard_summary,
)
from units.corpus.provenance import check_provenance, manifest_items, scan_manifest
from units.corpus.shards import (
    ShardError,
    env_rank,
    part_name,
    plan_shards,
    shard_name,
    shard_range,
)
from units.corpus.verify import IdTally, Tallied, shard_tallies, verify_shard
from units.files import json_line, read_json, remove_stale_temps, write_lines
from units.progress import CorpusProgress


@dataclass(frozen=True, kw_only=True)
class LabelConfig:
    """Settings of a labelling run (the ones marked *binding* must match when resuming).

    A value out of its range raises `ShardError` naming the field when the config is made.
    """

    format: str = "jsonl.gz"
    """Output format: "jsonl", "jsonl.gz" or "arrow" (binding)."""
    num_shards: int | None = None
    """Number of shards, >= 1; None: WORLD_SIZE under torchrun, else 1 (binding)."""
    shard_index: int | None = None
    """The shard this process labels, in [0, num_shards); None: RANK under torchrun, else all
    shards in turn."""
    part_size: int = 64
    """Items per part file, >= 1: the unit of resumption and of length bucketing (binding)."""
    batch_seconds: float = 160.0
    """Audio seconds per call to the extractor, > 0 (similar lengths are batched together)."""
    load_workers: int = 4
    """Threads decoding audio ahead of the model, >= 1."""
    progress: bool = True
    """Show a progress bar (files/s, audio h/s, ETA) on stderr."""
    split: str | None = None
    """Split of a saved DatasetDict manifest."""
    audio_column: str | None = None
    """Audio column of a saved dataset manifest."""

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ShardError(
                f"format must be one of {sorted(FORMATS)}, but is {self.format!r}; fix: pick one"
            )
        if self.num_shards is not None:
            shard_range(0, num_shards=self.num_shards, shard_index=self.shard_index or 0)
        for name, low in (("part_size", 1), ("load_workers", 1), ("shard_index", 0)):
            value = getattr(self, name)
            if value is None and name == "shard_index":
                continue
            if isinstance(value, bool) or not isinstance(value, Integral) or value < low:
                raise ShardError(
                    f"{name} must be an integer >= {low}, but is {value!r}; fix: pass a positive count"
                )
        seconds = self.batch_seconds
        if (
            isinstance(seconds, bool)
            or not isinstance(seconds, Real)
            or not math.isfinite(seconds)
            or seconds <= 0
        ):
            raise ShardError(
                f"batch_seconds must be a finite number > 0, but is {seconds!r}; fix: pass e.g. 160"
            )


@dataclass(frozen=True)
class LabelSummary:
    """Counts of the shards this call covered; `complete` when every shard of the run is done.

    >>> LabelSummary(total=3, ok=2, rejected=1).ok + 1
    3
    """

    total: int = 0
    ok: int = 0
    rejected: int = 0
    audio_hours: float = 0.0
    n_frames: int = 0
    n_units: int = 0
    shards: tuple[int, ...] = ()
    num_shards: int = 1
    parts_resumed: int = 0
    processed_hours: float = 0.0
    wall_s: float = 0.0
    complete: bool = False
    out_dir: str = ""
    files: tuple[str, ...] = field(default_factory=tuple)

    def describe(self) -> str:
        # Only audio labelled in this call counts towards the rate (not resumed parts).
        rate = self.processed_hours * 3600 / self.wall_s if self.wall_s > 0 else 0.0
        return (
            f"labelled shards {list(self.shards)} of {self.num_shards}: ok {self.ok} + rejected "
            f"{self.rejected} = total {self.total}; {self.audio_hours:.4f} h of audio, "
            f"{self.n_frames} frames -> {self.n_units} units; {self.wall_s:.1f} s wall, "
            f"{rate:.1f} audio s per wall s; {self.parts_resumed} parts resumed"
        )


@dataclass(frozen=True)
class _Run:
    """What every shard of one call shares: where, how, and what the manifest holds."""

    manifest: str | os.PathLike[str]
    extractor: Any
    out: Path
    config: LabelConfig
    num_shards: int
    num_items: int
    schema: Any  # the Arrow schema over the whole manifest (format "arrow"), else None
    done: dict[int, IdTally]  # the expected rows of the shards found finished at the start

    def items(self, indices: range) -> Iterator[AudioItem]:
        """The manifest's items at `indices` (a shard's contiguous range), in order."""
        config = self.config
        every = manifest_items(self.manifest, split=config.split, audio_column=config.audio_column)
        return itertools.islice(every, indices.start, indices.stop)


def label_corpus(
    manifest: str | os.PathLike[str],
    extractor: Any,
    out_dir: str | os.PathLike[str],
    *,
    config: LabelConfig | None = None,
) -> LabelSummary:
    """Label a corpus manifest with `extractor` into `out_dir` (see the module docstring).

    One process at a time owns a shard: a second one on the same shard of the same folder is
    refused at once (`OutputLockedError`, naming the holder). A finished shard is checked to hold
    each of its manifest rows once, as a unit record or a reject (`ShardIncompleteError`).

    >>> summary = label_corpus("corpus.jsonl", extractor, "units_out")  # doctest: +SKIP
    """
    import time

    config = config or LabelConfig()
    start = time.perf_counter()
    out = _output_folder(out_dir)
    num_shards, shards, distributed = plan_shards(config.num_shards, config.shard_index)
    totals: dict[str, Any] = {"total": 0, "ok": 0, "rejected": 0, "n_frames": 0, "n_units": 0}
    audio_hours, resumed, processed_s = 0.0, 0, 0.0
    with ExitStack() as held:
        # Taken before anything is read or written, so a second process is refused at once.
        for shard_index in shards:
            what = f"shard {shard_index} of {num_shards} in {out}"
            held.enter_context(hold(shard_lock(out, shard_index, num_shards), what=what))
        maybe_pause("locked")
        num_items, fingerprint, schema = scan_manifest(
            manifest, fmt=config.format, split=config.split, audio_column=config.audio_column
        )
        provenance = {
            "extractor": extractor.provenance(),
            "manifest": {"path": str(manifest), "num_items": num_items, "ids_sha256": fingerprint},
            "label": {
                "format": config.format,
                "num_shards": num_shards,
                "part_size": config.part_size,
            },
            "record_keys": ["id", "units", "n_frames", "duration_s", "...manifest fields"],
        }
        with hold(out / FOLDER_LOCK, what=f"the shared files of {out}", wait=True):
            check_provenance(out / "provenance.json", provenance)
        finished = [i for i in shards if summary_file(out, i, num_shards).is_file()]
        done = shard_tallies(
            manifest_items(manifest, split=config.split, audio_column=config.audio_column),
            num_items=num_items,
            num_shards=num_shards,
            shards=finished,
        )
        run = _Run(manifest, extractor, out, config, num_shards, num_items, schema, done)
        for shard_index in shards:
            counts, parts_resumed, shard_processed_s = _label_shard(run, shard_index)
            for key in totals:
                totals[key] += counts[key]
            audio_hours += counts["audio_hours"]
            resumed += parts_resumed
            processed_s += shard_processed_s
        if distributed:
            _finalize_on_rank0(out, num_shards, num_items)
            complete = (out / "summary.json").is_file()
        else:
            complete = finalize(out, num_shards=num_shards, num_items=num_items) is not None
    return LabelSummary(
        **totals,
        audio_hours=audio_hours,
        shards=tuple(shards),
        num_shards=num_shards,
        parts_resumed=resumed,
        processed_hours=processed_s / 3600.0,
        wall_s=time.perf_counter() - start,
        complete=complete,
        out_dir=str(out),
        files=tuple(sorted(p.name for p in out.iterdir() if p.is_file())),
    )


def _output_folder(out_dir: str | os.PathLike[str]) -> Path:
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ShardError(
            f"out_dir must be a folder, but {out} is a file; fix: pass a new folder, or the "
            "folder of the run to resume"
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ShardError(
            f"out_dir must be a folder that can be created, but {out} cannot be ({error}); fix: "
            "pass a writable folder path"
        ) from error
    return out


def _finalize_on_rank0(out: Path, num_shards: int, num_items: int) -> None:
    """Wait for every rank, let rank 0 write the run's summary, wait again, leave the group."""
    import torch.distributed as dist

    dist.barrier()
    if dist.get_rank() == 0:
        finalize(out, num_shards=num_shards, num_items=num_items)
    dist.barrier()
    dist.destroy_process_group()


def _label_shard(run: _Run, shard_index: int) -> tuple[dict[str, Any], int, float]:
    """Label one shard (skipping finished parts); returns (its counts, parts resumed, audio s done).

    Called with the shard's lock held: every temporary of this shard is a killed run's.
    """
    out, config, num_shards = run.out, run.config, run.num_shards
    done = summary_file(out, shard_index, num_shards)
    parts_dir = out / ".parts" / shard_name("shard", shard_index, num_shards, "")
    indices = shard_range(run.num_items, num_shards=num_shards, shard_index=shard_index)

    def manifest_ids() -> Iterator[str]:
        return (item.id for item in run.items(indices))

    own = [path.name for path in shard_files(out, shard_index, num_shards, config.format)]
    if shard_index in run.done:
        # Finished earlier (perhaps killed before its clean-up): check it, then tidy up.
        summary = read_json(done)
        _verify(run, shard_index, run.done[shard_index], manifest_ids, summary)
        _clean_shard(out, parts_dir, own)
        return summary, 0, 0.0
    parts_dir.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(parts_dir)
    remove_stale_temps(out, targets=own)
    items = Tallied(run.items(indices))
    featurizer = run.extractor.featurizer
    sample_rate = int(featurizer.sample_rate)
    progress = CorpusProgress(
        total=len(indices),
        desc=f"label {out.name}" + (f" [shard {shard_index}/{num_shards}]" if num_shards > 1 else ""),
        enabled=config.progress,
        position=shard_index if env_rank() else 0,
    )
    paths, resumed, written = [], 0, 0
    with ThreadPoolExecutor(max_workers=config.load_workers) as pool:
        pending = None  # (path, futures) of the part whose audio is decoding ahead
        for part_index, chunk in enumerate(_chunks(iter(items), config.part_size)):
            path = parts_dir / part_name(part_index)
            paths.append(path)
            if path.is_file():
                resumed += 1
                progress.update(files=len(chunk))
                continue
            futures = submit_loads(pool, chunk, sample_rate=sample_rate, featurizer=featurizer)
            if pending is not None:
                written += _finish_part(pending, run.extractor, config, sample_rate, progress)
                maybe_die("part", written)
            pending = (path, futures)
        if pending is not None:
            written += _finish_part(pending, run.extractor, config, sample_rate, progress)
            maybe_die("part", written)
    progress.close()
    counts = merge_shard(
        paths,
        out,
        shard_index=shard_index,
        num_shards=num_shards,
        fmt=config.format,
        schema=run.schema,
    )
    maybe_die("merge", 1)
    # Checked before the summary (the shard's "done" mark) is written: a shard is never done
    # with rows lost or doubled.
    _verify(run, shard_index, items.tally, manifest_ids, counts)
    write_shard_summary(out, shard_index=shard_index, num_shards=num_shards, counts=counts)
    maybe_die("summary", 1)
    _clean_shard(out, parts_dir, own)
    return read_json(done), resumed, progress.audio_s


def _verify(
    run: _Run, shard_index: int, expected: IdTally, manifest_ids: Any, summary: dict[str, Any]
) -> None:
    verify_shard(
        run.out,
        shard_index=shard_index,
        num_shards=run.num_shards,
        fmt=run.config.format,
        expected=expected,
        manifest_ids=manifest_ids,
        summary=summary,
    )


def _clean_shard(out: Path, parts_dir: Path, own: list[str]) -> None:
    """Remove a done shard's parts and any temporaries of its files (its lock is held)."""
    shutil.rmtree(parts_dir, ignore_errors=True)
    remove_stale_temps(out, targets=own)
    _remove_empty(out / ".parts")


def _finish_part(
    pending: tuple, extractor: Any, config: LabelConfig, sample_rate: int, progress: CorpusProgress
) -> int:
    path, futures = pending
    loaded = [future.result() for future in futures]
    lines, audio_s = label_loaded(
        loaded, extractor, sample_rate=sample_rate, batch_seconds=config.batch_seconds
    )
    write_lines(path, (json_line(line) for line in lines), compress=False)
    progress.update(files=len(loaded), audio_s=audio_s)
    return 1


def _chunks(items: Any, size: int):
    while True:
        chunk = list(itertools.islice(items, size))
        if not chunk:
            return
        yield chunk


def _remove_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass  # other shards still have parts there


def print_summary(summary: LabelSummary, file: Any = None) -> None:
    print(summary.describe(), file=file or sys.stdout)
