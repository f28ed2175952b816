"""Generation with CTranslate2 (int8 / int16 / float32 weights on CPU) for exported folders.

Same contract as `spire.inference.generation.generate_transformers`: prompts are encoded with the
model's own tokenizer (BOS added as there), the new token ids come back in input order without
the stop token. CTranslate2 takes token strings, so ids are mapped through the engine's
vocabulary (written by its converter from the same tokenizer: id i is entry i).

Batches are formed here, from length-sorted prompts, and only of prompts of close lengths:
CTranslate2 runs a batch's prompts at once only up to the shortest one's length, and feeds the
rest of the longer ones one token per step, each step a pass over all weights, as costly as
generating a token. A prompt therefore joins a batch when it is at most `ANSWER_TOKENS` tokens
longer than the batch's last one: those extra steps cost no more than the separate run
(about one answer's worth of steps) that joining saves. Measured on 8 unit prompts of 120-272
tokens (0.7B model, int8, 1 thread): one batch of 8 took 15.7 CPU-s, one prompt at a time 8.4.

>>> engine = CT2Engine("export/ct2", threads=2)                            # doctest: +SKIP
>>> engine.generate(tokenizer, ["<|im_start|>user\\n…"], DecodingSettings())  # doctest: +SKIP
[[417, 93, 12]]
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from spire.inference.engines.manifest import EngineError
from spire.inference.generation import DecodingSettings, stop_token_ids

#: About the length of an answer in tokens (an ASR transcript of a few seconds of speech).
ANSWER_TOKENS = 32


def length_groups(lengths: Sequence[int], batch_size: int, answer_tokens: int) -> list[list[int]]:
    """Indices grouped into batches of at most `batch_size` prompts of close lengths.

    >>> length_groups([10, 50, 12, 90, 49], batch_size=8, answer_tokens=5)
    [[0, 2], [4, 1], [3]]
    """
    groups: list[list[int]] = []
    for index in sorted(range(len(lengths)), key=lambda i: lengths[i]):
        last = groups[-1] if groups else None
        if last and len(last) < batch_size and lengths[index] - lengths[last[-1]] <= answer_tokens:
            last.append(index)
        else:
            groups.append([index])
    return groups


def import_ctranslate2() -> Any:
    """The ctranslate2 module, or an EngineError saying how to install it."""
    try:
        import ctranslate2
    except ImportError as error:
        raise EngineError(
            "the ct2 engine needs the ctranslate2 package, but it is not installed; "
            "fix: pip install 'spire-speech[cpu-infer]' (or pip install ctranslate2)"
        ) from error
    return ctranslate2


class CT2Engine:
    """A `ctranslate2.Generator` over an exported model's `ct2/` folder.

    `threads` is CTranslate2's intra-op thread count (0 = its default). `device` is "cpu"
    (or "cuda" where the installed ctranslate2 was built with CUDA).

    >>> CT2Engine("export/ct2").backend                                      # doctest: +SKIP
    'ctranslate2'
    """

    backend = "ctranslate2"

    def __init__(self, engine_dir: str | Path, *, device: str = "cpu", threads: int = 0) -> None:
        ctranslate2 = import_ctranslate2()
        self.engine_dir = Path(engine_dir)
        vocabulary = self.engine_dir / "vocabulary.json"
        try:
            self.vocabulary: list[str] = json.loads(vocabulary.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise EngineError(
                f"{vocabulary} must be the engine's vocabulary (a JSON list), but reading it "
                f"failed ({error.__class__.__name__}); fix: re-export with `spire export`"
            ) from error
        cuda = str(device).startswith("cuda") and ctranslate2.get_cuda_device_count() > 0
        device = "cuda" if cuda else "cpu"
        try:
            self.generator = ctranslate2.Generator(
                str(self.engine_dir), device=device, compute_type="default", intra_threads=threads
            )
        except (RuntimeError, ValueError) as error:
            raise EngineError(
                f"{self.engine_dir} must hold a CTranslate2 model that loads on {device}, but "
                f"loading failed ({error}); fix: re-export with `spire export`"
            ) from error

    def generate(
        self, tokenizer: Any, prompts: Sequence[str], settings: DecodingSettings
    ) -> list[list[int]]:
        """New token ids (stop token removed) for each prompt, in input order."""
        if not prompts:
            return []
        stops = stop_token_ids(tokenizer)
        size = len(self.vocabulary)
        batch = []
        for prompt in prompts:
            ids = tokenizer(prompt, add_special_tokens=True)["input_ids"]
            bad = [i for i in ids if not 0 <= i < size]
            if bad:
                raise EngineError(
                    f"the prompt's token ids must be below the engine's vocabulary size {size}, "
                    f"but include {bad[:3]}; fix: export the model again with its tokenizer"
                )
            batch.append([self.vocabulary[i] for i in ids])
        answer = min(settings.max_new_tokens, ANSWER_TOKENS)
        outputs: list[list[int]] = [[] for _ in batch]
        for group in length_groups([len(t) for t in batch], settings.batch_size, answer):
            results = self.generator.generate_batch(
                [batch[i] for i in group],
                max_batch_size=len(group),
                beam_size=settings.num_beams,
                num_hypotheses=1,
                max_length=settings.max_new_tokens,
                # The prompt is forwarded at once (KV cache), not replayed token by token.
                include_prompt_in_result=False,
                end_token=stops or None,
                return_end_token=False,
            )
            for index, result in zip(group, results):
                outputs[index] = _cut_at_stop(result.sequences_ids[0], stops)
        return outputs


def _cut_at_stop(ids: Sequence[int], stops: Sequence[int]) -> list[int]:
    out = []
    for token in ids:
        if token in stops:
            break
        out.append(int(token))
    return out
