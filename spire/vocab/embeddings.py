"""Embedding surgery for vocabulary extension: resize, initialise new rows, train only new rows.

>>> resize_embeddings(model, len(tokenizer), first_new_id=32000, init="mean")   # doctest: +SKIP
37056
>>> handle = freeze_all_but_new_embeddings(model, first_new_id=32000)           # doctest: +SKIP
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from spire.errors import VocabularyError

if TYPE_CHECKING:
    import torch

__all__ = [
    "INIT_METHODS",
    "NewRowsOnly",
    "freeze_all_but_new_embeddings",
    "init_new_rows",
    "resize_embeddings",
]

INIT_METHODS = ("default", "mean")
#: Hewitt's recipe: new rows ~ N(mean, MEAN_INIT_SCALE * covariance) of the existing rows.
MEAN_INIT_SCALE = 1e-5


def _embedding_matrices(model: Any) -> list[torch.Tensor]:
    matrices = [model.get_input_embeddings().weight]
    output = model.get_output_embeddings()
    if output is not None and output.weight.data_ptr() != matrices[0].data_ptr():
        matrices.append(output.weight)
    return matrices


def init_new_rows(
    weight: torch.Tensor,
    first_new_id: int,
    *,
    init: str = "default",
    std: float = 0.02,
    seed: int = 0,
    chunk_rows: int = 1024,
) -> None:
    """Overwrite rows `first_new_id:` of `weight` in place.

    "default": normal(0, std), what Llama's own initialiser does. "mean": a normal with the mean
    and `1e-5 ×` the covariance of the existing rows. Samples are drawn as `mean + Xcᵀz/√n` with
    `z ~ N(0, I)`, which has exactly that covariance without forming or factorising the
    `d × d` matrix (it may be singular for small models).
    """
    import torch

    if init not in INIT_METHODS:
        raise VocabularyError(f"init must be one of {INIT_METHODS}, but is {init!r}; fix: pick one")
    rows = weight.shape[0]
    if not 0 < first_new_id <= rows:
        raise VocabularyError(
            f"first_new_id must be in 1..{rows}, but is {first_new_id}; fix: pass the original vocabulary size"
        )
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        if init == "default":
            fresh = torch.randn(rows - first_new_id, weight.shape[1], generator=generator) * std
            weight[first_new_id:] = fresh.to(weight.dtype)
            return
        old = weight[:first_new_id].detach().to("cpu", torch.float32)
        mean = old.mean(dim=0)
        centered = old - mean
        scale = math.sqrt(MEAN_INIT_SCALE / first_new_id)
        for start in range(first_new_id, rows, chunk_rows):
            stop = min(start + chunk_rows, rows)
            z = torch.randn(stop - start, first_new_id, generator=generator)
            sample = mean + scale * (z @ centered)
            weight[start:stop] = sample.to(weight.device, weight.dtype)


def resize_embeddings(
    model: Any,
    num_tokens: int,
    *,
    first_new_id: int,
    init: str = "default",
    pad_to_multiple_of: int = 64,
    seed: int = 0,
) -> int:
    """Resize input and output embeddings to hold `num_tokens`, padded; init rows from `first_new_id`.

    Rows below `first_new_id` keep their values bit for bit. Returns the new row count.
    """
    current = model.get_input_embeddings().weight.shape[0]
    multiple = max(int(pad_to_multiple_of), 1)
    rows = max(current, math.ceil(num_tokens / multiple) * multiple)
    if rows != current:
        model.resize_token_embeddings(rows, mean_resizing=False)
    std = float(getattr(model.config, "initializer_range", 0.02))
    for offset, weight in enumerate(_embedding_matrices(model)):
        init_new_rows(weight.data, first_new_id, init=init, std=std, seed=seed + offset)
    return rows


@dataclass
class NewRowsOnly:
    """What `freeze_all_but_new_embeddings` changed; `remove()` undoes the gradient masks."""

    first_new_id: int
    trainable: list[str]
    _hooks: list[Any] = field(default_factory=list, repr=False)

    def remove(self) -> None:
        """Drop the gradient masks (parameters stay frozen/unfrozen as they are)."""
        for hook in self._hooks:
            hook.remove()
        self._hooks.clear()


def freeze_all_but_new_embeddings(model: Any, first_new_id: int) -> NewRowsOnly:
    """Train only the embedding rows from `first_new_id` on (the warm-up stage of an extension).

    Every parameter but the input/output embedding matrices is frozen; a gradient hook zeroes the
    gradient of the old rows, so Adam/SGD leave them untouched. Weight decay is applied by the
    optimizer regardless of gradients: use `weight_decay=0` for this stage.

    >>> handle = freeze_all_but_new_embeddings(model, first_new_id=32000)       # doctest: +SKIP
    >>> handle.trainable  # doctest: +SKIP
    ['model.embed_tokens.weight', 'lm_head.weight']
    """
    matrices = _embedding_matrices(model)
    keep = {id(weight) for weight in matrices}
    trainable = []
    for name, parameter in model.named_parameters():
        parameter.requires_grad_(id(parameter) in keep)
        if id(parameter) in keep:
            trainable.append(name)
    handle = NewRowsOnly(first_new_id=first_new_id, trainable=trainable)

    def mask(grad: torch.Tensor) -> torch.Tensor:
        grad = grad.clone()
        grad[:first_new_id] = 0
        return grad

    for weight in matrices:
        handle._hooks.append(weight.register_hook(mask))
    return handle
