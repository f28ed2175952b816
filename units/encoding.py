"""THE unit text format: unit ids as text (and back), the unit strings of a vocabulary, dedup.

Every other module imports the format from here (`PUA_OFFSET`, `UNIT_FORMATS`, `unit_strings`).
Two renderings of unit `i` (REFERENCE.md): the private-use character `chr(983040 + i)`
("pua", what the released SPIRE models read; one character per unit, one token per unit after
vocabulary extension) and `<extra_id_i>` ("extra_id"). Both directions are vectorized with numpy
because they run over whole corpora.

Parsing tolerates whitespace between units by default: decoding through a tokenizer can put
spaces between pieces, and whitespace can never be mistaken for a unit. Pass
`allow_whitespace=False` to treat it as an error. Anything else that is not a unit is an error
that names the character and its position.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from units.errors import UnitFormatError

PUA_OFFSET = 983040
"""Code point of unit 0: U+F0000, the first character of Unicode's private use plane 15."""

# Plane 15's private use area ends at U+FFFFD; the last two code points are non-characters.
_PUA_CAPACITY = 0xFFFFD - PUA_OFFSET + 1
UNIT_FORMATS = ("pua", "extra_id")
"""The unit renderings: "pua" (one private-use character per unit) and "extra_id" (`<extra_id_i>`)."""

_EXTRA_ID_PREFIX = "<extra_id_"
_EXTRA_IDS = re.compile(r"(?:<extra_id_(?:0|[1-9][0-9]*)>)*")
_EXTRA_ID = re.compile(r"<extra_id_(0|[1-9][0-9]*)>")
_WHITESPACE = re.compile(r"\s+")
_WHITESPACE_CODES = np.array([c for c in range(0x3100) if chr(c).isspace()], dtype=np.uint32)


def dedup(ids: Sequence[int] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Collapse runs of the same id; return (ids, durations in frames), both int64.

    The durations sum to the number of input frames.

    >>> dedup([3, 3, 7, 3])
    (array([3, 7, 3]), array([2, 1, 1]))
    """
    ids = np.asarray(ids, dtype=np.int64).reshape(-1)
    if ids.size == 0:
        return ids.copy(), np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(np.concatenate(([True], ids[1:] != ids[:-1])))
    durations = np.diff(np.append(starts, ids.size)).astype(np.int64)
    return ids[starts], durations


def ids_to_text(ids: Sequence[int] | np.ndarray, unit_format: str = "pua") -> str:
    """Render unit ids as text.

    >>> ids_to_text([0, 2]) == chr(983040) + chr(983042)
    True
    >>> ids_to_text([0, 2], "extra_id")
    '<extra_id_0><extra_id_2>'
    """
    _check_format(unit_format)
    array = np.asarray(ids)
    if array.size == 0:
        return ""
    if array.dtype.kind not in "iu":
        raise UnitFormatError(
            f"unit ids must be integers, but have dtype {array.dtype}; fix: pass integer ids"
        )
    array = array.astype(np.int64).reshape(-1)
    limit = _PUA_CAPACITY if unit_format == "pua" else None
    bad = (array < 0) if limit is None else (array < 0) | (array >= limit)
    if bad.any():
        pos = int(np.argmax(bad))
        bound = f"in [0, {limit})" if limit is not None else "non-negative"
        raise UnitFormatError(
            f"unit ids must be {bound} for unit_format={unit_format!r}, but id {int(array[pos])} "
            f"is at position {pos}; fix: check the k-means model's size"
        )
    if unit_format == "pua":
        return (array + PUA_OFFSET).astype("<u4").tobytes().decode("utf-32-le")
    return "".join([f"<extra_id_{i}>" for i in array.tolist()])


def unit_strings(num_units: int, unit_format: str = "pua") -> list[str]:
    """The text of units 0..num_units-1, one string per unit (what a tokenizer adds as tokens).

    >>> unit_strings(2, "extra_id")
    ['<extra_id_0>', '<extra_id_1>']
    >>> unit_strings(2) == [chr(PUA_OFFSET), chr(PUA_OFFSET + 1)]
    True
    """
    _check_format(unit_format)
    if isinstance(num_units, bool) or not isinstance(num_units, (int, np.integer)) or num_units < 1:
        raise UnitFormatError(
            f"num_units must be a positive integer, but is {num_units!r}; fix: pass the k-means k"
        )
    num_units = int(num_units)
    if unit_format == "pua" and num_units > _PUA_CAPACITY:
        raise UnitFormatError(
            f"num_units must be at most {_PUA_CAPACITY} for unit_format='pua' (the private-use "
            f"plane's size), but is {num_units}; fix: use unit_format='extra_id' or fewer units"
        )
    if unit_format == "pua":
        return [chr(PUA_OFFSET + i) for i in range(num_units)]
    return [f"<extra_id_{i}>" for i in range(num_units)]


def text_to_ids(
    text: str,
    unit_format: str = "pua",
    num_units: int | None = None,
    *,
    allow_whitespace: bool = True,
) -> list[int]:
    """Parse a unit string back into ids; the inverse of `ids_to_text`.

    `num_units`, when given, bounds the ids (a model with 5000 units has no unit 5000).

    >>> text_to_ids(ids_to_text([5, 1]))
    [5, 1]
    >>> text_to_ids("<extra_id_5> <extra_id_1>", "extra_id")
    [5, 1]
    """
    _check_format(unit_format)
    if not isinstance(text, str):
        raise UnitFormatError(
            f"unit text must be a str, but is a {type(text).__name__}; fix: decode it first"
        )
    if num_units is not None and (isinstance(num_units, bool) or int(num_units) <= 0):
        raise UnitFormatError(f"num_units must be a positive integer, but is {num_units!r}")
    if unit_format == "pua":
        positions, ids = _parse_pua(text, allow_whitespace)
    else:
        positions, ids = _parse_extra_ids(text, allow_whitespace)
    if num_units is not None and ids.size:
        over = ids >= num_units
        if over.any():
            i = int(np.argmax(over))
            raise UnitFormatError(
                f"unit ids must be below num_units={num_units}, but unit {int(ids[i])} is at "
                f"position {int(positions[i])}; fix: use the k-means model the text was made with"
            )
    return ids.tolist()


def _parse_pua(text: str, allow_whitespace: bool) -> tuple[np.ndarray, np.ndarray]:
    codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")
    positions = np.arange(codes.size)
    if allow_whitespace:
        keep = ~np.isin(codes, _WHITESPACE_CODES)
        codes, positions = codes[keep], positions[keep]
    ids = codes.astype(np.int64) - PUA_OFFSET
    bad = (ids < 0) | (ids >= _PUA_CAPACITY)
    if bad.any():
        _foreign(text, int(positions[np.argmax(bad)]), "pua")
    return positions, ids


def _parse_extra_ids(text: str, allow_whitespace: bool) -> tuple[np.ndarray, np.ndarray]:
    compact = _WHITESPACE.sub("", text) if allow_whitespace else text
    if _EXTRA_IDS.fullmatch(compact) is None:
        _locate_extra_id_error(text, allow_whitespace)
    if not compact:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    body = compact[len(_EXTRA_ID_PREFIX) : -1]
    ids = np.array(body.split("><extra_id_"), dtype=np.int64)
    if compact is text:  # the common case: unit k starts where the k-th "<" is
        positions = np.flatnonzero(
            np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4") == ord("<")
        )
    else:
        positions = np.array([m.start() for m in _EXTRA_ID.finditer(text)], dtype=np.int64)
    return positions, ids


def _locate_extra_id_error(text: str, allow_whitespace: bool) -> None:
    """Slow path, only on invalid input: find the first offending character."""
    pos = 0
    while pos < len(text):
        match = _EXTRA_ID.match(text, pos)
        if match:
            pos = match.end()
        elif allow_whitespace and text[pos].isspace():
            pos += 1
        else:
            _foreign(text, pos, "extra_id")
    raise AssertionError("unreachable: a text that failed the full match has a foreign character")


def _foreign(text: str, pos: int, unit_format: str) -> None:
    char = text[pos]
    expected = (
        "a private-use unit character (U+F0000 + id)"
        if unit_format == "pua"
        else "a unit token <extra_id_N>"
    )
    context = text[max(0, pos - 10) : pos + 10]
    raise UnitFormatError(
        f"position {pos} must hold {expected}, but holds {char!r} (U+{ord(char):04X}) "
        f"in {context!r}; fix: strip non-unit text before parsing, or pass the right "
        f"unit_format (now {unit_format!r})"
    )


def _check_format(unit_format: str) -> None:
    if unit_format not in UNIT_FORMATS:
        raise UnitFormatError(
            f"unit_format must be one of {UNIT_FORMATS}, but is {unit_format!r}; fix: pick one"
        )
