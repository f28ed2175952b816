"""`spire translate`: speech files -> text in another language (speech translation).

spire translate --model runs/it --to German clip1.wav clip2.flac
spire translate --model runs/it --to fr --format jsonl *.wav > out.jsonl
"""

from __future__ import annotations

import argparse

from spire.commands.transcribe import (
    add_decoding_arguments,
    add_model_arguments,
    add_output_arguments,
    check_output,
    collect_inputs,
    decoding_kwargs,
    load_model,
    write_results,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser)
    parser.add_argument(
        "--to", default="German", help="target language, name or code (default German)"
    )
    add_decoding_arguments(parser)
    add_output_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from spire.prompts import resolve_language

    language = resolve_language(args.to)  # an unknown language fails before any loading
    from spire.commands.outputs import check_file_output

    args.files, sources = collect_inputs(args)
    check_output(args.output)
    check_file_output(args)
    model = load_model(args)
    results = model.translate(sources, to=language, on_error="keep", **decoding_kwargs(args))
    return write_results(args, results)
