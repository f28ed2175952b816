"""The miniature's recipe in configs/mini/: every file loads and validates, and it resolves to the
values the demo has always run with (the default run's and the quick run's)."""

from dataclasses import fields
from pathlib import Path

import pytest

from spire.config import load_yaml, resolve_config
from spire.errors import ConfigError
from spire.mini.config import RECIPE_DIR, DemoConfig, recipe_file
from spire.mini.training import stage_train_config
from spire.training.config import TrainConfig

ROOT = Path(__file__).resolve().parents[2]
FILES = sorted((ROOT / "configs/mini").glob("*.yaml"))
PATHS = ["model.path=m", "data.train=d", "output_dir=o"]


def test_the_package_reads_the_repository_recipe():
    assert RECIPE_DIR.resolve() == (ROOT / "configs/mini").resolve()
    assert {p.name for p in FILES} == {"demo.yaml", "quick.yaml", "train_base.yaml", "train_cpt.yaml", "train_it.yaml",
                                       "train_rl.yaml"}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_recipe_file_loads_and_validates(path):
    if path.name == "demo.yaml":
        # Every setting is in the file: DemoConfig has no defaults of its own.
        assert set(load_yaml(path)) == {f.name for f in fields(DemoConfig)}
        DemoConfig.load()
    elif path.name == "quick.yaml":
        assert set(load_yaml(path)) < {f.name for f in fields(DemoConfig)}
        DemoConfig.quick()
    elif path.name == "train_rl.yaml":  # spire.rl.RLConfig, completed by spire.mini.rl
        from spire.mini.rl import rl_train_config

        cfg = rl_train_config(DemoConfig.load(), model_path="m", data_file="d.jsonl", output_dir="o")
        cfg.validate()
        assert cfg.use_cpu and not cfg.bf16 and cfg.save_steps == 0
    else:
        assert path.name.startswith("train_")
        cfg = resolve_config(TrainConfig, path, PATHS)
        cfg.validate()
        assert cfg.use_cpu and not cfg.bf16 and cfg.save_steps == 0


def test_the_default_run_has_its_settings():
    config = DemoConfig.load()
    assert (config.n_train, config.n_dev, config.n_test, config.seed) == (16000, 200, 200, 0)
    assert (config.num_units, config.mfcc_stack, config.mfcc_vtln, config.sample_frames) == (1000, 2, True, 200_000)
    assert (config.vocab_size, config.hidden_size, config.num_layers) == (2000, 192, 4)
    assert (config.base_epochs, config.base_lr, config.cpt_epochs, config.cpt_lr) == (0.75, 2e-3, 1.5, 1.5e-3)
    assert config.base_optimizer == "muon"
    assert (config.it_epochs, config.it_lr, config.it_replay, config.it_utterances) == (1.0, 7e-4, 1.5, 2500)
    assert (config.cpt_optimizer, config.it_optimizer, config.muon_lr) == ("muon", "muon", 0.01)
    assert (config.seq_len, config.micro_batch, config.log_every, config.ablation) == (256, 8, 10, True)
    assert (config.eval_batch_size, config.max_new_tokens, config.out_dir) == (32, 48, "demo_out")


def test_the_quick_run_has_its_settings():
    config = DemoConfig.quick()
    assert (config.n_train, config.n_dev, config.n_test, config.sample_frames) == (4000, 20, 40, 100_000)
    assert (config.vocab_size, config.base_epochs, config.base_lr, config.cpt_epochs) == (1000, 1.0, 3e-3, 4.0)
    assert (config.it_utterances, config.ablation, config.it_lr, config.cpt_lr) == (1000, False, 7e-4, 1.5e-3)


def test_overrides_follow_the_recipe_in_order(tmp_path):
    partial = tmp_path / "mine.yaml"
    partial.write_text("it_epochs: 2.0\nn_test: 10\n")
    config = DemoConfig.load(quick=True, config=partial, overrides=["n_test=12"])
    assert (config.n_train, config.it_epochs, config.n_test) == (4000, 2.0, 12)
    with pytest.raises(ConfigError) as info:
        DemoConfig.load(overrides=["cpt_optimizer=sgd"])
    assert info.value.key == "cpt_optimizer"


@pytest.mark.parametrize(("kind", "stage", "loss", "optimizer"), [
    ("base", "cpt", "causal_lm", "adamw"), ("cpt", "cpt", "labelled_positions", "muon"),
    ("it", "it", "labelled_positions", "muon"),
])
def test_stage_train_configs_are_the_yaml_plus_the_demo_values(kind, stage, loss, optimizer):
    config = DemoConfig.load()
    cfg = stage_train_config(kind, model_path="m", data_dir="d", output_dir="o", rows=1000, epochs=1.5, lr=1.5e-3,
                             config=config, optimizer=None if kind == "base" else config.cpt_optimizer)
    cfg.validate()
    assert (cfg.stage, cfg.loss.name, cfg.optim.name) == (stage, loss, optimizer)
    assert (cfg.model.dtype, cfg.optim.scheduler, cfg.optim.weight_decay, cfg.grad_accum) == ("float32", "cosine", 0.0, 1)
    assert (cfg.optim.lr, cfg.optim.muon_lr, cfg.data.seq_len, cfg.micro_batch, cfg.seed) == (1.5e-3, 0.01, 256, 8, 0)
    # 1000 rows / 8 per step x 1.5 epochs = 188 steps: 5% warm-up, a log line every 10 steps.
    assert (cfg.optim.warmup_steps, cfg.logging_steps, cfg.save_steps) == (9, 10, 0)
    assert cfg.data.replay is None


def test_a_missing_recipe_file_names_it():
    with pytest.raises(ConfigError, match="nothing.yaml"):
        recipe_file("nothing.yaml")
