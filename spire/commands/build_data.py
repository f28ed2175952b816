"""`spire build-data`: build continued-pretraining (cpt) or instruction-tuning (it) data.

    spire build-data cpt --config configs/data/cpt.yaml --out data/cpt
    spire build-data it --tokenizer spire-base --speech labels/ --out data/it st_languages=[de,fr]

The config is a YAML file of `CptDataConfig` / `ItDataConfig` fields, then `key=value`
overrides. The output folder holds the dataset (`datasets.load_from_disk`), `summary.json`
(kept/dropped counts, tokens, padding) and `config.yaml` (the resolved config).
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # One sub-parser per kind, so that `key=value` overrides may follow the options.
    kinds = parser.add_subparsers(dest="kind", metavar="{cpt,it}", required=True)
    for kind, help_text in (
        ("cpt", "continued-pretraining data"),
        ("it", "instruction-tuning data"),
    ):
        sub = kinds.add_parser(kind, help=help_text, description=help_text)
        sub.add_argument("--config", help="YAML file of data-config fields")
        sub.add_argument("--out", required=True, help="output folder")
        sub.add_argument("--tokenizer", help="extended model folder (sets `tokenizer`)")
        sub.add_argument(
            "--speech",
            action="append",
            default=[],
            help="unit manifest (repeatable; adds a speech source)",
        )
        sub.add_argument("--seq-len", type=int, help="tokens per row (sets `seq_len`)")
        sub.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True, help="show the progress bar")
        # The old spelling, kept working but not advertised.
        sub.add_argument("--quiet", dest="progress", action="store_false", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        sub.add_argument("overrides", nargs="*", help="key.sub=value overrides")


def run(args: argparse.Namespace) -> int:
    from spire.config import parse_overrides, resolve_config, save_config
    from spire.data.cpt import CptDataConfig, build_cpt
    from spire.data.instructions import ItDataConfig, build_it

    cls, build = (CptDataConfig, build_cpt) if args.kind == "cpt" else (ItDataConfig, build_it)
    overrides = parse_overrides(args.overrides)
    if args.tokenizer:
        overrides["tokenizer"] = args.tokenizer
    if args.speech:
        overrides["speech"] = [{"path": path} for path in args.speech]
    if args.seq_len:
        overrides["seq_len"] = args.seq_len
    config = resolve_config(cls, args.config, overrides)
    summary = build(config, args.out, progress=args.progress)
    save_config(config, f"{args.out}/config.yaml")
    dropped = (
        ", ".join(f"{reason} {count}" for reason, count in sorted(summary.dropped.items()))
        or "none"
    )
    print(
        f"{args.kind}: {summary.kept}/{summary.total} kept (dropped: {dropped}); {summary.sequences} rows of "
        f"{summary.seq_len}, {summary.tokens} tokens, padding {summary.padding_fraction:.1%} -> {args.out}"
    )
    return 0
