"""The training recipe's settings: one keyword-only dataclass per part, defaults = the paper's IT run.

    cfg = resolve_config(TrainConfig, "configs/train/spire_full_it.yaml", ["optim.lr=1e-5"])
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from spire.config import (
    AT_LEAST_1,
    FRACTION,
    NON_NEGATIVE,
    POSITIVE,
    SEED,
    CheckedConfig,
    Range,
    check_config,
)
from spire.errors import ConfigError

__all__ = ["DataConfig", "DistributedConfig", "LoraSettings", "LossConfig", "ModelConfig", "OptimConfig", "TrainConfig"]


@dataclass(kw_only=True)
class ModelConfig(CheckedConfig):
    """Which model to train and how to hold it in memory."""

    path: str = ""
    """Folder of a transformers causal LM (after `spire extend`)."""
    dtype: Literal["float32", "bfloat16", "float16"] = "float32"
    """Weights' dtype when loaded; keep float32 master weights and set `bf16: true` for mixed precision."""
    attn_implementation: Literal["sdpa", "eager", "flash_attention_2", "flex_attention"] = "sdpa"
    """Attention kernel; all of them honour packed rows (documents do not attend to each other)."""
    gradient_checkpointing: bool = False
    """Recompute activations in the backward pass: less memory, about 30% more compute."""
    train_only_new_embeddings: bool = False
    """Warm-up stage: freeze everything except the embedding rows added by `spire extend`."""
    first_new_id: Annotated[int, NON_NEGATIVE] | None = None
    """First new token id for `train_only_new_embeddings`; null = read it from the model's `config.spire`."""


@dataclass(kw_only=True)
class DataConfig(CheckedConfig):
    """Tokenized datasets saved with `datasets.save_to_disk` (built by `spire build-data`)."""

    train: str = ""
    """Folder of the training dataset."""
    eval: str | None = None
    """Folder of an evaluation dataset (optional)."""
    replay: str | None = None
    """Folder of an earlier stage's dataset (e.g. the CPT data in IT) whose rows are mixed into
    training, so that the stage does not erase what the earlier one taught (not in the paper). In
    the miniature it keeps IT from erasing what CPT taught (docs/miniature.md)."""
    replay_fraction: Annotated[float, NON_NEGATIVE] = 0.5
    """Rows drawn from `replay` (seeded, without repetition), as a multiple of the training rows."""

    seq_len: Annotated[int, AT_LEAST_1] = 4096
    """Longest row allowed; rows were packed to at most this many tokens."""
    num_workers: Annotated[int, NON_NEGATIVE] = 0
    """Dataloader worker processes."""


@dataclass(kw_only=True)
class LossConfig(CheckedConfig):
    """The training loss, by name."""

    name: str = "causal_lm"
    """A name in `spire.training.losses.LOSSES`. "causal_lm": the model's own next-token loss (the
    paper's). "labelled_positions": the same loss and gradients with the LM head applied only where
    a label exists (faster when most tokens carry none, e.g. CPT without unit loss); one process,
    no FSDP, plain causal LMs."""


@dataclass(kw_only=True)
class OptimConfig(CheckedConfig):
    """AdamW (or Muon for the hidden matrices) with a warm-up and a decaying schedule."""

    name: str = "adamw"
    """A name in `spire.training.optimizers.OPTIMIZERS`. "adamw": AdamW on every weight (the paper's). "muon": Muon on the decoder's 2-D weight
    matrices and AdamW on embeddings, head and norms (`spire.training.optimizers`); single process or DDP (not
    FSDP, which shards the matrices Muon orthogonalises)."""
    lr: Annotated[float, POSITIVE] = 7e-6
    """Peak learning rate (AdamW's part)."""
    muon_lr: Annotated[float, POSITIVE] = 0.01
    """Peak learning rate of Muon's part (name: muon); Muon's updates have a fixed spectral size,
    so its rate lives on another scale than AdamW's."""
    muon_momentum: Annotated[float, FRACTION] = 0.95
    """Muon's (Nesterov) momentum."""
    scheduler: Literal["cosine", "linear", "constant", "constant_with_warmup"] = "cosine"
    """Learning-rate schedule after warm-up."""
    warmup_steps: Annotated[int, NON_NEGATIVE] = 100
    """Optimizer steps of linear warm-up."""
    weight_decay: Annotated[float, NON_NEGATIVE] = 0.0
    """Decoupled weight decay."""
    adam_beta1: Annotated[float, FRACTION] = 0.9
    """AdamW beta1."""
    adam_beta2: Annotated[float, FRACTION] = 0.999
    """AdamW beta2."""
    max_grad_norm: Annotated[float, NON_NEGATIVE] = 1.0
    """Gradient clipping norm (0 = no clipping)."""


@dataclass(kw_only=True)
class LoraSettings(CheckedConfig):
    """Optional LoRA adapters through peft (`pip install spire-speech[lora]`)."""

    enabled: bool = False
    """Train LoRA adapters instead of all weights."""
    r: Annotated[int, AT_LEAST_1] = 16
    """Adapter rank."""
    alpha: Annotated[int, AT_LEAST_1] = 32
    """Adapter scaling numerator."""
    dropout: Annotated[float, FRACTION] = 0.05
    """Dropout on the adapter input."""
    target_modules: list[str] = field(default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"])
    """Module names that get adapters."""
    modules_to_save: list[str] = field(default_factory=lambda: ["embed_tokens", "lm_head"])
    """Modules trained in full next to the adapters (the new unit embeddings live there)."""


@dataclass(kw_only=True)
class DistributedConfig(CheckedConfig):
    """FSDP when launched with torchrun (an accelerate config file sets it up by itself)."""

    fsdp: bool = False
    """Shard parameters, gradients and optimizer state (FSDP2) across processes."""
    fsdp_config: dict[str, Any] = field(
        default_factory=lambda: {
            "transformer_layer_cls_to_wrap": ["LlamaDecoderLayer"],
            # Full state dicts keep checkpoints and the final model plain transformers folders.
            "state_dict_type": "FULL_STATE_DICT",
            "reshard_after_forward": True,
        }
    )
    """Passed to `TrainingArguments.fsdp_config`."""
    backend: Literal["nccl", "gloo"] | None = None
    """Process-group backend; null = nccl on GPU, gloo on CPU."""


@dataclass(kw_only=True)
class TrainConfig(CheckedConfig):
    """One training stage. Defaults are the paper's IT settings.

    >>> from spire.config import resolve_config
    >>> cfg = resolve_config(TrainConfig, None, ["stage=cpt", "data.seq_len=2048"])
    >>> (cfg.stage, cfg.data.seq_len, cfg.optim.lr)
    ('cpt', 2048, 7e-06)
    """

    stage: Literal["cpt", "it"] = "it"
    """Continued pretraining or instruction tuning (recorded with the run)."""
    output_dir: str = ""
    """Where checkpoints, logs, the resolved config and the final model go."""
    model: ModelConfig = field(default_factory=ModelConfig)
    """Which model and how it is held."""
    data: DataConfig = field(default_factory=DataConfig)
    """Tokenized datasets."""
    optim: OptimConfig = field(default_factory=OptimConfig)
    """Optimizer and schedule."""
    loss: LossConfig = field(default_factory=LossConfig)
    """The training loss."""
    lora: LoraSettings = field(default_factory=LoraSettings)
    """Optional LoRA adapters."""
    distributed: DistributedConfig = field(default_factory=DistributedConfig)
    """FSDP and process-group settings."""
    micro_batch: Annotated[int, AT_LEAST_1] = 12
    """Rows per device per forward pass."""
    grad_accum: Annotated[int, AT_LEAST_1] = 12
    """Micro-batches per optimizer step."""
    epochs: Annotated[float, POSITIVE] = 4.0
    """Passes over the training data (ignored when max_steps > 0)."""
    max_steps: Annotated[int, Range(ge=1, also=(-1,))] = -1
    """Optimizer steps to run; -1 = use epochs."""
    bf16: bool = True
    """bfloat16 mixed precision."""
    use_cpu: bool = False
    """Train on CPU even when a GPU is present (tests, the miniature)."""
    seed: Annotated[int, SEED] = 42
    """Seed for initialisation and data order."""
    logging_steps: Annotated[int, AT_LEAST_1] = 10
    """Log loss, lr and tokens/s every this many optimizer steps."""
    save_steps: Annotated[int, NON_NEGATIVE] = 500
    """Checkpoint every this many optimizer steps (0 = only at the end)."""
    save_total_limit: Annotated[int, AT_LEAST_1] | None = 3
    """Keep at most this many complete checkpoints (null = all)."""
    eval_steps: Annotated[int, AT_LEAST_1] | None = None
    """Evaluate every this many steps when data.eval is set; null = at each save."""
    resume: str | None = None
    """Checkpoint folder to resume from; "latest" = the newest in output_dir; "auto" = latest if any (pre-emptible jobs)."""
    report_to: list[str] = field(default_factory=list)
    """Experiment trackers (e.g. ["tensorboard"]); empty = none."""

    def validate(self) -> None:
        """Check what the types and ranges cannot: required paths and settings that depend on each other."""
        check_config(self)  # again: a field may have been changed since construction
        for key, value in (("model.path", self.model.path), ("data.train", self.data.train), ("output_dir", self.output_dir)):
            if not value:
                raise ConfigError(key, "must be set, but is empty; fix: add it to the YAML or pass key=value")
        from spire.training.losses import LOSSES
        from spire.training.optimizers import OPTIMIZERS

        for key, name, known in (("loss.name", self.loss.name, LOSSES), ("optim.name", self.optim.name, OPTIMIZERS)):
            if name not in known:
                raise ConfigError(key, f"must be one of {sorted(known)}, but is {name!r}")
        if self.data.replay is not None and self.data.replay_fraction <= 0:
            raise ConfigError("data.replay_fraction", f"must be positive with data.replay, but is {self.data.replay_fraction}")
        if self.optim.name == "muon" and self.distributed.fsdp:
            raise ConfigError("optim.name", "muon needs whole weight matrices, but distributed.fsdp shards them; "
                              "fix: set optim.name=adamw, or train with DDP (distributed.fsdp=false)")
        if self.model.train_only_new_embeddings:
            if self.optim.weight_decay != 0:
                raise ConfigError(
                    "optim.weight_decay",
                    f"must be 0 with model.train_only_new_embeddings (decay would move frozen rows), "
                    f"but is {self.optim.weight_decay}; fix: set optim.weight_decay=0",
                )
            if self.lora.enabled:
                raise ConfigError("lora.enabled", "must be false with model.train_only_new_embeddings, but is true")
