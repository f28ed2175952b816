"""Options shared by the `spire units` commands: the manifest, the featurizer (or a saved
extractor), the k-means and unit format, the device; and the builders that turn them into objects.

    --featurizer mfcc | FOLDER_WITH_featurizer.json | TRANSFORMERS_CHECKPOINT [--layer 22]
    --extractor SAVED_EXTRACTOR          (instead of --featurizer and --kmeans)
"""

from __future__ import annotations

import argparse
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from units.cli.flags import add_dataclass_flags, config_from_args
from units.errors import QuantizerMismatchError, UnitsError

logger = logging.getLogger(__name__)


class UsageError(UnitsError):
    """Command-line options that do not fit together."""


@dataclass(frozen=True, kw_only=True)
class FeaturizerOptions:
    """Which featurizer the command uses, and where it runs."""

    extractor: str | None = None
    """Folder of a saved UnitExtractor (instead of --featurizer and --kmeans)."""
    featurizer: str | None = None
    """"mfcc", a folder with a featurizer.json, or a transformers checkpoint folder."""
    layer: int = 22
    """Encoder layer of a transformers checkpoint (SPIRE: 22)."""
    dtype: Literal["float32", "bfloat16"] = "float32"
    """Encoder weights' dtype."""
    device: str | None = None
    """Torch device; default: cuda:LOCAL_RANK when CUDA is available, else the CPU."""
    check_compatible: bool = True
    """Refuse an extractor whose k-means was fit on other features than its featurizer's (or
    saved as such); --no-check-compatible uses it anyway, with a warning."""


@dataclass(frozen=True, kw_only=True)
class QuantizerOptions:
    """The k-means and how its ids become text."""

    kmeans: str | None = None
    """Folder of a saved KMeansQuantizer (used with --featurizer)."""
    dedup: bool = True
    """Collapse runs of the same unit into one (--no-dedup keeps every frame's unit)."""
    unit_format: str = "pua"
    """Unit text: "pua" (one private-use character per unit) or "extra_id" (<extra_id_i>)."""


def add_manifest_flag(parser: argparse.ArgumentParser) -> None:
    """`--manifest` (required): the corpus to read."""
    parser.add_argument(
        "--manifest",
        required=True,
        help="folder of audio, .tsv (fairseq), .jsonl, or saved dataset[:split]",
    )


def add_featurizer_flags(parser: argparse.ArgumentParser, *, with_kmeans: bool) -> None:
    """The featurizer flags, and with `with_kmeans` the k-means and unit-format flags."""
    from units.encoding import UNIT_FORMATS

    group = parser.add_argument_group("featurizer")
    add_dataclass_flags(group, FeaturizerOptions)
    if with_kmeans:
        group = parser.add_argument_group("k-means and units")
        add_dataclass_flags(group, QuantizerOptions, choices={"unit_format": UNIT_FORMATS})


def check_manifest(args: argparse.Namespace) -> None:
    """Raise ManifestError for an unusable --manifest now, before a model loads."""
    from units.corpus.manifests import manifest_kind

    manifest_kind(args.manifest)


def device(args: argparse.Namespace) -> Any:
    """--device, else cuda:LOCAL_RANK when CUDA is available, else None (the CPU)."""
    if args.device is not None:
        return args.device
    import torch

    if torch.cuda.is_available():
        return f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}"
    return None


def build_featurizer(args: argparse.Namespace) -> Any:
    """The featurizer named by --featurizer (or the one inside --extractor)."""
    options = config_from_args(FeaturizerOptions, args)
    if options.extractor is not None:
        return load_extractor(args).featurizer
    spec = options.featurizer
    if spec is None:
        raise UsageError(
            "one of --extractor or --featurizer must be given, but neither is; fix: add one"
        )
    if spec == "mfcc":
        from units.features.mfcc import MfccFeaturizer

        return MfccFeaturizer()
    folder = Path(spec)
    if (folder / "featurizer.json").is_file():
        from units.features.registry import load_featurizer

        return load_featurizer(folder, device=device(args))
    if (folder / "config.json").is_file():
        from units.features.ssl_featurizer import SSLFeaturizer

        return SSLFeaturizer.from_pretrained(
            folder, layer=options.layer, dtype=options.dtype, device=device(args)
        )
    raise UsageError(
        f'--featurizer must be "mfcc", a folder with featurizer.json or a transformers checkpoint, '
        f"but is {spec!r}; fix: check the path"
    )


def load_extractor(args: argparse.Namespace) -> Any:
    """The UnitExtractor saved in --extractor (which must come alone)."""
    from units.extractor import UnitExtractor

    if getattr(args, "featurizer", None) is not None or getattr(args, "kmeans", None) is not None:
        raise UsageError(
            "--extractor must be used alone, but --featurizer/--kmeans were given too; fix: pass "
            "either --extractor DIR or --featurizer … --kmeans DIR"
        )
    if not Path(args.extractor).is_dir():
        raise UsageError(
            f"--extractor must be an existing folder, but {args.extractor} is not; fix: check the path"
        )
    check = _check_compatible(args, args.extractor)
    try:
        return UnitExtractor.from_pretrained(args.extractor, device=device(args), check_compatible=check)
    except QuantizerMismatchError as error:
        raise QuantizerMismatchError(f"{error} (on the command line: --no-check-compatible)") from error


def _check_compatible(args: argparse.Namespace, what: str, *, forced: bool = False) -> bool:
    """--check-compatible (True unless --no-check-compatible or `forced`); warns when off."""
    check = getattr(args, "check_compatible", True) and not forced
    if not check:
        logger.warning(
            "%s: the k-means is not checked against the featurizer (--no-check-compatible): units "
            "from a k-means fit on other features are noise to a model trained on the right ones",
            what,
        )
    return check


def build_extractor(args: argparse.Namespace, *, check_compatible: bool = True) -> Any:
    """The UnitExtractor given by --extractor, or built from --featurizer and --kmeans."""
    if args.extractor is not None:
        return load_extractor(args)
    options = config_from_args(QuantizerOptions, args)
    if options.kmeans is None:
        raise UsageError(
            f"{getattr(args, 'units_command', 'this command')} needs --extractor DIR, or --featurizer and --kmeans DIR; "
            "fix: add --kmeans"
        )
    from units.extractor import UnitExtractor
    from units.kmeans.quantizer import KMeansQuantizer

    quantizer = KMeansQuantizer.from_pretrained(options.kmeans)
    check = _check_compatible(args, options.kmeans, forced=not check_compatible)
    try:
        return UnitExtractor(
            build_featurizer(args),
            quantizer,
            dedup=options.dedup,
            unit_format=options.unit_format,
            check_compatible=check,
        )
    except QuantizerMismatchError as error:
        raise QuantizerMismatchError(f"{error} (on the command line: --no-check-compatible)") from error
