"""Whisper's English text normalizer, the one ASR papers (SPIRE included) score WER after.

We use the maintained `whisper-normalizer` package, which ships the normalizer together with
its British → American spelling table (transformers also ships the class, but without the
table, which only comes with a downloaded Whisper tokenizer). The instance is built once and
cached, because building it compiles a few hundred regular expressions.

>>> normalize_english("Mr. Smith paid twenty-five percent of the colour print.")
'mister smith paid 25% of the color print'
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

from spire.errors import SpireError


class NormalizerUnavailableError(SpireError):
    """The `whisper-normalizer` package is missing."""


@functools.lru_cache(maxsize=1)
def english_normalizer() -> Callable[[str], str]:
    """The cached Whisper English normalizer (a callable str -> str).

    >>> english_normalizer()("Let's go")
    'let us go'
    """
    try:
        from whisper_normalizer.english import EnglishTextNormalizer
    except ImportError as error:
        raise NormalizerUnavailableError(
            "the package whisper-normalizer must be installed to score WER, but it is not; "
            "fix: pip install whisper-normalizer"
        ) from error
    return EnglishTextNormalizer()


def normalize_english(text: str) -> str:
    """Normalize one English string as Whisper's evaluation does.

    Lower-cases, expands contractions and titles, spells numbers as digits, standardizes
    spellings to American English, drops fillers (uh, um) and bracketed asides, removes
    punctuation and collapses whitespace.

    >>> normalize_english("I'm gonna (laughs) go, uh, ONE hundred times.")
    'i am going to go 100 times'
    """
    return english_normalizer()(text)


def normalize_all(texts: Sequence[str]) -> list[str]:
    """`normalize_english` over a list.

    >>> normalize_all(["Hello!", "Colour"])
    ['hello', 'color']
    """
    normalizer = english_normalizer()
    return [normalizer(text) for text in texts]
