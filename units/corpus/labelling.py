"""Corpus -> unit sequences: sharded, resumable, length-bucketed labelling (`spire units label`).

The output folder holds `provenance.json` (extractor, manifest fingerprint, settings), one
`units-SSSSS-of-NNNNN.*` file per shard (records `id`, `units`, `n_frames`, `duration_s` and the
manifest's other fields, in manifest order), per-shard rejects and summaries, and, once every
shard is done, `rejects.jsonl` and `summary.json` (ok + rejected = total).

Killed at any moment, a rerun with the same settings redoes only the missing parts and ends with
the same bytes as an uninterrupted run. Under torchrun each rank labels the shard of its rank.

>>> from units import KMeansQuantizer, MfccFeaturizer, UnitExtractor  # doctest: +SKIP
>>> summary = label_corpus("corpus/", extractor, "out/")  # doctest: +SKIP
>>> summary.ok + summary.rejected == summary.total  # doctest: +SKIP
True
"""

from __future__ import annotations

import hashlib
import itertools
import os
import shutil
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from units.corpus.faults import maybe_die
from units.corpus.loading import label_loaded, submit_loads
from units.corpus.manifests import read_manifest
from units.corpus.output import (
    FORMATS,
    finalize,
    merge_shard,
    shard_files,
    summary_file,
    write_shard_summary,
)
from units.corpus.shards import ShardError, env_rank, part_name, shard_name, shard_range
from units.files import json_line, read_json, remove_stale_temps, write_json, write_lines
from units.progress import CorpusProgress


@dataclass(frozen=True, kw_only=True)
class LabelConfig:
    """Settings of a labelling run (the ones marked *binding* must match when resuming)."""

    format: str = "jsonl.gz"
    """Output format: "jsonl", "jsonl.gz" or "arrow" (binding)."""
    num_shards: int | None = None
    """Number of shards; None: WORLD_SIZE under torchrun, else 1 (binding)."""
    shard_index: int | None = None
    """The shard this process labels; None: RANK under torchrun, else all shards in turn."""
    part_size: int = 64
    """Items per part file: the unit of resumption and of length bucketing (binding)."""
    batch_seconds: float = 160.0
    """Audio seconds per call to the extractor (similar lengths are batched together)."""
    load_workers: int = 4
    """Threads decoding audio ahead of the model."""
    progress: bool = True
    """Show a progress bar (files/s, audio h/s, ETA) on stderr."""
    split: str | None = None
    """Split of a saved DatasetDict manifest."""
    audio_column: str | None = None
    """Audio column of a saved dataset manifest."""


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


def label_corpus(
    manifest: str | os.PathLike[str],
    extractor: Any,
    out_dir: str | os.PathLike[str],
    *,
    config: LabelConfig | None = None,
) -> LabelSummary:
    """Label a corpus manifest with `extractor` into `out_dir` (see the module docstring).

    >>> summary = label_corpus("corpus.jsonl", extractor, "units_out")  # doctest: +SKIP
    """
    import time

    config = config or LabelConfig()
    start = time.perf_counter()
    if config.format not in FORMATS:
        raise ShardError(
            f"format must be one of {sorted(FORMATS)}, but is {config.format!r}; fix: pick one"
        )
    if config.part_size < 1 or config.batch_seconds <= 0:
        raise ShardError(
            f"part_size must be >= 1 and batch_seconds > 0, but are {config.part_size} and "
            f"{config.batch_seconds}; fix: pass positive values"
        )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    num_shards, shards, distributed = _plan_shards(config)
    num_items, fingerprint = _fingerprint(manifest, config)
    provenance = {
        "extractor": extractor.provenance(),
        "manifest": {"path": str(manifest), "num_items": num_items, "ids_sha256": fingerprint},
        "label": {"format": config.format, "num_shards": num_shards, "part_size": config.part_size},
        "record_keys": ["id", "units", "n_frames", "duration_s", "...manifest fields"],
    }
    _check_provenance(out / "provenance.json", provenance)

    totals: dict[str, Any] = {"total": 0, "ok": 0, "rejected": 0, "n_frames": 0, "n_units": 0}
    audio_hours, resumed, processed_s = 0.0, 0, 0.0
    for shard_index in shards:
        counts, parts_resumed, shard_processed_s = _label_shard(
            manifest,
            extractor,
            out,
            config,
            shard_index=shard_index,
            num_shards=num_shards,
            num_items=num_items,
        )
        for key in totals:
            totals[key] += counts[key]
        audio_hours += counts["audio_hours"]
        resumed += parts_resumed
        processed_s += shard_processed_s
    if distributed:
        _finalize_on_rank0(out, num_shards)
        complete = (out / "summary.json").is_file()
    else:
        complete = finalize(out, num_shards=num_shards) is not None
    summary = LabelSummary(
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
    return summary


def _plan_shards(config: LabelConfig) -> tuple[int, list[int], bool]:
    """(num_shards, the shards this process labels, whether to synchronise ranks at the end)."""
    ranked = env_rank()
    if config.num_shards is not None:
        num_shards = config.num_shards
        if config.shard_index is not None:
            shards = [config.shard_index]
        elif ranked is not None:
            rank, world = ranked
            shards = list(range(rank, num_shards, world))
        else:
            shards = list(range(num_shards))
    elif ranked is not None:
        rank, num_shards = ranked
        shards = [rank] if config.shard_index is None else [config.shard_index]
    else:
        num_shards = 1
        shards = [0] if config.shard_index is None else [config.shard_index]
    for shard_index in shards:
        shard_range(0, num_shards=num_shards, shard_index=shard_index)  # validates both numbers
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


def _finalize_on_rank0(out: Path, num_shards: int) -> None:
    """Wait for every rank, let rank 0 write the run's summary, wait again, leave the group."""
    import torch.distributed as dist

    dist.barrier()
    if dist.get_rank() == 0:
        finalize(out, num_shards=num_shards)
    dist.barrier()
    dist.destroy_process_group()


def _fingerprint(manifest: str | os.PathLike[str], config: LabelConfig) -> tuple[int, str]:
    """(number of items, sha256 of the ids in order): a rerun on a changed manifest is refused."""
    digest = hashlib.sha256()
    count = 0
    for item in read_manifest(manifest, split=config.split, audio_column=config.audio_column):
        digest.update(item.id.encode("utf-8") + b"\n")
        count += 1
    return count, digest.hexdigest()


def _check_provenance(path: Path, provenance: dict[str, Any]) -> None:
    import json

    normalised = json.loads(json.dumps(provenance, sort_keys=True))
    if path.is_file():
        previous = read_json(path)
        # The manifest is identified by its ids; the same corpus reached by another path resumes.
        if _without_path(previous) != _without_path(normalised):
            differing = sorted(
                k for k in set(previous) | set(normalised) if previous.get(k) != normalised.get(k)
            )
            raise ShardError(
                f"the output folder must hold the same run to resume, but {path} differs in "
                f"{differing}; fix: rerun with the same manifest, extractor, format, part size and "
                "shard count, or choose a new --out folder"
            )
        return
    write_json(path, normalised)


def _without_path(provenance: dict[str, Any]) -> dict[str, Any]:
    manifest = {k: v for k, v in provenance.get("manifest", {}).items() if k != "path"}
    return {**provenance, "manifest": manifest}


def _label_shard(
    manifest: str | os.PathLike[str],
    extractor: Any,
    out: Path,
    config: LabelConfig,
    *,
    shard_index: int,
    num_shards: int,
    num_items: int,
) -> tuple[dict[str, Any], int, float]:
    """Label one shard (skipping finished parts); returns (its counts, parts resumed, audio s done)."""
    done = summary_file(out, shard_index, num_shards)
    if done.is_file():
        return read_json(done), 0, 0.0
    parts_dir = out / ".parts" / shard_name("shard", shard_index, num_shards, "")
    parts_dir.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(parts_dir)
    own = [path.name for path in shard_files(out, shard_index, num_shards, config.format)]
    remove_stale_temps(out, targets=own)
    indices = shard_range(num_items, num_shards=num_shards, shard_index=shard_index)
    items = itertools.islice(
        read_manifest(manifest, split=config.split, audio_column=config.audio_column),
        indices.start,
        indices.stop,
    )
    featurizer = extractor.featurizer
    sample_rate = int(featurizer.sample_rate)
    progress = CorpusProgress(
        total=len(indices),
        desc=f"shard {shard_index}/{num_shards}",
        enabled=config.progress,
        position=shard_index if env_rank() else 0,
    )
    paths, resumed, written = [], 0, 0
    with ThreadPoolExecutor(max_workers=max(1, config.load_workers)) as pool:
        pending = None  # (path, futures) of the part whose audio is decoding ahead
        for part_index, chunk in enumerate(_chunks(items, config.part_size)):
            path = parts_dir / part_name(part_index)
            paths.append(path)
            if path.is_file():
                resumed += 1
                progress.update(files=len(chunk))
                continue
            futures = submit_loads(pool, chunk, sample_rate=sample_rate, featurizer=featurizer)
            if pending is not None:
                written += _finish_part(pending, extractor, config, sample_rate, progress)
                maybe_die("part", written)
            pending = (path, futures)
        if pending is not None:
            written += _finish_part(pending, extractor, config, sample_rate, progress)
            maybe_die("part", written)
    progress.close()
    counts = merge_shard(
        paths, out, shard_index=shard_index, num_shards=num_shards, fmt=config.format
    )
    maybe_die("merge", 1)
    write_shard_summary(out, shard_index=shard_index, num_shards=num_shards, counts=counts)
    shutil.rmtree(parts_dir, ignore_errors=True)
    _remove_empty(out / ".parts")
    return read_json(done), resumed, progress.audio_s


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
