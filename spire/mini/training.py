"""One training run of the miniature through `spire.training.recipe`, and what the report needs from it.

Each run starts from its stage's YAML in `configs/mini/` (`train_base.yaml`, `train_cpt.yaml`,
`train_it.yaml`), then takes the demo's values for that stage.

>>> run = train_stage("it", model_path="demo_out/cpt/model", data_dir="demo_out/it_data/data",
...                   output_dir="demo_out/it/model", epochs=2, lr=5e-4, optimizer="muon",
...                   config=DemoConfig.quick())                                 # doctest: +SKIP
>>> run.curve[:2]                                                                # doctest: +SKIP
[[5, 6.1], [10, 5.2]]
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from spire.mini.config import DemoConfig, recipe_file
from spire.mini.results import TrainingRun

if TYPE_CHECKING:
    from spire.training.config import TrainConfig

__all__ = ["count_parameters", "read_curve", "stage_train_config", "train_stage"]

Kind = Literal["base", "cpt", "it"]


def read_curve(output_dir: str | Path, key: str = "loss") -> list[list[float]]:
    """[step, value] pairs of `key` ("loss", or "eval_loss" for the dev loss) from a run's
    `train_log.jsonl` (written by spire.training.recipe)."""
    from spire.data.sources import read_records

    path = Path(output_dir) / "train_log.jsonl"
    if not path.is_file():
        return []
    return [[int(record["step"]), round(float(record[key]), 4)] for record in read_records(path) if key in record]


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


def stage_train_config(
    kind: Kind,
    *,
    model_path: str | Path,
    data_dir: str | Path,
    output_dir: str | Path,
    rows: int,
    epochs: float,
    lr: float,
    config: DemoConfig,
    optimizer: str | None = None,
    replay: str | Path | None = None,
    replay_fraction: float = 0.0,
) -> TrainConfig:
    """The `TrainConfig` of one run: `configs/mini/train_<kind>.yaml`, then the demo's values
    (`optimizer` sets `optim.name` when given). `rows` (replayed ones included) sets the two
    rules that depend on the step count: 5% warm-up, and at least four log lines per run."""
    from spire.config import resolve_config
    from spire.training.config import TrainConfig

    steps = max(1, round(rows / config.micro_batch * epochs))
    settings: dict[str, Any] = {
        "output_dir": str(output_dir),
        "model": {"path": str(model_path)},
        "data": {"train": str(data_dir), "seq_len": config.seq_len,
                 **({"replay": str(replay), "replay_fraction": replay_fraction} if replay is not None else {})},
        "optim": {"lr": lr, "muon_lr": config.muon_lr, "warmup_steps": max(1, steps // 20),
                  **({"name": optimizer} if optimizer is not None else {})},
        "micro_batch": config.micro_batch,
        "epochs": epochs,
        "seed": config.seed,
        "logging_steps": max(1, min(config.log_every, steps // 4)),
    }
    return resolve_config(TrainConfig, recipe_file(f"train_{kind}.yaml"), settings)


def train_stage(
    kind: Kind,
    *,
    model_path: str | Path,
    data_dir: str | Path,
    output_dir: str | Path,
    epochs: float,
    lr: float,
    config: DemoConfig,
    optimizer: str | None = None,
    replay: str | Path | None = None,
    replay_fraction: float = 0.0,
) -> TrainingRun:
    """Train `model_path` on the packed dataset `data_dir` and save the result in `output_dir`;
    with `replay`, round(`replay_fraction` x the rows) of its rows are mixed in."""
    import datasets

    from spire.training.recipe import train

    rows = datasets.load_from_disk(str(data_dir)).num_rows
    replayed = round(rows * replay_fraction) if replay is not None else 0
    cfg = stage_train_config(kind, model_path=model_path, data_dir=data_dir, output_dir=output_dir,
                             rows=rows + replayed, epochs=epochs, lr=lr, config=config, optimizer=optimizer,
                             replay=replay if replayed else None, replay_fraction=replay_fraction)
    start = time.perf_counter()
    result = train(cfg)
    wall_s = time.perf_counter() - start
    return TrainingRun(stage=kind, rows=rows + replayed, replayed_rows=replayed, steps=result.global_step,
                       train_loss=result.train_loss, tokens_seen=result.tokens_seen,
                       tokens_per_s=result.tokens_seen / max(wall_s, 1e-9), curve=read_curve(output_dir),
                       wall_s=wall_s, dev_curve=read_curve(output_dir, "eval_loss"))
