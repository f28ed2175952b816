"""Dense featurizers: audio -> (frames, dim) features at 50 frames/s.

`Featurizer` is the interface every kind implements; the kinds themselves are listed in
`units.features.registry`, which `load_featurizer` dispatches on.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from units.errors import UnitsError
from units.files import write_json

FEATURIZER_FILE = "featurizer.json"


class FeaturizerConfigError(UnitsError):
    """A featurizer setting out of range: carries the dotted `key` and the reason."""

    def __init__(self, key: str, reason: str) -> None:
        self.key = key
        self.reason = reason
        super().__init__(f"{key}: {reason}")


class Featurizer(ABC):
    """Turns 16 kHz mono waves into frame features.

    Subclasses set `dim`, `frame_rate_hz`, `sample_rate` and `device`.

    >>> feats = featurizer.featurize([wave_a, wave_b])  # doctest: +SKIP
    >>> feats[0].shape == (featurizer.num_frames(len(wave_a)), featurizer.dim)  # doctest: +SKIP
    True
    """

    dim: int
    frame_rate_hz: float = 50.0
    sample_rate: int = 16000
    device: torch.device = torch.device("cpu")

    @abstractmethod
    def featurize(self, waves: Sequence[np.ndarray]) -> list[torch.Tensor]:
        """Features of each wave, (n_frames, dim) float32 on `device`, in input order."""

    @abstractmethod
    def num_frames(self, num_samples: int) -> int:
        """How many frames `featurize` returns for a wave of `num_samples` samples."""

    @abstractmethod
    def provenance(self) -> dict[str, Any]:
        """What identifies these features: type, encoder, encoder_hash, layer, dim, frame rate."""

    @abstractmethod
    def save_pretrained(self, directory: str | Path) -> Path:
        """Write ``directory/featurizer.json``; returns the directory."""


def write_featurizer_json(directory: str | Path, record: dict[str, Any]) -> Path:
    """Write `record` as ``directory/featurizer.json`` atomically; returns the directory."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    write_json(directory / FEATURIZER_FILE, record)
    return directory
