"""Declared ranges of numeric settings, checked in one place: `Annotated[float, Range(gt=0)]`.

A config field's type says what it holds and its `Range` which values make sense; a float must
also be finite unless its range says `finite=False`. `check_ranges` walks a dataclass instance
(nested dataclasses, lists and dicts included) and raises the caller's error class on the first
value outside its range, naming the dotted key, the value, the range and the fix:

>>> from dataclasses import dataclass
>>> from typing import Annotated
>>> @dataclass(frozen=True, kw_only=True)
... class FitSettings:
...     k: Annotated[int, Range(ge=2)] = 500
...     def __post_init__(self) -> None:
...         check_ranges(self, ValueError)
>>> FitSettings(k=1)
Traceback (most recent call last):
ValueError: k: must be >= 2, but is 1; fix: set k to a value >= 2 (the default is 500)

`spire.config` checks the same declarations when it builds a config from YAML and overrides.
This module is shared by `units` and `spire` (units never imports spire), so both state ranges
the same way.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import types
import typing
from collections.abc import Callable, Iterator, Mapping
from typing import Annotated, Any

__all__ = [
    "AT_LEAST_1",
    "FRACTION",
    "NON_NEGATIVE",
    "POSITIVE",
    "SEED",
    "NumericField",
    "Range",
    "check_ranges",
    "declared_range",
    "numeric_fields",
    "range_problems",
]


@dataclasses.dataclass(frozen=True)
class Range:
    """The values a numeric setting accepts: bounds, extra allowed values, finiteness.

    >>> str(Range(ge=0, lt=1)), str(Range(ge=1, also=(-1,))), str(Range(gt=0))
    ('in [0, 1)', '>= 1 or -1', '> 0')
    >>> Range(gt=0).problem(float("nan"))
    'must be a finite number > 0, but is nan'
    """

    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    also: tuple[float, ...] = ()
    """Values accepted outside the bounds, each with a meaning the field's docstring gives (e.g. -1 = off)."""
    finite: bool = True
    """Refuse nan and +-inf (floats only; the default, since no setting here means anything by them)."""

    def __str__(self) -> str:
        low = f"[{_num(self.ge)}" if self.ge is not None else f"({_num(self.gt)}" if self.gt is not None else None
        high = f"{_num(self.le)}]" if self.le is not None else f"{_num(self.lt)})" if self.lt is not None else None
        if low and high:
            text = f"in {low}, {high}"
        elif low:
            text = (">= " if low[0] == "[" else "> ") + low[1:]
        elif high:
            text = ("<= " if high[-1] == "]" else "< ") + high[:-1]
        else:
            text = "any number"
        return text + "".join(f" or {_num(v)}" for v in self.also)

    def contains(self, value: float) -> bool:
        """True when `value` is allowed (the special `also` values included)."""
        if value in self.also:
            return True
        if isinstance(value, float) and math.isnan(value):
            return not self.finite  # nan compares false with every bound below
        if isinstance(value, float) and math.isinf(value) and self.finite:
            return False
        return not (
            (self.ge is not None and value < self.ge)
            or (self.gt is not None and value <= self.gt)
            or (self.le is not None and value > self.le)
            or (self.lt is not None and value >= self.lt)
        )

    def problem(self, value: float) -> str | None:
        """None when `value` is allowed, else "must be …, but is …"."""
        if self.contains(value):
            return None
        unbounded = str(self) == "any number"
        if self.finite and isinstance(value, float) and not math.isfinite(value):
            return f"must be a finite number{'' if unbounded else ' ' + str(self)}, but is {value}"
        return f"must be {self}, but is {value!r}"

    def fix(self, key: str, default: Any = None) -> str:
        """The fix part of a message: what to set `key` to (and its default, when it is a number)."""
        target = "a finite number" if str(self) == "any number" else f"a value {self}"
        hint = f" (the default is {default})" if _is_number(default) else ""
        return f"fix: set {key} to {target}{hint}"

    def parser(self, kind: type = float) -> Callable[[str], Any]:
        """An argparse `type=` that reads a `kind` number and refuses one outside this range, so a
        command-line flag states its range as declaratively as a config field (argparse names the flag).

        >>> import argparse
        >>> flags = argparse.ArgumentParser(exit_on_error=False)
        >>> _ = flags.add_argument("--pad-to-multiple-of", type=Range(ge=1).parser(int))
        >>> flags.parse_args(["--pad-to-multiple-of", "0"])
        Traceback (most recent call last):
        argparse.ArgumentError: argument --pad-to-multiple-of: must be >= 1, but is 0
        """
        import argparse

        def parse(text: str) -> Any:
            try:
                value = kind(text)
            except ValueError:
                raise argparse.ArgumentTypeError(f"must be {'an integer' if kind is int else 'a number'} "
                                                 f"{self}, but is {text!r}") from None
            reason = self.problem(value)
            if reason is not None:
                raise argparse.ArgumentTypeError(reason)
            return value

        parse.__name__ = f"{kind.__name__} {self}"
        return parse

    def example(self) -> float:
        """One allowed value, for tests and for messages."""
        for candidate in (self.ge, self.le, *self.also):
            if candidate is not None:
                return candidate
        if self.gt is not None and self.lt is not None:
            return (self.gt + self.lt) / 2
        if self.gt is not None:
            return self.gt + 1
        return self.lt - 1 if self.lt is not None else 0

    def outside(self) -> list[float]:
        """Values just outside the bounds (empty for an unbounded range), for tests."""
        found = [b - 1 for b in (self.ge,) if b is not None] + [b for b in (self.gt,) if b is not None]
        found += [b + 1 for b in (self.le,) if b is not None] + [b for b in (self.lt,) if b is not None]
        return [v for v in found if v not in self.also]


POSITIVE = Range(gt=0)
"""Rates, epochs, durations: > 0."""
NON_NEGATIVE = Range(ge=0)
"""Counts and weights where 0 means "none": >= 0."""
AT_LEAST_1 = Range(ge=1)
"""Sizes, steps and batch counts: >= 1."""
FRACTION = Range(ge=0, lt=1)
"""Probabilities and momenta: in [0, 1)."""
SEED = Range(ge=0, le=2**32 - 1)
"""Seeds: what numpy accepts, in [0, 2**32 - 1]."""


def _num(value: float | None) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def declared_range(annotation: Any) -> Range | None:
    """The `Range` in `Annotated[T, Range(...)]`, else None.

    >>> declared_range(Annotated[int, Range(ge=1)])
    Range(ge=1, gt=None, le=None, lt=None, also=(), finite=True)
    """
    if typing.get_origin(annotation) is Annotated:
        return next((m for m in annotation.__metadata__ if isinstance(m, Range)), None)
    return None


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls, include_extras=True)


def _options(annotation: Any) -> tuple[Any, ...]:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return typing.get_args(annotation)
    return (annotation,)


def _strip(annotation: Any) -> tuple[Any, Range | None]:
    if typing.get_origin(annotation) is Annotated:
        return typing.get_args(annotation)[0], declared_range(annotation)
    return annotation, None


def range_problems(obj: Any, prefix: str = "") -> Iterator[tuple[str, str]]:
    """Every (dotted key, reason) of a dataclass instance whose number lies outside its declared
    range, walking nested dataclasses, lists and dicts. Undeclared floats must be finite."""
    hints = _hints(type(obj))
    for field in dataclasses.fields(obj):
        default = field.default if field.default is not dataclasses.MISSING else None
        yield from _value_problems(hints[field.name], getattr(obj, field.name), f"{prefix}{field.name}", default)


def _value_problems(annotation: Any, value: Any, key: str, default: Any = None) -> Iterator[tuple[str, str]]:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        yield from range_problems(value, prefix=f"{key}.")
        return
    for option in _options(annotation):
        base, found = _strip(option)
        origin = typing.get_origin(base)
        if _is_number(value) and (base is float or (base is int and isinstance(value, int))):
            allowed = found or Range()  # an undeclared float must still be finite
            reason = allowed.problem(value)
            if reason is not None:
                yield key, f"{reason}; {allowed.fix(key, default)}"
            return
        if origin is list and isinstance(value, list):
            (item,) = typing.get_args(base) or (Any,)
            for index, element in enumerate(value):
                yield from _value_problems(item, element, f"{key}[{index}]")
            return
        if origin is dict and isinstance(value, Mapping):
            args = typing.get_args(base)
            for name, element in value.items():
                yield from _value_problems(args[1] if len(args) == 2 else Any, element, f"{key}.{name}")
            return


def check_ranges(obj: Any, error: Callable[[str], Exception], prefix: str = "") -> None:
    """Raise `error("key: reason")` for the first setting of `obj` outside its declared range.

    Call it from a config dataclass's `__post_init__` with the package's own error class.
    """
    for key, reason in range_problems(obj, prefix):
        raise error(f"{key}: {reason}")


@dataclasses.dataclass(frozen=True)
class NumericField:
    """One numeric setting of a config class: its dotted key (`[]` = any list item, `*` = any
    dict key), its number type, its declared range (None: none declared) and its default."""

    key: str
    kind: type
    range: Range | None
    default: Any = None


def numeric_fields(cls: type, prefix: str = "") -> list[NumericField]:
    """Every int/float setting reachable from the dataclass `cls` (bool is not a number here).

    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class Demo:
    ...     rate: Annotated[float, Range(gt=0)] = 0.1
    >>> [(f.key, str(f.range)) for f in numeric_fields(Demo)]
    [('rate', '> 0')]
    """
    found: list[NumericField] = []
    for field in dataclasses.fields(cls):
        default = field.default if field.default is not dataclasses.MISSING else None
        found += _type_fields(_hints(cls)[field.name], f"{prefix}{field.name}", default)
    return found


def _type_fields(annotation: Any, key: str, default: Any) -> list[NumericField]:
    found: list[NumericField] = []
    for option in _options(annotation):
        base, declared = _strip(option)
        origin = typing.get_origin(base)
        if base in (int, float):
            found.append(NumericField(key, base, declared, default))
        elif dataclasses.is_dataclass(base):
            found += numeric_fields(base, prefix=f"{key}.")
        elif origin is list:
            found += _type_fields((typing.get_args(base) or (Any,))[0], f"{key}[]", None)
        elif origin is dict and len(typing.get_args(base)) == 2:
            found += _type_fields(typing.get_args(base)[1], f"{key}.*", None)
    return found
