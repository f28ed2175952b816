"""Stop a run whose loss or weights are no longer finite, before such a model is saved.

    trainer = build_trainer(cfg)          # FiniteGuard is one of its callbacks

A learning rate too high for the model, or a broken batch, turns the loss into nan or inf and,
one optimizer step later, the weights. The Trainer would go on, save checkpoints of nan weights
and the final model, and exit 0. `FiniteGuard` checks the logged loss and gradient norm at every
log, and the trainable weights before every checkpoint, log and the end of training, and raises
`NonFiniteError` (a `SpireError`: `spire train` exits 2) before anything non-finite is saved.
The Trainer's `logging_nan_inf_filter` must be off, or it hides a non-finite step's loss.
"""

from __future__ import annotations

import math
from typing import Any

from transformers import TrainerCallback

from spire.errors import SpireError

__all__ = ["FiniteGuard", "NonFiniteError", "nonfinite_parameters"]

_FIX = ("fix: lower optim.lr (or raise optim.warmup_steps; keep optim.max_grad_norm > 0), look for broken rows in the "
        "data, then resume from the last checkpoint, whose weights were checked when it was saved")


class NonFiniteError(SpireError):
    """Training produced a nan/inf loss, gradient norm or weight; nothing of that step was saved.

    >>> raise NonFiniteError("step 3: the loss must be finite, but is nan")
    Traceback (most recent call last):
    spire.training.guards.NonFiniteError: step 3: the loss must be finite, but is nan
    """


def nonfinite_parameters(model: Any, limit: int = 3) -> list[str]:
    """Names of (at most `limit`) trainable parameters holding nan or inf; one device sync when
    all are finite. Under torch.distributed every rank gets the same answer (possibly without names).

    >>> nonfinite_parameters(model)                    # doctest: +SKIP
    ['model.layers.0.mlp.up_proj.weight']
    """
    import torch
    import torch.distributed as dist

    params = [(name, p.to_local() if hasattr(p, "to_local") else p)
              for name, p in model.named_parameters() if p.requires_grad]
    if not params:
        return []
    device = params[0][1].device
    flags = torch.stack([torch.isfinite(p.detach()).all().to(device) for _, p in params if p.numel()])
    bad = (~flags.all()).to(torch.int32)
    if dist.is_available() and dist.is_initialized():
        dist.all_reduce(bad, op=dist.ReduceOp.MAX)  # all ranks stop together, or the others would hang
    if not bad.item():
        return []
    named = [name for name, p in params if p.numel() and not bool(torch.isfinite(p.detach()).all())]
    return named[:limit] or ["(on another process)"]


class FiniteGuard(TrainerCallback):
    """Raise `NonFiniteError` as soon as the loss, the gradient norm or a trainable weight is nan/inf."""

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any) -> None:
        for key in ("loss", "grad_norm"):
            value = (logs or {}).get(key)
            if isinstance(value, (int, float)) and not math.isfinite(value):
                raise NonFiniteError(
                    f"step {state.global_step}: the training {key} must be finite, but is {value} "
                    f"(optim.lr {args.learning_rate}); {_FIX}"
                )

    def on_step_end(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        # Before anything is logged or saved for this step (the Trainer does both after on_step_end).
        if control.should_save or control.should_log or control.should_training_stop:
            self._check_weights(state, model)

    def on_train_end(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        self._check_weights(state, model)  # before the recipe saves the final model

    @staticmethod
    def _check_weights(state: Any, model: Any) -> None:
        if model is None:
            return
        bad = nonfinite_parameters(model)
        if bad:
            raise NonFiniteError(
                f"step {state.global_step}: the weights must be finite, but {', '.join(bad)} hold nan or inf; "
                f"nothing of this step was saved; {_FIX}"
            )
