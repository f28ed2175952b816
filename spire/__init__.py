"""spire: teach a text-only LLM to understand speech (the SPIRE recipe).

Speech becomes discrete units (see the sibling package `units`), units become tokens of the
LLM, and the LLM is trained on them in two stages: continued pretraining, then instruction
tuning. Heavy modules are imported on first use, so `import spire` is instant.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "SpireError": "spire.errors",
    "ConfigError": "spire.errors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'spire' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
