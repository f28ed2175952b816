"""`spire train`: run a CPT, IT or RL stage from a YAML recipe, with `key.sub=value` overrides.

    spire train --config configs/train/mini_it.yaml optim.lr=1e-4 max_steps=20
    spire train --config configs/train/spire_rl.yaml model.path=runs/spire_full   # stage: rl (GRPO, spire.rl)

The YAML's `stage` (or a `stage=` override) picks the recipe: cpt and it are `TrainConfig`'s,
rl is `spire.rl.RLConfig`'s (its own settings: prompts, rewards, grpo).

Multi-GPU: `accelerate launch --config_file configs/accelerate/fsdp.yaml -m spire.cli train --config …`
or `torchrun --nproc_per_node 4 -m spire.cli train --config … distributed.fsdp=true`.
"""

from __future__ import annotations

import argparse

#: Settings whose defaults `spire train --help` shows (all of them: --print-config).
_SHOWN = ("stage", "epochs", "micro_batch", "grad_accum", "data.seq_len", "optim.name", "optim.lr",
          "optim.scheduler", "optim.warmup_steps", "loss.name", "bf16", "seed", "save_steps")


def _defaults() -> str:
    from spire.training.config import TrainConfig

    config, lines = TrainConfig(), []
    for key in _SHOWN:
        value: object = config
        for part in key.split("."):
            value = getattr(value, part)
        lines.append(f"  {key} (default: {value})")
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = ("Settings that the YAML and the overrides leave out take TrainConfig's defaults (the\n"
                     "paper's IT settings; --print-config shows every resolved value), among them:\n"
                     f"{_defaults()}\n"
                     "The loss and the optimizer are chosen by name: loss.name from spire.training.losses.LOSSES,\n"
                     "optim.name from spire.training.optimizers.OPTIMIZERS.\n"
                     "stage: rl (e.g. configs/train/spire_rl.yaml) runs GRPO with verifiable rewards after IT\n"
                     "(spire.rl.RLConfig, its own settings; --print-config shows them).")
    parser.add_argument("--config", required=True, help="YAML recipe, e.g. configs/train/spire_full_it.yaml")
    parser.add_argument(
        "overrides",
        nargs="*",
        metavar="KEY=VALUE",
        help="overrides of the YAML, e.g. optim.lr=1e-4 data.train=out/it_train (values read as YAML)",
    )
    parser.add_argument("--print-config", action="store_true", help="print the resolved config and exit")


STAGES = ("cpt", "it", "rl")


def _stage(config: str, overrides: list[str]) -> object:
    """The stage the YAML and the overrides select (the last `stage=` wins; None when unset)."""
    from spire.config import load_yaml, parse_overrides
    from spire.errors import ConfigError

    stage = parse_overrides(overrides).get("stage", load_yaml(config).get("stage"))
    if stage is not None and stage not in STAGES:
        raise ConfigError("stage", f"must be one of {list(STAGES)}, but is {stage!r}; fix: set stage in the YAML "
                          "or pass stage=it")
    return stage


def run(args: argparse.Namespace) -> int:
    from spire.config import config_to_dict, resolve_config

    if _stage(args.config, args.overrides) == "rl":
        return _run_rl(args)
    from spire.training.recipe import TrainConfig, train

    cfg = resolve_config(TrainConfig, args.config, args.overrides)
    if args.print_config:
        return _print(config_to_dict(cfg))
    result = train(cfg)
    print(
        f"trained {result.global_step} steps, {result.tokens_seen} tokens, "
        f"mean loss {result.train_loss:.4f}; model in {result.output_dir}"
    )
    return 0


def _run_rl(args: argparse.Namespace) -> int:
    from spire.config import config_to_dict, resolve_config
    from spire.rl.config import RLConfig

    cfg = resolve_config(RLConfig, args.config, args.overrides)
    if args.print_config:
        return _print(config_to_dict(cfg))
    from spire.rl.recipe import train_rl

    result = train_rl(cfg)
    rewards = [record["reward"] for record in result.log_history if "reward" in record]
    shown = f"mean reward {rewards[0]:.4f} -> {rewards[-1]:.4f}" if rewards else "no reward logged"
    print(f"trained {result.global_step} RL steps, {result.tokens_seen} tokens, {shown}; model in {result.output_dir}")
    return 0


def _print(resolved: dict) -> int:
    import yaml

    print(yaml.safe_dump(resolved, sort_keys=False), end="")
    return 0
