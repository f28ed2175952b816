"""The tokenized datasets of a training run: load, check columns, mix in replay rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from spire.errors import ConfigError, DataError
from spire.training.config import TrainConfig

__all__ = ["load_datasets"]


def load_datasets(cfg: TrainConfig) -> tuple[Any, Any]:
    """Load the training (and optional evaluation) dataset, checking the columns."""
    import datasets

    loaded = []
    for key, path in (("data.train", cfg.data.train), ("data.eval", cfg.data.eval), ("data.replay", cfg.data.replay)):
        if path is None:
            loaded.append(None)
            continue
        if not Path(path).is_dir():
            raise ConfigError(key, f"must be a dataset folder saved with save_to_disk, but {path} does not exist")
        ds = datasets.load_from_disk(path)
        if isinstance(ds, datasets.DatasetDict):
            raise ConfigError(key, f"must be a single Dataset, but {path} holds splits {list(ds)}; fix: point at one split")
        missing = {"input_ids", "labels"} - set(ds.column_names)
        if missing:
            raise DataError(f"dataset {path} must have columns input_ids and labels, but lacks {sorted(missing)}")
        loaded.append(ds)
    train_ds, eval_ds, replay_ds = loaded
    if replay_ds is not None:
        train_ds = _with_replay(train_ds, replay_ds, cfg)
    return train_ds, eval_ds


def _with_replay(train_ds: Any, replay_ds: Any, cfg: TrainConfig) -> Any:
    """The training rows followed by round(`data.replay_fraction` x their count) rows of the replay set."""
    import math

    import datasets

    wanted = round(cfg.data.replay_fraction * train_ds.num_rows)
    if wanted > replay_ds.num_rows:
        raise ConfigError(
            "data.replay_fraction",
            f"asks for {wanted} rows of {cfg.data.replay}, but it holds {replay_ds.num_rows}; "
            f"fix: at most {math.floor(1000 * replay_ds.num_rows / max(train_ds.num_rows, 1)) / 1000}",
        )
    if set(replay_ds.column_names) != set(train_ds.column_names):
        raise ConfigError(
            "data.replay",
            f"must have the training data's columns {sorted(train_ds.column_names)}, but "
            f"{cfg.data.replay} has {sorted(replay_ds.column_names)}; fix: build both with the same spire version and packing",
        )
    drawn = replay_ds.shuffle(seed=cfg.seed).select(range(wanted)).cast(train_ds.features)
    return datasets.concatenate_datasets([train_ds, drawn])
