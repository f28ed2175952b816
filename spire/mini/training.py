"""One training run of the miniature through `spire.training.recipe`, and what the report needs from it.

>>> summary = train_stage("it", model_path="demo_out/cpt/model", data_dir="demo_out/it_data",
...                       output_dir="demo_out/it/model", epochs=2, lr=5e-4,
...                       config=DemoConfig.quick())                          # doctest: +SKIP
>>> summary["curve"][:2]                                                      # doctest: +SKIP
[[5, 6.1], [10, 5.2]]
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from spire.mini.config import DemoConfig

__all__ = ["count_parameters", "read_curve", "train_stage"]


def read_curve(output_dir: str | Path) -> list[list[float]]:
    """[step, loss] pairs from a run's `train_log.jsonl` (written by spire.training.recipe)."""
    path = Path(output_dir) / "train_log.jsonl"
    if not path.is_file():
        return []
    curve = []
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line) if line.strip() else {}
        if "loss" in record:
            curve.append([int(record["step"]), round(float(record["loss"]), 4)])
    return curve


def count_parameters(model_dir: str | Path) -> int:
    """Parameters of a saved model, read from its safetensors header (no weights loaded)."""
    from safetensors import safe_open

    total = 0
    for path in Path(model_dir).glob("*.safetensors"):
        with safe_open(str(path), framework="pt") as handle:
            for name in handle.keys():
                shape = handle.get_slice(name).get_shape()
                count = 1
                for size in shape:
                    count *= size
                total += count
    return total


def train_stage(
    stage: str,
    *,
    model_path: str | Path,
    data_dir: str | Path,
    output_dir: str | Path,
    epochs: float,
    lr: float,
    config: DemoConfig,
    optimizer: str = "adamw",
    replay: str | Path | None = None,
    replay_fraction: float = 0.0,
) -> dict[str, Any]:
    """Train `model_path` on the packed dataset `data_dir` and save the result in `output_dir`.

    Settings of the miniature: float32 on CPU, cosine schedule with 5% warm-up, no weight
    decay, no intermediate checkpoints, the LM head applied only where a label exists in CPT and
    IT (CPT without unit loss: ~25% more tokens/s, same loss). Returns steps, loss, tokens/s and the
    loss curve.
    """
    import datasets

    from spire.config import resolve_config
    from spire.training.recipe import TrainConfig, train

    rows = datasets.load_from_disk(str(data_dir)).num_rows
    replayed = round(rows * replay_fraction) if replay is not None else 0
    rows += replayed
    steps = max(1, round(rows / config.micro_batch * epochs))
    settings = {
        "stage": "cpt" if stage in ("base", "cpt") else "it",
        "output_dir": str(output_dir),
        # The base LM's text is labelled everywhere: nothing to skip there.
        "model": {"path": str(model_path), "dtype": "float32", "attn_implementation": "sdpa",
                  "labelled_logits_only": stage != "base"},
        "data": {"train": str(data_dir), "seq_len": config.seq_len,
                 **({"replay": str(replay), "replay_fraction": replay_fraction} if replayed else {})},
        "optim": {"name": optimizer, "lr": lr, "muon_lr": config.muon_lr, "scheduler": "cosine",
                  "warmup_steps": max(1, steps // 20), "weight_decay": 0.0},
        "micro_batch": config.micro_batch,
        "grad_accum": 1,
        "epochs": epochs,
        "bf16": False,
        "use_cpu": True,
        "seed": config.seed,
        "logging_steps": max(1, min(config.log_every, steps // 4)),
        "save_steps": 0,
        "save_total_limit": 1,
    }
    cfg = resolve_config(TrainConfig, None, settings)
    start = time.perf_counter()
    result = train(cfg)
    wall_s = time.perf_counter() - start
    return {
        "stage": stage,
        "model": str(output_dir),
        "rows": rows,
        "replayed_rows": replayed,
        "steps": result.global_step,
        "train_loss": result.train_loss,
        "tokens_seen": result.tokens_seen,
        "tokens_per_s": result.tokens_seen / max(wall_s, 1e-9),
        "curve": read_curve(output_dir),
        "wall_s": wall_s,
    }
