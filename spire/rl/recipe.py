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

from pathlib import Path
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
    from spire.vocab.pairing import copy_extractor
    from spire.vocab.saving import set_chat_template, write_compatible_files

    cfg.validate()
    trainer = build_rl_trainer(cfg, callbacks=callbacks)
    output = trainer.train(resume_from_checkpoint=_resume_path(cfg))
    set_chat_template(trainer.processing_class)
    trainer.save_model(cfg.output_dir)  # also saves the tokenizer (processing_class)
    if trainer.is_world_process_zero():
        write_compatible_files(cfg.output_dir, source_dir=cfg.model.path)
        extractor = Path(cfg.model.path) / "extractor"
        if (extractor / "extractor.json").exists():
            copy_extractor(extractor, cfg.output_dir)  # so the folder transcribes raw audio on its own
    return TrainResult(
        output_dir=Path(cfg.output_dir),
        global_step=trainer.state.global_step,
        train_loss=float(output.training_loss),
        tokens_seen=int(trainer.state.num_input_tokens_seen),
        log_history=list(trainer.state.log_history),
    )


def _resume_path(cfg: RLConfig) -> str | None:
    """The checkpoint to resume from: only a complete one (`spire.training.checkpoints`)."""
    import os

    from spire.training.checkpoints import explicit_checkpoint, resume_checkpoint

    if cfg.resume is None:
        return None
    if cfg.resume in ("latest", "auto"):
        return resume_checkpoint(cfg.output_dir, cfg.resume, move_partials=int(os.environ.get("RANK", "0")) == 0)
    return explicit_checkpoint(cfg.resume)
