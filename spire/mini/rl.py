"""The miniature's optional stage after IT (`spire demo rl=true`): GRPO with verifiable rewards.

    rl/train.jsonl      `rl_utterances` training utterances that IT did not use (labelled rows)
    rl/model            IT model -> RL (`spire.rl`, recipe `configs/mini/train_rl.yaml`)

Each utterance gives the IT prompts for ASR, ST en->de, ST en->fr and MT en->de, en->fr; each
step samples `rl_num_generations` answers for `rl_prompts_per_step` prompts and rewards them
with -WER (ASR) or chrF / 100 (ST, MT) against the references. The demo then evaluates the RL
model beside the IT model ("CPT + IT + RL" in the report).

>>> rl = stage_rl(config, units, results.it)                              # doctest: +SKIP
>>> rl.reward_curve[-1]                                                    # doctest: +SKIP
[40, 0.41]
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spire.mini.config import DemoConfig, recipe_file
from spire.mini.results import TrainedModel, UnitsResult, load_summary, save_summary
from spire.mini.stages import fresh, mark_done, model_fingerprint, relative, stage_done, unit_rows

if TYPE_CHECKING:
    from spire.rl.config import RLConfig

__all__ = ["RlResult", "rl_report_row", "rl_train_config", "stage_rl"]


@dataclass(frozen=True, kw_only=True)
class RlResult(TrainedModel):
    """The RL run: `curve` holds the GRPO loss, `reward_curve` the mean reward per log step and
    `task_rewards` the mean reward of each task kind (asr, st, mt) per log step."""

    prompts: int
    num_generations: int
    reward_curve: list[list[float]] = field(default_factory=list)
    task_rewards: dict[str, list[list[float]]] = field(default_factory=dict)


def rl_train_config(config: DemoConfig, *, model_path: str | Path, data_file: str | Path,
                    output_dir: str | Path) -> RLConfig:
    """The `RLConfig` of the demo's RL run: `configs/mini/train_rl.yaml`, then the demo's values.

    >>> cfg = rl_train_config(DemoConfig.load(), model_path="m", data_file="d.jsonl", output_dir="o")
    >>> cfg.stage, cfg.micro_batch == cfg.grpo.num_generations * DemoConfig.load().rl_prompts_per_step
    ('rl', True)
    """
    from spire.config import resolve_config
    from spire.rl.config import RLConfig

    data = str(data_file)
    settings: dict[str, Any] = {
        "output_dir": str(output_dir),
        "model": {"path": str(model_path)},
        "data": {"speech": [{"path": data}],
                 "parallel": [{"path": data, "source_lang": "en", "target_lang": lang, "source_field": "text"}
                              for lang in ("de", "fr")]},
        "grpo": {"num_generations": config.rl_num_generations, "beta": config.rl_beta,
                 "max_completion_length": config.max_new_tokens},
        "optim": {"lr": config.rl_lr},
        "micro_batch": config.rl_num_generations * config.rl_prompts_per_step,
        "max_steps": config.rl_steps,
        "seed": config.seed,
        "logging_steps": max(1, min(config.log_every, config.rl_steps // 4)),
    }
    return resolve_config(RLConfig, recipe_file("train_rl.yaml"), settings)


def _curves(log_history: list[dict[str, Any]]) -> tuple[list[list[float]], dict[str, list[list[float]]]]:
    """[step, mean reward] and, per task kind, [step, its mean reward] from the Trainer's logs."""
    overall: list[list[float]] = []
    tasks: dict[str, list[list[float]]] = {}
    for record in log_history:
        if "reward" not in record:
            continue
        step = int(record.get("step", 0))
        overall.append([step, round(float(record["reward"]), 4)])
        for key, value in record.items():
            # TRL logs each reward function's mean as rewards/<name>/mean (None when no row of the batch had its task).
            if key.startswith("rewards/") and key.endswith("/mean") and value is not None:
                kind = key.split("/")[1].split("_")[0]
                tasks.setdefault(kind, []).append([step, round(float(value), 4)])
    return overall, tasks


def stage_rl(config: DemoConfig, units: UnitsResult, it: TrainedModel) -> RlResult:
    """GRPO from the IT model on prompts of training utterances after the first `it_utterances`."""
    from spire.mini.training import read_curve
    from spire.rl.data import rl_prompts
    from spire.rl.recipe import train_rl
    from units.files import json_line, write_lines

    folder = Path(config.out_dir) / "rl"
    settings = {"start": relative(config, it.model), "start_weights": model_fingerprint(it.model),
                "utterances": config.rl_utterances, "steps": config.rl_steps, "lr": config.rl_lr,
                "beta": config.rl_beta, "num_generations": config.rl_num_generations,
                "prompts_per_step": config.rl_prompts_per_step, "max_new_tokens": config.max_new_tokens,
                "it_utterances": config.it_utterances, "seed": config.seed}
    started = time.perf_counter()
    if not stage_done(folder, settings):
        fresh(folder)
        rows = unit_rows(units.folder, "train")
        first = config.it_utterances if config.it_utterances is not None and config.it_utterances < len(rows) else 0
        subset = folder / "train.jsonl"
        write_lines(subset, (json_line(row) for row in rows[first: first + config.rl_utterances]), compress=False)
        cfg = rl_train_config(config, model_path=it.model, data_file=subset, output_dir=folder / "model")
        start = time.perf_counter()
        result = train_rl(cfg)
        wall_s = time.perf_counter() - start
        rewards, by_task = _curves(result.log_history)
        prompts = len(rl_prompts(cfg.data, cfg.model.path, seed=cfg.seed))
        save_summary(RlResult(stage="rl", rows=prompts, replayed_rows=0, steps=result.global_step,
                              train_loss=result.train_loss, tokens_seen=result.tokens_seen,
                              tokens_per_s=result.tokens_seen / max(wall_s, 1e-9),
                              curve=read_curve(folder / "model"), wall_s=wall_s, folder=folder, prompts=prompts,
                              num_generations=config.rl_num_generations, reward_curve=rewards,
                              task_rewards=by_task), folder)
        mark_done(folder, settings)
    return load_summary(RlResult, folder, stage_wall_s=time.perf_counter() - started)


def rl_report_row(run: TrainedModel) -> str:
    """The report's line for the RL stage: steps, samples, and the mean reward of each task,
    first log step -> last (ASR: -WER as a fraction; ST, MT: chrF / 100)."""
    samples = getattr(run, "num_generations", 0)
    tasks = getattr(run, "task_rewards", {}) or {}
    changes = "; ".join(f"{kind} {curve[0][1]:+.3f} -> {curve[-1][1]:+.3f}" for kind, curve in sorted(tasks.items())
                        if curve)
    return (f"| RL after IT (GRPO, {samples} answers per prompt, rewards -WER / chrF) | {run.steps} steps on "
            f"{run.rows} prompts; mean reward {changes or 'not logged'} | {run.wall_s:.0f} |")
