"""`UnitVocab`: the unit vocabulary a model carries, typed, in one place.

`spire extend` writes it into the model's config as `config.spire`; every reader (data builders,
training, `SpireModel`, reports) goes through this class, which validates it and names the
dotted key of a bad field. A released SPIRE folder has no `config.spire`: its vocabulary is
found from the unit pieces in its tokenizer (`UnitVocab.detect`), and its extractor must then be
given explicitly.

>>> vocab = UnitVocab(num_units=5000, first_unit_id=32005, first_new_id=32000)
>>> UnitVocab.from_dict(vocab.to_dict()) == vocab
True
>>> vocab.unit_id(2)
32007
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from spire.errors import VocabularyError
from spire.vocab.pairing import (
    EXTRACTOR_DIR,
    ExtractorMismatchError,
    kmeans_state,
    pairing_differences,
    provenance_facts,
)
from spire.vocab.tokens import SPIRE_SPECIALS, find_unit_pieces
from spire.vocab.tokens import unit_ids_in_context as _unit_ids_in_context
from units.encoding import UNIT_FORMATS

__all__ = ["ExtractorMismatchError", "UnitVocab"]

_KEY = "spire"  # the config attribute / config.json section


@dataclasses.dataclass(frozen=True, kw_only=True)
class UnitVocab:
    """The unit tokens of an extended model and the extractor they were made for.

    >>> UnitVocab(num_units=50, first_unit_id=517, first_new_id=512).to_dict()["unit_format"]
    'pua'
    """

    num_units: int
    """Unit tokens in the vocabulary: the k of the k-means model whose units the model reads."""
    unit_format: str = "pua"
    """How a unit is written: "pua" or "extra_id" (defined in `units.encoding`)."""
    first_unit_id: int
    """Token id of unit 0; unit i is `first_unit_id + i`."""
    first_new_id: int
    """Size of the base vocabulary: ids below it are the base model's, unchanged."""
    init: str | None = None
    """How the new embedding rows were initialised ("default" or "mean"); None when unknown."""
    extractor: dict[str, Any] | None = None
    """Provenance of the unit extractor the model was extended for (`UnitExtractor.provenance()`:
    featurizer, kmeans k and checksum, dedup, unit_format); None when none was recorded."""
    kmeans_unverified: str | None = None
    """Why that extractor's k-means could not be checked against its featurizer, recorded when it
    was accepted with `check_compatible=False`; None when it was checked (or no extractor)."""
    detected: bool = False
    """True when found from the tokenizer's unit pieces (a released SPIRE folder without
    `config.spire`); never saved."""

    def __post_init__(self) -> None:
        if self.unit_format not in UNIT_FORMATS:
            raise VocabularyError(
                f"config.spire.unit_format must be one of {UNIT_FORMATS}, but is "
                f"{self.unit_format!r}; fix: re-extend the base model with `spire extend`"
            )
        if isinstance(self.num_units, bool) or not isinstance(self.num_units, int) or self.num_units < 1:
            raise VocabularyError(
                f"config.spire.num_units must be a positive integer, but is {self.num_units!r}; "
                "fix: re-extend the base model with `spire extend`"
            )
        for name in ("first_unit_id", "first_new_id"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise VocabularyError(
                    f"config.spire.{name} must be a non-negative integer, but is {value!r}; "
                    "fix: re-extend the base model with `spire extend`"
                )
        if self.first_new_id > self.first_unit_id:
            raise VocabularyError(
                f"config.spire.first_new_id must be at most first_unit_id ({self.first_unit_id}), "
                f"but is {self.first_new_id}; fix: re-extend the base model with `spire extend`"
            )
        if self.extractor is not None and not isinstance(self.extractor, dict):
            raise VocabularyError(
                f"config.spire.extractor must be an object (the extractor's provenance) or null, "
                f"but is {type(self.extractor).__name__}; fix: re-extend with `spire extend`"
            )

    # ---------------------------------------------------------------- reading and writing

    @classmethod
    def from_dict(cls, data: Any) -> UnitVocab:
        """Parse a `config.spire` mapping; VocabularyError naming `config.spire.<key>` if bad.

        A record without `first_new_id` (written before it existed) takes `first_unit_id`.
        """
        if not isinstance(data, dict):
            raise VocabularyError(
                f"config.spire must be an object, but is {type(data).__name__}; "
                "fix: re-extend the base model with `spire extend`"
            )
        fields = {f.name for f in dataclasses.fields(cls)} - {"detected"}
        unknown = sorted(set(data) - fields)
        if unknown:
            raise VocabularyError(
                f"config.spire must hold only {sorted(fields)}, but also has {unknown}; "
                "fix: remove them, or update spire"
            )
        for key in ("num_units", "first_unit_id"):
            if data.get(key) is None:
                raise VocabularyError(
                    f"config.spire.{key} must be set, but is missing; "
                    "fix: re-extend the base model with `spire extend`"
                )
        values = dict(data)
        values.setdefault("unit_format", "pua")
        if values.get("first_new_id") is None:
            values["first_new_id"] = values["first_unit_id"]
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready `config.spire` record (everything but `detected`)."""
        out = dataclasses.asdict(self)
        out.pop("detected")
        return out

    @staticmethod
    def in_config(config: Any) -> bool:
        """Whether a transformers config (or its dict) records a unit vocabulary."""
        data = config.get(_KEY) if isinstance(config, dict) else getattr(config, _KEY, None)
        return bool(data)

    @classmethod
    def from_config(cls, config: Any, *, tokenizer: Any = None, where: str = "the model") -> UnitVocab:
        """From a transformers config (or its dict): `config.spire`, else the tokenizer's pieces.

        Without `config.spire` and without a tokenizer holding unit pieces: VocabularyError
        saying to run `spire extend`.
        """
        data = config.get(_KEY) if isinstance(config, dict) else getattr(config, _KEY, None)
        if data:
            return cls.from_dict(data)
        found = cls.detect(tokenizer) if tokenizer is not None else None
        if found is None:
            raise VocabularyError(
                f"the model must have unit tokens (config.spire, or unit pieces in its tokenizer), "
                f"but {where} has none; fix: run `spire extend` on the base model first, then train it"
            )
        return found

    @classmethod
    def load(cls, model_dir: str | Path, *, tokenizer: Any = None) -> UnitVocab:
        """From a model folder's config.json (the tokenizer is loaded only if it has no `spire`).

        >>> UnitVocab.load("runs/extended").num_units                          # doctest: +SKIP
        5000
        """
        path = Path(model_dir) / "config.json"
        try:
            config = json.loads(path.read_text())
        except (OSError, ValueError) as error:
            raise VocabularyError(
                f"model_dir must be a saved model folder with a readable config.json, but "
                f"{path} is not ({error.__class__.__name__}); fix: pass the folder written by "
                "`spire extend` or `spire train`"
            ) from error
        if not config.get(_KEY) and tokenizer is None:
            from transformers import AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
        return cls.from_config(config, tokenizer=tokenizer, where=str(model_dir))

    def apply_to(self, config: Any) -> None:
        """Record this vocabulary on a transformers config (`config.spire`), to be saved with it."""
        setattr(config, _KEY, self.to_dict())

    def save(self, model_dir: str | Path) -> Path:
        """Write this vocabulary into `model_dir/config.json` (atomically); returns the path."""
        from units.files import write_json

        path = Path(model_dir) / "config.json"
        config = json.loads(path.read_text())
        config[_KEY] = self.to_dict()
        write_json(path, config)
        return path

    @classmethod
    def detect(cls, tokenizer: Any) -> UnitVocab | None:
        """The vocabulary of a tokenizer whose unit strings are tokens (e.g. a released SPIRE
        tokenizer: `<CLS> <EOD> <MASK> <PAD> <SEP>`, then units as SentencePiece pieces); None
        when it has no unit tokens. Provenance is unknown, so `extractor` is None.
        """
        found = find_unit_pieces(tokenizer)
        if found is None:
            return None
        unit_format, first, count = found
        first_new = first
        specials = [tokenizer.convert_tokens_to_ids(t) for t in SPIRE_SPECIALS]
        if specials == list(range(first - len(SPIRE_SPECIALS), first)):
            first_new = specials[0]
        vocab = cls(num_units=count, unit_format=unit_format, first_unit_id=first,
                    first_new_id=first_new, detected=True)
        vocab.check_tokenizer(tokenizer)
        return vocab

    # ---------------------------------------------------------------- checks

    def unit_id(self, unit: int) -> int:
        """Token id of unit number `unit`."""
        if not 0 <= unit < self.num_units:
            raise VocabularyError(f"unit must be in 0..{self.num_units - 1}, but is {unit}")
        return self.first_unit_id + unit

    def check_tokenizer(self, tokenizer: Any) -> None:
        """Every unit must be one token, with ids `first_unit_id`… in order, inside a prompt."""
        ids = _unit_ids_in_context(tokenizer, self.num_units, self.unit_format)
        expected = list(range(self.first_unit_id, self.first_unit_id + self.num_units))
        if ids != expected:
            bad = next(i for i, (a, b) in enumerate(zip(ids, expected)) if a != b)
            raise VocabularyError(
                f"unit {bad} must have token id {expected[bad]} (config.spire.first_unit_id "
                f"{self.first_unit_id} + {bad}), but the tokenizer gives {ids[bad]}; "
                "fix: save the tokenizer with its model"
            )

    def check_extractor(self, extractor: Any, *, check_compatible: bool = True) -> str | None:
        """Refuse an extractor whose units are not this vocabulary's; return why its k-means is
        unverified when that is accepted (the caller warns), else None.

        Compared: k, unit format, and, where the model recorded them, the k-means checksum,
        dedup and the featurizer's identity. An extractor whose k-means is not known to be fit
        on its featurizer is refused unless `check_compatible=False` or the model recorded
        accepting the same one (`kmeans_unverified`).
        """
        found = pairing_differences(
            num_units=self.num_units,
            unit_format=self.unit_format,
            recorded=self.extractor,
            extractor=extractor,
        )
        if found:
            raise ExtractorMismatchError(
                "the extractor must give the units the model was extended with "
                "(config.spire.extractor), but differs in " + "; ".join(found)
                + "; fix: pass the extractor the model was extended with"
            )
        state = kmeans_state(extractor)
        if state is None:
            return None
        recorded = provenance_facts(self.extractor)["checksum"]
        accepted = self.kmeans_unverified is not None and recorded is not None
        if check_compatible and not accepted:
            raise ExtractorMismatchError(
                f"the extractor's k-means must be known to be fit on its featurizer's features, "
                f"but {state}; fix: fit k-means on features saved with their .json sidecar (or "
                "import it with its featurizer), or pass check_compatible=False to use it knowingly"
            )
        return state

    def extractor_dir(self, model_dir: str | Path) -> Path:
        """`model_dir/extractor`, the only place an extractor is looked for; else an error."""
        beside = Path(model_dir) / EXTRACTOR_DIR
        if (beside / "extractor.json").is_file() and not self.detected:
            return beside
        why = (
            "it has no config.spire (a released SPIRE folder), so its extractor cannot be "
            "checked by checksum"
            if self.detected
            else f"it has no {EXTRACTOR_DIR}/ folder"
        )
        raise VocabularyError(
            f"the unit extractor must be given for {model_dir}, but {why}; fix: pass "
            "extractor= a saved extractor folder (for a released model: one made with "
            "`spire units import-kmeans` from its k-means and `make-extractor`)"
        )
