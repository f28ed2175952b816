"""`spire units import-kmeans`: convert a joblib-pickled scikit-learn k-means once into our format.

    spire units import-kmeans --sklearn kmeans_5000.pkl --trust-pickle \
        --featurizer checkpoints/hubert-large-ll60k --layer 22 --out kmeans/

Unpickling runs code from the file, so it needs `--trust-pickle`. With a featurizer, its
provenance is recorded, so that a later extractor refuses a k-means fit on other features.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from units.cli.options import UsageError, add_featurizer_flags, build_featurizer


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sklearn", required=True, help="the .pkl/.joblib file")
    parser.add_argument("--out", required=True, help="output folder (kmeans.json, centroids)")
    parser.add_argument(
        "--trust-pickle",
        action="store_true",
        help="required: unpickling runs code from the file; pass it only for files you trust",
    )
    add_featurizer_flags(parser, with_kmeans=False)


def run(args: argparse.Namespace) -> int:
    from units.errors import UntrustedFileError
    from units.kmeans.quantizer import KMeansQuantizer

    if not Path(args.sklearn).is_file():
        raise UsageError(
            f"--sklearn must be an existing file, but {args.sklearn} is not; fix: check the path"
        )
    if not args.trust_pickle:
        raise UntrustedFileError(
            f"--trust-pickle must be given to load {args.sklearn}, but is not: a pickle (joblib) "
            "file can run arbitrary code when loaded; fix: if you trust where it came from, add "
            "--trust-pickle (the output is then in the safe format)"
        )
    provenance = (
        build_featurizer(args).provenance() if (args.featurizer or args.extractor) else None
    )
    quantizer = KMeansQuantizer.from_sklearn(args.sklearn, trust=True, provenance=provenance)
    quantizer.save_pretrained(args.out)
    note = "" if provenance else " (no --featurizer given: provenance not recorded)"
    print(f"imported k={quantizer.k} dim={quantizer.dim} from {args.sklearn} -> {args.out}{note}")
    return 0
