"""Every shipped training and accelerate config loads and validates against its schema (the
miniature's demo settings: tests/mini/test_recipe.py)."""

from pathlib import Path

import pytest
import yaml

from spire.config import load_yaml, resolve_config
from spire.training.recipe import TrainConfig

ROOT = Path(__file__).resolve().parents[2]
ALL_TRAIN_CONFIGS = sorted([*(ROOT / "configs/train").glob("*.yaml"), *(ROOT / "configs/mini").glob("train_*.yaml")])
# `stage: rl` recipes are spire.rl.RLConfig's (tests/spire/rl/test_config.py checks them).
TRAIN_CONFIGS = [path for path in ALL_TRAIN_CONFIGS if load_yaml(path).get("stage") != "rl"]
ACCELERATE_CONFIGS = sorted((ROOT / "configs/accelerate").glob("*.yaml"))


def test_the_recipes_are_shipped():
    names = {path.name for path in TRAIN_CONFIGS}
    assert {"spire_base_cpt.yaml", "spire_full_it.yaml", "mini_cpt.yaml", "mini_it.yaml", "train_cpt.yaml"} <= names
    assert ACCELERATE_CONFIGS


@pytest.mark.parametrize("path", TRAIN_CONFIGS, ids=lambda p: p.name)
def test_train_config_loads_and_validates(path):
    cfg = resolve_config(TrainConfig, path, ["model.path=m", "data.train=d", "output_dir=o"])
    cfg.validate()
    # Full-scale recipes name every path themselves; the small ones get them from the command line or the demo.
    if path.name.startswith("spire_"):
        resolve_config(TrainConfig, path).validate()
        assert cfg.bf16 and not cfg.use_cpu
    else:
        assert cfg.use_cpu and not cfg.bf16


def test_full_it_recipe_has_the_paper_settings():
    cfg = resolve_config(TrainConfig, ROOT / "configs/train/spire_full_it.yaml")
    assert cfg.stage == "it"
    assert (cfg.optim.lr, cfg.optim.scheduler, cfg.optim.warmup_steps, cfg.epochs) == (7e-6, "cosine", 100, 4.0)
    assert (cfg.micro_batch, cfg.grad_accum, cfg.data.seq_len, cfg.bf16) == (12, 12, 4096, True)
    # The YAML states these explicitly rather than relying on the defaults.
    raw = load_yaml(ROOT / "configs/train/spire_full_it.yaml")
    assert raw["optim"]["lr"] == 7e-6 and raw["micro_batch"] == 12 and raw["data"]["seq_len"] == 4096


def test_base_cpt_recipe_uses_context_2048():
    cfg = resolve_config(TrainConfig, ROOT / "configs/train/spire_base_cpt.yaml")
    assert cfg.stage == "cpt" and cfg.data.seq_len == 2048


@pytest.mark.parametrize("path", ACCELERATE_CONFIGS, ids=lambda p: p.name)
def test_accelerate_config_is_understood_by_accelerate(path):
    from accelerate.commands.config.config_args import load_config_from_file

    raw = yaml.safe_load(path.read_text())
    config = load_config_from_file(str(path))
    assert config.distributed_type.value == raw["distributed_type"]
    assert config.mixed_precision == "bf16"
    assert config.fsdp_config["fsdp_transformer_layer_cls_to_wrap"] == "LlamaDecoderLayer"


def test_full_scale_recipes_keep_the_papers_loss_and_optimizer():
    for name in ("spire_base_cpt.yaml", "spire_full_it.yaml"):
        cfg = resolve_config(TrainConfig, ROOT / "configs/train" / name)
        assert (cfg.loss.name, cfg.optim.name) == ("causal_lm", "adamw"), name
