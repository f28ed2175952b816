"""The exceptions of `spire`: one root, one class per failure.

Messages follow one shape: what must hold, what was found, how to fix it. The CLI maps every
`SpireError` (and `units.UnitsError`) to exit code 2; anything else is a bug and exits 1.
"""

from __future__ import annotations


class SpireError(Exception):
    """Root of every error raised on purpose by `spire`."""


class ConfigError(SpireError):
    """A config file or override that does not fit the config schema.

    >>> raise ConfigError("train.lr", "must be a float, but is 'fast'")
    Traceback (most recent call last):
    spire.errors.ConfigError: train.lr: must be a float, but is 'fast'
    """

    def __init__(self, key: str, reason: str) -> None:
        self.key = key
        self.reason = reason
        super().__init__(f"{key}: {reason}")


class VocabularyError(SpireError):
    """A tokenizer/model that lacks unit tokens, or a unit string outside its vocabulary."""


class DataError(SpireError):
    """A training or evaluation example that cannot be used."""


class LanguageError(SpireError):
    """A language name the prompts do not support."""
