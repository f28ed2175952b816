"""Continued-pretraining data: ASR pairs, parallel and monolingual text, mixed by tokens and packed.

    spire build-data cpt --config configs/data/cpt.yaml --out data/cpt

Documents: `Speech: <units>\\nEnglish: <transcript>`, `<Src>: <text>\\n<Tgt>: <text>` and plain
text, each tokenized with the tokenizer's own specials (BOS for Llama) and EOS appended. The
sources of one category take turns, one document each (`round_robin`), and the categories are
interleaved so that their token counts follow `proportions`; then the documents are packed into
rows of `seq_len` tokens (labels = input ids; -100 on padding; positions restart per document).

>>> config = CptDataConfig(tokenizer="spire-init", speech=[SpeechSource(path="labels/")])  # doctest: +SKIP
>>> summary = build_cpt(config, "data/cpt")                                               # doctest: +SKIP
>>> summary.tokens_by_source                                                              # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Annotated, Any, Literal

from spire.config import AT_LEAST_1, NON_NEGATIVE, CheckedConfig
from spire.data.output import BuildSummary, write_rows
from spire.data.packing import IGNORE_INDEX, PackStats, concat_and_split, pack_examples
from spire.data.sources import (
    ParallelSource,
    SpeechSource,
    TextSource,
    VocabInfo,
    encode_batch,
    read_records,
    read_transcripts,
    unit_text,
    vocab_info,
)
from spire.errors import ConfigError
from spire.prompts import cpt_asr_text, cpt_parallel_text

__all__ = [
    "CptDataConfig",
    "build_cpt",
    "cpt_rows",
    "monolingual_documents",
    "parallel_documents",
    "speech_documents",
    "without_unit_loss",
]

CATEGORIES = ("speech", "parallel", "monolingual")


@dataclass(kw_only=True)
class CptDataConfig(CheckedConfig):
    """How to build the continued-pretraining data (defaults: the paper's settings)."""

    tokenizer: str
    """Extended model folder: its tokenizer and its `config.spire` (unit vocabulary)."""
    speech: list[SpeechSource] = field(default_factory=list)
    """Unit manifests with English transcripts (ASR pairs)."""
    parallel: list[ParallelSource] = field(default_factory=list)
    """Parallel text, rendered `<Src>: …\\n<Tgt>: …`."""
    monolingual: list[TextSource] = field(default_factory=list)
    """Plain text, so that the model keeps its text ability."""
    proportions: dict[str, Annotated[float, NON_NEGATIVE]] = field(
        default_factory=lambda: {"speech": 5.0, "parallel": 0.5, "monolingual": 0.5}
    )
    """Relative token shares of the categories (normalised over those with sources); the
    paper's earlier mix was 5B speech + 1B text tokens."""
    seq_len: Annotated[int, AT_LEAST_1] = 2048
    """Tokens per packed row (the paper's context length)."""
    long_documents: Literal["pack", "split", "drop"] = "pack"
    """"pack": documents are packed whole into padded rows (first fit); only a text document
    longer than a row is cut into row-sized pieces, and an ASR pair longer than a row is dropped.
    "split": documents run back to back and are cut at row ends (no padding but in the last row),
    so the pairs that straddle a row end train their transcript without (all of) its audio:
    about a quarter of the miniature's pairs, whose CPT reached 60.6% WER this way against 55.4%
    packed whole (2 epochs, padding 0.9%). "drop": packed whole, longer documents dropped."""
    stop: Literal["first_exhausted", "all_exhausted"] = "first_exhausted"
    """Stop when the first category runs out (proportions hold) or when all do."""
    max_tokens: Annotated[int, AT_LEAST_1] | None = None
    """Stop once this many document tokens are kept (None: no limit)."""
    add_eos: bool = True
    """Append EOS to every document."""
    drop_last: bool = False
    """Drop the last, partly filled row ("split" mode)."""
    tokenize_batch: Annotated[int, AT_LEAST_1] = 256
    """Documents tokenized per call (throughput; also how far each category reads ahead)."""
    unit_loss: bool = True
    """True: plain language-model loss on every token (the paper's CPT). False: unit tokens are
    inputs only (label -100), so the loss is spent on transcripts and text; speech is about 90%
    of the tokens of an ASR pair, and predicting units teaches a small model little about words."""


def speech_documents(
    rows: Iterable[Mapping[str, Any]],
    *,
    source: SpeechSource,
    vocab: VocabInfo,
    summary: BuildSummary,
    transcripts: Mapping[str, str] | None = None,
) -> Iterator[str]:
    """ASR documents from unit-manifest rows; empty or missing transcripts/units are counted."""
    for row in rows:
        summary.rows_read += 1
        example_id = str(row.get(source.id_field, summary.rows_read))
        if transcripts is not None:
            transcript = transcripts.get(example_id)
        else:
            transcript = row.get(source.transcript_field)
        if transcript is None:
            summary.drop("missing_transcript")
            continue
        if not str(transcript).strip():
            summary.drop("empty_transcript")
            continue
        raw = row.get(source.units_field)
        if raw is None or len(raw) == 0:
            summary.drop("empty_units")
            continue
        units = unit_text(
            raw, num_units=vocab.num_units, unit_format=vocab.unit_format, example_id=example_id
        )
        yield cpt_asr_text(units, str(transcript).strip())


def parallel_documents(
    rows: Iterable[Mapping[str, Any]], *, source: ParallelSource, summary: BuildSummary
) -> Iterator[str]:
    """`<Src>: …\\n<Tgt>: …` documents; rows missing either side are counted as dropped."""
    source_field = source.source_field or source.source_lang
    target_field = source.target_field or source.target_lang
    for row in rows:
        summary.rows_read += 1
        src, tgt = row.get(source_field), row.get(target_field)
        if not src or not tgt or not str(src).strip() or not str(tgt).strip():
            summary.drop("empty_text")
            continue
        yield cpt_parallel_text(
            str(src).strip(), str(tgt).strip(), source.source_lang, source.target_lang
        )


def monolingual_documents(
    rows: Iterable[Mapping[str, Any]], *, source: TextSource, summary: BuildSummary
) -> Iterator[str]:
    """Plain-text documents; empty ones are counted as dropped."""
    for row in rows:
        summary.rows_read += 1
        text = row.get(source.text_field)
        if text is None or not str(text).strip():
            summary.drop("empty_text")
            continue
        yield str(text)


class _TokenStream:
    """Documents tokenized `batch` at a time; remembers what it read ahead."""

    def __init__(self, texts: Iterable[str], tokenizer: Any, *, add_eos: bool, batch: int) -> None:
        self._texts = iter(texts)
        self._tokenizer = tokenizer
        self._eos = [tokenizer.eos_token_id] if add_eos else []
        self._batch = max(int(batch), 1)
        self._ready: deque[list[int]] = deque()

    def __iter__(self) -> Iterator[list[int]]:
        return self

    def __next__(self) -> list[int]:
        if not self._ready:
            texts = list(islice(self._texts, self._batch))
            if not texts:
                raise StopIteration
            encoded = encode_batch(texts, self._tokenizer)
            self._ready.extend(list(ids) + self._eos for ids, _ in encoded)
        return self._ready.popleft()

    @property
    def read_ahead(self) -> int:
        """Documents tokenized but not yet taken."""
        return len(self._ready)


def _mixed(
    streams: Mapping[str, Iterator[list[int]]],
    weights: Mapping[str, float],
    config: CptDataConfig,
    summary: BuildSummary,
) -> Iterator[list[int]]:
    """Interleave documents so each category's tokens track its share (largest deficit first)."""
    active = dict(streams)
    emitted = dict.fromkeys(streams, 0)
    total = 0
    while active:
        if config.max_tokens is not None and total >= config.max_tokens:
            return
        name = min(active, key=lambda c: (emitted[c] / weights[c], list(streams).index(c)))
        ids = next(active[name], None)
        if ids is None:
            del active[name]
            if config.stop == "first_exhausted":
                return
            continue
        pieces = [ids]  # "split" cuts at row ends later, while packing
        if len(ids) > config.seq_len and config.long_documents != "split":
            # A cut ASR pair would train its transcript without the audio before the cut.
            if config.long_documents == "drop" or name == "speech":
                summary.drop("too_long")
                continue
            pieces = [ids[i : i + config.seq_len] for i in range(0, len(ids), config.seq_len)]
        summary.keep(name, len(ids))
        emitted[name] += len(ids)
        total += len(ids)
        yield from pieces


def cpt_rows(
    streams: Mapping[str, Iterable[str]],
    tokenizer: Any,
    config: CptDataConfig,
    summary: BuildSummary,
    *,
    stats: PackStats | None = None,
) -> Iterator[dict[str, Any]]:
    """Packed rows from per-category document streams (names as in `config.proportions`)."""
    for name in config.proportions:
        if name not in CATEGORIES:
            raise ConfigError(
                f"proportions.{name}", f"is not a category; fix: use {', '.join(CATEGORIES)}"
            )
    weights = {name: float(config.proportions.get(name, 0.0)) for name in streams}
    for name, weight in weights.items():
        if weight <= 0:
            raise ConfigError(
                f"proportions.{name}", f"must be > 0 for a category with sources, but is {weight}"
            )
    tokenized = {
        name: _TokenStream(texts, tokenizer, add_eos=config.add_eos, batch=config.tokenize_batch)
        for name, texts in streams.items()
    }
    documents = _mixed(tokenized, weights, config, summary)
    documents = _then(documents, lambda: _account_read_ahead(tokenized.values(), summary))
    pad_id = (
        tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    )
    if config.long_documents == "split":
        yield from concat_and_split(
            documents,
            seq_len=config.seq_len,
            pad_id=pad_id,
            stats=stats,
            drop_last=config.drop_last,
        )
    else:
        examples = ((ids, list(ids)) for ids in documents)
        yield from pack_examples(examples, seq_len=config.seq_len, pad_id=pad_id, stats=stats)


def _category_streams(
    config: CptDataConfig, vocab: VocabInfo, summary: BuildSummary
) -> dict[str, Iterator[str]]:
    def speech(source: SpeechSource) -> Iterator[str]:
        joined = read_transcripts(source.transcripts) if source.transcripts else None
        rows = read_records(source.path)
        yield from speech_documents(
            rows, source=source, vocab=vocab, summary=summary, transcripts=joined
        )

    def parallel(source: ParallelSource) -> Iterator[str]:
        yield from parallel_documents(read_records(source.path), source=source, summary=summary)

    def monolingual(source: TextSource) -> Iterator[str]:
        yield from monolingual_documents(read_records(source.path), source=source, summary=summary)

    makers = {"speech": speech, "parallel": parallel, "monolingual": monolingual}
    return {
        name: round_robin([makers[name](source) for source in getattr(config, name)])
        for name in CATEGORIES
        if getattr(config, name)
    }


def round_robin(streams: list[Iterator[str]]) -> Iterator[str]:
    """One document from each source in turn; an exhausted source drops out.

    Chaining them instead would let the mix stop before the later sources were reached: the
    miniature's CPT listed en->de before en->fr, and its text share ran out inside en->de, so
    the model saw no French text at all. Round robin is also `datasets.interleave_datasets`'
    default, so a mix stopped early holds a like share of every source."""
    active = deque(iter(stream) for stream in streams)
    while active:
        stream = active.popleft()
        document = next(stream, None)
        if document is None:
            continue
        yield document
        active.append(stream)


def build_cpt(config: CptDataConfig, out_dir: str | Path, *, progress: bool = True) -> BuildSummary:
    """Build the CPT dataset into `out_dir` (dataset + summary.json); return the summary."""
    from transformers import AutoTokenizer

    started = time.perf_counter()
    vocab = vocab_info(config.tokenizer)
    tokenizer = AutoTokenizer.from_pretrained(config.tokenizer)
    summary = BuildSummary(kind="cpt", seq_len=config.seq_len, packed=True)
    streams = _category_streams(config, vocab, summary)
    if not streams:
        raise ConfigError(
            "speech",
            "at least one of speech, parallel, monolingual must list a source, but none does",
        )
    stats = PackStats()
    rows = cpt_rows(streams, tokenizer, config, summary, stats=stats)
    if not config.unit_loss:
        rows = without_unit_loss(rows, range(vocab.first_unit_id, vocab.first_unit_id + vocab.num_units))
    write_rows(rows, out_dir, progress=progress)
    summary.sequences, summary.tokens, summary.padding_tokens = (
        stats.rows,
        stats.tokens,
        stats.padding,
    )
    summary.elapsed_s = round(time.perf_counter() - started, 3)
    summary.save(Path(out_dir) / "summary.json")
    return summary


def without_unit_loss(rows: Iterable[dict[str, Any]], unit_ids: range) -> Iterator[dict[str, Any]]:
    """Rows whose unit tokens carry no loss (label -100); every other label is kept.

    >>> next(without_unit_loss([{"input_ids": [1, 7, 8, 2], "labels": [1, 7, 8, 2]}], range(5, 10)))["labels"]
    [1, -100, -100, 2]
    """
    for row in rows:
        labels = [IGNORE_INDEX if token in unit_ids else label
                  for token, label in zip(row["input_ids"], row["labels"])]
        yield {**row, "labels": labels}


def _then(items: Iterator[list[int]], finish: Any) -> Iterator[list[int]]:
    yield from items
    finish()


def _account_read_ahead(streams: Iterable[_TokenStream], summary: BuildSummary) -> None:
    """Documents read ahead but not needed when the mix stopped are counted, not lost."""
    for stream in streams:
        for _ in range(stream.read_ahead):
            summary.drop("mix_stopped")
