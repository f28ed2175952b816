"""The error of `spire export`.

>>> issubclass(ExportError, SpireError)
True
"""

from __future__ import annotations

from spire.errors import SpireError


class ExportError(SpireError):
    """Arguments `export_model` refuses, or a model it cannot export."""
