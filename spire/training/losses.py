"""Training losses chosen by name (`loss.name` in a `TrainConfig`): `LOSSES` maps each name to a
`Loss`, so a recipe picks one in YAML and the Trainer calls whatever it is given.

    "causal_lm"            the model's own next-token loss (transformers'; the paper's)
    "labelled_positions"   the same loss with the LM head applied only where a label exists

When most positions carry no label (CPT without loss on unit tokens: ~85% of the tokens; IT:
everything but the answers), the LM head and its softmax over the whole vocabulary are mostly
wasted work; for a tiny model the head is a large share of the forward pass. `labelled_positions`
computes the decoder's hidden states, keeps the positions whose next token has a label, and applies
the head there only. Its value and gradients equal transformers' own loss (the same shift and the
same normalisation by `num_items_in_batch`): it changes speed, not training.

A new loss: a function `(model, inputs, num_items_in_batch) -> loss` and one line in `LOSSES`.

>>> sorted(LOSSES)
['causal_lm', 'labelled_positions']
>>> loss = labelled_positions_loss(model, batch, num_items_in_batch=None)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from spire.errors import ConfigError

__all__ = ["DENSE_ABOVE", "LOSSES", "Loss", "get_loss", "labelled_positions_loss", "supports_labelled_positions_loss"]

#: Share of labelled positions above which gathering them costs more than it saves: the head
#: then runs on every position, as in transformers' own forward.
DENSE_ABOVE = 0.5


def supports_labelled_positions_loss(model: Any) -> bool:
    """Whether `model` is a plain causal LM: a decoder plus a linear head and nothing after it.

    Families that rescale or cap the logits after the head (Gemma 2's soft-capping, Cohere's
    logit scale) are refused: skipping their forward would skip that step too.
    """
    config = getattr(model, "config", None)
    if config is None or not hasattr(model, "get_decoder"):
        return False
    if getattr(config, "final_logit_softcapping", None) or getattr(config, "logit_scale", None):
        return False
    head = model.get_output_embeddings()
    return isinstance(head, torch.nn.Linear) and model.get_decoder() is not None


def labelled_positions_loss(
    model: Any, inputs: dict[str, torch.Tensor], num_items_in_batch: Any = None
) -> torch.Tensor:
    """Mean next-token cross-entropy over labelled positions (sum / `num_items_in_batch` when
    given, as transformers computes it under gradient accumulation)."""
    labels = inputs["labels"]
    rest = {key: value for key, value in inputs.items() if key != "labels"}
    rest.setdefault("use_cache", False)
    hidden = model.get_decoder()(**rest).last_hidden_state
    width = hidden.shape[-1]
    hidden = hidden[:, :-1].reshape(-1, width)
    targets = labels[:, 1:].reshape(-1)
    keep = targets != -100
    if keep.float().mean() < DENSE_ABOVE:
        # index_select: its backward is an index_add, much cheaper on CPU than the scatter
        # a boolean-mask index needs.
        where = keep.nonzero().squeeze(1)
        hidden, targets = hidden.index_select(0, where), targets.index_select(0, where)
    logits = model.get_output_embeddings()(hidden).float()
    if num_items_in_batch is None:
        return F.cross_entropy(logits, targets, ignore_index=-100)
    total = F.cross_entropy(logits, targets, ignore_index=-100, reduction="sum")
    if torch.is_tensor(num_items_in_batch):
        num_items_in_batch = num_items_in_batch.to(total.device)
    return total / num_items_in_batch


def _labelled_positions_refusal(model: Any, distributed: bool) -> str | None:
    # Under DDP/FSDP the wrapped model's own forward must run (gradient sync, parameter
    # gathering), so the decoder cannot be called on its own there.
    if distributed:
        return "needs a single training process, but this run is distributed (several processes or FSDP)"
    if not supports_labelled_positions_loss(model):
        return (f"needs a plain causal LM (decoder + linear head), but {type(model).__name__} is not one "
                "(or rescales its logits)")
    return None


@dataclass(frozen=True)
class Loss:
    """A loss `loss.name` can choose.

    >>> LOSSES["causal_lm"].compute is None        # the model computes it in its forward
    True
    """

    compute: Callable[[Any, dict[str, torch.Tensor], Any], torch.Tensor] | None
    """`(model, inputs, num_items_in_batch) -> loss` on the unwrapped model; None = the model's own
    forward loss, as transformers' Trainer computes it."""
    refusal: Callable[[Any, bool], str | None] = lambda model, distributed: None
    """Why it cannot train `model` in this run (`distributed`: several processes or FSDP), or None."""


#: name -> Loss; `loss.name` in a TrainConfig picks one.
LOSSES: dict[str, Loss] = {
    "causal_lm": Loss(compute=None),
    "labelled_positions": Loss(compute=labelled_positions_loss, refusal=_labelled_positions_refusal),
}


def get_loss(name: str) -> Loss:
    """The registered loss called `name`; ConfigError naming `loss.name` when there is none.

    >>> get_loss("labelled_positions").compute is labelled_positions_loss
    True
    """
    if name not in LOSSES:
        raise ConfigError("loss.name", f"must be one of {sorted(LOSSES)}, but is {name!r}")
    return LOSSES[name]
