"""`spire units fit-kmeans`: fit the k-means quantizer on a feature sample and report its fit.

    spire units fit-kmeans --features feats.npy --k 5000 --out kmeans/

Writes the quantizer (kmeans.json + centroids.safetensors) and fit_report.json (inertia on
training and held-out frames, clusters used, perplexity). The quantizer records the featurizer
named in the features' .json sidecar; features without one need `--no-provenance`.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from units.cli.flags import add_dataclass_flags, config_from_args

logger = logging.getLogger(__name__)


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
    parser.add_argument(
        "--no-provenance",
        action="store_true",
        help="fit features that have no .json sidecar (no record of their featurizer): the k-means "
        "then records none, and extractors built with it need --no-check-compatible",
    )


def run(args: argparse.Namespace) -> int:
    from units.cli.options import UsageError
    from units.corpus.sampling import load_sample, sidecar_path
    from units.files import write_json
    from units.kmeans.report import FitConfig, fit_with_report

    features, info = load_sample(args.features)
    provenance = info.get("featurizer")
    if provenance is None:
        side = sidecar_path(Path(args.features))
        if not args.no_provenance:
            raise UsageError(
                f"--features must come with its .json sidecar naming the featurizer they came from "
                f"(so that extractors can check the pairing), but {side} "
                f"{'has no featurizer' if side.is_file() else 'does not exist'}; fix: sample them "
                "with `spire units sample-features` (it writes the sidecar), or pass --no-provenance "
                "to fit a k-means that records no featurizer"
            )
        logger.warning(
            "--no-provenance: %s has no featurizer record; the k-means records none, so extractors "
            "using it cannot be checked (they need --no-check-compatible)", args.features,
        )
    fit = fit_with_report(features, config_from_args(FitConfig, args), provenance=provenance)
    out = Path(args.out)
    fit.quantizer.save_pretrained(out)
    write_json(out / "fit_report.json", {**fit.report.to_dict(), "features": str(args.features)})
    print(fit.report.describe())
    print(f"wrote {out}")
    return 0
