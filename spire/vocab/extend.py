"""Vocabulary extension: unit tokens (and SPIRE's specials) added to an LLM's tokenizer and embeddings.

For a Llama-2 base (32000 pieces) the result matches the released SPIRE models: `<CLS> <EOD>
<MASK> <PAD> <SEP>` at 32000-32004, unit `i` at 32005 + i, then `<|im_end|>`, `<|im_start|>`;
embeddings padded to a multiple of 64 (37056 rows), untied.

>>> result = extend_model("TowerBase-7B", "spire-init", num_units=5000)     # doctest: +SKIP
>>> result.first_unit_id  # doctest: +SKIP
32005

Units are added as non-special tokens matched before the tokenizer's model runs
(`normalized=False`): each unit is one token whatever surrounds it, `decode(encode(x)) == x`
for text mixing units and words, and `skip_special_tokens=True` keeps them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spire.errors import VocabularyError

__all__ = [
    "CHAT_SPECIALS",
    "PUA_OFFSET",
    "SPIRE_SPECIALS",
    "UNIT_FORMATS",
    "ExtendResult",
    "check_unit_vocab",
    "extend_model",
    "extend_tokenizer",
    "read_extractor_provenance",
    "unit_strings",
    "unit_token_ids",
]

PUA_OFFSET = 983040  # U+F0000, the first code point of Unicode's private use plane 15
UNIT_FORMATS = ("pua", "extra_id")
SPIRE_SPECIALS = ("<CLS>", "<EOD>", "<MASK>", "<PAD>", "<SEP>")
CHAT_SPECIALS = ("<|im_end|>", "<|im_start|>")


def unit_strings(num_units: int, unit_format: str = "pua") -> list[str]:
    """The text of units 0..num_units-1: `chr(983040 + i)` or `<extra_id_i>`.

    >>> unit_strings(2, "extra_id")
    ['<extra_id_0>', '<extra_id_1>']
    """
    if unit_format not in UNIT_FORMATS:
        raise VocabularyError(
            f"unit_format must be one of {UNIT_FORMATS}, but is {unit_format!r}; fix: pick one"
        )
    if num_units < 1:
        raise VocabularyError(
            f"num_units must be at least 1, but is {num_units}; fix: pass the k-means k"
        )
    if unit_format == "pua":
        return [chr(PUA_OFFSET + i) for i in range(num_units)]
    return [f"<extra_id_{i}>" for i in range(num_units)]


def unit_token_ids(tokenizer: Any, num_units: int, unit_format: str = "pua") -> list[int]:
    """The token id of every unit; VocabularyError if one is missing or not a single token.

    >>> unit_token_ids(tokenizer, 5000)[:2]                                    # doctest: +SKIP
    [32005, 32006]
    """
    ids = []
    for index, text in enumerate(unit_strings(num_units, unit_format)):
        encoded = tokenizer.encode(text, add_special_tokens=False)
        if len(encoded) != 1 or encoded[0] == tokenizer.unk_token_id:
            raise VocabularyError(
                f"unit {index} ({text!r}) must be exactly one token, but encodes to {encoded}; "
                "fix: extend the model first with `spire extend`"
            )
        ids.append(encoded[0])
    return ids


def check_unit_vocab(tokenizer: Any, num_units: int, unit_format: str = "pua") -> int:
    """Check that the units are single tokens with consecutive ids; return the first unit's id."""
    ids = unit_token_ids(tokenizer, num_units, unit_format)
    if ids != list(range(ids[0], ids[0] + num_units)):
        raise VocabularyError(
            f"unit ids must be consecutive from {ids[0]}, but are not; fix: re-extend the base model"
        )
    return ids[0]


@dataclass(frozen=True)
class ExtendResult:
    """What `extend_model` did."""

    out_dir: Path
    num_units: int
    unit_format: str
    first_new_id: int  # the original vocabulary size: every id below is unchanged
    first_unit_id: int
    vocab_size: int  # tokens in the extended tokenizer
    embedding_rows: int  # rows of the resized embeddings (padded)
    special_ids: dict[str, int] = field(default_factory=dict)


def extend_tokenizer(
    tokenizer: Any, *, num_units: int, unit_format: str = "pua", chat_specials: bool = True
) -> tuple[int, int, dict[str, int]]:
    """Add SPIRE's specials, the units and the chat specials, in that order, in place.

    Tokens already present (e.g. `<|im_start|>` in a Qwen vocabulary) are reused, never
    duplicated; a unit already present is an error. Returns (first_new_id, first_unit_id,
    special ids).
    """
    from tokenizers import AddedToken

    units = unit_strings(num_units, unit_format)
    vocab = tokenizer.get_vocab()
    present = [text for text in units if text in vocab]
    if present:
        raise VocabularyError(
            f"the tokenizer must not contain unit tokens yet, but has {len(present)} "
            f"(e.g. {present[0]!r}, id {vocab[present[0]]}); fix: extend the base model, "
            "or use this already extended model as it is"
        )
    first_new_id = len(tokenizer)

    def add(texts: list[str], special: bool) -> None:
        tokens = [AddedToken(t, special=special, normalized=False) for t in texts if t not in vocab]
        if tokens:
            tokenizer.add_tokens(tokens, special_tokens=special)

    add(list(SPIRE_SPECIALS), True)
    first_unit_id = len(tokenizer)
    add(units, False)
    if chat_specials:
        add(list(CHAT_SPECIALS), True)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = "<PAD>"
    check = check_unit_vocab(tokenizer, num_units, unit_format)
    if check != first_unit_id:
        raise VocabularyError(f"units must start at id {first_unit_id}, but start at {check}")
    wanted = SPIRE_SPECIALS + (CHAT_SPECIALS if chat_specials else ())
    specials = {text: tokenizer.convert_tokens_to_ids(text) for text in wanted}
    return first_new_id, first_unit_id, specials


def read_extractor_provenance(path: str | Path) -> dict[str, Any]:
    """Provenance of a saved unit extractor (folder) or of a JSON file describing one."""
    path = Path(path)
    if path.is_file():
        return json.loads(path.read_text())
    try:
        from units.extractor import UnitExtractor

        return dict(UnitExtractor.from_pretrained(path).provenance())
    except ImportError:
        pass
    candidate = path / "extractor.json"
    if not candidate.is_file():
        raise VocabularyError(
            f"--extractor must be a saved unit extractor folder, but {path} has no extractor.json; "
            "fix: pass the folder written by UnitExtractor.save_pretrained"
        )
    return json.loads(candidate.read_text())


def _check_provenance(provenance: dict[str, Any], num_units: int, unit_format: str) -> None:
    kmeans = provenance.get("kmeans") if isinstance(provenance.get("kmeans"), dict) else {}
    k = provenance.get("k", kmeans.get("k"))
    if k is not None and int(k) != num_units:
        raise VocabularyError(
            f"num_units must equal the extractor's k-means k ({k}), but is {num_units}; fix: pass --num-units {k}"
        )
    fmt = provenance.get("unit_format")
    if fmt is not None and fmt != unit_format:
        raise VocabularyError(
            f"unit_format must equal the extractor's ({fmt!r}), but is {unit_format!r}; fix: pass --unit-format {fmt}"
        )


def extend_model(
    model_dir: str | Path,
    out_dir: str | Path,
    *,
    num_units: int = 5000,
    unit_format: str = "pua",
    chat_specials: bool = True,
    init: str = "default",
    pad_to_multiple_of: int = 64,
    extractor_provenance: dict[str, Any] | None = None,
    extractor_dir: str | Path | None = None,
    seed: int = 0,
) -> ExtendResult:
    """Extend a saved causal LM with unit tokens and save it (a plain transformers model) to `out_dir`.

    `init` is "default" (normal(0, initializer_range)) or "mean" (Hewitt's recipe). The saved
    config gets `spire = {num_units, unit_format, first_unit_id, extractor}`. A model that
    already has `config.spire` is refused. `extractor_dir` (a saved UnitExtractor) is recorded
    and copied to `out_dir/extractor/`, so the model folder alone transcribes raw audio.

    >>> extend_model(base_dir, out_dir, num_units=100, init="mean").first_unit_id   # doctest: +SKIP
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from spire.vocab.embeddings import INIT_METHODS, resize_embeddings

    if init not in INIT_METHODS:
        raise VocabularyError(f"init must be one of {INIT_METHODS}, but is {init!r}; fix: pick one")
    unit_strings(num_units, unit_format)  # validates both before any heavy loading
    if extractor_dir is not None and extractor_provenance is None:
        extractor_provenance = read_extractor_provenance(extractor_dir)
    if extractor_provenance:
        _check_provenance(extractor_provenance, num_units, unit_format)
    model_dir, out = Path(model_dir), Path(out_dir)
    if out.resolve() == model_dir.resolve():
        raise VocabularyError(
            f"--out must differ from --model, but both are {out}; fix: pick a new folder"
        )
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype="auto")
    if getattr(model.config, "spire", None):
        raise VocabularyError(
            f"the model must not be extended yet, but {model_dir} has config.spire = {model.config.spire}; "
            "fix: extend the base model, or use this one as it is"
        )
    first_new_id, first_unit_id, specials = extend_tokenizer(
        tokenizer, num_units=num_units, unit_format=unit_format, chat_specials=chat_specials
    )
    rows = resize_embeddings(
        model,
        len(tokenizer),
        first_new_id=first_new_id,
        init=init,
        pad_to_multiple_of=pad_to_multiple_of,
        seed=seed,
    )
    model.config.pad_token_id = tokenizer.pad_token_id
    model.config.spire = {
        "num_units": num_units,
        "unit_format": unit_format,
        "first_unit_id": first_unit_id,
        "first_new_id": first_new_id,
        "init": init,
        "extractor": extractor_provenance,
    }
    generation = model.generation_config
    generation.pad_token_id = tokenizer.pad_token_id
    if chat_specials:
        eos = (
            generation.eos_token_id
            if generation.eos_token_id is not None
            else tokenizer.eos_token_id
        )
        eos_ids = list(eos) if isinstance(eos, (list, tuple)) else [eos] if eos is not None else []
        # Chat answers end with <|im_end|>: generation must stop there too.
        generation.eos_token_id = sorted({*eos_ids, specials["<|im_end|>"]})
    out.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(str(out))
    model.save_pretrained(str(out))
    if extractor_dir is not None and (Path(extractor_dir) / "extractor.json").exists():
        import shutil

        shutil.copytree(extractor_dir, out / "extractor", dirs_exist_ok=True)
    return ExtendResult(
        out_dir=out,
        num_units=num_units,
        unit_format=unit_format,
        first_new_id=first_new_id,
        first_unit_id=first_unit_id,
        vocab_size=len(tokenizer),
        embedding_rows=rows,
        special_ids=specials,
    )
