"""Turn a shard's part files into its final files, and all shards' summaries into one.

Per shard (written in this order, each atomically; the summary last marks the shard done):
`units-SSSSS-of-NNNNN.{jsonl,jsonl.gz,arrow}`, `rejects-SSSSS-of-NNNNN.jsonl`,
`summary-SSSSS-of-NNNNN.json`. When every shard is done: `rejects.jsonl` and `summary.json`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from units.corpus.shards import shard_name
from units.files import json_line, read_json, remove_stale_temps, write_json, write_lines

FORMATS = {"jsonl": ".jsonl", "jsonl.gz": ".jsonl.gz", "arrow": ".arrow"}
COUNT_KEYS = ("total", "ok", "rejected", "n_frames", "n_units")
FINAL_FILES = ("summary.json", "rejects.jsonl", "provenance.json")


def units_file(out_dir: Path, shard_index: int, num_shards: int, fmt: str) -> Path:
    return out_dir / shard_name("units", shard_index, num_shards, FORMATS[fmt])


def rejects_file(out_dir: Path, shard_index: int, num_shards: int) -> Path:
    return out_dir / shard_name("rejects", shard_index, num_shards, ".jsonl")


def shard_files(out_dir: Path, shard_index: int, num_shards: int, fmt: str) -> list[Path]:
    """The final files of one shard (only the process labelling that shard writes them)."""
    return [
        units_file(out_dir, shard_index, num_shards, fmt),
        rejects_file(out_dir, shard_index, num_shards),
        summary_file(out_dir, shard_index, num_shards),
    ]


def summary_file(out_dir: Path, shard_index: int, num_shards: int) -> Path:
    return out_dir / shard_name("summary", shard_index, num_shards, ".json")


def read_part(path: Path) -> Iterator[dict[str, Any]]:
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            yield json.loads(line)


def merge_shard(
    parts: Sequence[Path], out_dir: Path, *, shard_index: int, num_shards: int, fmt: str
) -> dict[str, Any]:
    """Write the shard's units and rejects files from its parts; return its counts."""
    counts = dict.fromkeys(COUNT_KEYS, 0)
    counts["audio_s"] = 0.0
    rejects: list[str] = []

    def records() -> Iterator[dict[str, Any]]:
        for part in parts:
            for line in read_part(part):
                counts["total"] += 1
                if "reject" in line:
                    counts["rejected"] += 1
                    rejects.append(json_line(line["reject"]))
                    continue
                record = line["ok"]
                counts["ok"] += 1
                counts["n_frames"] += record["n_frames"]
                counts["n_units"] += line["n_units"]
                counts["audio_s"] += record["duration_s"]
                yield record

    target = units_file(out_dir, shard_index, num_shards, fmt)
    if fmt == "arrow":
        _write_arrow(target, list(records()))
    else:
        write_lines(target, (json_line(r) for r in records()), compress=fmt == "jsonl.gz")
    write_lines(rejects_file(out_dir, shard_index, num_shards), rejects, compress=False)
    return counts


def _write_arrow(path: Path, records: list[dict[str, Any]]) -> None:
    import pyarrow as pa

    from units.files import atomic_open

    base = pa.schema(
        [
            ("id", pa.string()),
            ("units", pa.string()),
            ("n_frames", pa.int64()),
            ("duration_s", pa.float64()),
        ]
    )
    table = pa.Table.from_pylist(records) if records else base.empty_table()
    # An Arrow IPC stream: what `datasets.Dataset.from_file` reads; same rows -> same bytes.
    with atomic_open(path, "wb") as raw:
        with pa.ipc.new_stream(raw, table.schema) as writer:
            writer.write_table(table)


def write_shard_summary(
    out_dir: Path, *, shard_index: int, num_shards: int, counts: dict[str, Any]
) -> None:
    summary = {"shard_index": shard_index, "num_shards": num_shards, **counts}
    summary["audio_hours"] = round(summary.pop("audio_s") / 3600.0, 9)
    write_json(summary_file(out_dir, shard_index, num_shards), summary)


def finalize(out_dir: Path, *, num_shards: int) -> dict[str, Any] | None:
    """Write `summary.json` and `rejects.jsonl` once every shard is done; None until then.

    Any process may call this; two writing at once write the same bytes, atomically.
    """
    paths = [summary_file(out_dir, i, num_shards) for i in range(num_shards)]
    if not all(path.is_file() for path in paths):
        return None
    # Temporaries of a finalizer killed earlier; a live one's are seconds old and kept.
    remove_stale_temps(out_dir, targets=FINAL_FILES, older_than_s=120.0)
    summaries = [read_json(path) for path in paths]
    total = {key: sum(s[key] for s in summaries) for key in COUNT_KEYS}
    total["audio_hours"] = round(sum(s["audio_hours"] for s in summaries), 9)
    total["num_shards"] = num_shards
    total["shards_done"] = num_shards

    def reject_lines() -> Iterator[str]:
        for i in range(num_shards):
            with open(rejects_file(out_dir, i, num_shards), encoding="utf-8") as handle:
                yield from handle

    write_lines(out_dir / "rejects.jsonl", reject_lines(), compress=False)
    write_json(out_dir / "summary.json", total)
    return total
