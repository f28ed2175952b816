"""Turn a shard's part files into its final files, and all shards' summaries into one.

Per shard (written in this order, each atomically; the summary last marks the shard done):
`units-SSSSS-of-NNNNN.{jsonl,jsonl.gz,arrow}`, `rejects-SSSSS-of-NNNNN.jsonl`,
`summary-SSSSS-of-NNNNN.json`. When every shard is done: `rejects.jsonl` and `summary.json`.

While a run works, `.lock-shard-SSSSS-of-NNNNN` marks (and locks) each shard being labelled and
`.lock` guards the folder's shared files (`provenance.json` and the run's summary); both are
removed when their holder is done, so a finished folder holds only the files above.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from units.corpus.faults import maybe_die
from units.corpus.locks import hold
from units.corpus.shards import ShardIncompleteError, shard_name
from units.files import (
    atomic_open,
    json_line,
    json_text,
    read_json,
    remove_stale_temps,
    write_lines,
)

FORMATS = {"jsonl": ".jsonl", "jsonl.gz": ".jsonl.gz", "arrow": ".arrow"}
COUNT_KEYS = ("total", "ok", "rejected", "n_frames", "n_units")
FINAL_FILES = ("summary.json", "rejects.jsonl", "provenance.json")
FOLDER_LOCK = ".lock"


def shard_lock(out_dir: Path, shard_index: int, num_shards: int) -> Path:
    """The lock file of one shard: held by the one process labelling it."""
    return out_dir / shard_name(".lock-shard", shard_index, num_shards, "")


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
    parts: Sequence[Path],
    out_dir: Path,
    *,
    shard_index: int,
    num_shards: int,
    fmt: str,
    schema: Any = None,
) -> dict[str, Any]:
    """Write the shard's units and rejects files from its parts; return its counts.

    `schema` is the Arrow schema of the whole run (every manifest field), used when fmt="arrow".
    """
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
        _write_arrow(target, list(records()), schema)
    else:
        write_lines(target, (json_line(r) for r in records()), compress=fmt == "jsonl.gz")
    write_lines(rejects_file(out_dir, shard_index, num_shards), rejects, compress=False)
    return counts


def _write_arrow(path: Path, records: list[dict[str, Any]], schema: Any) -> None:
    import pyarrow as pa

    if schema is None:  # a caller that did not scan the manifest: the fields of these rows
        from units.corpus.fields import FieldCheck

        schema = FieldCheck("arrow").arrow_schema()
        if records:
            schema = pa.schema(list(pa.array(records).type))
    # One schema for every shard, unified over the manifest before labelling (see fields.py):
    # no field is dropped, and no row can fail the conversion here, after the work is done.
    table = pa.Table.from_pylist(records, schema=schema) if records else schema.empty_table()
    # An Arrow IPC stream: what `datasets.Dataset.from_file` reads; same rows -> same bytes.
    with atomic_open(path, "wb") as raw:
        with pa.ipc.new_stream(raw, table.schema) as writer:
            writer.write_table(table)


def write_shard_summary(
    out_dir: Path, *, shard_index: int, num_shards: int, counts: dict[str, Any]
) -> None:
    summary = {"shard_index": shard_index, "num_shards": num_shards, **counts}
    summary["audio_hours"] = round(summary.pop("audio_s") / 3600.0, 9)
    with atomic_open(summary_file(out_dir, shard_index, num_shards), "w") as handle:
        handle.write(json_text(summary))
        maybe_die("shard-summary", 1)  # test hook: killed with the summary half written


def finalize(
    out_dir: Path, *, num_shards: int, num_items: int | None = None
) -> dict[str, Any] | None:
    """Write `summary.json` and `rejects.jsonl` once every shard is done; None until then.

    Any process may call this; the folder lock makes them take turns. With `num_items` (the
    manifest's size), shard totals that do not add up to it raise `ShardIncompleteError`.
    """
    with hold(out_dir / FOLDER_LOCK, what=f"the shared files of {out_dir}", wait=True):
        paths = [summary_file(out_dir, i, num_shards) for i in range(num_shards)]
        if not all(path.is_file() for path in paths):
            return None
        # Under the folder lock nobody else writes these: any temporary is a killed writer's.
        remove_stale_temps(out_dir, targets=FINAL_FILES)
        return _write_totals(out_dir, paths, num_shards=num_shards, num_items=num_items)


def _write_totals(
    out_dir: Path, paths: list[Path], *, num_shards: int, num_items: int | None
) -> dict[str, Any]:
    summaries = [read_json(path) for path in paths]
    total = {key: sum(s[key] for s in summaries) for key in COUNT_KEYS}
    total["audio_hours"] = round(sum(s["audio_hours"] for s in summaries), 9)
    total["num_shards"] = num_shards
    total["shards_done"] = num_shards
    if num_items is not None and total["total"] != num_items:
        raise ShardIncompleteError(
            f"the shards of {out_dir} must hold the manifest's {num_items} rows (ok + rejected), "
            f"but their summaries add up to {total['total']}; fix: delete the folder and label again"
        )

    def reject_lines() -> Iterator[str]:
        for i in range(num_shards):
            with open(rejects_file(out_dir, i, num_shards), encoding="utf-8") as handle:
                yield from handle
            maybe_die("final-rejects", i + 1)  # test hook: killed with rejects.jsonl half written

    write_lines(out_dir / "rejects.jsonl", reject_lines(), compress=False)
    with atomic_open(out_dir / "summary.json", "w") as handle:
        handle.write(json_text(total))
        maybe_die("final-summary", 1)  # test hook: killed with summary.json half written
    return total
