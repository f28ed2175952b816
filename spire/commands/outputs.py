"""One output file per input for `spire transcribe` and `spire translate` (`--output-dir`,
`--output-format txt|jsonl|srt|vtt`), as whisper writes them.

    spire transcribe --model demo_out/it/model talk.wav --output-format srt --output-dir subs/

writes `subs/talk.srt` and prints `talk.wav -> subs/talk.srt`. Each file holds the result's
segments (`spire.inference.subtitles`); a row of a manifest or dataset is named after its id. An
input that gives no text because of an error gets no file, a line on stderr, and exit code 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from spire.errors import SpireError
from spire.inference.subtitles import FORMATS, output_paths, write_cues


def add_file_output_arguments(parser: argparse.ArgumentParser) -> None:
    """--output-format and --output-dir."""
    parser.add_argument(
        "--output-format",
        choices=FORMATS,
        help="write one file per input in this format, named after it (srt/vtt subtitles, "
        "txt, jsonl of timed segments) into --output-dir (default: the current folder)",
    )
    parser.add_argument(
        "--output-dir",
        help="folder for one output file per input (default format: txt); created if missing",
    )


def wants_files(args: argparse.Namespace) -> bool:
    """Whether one file per input was asked for."""
    return bool(getattr(args, "output_format", None) or getattr(args, "output_dir", None))


def check_file_output(args: argparse.Namespace) -> None:
    """Refuse clashing output options before the model is loaded."""
    if not wants_files(args):
        return
    if getattr(args, "output", None):
        raise SpireError(
            f"--output must not be given with --output-dir/--output-format, but is {args.output}; "
            "fix: --output writes one stream for all inputs, --output-dir one file per input: "
            "pass one of them"
        )
    if getattr(args, "format", "text") != "text":
        raise SpireError(
            f"--format must be left out with --output-dir/--output-format, but is {args.format}; "
            f"fix: pass --output-format {args.format} for one {args.format} file per input"
        )
    folder = Path(args.output_dir or ".")
    if folder.exists() and not folder.is_dir():
        raise SpireError(
            f"--output-dir must be a folder, but {folder} is a file; fix: name a folder"
        )


def write_files(args: argparse.Namespace, names: list[str], results: list[Any]) -> int:
    """Write each result's segments to its own file; print `input -> file`; return the exit code."""
    format = args.output_format or "txt"
    folder = Path(args.output_dir or ".")
    folder.mkdir(parents=True, exist_ok=True)
    paths = output_paths([_file_name(name) for name in names], folder, format)
    failed = 0
    for name, result, path in zip(names, results, paths):
        if result.error is not None:
            failed += 1
            print(f"error: {result.error}", file=sys.stderr)
            continue
        write_cues(result.segments, path, format)
        print(f"{name} -> {path}")
    if failed:
        print(f"error: {failed} of {len(results)} inputs gave no file (see above)", file=sys.stderr)
    return 2 if failed else 0


def _file_name(name: str) -> str:
    """What an output file is named after: the audio file, or the id of a row (`SOURCE#ID`)."""
    if "#" in name and not Path(name).exists():
        row_id = name.rpartition("#")[2].replace("/", "_").replace("\\", "_")
        return f"{row_id or 'row'}.row"  # a suffix for output_paths to drop, so dots in ids stay
    return name
