"""Whisper's English normalizer on the cases its authors document and test."""

import pytest

from spire.evaluation.normalizer import normalize_all, normalize_english

# Input → output pairs from the Whisper normalizer's own documentation and test-suite.
DOCUMENTED = [
    ("two", "2"),
    ("thirty one", "31"),
    ("five twenty four", "524"),
    ("nineteen ninety nine", "1999"),
    ("twenty nineteen", "2019"),
    ("two point five million", "2500000"),
    ("200 thousand dollars", "$200000"),
    ("$20 million", "$20000000"),
    ("three thousand twenty nine", "3029"),
    ("forty three thousand two hundred and sixty", "43260"),
    ("nineteen fifties", "1950s"),
    ("thirty first", "31st"),
    ("july third twenty twenty", "july 3rd 2020"),
    ("3.14", "3.14"),
    ("3 point 2", "3.2"),
    ("two point two five dollars", "$2.25"),
    ("ninety percent", "90%"),
    ("seventy six per cent", "76%"),
    ("double seven", "77"),
    ("one oh one", "101"),
    ("Let's", "let us"),
    ("he's like", "he is like"),
    ("she's been like", "she has been like"),
    ("10km", "10 km"),
    ("RC232", "rc 232"),
    ("Mr. Park visited Assoc. Prof. Kim Jr.", "mister park visited associate professor kim junior"),
    ("mobilisation", "mobilization"),
]


@pytest.mark.parametrize(("text", "expected"), DOCUMENTED)
def test_documented_cases(text, expected):
    assert normalize_english(text) == expected


def test_fillers_brackets_and_punctuation_are_removed():
    assert normalize_english("Uh, I think [NOISE] (laughs) it's fine!") == "i think it is fine"


def test_idempotent_on_normalized_text():
    texts = ["Mr. Smith paid $20.50 for the colour print, didn't he?", "ONE hundred and one"]
    once = normalize_all(texts)
    assert normalize_all(once) == once
