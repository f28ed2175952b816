"""The data stages of the miniature: the synthetic corpus and its MFCC units, plus stage bookkeeping.

Each stage writes into its own folder with a `stage.json` holding the settings it was run
with; a rerun whose settings match reuses the folder instead of recomputing it.

>>> from spire.mini.config import DemoConfig
>>> corpus = stage_corpus(DemoConfig.quick(out_dir="/tmp/mini"))          # doctest: +SKIP
>>> units = stage_units(DemoConfig.quick(out_dir="/tmp/mini"), corpus)    # doctest: +SKIP
>>> units.extractor                                                        # doctest: +SKIP
PosixPath('/tmp/mini/units/extractor')
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections import Counter
from pathlib import Path
from typing import Any

from spire.errors import SpireError
from spire.mini.config import DemoConfig
from spire.mini.results import CorpusResult, UnitsResult, VtlnWarps

__all__ = ["SPLITS", "mark_done", "model_fingerprint", "relative", "stage_corpus", "stage_done", "stage_units", "unit_rows"]

SPLITS = ("train", "dev", "test")


def stage_done(folder: Path, settings: dict[str, Any]) -> bool:
    """True when `folder` holds a finished stage run with exactly these settings.

    >>> stage_done(Path("/nonexistent"), {})
    False
    """
    marker = folder / "stage.json"
    return marker.exists() and json.loads(marker.read_text()) == json.loads(json.dumps(settings))


def mark_done(folder: Path, settings: dict[str, Any]) -> None:
    """Record that the stage in `folder` finished with `settings` (written atomically, last)."""
    from units.files import write_json

    folder.mkdir(parents=True, exist_ok=True)
    write_json(folder / "stage.json", settings)


def relative(config: DemoConfig, path: str | Path) -> str:
    """`path` relative to the output folder: stage settings name inputs this way, so a moved or
    copied output folder still matches its recorded settings."""
    return os.path.relpath(path, config.out_dir)


def model_fingerprint(model_dir: str | Path) -> str:
    """sha256 of a saved model's weight files: what a later stage's settings record of its input
    model, so that retraining an earlier stage (any setting) reruns the stages after it.

    >>> model_fingerprint("/nonexistent")
    'missing'
    """
    files = sorted(Path(model_dir).glob("*.safetensors"))
    if not files:
        return "missing"
    digest = hashlib.sha256()
    for path in files:
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def fresh(folder: Path) -> Path:
    """Empty `folder` (a stage that reruns must not mix old and new files)."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    return folder


def stage_corpus(config: DemoConfig) -> CorpusResult:
    """Stage 1: the synthetic parallel corpus (English speech; English, German, French text)."""
    from spire.data.sources import read_records
    from spire.mini.corpus import ACCENT_SPLIT, build_corpus

    folder = Path(config.out_dir) / "corpus"
    settings = {"n_train": config.n_train, "n_dev": config.n_dev, "n_test": config.n_test, "seed": config.seed,
                "n_test_accents": config.n_test_accents}
    start = time.perf_counter()
    if not stage_done(folder, settings):
        build_corpus(folder, config.n_train, config.n_dev, config.n_test, config.seed, progress=config.progress,
                     n_test_accents=config.n_test_accents)
        (folder / "build_s.json").write_text(json.dumps(time.perf_counter() - start))
        mark_done(folder, settings)
    durations = {split: [row["duration_s"] for row in read_records(folder / f"{split}.jsonl")] for split in SPLITS}
    accents = ([row["duration_s"] for row in read_records(folder / f"{ACCENT_SPLIT}.jsonl")]
               if config.n_test_accents else [])
    return CorpusResult(folder=folder, audio_hours={k: sum(v) / 3600 for k, v in durations.items()},
                        utterances={k: len(v) for k, v in durations.items()}, wall_s=_build_seconds(folder, start),
                        accent_utterances=len(accents), accent_audio_hours=sum(accents) / 3600)


def _build_seconds(folder: Path, start: float) -> float:
    """How long the stage took when it was built (not the near-zero time of a reuse)."""
    path = folder / "build_s.json"
    return float(json.loads(path.read_text())) if path.is_file() else time.perf_counter() - start


def unit_rows(units_folder: str | Path, split: str) -> list[dict[str, Any]]:
    """The labelled rows of one split (id, units, n_frames, text, de, fr, ...), in shard order."""
    from units.corpus.results import read_labelled

    return list(read_labelled(Path(units_folder) / split))


# Utterances featurized for the k-means sample: this many times the frames it keeps.
_SAMPLE_MARGIN = 1.25


def stage_units(config: DemoConfig, corpus: CorpusResult) -> UnitsResult:
    """Stage 2: MFCC (+ VTLN) -> k-means -> deduplicated units for every split."""
    from units import (
        MfccFeaturizer,
        UnitExtractor,
        fit_vtln,
        label_corpus,
        load_audio,
        read_manifest,
    )
    from units.corpus.labelling import LabelConfig
    from units.corpus.sampling import SampleConfig, sample_features
    from units.encoding import text_to_ids
    from units.kmeans.report import FitConfig, fit_with_report

    folder = Path(config.out_dir) / "units"
    corpus_dir = corpus.folder
    settings = {"num_units": config.num_units, "cmvn": config.mfcc_cmvn, "stack": config.mfcc_stack,
                "vtln": config.vtln_frames if config.mfcc_vtln else None,
                "sample_frames": config.sample_frames, "seed": config.seed,
                "niter": config.kmeans_iterations, "corpus": corpus.utterances, "sample_margin": _SAMPLE_MARGIN}
    start = time.perf_counter()
    if not stage_done(folder, settings):
        fresh(folder)
        featurizer = MfccFeaturizer(cmvn=config.mfcc_cmvn, stack=config.mfcc_stack)
        vtln_report: dict[str, Any] = {}
        if config.mfcc_vtln:
            items = read_manifest(corpus_dir / "train.jsonl")
            waves = (load_audio(item.source, name=item.id) for item in items)
            featurizer = fit_vtln(featurizer, waves, max_frames=config.vtln_frames,
                                  seed=config.seed, report=vtln_report)
        # Featurize only the utterances that the sample needs (30% of the default corpus): the
        # whole split took as long as labelling it (72 s).
        frames = corpus.audio_hours["train"] * 3600 * featurizer.frame_rate_hz
        fraction = min(1.0, _SAMPLE_MARGIN * config.sample_frames / max(frames, 1.0))
        features, _ = sample_features(
            corpus_dir / "train.jsonl", featurizer,
            config=SampleConfig(max_frames=config.sample_frames, seed=config.seed, progress=config.progress,
                                utterance_fraction=fraction),
        )
        fit = fit_with_report(
            features, FitConfig(k=config.num_units, niter=config.kmeans_iterations, seed=config.seed),
            provenance=featurizer.provenance(),
        )
        extractor = UnitExtractor(featurizer, fit.quantizer)
        extractor.save_pretrained(folder / "extractor")
        (folder / "fit_report.json").write_text(json.dumps(fit.report.to_dict(), indent=2))
        (folder / "vtln_report.json").write_text(json.dumps(vtln_report))
        for split in SPLITS:
            summary = label_corpus(corpus_dir / f"{split}.jsonl", extractor, folder / split,
                                   config=LabelConfig(format="jsonl", progress=config.progress))
            if summary.rejected:
                raise SpireError(f"units: {summary.rejected} utterances of {split} were rejected; "
                                 f"see {folder / split / 'rejects.jsonl'}")
        (folder / "build_s.json").write_text(json.dumps(time.perf_counter() - start))
        mark_done(folder, settings)
    fit_report = json.loads((folder / "fit_report.json").read_text())
    warps = json.loads((folder / "vtln_report.json").read_text()).get("warps")
    vtln = None if not warps else VtlnWarps(utterances=len(warps), min=min(warps), max=max(warps),
                                            mean=sum(warps) / len(warps))
    frames = kept = 0
    usage: Counter[int] = Counter()
    for split in SPLITS:
        for record in unit_rows(folder, split):
            frames += record["n_frames"]
            ids = text_to_ids(record["units"], "pua", config.num_units)
            kept += len(ids)
            if split == "train":
                usage.update(ids)
    return UnitsResult(folder=folder, clusters_used=fit_report["clusters_used"], perplexity=fit_report["perplexity"],
                       k=fit_report["k"], vtln=vtln, dedup_ratio=kept / max(frames, 1),
                       units_per_s=kept / max(sum(corpus.audio_hours.values()) * 3600, 1e-9),
                       cluster_counts=[usage.get(i, 0) for i in range(fit_report["k"])],
                       wall_s=_build_seconds(folder, start))
