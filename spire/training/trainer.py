"""The pieces `spire.training.recipe.train` assembles: model loading, TrainingArguments, Trainer, callbacks.

    trainer = build_trainer(cfg)          # a transformers.Trainer, ready for .train()

`SpireTrainer` is a `transformers.Trainer` that counts real (non-padding) tokens from the
collator; `ThroughputCallback` turns them into tokens/s in every log line and appends the
log to `train_log.jsonl`; `ConfigSaveCallback` writes the resolved config into every checkpoint.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from transformers import Trainer, TrainerCallback

from spire.config import save_config
from spire.data.collate import PackedCollator
from spire.errors import ConfigError

if TYPE_CHECKING:
    from transformers import PreTrainedModel, TrainingArguments

    from spire.training.config import TrainConfig

__all__ = [
    "ConfigSaveCallback",
    "SpireTrainer",
    "ThroughputCallback",
    "build_trainer",
    "build_training_arguments",
    "load_model",
]

LOG_FILE = "train_log.jsonl"
CONFIG_FILE = "config.yaml"


class SpireTrainer(Trainer):
    """A `Trainer` that adds the collator's `num_tokens` (non-padding tokens) to `state.num_input_tokens_seen`,
    and trains with the loss and optimizer it is given (`spire.training.losses`, `.optimizers`).

    >>> trainer = SpireTrainer(model=model, args=args, data_collator=PackedCollator(pad_token_id=0, count_tokens=True),
    ...                        train_dataset=dataset)                             # doctest: +SKIP
    """

    def __init__(self, *args: Any, loss_fn: Callable[..., Any] | None = None,
                 optimizer_builder: Callable[[Any, Any], Any] | None = None, **kwargs: Any) -> None:
        """`loss_fn(model, inputs, num_items_in_batch)` replaces the model's own loss (None: keep it);
        `optimizer_builder(model, args)` replaces the Trainer's AdamW (None: keep it)."""
        super().__init__(*args, **kwargs)
        self.loss_fn = loss_fn
        self.optimizer_builder = optimizer_builder

    def create_optimizer(self, model=None):
        if self.optimizer_builder is None or self.optimizer is not None:
            return super().create_optimizer(model)
        self.optimizer = self.optimizer_builder(self.model, self.args)
        return self.optimizer

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        if self.loss_fn is None or return_outputs or "labels" not in inputs:
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        return self.loss_fn(self.accelerator.unwrap_model(model), inputs, num_items_in_batch)

    def training_step(self, model, inputs, num_items_in_batch=None):
        num_tokens = inputs.pop("num_tokens", None)
        if num_tokens is not None:
            if self.accelerator.num_processes > 1:
                num_tokens = self.accelerator.gather(num_tokens.to(self.args.device).reshape(1)).sum()
            # Single process: the count is still a CPU tensor, so this does not wait for the GPU.
            self.state.num_input_tokens_seen += int(num_tokens.item())
        return super().training_step(model, inputs, num_items_in_batch)

    def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None):
        inputs.pop("num_tokens", None)
        return super().prediction_step(model, inputs, prediction_loss_only, ignore_keys=ignore_keys)


class ThroughputCallback(TrainerCallback):
    """Add `tokens_seen` and `tokens_per_s` (non-padding, all processes) to each log; append it to a JSONL.

    On resume, lines after the checkpoint's step are dropped so the file stays one curve.
    """

    def __init__(self, log_path: str | Path | None) -> None:
        self.log_path = Path(log_path) if log_path is not None else None
        self._mark: tuple[float, int] | None = None

    def on_train_begin(self, args, state, control, **kwargs):
        self._mark = (time.perf_counter(), state.num_input_tokens_seen)
        if self.log_path is not None and state.is_world_process_zero and self.log_path.is_file():
            kept = [
                line
                for line in self.log_path.read_text(encoding="utf-8").splitlines()
                if _step_of(line) is not None and _step_of(line) <= state.global_step
            ]
            self.log_path.write_text("".join(line + "\n" for line in kept), encoding="utf-8")

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs is None:
            return
        now = time.perf_counter()
        tokens = state.num_input_tokens_seen
        extra: dict[str, Any] = {"tokens_seen": tokens}
        if self._mark is not None and "loss" in logs:
            seconds = now - self._mark[0]
            if seconds > 0:
                extra["tokens_per_s"] = round((tokens - self._mark[1]) / seconds, 1)
            self._mark = (now, tokens)
        logs.update(extra)
        if state.log_history:
            state.log_history[-1].update(extra)
        if self.log_path is not None and state.is_world_process_zero:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            record = {"step": state.global_step, "epoch": state.epoch, **logs}
            with self.log_path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(record) + "\n")


def _step_of(line: str) -> int | None:
    # A crash can leave a half-written last line; it is dropped with the rest of the tail.
    try:
        return int(json.loads(line).get("step", 0))
    except (ValueError, AttributeError):
        return None


class ConfigSaveCallback(TrainerCallback):
    """Write the resolved config to `output_dir/config.yaml` and into each `checkpoint-N/`."""

    def __init__(self, cfg: Any) -> None:
        self.cfg = cfg

    def on_save(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            if folder.is_dir():
                save_config(self.cfg, folder / CONFIG_FILE)


def load_model(cfg: TrainConfig) -> tuple[PreTrainedModel, Any]:
    """Load the causal LM (and its tokenizer, when the folder has one), frozen/adapted per the config."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = Path(cfg.model.path)
    if not (path / "config.json").is_file():
        raise ConfigError("model.path", f"must be a transformers model folder with config.json, but is {path}")
    model = AutoModelForCausalLM.from_pretrained(
        str(path), dtype=getattr(torch, cfg.model.dtype), attn_implementation=cfg.model.attn_implementation
    )
    has_tokenizer = any((path / name).is_file() for name in ("tokenizer.json", "tokenizer.model", "tokenizer_config.json"))
    tokenizer = AutoTokenizer.from_pretrained(str(path)) if has_tokenizer else None
    if cfg.model.train_only_new_embeddings:
        _freeze_old_weights(model, cfg.model.first_new_id)
    if cfg.lora.enabled:
        model = _add_lora(model, cfg)
    return model, tokenizer


def _freeze_old_weights(model: PreTrainedModel, first_new_id: int | None) -> None:
    if first_new_id is None:
        from spire.errors import VocabularyError
        from spire.vocab.metadata import UnitVocab

        try:
            first_new_id = UnitVocab.from_config(model.config).first_new_id
        except VocabularyError as error:
            raise ConfigError(
                "model.first_new_id",
                f"must be set for train_only_new_embeddings when the model records no unit vocabulary ({error}); "
                "fix: extend the model with `spire extend` or set model.first_new_id",
            ) from error
    from spire.vocab.embeddings import freeze_all_but_new_embeddings

    freeze_all_but_new_embeddings(model, first_new_id)


def _add_lora(model: PreTrainedModel, cfg: TrainConfig) -> PreTrainedModel:
    try:
        from peft import LoraConfig, get_peft_model
    except ImportError as error:
        raise ConfigError("lora.enabled", "needs peft, which is not installed; fix: pip install 'spire-speech[lora]'") from error
    settings = cfg.lora
    lora = LoraConfig(
        r=settings.r,
        lora_alpha=settings.alpha,
        lora_dropout=settings.dropout,
        target_modules=list(settings.target_modules),
        modules_to_save=list(settings.modules_to_save) or None,
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, lora)


def common_arguments(cfg: Any) -> dict[str, Any]:
    """The `TrainingArguments` settings every stage maps the same way from its config (CPT, IT
    and `spire.rl`'s RLConfig share these fields): batch, schedule, AdamW, precision, logging,
    checkpoints (rotated by CompleteCheckpointCallback, never by the Trainer), FSDP."""
    fsdp_config = dict(cfg.distributed.fsdp_config) if cfg.distributed.fsdp else None
    checkpointing = cfg.model.gradient_checkpointing
    if fsdp_config is not None and checkpointing:
        # FSDP's own activation checkpointing avoids a second all-gather in the backward pass.
        fsdp_config.setdefault("activation_checkpointing", True)
        checkpointing = False
    return dict(
        output_dir=cfg.output_dir,
        per_device_train_batch_size=cfg.micro_batch,
        gradient_accumulation_steps=cfg.grad_accum,
        num_train_epochs=cfg.epochs,
        max_steps=cfg.max_steps,
        learning_rate=cfg.optim.lr,
        lr_scheduler_type=cfg.optim.scheduler,
        warmup_steps=cfg.optim.warmup_steps,
        weight_decay=cfg.optim.weight_decay,
        adam_beta1=cfg.optim.adam_beta1,
        adam_beta2=cfg.optim.adam_beta2,
        max_grad_norm=cfg.optim.max_grad_norm,
        bf16=cfg.bf16,
        use_cpu=cfg.use_cpu,
        seed=cfg.seed,
        logging_steps=cfg.logging_steps,
        save_strategy="steps" if cfg.save_steps > 0 else "no",
        save_steps=max(cfg.save_steps, 1),
        # Rotated by CompleteCheckpointCallback once the new checkpoint is marked complete, never before.
        save_total_limit=None,
        logging_nan_inf_filter=False,  # a nan step must reach FiniteGuard, not be averaged away
        activation_checkpointing=checkpointing,
        report_to=list(cfg.report_to) or "none",
        fsdp=True if cfg.distributed.fsdp else None,
        fsdp_config=fsdp_config,
        ddp_backend=cfg.distributed.backend,
    )


def build_training_arguments(cfg: TrainConfig) -> TrainingArguments:
    """Map the config onto `transformers.TrainingArguments` (checked against transformers 5)."""
    from transformers import TrainingArguments

    has_eval = cfg.data.eval is not None
    return TrainingArguments(
        **common_arguments(cfg),
        per_device_eval_batch_size=cfg.micro_batch,
        eval_strategy="steps" if has_eval else "no",
        eval_steps=(cfg.eval_steps or cfg.save_steps or cfg.logging_steps) if has_eval else None,
        dataloader_num_workers=cfg.data.num_workers,
        # We count non-padding tokens ourselves (SpireTrainer); the collator emits no attention mask.
        include_num_input_tokens_seen="no",
        ddp_find_unused_parameters=False,
    )


def build_trainer(cfg: TrainConfig, *, callbacks: list[TrainerCallback] | None = None) -> SpireTrainer:
    """Load model and data from `cfg` and return a ready `SpireTrainer` (the config is saved first).

    >>> trainer = build_trainer(resolve_config(TrainConfig, "configs/train/mini_it.yaml"))  # doctest: +SKIP
    >>> trainer.train()                                                                       # doctest: +SKIP
    """
    from spire.training.checkpoints import CompleteCheckpointCallback
    from spire.training.datasets import load_datasets
    from spire.training.guards import FiniteGuard
    from spire.training.losses import get_loss
    from spire.training.optimizers import get_optimizer

    args = build_training_arguments(cfg)  # first: it sets up the process group under torchrun
    model, tokenizer = load_model(cfg)
    train_ds, eval_ds = load_datasets(cfg)
    pad_id = _pad_token_id(model, tokenizer)
    collator = PackedCollator(pad_token_id=pad_id, max_length=cfg.data.seq_len, count_tokens=True)
    throughput = ThroughputCallback(Path(cfg.output_dir) / LOG_FILE)
    loss = get_loss(cfg.loss.name)
    refusal = loss.refusal(model, cfg.distributed.fsdp or args.world_size > 1)
    if refusal:
        raise ConfigError("loss.name", f"{cfg.loss.name!r} {refusal}; fix: set loss.name=causal_lm")
    builder = get_optimizer(cfg.optim.name)
    trainer = SpireTrainer(
        loss_fn=loss.compute,
        optimizer_builder=None if builder is None else partial(builder, optim=cfg.optim),
        model=model,
        args=args,
        data_collator=collator,
        train_dataset=train_ds,
        eval_dataset=eval_ds,
        processing_class=tokenizer,
        # The marker comes after every callback that adds files to a checkpoint.
        callbacks=[ConfigSaveCallback(cfg), CompleteCheckpointCallback(cfg.save_total_limit), FiniteGuard(),
                   *(callbacks or [])],
    )
    # Ahead of the progress printer, so printed logs already carry tokens/s.
    trainer.callback_handler.callbacks.insert(0, throughput)
    if trainer.is_world_process_zero():
        save_config(cfg, Path(cfg.output_dir) / CONFIG_FILE)
    return trainer


def _pad_token_id(model: PreTrainedModel, tokenizer: Any) -> int:
    for candidate in (
        getattr(tokenizer, "pad_token_id", None),
        getattr(model.config, "pad_token_id", None),
        getattr(tokenizer, "eos_token_id", None),
        getattr(model.config, "eos_token_id", None),
    ):
        if isinstance(candidate, list):
            candidate = candidate[0] if candidate else None
        if candidate is not None:
            return int(candidate)
    # Padded positions carry label -100 and sit in their own masked segment, so any id works.
    return 0
