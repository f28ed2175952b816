"""`spire transcribe`: speech files -> English text, one line (or JSON object) per file.

    spire transcribe --model runs/it clip1.wav clip2.flac
    spire transcribe --model runs/it --format jsonl --num-beams 4 *.wav > out.jsonl

Also holds the pieces `spire translate` and `spire eval` share (model and decoding options).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """--model, --extractor, --device, --dtype, --backend."""
    parser.add_argument("--model", required=True, help="folder of the extended (trained) model")
    parser.add_argument(
        "--extractor",
        help="unit extractor folder (default: MODEL/extractor or the one recorded in config.spire)",
    )
    parser.add_argument("--device", help="cpu, cuda, cuda:1 … (default: cuda when available)")
    parser.add_argument("--dtype", help="float32, bfloat16 … (default: as saved)")
    parser.add_argument(
        "--backend",
        choices=("transformers", "vllm"),
        default="transformers",
        help="generation backend; vllm needs `pip install vllm` and a CUDA GPU (greedy only)",
    )


def add_decoding_arguments(parser: argparse.ArgumentParser, *, audio: bool = True) -> None:
    """--batch-size, --num-beams, --max-new-tokens (and --max-chunk-s for audio)."""
    parser.add_argument("--batch-size", type=int, default=8, help="prompts generated together")
    parser.add_argument(
        "--num-beams", type=int, default=1, help="beam width (1 = greedy, the paper's)"
    )
    parser.add_argument(
        "--max-new-tokens", type=int, default=256, help="per prompt (the paper's 256)"
    )
    if audio:
        parser.add_argument(
            "--max-chunk-s", type=float, default=20.0, help="cut longer audio at quiet points"
        )


def decoding_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    out = {
        "batch_size": args.batch_size,
        "num_beams": args.num_beams,
        "max_new_tokens": args.max_new_tokens,
    }
    if hasattr(args, "max_chunk_s"):
        out["max_chunk_s"] = args.max_chunk_s
    return out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser)
    add_decoding_arguments(parser)
    add_output_arguments(parser)


def add_output_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "files", nargs="+", metavar="FILE", help="audio files (wav, flac, ogg, mp3)"
    )
    parser.add_argument("--format", choices=("text", "jsonl"), default="text", help="output format")
    parser.add_argument("--output", "-o", help="write here instead of standard output")


def check_files(files: list[str]) -> None:
    """Fail on a missing file before spending time on loading the model."""
    from units.errors import AudioError

    for name in files:
        if not Path(name).is_file():
            raise AudioError(name, "the file must exist, but does not; fix: check the path")


def load_model(args: argparse.Namespace):
    from spire.inference.model import SpireModel

    return SpireModel.from_pretrained(
        args.model, args.extractor, device=args.device, dtype=args.dtype, backend=args.backend
    )


def write_results(args: argparse.Namespace, results: list[Any]) -> None:
    lines = []
    for name, result in zip(args.files, results):
        if args.format == "text":
            lines.append(" ".join(result.text.split()))
        else:
            record = {
                "file": name,
                "text": result.text,
                "task": result.task,
                "language": result.language,
                "duration_s": result.duration_s,
                "num_chunks": result.num_chunks,
                "decoding": result.decoding.as_dict(),
            }
            lines.append(json.dumps(record, ensure_ascii=False))
    text = "\n".join(lines) + "\n"
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)


def run(args: argparse.Namespace) -> int:
    check_files(args.files)
    model = load_model(args)
    results = model.transcribe(list(args.files), **decoding_kwargs(args))
    write_results(args, results)
    return 0
