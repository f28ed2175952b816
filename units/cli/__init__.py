"""`spire units …`: corpus-scale unit extraction (sample-features, fit-kmeans, label, import-kmeans, make-extractor, fit-vtln).

    spire units sample-features --manifest corpus/ --featurizer mfcc --out feats.npy --max-hours 100
    spire units fit-kmeans --features feats.npy --k 5000 --out kmeans/
    spire units label --manifest corpus.jsonl --featurizer mfcc --kmeans kmeans/ --out units/
    spire units fit-vtln --manifest corpus.jsonl --out mfcc_vtln/   # then --featurizer mfcc_vtln/

One module per subcommand, each with `add_arguments(parser)` and `run(args) -> int`; their flags
come from the config dataclasses (`units.cli.flags`), so names, defaults and help have one
source. User errors raise `UnitsError` subclasses, which `spire` turns into exit code 2. Heavy
libraries load inside the commands, so `--help` stays instant.
"""

from __future__ import annotations

import argparse
import importlib

from units.cli.flags import HelpFormatter
from units.cli.options import UsageError

__all__ = ["COMMANDS", "UsageError", "add_arguments", "run"]

# name -> (module, one-line help), in pipeline order.
COMMANDS: dict[str, tuple[str, str]] = {
    "fit-vtln": (
        "units.cli.fit_vtln",
        "an MFCC featurizer with one frequency warp per utterance (VTLN), fit on a corpus",
    ),
    "sample-features": (
        "units.cli.sample_features",
        "a random sample of frames for k-means training",
    ),
    "fit-kmeans": ("units.cli.fit_kmeans", "fit and save the k-means quantizer; report its fit"),
    "import-kmeans": (
        "units.cli.import_kmeans",
        "convert a joblib-pickled scikit-learn k-means (e.g. SPIRE's release) once into our format",
    ),
    "make-extractor": (
        "units.cli.make_extractor",
        "save featurizer + k-means as one UnitExtractor folder",
    ),
    "label": ("units.cli.label", "corpus -> unit sequences, sharded and resumable"),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the `spire units` subcommands (one parser each, defaults shown in `--help`)."""
    sub = parser.add_subparsers(dest="units_command", metavar="COMMAND", required=True)
    for name, (module_name, help_text) in COMMANDS.items():
        module = importlib.import_module(module_name)
        command = sub.add_parser(
            name, help=help_text, description=help_text, formatter_class=HelpFormatter
        )
        module.add_arguments(command)


def run(args: argparse.Namespace) -> int:
    """Run the chosen `spire units` command; returns the exit code."""
    module_name, _ = COMMANDS[args.units_command]
    return int(importlib.import_module(module_name).run(args) or 0)
