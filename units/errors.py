"""The exceptions of `units`: one root, one class per failure, each carrying its fields.

Messages follow one shape: what must hold, what was found, how to fix it.
"""

from __future__ import annotations


class UnitsError(Exception):
    """Root of every error raised on purpose by `units` (user input, files, configuration)."""


class AudioError(UnitsError):
    """Audio that cannot be used: unreadable, empty, non-finite, too short.

    >>> raise AudioError("clip.wav", "the file holds 0 samples")
    Traceback (most recent call last):
    units.errors.AudioError: clip.wav: the file holds 0 samples
    """

    def __init__(self, source: str, reason: str) -> None:
        self.source = source
        self.reason = reason
        super().__init__(f"{source}: {reason}")


class UnitFormatError(UnitsError):
    """A unit string holds something that is not a unit of the chosen format."""


class QuantizerMismatchError(UnitsError):
    """A k-means model that does not belong to the featurizer it is paired with."""


class ModelFormatError(UnitsError):
    """A saved featurizer, quantizer or extractor folder that cannot be read."""


class ManifestError(UnitsError):
    """A corpus manifest (folder, TSV, JSONL, saved dataset) that cannot be read."""


class UntrustedFileError(UnitsError):
    """A pickle/joblib file opened without the explicit opt-in that unpickling needs."""
