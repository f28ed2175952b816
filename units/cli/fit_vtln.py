"""`spire units fit-vtln`: an MFCC featurizer with one frequency warp per utterance (VTLN).

    spire units fit-vtln --manifest train.jsonl --stack 2 --out mfcc_vtln/
    spire units sample-features --manifest train.jsonl --featurizer mfcc_vtln/ --out feats.npy

The output folder is a `--featurizer` for the other commands (`units.fit_vtln` in Python).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from units.cli.flags import add_dataclass_flags
from units.cli.options import add_manifest_flag, check_manifest

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True, kw_only=True)
class VtlnOptions:
    """The settings of `spire units fit-vtln` (the fit's defaults are `fit_vtln`'s, tested)."""

    cmvn: Literal["none", "mean", "meanvar"] = "meanvar"
    """Per-utterance normalisation of the MFCCs: none, mean, or mean and variance."""
    stack: int = 1
    """MFCC frames joined into one unit frame (2 halves the frame rate)."""
    max_frames: int = 100_000
    """Frames read to fit the codebook (the rest of the corpus is not needed)."""
    codebook_size: int = 256
    """Clusters of the codebook that scores each warp."""
    iterations: int = 2
    """Rounds of (fit the codebook, choose each utterance's warp)."""
    seed: int = 0
    """Seed of the codebook's k-means."""
    progress: bool = True
    """Show a progress bar (utterances read) on stderr."""
    split: str | None = None
    """Split of a saved DatasetDict manifest."""
    audio_column: str | None = None
    """Audio column of a saved dataset manifest."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_manifest_flag(parser)
    parser.add_argument("--out", required=True, help="output folder (featurizer.json + codebook)")
    add_dataclass_flags(parser.add_argument_group("VTLN"), VtlnOptions)


def run(args: argparse.Namespace) -> int:
    from units.audio import load_audio
    from units.corpus.manifests import read_manifest
    from units.errors import AudioError
    from units.features.mfcc import MfccFeaturizer
    from units.features.vtln_fit import fit_vtln
    from units.progress import CorpusProgress

    check_manifest(args)
    skipped: list[str] = []
    base = MfccFeaturizer(cmvn=args.cmvn, stack=args.stack)
    bar = CorpusProgress(total=None, desc="fit-vtln", enabled=args.progress)

    def waves() -> Iterator[np.ndarray]:
        items = read_manifest(args.manifest, split=args.split, audio_column=args.audio_column)
        for item in items:
            try:
                wave = load_audio(item.source, name=item.id)
            except AudioError as e:
                skipped.append(f"{item.id}: {e}")
                bar.update(files=1)
                continue
            bar.update(files=1, audio_s=len(wave) / base.sample_rate)
            yield wave

    report: dict[str, list[float]] = {}
    try:
        featurizer = fit_vtln(
            base,
            waves(),
            max_frames=args.max_frames,
            codebook_size=args.codebook_size,
            iterations=args.iterations,
            seed=args.seed,
            report=report,
        )
    finally:
        bar.close()
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
