"""The RL prompts: the IT conversations of `spire.data.instructions` without their last answer,
rendered with the model's chat template; the answer stays beside the prompt as its reference.

    dataset = prompt_dataset(cfg.data, "runs/spire_full", tokenizer, seed=0)
    dataset[0]["prompt"]     # '<|im_start|>user\\nSpeech: …\\nEnglish:<|im_end|>\\n<|im_start|>assistant\\n'

Prompts are text, rendered here rather than by TRL: TRL tokenizes conversational prompts with
`apply_chat_template`, which leaves out the BOS token a Llama-2 tokenizer adds, so the model would
see other tokens than in IT and at inference (`SpireModel` tokenizes the rendered text with the
tokenizer's specials, as TRL does with text prompts).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spire.rl.config import PromptConfig

__all__ = ["RLPrompt", "prompt_dataset", "rl_prompts"]


@dataclass(frozen=True)
class RLPrompt:
    """One prompt: the conversation up to the answer, the answer it is scored against, and what
    scores it (`kind`: "asr", "st" or "mt"; `language`: the answer's language, code or name).

    >>> RLPrompt(id="u1", task="st_de", kind="st", language="de", messages=(("user", "Speech: …\\nGerman:"),),
    ...          reference="Hallo").reference
    'Hallo'
    """

    id: str
    task: str
    """The IT task name: "asr", "st_<lang>", "mt_<src>_<tgt>"."""
    kind: str
    language: str
    messages: tuple[tuple[str, str], ...]
    reference: str


def _examples(config: PromptConfig, model_dir: str | Path) -> Iterator[tuple[Any, str]]:
    """(IT conversation, language of its answer) from every source."""
    from spire.data.instructions import ItDataConfig, mt_examples, speech_examples
    from spire.data.output import BuildSummary
    from spire.data.sources import read_records, read_transcripts, vocab_info

    it_config = ItDataConfig(tokenizer=str(model_dir), speech=list(config.speech), tasks=list(config.tasks),
                             st_languages=list(config.st_languages),
                             translation_fields=dict(config.translation_fields), parallel=list(config.parallel))
    summary = BuildSummary(kind="it", seq_len=it_config.seq_len, packed=False)
    if config.speech:
        vocab = vocab_info(model_dir)
        for source in config.speech:
            joined = read_transcripts(source.transcripts) if source.transcripts else None
            for example in speech_examples(read_records(source.path), source=source, config=it_config, vocab=vocab,
                                           summary=summary, transcripts=joined):
                yield example, "en" if example.task == "asr" else example.task.removeprefix("st_")
    for source in config.parallel:
        for example in mt_examples(read_records(source.path), source=source, summary=summary):
            yield example, source.target_lang


def rl_prompts(config: PromptConfig, model_dir: str | Path, *, seed: int = 0) -> list[RLPrompt]:
    """The prompts of `config`'s sources (in source order; `max_prompts` of them drawn with `seed`).
    ASR prompts whose transcript is empty after normalisation are left out: no WER is defined on them.

    >>> prompts = rl_prompts(cfg.data, "runs/spire_full")          # doctest: +SKIP
    >>> prompts[0].messages                                          # doctest: +SKIP
    (('user', 'Speech: …\\nEnglish:'),)
    """
    import random

    from spire.evaluation.normalizer import normalize_all

    prompts = []
    for example, language in _examples(config, model_dir):
        *context, (_, answer) = example.messages
        prompt = RLPrompt(id=example.id, task=example.task, kind=example.task.split("_")[0], language=language,
                          messages=tuple(context), reference=answer)
        if prompt.kind == "asr" and not normalize_all([answer])[0].strip():
            continue
        prompts.append(prompt)
    if config.max_prompts is not None and config.max_prompts < len(prompts):
        chosen = sorted(random.Random(seed).sample(range(len(prompts)), config.max_prompts))
        prompts = [prompts[i] for i in chosen]
    return prompts


def prompt_dataset(config: PromptConfig, model_dir: str | Path, tokenizer: Any, *, seed: int = 0) -> Any:
    """A `datasets.Dataset` for `trl.GRPOTrainer`: `prompt` (the chat-rendered text), `reference`,
    `kind`, `language`, `task` and `id`. Raises DataError when the sources give no prompt.

    >>> prompt_dataset(cfg.data, "runs/spire_full", tokenizer).column_names          # doctest: +SKIP
    ['prompt', 'reference', 'kind', 'language', 'task', 'id']
    """
    import datasets

    from spire.errors import DataError
    from spire.vocab.saving import render_chat

    prompts = rl_prompts(config, model_dir, seed=seed)
    if not prompts:
        raise DataError("the RL prompt sources (data.speech, data.parallel) must give at least one prompt, but gave "
                        "none; fix: check the manifests' units, transcript and translation fields")
    return datasets.Dataset.from_dict({
        "prompt": [render_chat(tokenizer, p.messages, add_generation_prompt=True) for p in prompts],
        "reference": [p.reference for p in prompts],
        "kind": [p.kind for p in prompts],
        "language": [p.language for p in prompts],
        "task": [p.task for p in prompts],
        "id": [p.id for p in prompts],
    })
