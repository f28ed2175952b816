"""The featurizer kinds by name: a saved ``featurizer.json`` says its ``type``, this table says
which class reads it back. A new kind (e.g. an encoder family with its own weights format) adds
one line here and a module beside the others; nothing else imports the kinds.

>>> from units.features.registry import load_featurizer
>>> featurizer = load_featurizer("extractor_dir")  # doctest: +SKIP
>>> featurizer.featurize([wave])[0].shape  # doctest: +SKIP
torch.Size([49, 1024])
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import torch

from units.errors import ModelFormatError
from units.features.base import FEATURIZER_FILE, Featurizer

__all__ = ["FEATURIZER_KINDS", "featurizer_class", "load_featurizer"]

# type in featurizer.json -> "module:Class"; imported on first use so that MFCC users never
# load the SSL encoder machinery.
FEATURIZER_KINDS = {
    "ssl": "units.features.ssl_featurizer:SSLFeaturizer",
    "mfcc": "units.features.mfcc:MfccFeaturizer",
}


def featurizer_class(kind: str) -> type[Featurizer]:
    """The class registered for `kind`.

    >>> featurizer_class("mfcc").__name__
    'MfccFeaturizer'
    """
    if kind not in FEATURIZER_KINDS:
        raise ModelFormatError(
            f"featurizer type must be one of {sorted(FEATURIZER_KINDS)}, but is {kind!r}; fix: re-save the featurizer"
        )
    module, _, name = FEATURIZER_KINDS[kind].partition(":")
    return getattr(importlib.import_module(module), name)


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
    if kind not in FEATURIZER_KINDS:
        raise ModelFormatError(
            f"{path}: type must be one of {sorted(FEATURIZER_KINDS)}, but is {kind!r}; fix: re-save the featurizer"
        )
    return featurizer_class(kind).from_record(record, Path(directory), device=device)
