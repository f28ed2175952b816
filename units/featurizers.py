"""Dense featurizers: audio -> (frames, dim) features at 50 frames/s.

`Featurizer` is the interface; `SSLFeaturizer` (units/ssl_featurizer.py) cuts a pretrained
encoder at layer L; `MfccFeaturizer` (units/mfcc.py) needs no weights. Both save a
``featurizer.json`` that `load_featurizer` reads back.

>>> from units.featurizers import load_featurizer
>>> featurizer = load_featurizer("extractor_dir")  # doctest: +SKIP
>>> featurizer.featurize([wave])[0].shape  # doctest: +SKIP
torch.Size([49, 1024])
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from units.errors import ModelFormatError, UnitsError

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
    tmp = directory / (FEATURIZER_FILE + ".tmp")
    tmp.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    tmp.replace(directory / FEATURIZER_FILE)
    return directory


def load_featurizer(
    directory: str | Path, *, device: str | torch.device | None = None
) -> Featurizer:
    """Load the featurizer saved in `directory` (dispatch on the ``type`` in featurizer.json).

    >>> featurizer = load_featurizer("runs/hubert_l22")  # doctest: +SKIP
    """
    path = Path(directory) / FEATURIZER_FILE
    try:
        record = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise ModelFormatError(
            f"{path} must be a readable featurizer.json, but reading it failed ({e}); "
            "fix: point at a folder written by save_pretrained"
        ) from e
    kind = record.get("type")
    if kind == "ssl":
        from units.ssl_featurizer import SSLFeaturizer

        return SSLFeaturizer.from_record(record, Path(directory), device=device)
    if kind == "mfcc":
        from units.mfcc import MfccFeaturizer

        return MfccFeaturizer.from_record(record, Path(directory), device=device)
    raise ModelFormatError(
        f"{path}: type must be 'ssl' or 'mfcc', but is {kind!r}; fix: re-save the featurizer"
    )


def __getattr__(name: str) -> Any:
    # SSLFeaturizer lives in its own module (it needs torch/transformers machinery); exported
    # here lazily so `from units.featurizers import SSLFeaturizer` works without an import cycle.
    if name == "SSLFeaturizer":
        from units.ssl_featurizer import SSLFeaturizer

        return SSLFeaturizer
    raise AttributeError(f"module 'units.featurizers' has no attribute {name!r}")
