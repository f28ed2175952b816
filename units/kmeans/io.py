"""The quantizer on disk: our portable format, and the one-time import of scikit-learn pickles.

Format (a folder): `centroids.safetensors` holds one float32 tensor "centroids" (k, dim);
`kmeans.json` holds the format name and version, k, dim, the sha256 of the centroids' bytes and
the metadata (featurizer provenance, training stats, import source). The checksum is verified
on every load, so a quantizer that changed on disk cannot silently change the units.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from units.errors import ModelFormatError, UntrustedFileError
from units.files import atomic_open

FORMAT = "spire-kmeans"
FORMAT_VERSION = 1
CONFIG_NAME = "kmeans.json"
CENTROIDS_NAME = "centroids.safetensors"
_RESERVED = ("format", "format_version", "k", "dim", "dtype", "sha256")


def centroids_checksum(centroids: np.ndarray) -> str:
    """sha256 (hex) of float32 little-endian C-order centroid bytes.

    >>> centroids_checksum(np.zeros((1, 1), dtype=np.float32))[:8]
    'df3f6198'
    """
    data = np.ascontiguousarray(centroids, dtype="<f4")
    return hashlib.sha256(data.tobytes()).hexdigest()


def save(directory: str | os.PathLike, centroids: np.ndarray, metadata: dict[str, Any]) -> Path:
    """Write the folder; each file is written whole or not at all (`units.files.atomic_open`)."""
    from safetensors.numpy import save as to_safetensors

    directory = Path(directory)
    clash = [key for key in metadata if key in _RESERVED]
    if clash:
        raise ModelFormatError(
            f"quantizer metadata keys must not be one of {_RESERVED}, but include {clash}; "
            "fix: rename them"
        )
    config = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "k": int(centroids.shape[0]),
        "dim": int(centroids.shape[1]),
        "dtype": "float32",
        "sha256": centroids_checksum(centroids),
        **metadata,
    }
    try:
        text = json.dumps(config, indent=2, sort_keys=False)
    except (TypeError, ValueError) as e:
        raise ModelFormatError(
            f"quantizer metadata must be JSON-serializable, but is not ({e}); "
            "fix: keep only str, numbers, bools, None, lists and dicts in it"
        ) from e
    directory.mkdir(parents=True, exist_ok=True)
    data = to_safetensors({"centroids": np.ascontiguousarray(centroids, dtype=np.float32)})
    with atomic_open(directory / CENTROIDS_NAME, "wb") as handle:
        handle.write(data)
    # the config goes last: a folder without it is visibly incomplete
    with atomic_open(directory / CONFIG_NAME, "w") as handle:
        handle.write(text + "\n")
    return directory


def load(directory: str | os.PathLike) -> tuple[np.ndarray, dict[str, Any]]:
    """Read and verify a folder written by `save`; return (centroids, metadata)."""
    directory = Path(directory)
    if directory.is_file() and directory.suffix in (".pkl", ".joblib", ".pickle"):
        raise ModelFormatError(
            f"{directory} is a pickle, not a quantizer folder; fix: convert it once with "
            "KMeansQuantizer.from_sklearn(path, trust=True).save_pretrained(folder)"
        )
    config_path, centroids_path = directory / CONFIG_NAME, directory / CENTROIDS_NAME
    for path in (config_path, centroids_path):
        if not path.is_file():
            raise ModelFormatError(
                f"a quantizer folder must hold {CONFIG_NAME} and {CENTROIDS_NAME}, but {path} "
                "is missing; fix: point at a folder written by KMeansQuantizer.save_pretrained"
            )
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ModelFormatError(f"{config_path} must be JSON, but cannot be parsed ({e})") from e
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise ModelFormatError(
            f"{config_path} must have format {FORMAT!r}, but has "
            f"{config.get('format') if isinstance(config, dict) else config!r}"
        )
    if config.get("format_version") != FORMAT_VERSION:
        raise ModelFormatError(
            f"{config_path} must have format_version {FORMAT_VERSION}, but has "
            f"{config.get('format_version')!r}; fix: upgrade spire"
        )
    centroids = _read_centroids(centroids_path)
    expected = (config.get("k"), config.get("dim"))
    if centroids.shape != expected:
        raise ModelFormatError(
            f"{centroids_path} must hold centroids of shape {expected} (k, dim) as {CONFIG_NAME} "
            f"says, but holds {centroids.shape}; fix: re-save the quantizer"
        )
    checksum = centroids_checksum(centroids)
    if checksum != config.get("sha256"):
        raise ModelFormatError(
            f"the centroids in {centroids_path} must have sha256 {config.get('sha256')}, but have "
            f"{checksum}: the file was modified or corrupted; fix: copy the quantizer folder again "
            "from its source (units made with a changed quantizer would not match)"
        )
    metadata = {key: value for key, value in config.items() if key not in _RESERVED}
    return centroids, metadata


def _read_centroids(path: Path) -> np.ndarray:
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as e:
        raise ModelFormatError(
            f"{path} must be a safetensors file, but cannot be read ({e}); "
            "fix: copy the quantizer folder again"
        ) from e
    centroids = tensors.get("centroids")
    if centroids is None or centroids.ndim != 2 or centroids.dtype != np.float32:
        found = None if centroids is None else f"{centroids.dtype} {centroids.shape}"
        raise ModelFormatError(
            f"{path} must hold a 2-D float32 tensor 'centroids', but holds {found}"
        )
    return centroids


def import_sklearn(path: str | os.PathLike, *, trust: bool) -> tuple[np.ndarray, dict[str, Any]]:
    """Unpickle a scikit-learn (MiniBatch)KMeans saved with joblib; return (centroids, source)."""
    path = Path(path)
    if not path.is_file():
        raise ModelFormatError(f"{path} must be a joblib file, but does not exist")
    if not trust:
        raise UntrustedFileError(
            f"{path} is a pickle (joblib) file, and loading one can run arbitrary code, so it is "
            "refused by default; fix: if you trust where it came from, pass trust=True, then "
            "save_pretrained to convert it once into the safe format"
        )
    try:
        import joblib
    except ImportError as e:
        raise ModelFormatError(
            "importing a scikit-learn k-means needs joblib and scikit-learn; "
            "fix: pip install scikit-learn joblib"
        ) from e
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    try:
        model = joblib.load(path)
    except Exception as e:  # unpickling can fail in any way; all mean "not a usable file"
        raise ModelFormatError(
            f"{path} must be a joblib pickle of a scikit-learn KMeans, but cannot be loaded "
            f"({type(e).__name__}: {e}); fix: check the file, and install a compatible "
            "scikit-learn"
        ) from e
    centres = getattr(model, "cluster_centers_", None)
    if not isinstance(centres, np.ndarray) or centres.ndim != 2:
        raise ModelFormatError(
            f"{path} must hold a fitted scikit-learn KMeans or MiniBatchKMeans (with "
            f"cluster_centers_), but holds a {type(model).__name__}"
        )
    state = model.__getstate__() if hasattr(model, "__getstate__") else {}
    source = {
        "type": "sklearn-joblib",
        "class": f"{type(model).__module__}.{type(model).__name__}",
        "sklearn_version": (state or {}).get("_sklearn_version"),
        "file": path.name,
        "file_sha256": digest,
        "original_dtype": str(centres.dtype),
    }
    inertia = getattr(model, "inertia_", None)
    if inertia is not None:
        source["inertia"] = float(inertia)
    return np.ascontiguousarray(centres, dtype=np.float32), source
