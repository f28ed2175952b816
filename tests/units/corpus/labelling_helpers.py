"""Helpers of the labelling tests: tiny corpora, output readers, the labeller as a real process."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import soundfile as sf

from units.extractor import UnitExtractor
from units.features.mfcc import MfccFeaturizer
from units.kmeans.quantizer import KMeansQuantizer
from units.testing import tone_speech

SECONDS = (1.2, 0.5, 2.0, 0.8, 1.5, 0.3, 1.0, 0.7, 1.8)
REPO = Path(__file__).resolve().parents[3]


def make_corpus(root: Path, *, bad: bool = False, seconds: Sequence[float] = SECONDS) -> Path:
    """A JSONL corpus of tone-speech wavs (+ corrupt, empty, NaN and missing files if `bad`)."""
    root.mkdir(parents=True, exist_ok=True)
    lines = []
    for i, s in enumerate(seconds):
        sf.write(root / f"u{i}.wav", tone_speech(s, seed=i), 16000, subtype="PCM_16")
        lines.append(
            {"id": f"u{i}", "audio": f"u{i}.wav", "text": f"utterance {i}", "speaker": i % 3}
        )
        if bad and i == 3:
            (root / "corrupt.wav").write_bytes(b"RIFF\x00\x01garbage that is not audio")
            (root / "empty.wav").write_bytes(b"")
            nan = tone_speech(0.5, seed=99)
            nan[100] = np.nan
            sf.write(root / "nan.wav", nan, 16000, subtype="FLOAT")
            lines += [
                {"id": "corrupt", "audio": "corrupt.wav"},
                {"id": "empty", "audio": "empty.wav"},
                {"id": "nan", "audio": "nan.wav"},
                {"id": "missing", "audio": "missing.wav"},
            ]
    (root / "m.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    return root / "m.jsonl"


def manifest_ids(manifest: Path) -> list[str]:
    return [json.loads(line)["id"] for line in manifest.read_text().splitlines()]


def extractor_of(kmeans_dir: Path) -> UnitExtractor:
    return UnitExtractor(MfccFeaturizer(), KMeansQuantizer.from_pretrained(kmeans_dir))


def all_files(out: Path) -> dict[str, bytes]:
    """Every file under `out` (hidden ones included) by relative path, with its bytes."""
    return {
        p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()
    }


def records(out: Path, pattern: str = "units-*.jsonl.gz") -> list[dict]:
    lines = []
    for path in sorted(out.glob(pattern)):
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            lines += [json.loads(line) for line in handle]
    return lines


def reject_ids(out: Path) -> list[str]:
    ids = []
    for path in sorted(out.glob("rejects-*.jsonl")):
        ids += [json.loads(line)["id"] for line in path.read_text().splitlines()]
    return ids


def label_command(
    manifest: Path, kmeans_dir: Path, out: Path, *, part_size: int = 2, extra: Sequence[str] = ()
) -> list[str]:
    return [
        sys.executable,
        "-m",
        "units",
        "label",
        "--manifest",
        str(manifest),
        "--featurizer",
        "mfcc",
        "--kmeans",
        str(kmeans_dir),
        "--out",
        str(out),
        "--part-size",
        str(part_size),
        "--no-progress",
        *extra,
    ]


def label_env(*, kill: str | None = None, pause: str | None = None) -> dict[str, str]:
    """The environment of a labeller process, with the test hooks of units.corpus.faults."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    env.pop("SPIRE_TEST_KILL", None)
    env.pop("SPIRE_TEST_PAUSE", None)
    if kill:
        env["SPIRE_TEST_KILL"] = kill
    if pause:
        env["SPIRE_TEST_PAUSE"] = pause
    return env


def cli_label(
    manifest: Path,
    kmeans_dir: Path,
    out: Path,
    *,
    kill: str | None = None,
    part_size: int = 2,
    extra: Sequence[str] = (),
) -> subprocess.CompletedProcess:
    """Run `python -m units label` to the end (or to the kill point) and return its result."""
    return subprocess.run(
        label_command(manifest, kmeans_dir, out, part_size=part_size, extra=extra),
        env=label_env(kill=kill),
        capture_output=True,
        text=True,
        timeout=180,
        cwd=REPO,
    )
