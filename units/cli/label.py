"""`spire units label`: corpus -> unit sequences, sharded and resumable.

    spire units label --manifest corpus.jsonl --featurizer mfcc --kmeans kmeans/ --out units/
    torchrun --nproc_per_node 8 -m units label --manifest m.tsv --extractor extractor/ --out units/

Killed at any point, the same command resumes; `units.corpus.read_labelled(out)` reads the result.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from units.cli.flags import add_dataclass_flags, config_from_args
from units.cli.options import (
    add_featurizer_flags,
    add_manifest_flag,
    build_extractor,
    check_manifest,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from units.corpus.labelling import LabelConfig
    from units.corpus.output import FORMATS

    add_manifest_flag(parser)
    parser.add_argument("--out", required=True, help="output folder")
    add_featurizer_flags(parser, with_kmeans=True)
    add_dataclass_flags(
        parser.add_argument_group("labelling"), LabelConfig, choices={"format": tuple(FORMATS)}
    )


def run(args: argparse.Namespace) -> int:
    from units.corpus.labelling import LabelConfig, label_corpus, print_summary
    from units.files import read_json

    check_manifest(args)
    extractor = build_extractor(args)
    summary = label_corpus(
        args.manifest, extractor, args.out, config=config_from_args(LabelConfig, args)
    )
    print_summary(summary, file=sys.stdout)
    if summary.complete:
        path = Path(args.out) / "summary.json"
        total = read_json(path)
        print(
            f"all {summary.num_shards} shards done: ok {total['ok']} + rejected {total['rejected']} "
            f"= total {total['total']}; {total['audio_hours']:.4f} h; see {path}"
        )
    return 0
