"""Typed configs from YAML: keyword-only dataclasses, partial YAML overrides, `key.sub=value` overrides.

A config is a tree of keyword-only dataclasses whose defaults are the recipe's settings. A YAML
file only lists what differs; command-line overrides come last. Every value is checked against
the field's type, and every error names the dotted key:

    cfg = resolve_config(TrainConfig, "configs/train/mini_it.yaml", ["optim.lr=1e-4"])
    save_config(cfg, "runs/mini/config.yaml")

Supported field types: bool, int, float (ints and strings such as `1e-3` are accepted), str, None, Literal[...], list[T],
dict[str, T], unions of these, and nested dataclasses.

Every number states its range in its type, `Annotated[float, Range(gt=0)]`, and every float must
be finite unless its range says otherwise. The ranges are checked here, when a config is built
(the error names the dotted key, the value, the range and the fix), and again whenever a config
dataclass that derives from `CheckedConfig` is constructed in Python:

    lr: Annotated[float, Range(gt=0)] = 7e-6
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, TypeVar

import yaml

from spire.errors import ConfigError
from units.ranges import (  # noqa: F401  (the shared ranges are re-exported for the config modules)
    AT_LEAST_1,
    FRACTION,
    NON_NEGATIVE,
    POSITIVE,
    SEED,
    Range,
    declared_range,
    numeric_fields,
    range_problems,
)

C = TypeVar("C")

__all__ = [
    "CheckedConfig",
    "Range",
    "check_config",
    "config_to_dict",
    "load_yaml",
    "numeric_fields",
    "parse_overrides",
    "resolve_config",
    "save_config",
]


class CheckedConfig:
    """Base of every config dataclass: its numbers are checked against their declared ranges
    whenever it is constructed, also directly in Python (the key then starts with the class name).

    >>> from dataclasses import dataclass
    >>> @dataclass(kw_only=True)
    ... class Fit(CheckedConfig):
    ...     k: Annotated[int, Range(ge=2)] = 500
    >>> Fit(k=0)
    Traceback (most recent call last):
    spire.errors.ConfigError: Fit.k: must be >= 2, but is 0; fix: set Fit.k to a value >= 2 (the default is 500)
    """

    def __post_init__(self) -> None:
        check_config(self, prefix=f"{type(self).__name__}.")


def check_config(cfg: Any, prefix: str = "") -> None:
    """Raise `ConfigError` naming the dotted key of the first number of `cfg` outside its declared
    range (or not finite); entry points call it again in case a field was changed after construction.

    >>> from spire.training.config import TrainConfig
    >>> cfg = TrainConfig()
    >>> cfg.optim.lr = float("inf")
    >>> check_config(cfg)
    Traceback (most recent call last):
    spire.errors.ConfigError: optim.lr: must be a finite number > 0, but is inf; fix: set optim.lr to a value > 0 (the default is 7e-06)
    """
    for key, reason in range_problems(cfg, prefix):
        raise ConfigError(key, reason)


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping (an empty file is an empty mapping).

    >>> load_yaml("configs/train/mini_it.yaml")["stage"]  # doctest: +SKIP
    'it'
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(str(path), f"must be an existing YAML file, but {path} does not exist; fix: check the path")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ConfigError(str(path), f"must be valid YAML, but parsing failed: {error}") from error
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(str(path), f"must hold a mapping at the top level, but holds {type(data).__name__}")
    return data


def parse_overrides(overrides: Sequence[str]) -> dict[str, Any]:
    """Turn `["a.b=1", "c=x"]` into the nested mapping `{"a": {"b": 1}, "c": "x"}`.

    Values are read as YAML scalars, so `1.0e-4` is a float, `true` a bool and `null` None
    (YAML reads `1e-4` as a string; float fields convert it when the config is built).

    >>> parse_overrides(["optim.lr=1.0e-4", "bf16=false"])
    {'optim': {'lr': 0.0001}, 'bf16': False}
    """
    tree: dict[str, Any] = {}
    for item in overrides:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(item, "an override must look like key.sub=value, but has no '='; fix: write e.g. optim.lr=1e-4")
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError as error:
            raise ConfigError(key, f"must be a YAML value, but {raw!r} does not parse: {error}") from error
        node = tree
        parts = key.split(".")
        for depth, part in enumerate(parts[:-1]):
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(".".join(parts[: depth + 1]), "is set both as a value and as a section")
            node = child
        node[parts[-1]] = value
    return tree


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(dict(merged[key]), value)
        else:
            merged[key] = value
    return merged


def resolve_config(
    cls: type[C],
    yaml_path: str | Path | None = None,
    overrides: Sequence[str] | Mapping[str, Any] = (),
) -> C:
    """Build `cls` from its defaults, then the YAML file, then the overrides (last wins).

    >>> from spire.training.recipe import TrainConfig
    >>> resolve_config(TrainConfig, None, ["optim.lr=0.001"]).optim.lr
    0.001
    """
    data: dict[str, Any] = load_yaml(yaml_path) if yaml_path is not None else {}
    extra = parse_overrides(overrides) if not isinstance(overrides, Mapping) else dict(overrides)
    data = _merge(data, extra)
    return _build(cls, data, prefix="")


def _build(cls: type[C], data: Any, prefix: str) -> C:
    if not isinstance(data, Mapping):
        raise ConfigError(prefix.rstrip(".") or "<root>", f"must be a mapping of fields, but is {data!r}")
    hints = typing.get_type_hints(cls, include_extras=True)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if key not in fields:
            known = ", ".join(sorted(fields))
            raise ConfigError(dotted, f"is not a known setting; fix: remove it or use one of: {known}")
        default = fields[key].default
        kwargs[key] = _convert(hints[key], value, dotted, default=None if default is dataclasses.MISSING else default)
    for name, field in fields.items():
        # Nested sections left out of the YAML still get their own defaults.
        if name not in kwargs and field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{prefix}{name}", "is required, but is not set; fix: add it to the YAML or the overrides")
    return cls(**kwargs)


class _OutOfRange(ConfigError):
    """A value of the right type outside its range: final, so a union does not try its other options."""


def _type_name(tp: Any) -> str:
    if typing.get_origin(tp) is Annotated:
        tp = typing.get_args(tp)[0]
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _check_range(value: Any, allowed: Range | None, key: str, default: Any) -> Any:
    allowed = allowed or Range()  # an undeclared float must still be finite
    reason = allowed.problem(value)
    if reason is None:
        return value
    raise _OutOfRange(key, f"{reason}; {allowed.fix(key, default)}")


def _convert(tp: Any, value: Any, key: str, default: Any = None, allowed: Range | None = None) -> Any:
    """Check `value` against the annotation `tp`, converting where it is lossless; numbers also
    against `allowed`, the range of the `Annotated[...]` around them."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin is Annotated:
        return _convert(args[0], value, key, default, declared_range(tp))
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, prefix=f"{key}.")
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for option in args:
            if option is type(None):
                continue
            try:
                return _convert(option, value, key, default)
            except _OutOfRange:
                raise
            except ConfigError as error:
                errors.append(error.reason)
        names = " or ".join(_type_name(a) for a in args)
        raise ConfigError(key, f"must be {names}, but is {value!r}")
    if origin is typing.Literal:
        if value in args:
            return value
        raise ConfigError(key, f"must be one of {list(args)}, but is {value!r}")
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(key, f"must be a list, but is {value!r}")
        (item_type,) = args or (Any,)
        return [_convert(item_type, item, f"{key}[{i}]") for i, item in enumerate(value)]
    if origin is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(key, f"must be a mapping, but is {value!r}")
        value_type = args[1] if len(args) == 2 else Any
        return {str(k): _convert(value_type, v, f"{key}.{k}") for k, v in value.items()}
    if tp is type(None):
        if value is None:
            return None
        raise ConfigError(key, f"must be null, but is {value!r}")
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(key, f"must be true or false, but is {value!r}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return _check_range(value, allowed, key, default)
        raise ConfigError(key, f"must be an integer, but is {value!r}")
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return _check_range(float(value), allowed, key, default)
        if isinstance(value, str):
            # PyYAML reads `1e-3` (no dot) as a string; accept what Python reads as a number.
            try:
                number = float(value)
            except ValueError:
                pass
            else:
                return _check_range(number, allowed, key, default)
        raise ConfigError(key, f"must be a number, but is {value!r}")
    if tp is str:
        if isinstance(value, str):
            return value
        raise ConfigError(key, f"must be a string, but is {value!r}; fix: quote it in the YAML")
    raise TypeError(f"config field {key} has an unsupported annotation {tp!r}")


def config_to_dict(cfg: Any) -> dict[str, Any]:
    """The config as plain nested dicts (YAML/JSON ready).

    >>> from spire.training.recipe import TrainConfig
    >>> config_to_dict(TrainConfig())["optim"]["scheduler"]
    'cosine'
    """
    if not dataclasses.is_dataclass(cfg):
        raise TypeError(f"config_to_dict needs a dataclass instance, but got {type(cfg).__name__}")
    return dataclasses.asdict(cfg)


def save_config(cfg: Any, path: str | Path) -> Path:
    """Write the resolved config as YAML; `resolve_config(type(cfg), path)` reads it back equal.

    >>> from spire.training.recipe import TrainConfig
    >>> save_config(TrainConfig(), "/tmp/config.yaml")  # doctest: +SKIP
    PosixPath('/tmp/config.yaml')
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(config_to_dict(cfg), sort_keys=False, allow_unicode=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path
