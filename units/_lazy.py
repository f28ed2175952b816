"""Lazy package exports (for `units` and `spire`): imports stay instant; a name loads its module on first use."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_getattr(package: str, exports: dict[str, str]) -> Callable[[str], Any]:
    """A module-level `__getattr__` resolving `exports` (name -> module) on first access.

    >>> getattr_ = lazy_getattr("units", {"UnitsError": "units.errors"})
    >>> getattr_("UnitsError").__name__
    'UnitsError'
    """

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(module), name)

    return __getattr__
