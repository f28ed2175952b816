"""The stage after instruction tuning, as in Tower+: GRPO with verifiable rewards on transformers + TRL.
The settings (`config`), the rewards computed with the toolkit's metrics (`rewards`), the IT prompts
as RL prompts (`data`), `trl.GRPOTrainer` with spire's callbacks (`trainer`) and `train_rl`, the
stage's entry point (`spire train` with `stage: rl`).

>>> from spire.rl import RLConfig, sentence_reward
>>> RLConfig().grpo.num_generations, sentence_reward("wer", "a b", "a b")
(8, 0.0)
"""

from __future__ import annotations

from units._lazy import lazy_getattr

_EXPORTS = {
    "RLConfig": "spire.rl.config",
    "GrpoSettings": "spire.rl.config",
    "PolicyConfig": "spire.rl.config",
    "PromptConfig": "spire.rl.config",
    "RewardConfig": "spire.rl.config",
    "RLOptimConfig": "spire.rl.config",
    "RLPrompt": "spire.rl.data",
    "prompt_dataset": "spire.rl.data",
    "rl_prompts": "spire.rl.data",
    "TaskReward": "spire.rl.rewards",
    "reward_functions": "spire.rl.rewards",
    "sentence_reward": "spire.rl.rewards",
    "build_rl_trainer": "spire.rl.trainer",
    "train_rl": "spire.rl.recipe",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_getattr(__name__, _EXPORTS)
