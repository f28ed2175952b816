"""Instruction-tuning data: ASR, speech translation (direct and multi-turn) and text translation.

    spire build-data it --config configs/data/it.yaml --out data/it

Every example is a ChatML conversation with the paper's prompts; only the assistant answers
(each with the `<|im_end|>` that closes it) carry labels, everything else is -100. Examples are
packed whole into rows of `seq_len` tokens (positions restart per example), or kept one per
row (`packing: false`) for comparison.

>>> config = ItDataConfig(tokenizer="spire-base", speech=[SpeechSource(path="labels/")],
...                       st_languages=["de", "fr"])                         # doctest: +SKIP
>>> build_it(config, "data/it").kept                                         # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Annotated, Any, Literal

from spire.config import AT_LEAST_1, NON_NEGATIVE, SEED, CheckedConfig
from spire.data.output import BuildSummary, write_rows
from spire.data.packing import IGNORE_INDEX, PackStats, buffered_shuffle, pack_examples, unpacked
from spire.data.sources import (
    ParallelSource,
    SpeechSource,
    VocabInfo,
    encode_batch,
    read_records,
    read_transcripts,
    unit_text,
    vocab_info,
)
from spire.errors import ConfigError
from spire.prompts import (
    IM_END,
    asr_prompt,
    chat_turn,
    mt_prompt,
    resolve_language,
    st_follow_up_prompt,
    st_prompt,
)

__all__ = [
    "ChatExample",
    "ItDataConfig",
    "build_it",
    "encode_chat",
    "it_rows",
    "mt_examples",
    "speech_examples",
]

TASKS = ("asr", "st", "st_multiturn")


@dataclass(kw_only=True)
class ItDataConfig(CheckedConfig):
    """How to build the instruction-tuning data (defaults: the paper's settings)."""

    tokenizer: str
    """Extended model folder (with chat specials): its tokenizer and `config.spire`."""
    speech: list[SpeechSource] = field(default_factory=list)
    """Unit manifests with transcripts and (for translation) a field per target language."""
    tasks: list[Literal["asr", "st", "st_multiturn"]] = field(default_factory=lambda: list(TASKS))
    """Speech tasks made from every speech row."""
    st_languages: list[str] = field(default_factory=list)
    """Target language codes for speech translation; the translation is the row's field of
    that name (e.g. `de`), unless `translation_fields` says otherwise."""
    translation_fields: dict[str, str] = field(default_factory=dict)
    """Language code -> row field holding that translation."""
    parallel: list[ParallelSource] = field(default_factory=list)
    """Parallel text for the text-translation task."""
    seq_len: Annotated[int, AT_LEAST_1] = 4096
    """Tokens per row (the paper packs IT examples into 4096)."""
    packing: bool = True
    """Pack examples into padded rows of `seq_len`; false: one unpadded example per row."""
    open_rows: Annotated[int, AT_LEAST_1] = 8
    """Partly filled rows kept open by the first-fit packer."""
    overlong: Literal["drop", "truncate"] = "drop"
    """What to do with an example longer than `seq_len` tokens."""
    shuffle_buffer: Annotated[int, NON_NEGATIVE] = 10000
    """Examples shuffled through a buffer of this size before packing (0: keep order)."""
    seed: Annotated[int, SEED] = 0
    """Seed of the shuffle."""
    tokenize_batch: Annotated[int, AT_LEAST_1] = 256
    """Examples tokenized per call."""


@dataclass(frozen=True)
class ChatExample:
    """One conversation: (role, content) messages, answers in the assistant turns."""

    id: str
    task: str
    messages: tuple[tuple[str, str], ...]


def speech_examples(
    rows: Iterable[Mapping[str, Any]],
    *,
    source: SpeechSource,
    config: ItDataConfig,
    vocab: VocabInfo,
    summary: BuildSummary,
    transcripts: Mapping[str, str] | None = None,
) -> Iterator[ChatExample]:
    """ASR / ST / multi-turn ST conversations from unit-manifest rows (drops are counted)."""
    languages = [(code, config.translation_fields.get(code, code)) for code in config.st_languages]
    for row in rows:
        summary.rows_read += 1
        example_id = str(row.get(source.id_field, summary.rows_read))
        if transcripts is not None:
            transcript = transcripts.get(example_id)
        else:
            transcript = row.get(source.transcript_field)
        transcript = str(transcript).strip() if transcript is not None else ""
        raw = row.get(source.units_field)
        wanted = [("asr", None)] if "asr" in config.tasks else []
        wanted += [
            (task, lang)
            for task in ("st", "st_multiturn")
            if task in config.tasks
            for lang in languages
        ]
        if raw is None or len(raw) == 0:
            for _ in wanted:
                summary.drop("empty_units")
            continue
        units = unit_text(
            raw, num_units=vocab.num_units, unit_format=vocab.unit_format, example_id=example_id
        )
        for task, lang in wanted:
            name = task if lang is None else f"{task}_{lang[0]}"
            translation = str(row.get(lang[1]) or "").strip() if lang is not None else ""
            if task != "st" and not transcript:
                summary.drop("empty_transcript")
            elif task != "asr" and not translation:
                summary.drop("empty_translation")
            elif task == "asr":
                yield ChatExample(
                    example_id, name, (("user", asr_prompt(units)), ("assistant", transcript))
                )
            elif task == "st":
                yield ChatExample(
                    example_id,
                    name,
                    (("user", st_prompt(units, lang[0])), ("assistant", translation)),
                )
            else:
                messages = (
                    ("user", asr_prompt(units)),
                    ("assistant", transcript),
                    ("user", st_follow_up_prompt(lang[0])),
                    ("assistant", translation),
                )
                yield ChatExample(example_id, name, messages)


def mt_examples(
    rows: Iterable[Mapping[str, Any]], *, source: ParallelSource, summary: BuildSummary
) -> Iterator[ChatExample]:
    """Text-translation conversations with the paper's MT prompt."""
    source_field = source.source_field or source.source_lang
    target_field = source.target_field or source.target_lang
    src_code, tgt_code = resolve_language(source.source_lang), resolve_language(source.target_lang)
    for row in rows:
        summary.rows_read += 1
        example_id = str(row.get(source.id_field, summary.rows_read))
        src, tgt = (
            str(row.get(source_field) or "").strip(),
            str(row.get(target_field) or "").strip(),
        )
        if not src or not tgt:
            summary.drop("empty_text")
            continue
        prompt = mt_prompt(src, src_code, tgt_code)
        yield ChatExample(
            example_id,
            f"mt_{source.source_lang}_{source.target_lang}",
            (("user", prompt), ("assistant", tgt)),
        )


def _render(example: ChatExample) -> tuple[str, list[tuple[int, int]]]:
    """The ChatML text and the character spans that carry loss (answer + its <|im_end|>)."""
    text, spans = "", []
    for role, content in example.messages:
        turn = chat_turn(role, content)
        if role == "assistant":
            start = len(text) + turn.index("\n") + 1
            spans.append((start, start + len(content) + len(IM_END)))
        text += turn
    return text, spans


def encode_chat(examples: list[ChatExample], tokenizer: Any) -> list[tuple[list[int], list[int]]]:
    """Tokenize conversations as whole strings; label exactly the tokens inside answer spans.

    Tokenizing the whole string (not pieces) gives the same tokens as at inference; the
    character offsets then decide which tokens are answers.
    """
    import numpy as np

    rendered = [_render(example) for example in examples]
    out = []
    for (_, spans), (ids, offsets) in zip(
        rendered, encode_batch([t for t, _ in rendered], tokenizer)
    ):
        ids_array = np.asarray(ids, dtype=np.int64)
        bounds = np.asarray(offsets, dtype=np.int64).reshape(-1, 2)
        starts, ends = bounds[:, 0], bounds[:, 1]
        inside = np.zeros(len(ids), dtype=bool)
        for first, last in spans:
            inside |= (starts >= first) & (ends <= last)
        inside &= ends > starts  # BOS and other inserted specials have empty spans
        out.append((list(ids), np.where(inside, ids_array, IGNORE_INDEX).tolist()))
    return out


def _encoded(
    examples: Iterable[ChatExample], tokenizer: Any, config: ItDataConfig, summary: BuildSummary
) -> Iterator[tuple[list[int], list[int]]]:
    stream = iter(examples)
    while batch := list(islice(stream, max(config.tokenize_batch, 1))):
        for example, (ids, labels) in zip(batch, encode_chat(batch, tokenizer)):
            if len(ids) > config.seq_len:
                if config.overlong == "drop":
                    summary.drop("too_long")
                    continue
                ids, labels = ids[: config.seq_len], labels[: config.seq_len]
                if all(label == IGNORE_INDEX for label in labels):
                    summary.drop("too_long")
                    continue
                summary.truncated += 1
            summary.keep(example.task, len(ids))
            yield ids, labels


def it_rows(
    examples: Iterable[ChatExample],
    tokenizer: Any,
    config: ItDataConfig,
    summary: BuildSummary,
    *,
    stats: PackStats | None = None,
) -> Iterator[dict[str, Any]]:
    """Rows (packed or one per example) from a stream of conversations."""
    shuffled = buffered_shuffle(examples, buffer_size=config.shuffle_buffer, seed=config.seed)
    encoded = _encoded(shuffled, tokenizer, config, summary)
    if not config.packing:
        yield from unpacked(encoded, stats=stats)
        return
    pad_id = (
        tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    )
    yield from pack_examples(
        encoded, seq_len=config.seq_len, pad_id=pad_id, open_rows=config.open_rows, stats=stats
    )


def _all_examples(
    config: ItDataConfig, vocab: VocabInfo, summary: BuildSummary
) -> Iterator[ChatExample]:
    for source in config.speech:
        joined = read_transcripts(source.transcripts) if source.transcripts else None
        rows = read_records(source.path)
        yield from speech_examples(
            rows, source=source, config=config, vocab=vocab, summary=summary, transcripts=joined
        )
    for source in config.parallel:
        yield from mt_examples(read_records(source.path), source=source, summary=summary)


def build_it(config: ItDataConfig, out_dir: str | Path, *, progress: bool = True) -> BuildSummary:
    """Build the IT dataset into `out_dir` (dataset + summary.json); return the summary."""
    from transformers import AutoTokenizer

    started = time.perf_counter()
    if not config.speech and not config.parallel:
        raise ConfigError("speech", "speech or parallel must list a source, but neither does")
    for code in config.st_languages:
        resolve_language(code)
    vocab = vocab_info(config.tokenizer)
    tokenizer = AutoTokenizer.from_pretrained(config.tokenizer)
    if IM_END not in tokenizer.get_vocab():
        raise ConfigError(
            "tokenizer",
            f"must have the chat specials, but lacks {IM_END}; fix: `spire extend --chat-specials`",
        )
    summary = BuildSummary(kind="it", seq_len=config.seq_len, packed=config.packing)
    stats = PackStats()
    rows = it_rows(_all_examples(config, vocab, summary), tokenizer, config, summary, stats=stats)
    write_rows(rows, out_dir, progress=progress)
    summary.sequences, summary.tokens, summary.padding_tokens = (
        stats.rows,
        stats.tokens,
        stats.padding,
    )
    summary.elapsed_s = round(time.perf_counter() - started, 3)
    summary.save(Path(out_dir) / "summary.json")
    return summary
