"""`spire transcribe`: speech files -> English text, one line (or JSON object) per file.

    spire transcribe --model runs/it clip1.wav clip2.flac
    spire transcribe --model runs/it --format jsonl --num-beams 4 clips/ -o out/clips.jsonl
    spire transcribe --model runs/it test.jsonl saved_dataset:test audiofolder/ --audio-column audio

A folder stands for the audio files under it (sorted by path); a manifest, saved dataset or
audiofolder for its rows (`spire.inference.sources`; outputs named `SOURCE#ID`). A file that
cannot be read or turned into units gets an error entry (an empty line in text output; `"error"`
in JSONL, and a line on stderr) while the others get their text; the exit code is then 2.

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
        help="unit extractor folder (default: MODEL/extractor; required for a released SPIRE "
        "model, which has no config.spire)",
    )
    parser.add_argument(
        "--check-compatible",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="refuse an extractor whose k-means cannot be checked against its featurizer (no "
        "provenance, or a forced pairing); --no-check-compatible uses it with a warning",
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
            "--max-chunk-s",
            type=float,
            default=8.0,
            help="longest piece audio is read in: longer audio is cut at its pauses (speech "
            "detection), speech without a pause at its quietest points",
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
        "files",
        nargs="+",
        metavar="FILE",
        help="audio files (wav, flac, ogg, mp3), folders of them, JSONL/TSV manifests, saved "
        "datasets (DIR or DIR:SPLIT) or audiofolders (a folder with metadata.csv/jsonl)",
    )
    parser.add_argument("--split", help="split of a saved dataset or audiofolder (default: test, or the only one)")
    parser.add_argument(
        "--audio-column", help="audio column of a dataset or manifest (default: the Audio column, else audio)"
    )
    parser.add_argument("--format", choices=("text", "jsonl"), default="text", help="output format")
    parser.add_argument("--output", "-o", help="write here instead of standard output")
    from spire.commands.outputs import add_file_output_arguments

    add_file_output_arguments(parser)


def collect_inputs(args: argparse.Namespace) -> tuple[list[str], list[Any]]:
    """(names, audio sources) of the FILE arguments: audio files and folders of them by path;
    manifests, saved datasets and audiofolders row by row, named `SOURCE#ID`. Everything is
    listed (audio undecoded) before the model loads, so a wrong path fails at once."""
    from spire.inference.sources import read_rows, source_kind

    names: list[str] = []
    sources: list[Any] = []
    for name in args.files:
        listed = Path(name).exists() or Path(name.rpartition(":")[0]).is_dir()  # DIR:SPLIT
        if listed and source_kind(name) in ("jsonl", "tsv", "dataset", "audiofolder"):
            rows = read_rows(name, split=args.split, audio_column=args.audio_column)
            names += [f"{name}#{row.id}" for row in rows]
            sources += [row.audio for row in rows]
        else:
            files = check_files([name])
            names += files
            sources += files
    return names, sources


def check_files(files: list[str]) -> list[str]:
    """The audio files to read, folders expanded (sorted); fails on a missing path before the
    model is loaded."""
    from spire.inference.inputs import audio_files
    from units.errors import AudioError

    out = []
    for name in files:
        path = Path(name)
        if path.is_dir():
            found = audio_files(path)
            if not found:
                raise AudioError(
                    name, "a folder must hold audio files (wav, flac, ogg, mp3 …), but this one "
                    "holds none; fix: check the path"
                )
            out += [str(p) for p in found]
        elif path.is_file():
            out.append(name)
        else:
            raise AudioError(name, "the file must exist, but does not; fix: check the path")
    return out


def check_output(output: str | None) -> None:
    """Refuse an output path that is a folder before the model is loaded."""
    from spire.errors import SpireError

    if output and Path(output).is_dir():
        raise SpireError(
            f"--output must be a file path, but {output} is a folder; fix: name a file in it, "
            f"e.g. {Path(output) / 'transcripts.txt'}"
        )


def load_model(args: argparse.Namespace):
    from spire.inference.model import SpireModel

    return SpireModel.from_pretrained(
        args.model,
        args.extractor,
        device=args.device,
        dtype=args.dtype,
        backend=args.backend,
        check_compatible=args.check_compatible,
    )


def write_results(args: argparse.Namespace, results: list[Any]) -> int:
    """Write one line per file (or one file per input, `spire.commands.outputs`); report failed
    files on stderr; return the exit code."""
    from spire.commands.outputs import wants_files, write_files

    if wants_files(args):
        return write_files(args, args.files, results)
    lines, failed = [], 0
    for name, result in zip(args.files, results):
        if result.error is not None:
            failed += 1
            print(f"error: {result.error}", file=sys.stderr)
        if args.format == "text":
            lines.append(" ".join(result.text.split()))
        elif result.error is not None:
            lines.append(json.dumps({"file": name, "error": result.error}, ensure_ascii=False))
        else:
            record = {
                "file": name,
                "text": result.text,
                "task": result.task,
                "language": result.language,
                "duration_s": result.duration_s,
                "num_chunks": result.num_chunks,
                "segments": [
                    {"start_s": s.start_s, "end_s": s.end_s, "text": s.text} for s in result.segments
                ],
                "decoding": result.decoding.as_dict(),
            }
            lines.append(json.dumps(record, ensure_ascii=False))
    text = "\n".join(lines) + "\n"
    if args.output:
        from units.files import atomic_open

        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        with atomic_open(args.output, "w") as handle:
            handle.write(text)
    else:
        sys.stdout.write(text)
    if failed:
        print(f"error: {failed} of {len(results)} files gave no text (see above)", file=sys.stderr)
    return 2 if failed else 0


def run(args: argparse.Namespace) -> int:
    from spire.commands.outputs import check_file_output

    args.files, sources = collect_inputs(args)
    check_output(args.output)
    check_file_output(args)
    model = load_model(args)
    results = model.transcribe(sources, on_error="keep", **decoding_kwargs(args))
    return write_results(args, results)
