"""Continued pretraining (CPT) and instruction tuning (IT) on transformers' Trainer.

    spire train --config configs/train/mini_it.yaml optim.lr=1e-4

The recipe is a `TrainConfig` (defaults = the paper's IT settings) and `train(cfg)`, which loads
the model and the tokenized datasets (columns `input_ids`, `labels`, `position_ids`; rows are
packed or single examples), and hands them to a `transformers.Trainer`. Multi-GPU runs go
through `accelerate launch --config_file configs/accelerate/fsdp.yaml -m spire.cli train …` or
torchrun; nothing here depends on the number of processes.

Written into `output_dir`: `config.yaml` (the resolved config, also inside every checkpoint),
`train_log.jsonl` (one line per log step: loss, lr, tokens/s), the final model and tokenizer.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spire.errors import ConfigError, SpireError
from spire.training.config import TrainConfig

if TYPE_CHECKING:
    from transformers import TrainerCallback

__all__ = ["TrainConfig", "TrainResult", "train"]


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
    resume = _resume_path(cfg)
    output = trainer.train(resume_from_checkpoint=resume)
    trainer.save_model(cfg.output_dir)  # also saves the tokenizer (processing_class)
    _carry_extractor(Path(cfg.model.path), Path(cfg.output_dir))
    return TrainResult(
        output_dir=Path(cfg.output_dir),
        global_step=trainer.state.global_step,
        train_loss=float(output.training_loss),
        tokens_seen=int(trainer.state.num_input_tokens_seen),
        log_history=list(trainer.state.log_history),
    )


def _carry_extractor(model_dir: Path, output_dir: Path) -> None:
    """Copy the unit extractor that `spire extend` stored beside the model, so that every
    trained model folder transcribes raw audio on its own."""
    import shutil

    source = model_dir / "extractor"
    if (source / "extractor.json").exists() and source.resolve() != (output_dir / "extractor").resolve():
        shutil.copytree(source, output_dir / "extractor", dirs_exist_ok=True)


def _resume_path(cfg: TrainConfig) -> str | bool | None:
    if cfg.resume is None:
        return None
    if cfg.resume in ("latest", "auto"):
        from transformers.trainer_utils import get_last_checkpoint

        out = Path(cfg.output_dir)
        last = get_last_checkpoint(str(out)) if out.is_dir() else None
        if last is None and cfg.resume == "auto":
            return None
        if last is None:
            raise SpireError(f"resume=latest needs a checkpoint-* folder in {out}, but there is none; fix: drop resume")
        return last
    if not (Path(cfg.resume) / "trainer_state.json").is_file():
        raise ConfigError("resume", f"must be a checkpoint folder with trainer_state.json, but is {cfg.resume!r}")
    return cfg.resume
