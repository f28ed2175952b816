"""Read back what `label_corpus` (`spire units label`) wrote: its records, shard by shard.

The run's `provenance.json` says the format and the shard count; the shard file names come from
`units.corpus.output`, so no reader matches `units-*` names by hand. A run with shards still
missing is refused unless `allow_partial=True` (then only the finished shards are read).

>>> rows = read_labelled("units_out/")  # doctest: +SKIP
>>> next(rows)["units"][:2]  # doctest: +SKIP
'\\U000f0ae1\\U000f0013'
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from units.corpus.output import FORMATS, summary_file, units_file
from units.errors import UnitsError
from units.files import read_json

__all__ = ["LabelledOutputError", "is_labelled", "labelled_files", "read_labelled"]

# Written first by label_corpus: it records the format and the shard count of the run.
_PROVENANCE = "provenance.json"


class LabelledOutputError(UnitsError):
    """A folder that does not hold a (finished) labelling run, or a shard file that cannot be read."""


def is_labelled(out_dir: str | os.PathLike[str]) -> bool:
    """True when `out_dir` is the output folder of a labelling run (finished or not).

    >>> is_labelled("/nonexistent")
    False
    """
    return (Path(out_dir) / _PROVENANCE).is_file()


def _run(out: Path) -> tuple[str, int]:
    """(format, num_shards) of the run in `out`, from its provenance.json."""
    path = out / _PROVENANCE
    if not path.is_file():
        raise LabelledOutputError(
            f"out_dir must be the output folder of a labelling run (with {_PROVENANCE}), but "
            f"{out} has none; fix: pass the folder that label_corpus wrote"
        )
    try:
        label = read_json(path)["label"]
        fmt, num_shards = label["format"], label["num_shards"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise LabelledOutputError(
            f"{path} must hold label.format and label.num_shards, but cannot be read ({e}); "
            "fix: label the corpus again into a new folder"
        ) from e
    if fmt not in FORMATS or not isinstance(num_shards, int) or num_shards < 1:
        raise LabelledOutputError(
            f"{path} must name a format in {sorted(FORMATS)} and num_shards >= 1, but says "
            f"{fmt!r} and {num_shards!r}; fix: label the corpus again into a new folder"
        )
    return fmt, num_shards


def labelled_files(out_dir: str | os.PathLike[str], *, allow_partial: bool = False) -> list[Path]:
    """The units file of every shard of the run in `out_dir`, in shard (= manifest) order.

    A shard counts once its summary is written (the labeller writes it last). Shards not yet
    done are an error, or are left out when `allow_partial` is True.

    >>> labelled_files("units_out/")  # doctest: +SKIP
    [PosixPath('units_out/units-00000-of-00002.jsonl.gz'), PosixPath('units_out/units-00001-of-00002.jsonl.gz')]
    """
    out = Path(out_dir)
    fmt, num_shards = _run(out)
    done = [i for i in range(num_shards) if summary_file(out, i, num_shards).is_file()]
    if len(done) < num_shards and not allow_partial:
        missing = sorted(set(range(num_shards)) - set(done))
        raise LabelledOutputError(
            f"every shard of the labelling run in {out} must be done, but shards {missing} of "
            f"{num_shards} are not; fix: finish the run (rerun the same label command), or pass "
            "allow_partial=True to read the finished shards only"
        )
    return [units_file(out, i, num_shards, fmt) for i in done]


def read_labelled(
    out_dir: str | os.PathLike[str], *, allow_partial: bool = False
) -> Iterator[dict[str, Any]]:
    """Every record (`id`, `units`, `n_frames`, `duration_s`, manifest fields) of the run, lazily.

    Records come in manifest order, whatever the format (jsonl, jsonl.gz, arrow) the run wrote.

    >>> [row["id"] for row in read_labelled("units_out/")]  # doctest: +SKIP
    ['utt1', 'utt2']
    """
    files = labelled_files(out_dir, allow_partial=allow_partial)
    for path in files:
        if path.name.endswith(FORMATS["arrow"]):
            yield from _read_arrow(path)
        else:
            yield from _read_jsonl(path)


def _read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as e:
                    raise LabelledOutputError(
                        f"{path}:{number} must be a JSON record, but does not parse ({e}); fix: "
                        "label the corpus again into a new folder"
                    ) from e
    except (OSError, EOFError) as e:
        raise LabelledOutputError(
            f"{path} must be a readable shard file, but reading it failed ({e}); fix: label the "
            "corpus again into a new folder"
        ) from e


def _read_arrow(path: Path) -> Iterator[dict[str, Any]]:
    import pyarrow as pa

    try:
        with pa.OSFile(str(path), "rb") as source:
            for batch in pa.ipc.open_stream(source):
                yield from batch.to_pylist()
    except (OSError, pa.ArrowInvalid) as e:
        raise LabelledOutputError(
            f"{path} must be an Arrow IPC stream, but reading it failed ({e}); fix: label the "
            "corpus again into a new folder"
        ) from e
