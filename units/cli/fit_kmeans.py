"""`spire units fit-kmeans`: fit the k-means quantizer on a feature sample and report its fit.

    spire units fit-kmeans --features feats.npy --k 5000 --out kmeans/

Writes the quantizer (kmeans.json + centroids.safetensors) and fit_report.json (inertia on
training and held-out frames, clusters used, perplexity).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from units.cli.flags import add_dataclass_flags, config_from_args


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from units.kmeans.report import FitConfig

    parser.add_argument("--features", required=True, help=".npy written by sample-features")
    parser.add_argument(
        "--out", required=True, help="output folder (kmeans.json, centroids, fit_report.json)"
    )
    add_dataclass_flags(
        parser.add_argument_group("k-means"),
        FitConfig,
        aliases={"heldout_fraction": ["--heldout"]},
        choices={"init": ("kmeans++", "random")},
    )


def run(args: argparse.Namespace) -> int:
    from units.corpus.sampling import load_sample
    from units.files import write_json
    from units.kmeans.report import FitConfig, fit_with_report

    features, info = load_sample(args.features)
    fit = fit_with_report(
        features, config_from_args(FitConfig, args), provenance=info.get("featurizer")
    )
    out = Path(args.out)
    fit.quantizer.save_pretrained(out)
    write_json(out / "fit_report.json", {**fit.report.to_dict(), "features": str(args.features)})
    print(fit.report.describe())
    print(f"wrote {out}")
    return 0
