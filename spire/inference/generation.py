"""Batched text generation behind `SpireModel`: transformers (default) or vLLM (GPU, optional).

Prompts are sorted by length and generated in batches with left padding, so each batch holds
similar lengths (little padding) and every row's new tokens start at the same column. The
attention mask marks the padding and transformers derives position ids from it, so under
greedy decoding a batched prompt yields the same tokens as the prompt alone.

>>> settings = DecodingSettings(num_beams=4)
>>> settings.num_beams, settings.max_new_tokens
(4, 256)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from spire.errors import SpireError


class BackendError(SpireError):
    """A generation backend that is unknown or not installed."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class DecodingSettings:
    """How text was generated; recorded with every result and every score.

    >>> DecodingSettings().as_dict()["num_beams"]
    1
    """

    num_beams: int = 1
    """Beam width; 1 = greedy (the paper's setting)."""
    max_new_tokens: int = 256
    """Generation budget per prompt (per chunk for long audio); the paper uses 256."""
    batch_size: int = 8
    """Prompts generated together."""
    max_chunk_s: float = 8.0
    """The longest piece audio is read in: longer audio is cut at its pauses, and speech without
    a pause at its quietest points (`spire.inference.long_audio`). 8 s of speech makes a prompt
    of up to ~220 tokens with the miniature's units, inside the 256-token rows it trains on
    (20 s made up to ~515); a model trained on longer utterances can take more."""
    backend: str = "transformers"
    """"transformers", "vllm" (GPU, optional) or "ctranslate2" (a `spire export` folder)."""

    def __post_init__(self) -> None:
        for name in ("num_beams", "max_new_tokens", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise SpireError(
                    f"{name} must be an integer >= 1, but is {value!r}; fix: pass e.g. 1"
                )
        if not self.max_chunk_s > 0:
            raise SpireError(
                f"max_chunk_s must be > 0, but is {self.max_chunk_s!r}; fix: pass e.g. 8.0"
            )
        if self.backend not in ("transformers", "vllm", "ctranslate2"):  # ct2: exported folders
            raise BackendError(
                f"backend must be 'transformers', 'vllm' or 'ctranslate2', but is {self.backend!r}; "
                "fix: pick one of these"
            )

    def as_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "do_sample": False}


def stop_token_ids(tokenizer: Any) -> list[int]:
    """Ids that end an answer: `<|im_end|>` (the chat turn end) when present, and EOS."""
    ids = []
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    if isinstance(im_end, int) and im_end != tokenizer.unk_token_id:
        ids.append(im_end)
    if tokenizer.eos_token_id is not None and tokenizer.eos_token_id not in ids:
        ids.append(tokenizer.eos_token_id)
    return ids


def _cut_at_stop(ids: Sequence[int], stops: Sequence[int]) -> list[int]:
    out = []
    for token in ids:
        if token in stops:
            break
        out.append(int(token))
    return out


def generate_transformers(
    model: Any, tokenizer: Any, prompts: Sequence[str], settings: DecodingSettings
) -> list[list[int]]:
    """New token ids (stop token and padding removed) for each prompt, in input order.

    >>> generate_transformers(model, tokenizer, ["Hello"], DecodingSettings())  # doctest: +SKIP
    [[417, 93, 12]]
    """
    import torch

    encoded = [tokenizer(p, add_special_tokens=True)["input_ids"] for p in prompts]
    stops = stop_token_ids(tokenizer)
    pad_id = tokenizer.pad_token_id
    pad_id = pad_id if pad_id is not None else (stops[0] if stops else 0)
    device = next(model.parameters()).device
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]), reverse=True)
    results: list[list[int]] = [[] for _ in encoded]
    for begin in range(0, len(order), settings.batch_size):
        rows = order[begin : begin + settings.batch_size]
        width = max(len(encoded[i]) for i in rows)
        input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
        attention_mask = torch.zeros((len(rows), width), dtype=torch.long)
        for r, i in enumerate(rows):
            ids = encoded[i]
            input_ids[r, width - len(ids) :] = torch.tensor(ids, dtype=torch.long)
            attention_mask[r, width - len(ids) :] = 1
        with torch.inference_mode():
            output = model.generate(
                input_ids=input_ids.to(device),
                attention_mask=attention_mask.to(device),
                max_new_tokens=settings.max_new_tokens,
                num_beams=settings.num_beams,
                do_sample=False,
                eos_token_id=stops or None,
                pad_token_id=pad_id,
            )
        for r, i in enumerate(rows):
            results[i] = _cut_at_stop(output[r, width:].tolist(), stops)
    return results


def generate_vllm(
    llm: Any, tokenizer: Any, prompts: Sequence[str], settings: DecodingSettings
) -> list[list[int]]:
    """The same contract on a `vllm.LLM` (greedy only; vLLM schedules its own batches).

    >>> llm = load_vllm("runs/it")                                  # doctest: +SKIP
    """
    from vllm import SamplingParams

    if settings.num_beams != 1:
        raise BackendError(
            f"num_beams must be 1 with the vllm backend, but is {settings.num_beams}; "
            "fix: use backend='transformers' for beam search"
        )
    stops = stop_token_ids(tokenizer)
    params = SamplingParams(
        temperature=0.0, max_tokens=settings.max_new_tokens, stop_token_ids=stops
    )
    outputs = llm.generate(list(prompts), params, use_tqdm=False)
    return [_cut_at_stop(out.outputs[0].token_ids, stops) for out in outputs]


def load_vllm(model_dir: str, *, dtype: str | None = None) -> Any:
    """A `vllm.LLM` for `model_dir`, or a BackendError saying how to get vLLM (CUDA GPUs only)."""
    try:
        from vllm import LLM
    except ImportError as error:
        raise BackendError(
            "backend 'vllm' needs the vllm package (Linux + CUDA GPU), but it is not "
            "installed; fix: pip install vllm on a GPU machine, or use backend='transformers'"
        ) from error
    return LLM(model=str(model_dir), dtype=dtype or "auto", trust_remote_code=False)
