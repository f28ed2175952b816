"""The shipped full-scale configs hold the paper's recipe (REFERENCE.md) exactly, each one is
read by what consumes it (the config dataclasses, the `spire` command parsers, accelerate's
launcher), and the scale check overrides nothing those files lack."""

from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from spire.config import load_yaml, resolve_config
from spire.training.recipe import TrainConfig

ROOT = Path(__file__).resolve().parents[2]
IT, CPT = ROOT / "configs/train/spire_full_it.yaml", ROOT / "configs/train/spire_base_cpt.yaml"
UNITS = ROOT / "configs/units/spire_units.yaml"
# The optimizer and precision settings of the paper's IT, which CPT reuses (REFERENCE.md).
OPTIM = {"name": "adamw", "lr": 7e-6, "scheduler": "cosine", "warmup_steps": 100}


def _stated(raw: dict, dotted: str):
    node = raw
    for part in dotted.split("."):
        assert isinstance(node, dict) and part in node, f"{dotted} must be written in the YAML"
        node = node[part]
    return node


@pytest.mark.parametrize("path, stage, seq_len", [(IT, "it", 4096), (CPT, "cpt", 2048)], ids=["it", "cpt"])
def test_training_recipes_are_the_papers(path, stage, seq_len):
    cfg = resolve_config(TrainConfig, path)
    cfg.validate()
    assert (cfg.stage, cfg.data.seq_len, cfg.micro_batch, cfg.grad_accum) == (stage, seq_len, 12, 12)
    assert {key: getattr(cfg.optim, key) for key in OPTIM} == OPTIM
    assert (cfg.bf16, cfg.model.dtype, cfg.loss.name, cfg.use_cpu) == (True, "float32", "causal_lm", False)
    assert cfg.model.gradient_checkpointing and not cfg.lora.enabled and cfg.resume == "auto"
    if stage == "it":
        assert cfg.epochs == 4.0
    raw = load_yaml(path)  # stated in the file, not inherited from the defaults
    for key in ("data.seq_len", "micro_batch", "grad_accum", "bf16", "loss.name", "model.dtype",
                *(f"optim.{k}" for k in OPTIM)):
        _stated(raw, key)


def test_data_recipes_pack_as_the_paper():
    from spire.data.cpt import CptDataConfig
    from spire.data.instructions import ItDataConfig

    cpt = resolve_config(CptDataConfig, ROOT / "configs/data/spire_cpt.yaml")
    assert (cpt.seq_len, cpt.unit_loss, cpt.proportions) == (2048, True, {"speech": 5.0, "parallel": 0.5, "monolingual": 0.5})
    it = resolve_config(ItDataConfig, ROOT / "configs/data/spire_it.yaml")
    assert (it.seq_len, it.packing) == (4096, True)
    assert set(it.tasks) == {"asr", "st", "st_multiturn"}
    assert it.st_languages == ["de", "es", "fr", "it", "ko", "nl", "pt", "ru", "zh"]


def _parse(command: str, sub: str | None, flags: list[str]) -> dict:
    import argparse
    import importlib

    from spire.cli import COMMANDS

    parser = argparse.ArgumentParser()
    importlib.import_module(COMMANDS[command][0]).add_arguments(parser)
    required = {"sample-features": ["--manifest", "m", "--out", "o"], "fit-kmeans": ["--features", "f", "--out", "o"],
                "make-extractor": ["--out", "o"], "label": ["--manifest", "m", "--out", "o"],
                None: ["--model", "m", "--out", "o"]}[sub]
    return vars(parser.parse_args(([sub] if sub else []) + required + flags))


def test_units_recipe_is_the_papers_and_each_section_parses_as_its_commands_flags():
    import scale

    units = yaml.safe_load(UNITS.read_text())
    assert units["encoder"] == "facebook/hubert-large-ll60k"
    assert units["sample-features"]["layer"] == units["make-extractor"]["layer"] == 22
    assert (units["fit-kmeans"]["k"], units["extend"]["num-units"]) == (5000, 5000)
    assert units["make-extractor"]["dedup"] is True and units["make-extractor"]["unit-format"] == "pua"
    assert (units["extend"]["pad-to-multiple-of"], units["extend"]["chat-specials"]) == (64, True)
    for section in ("sample-features", "fit-kmeans", "make-extractor", "label", "extend"):
        command, sub = ("extend", None) if section == "extend" else ("units", section)
        parsed = _parse(command, sub, scale._flags(units[section]))
        for key, value in units[section].items():
            assert parsed[key.replace("-", "_")] == value, (section, key)


def test_fsdp_yaml_reaches_accelerates_fsdp2_plugin(monkeypatch):
    """The YAML through accelerate's own launcher and plugin, up to where a GPU is needed."""
    from accelerate.commands.launch import _validate_launch_command, launch_command_parser
    from accelerate.utils import FullyShardedDataParallelPlugin
    from accelerate.utils.fsdp_utils import fsdp2_prepare_auto_wrap_policy
    from accelerate.utils.launch import prepare_multi_gpu_env
    from transformers import LlamaConfig, LlamaForCausalLM

    args = launch_command_parser().parse_args(["--config_file", str(ROOT / "configs/accelerate/fsdp.yaml"), "x.py"])
    args = _validate_launch_command(args)[0]
    assert (args.use_fsdp, args.num_processes, args.mixed_precision) == (True, 4, "bf16")  # the paper's 4 GPUs
    for key, value in prepare_multi_gpu_env(args).items():
        monkeypatch.setenv(key, value)
    plugin = FullyShardedDataParallelPlugin()
    plugin.set_mixed_precision("bf16")
    assert (plugin.fsdp_version, plugin.reshard_after_forward, plugin.cpu_ram_efficient_loading) == (2, True, True)
    assert plugin.state_dict_type.name == "FULL_STATE_DICT"  # final folders stay plain transformers models
    assert str(plugin.mixed_precision_policy.param_dtype) == "torch.bfloat16"
    model = LlamaForCausalLM(LlamaConfig(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                                         num_attention_heads=2, num_key_value_heads=2))
    plugin.set_auto_wrap_policy(model)
    policy = fsdp2_prepare_auto_wrap_policy(plugin, model)  # what accelerate shards by on GPUs
    wrapped = [type(m).__name__ for m in model.modules() if policy(m)]
    assert wrapped == ["LlamaDecoderLayer", "LlamaDecoderLayer"]


def test_the_scale_check_overrides_only_keys_the_configs_have():
    import scale

    ctx = SimpleNamespace(failures=[])
    paths = {"model.path": "m", "data.train": "d", "output_dir": "o", "save_steps": 1}
    for config in (IT, CPT):
        overrides = scale._overrides(config, {**paths, **scale.TRAIN_ON_CPU}, ctx)
        cfg = resolve_config(TrainConfig, config, overrides)
        cfg.validate()
        assert cfg.use_cpu and cfg.micro_batch == 1 and cfg.optim.lr == 7e-6
    assert ctx.failures == []
    scale._overrides(IT, {"optim.not_a_key": 1}, ctx)
    assert ctx.failures and "optim.not_a_key" in ctx.failures[0]
