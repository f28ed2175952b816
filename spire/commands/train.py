"""`spire train`: run a CPT or IT stage from a YAML recipe, with `key.sub=value` overrides.

    spire train --config configs/train/mini_it.yaml optim.lr=1e-4 max_steps=20

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
                     "optim.name from spire.training.optimizers.OPTIMIZERS.")
    parser.add_argument("--config", required=True, help="YAML recipe, e.g. configs/train/spire_full_it.yaml")
    parser.add_argument(
        "overrides",
        nargs="*",
        metavar="KEY=VALUE",
        help="overrides of the YAML, e.g. optim.lr=1e-4 data.train=out/it_train (values read as YAML)",
    )
    parser.add_argument("--print-config", action="store_true", help="print the resolved config and exit")


def run(args: argparse.Namespace) -> int:
    from spire.config import config_to_dict, resolve_config
    from spire.training.recipe import TrainConfig

    cfg = resolve_config(TrainConfig, args.config, args.overrides)
    if args.print_config:
        import yaml

        print(yaml.safe_dump(config_to_dict(cfg), sort_keys=False), end="")
        return 0
    from spire.training.recipe import train

    result = train(cfg)
    print(
        f"trained {result.global_step} steps, {result.tokens_seen} tokens, "
        f"mean loss {result.train_loss:.4f}; model in {result.output_dir}"
    )
    return 0
