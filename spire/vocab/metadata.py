"""Pairing an extended LLM with its unit extractor: find the extractor, refuse a mismatch.

A model trained on units from one k-means model reads units from another as noise, silently.
So loading checks what the model's `config.spire` records (number of units, unit format,
the extractor's provenance with its k-means checksum) against the extractor given.

>>> find_key({"kmeans": {"checksum": "ab12"}}, "checksum")
'ab12'
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from spire.errors import SpireError, VocabularyError


class ExtractorMismatchError(SpireError):
    """A unit extractor whose units are not the ones the model was extended (and trained) with."""


# Keys under which an extractor's provenance may record where it was saved.
_PATH_KEYS = ("path", "extractor_path", "source", "dir")


def find_key(tree: Any, key: str) -> Any:
    """The first value stored under `key` anywhere in nested dicts (depth first), or None."""
    if isinstance(tree, dict):
        if tree.get(key) is not None:
            return tree[key]
        for value in tree.values():
            found = find_key(value, key)
            if found is not None:
                return found
    return None


def unit_metadata(config: Any, tokenizer: Any, model_dir: str | Path) -> dict[str, Any]:
    """`config.spire`, checked against the tokenizer; VocabularyError for a model without units."""
    from spire.vocab.extend import check_unit_vocab

    meta = getattr(config, "spire", None)
    if not isinstance(meta, dict) or not meta.get("num_units"):
        raise VocabularyError(
            f"the model must have unit tokens (config.spire), but {model_dir} has none; "
            "fix: run `spire extend --model BASE --out DIR` first, then train it"
        )
    first = check_unit_vocab(tokenizer, int(meta["num_units"]), meta.get("unit_format", "pua"))
    if meta.get("first_unit_id") is not None and int(meta["first_unit_id"]) != first:
        raise VocabularyError(
            f"the first unit token id must be {meta['first_unit_id']} (config.spire), but the "
            f"tokenizer in {model_dir} has it at {first}; fix: save the tokenizer with its model"
        )
    return meta


def extractor_location(model_dir: str | Path, meta: dict[str, Any]) -> Path:
    """Where the model's extractor is: `model_dir/extractor`, else the path in its provenance."""
    beside = Path(model_dir) / "extractor"
    if beside.is_dir():
        return beside
    provenance = meta.get("extractor") or {}
    for key in _PATH_KEYS:
        value = provenance.get(key) if isinstance(provenance, dict) else None
        if isinstance(value, str) and Path(value).is_dir():
            return Path(value)
    raise SpireError(
        f"the unit extractor must be findable, but {model_dir} has no extractor/ folder and its "
        "config.spire.extractor records no existing folder; fix: pass the extractor folder "
        "(extractor=DIR in Python, --extractor DIR on the command line)"
    )


def _extractor_facts(extractor: Any) -> dict[str, Any]:
    provenance = dict(extractor.provenance())
    quantizer = getattr(extractor, "quantizer", None)
    return {
        "k": getattr(quantizer, "k", None) or find_key(provenance, "k"),
        "unit_format": getattr(extractor, "unit_format", None) or provenance.get("unit_format"),
        "checksum": getattr(quantizer, "checksum", None) or find_key(provenance, "checksum"),
        "dedup": provenance.get("dedup", getattr(extractor, "dedup", None)),
    }


def check_extractor(meta: dict[str, Any], extractor: Any) -> None:
    """Refuse an extractor whose k, unit format, k-means checksum or dedup differ from the model's."""
    facts = _extractor_facts(extractor)
    recorded = meta.get("extractor") or {}
    wanted = {
        "k": meta.get("num_units"),
        "unit_format": meta.get("unit_format", "pua"),
        "checksum": find_key(recorded, "checksum"),
        "dedup": recorded.get("dedup") if isinstance(recorded, dict) else None,
    }
    fixes = {
        "k": "pass the extractor whose k-means has as many clusters as the model has units",
        "unit_format": "pass an extractor with the model's unit format",
        "checksum": "pass the extractor the model was extended with (same k-means model)",
        "dedup": "pass an extractor with the model's dedup setting",
    }
    for key, expected in wanted.items():
        found = facts[key]
        if expected is None or found is None:
            continue  # not recorded on one side: nothing to compare
        if (int(found) != int(expected)) if key == "k" else (found != expected):
            raise ExtractorMismatchError(
                f"the extractor's {key} must be {expected!r} as recorded in the model's "
                f"config.spire, but is {found!r}; fix: {fixes[key]}"
            )
