"""Writing built datasets and their build summaries.

A build folder holds a `datasets` dataset (`datasets.load_from_disk(out)`), `summary.json`
(the `BuildSummary`) and `config.yaml` (the resolved build config).
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from units.files import write_text

__all__ = ["BuildSummary", "write_rows"]

COLUMNS = ("input_ids", "labels", "position_ids")


@dataclass
class BuildSummary:
    """What a data build kept, dropped and produced.

    Every candidate item (a CPT document or an IT example) is accounted for:
    `kept + sum(dropped.values()) == total`.
    """

    kind: str
    seq_len: int
    packed: bool
    rows_read: int = 0
    total: int = 0
    kept: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    truncated: int = 0
    sequences: int = 0
    tokens: int = 0
    padding_tokens: int = 0
    tokens_by_source: dict[str, int] = field(default_factory=dict)
    elapsed_s: float = 0.0

    def drop(self, reason: str) -> None:
        """Count one candidate item dropped for `reason`."""
        self.total += 1
        self.dropped[reason] = self.dropped.get(reason, 0) + 1

    def keep(self, source: str, tokens: int) -> None:
        """Count one candidate item kept, with its token count."""
        self.total += 1
        self.kept += 1
        self.tokens_by_source[source] = self.tokens_by_source.get(source, 0) + tokens

    @property
    def padding_fraction(self) -> float:
        total = self.tokens + self.padding_tokens
        return self.padding_tokens / total if total else 0.0

    @property
    def accounted(self) -> bool:
        """True when kept + dropped == total."""
        return self.kept + sum(self.dropped.values()) == self.total

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["padding_fraction"] = round(self.padding_fraction, 6)
        data["tokens_per_s"] = round(self.tokens / self.elapsed_s, 1) if self.elapsed_s else None
        return data

    def save(self, path: str | Path) -> None:
        write_text(path, json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n")


def write_rows(
    rows: Iterable[dict[str, Any]],
    out_dir: str | Path,
    *,
    batch_rows: int = 512,
    progress: bool = True,
) -> int:
    """Stream rows into an Arrow file, then save them as a `datasets` dataset in `out_dir`.

    Memory stays bounded by one batch of rows. Returns the number of rows written.
    """
    import pyarrow as pa
    from datasets import Dataset
    from tqdm.auto import tqdm

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    schema = pa.schema([(name, pa.list_(pa.int32())) for name in COLUMNS])
    scratch = Path(tempfile.mkdtemp(prefix=".building-", dir=out))
    count = tokens = 0
    started = time.perf_counter()
    try:
        path = scratch / "rows.arrow"
        with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_stream(sink, schema) as writer:
            batch: list[dict[str, Any]] = []
            bar = tqdm(rows, desc="sequences", unit="seq", disable=not progress, mininterval=2.0)
            for row in bar:
                batch.append(row)
                count += 1
                tokens += len(row["input_ids"])
                if len(batch) >= batch_rows:
                    writer.write_batch(pa.RecordBatch.from_pylist(batch, schema=schema))
                    batch = []
                    rate = tokens / max(time.perf_counter() - started, 1e-9)
                    bar.set_postfix(positions_per_s=f"{rate:.0f}")
            if batch:
                writer.write_batch(pa.RecordBatch.from_pylist(batch, schema=schema))
        dataset = Dataset.from_file(str(path))
        dataset.save_to_disk(str(out))
        del dataset
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return count
