"""`spire units …`: corpus-scale unit extraction from the command line.

    spire units sample-features --manifest corpus/ --featurizer mfcc --out feats.npy --max-hours 100
    spire units fit-kmeans --features feats.npy --k 5000 --out kmeans/
    spire units label --manifest corpus.jsonl --featurizer mfcc --kmeans kmeans/ --out units/
    spire units fit-vtln --manifest corpus.jsonl --out mfcc_vtln/   # then --featurizer mfcc_vtln/

`--featurizer` is "mfcc", a folder with a featurizer.json, or a transformers checkpoint folder
(with `--layer`); `--extractor DIR` loads a saved UnitExtractor instead. User errors raise
`UnitsError` subclasses, which `spire` turns into exit code 2. Heavy libraries load inside the
commands, so `spire --help` stays instant.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from units.errors import UnitsError


class UsageError(UnitsError):
    """Command-line options that do not fit together."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the `spire units` sub-subcommands (sample-features, fit-kmeans, label, ...) to `parser`."""
    sub = parser.add_subparsers(dest="units_command", metavar="COMMAND", required=True)

    sample = sub.add_parser(
        "sample-features", help="a random sample of frames for k-means training"
    )
    _manifest_args(sample)
    _featurizer_args(sample, with_kmeans=False)
    sample.add_argument("--out", required=True, help="output .npy (a .json sidecar goes beside it)")
    sample.add_argument("--max-frames", type=int, default=500_000, help="most frames kept")
    sample.add_argument(
        "--max-hours", type=float, default=None, help="keep the frames of at most N hours"
    )
    sample.add_argument(
        "--utterance-fraction", type=float, default=1.0, help="featurize this share of utterances"
    )
    sample.add_argument("--seed", type=int, default=0)
    sample.add_argument("--batch-seconds", type=float, default=160.0)

    fit = sub.add_parser("fit-kmeans", help="fit and save the k-means quantizer; report its fit")
    fit.add_argument("--features", required=True, help=".npy written by sample-features")
    fit.add_argument("--k", type=int, default=5000, help="clusters (SPIRE: 5000)")
    fit.add_argument(
        "--out", required=True, help="output folder (kmeans.json, centroids, fit_report.json)"
    )
    fit.add_argument("--niter", type=int, default=25)
    fit.add_argument("--seed", type=int, default=0)
    fit.add_argument("--init", choices=("kmeans++", "random"), default="kmeans++")
    fit.add_argument("--heldout", type=float, default=0.05, help="fraction of frames held out")
    fit.add_argument("--max-points-per-centroid", type=int, default=256)
    fit.add_argument("--gpu", action=argparse.BooleanOptionalAction, default=None)

    vtln = sub.add_parser(
        "fit-vtln",
        help="an MFCC featurizer with one frequency warp per utterance (VTLN), fit on a corpus",
    )
    _manifest_args(vtln)
    vtln.add_argument("--out", required=True, help="output folder (featurizer.json + codebook)")
    vtln.add_argument("--cmvn", choices=("none", "mean", "meanvar"), default="meanvar")
    vtln.add_argument("--stack", type=int, default=1, help="MFCC frames joined into one unit frame")
    vtln.add_argument(
        "--max-frames", type=int, default=100_000, help="frames that fit the codebook"
    )
    vtln.add_argument("--codebook-size", type=int, default=256)
    vtln.add_argument("--iterations", type=int, default=2)
    vtln.add_argument("--seed", type=int, default=0)

    imported = sub.add_parser(
        "import-kmeans",
        help="convert a joblib-pickled scikit-learn k-means (e.g. SPIRE's release) once into our format",
    )
    imported.add_argument("--sklearn", required=True, help="the .pkl/.joblib file")
    imported.add_argument("--out", required=True, help="output folder (kmeans.json, centroids)")
    imported.add_argument(
        "--trust-pickle",
        action="store_true",
        help="required: unpickling runs code from the file; pass it only for files you trust",
    )
    _featurizer_args(imported, with_kmeans=False)

    make = sub.add_parser(
        "make-extractor", help="save featurizer + k-means as one UnitExtractor folder"
    )
    _featurizer_args(make, with_kmeans=True)
    make.add_argument(
        "--out", required=True, help="output folder (extractor.json, featurizer, kmeans/)"
    )
    make.add_argument(
        "--force",
        action="store_true",
        help="skip the featurizer/k-means provenance check (a k-means fit on other features)",
    )

    label = sub.add_parser("label", help="corpus -> unit sequences, sharded and resumable")
    _manifest_args(label)
    _featurizer_args(label, with_kmeans=True)
    label.add_argument("--out", required=True, help="output folder")
    label.add_argument("--format", choices=("jsonl", "jsonl.gz", "arrow"), default="jsonl.gz")
    label.add_argument(
        "--num-shards", type=int, default=None, help="default: WORLD_SIZE under torchrun, else 1"
    )
    label.add_argument(
        "--shard-index", type=int, default=None, help="default: RANK under torchrun, else all"
    )
    label.add_argument(
        "--batch-seconds", type=float, default=160.0, help="audio seconds per model call"
    )
    label.add_argument("--part-size", type=int, default=64, help="items per resumable part")
    label.add_argument("--load-workers", type=int, default=4, help="audio decoding threads")


def _manifest_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--manifest",
        required=True,
        help="folder of audio, .tsv (fairseq), .jsonl, or saved dataset[:split]",
    )
    parser.add_argument("--split", default=None, help="split of a saved DatasetDict")
    parser.add_argument("--audio-column", default=None, help="audio column of a saved dataset")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _featurizer_args(parser: argparse.ArgumentParser, *, with_kmeans: bool) -> None:
    parser.add_argument("--extractor", default=None, help="folder of a saved UnitExtractor")
    parser.add_argument(
        "--featurizer",
        default=None,
        help='"mfcc", a featurizer.json folder, or a transformers checkpoint',
    )
    parser.add_argument(
        "--layer", type=int, default=22, help="encoder layer of a checkpoint (SPIRE: 22)"
    )
    parser.add_argument("--dtype", choices=("float32", "bfloat16"), default="float32")
    parser.add_argument(
        "--device", default=None, help="torch device (default: cuda:LOCAL_RANK when available)"
    )
    if with_kmeans:
        parser.add_argument("--kmeans", default=None, help="folder of a saved KMeansQuantizer")
        parser.add_argument("--no-dedup", action="store_true", help="keep repeated units")
        parser.add_argument("--unit-format", choices=("pua", "extra_id"), default="pua")


def run(args: argparse.Namespace) -> int:
    """Run the chosen `spire units` command; returns the exit code."""
    commands = {
        "sample-features": _sample,
        "fit-kmeans": _fit,
        "import-kmeans": _import_kmeans,
        "make-extractor": _make_extractor,
        "label": _label,
        "fit-vtln": _fit_vtln,
    }
    return commands[args.units_command](args)


def _device(args: argparse.Namespace) -> Any:
    if args.device is not None:
        return args.device
    import torch

    if torch.cuda.is_available():
        return f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}"
    return None


def build_featurizer(args: argparse.Namespace) -> Any:
    """The featurizer named by --featurizer (or the one inside --extractor)."""
    if args.extractor is not None:
        return _load_extractor(args).featurizer
    spec = args.featurizer
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

        return load_featurizer(folder, device=_device(args))
    if (folder / "config.json").is_file():
        from units.features.ssl_featurizer import SSLFeaturizer

        return SSLFeaturizer.from_pretrained(
            folder, layer=args.layer, dtype=args.dtype, device=_device(args)
        )
    raise UsageError(
        f'--featurizer must be "mfcc", a folder with featurizer.json or a transformers checkpoint, '
        f"but is {spec!r}; fix: check the path"
    )


def _load_extractor(args: argparse.Namespace) -> Any:
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
    return UnitExtractor.from_pretrained(args.extractor, device=_device(args))


def build_extractor(args: argparse.Namespace) -> Any:
    """The UnitExtractor given by --extractor, or built from --featurizer and --kmeans."""
    if args.extractor is not None:
        return _load_extractor(args)
    if args.kmeans is None:
        raise UsageError(
            "label needs --extractor DIR, or --featurizer and --kmeans DIR; fix: add --kmeans"
        )
    from units.extractor import UnitExtractor
    from units.kmeans.quantizer import KMeansQuantizer

    quantizer = KMeansQuantizer.from_pretrained(args.kmeans)
    return UnitExtractor(
        build_featurizer(args), quantizer, dedup=not args.no_dedup, unit_format=args.unit_format
    )


def _check_manifest(args: argparse.Namespace) -> None:
    from units.corpus.manifests import manifest_kind

    manifest_kind(args.manifest)  # raises ManifestError early, before a model loads


def _sample(args: argparse.Namespace) -> int:
    from units.corpus.sampling import SampleConfig, sample_features, save_sample

    _check_manifest(args)
    featurizer = build_featurizer(args)
    config = SampleConfig(
        max_frames=args.max_frames,
        max_hours=args.max_hours,
        seed=args.seed,
        utterance_fraction=args.utterance_fraction,
        batch_seconds=args.batch_seconds,
        progress=not args.no_progress,
        split=args.split,
        audio_column=args.audio_column,
    )
    features, info = sample_features(args.manifest, featurizer, config=config)
    path = save_sample(args.out, features, info)
    print(
        f"sampled {info['frames_sampled']} of {info['frames_seen']} frames ({info['dim']}-dim) from "
        f"{info['utterances_used']} utterances, {info['audio_hours_used']:.4f} h; rejected "
        f"{info['rejected']}; wrote {path}"
    )
    return 0


def _fit(args: argparse.Namespace) -> int:
    from units.corpus.sampling import load_sample
    from units.files import write_json
    from units.kmeans.report import FitConfig, describe_report, fit_with_report

    features, info = load_sample(args.features)
    config = FitConfig(
        k=args.k,
        niter=args.niter,
        seed=args.seed,
        init=args.init,
        heldout_fraction=args.heldout,
        max_points_per_centroid=args.max_points_per_centroid,
        gpu=args.gpu,
    )
    quantizer, report = fit_with_report(features, config, provenance=info.get("featurizer"))
    out = Path(args.out)
    quantizer.save_pretrained(out)
    write_json(out / "fit_report.json", {**report, "features": str(args.features)})
    print(describe_report(report))
    print(f"wrote {out}")
    return 0


def _label(args: argparse.Namespace) -> int:
    from units.corpus.labelling import LabelConfig, label_corpus, print_summary

    _check_manifest(args)
    extractor = build_extractor(args)
    config = LabelConfig(
        format=args.format,
        num_shards=args.num_shards,
        shard_index=args.shard_index,
        part_size=args.part_size,
        batch_seconds=args.batch_seconds,
        load_workers=args.load_workers,
        progress=not args.no_progress,
        split=args.split,
        audio_column=args.audio_column,
    )
    summary = label_corpus(args.manifest, extractor, args.out, config=config)
    print_summary(summary, file=sys.stdout)
    if summary.complete:
        from units.files import read_json

        total = read_json(Path(args.out) / "summary.json")
        print(
            f"all {summary.num_shards} shards done: ok {total['ok']} + rejected {total['rejected']} "
            f"= total {total['total']}; {total['audio_hours']:.4f} h; see {Path(args.out) / 'summary.json'}"
        )
    return 0


def _import_kmeans(args: argparse.Namespace) -> int:
    from units.kmeans.quantizer import KMeansQuantizer

    if not Path(args.sklearn).is_file():
        raise UsageError(
            f"--sklearn must be an existing file, but {args.sklearn} is not; fix: check the path"
        )
    # Provenance ties the k-means to its features, so the extractor can refuse a mismatch later.
    provenance = (
        build_featurizer(args).provenance() if (args.featurizer or args.extractor) else None
    )
    quantizer = KMeansQuantizer.from_sklearn(
        args.sklearn, trust=args.trust_pickle, provenance=provenance
    )
    quantizer.save_pretrained(args.out)
    out = args.out
    note = "" if provenance else " (no --featurizer given: provenance not recorded)"
    print(f"imported k={quantizer.k} dim={quantizer.dim} from {args.sklearn} -> {out}{note}")
    return 0


def _make_extractor(args: argparse.Namespace) -> int:
    from units.extractor import UnitExtractor
    from units.kmeans.quantizer import KMeansQuantizer

    if args.extractor is not None or args.kmeans is None or args.featurizer is None:
        raise UsageError(
            "make-extractor needs --featurizer and --kmeans DIR (not --extractor); fix: pass both"
        )
    quantizer = KMeansQuantizer.from_pretrained(args.kmeans)
    extractor = UnitExtractor(
        build_featurizer(args),
        quantizer,
        dedup=not args.no_dedup,
        unit_format=args.unit_format,
        check_compatible=not args.force,
    )
    out = extractor.save_pretrained(args.out)
    print(f"saved extractor ({quantizer.k} units, {args.unit_format}) -> {out}")
    return 0


def _fit_vtln(args: argparse.Namespace) -> int:
    from units.audio import load_audio
    from units.corpus.manifests import read_manifest
    from units.errors import AudioError
    from units.features.mfcc import MfccFeaturizer
    from units.features.vtln_fit import fit_vtln

    _check_manifest(args)
    skipped: list[str] = []

    def waves() -> Any:
        items = read_manifest(args.manifest, split=args.split, audio_column=args.audio_column)
        for item in items:
            try:
                yield load_audio(item.source, name=item.id)
            except AudioError as e:
                skipped.append(f"{item.id}: {e}")

    report: dict[str, Any] = {}
    base = MfccFeaturizer(cmvn=args.cmvn, stack=args.stack)
    featurizer = fit_vtln(
        base,
        waves(),
        max_frames=args.max_frames,
        codebook_size=args.codebook_size,
        iterations=args.iterations,
        seed=args.seed,
        report=report,
    )
    featurizer.save_pretrained(args.out)
    warps = report["warps"]
    print(
        f"fit VTLN on {len(warps)} utterances (skipped {len(skipped)} unreadable); warps "
        f"{min(warps):.2f}-{max(warps):.2f}, mean {sum(warps) / len(warps):.3f}; wrote {args.out} "
        f"(use it as --featurizer {args.out})"
    )
    for line in skipped[:10]:
        print(f"  skipped {line}")
    return 0
