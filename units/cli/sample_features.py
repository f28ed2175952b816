"""`spire units sample-features`: a random sample of feature frames for k-means training.

    spire units sample-features --manifest corpus/ --featurizer mfcc --out feats.npy --max-hours 100

Writes the frames as a .npy and, beside it, a .json of counts and the featurizer's provenance.
"""

from __future__ import annotations

import argparse

from units.cli.flags import add_dataclass_flags, config_from_args
from units.cli.options import (
    add_featurizer_flags,
    add_manifest_flag,
    build_featurizer,
    check_manifest,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from units.corpus.sampling import SampleConfig

    add_manifest_flag(parser)
    parser.add_argument("--out", required=True, help="output .npy (a .json sidecar goes beside it)")
    add_featurizer_flags(parser, with_kmeans=False)
    add_dataclass_flags(parser.add_argument_group("sampling"), SampleConfig)


def run(args: argparse.Namespace) -> int:
    from units.corpus.sampling import SampleConfig, sample_features, save_sample

    check_manifest(args)
    featurizer = build_featurizer(args)
    config = config_from_args(SampleConfig, args)
    features, info = sample_features(args.manifest, featurizer, config=config)
    path = save_sample(args.out, features, info)
    print(
        f"sampled {info['frames_sampled']} of {info['frames_seen']} frames ({info['dim']}-dim) from "
        f"{info['utterances_used']} utterances, {info['audio_hours_used']:.4f} h; rejected "
        f"{info['rejected']}; wrote {path}"
    )
    return 0
