"""`trl.GRPOTrainer` built from an `RLConfig`, with the callbacks of spire's other stages.

    trainer = build_rl_trainer(cfg)          # a trl.GRPOTrainer, ready for .train()

The policy and its tokenizer (with its chat template) come from `model.path`; TRL loads the
frozen reference model of the KL penalty from the same folder. Every sampled answer ends at the
model's end-of-turn token (`<|im_end|>`), as at inference. The stage writes what `spire train`
writes: `config.yaml`, `train_log.jsonl` (with the mean reward per task), checkpoints marked
complete; a nan/inf loss, gradient norm, reward or weight stops the run (`NonFiniteError`)
before anything of it is saved.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from transformers import TrainerCallback

from spire.config import save_config
from spire.errors import ConfigError
from spire.rl.config import RLConfig
from spire.training.guards import FiniteGuard, NonFiniteError

if TYPE_CHECKING:
    from transformers import PreTrainedModel
    from trl import GRPOConfig, GRPOTrainer

__all__ = ["RLFiniteGuard", "build_grpo_config", "build_rl_trainer", "load_policy"]

LOG_FILE = "train_log.jsonl"
CONFIG_FILE = "config.yaml"


class RLFiniteGuard(FiniteGuard):
    """`FiniteGuard` for RL: also a logged mean reward, its spread or the KL must be finite, and the
    weights are checked after every step, not only before logs and saves: the next step samples
    from them, and sampling from nan weights fails inside `generate` with an unrelated error.
    (One pass over the weights per step; generation dominates an RL step's time.)"""

    KEYS = ("reward", "reward_std", "kl")

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().on_log(args, state, control, logs=logs, **kwargs)
        for key in self.KEYS:
            value = (logs or {}).get(key)
            if isinstance(value, (int, float)) and not math.isfinite(value):
                raise NonFiniteError(
                    f"step {state.global_step}: the logged {key} must be finite, but is {value}; fix: lower optim.lr "
                    "or grpo.temperature, check the references of the prompts, then resume from the last checkpoint"
                )

    def on_step_end(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        self._check_weights(state, model)


def load_policy(cfg: RLConfig) -> tuple[PreTrainedModel, Any]:
    """The model and its tokenizer from `model.path`; answers stop at `<|im_end|>` and EOS."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from spire.inference.generation import stop_token_ids

    path = Path(cfg.model.path)
    if not (path / "config.json").is_file():
        raise ConfigError("model.path", f"must be a transformers model folder with config.json, but is {path}")
    if not any((path / name).is_file() for name in ("tokenizer.json", "tokenizer.model", "tokenizer_config.json")):
        raise ConfigError("model.path", f"must hold the model's tokenizer (its chat template renders the prompts), "
                          f"but {path} has none; fix: point at a folder written by `spire train`")
    model = AutoModelForCausalLM.from_pretrained(
        str(path), dtype=getattr(torch, cfg.model.dtype), attn_implementation=cfg.model.attn_implementation
    )
    tokenizer = AutoTokenizer.from_pretrained(str(path))
    declared = model.generation_config.eos_token_id
    declared = [declared] if isinstance(declared, int) else list(declared or [])
    model.generation_config.eos_token_id = sorted({*declared, *stop_token_ids(tokenizer)})
    return model, tokenizer


def build_grpo_config(cfg: RLConfig) -> GRPOConfig:
    """Map the config onto `trl.GRPOConfig` (a `TrainingArguments`; checked against TRL 1.16)."""
    from trl import GRPOConfig

    from spire.training.trainer import common_arguments

    grpo = cfg.grpo
    try:
        return GRPOConfig(
            **common_arguments(cfg),
            num_generations=grpo.num_generations,
            max_completion_length=grpo.max_completion_length,
            temperature=grpo.temperature,
            top_p=grpo.top_p,
            beta=grpo.beta,
            epsilon=grpo.epsilon,
            num_iterations=grpo.num_iterations,
            loss_type=grpo.loss_type,
            scale_rewards=grpo.scale_rewards,
            mask_truncated_completions=grpo.mask_truncated_completions,
            log_completions=grpo.log_completions,
            data_seed=cfg.seed,
            remove_unused_columns=False,  # the rewards read reference, kind and language
        )
    except ValueError as error:  # TRL's own consistency checks (e.g. batch vs. group size with N processes)
        raise ConfigError("grpo", f"TRL refused the settings: {error}") from error


def build_rl_trainer(cfg: RLConfig, *, callbacks: list[TrainerCallback] | None = None) -> GRPOTrainer:
    """Load the policy and the prompts from `cfg` and return a ready `trl.GRPOTrainer` (the config is saved first).

    >>> trainer = build_rl_trainer(resolve_config(RLConfig, "configs/train/spire_rl.yaml"))  # doctest: +SKIP
    >>> trainer.train()                                                                        # doctest: +SKIP
    """
    from trl import GRPOTrainer

    from spire.rl.data import prompt_dataset
    from spire.rl.rewards import reward_functions
    from spire.training.checkpoints import CompleteCheckpointCallback
    from spire.training.trainer import ConfigSaveCallback, ThroughputCallback

    args = build_grpo_config(cfg)  # first: it sets up the process group under torchrun
    model, tokenizer = load_policy(cfg)
    dataset = prompt_dataset(cfg.data, cfg.model.path, tokenizer, seed=cfg.seed)
    kinds = set(dataset["kind"])
    rewards = [reward for reward in reward_functions(cfg.rewards) if reward.kind in kinds]
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=rewards,
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        # The marker comes after every callback that adds files to a checkpoint.
        callbacks=[ConfigSaveCallback(cfg), CompleteCheckpointCallback(cfg.save_total_limit), RLFiniteGuard(),
                   *(callbacks or [])],
    )
    trainer.callback_handler.callbacks.insert(0, ThroughputCallback(Path(cfg.output_dir) / LOG_FILE))
    if trainer.is_world_process_zero():
        save_config(cfg, Path(cfg.output_dir) / CONFIG_FILE)
    return trainer
