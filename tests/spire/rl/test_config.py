"""The RL stage's config: the shipped recipes load and validate, ranges and cross-field rules are
refused by dotted key, and `spire train` picks the RL recipe from the YAML's stage."""

import re
from pathlib import Path

import pytest

from spire.config import load_yaml, resolve_config
from spire.errors import ConfigError
from spire.rl.config import RLConfig

ROOT = Path(__file__).resolve().parents[3]
FULL = ROOT / "configs/train/spire_rl.yaml"
MINI = ROOT / "configs/mini/train_rl.yaml"
PATHS = ["model.path=m", "output_dir=o", "data.speech=[{path: u}]"]


def test_the_full_scale_recipe_has_the_tower_plus_spirit():
    cfg = resolve_config(RLConfig, FULL)
    cfg.validate()
    assert cfg.stage == "rl" and cfg.bf16 and not cfg.use_cpu and cfg.model.gradient_checkpointing
    assert (cfg.optim.lr, cfg.grpo.num_generations, cfg.grpo.beta) == (1e-6, 8, 0.04)
    assert (cfg.rewards.asr, cfg.rewards.st, cfg.rewards.mt) == ("wer", "chrf", "chrf")
    assert cfg.resume == "auto" and cfg.save_steps > 0
    # 4 GPUs (configs/accelerate/fsdp.yaml): whole groups of answers per step.
    assert (cfg.micro_batch * cfg.grad_accum * 4) % cfg.grpo.num_generations == 0
    raw = load_yaml(FULL)
    assert raw["optim"]["lr"] == 1e-6 and raw["grpo"]["num_generations"] == 8  # stated, not defaulted


def test_the_mini_recipe_is_cpu_and_completed_by_the_demo():
    cfg = resolve_config(RLConfig, MINI, PATHS)
    cfg.validate()
    assert cfg.use_cpu and not cfg.bf16 and cfg.save_steps == 0 and cfg.grad_accum == 1


@pytest.mark.parametrize(("override", "key"), [
    ("grpo.num_generations=1", "grpo.num_generations"), ("grpo.beta=-0.1", "grpo.beta"),
    ("grpo.top_p=1.5", "grpo.top_p"), ("grpo.epsilon=0", "grpo.epsilon"), ("optim.lr=0", "optim.lr"),
    ("optim.lr=.nan", "optim.lr"), ("grpo.max_completion_length=0", "grpo.max_completion_length"),
    ("data.max_prompts=0", "data.max_prompts"), ("micro_batch=0", "micro_batch"), ("max_steps=0", "max_steps"),
    ("rewards.asr=bleu", "rewards.asr"), ("grpo.loss_type=ppo", "grpo.loss_type"), ("data.tasks=[mt]", "data.tasks[0]"),
    ("grpo.temperature=.inf", "grpo.temperature"),
])
def test_out_of_range_settings_are_refused_by_key(override, key):
    with pytest.raises(ConfigError) as info:
        resolve_config(RLConfig, MINI, [*PATHS, override])
    assert info.value.key == key


@pytest.mark.parametrize(("overrides", "key", "text"), [
    (["model.path="], "model.path", "must be set"),
    (["data.speech=[]"], "data.speech", "must list a source"),
    (["data.st_languages=[]"], "data.st_languages", "st task"),
    (["data.st_languages=[de, klingon]"], "data.st_languages[1]", "language must be one of"),
    (["micro_batch=6", "grpo.num_generations=4"], "micro_batch", "multiple of grpo.num_generations (4)"),
])
def test_validate_refuses_inconsistent_settings(overrides, key, text):
    cfg = resolve_config(RLConfig, MINI, [*PATHS, *overrides])
    with pytest.raises(ConfigError, match=re.escape(text)) as info:
        cfg.validate()
    assert info.value.key == key


def test_the_group_rule_counts_every_process(monkeypatch):
    cfg = resolve_config(RLConfig, MINI, [*PATHS, "micro_batch=2", "grad_accum=1", "grpo.num_generations=4"])
    with pytest.raises(ConfigError, match="processes"):
        cfg.validate()
    monkeypatch.setenv("WORLD_SIZE", "2")
    cfg.validate()


def test_spire_train_prints_the_rl_recipe(capsys):
    import yaml

    from spire.cli import main

    assert main(["train", "--config", str(FULL), "--print-config", "grpo.beta=0.02"]) == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["stage"] == "rl" and printed["grpo"]["beta"] == 0.02 and printed["grpo"]["num_generations"] == 8
    assert printed["model"]["path"] == "runs/spire_full" and "rewards" in printed


@pytest.mark.parametrize(("config", "override", "message"), [
    (FULL, "grpo.bogus=1", "error: grpo.bogus: is not a known setting"),
    (FULL, "stage=ppo", "error: stage: must be one of ['cpt', 'it', 'rl'], but is 'ppo'"),
    (ROOT / "configs/train/mini_it.yaml", "stage=ppo", "error: stage: must be one of ['cpt', 'it', 'rl']"),
    (FULL, "grpo.num_generations=1", "error: grpo.num_generations: must be >= 2, but is 1"),
])
def test_spire_train_names_the_bad_key(config, override, message, capsys):
    from spire.cli import main

    assert main(["train", "--config", str(config), "--print-config", override]) == 2
    assert message in capsys.readouterr().err


def test_the_it_recipes_still_print_as_train_configs(capsys):
    from spire.cli import main

    assert main(["train", "--config", str(ROOT / "configs/train/spire_full_it.yaml"), "--print-config"]) == 0
    assert "stage: it" in capsys.readouterr().out


def test_the_package_exports_resolve_and_are_documented():
    import inspect

    import spire.rl

    for name in spire.rl.__all__:
        obj = getattr(spire.rl, name)
        assert inspect.getdoc(obj), name
