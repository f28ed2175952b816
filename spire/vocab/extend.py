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

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spire.errors import VocabularyError
from spire.vocab.metadata import UnitVocab
from spire.vocab.pairing import (
    EXTRACTOR_DIR,
    copy_extractor,
    extractor_folder,
    kmeans_state,
    provenance_facts,
    read_extractor_provenance,
)
from spire.vocab.saving import set_chat_template, write_compatible_files
from spire.vocab.tokens import (
    CHAT_SPECIALS,
    SPIRE_SPECIALS,
    check_unit_vocab,
    checked_unit_strings,
    unit_token_ids,
)
from units.encoding import PUA_OFFSET, UNIT_FORMATS, unit_strings

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
    vocab: UnitVocab | None = None  # what config.spire records


def extend_tokenizer(
    tokenizer: Any, *, num_units: int, unit_format: str = "pua", chat_specials: bool = True
) -> tuple[int, int, dict[str, int]]:
    """Add SPIRE's specials, the units and the chat specials, in that order, in place.

    Tokens already present (e.g. `<|im_start|>` in a Qwen vocabulary) are reused, never
    duplicated; a unit already present is an error. Returns (first_new_id, first_unit_id,
    special ids).
    """
    from tokenizers import AddedToken

    units = checked_unit_strings(num_units, unit_format)
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


def _check_provenance(provenance: dict[str, Any], num_units: int, unit_format: str) -> None:
    facts = provenance_facts(provenance)
    if facts["k"] is None:
        raise VocabularyError(
            "extractor_provenance must record the k-means k (kmeans.k), but records none; fix: "
            "pass the saved extractor folder (extractor_dir) instead of a hand-made provenance"
        )
    if int(facts["k"]) != num_units:
        raise VocabularyError(
            f"num_units must equal the extractor's k-means k ({facts['k']}), but is {num_units}; "
            f"fix: pass num_units={facts['k']}, or the extractor made for {num_units} units"
        )
    if facts["unit_format"] is not None and facts["unit_format"] != unit_format:
        raise VocabularyError(
            f"unit_format must equal the extractor's ({facts['unit_format']!r}), but is "
            f"{unit_format!r}; fix: pass unit_format={facts['unit_format']!r}"
        )


def _load_extractor(
    extractor_dir: str | Path, check_compatible: bool
) -> tuple[Path, dict[str, Any], str | None]:
    """(folder, provenance, why its k-means is unverified or None); refuses an unverified one
    unless `check_compatible` is False."""
    import json

    from units.extractor import UnitExtractor

    folder = extractor_folder(extractor_dir)
    if folder is None:
        raise VocabularyError(
            f"extractor_dir must be a saved unit extractor folder (extractor.json and kmeans/), "
            f"but {extractor_dir} is not; fix: pass the folder written by UnitExtractor.save_pretrained"
        )
    extractor = UnitExtractor.from_pretrained(folder, check_compatible=check_compatible)
    state = kmeans_state(extractor)
    if state is not None and check_compatible:
        raise VocabularyError(
            f"the extractor's k-means must be known to be fit on its featurizer's features, but "
            f"{state} ({folder}); fix: fit k-means on features saved with their .json sidecar "
            "(or import it with its featurizer), or pass check_compatible=False to accept it knowingly"
        )
    if state is not None:
        warnings.warn(f"extending for an unverified unit extractor: {state}", UserWarning, stacklevel=3)
    return folder, json.loads(json.dumps(extractor.provenance())), state


def _check_paths(model_dir: Path, out: Path, extractor_dir: Any) -> None:
    if not (model_dir / "config.json").is_file():
        raise VocabularyError(
            f"model_dir must be a local model folder holding config.json, but {model_dir} "
            f"{'has none' if model_dir.is_dir() else 'does not exist'}; fix: pass the base model's "
            "folder (download it first, e.g. `huggingface-cli download NAME --local-dir DIR`)"
        )
    if out.resolve() == model_dir.resolve():
        raise VocabularyError(
            f"out_dir must differ from model_dir, but both are {out}; fix: pick a new folder"
        )
    if extractor_dir is None and (out / EXTRACTOR_DIR).exists():
        raise VocabularyError(
            f"out_dir must not hold an {EXTRACTOR_DIR}/ folder when no extractor is given (the "
            f"model would be loaded with it unchecked), but {out / EXTRACTOR_DIR} exists; fix: "
            f"pass extractor_dir= the extractor this model is for, or remove {out / EXTRACTOR_DIR}"
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
    check_compatible: bool = True,
    seed: int = 0,
) -> ExtendResult:
    """Extend a saved causal LM with unit tokens and save it (a plain transformers model) to `out_dir`.

    `init` is "default" (normal(0, initializer_range)) or "mean" (Hewitt's recipe). The saved
    config records a `UnitVocab` (`config.spire`). A model that already has unit tokens is
    refused. `extractor_dir` (a saved UnitExtractor, or its extractor.json) is checked against
    `num_units`/`unit_format`, recorded, and copied to `out_dir/extractor/`, replacing any earlier
    one, so the model folder alone transcribes raw audio; without it, an `extractor/` already in
    `out_dir` is refused rather than left stale. An extractor whose k-means cannot be checked
    against its featurizer needs `check_compatible=False` (a warning; recorded in the config).
    With the chat specials, the tokenizer carries spire's ChatML chat template
    (`spire.prompts.CHAT_TEMPLATE`); the folder loads in transformers 4.x and 5.x
    (`spire.vocab.saving.write_compatible_files`).

    >>> extend_model(base_dir, out_dir, num_units=100, init="mean").first_unit_id   # doctest: +SKIP
    """
    from spire.vocab.embeddings import INIT_METHODS, resize_embeddings

    if init not in INIT_METHODS:
        raise VocabularyError(f"init must be one of {INIT_METHODS}, but is {init!r}; fix: pick one")
    checked_unit_strings(num_units, unit_format)  # validates both before any heavy loading
    if isinstance(pad_to_multiple_of, bool) or not isinstance(pad_to_multiple_of, int) or pad_to_multiple_of < 1:
        raise VocabularyError(
            f"pad_to_multiple_of must be an integer >= 1, but is {pad_to_multiple_of!r}; "
            "fix: pass 64 (the default), or 1 for no padding"
        )
    model_dir, out = Path(model_dir), Path(out_dir)
    _check_paths(model_dir, out, extractor_dir)
    folder, unverified = None, None
    if extractor_dir is not None:
        folder, extractor_provenance, unverified = _load_extractor(extractor_dir, check_compatible)
    if extractor_provenance:
        _check_provenance(extractor_provenance, num_units, unit_format)

    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype="auto")
    if UnitVocab.in_config(model.config):
        raise VocabularyError(
            f"the model must not be extended yet, but {model_dir} has config.spire = "
            f"{model.config.spire}; fix: extend the base model, or use this one as it is"
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
    vocab = UnitVocab(
        num_units=num_units,
        unit_format=unit_format,
        first_unit_id=first_unit_id,
        first_new_id=first_new_id,
        init=init,
        extractor=extractor_provenance,
        kmeans_unverified=unverified,
    )
    vocab.apply_to(model.config)
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
    set_chat_template(tokenizer)  # spire's ChatML, so chat tools render the trained prompts
    out.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(str(out))
    model.save_pretrained(str(out))
    write_compatible_files(out, source_dir=model_dir)
    if folder is not None:
        copy_extractor(folder, out)
    return ExtendResult(
        out_dir=out,
        num_units=num_units,
        unit_format=unit_format,
        first_new_id=first_new_id,
        first_unit_id=first_unit_id,
        vocab_size=len(tokenizer),
        embedding_rows=rows,
        special_ids=specials,
        vocab=vocab,
    )
