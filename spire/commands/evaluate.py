"""`spire eval`: score a model on a manifest, saved dataset or audiofolder; writes JSON + Markdown.

    spire eval --model runs/it --data test.jsonl --task asr
    spire eval --model runs/it --data fleurs_de/ --task st --to German --comet-model wmt22-comet-da/
    spire eval --model runs/it --data flores.jsonl --task mt --src English --to German
    spire eval --model runs/it --data my_clips/ --task asr --ref-column transcription   # audiofolder

ASR reports WER and CER (after Whisper's English normalizer); ST and MT report BLEU and chrF
(sacreBLEU, signatures recorded) and COMET when `unbabel-comet` and a local model are there.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from spire.commands.transcribe import (
    add_decoding_arguments,
    add_model_arguments,
    decoding_kwargs,
    load_model,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser)
    parser.add_argument(
        "--data",
        required=True,
        help="JSONL or TSV (+ .wrd) manifest, saved datasets folder (DIR or DIR:SPLIT), or "
        "audiofolder (a folder with metadata.csv/jsonl)",
    )
    parser.add_argument("--task", required=True, choices=("asr", "st", "mt"))
    parser.add_argument("--to", default="German", help="target language for st/mt (name or code)")
    parser.add_argument("--src", default="English", help="source language for mt (name or code)")
    parser.add_argument(
        "--ref-column", help="reference column (default: text for asr, the target code)"
    )
    parser.add_argument(
        "--source-column", help="source-text column (default: the source code or text)"
    )
    parser.add_argument(
        "--audio-column", help="audio column (default: the dataset's Audio column, else audio)"
    )
    parser.add_argument("--split", help="split of a saved DatasetDict or audiofolder (default: test)")
    parser.add_argument("--limit", type=int, help="evaluate only the first N examples")
    parser.add_argument("--comet-model", help="local COMET checkpoint folder (needs unbabel-comet)")
    parser.add_argument("--out", default="eval", help="folder for report.json and report.md")
    add_decoding_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from spire.evaluation.evaluator import evaluate, read_eval_data
    from spire.prompts import resolve_language

    language = resolve_language(args.to)
    source = resolve_language(args.src)
    examples = read_eval_data(
        args.data,
        task=args.task,
        language=language,
        source_language=source,
        reference_column=args.ref_column,
        source_column=args.source_column,
        audio_column=args.audio_column,
        split=args.split,
        limit=args.limit,
    )
    model = load_model(args)
    kwargs = decoding_kwargs(args)
    if args.task == "mt":
        kwargs.pop("max_chunk_s", None)
    report = evaluate(
        model,
        examples,
        task=args.task,
        language=language,
        source_language=source,
        comet_model=args.comet_model,
        data_info={"path": str(Path(args.data)), "split": args.split, "limit": args.limit},
        **kwargs,
    )
    stem = args.task if args.task == "asr" else f"{args.task}-{language.lower()}"
    json_path, md_path = report.save(args.out, stem=f"report-{stem}")
    for score in report.scores:
        print(f"{score.name}\t{score.value:.2f}\t{score.signature}")
    for note in report.notes:
        print(f"note: {note}")
    print(f"report: {json_path} {md_path}")
    return 0
