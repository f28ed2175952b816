"""`spire export`: an adapted model -> a folder a CPU engine runs (CTranslate2 int8 and others).

    spire export --model runs/it --out exports/it-int8
    spire export --model runs/it --format ct2 --quant int8_float32 --out exports/it-i8f32
    spire transcribe --model exports/it-int8 clip.wav

The folder holds the engine files, the tokenizer (every unit still one token, checked), the
chat template, config.json with the unit metadata, and the unit extractor: it works alone.
Needs the `cpu-infer` extra: pip install 'spire-speech[cpu-infer]'.
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from spire.inference.engines.manifest import QUANTS

    parser.add_argument("--model", required=True, help="folder of the trained (extended) model")
    parser.add_argument("--out", required=True, help="folder to write (new, empty or an export)")
    parser.add_argument(
        "--format", default="ct2", help=f"engine format: {', '.join(sorted(QUANTS))}"
    )
    parser.add_argument(
        "--quant",
        default="int8",
        help="weights: " + "; ".join(f"{k}: {', '.join(v)}" for k, v in QUANTS.items()),
    )
    parser.add_argument(
        "--extractor", help="unit extractor folder to carry (default: MODEL/extractor)"
    )
    parser.add_argument("--force", action="store_true", help="replace an earlier export in --out")


def run(args: argparse.Namespace) -> int:
    from spire.export.api import export_model

    result = export_model(
        args.model,
        args.out,
        format=args.format,
        quant=args.quant,
        extractor_dir=args.extractor,
        overwrite=args.force,
    )
    manifest = result.manifest
    print(
        f"exported {args.model} -> {result.out_dir} ({manifest.format}, {manifest.quant}): "
        f"{manifest.num_parameters / 1e6:.1f}M parameters, engine files "
        f"{manifest.engine_bytes / 2**20:.1f} MiB, {result.num_units} unit tokens checked, "
        f"{result.seconds:.1f} s"
    )
    return 0
