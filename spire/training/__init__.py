"""Training on transformers' Trainer: the settings (`config`), the tokenized datasets (`datasets`),
the Trainer subclass and its callbacks (`trainer`), optimizers and losses chosen by name, and
`recipe.train`, the one entry point of a stage.

>>> from spire.training import TrainConfig
>>> TrainConfig().optim.lr
7e-06
"""

from __future__ import annotations

from units._lazy import lazy_getattr

_EXPORTS = {
    "TrainConfig": "spire.training.config",
    "ModelConfig": "spire.training.config",
    "DataConfig": "spire.training.config",
    "OptimConfig": "spire.training.config",
    "LossConfig": "spire.training.config",
    "LoraSettings": "spire.training.config",
    "DistributedConfig": "spire.training.config",
    "TrainResult": "spire.training.recipe",
    "train": "spire.training.recipe",
    "load_datasets": "spire.training.datasets",
    "NonFiniteError": "spire.training.guards",
    "resume_checkpoint": "spire.training.checkpoints",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_getattr(__name__, _EXPORTS)
