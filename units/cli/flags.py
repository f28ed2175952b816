"""Command-line flags built from keyword-only config dataclasses: one source of truth.

Each field becomes `--field-name`; its type gives the parser (`bool` -> `--x/--no-x`), its
default the default, and the docstring under it the help, which shows the default
(`HelpFormatter`). So a setting's name, default and help live only in its dataclass.

>>> from dataclasses import dataclass
>>> @dataclass(frozen=True, kw_only=True)
... class Demo:
...     k: int = 8
...     verbose: bool = True
>>> parser = argparse.ArgumentParser()
>>> names = add_dataclass_flags(parser, Demo)
>>> config_from_args(Demo, parser.parse_args(["--k", "3", "--no-verbose"]))
Demo(k=3, verbose=False)
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import textwrap
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = ["HelpFormatter", "add_dataclass_flags", "config_from_args", "field_docs", "flag_name"]

_METAVARS = {int: "N", float: "X"}


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each option's default after its help, except where a default says nothing
    (required options, None, and off-by-default switches such as `--force`)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        default = action.default
        if action.required or default is None or default is argparse.SUPPRESS:
            return action.help or ""
        if default is False and not isinstance(action, argparse.BooleanOptionalAction):
            return action.help or ""
        return super()._get_help_string(action)


def flag_name(field: str) -> str:
    """The flag of a field name.

    >>> flag_name("max_frames")
    '--max-frames'
    """
    return "--" + field.replace("_", "-")


def field_docs(cls: type) -> dict[str, str]:
    """The docstring written under each field of dataclass `cls` (read from its source).

    >>> from units.kmeans.report import FitConfig
    >>> field_docs(FitConfig)["k"]
    'Number of clusters (SPIRE: 5000).'
    """
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        try:
            source = textwrap.dedent(inspect.getsource(klass))
        except (OSError, TypeError):
            continue  # no source (e.g. built in a REPL): the flags get no help text
        node = ast.parse(source).body[0]
        if not isinstance(node, ast.ClassDef):
            continue
        for field, doc in zip(node.body, node.body[1:]):
            if (
                isinstance(field, ast.AnnAssign)
                and isinstance(field.target, ast.Name)
                and isinstance(doc, ast.Expr)
                and isinstance(doc.value, ast.Constant)
                and isinstance(doc.value.value, str)
            ):
                docs[field.target.id] = " ".join(inspect.cleandoc(doc.value.value).split())
    return docs


def _base_type(hint: Any) -> tuple[Any, bool]:
    """(the type inside an optional hint, whether None is allowed)."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return hint, False


def add_dataclass_flags(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    cls: type,
    *,
    skip: Iterable[str] = (),
    aliases: Mapping[str, Sequence[str]] | None = None,
    choices: Mapping[str, Sequence[Any]] | None = None,
    required: Iterable[str] = (),
) -> list[str]:
    """Add one flag per field of dataclass `cls` (but `skip`); return the field names added.

    `aliases` gives extra flags of a field (old names kept working), `choices` its allowed
    values (a `Literal` hint gives them too), `required` the fields that must be passed.
    """
    hints = typing.get_type_hints(cls)
    docs = field_docs(cls)
    aliases, choices, skip, required = aliases or {}, choices or {}, set(skip), set(required)
    added = []
    for field in dataclasses.fields(cls):
        if field.name in skip or not field.init:
            continue
        base, optional = _base_type(hints[field.name])
        default = _default(field)
        flags = [flag_name(field.name), *aliases.get(field.name, ())]
        options: dict[str, Any] = {
            "dest": field.name,
            "default": default,
            "help": docs.get(field.name, "").replace("%", "%%"),
        }
        allowed = choices.get(field.name)
        if typing.get_origin(base) is typing.Literal:
            allowed, base = typing.get_args(base), type(typing.get_args(base)[0])
        if base is bool:
            options["action"] = argparse.BooleanOptionalAction
        elif base in (int, float, str):
            options["type"] = base
            if allowed is not None:
                options["choices"] = tuple(allowed)
            elif base in _METAVARS:
                options["metavar"] = _METAVARS[base]
        else:
            raise TypeError(
                f"{cls.__name__}.{field.name} must be a bool, int, float or str field (optionally "
                f"None) to become a flag, but is {hints[field.name]}; fix: pass skip=[{field.name!r}]"
            )
        if field.name in required:
            options["required"] = True
        elif default is None and not optional:
            raise TypeError(f"{cls.__name__}.{field.name} must have a default or be required")
        parser.add_argument(*flags, **options)
        added.append(field.name)
    return added


def _default(field: dataclasses.Field) -> Any:
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return None


def config_from_args(cls: type, args: argparse.Namespace, **extra: Any) -> Any:
    """`cls` built from the parsed flags of its fields (those present in `args`), plus `extra`."""
    values = {
        f.name: getattr(args, f.name)
        for f in dataclasses.fields(cls)
        if f.init and hasattr(args, f.name)
    }
    return cls(**{**values, **extra})
