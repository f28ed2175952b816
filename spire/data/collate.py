"""Batch packed or single-example rows so that no token attends across a document boundary.

Each row holds `input_ids`, `labels` (-100 = no loss) and `position_ids` (0 at every document
start inside a packed row). The collator right-pads the batch and does *not* emit an
attention mask and sets `use_cache=False`: transformers (checked in 5.x `masking_utils`) then
reads document boundaries from the position ids and builds a block-diagonal causal mask for
eager/sdpa/flex attention, and flash-attention turns them into per-document sequence lengths.
(With an attention mask or a KV cache that detection is skipped, silently.) The padding
tail gets positions 0, 1, … of its own, so it forms a separate "document" nobody attends to.

Rows saved already padded (trailing pad id with label -100) are trimmed first, so the
non-padding count is right and a batch is padded only to its longest row.

The label of each document's first token is set to -100: it would otherwise be predicted
from the previous document's last token, which is not part of its context.

    collate = PackedCollator(pad_token_id=0)
    batch = collate([{"input_ids": [5, 6, 7, 8], "labels": [5, 6, 7, 8], "position_ids": [0, 1, 0, 1]}])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from spire.errors import DataError

__all__ = ["IGNORE_INDEX", "PackedCollator", "padding_fraction"]

IGNORE_INDEX = -100


class PackedCollator:
    """Pad rows into tensors `input_ids`, `labels`, `position_ids` (no attention mask; `use_cache=False`).

    >>> collate = PackedCollator(pad_token_id=0)
    >>> batch = collate([{"input_ids": [5, 6, 7], "labels": [5, 6, 7], "position_ids": [0, 1, 0]},
    ...                  {"input_ids": [9], "labels": [9]}])
    >>> batch["position_ids"].tolist()
    [[0, 1, 0], [0, 0, 1]]
    >>> batch["labels"].tolist()
    [[-100, 6, -100], [-100, -100, -100]]

    `count_tokens=True` adds `num_tokens`, the number of non-padding tokens (for tokens/s);
    `SpireTrainer` removes it before the forward pass.
    """

    def __init__(
        self,
        *,
        pad_token_id: int,
        max_length: int | None = None,
        pad_to_multiple_of: int | None = None,
        count_tokens: bool = False,
    ) -> None:
        self.pad_token_id = int(pad_token_id)
        self.max_length = max_length
        self.pad_to_multiple_of = pad_to_multiple_of
        self.count_tokens = count_tokens

    def __call__(self, rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        import torch

        if not rows:
            raise DataError("a batch must hold at least one row, but is empty")
        prepared = [self._row(row, i) for i, row in enumerate(rows)]
        longest = max(len(ids) for ids, _, _ in prepared)
        if self.pad_to_multiple_of:
            multiple = self.pad_to_multiple_of
            longest = -(-longest // multiple) * multiple
        shape = (len(prepared), longest)
        input_ids = torch.full(shape, self.pad_token_id, dtype=torch.long)
        labels = torch.full(shape, IGNORE_INDEX, dtype=torch.long)
        position_ids = torch.zeros(shape, dtype=torch.long)
        for i, (ids, labs, pos) in enumerate(prepared):
            n = len(ids)
            input_ids[i, :n] = torch.tensor(ids, dtype=torch.long)
            labels[i, :n] = torch.tensor(labs, dtype=torch.long)
            position_ids[i, :n] = torch.tensor(pos, dtype=torch.long)
            # The tail restarts at 0 so the mask builder sees it as its own document.
            position_ids[i, n:] = torch.arange(longest - n, dtype=torch.long)
        labels[position_ids == 0] = IGNORE_INDEX
        # A KV cache turns off transformers' packed-sequence detection (masking_utils), and models
        # default to use_cache=True even in training, so the batch itself switches it off.
        batch: dict[str, Any] = {
            "input_ids": input_ids,
            "labels": labels,
            "position_ids": position_ids,
            "use_cache": False,
        }
        if self.count_tokens:
            batch["num_tokens"] = torch.tensor(sum(len(ids) for ids, _, _ in prepared), dtype=torch.long)
        return batch

    def _row(self, row: Mapping[str, Any], index: int) -> tuple[list[int], list[int], list[int]]:
        if "input_ids" not in row:
            raise DataError(f"row {index} of the batch must have input_ids, but has only {sorted(row)}")
        ids = list(row["input_ids"])
        labels = list(row["labels"]) if row.get("labels") is not None else list(ids)
        positions = list(row["position_ids"]) if row.get("position_ids") is not None else list(range(len(ids)))
        if not len(ids) == len(labels) == len(positions):
            raise DataError(
                f"row {index}: input_ids, labels and position_ids must have one length, but have "
                f"{len(ids)}, {len(labels)}, {len(positions)}; fix: rebuild the data"
            )
        # Rows saved pre-padded: drop the tail (a trailing -100 token changes no loss and no
        # earlier logit), so counts stay non-padding and short batches are not padded to seq_len.
        while ids and ids[-1] == self.pad_token_id and labels[-1] == IGNORE_INDEX:
            ids.pop(), labels.pop(), positions.pop()
        if not ids:
            raise DataError(f"row {index} of the batch must hold tokens, but is empty or only padding; fix: drop it")
        if self.max_length is not None and len(ids) > self.max_length:
            raise DataError(
                f"row {index} must hold at most data.seq_len={self.max_length} tokens, but holds {len(ids)}; "
                "fix: rebuild the data with this seq_len or raise data.seq_len"
            )
        return ids, labels, positions


def padding_fraction(batch: Mapping[str, Any], num_tokens: int) -> float:
    """Share of padded positions in a collated batch, given its real token count.

    >>> import torch
    >>> padding_fraction({"input_ids": torch.zeros(2, 4)}, 6)
    0.25
    """
    total = batch["input_ids"].numel()
    return 1.0 - num_tokens / total if total else 0.0
