"""Unit tokens in a tokenizer: where they are, and whether each unit is one token in a prompt.

Two layouts are read. `spire extend` adds units as tokens matched before the tokenizer's model
runs, so a unit is one token wherever it stands. The released SPIRE models extended the
SentencePiece model itself: units are ordinary pieces, so a unit run at the very start of a text
gets a leading `▁` piece, while after "Speech: " (how every prompt puts them) both layouts give
the same ids. The unit text format itself is defined once, in `units.encoding`.

>>> SPIRE_SPECIALS[0], CHAT_SPECIALS
('<CLS>', ('<|im_end|>', '<|im_start|>'))
"""

from __future__ import annotations

from typing import Any

from spire.errors import VocabularyError
from units.encoding import UNIT_FORMATS, ids_to_text, unit_strings
from units.errors import UnitFormatError

__all__ = [
    "CHAT_SPECIALS",
    "PROBE_PREFIX",
    "SPIRE_SPECIALS",
    "check_unit_vocab",
    "checked_unit_strings",
    "find_unit_pieces",
    "unit_ids_in_context",
    "unit_token_ids",
]

SPIRE_SPECIALS = ("<CLS>", "<EOD>", "<MASK>", "<PAD>", "<SEP>")
CHAT_SPECIALS = ("<|im_end|>", "<|im_start|>")
#: What precedes units in every prompt and training document (`spire.prompts`).
PROBE_PREFIX = "Speech: "


def checked_unit_strings(num_units: int, unit_format: str, *, name: str = "num_units") -> list[str]:
    """`units.encoding.unit_strings`, with its errors as VocabularyError naming `name`.

    >>> checked_unit_strings(2, "extra_id")
    ['<extra_id_0>', '<extra_id_1>']
    """
    try:
        return unit_strings(num_units, unit_format)
    except UnitFormatError as error:
        raise VocabularyError(f"{name}/unit_format: {error}") from error


def unit_token_ids(tokenizer: Any, num_units: int, unit_format: str = "pua") -> list[int]:
    """The token id of every unit encoded alone; VocabularyError if one is not a single token.

    This holds for `spire extend`'s layout only (see the module docstring); a released SPIRE
    tokenizer is checked with `unit_ids_in_context`.

    >>> unit_token_ids(tokenizer, 5000)[:2]                                    # doctest: +SKIP
    [32005, 32006]
    """
    ids = []
    for index, text in enumerate(checked_unit_strings(num_units, unit_format)):
        encoded = tokenizer.encode(text, add_special_tokens=False)
        if len(encoded) != 1 or encoded[0] == tokenizer.unk_token_id:
            raise VocabularyError(
                f"unit {index} ({text!r}) must be exactly one token, but encodes to {encoded}; "
                "fix: extend the model first with `spire extend`"
            )
        ids.append(encoded[0])
    return ids


def check_unit_vocab(tokenizer: Any, num_units: int, unit_format: str = "pua") -> int:
    """Check that the units are single tokens with consecutive ids; return the first unit's id.

    >>> check_unit_vocab(tokenizer, 5000)                                      # doctest: +SKIP
    32005
    """
    ids = unit_token_ids(tokenizer, num_units, unit_format)
    if ids != list(range(ids[0], ids[0] + num_units)):
        raise VocabularyError(
            f"unit ids must be consecutive from {ids[0]}, but are not; fix: re-extend the base model"
        )
    return ids[0]


def unit_ids_in_context(tokenizer: Any, num_units: int, unit_format: str = "pua") -> list[int]:
    """The ids the tokenizer gives all units written after "Speech: ", as a prompt writes them.

    One id per unit in both layouts, or VocabularyError naming the first unit that is not.

    >>> unit_ids_in_context(tokenizer, 5000)[:2]                               # doctest: +SKIP
    [32005, 32006]
    """
    units = checked_unit_strings(num_units, unit_format)
    prefix = tokenizer.encode(PROBE_PREFIX, add_special_tokens=False)
    encoded = tokenizer.encode(PROBE_PREFIX + "".join(units), add_special_tokens=False)
    tail = encoded[len(prefix) :]
    if encoded[: len(prefix)] != prefix or len(tail) != num_units:
        for index, text in enumerate(units):  # slow path: name the culprit
            alone = tokenizer.encode(PROBE_PREFIX + text, add_special_tokens=False)
            if alone[: len(prefix)] != prefix or len(alone) != len(prefix) + 1:
                raise VocabularyError(
                    f"unit {index} ({text!r}) must be one token after {PROBE_PREFIX!r}, but the "
                    f"tokenizer gives {alone[len(prefix):]}; fix: use a tokenizer extended with "
                    "`spire extend` (or a released SPIRE tokenizer)"
                )
        raise VocabularyError(
            f"{num_units} units must be {num_units} tokens after {PROBE_PREFIX!r}, but are "
            f"{len(tail)}; fix: re-extend the base model"
        )
    return tail


def find_unit_pieces(tokenizer: Any) -> tuple[str, int, int] | None:
    """(unit_format, first unit id, number of units) of unit tokens found in the vocabulary.

    Units count from unit 0 upwards while their strings are tokens with consecutive ids; None
    when unit 0 is no token in either format.

    >>> find_unit_pieces(released_tokenizer)                                   # doctest: +SKIP
    ('pua', 32005, 5000)
    """
    vocab = tokenizer.get_vocab()
    for unit_format in UNIT_FORMATS:
        first = vocab.get(ids_to_text([0], unit_format))
        if first is None:
            continue
        count = 1
        while vocab.get(ids_to_text([count], unit_format)) == first + count:
            count += 1
        return unit_format, first, count
    return None
