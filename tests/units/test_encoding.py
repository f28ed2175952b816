"""Unit ids <-> text and dedup: round trips, bounds, and errors that point at the culprit."""

import numpy as np
import pytest

from units.encoding import PUA_OFFSET, dedup, ids_to_text, text_to_ids
from units.errors import UnitFormatError


@pytest.mark.parametrize("unit_format", ["pua", "extra_id"])
def test_round_trip_ids_text_ids(unit_format):
    ids = np.random.default_rng(0).integers(0, 5000, size=2000)
    ids[:3] = [0, 4999, 0]
    text = ids_to_text(ids, unit_format)
    assert text_to_ids(text, unit_format, num_units=5000) == ids.tolist()
    assert ids_to_text(text_to_ids(text, unit_format), unit_format) == text


def test_pua_is_one_private_use_character_per_unit():
    ids = [0, 1, 4999, 65533]
    text = ids_to_text(ids)
    assert text == "".join(chr(PUA_OFFSET + i) for i in ids)
    assert len(text) == len(ids)


def test_extra_id_rendering():
    assert ids_to_text([0, 12, 4999], "extra_id") == "<extra_id_0><extra_id_12><extra_id_4999>"


@pytest.mark.parametrize("unit_format", ["pua", "extra_id"])
def test_empty_round_trip(unit_format):
    assert ids_to_text([], unit_format) == ""
    assert text_to_ids("", unit_format) == []


@pytest.mark.parametrize("unit_format", ["pua", "extra_id"])
def test_whitespace_between_units_is_tolerated_unless_refused(unit_format):
    units = [ids_to_text([i], unit_format) for i in (3, 1, 4)]
    spaced = f" {units[0]} {units[1]}\n\t{units[2]} "
    assert text_to_ids(spaced, unit_format) == [3, 1, 4]
    with pytest.raises(UnitFormatError, match="position 0"):
        text_to_ids(spaced, unit_format, allow_whitespace=False)


@pytest.mark.parametrize(
    ("unit_format", "text", "position", "char"),
    [
        ("pua", chr(PUA_OFFSET) + chr(PUA_OFFSET + 1) + "a" + chr(PUA_OFFSET), 2, "'a'"),
        ("pua", " " + chr(PUA_OFFSET) + "é", 2, "'é'"),
        ("pua", chr(PUA_OFFSET - 1), 0, r"'\\U000effff'"),
        ("extra_id", "<extra_id_1>x<extra_id_2>", 12, "'x'"),
        ("extra_id", "<extra_id_1><extra_id_02>", 12, "'<'"),
        ("extra_id", "<extra_id_1><extra_id_", 12, "'<'"),
        ("extra_id", "<extra_id_1> y", 13, "'y'"),
    ],
)
def test_foreign_character_names_itself_and_its_position(unit_format, text, position, char):
    with pytest.raises(UnitFormatError, match=f"position {position} .*{char}"):
        text_to_ids(text, unit_format)


def test_pua_text_parsed_as_extra_id_is_an_error_and_vice_versa():
    with pytest.raises(UnitFormatError, match="position 0"):
        text_to_ids(ids_to_text([1, 2]), "extra_id")
    with pytest.raises(UnitFormatError, match="position 0 .*'<'"):
        text_to_ids(ids_to_text([1, 2], "extra_id"), "pua")


@pytest.mark.parametrize("unit_format", ["pua", "extra_id"])
def test_num_units_bound(unit_format):
    text = ids_to_text([1, 2, 7], unit_format)
    assert text_to_ids(text, unit_format, num_units=8) == [1, 2, 7]
    with pytest.raises(UnitFormatError, match="num_units=7, but unit 7 is at position"):
        text_to_ids(text, unit_format, num_units=7)


def test_ids_out_of_range_or_not_integers_are_refused():
    with pytest.raises(UnitFormatError, match="id -1 is at position 1"):
        ids_to_text([0, -1])
    with pytest.raises(UnitFormatError, match="65534"):
        ids_to_text([65534])
    with pytest.raises(UnitFormatError, match="must be integers"):
        ids_to_text(np.array([1.0, 2.0]))
    assert ids_to_text([70000], "extra_id") == "<extra_id_70000>"


def test_unknown_unit_format():
    with pytest.raises(UnitFormatError, match="unit_format must be one of"):
        ids_to_text([1], "hex")
    with pytest.raises(UnitFormatError, match="unit_format must be one of"):
        text_to_ids("", "hex")


def test_dedup_durations_sum_to_frames_and_expand_back():
    rng = np.random.default_rng(1)
    frames = np.repeat(rng.integers(0, 4, size=500), rng.integers(1, 5, size=500))
    ids, durations = dedup(frames)
    assert ids.dtype == np.int64 and durations.dtype == np.int64
    assert durations.sum() == frames.size
    assert (durations >= 1).all()
    assert not (ids[1:] == ids[:-1]).any()
    np.testing.assert_array_equal(np.repeat(ids, durations), frames)


def test_dedup_small_cases():
    ids, durations = dedup([])
    assert ids.size == 0 and durations.size == 0
    assert [a.tolist() for a in dedup([5])] == [[5], [1]]
    assert [a.tolist() for a in dedup([2, 2, 2])] == [[2], [3]]
    assert [a.tolist() for a in dedup([1, 2, 1])] == [[1, 2, 1], [1, 1, 1]]


def test_vectorized_parse_equals_character_by_character():
    ids = np.random.default_rng(2).integers(0, 5000, size=50_000)
    text = ids_to_text(ids)
    assert text_to_ids(text) == [ord(c) - PUA_OFFSET for c in text]


def test_text_must_be_a_string():
    with pytest.raises(UnitFormatError, match="must be a str, but is a bytes"):
        text_to_ids(ids_to_text([1]).encode())


@pytest.mark.parametrize("unit_format", ["pua", "extra_id"])
def test_unit_strings_are_the_text_of_each_unit(unit_format):
    from units.encoding import unit_strings

    strings = unit_strings(7, unit_format)
    assert strings == [ids_to_text([i], unit_format) for i in range(7)]
    assert text_to_ids("".join(strings), unit_format) == list(range(7))
    assert unit_strings(np.int64(3), unit_format) == strings[:3]
    if unit_format == "extra_id":  # no private-use plane to run out of
        assert unit_strings(70000, unit_format)[-1] == "<extra_id_69999>"


@pytest.mark.parametrize(
    "num_units, unit_format, message",
    [
        (0, "pua", "num_units must be a positive integer, but is 0"),
        (-3, "extra_id", "num_units must be a positive integer"),
        (True, "pua", "num_units must be a positive integer, but is True"),
        (2.0, "pua", "num_units must be a positive integer, but is 2.0"),
        ("5", "pua", "num_units must be a positive integer"),
        (5, "hex", "unit_format must be one of"),
        (70000, "pua", "num_units must be at most 65534"),
    ],
)
def test_unit_strings_name_the_bad_parameter(num_units, unit_format, message):
    from units.encoding import unit_strings

    with pytest.raises(UnitFormatError, match=message):
        unit_strings(num_units, unit_format)
