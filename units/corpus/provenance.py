"""The identity of a labelling run: its manifest (ids, fields) and settings, in provenance.json.

A rerun into the same folder resumes only when its provenance matches the recorded one; the
manifest is identified by the digest of its ids in order, so the same corpus reached through
another path resumes, and an edited one is refused.

>>> _without_path({"manifest": {"path": "a.jsonl", "num_items": 3}})
{'manifest': {'num_items': 3}}
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from units.corpus.fields import FieldCheck
from units.corpus.items import AudioItem
from units.corpus.manifests import read_manifest
from units.corpus.shards import ShardError
from units.files import read_json, remove_stale_temps, write_json

__all__ = ["check_provenance", "manifest_items", "scan_manifest"]


def manifest_items(
    manifest: str | os.PathLike[str], *, split: str | None, audio_column: str | None
) -> Iterator[AudioItem]:
    """The manifest's items, read the one way every pass of a labelling run reads them."""
    return read_manifest(manifest, split=split, audio_column=audio_column)


def scan_manifest(
    manifest: str | os.PathLike[str], *, fmt: str, split: str | None, audio_column: str | None
) -> tuple[int, str, Any]:
    """(number of items, sha256 of the ids in order, Arrow schema or None), in one pass.

    The id digest makes a rerun on a changed manifest refused; the field check refuses, before
    any work, a field the output format `fmt` cannot hold.
    """
    digest = hashlib.sha256()
    check = FieldCheck(fmt)
    count = 0
    for item in manifest_items(manifest, split=split, audio_column=audio_column):
        digest.update(item.id.encode("utf-8") + b"\n")
        check.observe(item)
        count += 1
    schema = check.arrow_schema() if fmt == "arrow" else None
    return count, digest.hexdigest(), schema


def check_provenance(path: Path, provenance: dict[str, Any]) -> None:
    """Write the run's provenance, or refuse a folder holding another run's.

    Called under the folder lock, so a temporary of provenance.json is a killed writer's.
    """
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
    remove_stale_temps(path.parent, targets=[path.name])
    write_json(path, normalised)


def _without_path(provenance: dict[str, Any]) -> dict[str, Any]:
    manifest = {k: v for k, v in provenance.get("manifest", {}).items() if k != "path"}
    return {**provenance, "manifest": manifest}
