"""The RL stage after instruction tuning: GRPO with verifiable rewards, on transformers + TRL.

    spire train --config configs/train/spire_rl.yaml model.path=runs/spire_full output_dir=runs/spire_rl

For each prompt (the IT prompts: ASR, speech translation, text translation) the model samples a
group of answers; each is scored against the prompt's reference with the toolkit's metrics
(`spire.rl.rewards`), and `trl.GRPOTrainer` raises the likelihood of the answers better than their
group's mean, with a KL penalty that keeps the model near the IT model. Multi-GPU: `accelerate
launch --config_file configs/accelerate/fsdp.yaml -m spire.cli train --config …`, as the other stages.

The output folder is a complete model folder like `spire train`'s: weights, tokenizer with
spire's chat template, files transformers 4.x reads, the unit extractor, `config.yaml`,
`train_log.jsonl` and complete-marked checkpoints (`resume: auto` uses only those).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from spire.rl.config import RLConfig
from spire.training.recipe import TrainResult

if TYPE_CHECKING:
    from transformers import TrainerCallback

__all__ = ["RLConfig", "train_rl"]


def train_rl(cfg: RLConfig, *, callbacks: list[TrainerCallback] | None = None) -> TrainResult:
    """Run the RL stage and save the final model to `cfg.output_dir`.

    >>> from spire.config import resolve_config
    >>> cfg = resolve_config(RLConfig, "configs/train/spire_rl.yaml")     # doctest: +SKIP
    >>> train_rl(cfg).global_step                                          # doctest: +SKIP
    500
    """
    from spire.rl.trainer import build_rl_trainer
    from spire.training.recipe import train_and_save

    cfg.validate()
    trainer = build_rl_trainer(cfg, callbacks=callbacks)
    return train_and_save(trainer, output_dir=cfg.output_dir, model_path=cfg.model.path, resume=cfg.resume)
