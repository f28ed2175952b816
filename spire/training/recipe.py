"""Continued pretraining (CPT) and instruction tuning (IT) on transformers' Trainer.

    spire train --config configs/train/mini_it.yaml optim.lr=1e-4

The recipe is a `TrainConfig` (defaults = the paper's IT settings) and `train(cfg)`, which loads
the model and the tokenized datasets (columns `input_ids`, `labels`, `position_ids`; rows are
packed or single examples), and hands them to a `transformers.Trainer`. Multi-GPU runs go
through `accelerate launch --config_file configs/accelerate/fsdp.yaml -m spire.cli train …` or
torchrun; nothing here depends on the number of processes.

Written into `output_dir`: `config.yaml` (the resolved config, also inside every checkpoint),
`train_log.jsonl` (one line per log step: loss, lr, tokens/s), the final model and tokenizer,
and `checkpoint-N/` folders, each marked complete by `spire-complete.json` once fully written;
`resume: latest/auto` uses only those, and moves the others to `partial/` with a warning
(`spire.training.checkpoints`). A nan/inf loss or weight stops the run with `NonFiniteError`
before it is saved (`spire.training.guards`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spire.training.config import TrainConfig

if TYPE_CHECKING:
    from transformers import TrainerCallback

__all__ = ["TrainConfig", "TrainResult", "train", "train_and_save"]


@dataclass(frozen=True)
class TrainResult:
    """What a finished `train()` run reports.

    >>> result = train(cfg)                                     # doctest: +SKIP
    >>> result.global_step, result.tokens_seen                  # doctest: +SKIP
    (40, 81920)
    """

    output_dir: Path
    global_step: int
    train_loss: float
    tokens_seen: int
    log_history: list[dict[str, Any]]


def train(cfg: TrainConfig, *, callbacks: list[TrainerCallback] | None = None) -> TrainResult:
    """Run one stage and save the final model to `cfg.output_dir`.

    >>> from spire.config import resolve_config
    >>> cfg = resolve_config(TrainConfig, "configs/train/mini_it.yaml")  # doctest: +SKIP
    >>> train(cfg).global_step  # doctest: +SKIP
    40
    """
    from spire.training.trainer import build_trainer

    cfg.validate()
    trainer = build_trainer(cfg, callbacks=callbacks)
    return train_and_save(trainer, output_dir=cfg.output_dir, model_path=cfg.model.path, resume=cfg.resume)


def train_and_save(trainer: Any, *, output_dir: str, model_path: str, resume: str | None) -> TrainResult:
    """Run `trainer` (a transformers Trainer, TRL's included), resuming as `resume` says, and save
    a complete model folder in `output_dir`: weights, tokenizer with spire's chat template, the
    files transformers 4.x reads, and the unit extractor stored beside `model_path`. Every stage
    (CPT, IT, `spire.rl`) ends here, so their folders are alike."""
    from spire.vocab.saving import set_chat_template, write_compatible_files

    output = trainer.train(resume_from_checkpoint=_resume_path(resume, output_dir))
    if trainer.processing_class is not None:
        set_chat_template(trainer.processing_class)  # IT data is spire's ChatML
    trainer.save_model(output_dir)  # also saves the tokenizer (processing_class)
    if trainer.is_world_process_zero():
        write_compatible_files(output_dir, source_dir=model_path)  # transformers 4.x too
    _carry_extractor(Path(model_path), Path(output_dir))
    return TrainResult(
        output_dir=Path(output_dir),
        global_step=trainer.state.global_step,
        train_loss=float(output.training_loss),
        tokens_seen=int(trainer.state.num_input_tokens_seen),
        log_history=list(trainer.state.log_history),
    )


def _carry_extractor(model_dir: Path, output_dir: Path) -> None:
    """Copy the unit extractor that `spire extend` stored beside the model, so that every
    trained model folder transcribes raw audio on its own."""
    from spire.vocab.pairing import copy_extractor

    source = model_dir / "extractor"
    if (source / "extractor.json").exists():
        copy_extractor(source, output_dir)


def _resume_path(resume: str | None, output_dir: str) -> str | None:
    """The checkpoint to resume from: only one whose completion marker matches its files
    (`spire.training.checkpoints`); incomplete ones are moved aside by rank 0, with a warning."""
    import os

    from spire.training.checkpoints import explicit_checkpoint, resume_checkpoint

    if resume is None:
        return None
    if resume in ("latest", "auto"):
        rank_zero = int(os.environ.get("RANK", "0")) == 0
        return resume_checkpoint(output_dir, resume, move_partials=rank_zero)
    return explicit_checkpoint(resume)
