"""The RL stage's settings (`stage: rl`): GRPO with verifiable rewards after instruction tuning.

    cfg = resolve_config(RLConfig, "configs/train/spire_rl.yaml", ["grpo.beta=0.02"])

Defaults follow the Tower+ recipe in spirit (a small learning rate, a KL penalty against the
IT model, 8 sampled answers per prompt, one reward per task computed with the toolkit's own
metrics); the prompts are the IT prompts of `spire.data.instructions`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Annotated, Literal

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
from spire.data.sources import ParallelSource, SpeechSource
from spire.errors import ConfigError
from spire.training.config import DistributedConfig

__all__ = ["GrpoSettings", "PolicyConfig", "PromptConfig", "RLConfig", "RLOptimConfig", "RewardConfig"]


@dataclass(kw_only=True)
class PolicyConfig(CheckedConfig):
    """The model to improve (an IT model folder) and how it is held; the reference model of the
    KL penalty is a second, frozen copy of the same folder."""

    path: str = ""
    """Folder of the instruction-tuned model (the output of `spire train` with stage it)."""
    dtype: Literal["float32", "bfloat16", "float16"] = "float32"
    """Weights' dtype when loaded; keep float32 master weights and set `bf16: true` for mixed precision."""
    attn_implementation: Literal["sdpa", "eager", "flash_attention_2", "flex_attention"] = "sdpa"
    """Attention kernel."""
    gradient_checkpointing: bool = False
    """Recompute activations in the backward pass: less memory, about 30% more compute."""


@dataclass(kw_only=True)
class PromptConfig(CheckedConfig):
    """Where the prompts come from: the IT data sources, turned into the IT prompts (without answers);
    each prompt keeps its answer as the reference its rewards are computed against."""

    speech: list[SpeechSource] = field(default_factory=list)
    """Unit manifests with transcripts and a field per target language (as `spire build-data it`)."""
    tasks: list[Literal["asr", "st"]] = field(default_factory=lambda: ["asr", "st"])
    """Speech tasks made from every speech row."""
    st_languages: list[str] = field(default_factory=list)
    """Target language codes of speech translation (the row field of that name holds the reference)."""
    translation_fields: dict[str, str] = field(default_factory=dict)
    """Language code -> row field holding that translation."""
    parallel: list[ParallelSource] = field(default_factory=list)
    """Parallel text for the text-translation prompts."""
    max_prompts: Annotated[int, AT_LEAST_1] | None = None
    """Prompts drawn (seeded, without repetition) from all of them; null = all."""


@dataclass(kw_only=True)
class RewardConfig(CheckedConfig):
    """The metric each task is rewarded with, per sampled answer against its prompt's reference.
    Higher is better: a perfect transcript scores 0 and every error lowers it; a translation
    scores its chrF (or BLEU) / 100, from 0 to 1."""

    asr: Literal["wer", "cer"] = "wer"
    """ASR: minus the word (or character) error rate after Whisper's English normaliser; insertions
    count, so a hallucinated continuation is punished in proportion to its length."""
    st: Literal["chrf", "bleu"] = "chrf"
    """Speech translation: sentence chrF (or BLEU, noisier on one sentence) / 100."""
    mt: Literal["chrf", "bleu"] = "chrf"
    """Text translation: sentence chrF (or BLEU) / 100."""


@dataclass(kw_only=True)
class GrpoSettings(CheckedConfig):
    """Group Relative Policy Optimization (`trl.GRPOTrainer`): sample a group of answers per prompt,
    reward each, and push up those better than their group's mean."""

    num_generations: Annotated[int, Range(ge=2)] = 8
    """Answers sampled per prompt (the group); `micro_batch x grad_accum x processes` must be a multiple."""
    max_completion_length: Annotated[int, AT_LEAST_1] = 256
    """Longest sampled answer, in tokens."""
    temperature: Annotated[float, POSITIVE] = 1.0
    """Sampling temperature."""
    top_p: Annotated[float, Range(gt=0, le=1)] = 1.0
    """Nucleus sampling mass (1 = off)."""
    beta: Annotated[float, NON_NEGATIVE] = 0.04
    """Weight of the KL penalty against the starting (IT) model; 0 loads no reference model."""
    epsilon: Annotated[float, Range(gt=0, lt=1)] = 0.2
    """Clipping range of the policy ratio."""
    num_iterations: Annotated[int, AT_LEAST_1] = 1
    """Optimisation passes over each generated batch."""
    loss_type: Literal["grpo", "dapo", "dr_grpo", "bnpo"] = "dapo"
    """How token losses are averaged (TRL's names; dapo: over all tokens of the batch)."""
    scale_rewards: Literal["group", "batch", "none"] = "group"
    """Divide advantages by the reward spread of the group, the batch, or not at all."""
    mask_truncated_completions: bool = False
    """Leave answers cut at max_completion_length out of the loss."""
    log_completions: bool = False
    """Print a table of sampled answers and rewards at each log step."""


@dataclass(kw_only=True)
class RLOptimConfig(CheckedConfig):
    """AdamW with a small learning rate: RL after IT refines, it must not undo IT."""

    lr: Annotated[float, POSITIVE] = 1e-6
    """Peak learning rate."""
    scheduler: Literal["cosine", "linear", "constant", "constant_with_warmup"] = "constant_with_warmup"
    """Learning-rate schedule after warm-up."""
    warmup_steps: Annotated[int, NON_NEGATIVE] = 10
    """Optimizer steps of linear warm-up."""
    weight_decay: Annotated[float, NON_NEGATIVE] = 0.0
    """Decoupled weight decay."""
    adam_beta1: Annotated[float, FRACTION] = 0.9
    """AdamW beta1."""
    adam_beta2: Annotated[float, FRACTION] = 0.99
    """AdamW beta2."""
    max_grad_norm: Annotated[float, NON_NEGATIVE] = 1.0
    """Gradient clipping norm (0 = no clipping)."""


@dataclass(kw_only=True)
class RLConfig(CheckedConfig):
    """The RL stage after IT (`spire train` with `stage: rl`).

    >>> from spire.config import resolve_config
    >>> cfg = resolve_config(RLConfig, None, ["grpo.num_generations=4", "micro_batch=4"])
    >>> (cfg.stage, cfg.grpo.num_generations, cfg.optim.lr)
    ('rl', 4, 1e-06)
    """

    stage: Literal["rl"] = "rl"
    """Selects this recipe in `spire train` (cpt and it are `TrainConfig`'s)."""
    output_dir: str = ""
    """Where checkpoints, logs, the resolved config and the final model go."""
    model: PolicyConfig = field(default_factory=PolicyConfig)
    """The IT model to improve."""
    data: PromptConfig = field(default_factory=PromptConfig)
    """The prompts and their references."""
    rewards: RewardConfig = field(default_factory=RewardConfig)
    """The metric of each task."""
    grpo: GrpoSettings = field(default_factory=GrpoSettings)
    """Sampling and the GRPO loss."""
    optim: RLOptimConfig = field(default_factory=RLOptimConfig)
    """Optimizer and schedule."""
    distributed: DistributedConfig = field(default_factory=DistributedConfig)
    """FSDP and process-group settings (as in the CPT and IT stages)."""
    micro_batch: Annotated[int, AT_LEAST_1] = 8
    """Sampled answers per device per forward pass."""
    grad_accum: Annotated[int, AT_LEAST_1] = 8
    """Micro-batches per optimizer step; one generation round fills all of them."""
    epochs: Annotated[float, POSITIVE] = 1.0
    """Passes over the prompts (ignored when max_steps > 0)."""
    max_steps: Annotated[int, Range(ge=1, also=(-1,))] = -1
    """Optimizer steps to run; -1 = use epochs."""
    bf16: bool = True
    """bfloat16 mixed precision."""
    use_cpu: bool = False
    """Train on CPU even when a GPU is present (tests, the miniature)."""
    seed: Annotated[int, SEED] = 42
    """Seed of the prompt draw, the sampling and the data order."""
    logging_steps: Annotated[int, AT_LEAST_1] = 10
    """Log loss, rewards per task and KL every this many optimizer steps."""
    save_steps: Annotated[int, NON_NEGATIVE] = 200
    """Checkpoint every this many optimizer steps (0 = only at the end)."""
    save_total_limit: Annotated[int, AT_LEAST_1] | None = 3
    """Keep at most this many complete checkpoints (null = all)."""
    resume: str | None = None
    """Checkpoint folder to resume from; "latest" = the newest in output_dir; "auto" = latest if any."""
    report_to: list[str] = field(default_factory=list)
    """Experiment trackers (e.g. ["tensorboard"]); empty = none."""

    def validate(self) -> None:
        """Check what the types and ranges cannot: required paths, prompt sources, batch shape."""
        from spire.errors import LanguageError
        from spire.prompts import resolve_language

        check_config(self)
        for key, value in (("model.path", self.model.path), ("output_dir", self.output_dir)):
            if not value:
                raise ConfigError(key, "must be set, but is empty; fix: add it to the YAML or pass key=value")
        if not self.data.speech and not self.data.parallel:
            raise ConfigError("data.speech", "data.speech or data.parallel must list a source, but neither does")
        if self.data.speech and not self.data.tasks:
            raise ConfigError("data.tasks", "must name asr and/or st when data.speech is set, but is empty")
        if "st" in self.data.tasks and self.data.speech and not self.data.st_languages:
            raise ConfigError("data.st_languages", "must list target languages for the st task, but is empty; "
                              "fix: e.g. data.st_languages=[de,fr], or data.tasks=[asr]")
        for index, code in enumerate(self.data.st_languages):
            try:
                resolve_language(code)
            except LanguageError as error:
                raise ConfigError(f"data.st_languages[{index}]", str(error)) from error
        processes = int(os.environ.get("WORLD_SIZE", "1"))
        batch = self.micro_batch * self.grad_accum * processes
        if batch % self.grpo.num_generations:
            raise ConfigError(
                "micro_batch",
                f"x grad_accum x processes ({self.micro_batch} x {self.grad_accum} x {processes} = {batch}) must be "
                f"a multiple of grpo.num_generations ({self.grpo.num_generations}), so that every prompt's group of "
                "answers is sampled in one step; fix: change micro_batch, grad_accum or grpo.num_generations",
            )

