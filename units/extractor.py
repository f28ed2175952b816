"""`UnitExtractor`: audio -> featurizer -> k-means -> deduplicated unit ids, durations and text.

Built from its parts, or from a folder written by `save_pretrained` (extractor.json,
featurizer.json and kmeans/). A k-means model fit on other features (another encoder,
layer or dimension) is refused instead of silently giving meaningless units.

>>> from units.extractor import UnitExtractor
>>> extractor = UnitExtractor.from_pretrained("runs/hubert_l22_k5000")  # doctest: +SKIP
>>> extractor.extract("clip.wav").text[:3]  # doctest: +SKIP
'\\U000f0ae1\\U000f0013\\U000f12c0'
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from units.audio import describe_source, load_audio, require_one_frame
from units.encoding import UNIT_FORMATS, ids_to_text
from units.encoding import dedup as collapse
from units.errors import ModelFormatError, QuantizerMismatchError, UnitFormatError
from units.features.base import Featurizer
from units.features.registry import load_featurizer
from units.files import write_json

EXTRACTOR_FILE = "extractor.json"
_FORMAT = "spire-unit-extractor"
# Provenance fields that must agree between the featurizer and what k-means was fit on.
_COMPARED = ("type", "model_type", "layer", "dim", "normalize")


@dataclass(frozen=True)
class UnitSequence:
    """The units of one utterance.

    `ids` and `durations` (frames per id) have equal length; `n_frames` counts frames before
    dedup, so ``durations.sum() == n_frames``.

    >>> seq = extractor.extract(("clip.wav"))  # doctest: +SKIP
    >>> int(seq.durations.sum()) == seq.n_frames  # doctest: +SKIP
    True
    """

    ids: np.ndarray
    durations: np.ndarray
    text: str
    n_frames: int
    duration_s: float
    frame_rate_hz: float


def provenance_differences(featurizer: dict[str, Any], fitted: dict[str, Any]) -> list[str]:
    """The fields where the k-means provenance `fitted` disagrees with the featurizer's.

    >>> provenance_differences({"layer": 22, "dim": 1024}, {"layer": 9, "dim": 1024})
    ['layer (k-means was fit on 9, the featurizer gives 22)']
    """
    found = []
    for key in _COMPARED:
        if key in featurizer and key in fitted and featurizer[key] != fitted[key]:
            found.append(
                f"{key} (k-means was fit on {fitted[key]!r}, the featurizer gives {featurizer[key]!r})"
            )
    if fitted.get("encoder_hash") and featurizer.get("encoder_hash"):
        if fitted["encoder_hash"] != featurizer["encoder_hash"]:
            found.append(
                f"encoder weights (k-means: {fitted.get('encoder')!r} {fitted['encoder_hash']}, "
                f"featurizer: {featurizer.get('encoder')!r} {featurizer['encoder_hash']})"
            )
    elif (
        fitted.get("encoder")
        and featurizer.get("encoder")
        and fitted["encoder"] != featurizer["encoder"]
    ):
        found.append(
            f"encoder (k-means: {fitted['encoder']!r}, featurizer: {featurizer['encoder']!r})"
        )
    return found


class UnitExtractor:
    """Featurizer + k-means quantizer + optional dedup, rendered as unit text.

    >>> extractor = UnitExtractor(MfccFeaturizer(), quantizer)  # doctest: +SKIP
    >>> seqs = extractor.extract(["a.wav", "b.flac"])  # doctest: +SKIP
    """

    def __init__(
        self,
        featurizer: Featurizer,
        quantizer: Any,
        *,
        dedup: bool = True,
        unit_format: str = "pua",
        check_compatible: bool = True,
    ) -> None:
        if unit_format not in UNIT_FORMATS:
            raise UnitFormatError(
                f"unit_format must be one of {UNIT_FORMATS}, but is {unit_format!r}; fix: pass unit_format='pua'"
            )
        if quantizer.dim != featurizer.dim:
            raise QuantizerMismatchError(
                f"the k-means centroids must have the featurizer's dimension {featurizer.dim}, but "
                f"have {quantizer.dim}; fix: fit k-means on this featurizer's features"
            )
        fitted = getattr(quantizer, "provenance", None)
        found = provenance_differences(featurizer.provenance(), fitted) if fitted else []
        if check_compatible and found:
            raise QuantizerMismatchError(
                "the k-means model must be fit on this featurizer's features, but differs in "
                + "; ".join(found)
                + "; fix: use the k-means fit for this encoder and layer, or pass "
                "check_compatible=False if you know they match"
            )
        self.featurizer = featurizer
        self.quantizer = quantizer
        self.dedup = bool(dedup)
        self.unit_format = unit_format
        # False only for a pairing forced past a mismatch; saved, so loading it needs the flag.
        self.check_compatible = not found

    @classmethod
    def from_pretrained(
        cls,
        directory: str | Path,
        *,
        device: str | torch.device | None = None,
        check_compatible: bool = True,
    ) -> UnitExtractor:
        """Load an extractor saved with `save_pretrained`.

        >>> extractor = UnitExtractor.from_pretrained("runs/hubert_l22_k5000")  # doctest: +SKIP
        """
        from units.kmeans.quantizer import KMeansQuantizer

        directory = Path(directory)
        path = directory / EXTRACTOR_FILE
        try:
            record = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise ModelFormatError(
                f"{path} must be a readable extractor.json, but reading it failed ({e}); "
                "fix: point at a folder written by UnitExtractor.save_pretrained"
            ) from e
        if record.get("format") != _FORMAT:
            raise ModelFormatError(
                f"{path}: format must be {_FORMAT!r}, but is {record.get('format')!r}; "
                "fix: point at a folder written by UnitExtractor.save_pretrained"
            )
        if record.get("check_compatible") is False and check_compatible:
            raise QuantizerMismatchError(
                f"{path} was saved with check_compatible=False (its k-means was fit on other "
                "features than its featurizer gives), so it must be loaded knowingly, but "
                "check_compatible is True; fix: pass check_compatible=False to use it anyway"
            )
        featurizer = load_featurizer(directory, device=device)
        quantizer = KMeansQuantizer.from_pretrained(directory / "kmeans")
        return cls(
            featurizer,
            quantizer,
            dedup=record["dedup"],
            unit_format=record["unit_format"],
            check_compatible=check_compatible,
        )

    def save_pretrained(self, directory: str | Path, *, copy_weights: bool = False) -> Path:
        """Write extractor.json, featurizer.json and kmeans/ into `directory`.

        `copy_weights` also copies the SSL encoder checkpoint into ``directory/encoder``.
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        if copy_weights:
            self.featurizer.save_pretrained(directory, copy_weights=True)
        else:
            self.featurizer.save_pretrained(directory)
        self.quantizer.save_pretrained(directory / "kmeans")
        record = {
            "format": _FORMAT,
            "version": 1,
            "dedup": self.dedup,
            "unit_format": self.unit_format,
            "check_compatible": self.check_compatible,
            "provenance": self.provenance(),
        }
        # Written last: a folder without extractor.json is visibly incomplete.
        write_json(directory / EXTRACTOR_FILE, record)
        return directory

    def provenance(self) -> dict[str, Any]:
        """Everything that determines the units: featurizer, k-means, dedup, unit format."""
        return {
            "featurizer": self.featurizer.provenance(),
            "kmeans": {"k": int(self.quantizer.k), "checksum": self.quantizer.checksum},
            "dedup": self.dedup,
            "unit_format": self.unit_format,
        }

    def extract(
        self, audio: Any, sample_rate: int | None = None
    ) -> UnitSequence | list[UnitSequence]:
        """Units of one audio source, or of each source in a list (returns a list then).

        A source is anything `units.audio.load_audio` accepts; a bare array needs `sample_rate`.

        >>> extractor.extract(("clip.wav"))  # doctest: +SKIP
        >>> extractor.extract([(wave, 8000), "b.wav"])  # doctest: +SKIP
        """
        many = isinstance(audio, list)
        sources = audio if many else [audio]
        waves = [
            load_audio(self._source(s, sample_rate), self.featurizer.sample_rate) for s in sources
        ]
        for source, wave in zip(sources, waves):  # too short: name the file, not "waves[i]"
            require_one_frame(wave, self.featurizer, describe_source(source))
        sequences = self.extract_waves(waves)
        return sequences if many else sequences[0]

    @staticmethod
    def _source(source: Any, sample_rate: int | None) -> Any:
        if sample_rate is not None and (isinstance(source, np.ndarray) or torch.is_tensor(source)):
            array = source.detach().cpu().numpy() if torch.is_tensor(source) else source
            return (array, sample_rate)
        return source

    def extract_waves(self, waves: Sequence[np.ndarray]) -> list[UnitSequence]:
        """Units of waves already at the featurizer's sample rate (float32 mono)."""
        if not waves:
            return []
        features = self.featurizer.featurize(waves)
        counts = [f.shape[0] for f in features]
        all_ids = np.asarray(self.quantizer.assign(torch.cat(features)), dtype=np.int64)
        rate = self.featurizer.frame_rate_hz
        out = []
        for wave, ids in zip(waves, np.split(all_ids, np.cumsum(counts)[:-1])):
            if self.dedup:
                ids, durations = collapse(ids)
            else:
                durations = np.ones(len(ids), dtype=np.int64)
            out.append(
                UnitSequence(
                    ids=ids,
                    durations=durations,
                    text=ids_to_text(ids, self.unit_format),
                    n_frames=int(durations.sum()),
                    duration_s=len(wave) / self.featurizer.sample_rate,
                    frame_rate_hz=rate,
                )
            )
        return out
