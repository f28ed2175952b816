"""A random sample of feature frames for k-means training, streamed over a corpus.

Memory is bounded by the sample, not the corpus: frames pass through a reservoir (Algorithm R,
vectorised per utterance) of at most `max_frames` rows, or the frames of `max_hours` of audio.
Utterances can first be thinned with `utterance_fraction` (a seeded hash of the id decides, so
the choice does not depend on order or sharding). Same corpus + same seed -> same sample.

>>> from units import MfccFeaturizer  # doctest: +SKIP
>>> features, info = sample_features("corpus/", MfccFeaturizer(), config=SampleConfig(max_frames=10_000))  # doctest: +SKIP
>>> save_sample("feats.npy", features, info)  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import itertools
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from units.corpus.manifests import read_manifest
from units.errors import UnitsError
from units.files import atomic_open, write_json

_MAX_LISTED_REJECTS = 1000


class SampleError(UnitsError):
    """Sampling settings that cannot work, or a feature sample file that cannot be read."""


@dataclass(frozen=True, kw_only=True)
class SampleConfig:
    """Settings of `sample_features`."""

    max_frames: int | None = 500_000
    """Most frames kept (500k x 1024 float32 = 2 GB)."""
    max_hours: float | None = None
    """Keep at most the frames of this many hours of audio (the smaller budget wins)."""
    seed: int = 0
    """Seed of the reservoir and of the utterance selection."""
    utterance_fraction: float = 1.0
    """Fraction of utterances featurized at all (saves encoder time on large corpora)."""
    batch_seconds: float = 160.0
    """Audio seconds per call to the featurizer."""
    load_workers: int = 4
    """Threads decoding audio."""
    chunk_items: int = 32
    """Utterances decoded and featurized together (bounded memory, length bucketing inside)."""
    progress: bool = True
    """Show a progress bar on stderr."""
    split: str | None = None
    """Split of a saved DatasetDict manifest."""
    audio_column: str | None = None
    """Audio column of a saved dataset manifest."""


class FrameReservoir:
    """A uniform sample of at most `capacity` rows from a stream of row blocks.

    >>> r = FrameReservoir(3, seed=0)
    >>> r.add(np.arange(10, dtype=np.float32).reshape(5, 2)); r.sample().shape
    (3, 2)
    """

    def __init__(self, capacity: int, *, seed: int) -> None:
        self.capacity = capacity
        self.seen = 0
        self._rng = np.random.default_rng(seed)
        self._rows: np.ndarray | None = None
        self._filled = 0

    def add(self, block: np.ndarray) -> None:
        block = np.asarray(block, dtype=np.float32)
        n = len(block)
        if n == 0:
            return
        if self._rows is None:
            self._rows = np.empty((min(self.capacity, max(n, 4096)), block.shape[1]), np.float32)
        fill = min(n, self.capacity - self._filled)
        if fill > 0:
            self._grow(self._filled + fill)
            self._rows[self._filled : self._filled + fill] = block[:fill]
            self._filled += fill
        rest = block[fill:]
        if len(rest):
            # Row g (0-based position in the stream) replaces slot j ~ U[0, g] when j < capacity.
            positions = self.seen + fill + np.arange(len(rest))
            slots = self._rng.integers(0, positions + 1)
            keep = np.flatnonzero(slots < self.capacity)
            # Later rows overwrite earlier ones in a sequential reservoir; keep the last per slot.
            reversed_slots = slots[keep][::-1]
            _, first = np.unique(reversed_slots, return_index=True)
            chosen = keep[::-1][first]
            self._rows[slots[chosen]] = rest[chosen]
        self.seen += n

    def _grow(self, needed: int) -> None:
        if needed <= len(self._rows):
            return
        size = min(self.capacity, max(needed, 2 * len(self._rows)))
        grown = np.empty((size, self._rows.shape[1]), np.float32)
        grown[: self._filled] = self._rows[: self._filled]
        self._rows = grown

    def sample(self) -> np.ndarray:
        if self._rows is None:
            return np.empty((0, 0), np.float32)
        return self._rows[: self._filled].copy()


def keep_utterance(item_id: str, *, seed: int, fraction: float) -> bool:
    """Seeded, order-independent choice of an utterance (True for a `fraction` of ids).

    >>> keep_utterance("a", seed=0, fraction=1.0)
    True
    """
    if fraction >= 1.0:
        return True
    digest = hashlib.blake2b(f"{seed}\n{item_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64 < fraction


def sample_features(
    manifest: str | os.PathLike[str],
    featurizer: Any,
    *,
    config: SampleConfig | None = None,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Featurize (a seeded subset of) a corpus and keep a uniform sample of its frames.

    Returns (frames float32 (n, dim), info with provenance and counts, rejects included).

    >>> features, info = sample_features("corpus.jsonl", featurizer)  # doctest: +SKIP
    """
    from units.corpus.loading import length_batches, submit_loads
    from units.progress import CorpusProgress

    config = config or SampleConfig()
    budget = _budget(config, float(featurizer.frame_rate_hz))
    reservoir = FrameReservoir(budget, seed=config.seed)
    sample_rate = int(featurizer.sample_rate)
    counts = {"utterances_seen": 0, "utterances_used": 0, "audio_s_used": 0.0}
    rejects: list[dict[str, Any]] = []
    n_rejected = 0

    def chosen():
        return (
            item
            for item in read_manifest(
                manifest, split=config.split, audio_column=config.audio_column
            )
            if keep_utterance(item.id, seed=config.seed, fraction=config.utterance_fraction)
        )

    # One cheap pass (no audio) for the bar's total and ETA.
    total = sum(1 for _ in chosen()) if config.progress else None
    items = chosen()
    progress = CorpusProgress(total=total, desc="sample-features", enabled=config.progress)
    with ThreadPoolExecutor(max_workers=max(1, config.load_workers)) as pool:
        while chunk := list(itertools.islice(items, config.chunk_items)):
            loaded = [
                f.result()
                for f in submit_loads(pool, chunk, sample_rate=sample_rate, featurizer=featurizer)
            ]
            good = [entry for entry in loaded if entry.wave is not None]
            for entry in loaded:
                if entry.wave is None:
                    n_rejected += 1
                    if len(rejects) < _MAX_LISTED_REJECTS:
                        rejects.append({"id": entry.item.id, "reason": entry.reason})
            frames: dict[int, np.ndarray] = {}
            lengths = [len(entry.wave) for entry in good]
            for batch in length_batches(
                lengths, sample_rate=sample_rate, batch_seconds=config.batch_seconds
            ):
                outputs = featurizer.featurize([good[i].wave for i in batch])
                for i, tensor in zip(batch, outputs):
                    frames[i] = tensor.detach().float().cpu().numpy()
            for i in range(len(good)):  # manifest order: the sample does not depend on batching
                reservoir.add(frames[i])
            audio_s = sum(lengths) / sample_rate
            counts["utterances_seen"] += len(chunk)
            counts["utterances_used"] += len(good)
            counts["audio_s_used"] += audio_s
            progress.update(files=len(chunk), audio_s=audio_s)
    progress.close()
    features = reservoir.sample()
    info = {
        "featurizer": featurizer.provenance(),
        "manifest": str(manifest),
        "config": {
            k: v for k, v in asdict(config).items() if k not in ("progress", "load_workers")
        },
        "budget_frames": budget,
        "frames_seen": reservoir.seen,
        "frames_sampled": int(len(features)),
        "dim": int(features.shape[1]) if features.size else int(featurizer.dim),
        "utterances_seen": counts["utterances_seen"],
        "utterances_used": counts["utterances_used"],
        "audio_hours_used": counts["audio_s_used"] / 3600.0,
        "rejected": n_rejected,
        "rejects": rejects,
    }
    return features, info


def _budget(config: SampleConfig, frame_rate_hz: float) -> int:
    budgets = []
    if config.max_frames is not None:
        budgets.append(int(config.max_frames))
    if config.max_hours is not None:
        budgets.append(int(config.max_hours * 3600 * frame_rate_hz))
    if not budgets or min(budgets) < 1:
        raise SampleError(
            f"max_frames or max_hours must give a budget of at least one frame, but give "
            f"{min(budgets) if budgets else 'none'}; fix: pass --max-frames or --max-hours > 0"
        )
    if not 0.0 < config.utterance_fraction <= 1.0:
        raise SampleError(
            f"utterance_fraction must be in (0, 1], but is {config.utterance_fraction}; fix: pass "
            "e.g. 0.1 to featurize a tenth of the corpus"
        )
    return min(budgets)


def sidecar_path(path: str | os.PathLike[str]) -> Path:
    """`feats.npy` -> `feats.json`: where a sample's provenance lives."""
    return Path(path).with_suffix(".json")


def save_sample(path: str | os.PathLike[str], features: np.ndarray, info: dict[str, Any]) -> Path:
    """Write the frames as .npy (atomically) and the info as a JSON sidecar beside it.

    >>> import tempfile
    >>> p = save_sample(tempfile.mkdtemp() + "/f.npy", np.zeros((2, 3), np.float32), {"a": 1})
    >>> load_sample(p)[0].shape
    (2, 3)
    """
    path = Path(path)
    if path.suffix != ".npy":
        path = path.with_name(path.name + ".npy")
    with atomic_open(path, "wb") as handle:
        np.save(handle, np.ascontiguousarray(features, dtype=np.float32), allow_pickle=False)
    write_json(sidecar_path(path), info)
    return path


def load_sample(path: str | os.PathLike[str]) -> tuple[np.ndarray, dict[str, Any]]:
    """Read a sample written by `save_sample` (no pickle); the info is {} without a sidecar."""
    import json

    path = Path(path)
    if not path.is_file():
        raise SampleError(
            f"the features file must exist, but {path} does not; fix: run `spire units "
            "sample-features` first"
        )
    try:
        features = np.load(path, allow_pickle=False)
    except ValueError as error:
        raise SampleError(
            f"{path} must be a .npy array of floats, but cannot be read ({error}); fix: write it "
            "with `spire units sample-features`"
        ) from error
    if features.ndim != 2:
        raise SampleError(
            f"features must be a 2-D array (frames, dim), but {path} has shape {features.shape}; "
            "fix: reshape before saving"
        )
    side = sidecar_path(path)
    info = json.loads(side.read_text(encoding="utf-8")) if side.is_file() else {}
    return features.astype(np.float32, copy=False), info
