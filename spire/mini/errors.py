"""The miniature's own errors (the toolkit's are in `spire.errors`)."""

from __future__ import annotations

from spire.errors import SpireError

__all__ = ["SynthesisError"]


class SynthesisError(SpireError):
    """The bundled espeak-ng library cannot be loaded or fails to synthesize.

    >>> raise SynthesisError("pitch must be between 0 and 99, but is 120")
    Traceback (most recent call last):
    spire.mini.errors.SynthesisError: pitch must be between 0 and 99, but is 120
    """
