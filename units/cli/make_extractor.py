"""`spire units make-extractor`: save a featurizer and a k-means as one UnitExtractor folder.

    spire units make-extractor --featurizer checkpoints/hubert-large-ll60k --layer 22 \
        --kmeans kmeans/ --out extractor/

A k-means fit on other features (another encoder, layer or dimension) is refused unless `--force`
(or `--no-check-compatible`, its name in the other commands).
"""

from __future__ import annotations

import argparse

from units.cli.options import UsageError, add_featurizer_flags, build_extractor


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out", required=True, help="output folder (extractor.json, featurizer, kmeans/)"
    )
    add_featurizer_flags(parser, with_kmeans=True)
    parser.add_argument(
        "--force",
        action="store_true",
        help="skip the featurizer/k-means provenance check (a k-means fit on other features)",
    )


def run(args: argparse.Namespace) -> int:
    if args.extractor is not None or args.kmeans is None or args.featurizer is None:
        raise UsageError(
            "make-extractor needs --featurizer and --kmeans DIR (not --extractor); fix: pass both"
        )
    extractor = build_extractor(args, check_compatible=not args.force)
    out = extractor.save_pretrained(args.out)
    print(f"saved extractor ({extractor.quantizer.k} units, {extractor.unit_format}) -> {out}")
    return 0
