"""The causal-LM loss with output logits computed only where a label exists.

When most positions carry no label (CPT without loss on unit tokens: ~85% of the tokens; IT:
everything but the answers), the LM head and its softmax over the whole vocabulary are mostly
wasted work: for the miniature's 2M-parameter model the head is about a quarter of the forward
pass. This computes the decoder's hidden states, keeps the positions whose next token has a
label, and applies the head there only. The value and the gradients equal transformers' own
loss (`model(**inputs, labels=labels).loss`, the same shift and the same normalisation by
`num_items_in_batch`), so it changes speed, not training.

>>> loss = labelled_positions_loss(model, batch, num_items_in_batch=None)  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

__all__ = ["DENSE_ABOVE", "labelled_positions_loss", "supports_labelled_positions_loss"]

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
