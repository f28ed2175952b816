"""Every number of every config states its range, and a value outside it (or nan/inf) is refused
by its dotted key before any work: when the config is built from YAML/overrides, and when a
config dataclass is constructed directly in Python. The walk covers every config class reachable
from a `resolve_config` call, so a new field without a range fails here."""

import ast
import dataclasses
import importlib
import math
import pkgutil
import typing
from pathlib import Path

import pytest

import spire
from spire.config import CheckedConfig, Range, check_config, numeric_fields, resolve_config
from spire.errors import ConfigError
from units.ranges import check_ranges, declared_range

ROOT = Path(__file__).resolve().parents[2]
EXPECTED_ROOTS = {"TrainConfig", "CptDataConfig", "ItDataConfig", "DemoConfig"}


def _spire_modules():
    for info in pkgutil.walk_packages(spire.__path__, "spire."):
        yield importlib.import_module(info.name)


def _config_roots() -> set[type]:
    """Classes passed to `resolve_config` anywhere in spire (by name), plus every dataclass named
    *Config (`spire build-data` passes its class through a variable)."""
    roots: set[type] = set()
    for module in _spire_modules():
        for obj in vars(module).values():
            if dataclasses.is_dataclass(obj) and isinstance(obj, type) and obj.__name__.endswith("Config"):
                if obj.__module__.startswith("spire."):
                    roots.add(obj)
        tree = ast.parse(Path(module.__file__).read_text())
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "resolve_config"
                    and node.args and isinstance(node.args[0], ast.Name)):
                found = getattr(module, node.args[0].id, None)
                if found is None:  # imported inside the function
                    for imported in ast.walk(tree):
                        if isinstance(imported, ast.ImportFrom) and any(a.name == node.args[0].id for a in imported.names):
                            found = getattr(importlib.import_module(imported.module), node.args[0].id)
                if dataclasses.is_dataclass(found):
                    roots.add(found)
    return roots


def _nested(cls: type) -> set[type]:
    """`cls` and every dataclass reachable through its field types."""
    seen = {cls}
    for annotation in typing.get_type_hints(cls).values():
        stack = [annotation]
        while stack:
            tp = stack.pop()
            if dataclasses.is_dataclass(tp) and tp not in seen:
                seen |= _nested(tp)
            stack += typing.get_args(tp)
    return seen


ROOTS = sorted(_config_roots(), key=lambda c: c.__name__)
CLASSES = sorted({c for root in ROOTS for c in _nested(root)}, key=lambda c: c.__name__)
FIELDS = [(root, field) for root in ROOTS for field in numeric_fields(root)]


def _ids(item):
    root, field = item
    return f"{root.__name__}:{field.key}"


def _instance(cls: type):
    """A valid instance: the class's own recipe when it loads one (`DemoConfig.load()`), else its
    defaults with placeholders for the fields without one (all strings in these configs)."""
    if hasattr(cls, "load"):
        return cls.load()
    return cls(**{f.name: "x" for f in dataclasses.fields(cls)
                  if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING})


def _merge(base: dict, extra: dict) -> dict:
    merged = dict(base)
    for key, value in extra.items():
        both = isinstance(value, dict) and isinstance(merged.get(key), dict)
        merged[key] = _merge(merged[key], value) if both else value
    return merged


def _override(key: str, value) -> tuple[dict, str]:
    """A nested mapping that sets `key` (`x[]` = a one-item list, `*` = a dict key) and the dotted
    key the error must name."""
    parts = key.split(".")
    tree: dict = {}
    node = tree
    named = []
    for i, part in enumerate(parts):
        name, is_list = ("speech" if part == "*" else part.removesuffix("[]")), part.endswith("[]")
        named.append(name + ("[0]" if is_list else ""))
        child = value if i == len(parts) - 1 else {}
        node[name] = [child] if is_list else child
        node = child
    return tree, ".".join(named)


def _bad_values(field) -> list:
    bad = list(field.range.outside()) if field.range is not None else []
    return bad + [math.nan, math.inf, -math.inf]


def test_the_walk_finds_every_config():
    assert EXPECTED_ROOTS <= {c.__name__ for c in ROOTS}
    assert {"OptimConfig", "DataConfig", "LoraSettings", "ModelConfig"} <= {c.__name__ for c in CLASSES}
    assert len(FIELDS) > 50


@pytest.mark.parametrize("item", FIELDS, ids=_ids)
def test_every_numeric_field_declares_a_range(item):
    root, field = item
    assert field.range is not None, f"{root.__name__}.{field.key} needs Annotated[{field.kind.__name__}, Range(...)]"
    assert field.range.finite, f"{root.__name__}.{field.key} accepts nan/inf: say why in its docstring and in this test"


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_every_config_class_checks_itself_on_construction(cls):
    if any(True for _ in numeric_fields(cls)):
        assert issubclass(cls, CheckedConfig), f"{cls.__name__} must derive from spire.config.CheckedConfig"


@pytest.mark.parametrize("item", FIELDS, ids=_ids)
def test_out_of_range_and_nonfinite_values_are_refused_by_key(item):
    root, field = item
    assert field.range.contains(field.range.example())
    for value in _bad_values(field):
        tree, key = _override(field.key, value)
        with pytest.raises(ConfigError) as info:
            resolve_config(root, None, _merge(dataclasses.asdict(_instance(root)), tree))
        assert info.value.key == key, (value, str(info.value))
        if field.kind is float or not isinstance(value, float):  # an int field refuses a float by type
            assert str(value) in info.value.reason and str(field.range) in info.value.reason
            assert "fix:" in info.value.reason
    good, _ = _override(field.key, field.range.example())
    resolve_config(root, None, _merge(dataclasses.asdict(_instance(root)), good))


@pytest.mark.parametrize("item", [(c, f) for c in CLASSES for f in numeric_fields(c) if "." not in f.key
                                  and "[" not in f.key], ids=_ids)
def test_direct_construction_refuses_out_of_range_values(item):
    cls, field = item
    value = (field.range.outside() or [math.nan])[0]
    with pytest.raises(ConfigError) as info:
        dataclasses.replace(_instance(cls), **{field.key: value})
    assert info.value.key == f"{cls.__name__}.{field.key}"


@pytest.mark.parametrize(("override", "key"), [
    ("optim.lr=.inf", "optim.lr"), ("optim.lr=.nan", "optim.lr"), ("optim.lr=nan", "optim.lr"),
    ("optim.adam_beta1=1.5", "optim.adam_beta1"), ("optim.warmup_steps=-50", "optim.warmup_steps"),
    ("optim.weight_decay=-1", "optim.weight_decay"), ("optim.max_grad_norm=-1", "optim.max_grad_norm"),
    ("lora.r=0", "lora.r"), ("lora.alpha=-4", "lora.alpha"), ("lora.dropout=1.5", "lora.dropout"),
    ("save_steps=-5", "save_steps"), ("data.num_workers=-3", "data.num_workers"), ("epochs=-2", "epochs"),
    ("data.replay_fraction=-1", "data.replay_fraction"), ("max_steps=0", "max_steps"),
    ("save_total_limit=0", "save_total_limit"),
])
def test_the_reported_values_are_refused_by_spire_train_before_any_work(override, key, capsys, tmp_path):
    from spire.cli import main

    # The model and data paths do not exist: the refusal must come before anything reads them.
    code = main(["train", "--config", str(ROOT / "configs/train/mini_it.yaml"), f"model.path={tmp_path}/none",
                 f"data.train={tmp_path}/none", f"output_dir={tmp_path}/out", override])
    assert code == 2
    err = capsys.readouterr().err
    assert f"error: {key}: must be" in err and "fix: set" in err
    assert not (tmp_path / "out").exists()


def test_special_values_and_optional_fields():
    from spire.training.config import TrainConfig

    assert resolve_config(TrainConfig, None, ["max_steps=-1"]).max_steps == -1  # -1 = use epochs
    assert resolve_config(TrainConfig, None, ["save_total_limit=null"]).save_total_limit is None
    with pytest.raises(ConfigError, match=r"must be >= 1, but is 0"):  # a range error, not "int or None"
        resolve_config(TrainConfig, None, ["save_total_limit=0"])
    with pytest.raises(ConfigError, match="must be int or NoneType"):
        resolve_config(TrainConfig, None, ["save_total_limit=many"])


def test_a_field_changed_after_construction_is_caught_by_validate():
    from spire.training.config import TrainConfig

    cfg = resolve_config(TrainConfig, None, ["model.path=m", "data.train=d", "output_dir=o"])
    cfg.optim.lr = float("inf")
    with pytest.raises(ConfigError) as info:
        cfg.validate()
    assert info.value.key == "optim.lr" and "finite" in info.value.reason
    with pytest.raises(ConfigError) as info:
        check_config(cfg)
    assert info.value.key == "optim.lr"


def test_range_text_membership_and_explicit_nonfinite():
    assert [str(r) for r in (Range(ge=0, lt=1), Range(gt=0), Range(le=5), Range(ge=1, also=(-1,)), Range())] == [
        "in [0, 1)", "> 0", "<= 5", ">= 1 or -1", "any number"]
    assert Range(ge=1, also=(-1,)).contains(-1) and not Range(ge=1, also=(-1,)).contains(0)
    assert not Range().contains(math.inf) and not Range().contains(math.nan)
    unbounded = Range(ge=0, finite=False)
    assert unbounded.contains(math.inf) and not unbounded.contains(-math.inf) and unbounded.contains(math.nan)
    assert declared_range(typing.Annotated[int, Range(ge=2)]) == Range(ge=2) and declared_range(int) is None


def test_units_configs_use_the_same_mechanism_with_their_own_error():
    from units.errors import UnitsError

    class SettingError(UnitsError):
        pass

    @dataclasses.dataclass(frozen=True, kw_only=True)
    class Settings:
        k: typing.Annotated[int, Range(ge=2)] = 500
        rate: float = 0.5  # undeclared: still must be finite

        def __post_init__(self) -> None:
            check_ranges(self, SettingError)

    with pytest.raises(SettingError, match=r"^k: must be >= 2, but is 1; fix: set k to a value >= 2 \(the default is 500\)$"):
        Settings(k=1)
    with pytest.raises(SettingError, match=r"rate: must be a finite number, but is nan; fix: set rate to a finite number"):
        Settings(rate=math.nan)
    assert Settings(k=2).k == 2


def test_a_command_line_flag_states_its_range_the_same_way():
    import argparse

    flags = argparse.ArgumentParser(exit_on_error=False)
    flags.add_argument("--pad-to-multiple-of", type=Range(ge=1).parser(int))
    flags.add_argument("--max-chunk-s", type=Range(gt=0).parser(float))
    assert flags.parse_args(["--pad-to-multiple-of", "64", "--max-chunk-s", "2.5"]).pad_to_multiple_of == 64
    for argv, words in ((["--pad-to-multiple-of", "-64"], "must be >= 1, but is -64"),
                        (["--pad-to-multiple-of", "x"], "must be an integer >= 1, but is 'x'"),
                        (["--max-chunk-s", "nan"], "must be a finite number > 0, but is nan")):
        with pytest.raises(argparse.ArgumentError, match=words):
            flags.parse_args(argv)
