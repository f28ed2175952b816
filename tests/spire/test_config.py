"""The config system: YAML partial overrides, `key.sub=value` overrides, errors naming the dotted key."""

from dataclasses import dataclass, field
from typing import Literal

import pytest

from spire.config import config_to_dict, parse_overrides, resolve_config, save_config
from spire.errors import ConfigError
from spire.training.recipe import TrainConfig


@dataclass(kw_only=True)
class Inner:
    rate: float = 0.5
    names: list[str] = field(default_factory=lambda: ["a"])
    mode: Literal["x", "y"] = "x"
    limit: int | None = None


@dataclass(kw_only=True)
class Outer:
    name: str = "run"
    steps: int = 3
    flag: bool = False
    inner: Inner = field(default_factory=Inner)
    extra: dict[str, int] = field(default_factory=dict)


def _write(tmp_path, text):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return path


def test_defaults_yaml_then_overrides_last_wins(tmp_path):
    path = _write(tmp_path, "steps: 7\ninner:\n  rate: 2\n  mode: y\n")
    cfg = resolve_config(Outer, path, ["inner.rate=1e-3", "flag=true", "inner.limit=4", "extra.k=2"])
    assert cfg.steps == 7 and cfg.flag is True and cfg.name == "run"
    assert cfg.inner.rate == 0.001 and isinstance(cfg.inner.rate, float)
    assert cfg.inner.mode == "y" and cfg.inner.limit == 4 and cfg.inner.names == ["a"]
    assert cfg.extra == {"k": 2}
    assert resolve_config(Outer, path, ["inner.limit=null"]).inner.limit is None


def test_ints_become_floats_and_yaml_exponents_without_dot_are_numbers(tmp_path):
    cfg = resolve_config(Outer, _write(tmp_path, "inner:\n  rate: 1e-4\n"))
    assert cfg.inner.rate == 1e-4
    assert resolve_config(Outer, None, ["inner.rate=3"]).inner.rate == 3.0


@pytest.mark.parametrize(
    ("text", "overrides", "key"),
    [
        ("stepz: 1\n", [], "stepz"),
        ("inner:\n  ratee: 1\n", [], "inner.ratee"),
        ("", ["inner.nope=1"], "inner.nope"),
        ("", ["nested.deep.key=1"], "nested"),
    ],
)
def test_unknown_key_is_an_error_naming_it(tmp_path, text, overrides, key):
    with pytest.raises(ConfigError) as info:
        resolve_config(Outer, _write(tmp_path, text), overrides)
    assert info.value.key == key
    assert key in str(info.value)


@pytest.mark.parametrize(
    ("override", "key", "words"),
    [
        ("steps=many", "steps", "integer"),
        ("steps=1.5", "steps", "integer"),
        ("flag=1", "flag", "true or false"),
        ("inner.rate=fast", "inner.rate", "number"),
        ("inner.mode=z", "inner.mode", "one of"),
        ("inner.names=abc", "inner.names", "list"),
        ("inner.names=[1]", "inner.names[0]", "string"),
        ("inner.limit=x", "inner.limit", "int"),
        ("inner=3", "inner", "mapping"),
        ("extra.k=x", "extra.k", "integer"),
    ],
)
def test_bad_type_names_the_key(override, key, words):
    with pytest.raises(ConfigError) as info:
        resolve_config(Outer, None, [override])
    assert info.value.key == key
    assert words in info.value.reason


def test_malformed_override_and_yaml_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="key.sub=value"):
        parse_overrides(["steps"])
    with pytest.raises(ConfigError, match="mapping"):
        resolve_config(Outer, _write(tmp_path, "- 1\n- 2\n"))
    with pytest.raises(ConfigError, match="does not exist"):
        resolve_config(Outer, tmp_path / "missing.yaml")


def test_save_then_resolve_round_trips(tmp_path):
    cfg = resolve_config(TrainConfig, None, ["stage=cpt", "optim.lr=2e-5", "lora.target_modules=[q_proj]",
                                             "distributed.fsdp_config.version=2"])
    path = save_config(cfg, tmp_path / "out" / "config.yaml")
    again = resolve_config(TrainConfig, path)
    assert again == cfg
    assert config_to_dict(again)["optim"]["lr"] == 2e-5


def test_train_defaults_are_the_paper_it_settings():
    cfg = TrainConfig()
    assert (cfg.optim.lr, cfg.optim.scheduler, cfg.optim.warmup_steps) == (7e-6, "cosine", 100)
    assert (cfg.epochs, cfg.micro_batch, cfg.grad_accum, cfg.data.seq_len, cfg.bf16) == (4.0, 12, 12, 4096, True)


def test_train_validate_names_missing_and_bad_values():
    with pytest.raises(ConfigError) as info:
        TrainConfig().validate()
    assert info.value.key == "model.path"
    with pytest.raises(ConfigError) as info:  # out of range: refused while the config is built
        resolve_config(TrainConfig, None, ["model.path=m", "data.train=d", "output_dir=o", "micro_batch=0"])
    assert info.value.key == "micro_batch"
    cfg = resolve_config(TrainConfig, None, ["model.path=m", "data.train=d", "output_dir=o"])
    cfg.micro_batch = 0  # changed after construction: validate() checks the ranges again
    with pytest.raises(ConfigError) as info:
        cfg.validate()
    assert info.value.key == "micro_batch"


def test_config_classes_are_keyword_only():
    with pytest.raises(TypeError):
        Outer("positional")  # type: ignore[misc]


def test_resume_modes(tmp_path):
    from spire.training.checkpoints import write_marker
    from spire.training.recipe import _resume_path

    def cfg(value):  # the (resume, output_dir) that train() passes on
        resolved = resolve_config(TrainConfig, None, [f"output_dir={tmp_path}", f"resume={value}"])
        return resolved.resume, resolved.output_dir

    assert _resume_path(*cfg("auto")) is None
    with pytest.raises(Exception, match="checkpoint"):
        _resume_path(*cfg("latest"))
    with pytest.raises(ConfigError) as info:
        _resume_path(*cfg(tmp_path / "nope"))
    assert info.value.key == "resume"
    for step in (5, 12):
        (tmp_path / f"checkpoint-{step}").mkdir()
        (tmp_path / f"checkpoint-{step}" / "trainer_state.json").write_text("{}")
        write_marker(tmp_path / f"checkpoint-{step}", step)
    assert _resume_path(*cfg("auto")).endswith("checkpoint-12")
    (tmp_path / "checkpoint-20").mkdir()  # an interrupted save: no marker, never the resume point
    with pytest.warns(UserWarning, match="checkpoint-20 is not a complete checkpoint"):
        assert _resume_path(*cfg("latest")).endswith("checkpoint-12")
    assert (tmp_path / "partial" / "checkpoint-20").is_dir() and not (tmp_path / "checkpoint-20").exists()
