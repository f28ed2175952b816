"""Evaluate a `SpireModel` on ASR (WER/CER), speech translation and text translation (BLEU, chrF, COMET).

Data is a JSONL manifest (one object per line: `audio` for speech tasks, reference columns
such as `text`, `de`, `fr`), a TSV manifest with its `.wrd` transcripts, a saved `datasets`
folder or an audiofolder with the same columns, or a `datasets.Dataset` in memory. The result is
an `EvalReport` recording model, data, decoding settings, scores and timing.

>>> model = SpireModel.from_pretrained("runs/it")                              # doctest: +SKIP
>>> examples = read_eval_data("fleurs_en.jsonl", task="st", language="German")  # doctest: +SKIP
>>> report = evaluate(model, examples, task="st", language="German")           # doctest: +SKIP
>>> report.save("eval/")                                                       # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

from spire import prompts
from spire.errors import DataError
from spire.evaluation.metrics import MetricUnavailableError, bleu, cer, chrf, comet, wer
from spire.evaluation.report import EvalReport

TASKS = ("asr", "st", "mt")
_TRANSCRIPT_COLUMNS = ("text", "transcript", "transcription", "sentence", "normalized_text", "en")


@dataclasses.dataclass(frozen=True)
class EvalExample:
    """One example: the input (audio source or source text), its reference and source text.

    >>> EvalExample(id="0", input="a.wav", reference="hello").source_text is None
    True
    """

    id: str
    input: Any
    reference: str
    source_text: str | None = None


def _read_rows(data: Any, split: str | None, audio_column: str | None) -> list[dict[str, Any]]:
    """Rows as dicts (`id`, `audio`, the other columns) from a path or an in-memory Dataset."""
    from spire.inference.sources import dataset_rows, read_rows

    if isinstance(data, (str, Path)):
        rows = read_rows(data, split=split, audio_column=audio_column)
    else:
        rows = dataset_rows(data, audio_column=audio_column)
    return [{**row.fields, "id": row.id, "audio": row.audio} for row in rows]


def _column(row: dict[str, Any], candidates: tuple[str, ...], what: str, where: str) -> str:
    for name in candidates:
        if row.get(name) is not None:
            return name
    raise DataError(
        f"{what} must be one of the columns {list(candidates)}, but {where} has only "
        f"{sorted(row)}; fix: add the column or pass it explicitly"
    )


def read_eval_data(
    path: Any,
    *,
    task: str,
    language: str = "German",
    source_language: str = "English",
    reference_column: str | None = None,
    source_column: str | None = None,
    audio_column: str | None = None,
    split: str | None = None,
    limit: int | None = None,
) -> list[EvalExample]:
    """Examples for `task` from a JSONL or TSV manifest, a saved dataset, an audiofolder, or an
    in-memory `datasets.Dataset` (`spire.inference.sources`; audio is never decoded here).

    References: ASR reads `text` (or transcript, sentence …); ST/MT read the target language's
    code or name (`de` / `German` / `german`). MT sources and ST transcripts (for COMET) come
    from the source language's code/name or `text`. `audio_column` names the audio column
    (default: the dataset's Audio column, else `audio`).
    """
    if task not in TASKS:
        raise DataError(f"task must be one of {TASKS}, but is {task!r}; fix: pass one of them")
    rows = _read_rows(path, split, audio_column)[: limit if limit else None]
    where = str(path) if isinstance(path, (str, Path)) else "the dataset"
    if not rows:
        raise DataError(
            f"path must hold at least one example, but {where} is empty; fix: check it"
        )

    def names(lang: str, extra: tuple[str, ...]) -> tuple[str, ...]:
        name = prompts.resolve_language(lang)
        code = next(c for c, n in prompts.LANGUAGES.items() if n == name)
        return (code, name, name.lower(), *extra)

    if task == "asr":
        refs = (reference_column,) if reference_column else _TRANSCRIPT_COLUMNS
    else:
        refs = (reference_column,) if reference_column else names(language, ("translation",))
    sources = (source_column,) if source_column else names(source_language, _TRANSCRIPT_COLUMNS)
    ref_col = _column(rows[0], refs, "the reference", where)
    src_col = None
    if task == "mt":
        src_col = _column(rows[0], sources, "the source text", where)
    elif task == "st":
        src_col = next((c for c in sources if rows[0].get(c) is not None), None)
    if task != "mt" and rows[0].get("audio") is None:
        raise DataError(
            f"the audio column must hold audio, but {where} has none in its first row (columns "
            f"{sorted(rows[0])}); fix: pass audio_column= (--audio-column) the column with the audio"
        )
    examples = []
    for index, row in enumerate(rows):
        source_text = str(row[src_col]) if src_col and row.get(src_col) is not None else None
        examples.append(
            EvalExample(
                id=str(row.get("id", index)),
                input=source_text if task == "mt" else row["audio"],
                reference=str(row.get(ref_col) or ""),
                source_text=source_text,
            )
        )
    return examples


def evaluate(
    model: Any,
    examples: list[EvalExample],
    *,
    task: str,
    language: str = "German",
    source_language: str = "English",
    batch_size: int = 8,
    num_beams: int = 1,
    max_new_tokens: int = 256,
    max_chunk_s: float = 20.0,
    comet_model: str | Path | None = None,
    data_info: dict[str, Any] | None = None,
    num_examples_shown: int = 5,
) -> EvalReport:
    """Run `model` over `examples` and score the outputs (see module docstring)."""
    decoding = {"batch_size": batch_size, "num_beams": num_beams, "max_new_tokens": max_new_tokens}
    start = time.perf_counter()
    if task == "asr":
        results = model.transcribe([e.input for e in examples], max_chunk_s=max_chunk_s, **decoding)
    elif task == "st":
        results = model.translate(
            [e.input for e in examples], to=language, max_chunk_s=max_chunk_s, **decoding
        )
    else:
        results = model.translate_text(
            [e.input for e in examples], src=source_language, tgt=language, **decoding
        )
    elapsed = time.perf_counter() - start
    hyps, refs = [r.text for r in results], [e.reference for e in examples]
    notes: list[str] = []
    if task == "asr":
        scores = [wer(hyps, refs), cer(hyps, refs)]
    else:
        target = prompts.resolve_language(language)
        scores = [bleu(hyps, refs, language=target), chrf(hyps, refs)]
        sources = [e.source_text for e in examples]
        if comet_model is None:
            notes.append("COMET not computed: no comet_model given")
        elif any(s is None for s in sources):
            notes.append("COMET not computed: the data has no source-text column")
        else:
            try:
                scores.append(comet(sources, hyps, refs, model_path=comet_model))
            except MetricUnavailableError as error:
                notes.append(f"COMET not computed: {error}")
    audio_s = sum(r.duration_s or 0.0 for r in results)
    timing = {
        "seconds": round(elapsed, 3),
        "examples_per_s": round(len(examples) / max(elapsed, 1e-9), 3),
    }
    if audio_s:
        timing |= {
            "audio_seconds": round(audio_s, 3),
            "real_time_factor": round(elapsed / audio_s, 4),
        }
    settings = results[0].decoding.as_dict() if results else decoding
    return EvalReport(
        task=task,
        model=_model_info(model),
        data={
            **(data_info or {}),
            "examples": len(examples),
            "language": "English" if task == "asr" else prompts.resolve_language(language),
            **(
                {"source_language": prompts.resolve_language(source_language)}
                if task == "mt"
                else {}
            ),
        },
        decoding={**settings, "prompt": "ChatML + SPIRE paper prompt"},
        scores=scores,
        examples=[
            {"id": e.id, "hypothesis": h, "reference": r}
            for e, h, r in list(zip(examples, hyps, refs))[:num_examples_shown]
        ],
        timing=timing,
        notes=notes,
    )


def _model_info(model: Any) -> dict[str, Any]:
    vocab = getattr(model, "units", None)
    units = vocab.to_dict() if hasattr(vocab, "to_dict") else {}
    extractor = getattr(model, "extractor", None)
    info: dict[str, Any] = {"path": str(getattr(model, "model_dir", None) or "<in memory>")}
    info["units"] = {k: v for k, v in units.items() if k != "extractor"}
    if extractor is not None and hasattr(extractor, "provenance"):
        info["extractor"] = extractor.provenance()
    return info
