"""Pairing a model with its unit extractor: what is compared, where the extractor lives.

A model trained on units from one extractor reads another extractor's units as noise, silently.
So the pairing compares everything that determines the units: the number of units (k), the unit
format, the k-means checksum, dedup, and the featurizer's identity (type, encoder and its weights'
hash, layer, dim, normalisation, MFCC settings with the VTLN codebook's checksum). Inside the
extractor, its k-means must be known to be fit on its featurizer's features; an extractor where
that is unknown (a k-means without provenance) or overridden (`check_compatible=False`) is used
only when the caller opts in with `check_compatible=False`, with a warning, and the model
records it.

A model folder carries its extractor in `model_dir/extractor/`, copied there by
`copy_extractor` (by `spire extend` and after training), replacing an earlier one whole.

>>> featurizer_differences({"layer": 22, "dtype": "float32"}, {"layer": 9, "dtype": "bfloat16"})
["layer (the model's: 22, the extractor's: 9)"]
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from spire.errors import SpireError, VocabularyError

__all__ = [
    "EXTRACTOR_DIR",
    "ExtractorMismatchError",
    "copy_extractor",
    "extractor_folder",
    "featurizer_differences",
    "kmeans_state",
    "pairing_differences",
    "read_extractor_provenance",
]

EXTRACTOR_DIR = "extractor"
_EXTRACTOR_FILE = "extractor.json"
# Settings that change numerics but not which encoder/layer the features come from.
_NOT_IDENTITY = frozenset({"dtype"})


class ExtractorMismatchError(SpireError):
    """A unit extractor whose units are not the ones the model was extended (and trained) with."""


def extractor_folder(path: str | Path) -> Path | None:
    """The saved extractor folder `path` names (the folder, or its extractor.json), else None.

    >>> extractor_folder("no/such/place") is None
    True
    """
    path = Path(path)
    if path.is_file() and path.name == _EXTRACTOR_FILE:
        path = path.parent
    if (path / _EXTRACTOR_FILE).is_file() and (path / "kmeans").is_dir():
        return path
    return None


def read_extractor_provenance(path: str | Path, *, check_compatible: bool = True) -> dict[str, Any]:
    """Provenance of a saved unit extractor: its folder, its extractor.json, or a JSON file of
    provenance alone (flat `{"k": …, "checksum": …}` or nested as `UnitExtractor.provenance()`).

    >>> read_extractor_provenance("runs/units/extractor")["kmeans"]["k"]      # doctest: +SKIP
    5000
    """
    path = Path(path)
    folder = extractor_folder(path)
    if folder is not None:
        from units.extractor import UnitExtractor

        extractor = UnitExtractor.from_pretrained(folder, check_compatible=check_compatible)
        return json.loads(json.dumps(extractor.provenance()))
    if not path.is_file():
        raise VocabularyError(
            f"extractor must be a saved unit extractor folder or a provenance JSON file, but "
            f"{path} is neither; fix: pass the folder written by UnitExtractor.save_pretrained"
        )
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise VocabularyError(
            f"extractor must be a readable JSON file, but reading {path} failed ({error}); "
            "fix: pass the extractor folder instead"
        ) from error
    if not isinstance(record, dict):
        raise VocabularyError(f"{path} must hold a JSON object, but holds {type(record).__name__}")
    # An extractor.json copied away from its folder: its provenance is one level down.
    nested = record.get("provenance")
    return nested if isinstance(nested, dict) else record


def provenance_facts(provenance: dict[str, Any] | None) -> dict[str, Any]:
    """k, checksum, dedup, unit_format and featurizer of a provenance, flat or nested."""
    provenance = provenance if isinstance(provenance, dict) else {}
    kmeans = provenance.get("kmeans") if isinstance(provenance.get("kmeans"), dict) else {}
    featurizer = provenance.get("featurizer")
    return {
        "k": kmeans.get("k", provenance.get("k")),
        "checksum": kmeans.get("checksum", provenance.get("checksum")),
        "dedup": provenance.get("dedup"),
        "unit_format": provenance.get("unit_format"),
        "featurizer": featurizer if isinstance(featurizer, dict) else None,
    }


def featurizer_differences(recorded: dict[str, Any], found: dict[str, Any]) -> list[str]:
    """Fields where two featurizer provenances disagree; fields only one side has are skipped.

    Every field counts except `dtype`; the encoder's name counts only when a side lacks its
    weights' hash (a copied checkpoint keeps its hash under another name).
    """
    found = json.loads(json.dumps(found))  # tuples -> lists, as `recorded` came through JSON
    hashed = bool(recorded.get("encoder_hash")) and bool(found.get("encoder_hash"))
    out = []
    for key in sorted(set(recorded) & set(found)):
        if key in _NOT_IDENTITY or (key == "encoder" and hashed):
            continue
        if recorded[key] != found[key]:
            out.append(f"{key} (the model's: {recorded[key]!r}, the extractor's: {found[key]!r})")
    return out


def pairing_differences(
    *, num_units: int, unit_format: str, recorded: dict[str, Any] | None, extractor: Any
) -> list[str]:
    """What differs between a model's unit vocabulary (and recorded provenance) and `extractor`."""
    have = provenance_facts(dict(extractor.provenance()))
    want = provenance_facts(recorded)
    want["k"], want["unit_format"] = num_units, unit_format
    out = []
    for key in ("k", "unit_format", "checksum", "dedup"):
        if want[key] is not None and have[key] is not None and want[key] != have[key]:
            out.append(f"{key} (the model's: {want[key]!r}, the extractor's: {have[key]!r})")
    if want["featurizer"] and have["featurizer"]:
        out += [f"featurizer {d}" for d in featurizer_differences(want["featurizer"], have["featurizer"])]
    return out


def kmeans_state(extractor: Any) -> str | None:
    """Why `extractor`'s k-means is not known to be fit on its featurizer's features; None if it is.

    >>> kmeans_state(UnitExtractor(featurizer, KMeansQuantizer(centroids)))   # doctest: +SKIP
    'its k-means records no provenance (the features it was fit on are unknown)'
    """
    from units.extractor import provenance_differences

    if getattr(extractor, "check_compatible", True) is False:
        return "it was built with check_compatible=False (its pairing was forced)"
    fitted = getattr(getattr(extractor, "quantizer", None), "provenance", None)
    if not fitted:
        return "its k-means records no provenance (the features it was fit on are unknown)"
    found = provenance_differences(extractor.featurizer.provenance(), fitted)
    if found:
        return "its k-means was fit on other features: " + "; ".join(found)
    return None


def copy_extractor(source: str | Path, model_dir: str | Path) -> Path:
    """Copy a saved extractor folder to `model_dir/extractor`, replacing an earlier one whole.

    Nothing of an earlier extractor survives (no merge); a copy onto itself is a no-op.

    >>> copy_extractor("runs/units/extractor", "runs/extended")               # doctest: +SKIP
    PosixPath('runs/extended/extractor')
    """
    source, target = Path(source), Path(model_dir) / EXTRACTOR_DIR
    if extractor_folder(source) != source:
        raise VocabularyError(
            f"extractor must be a saved unit extractor folder (extractor.json and kmeans/), but "
            f"{source} is not; fix: pass the folder written by UnitExtractor.save_pretrained"
        )
    if target.exists() and target.resolve() == source.resolve():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{EXTRACTOR_DIR}.tmp-{os.getpid()}")
    retired = target.with_name(f".{EXTRACTOR_DIR}.old-{os.getpid()}")
    for leftover in (staging, retired):
        shutil.rmtree(leftover, ignore_errors=True)
    shutil.copytree(source, staging)
    if target.exists():
        target.rename(retired)
    staging.rename(target)
    shutil.rmtree(retired, ignore_errors=True)
    return target
