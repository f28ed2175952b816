"""`spire mini`: building blocks of the offline miniature.

    spire mini corpus --out data/mini --train 4000 --dev 200 --test 200 --seed 0

Heavy libraries (datasets) are imported inside the command so `spire --help` stays instant.
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the `corpus` sub-subcommand to the `spire mini` parser."""
    sub = parser.add_subparsers(dest="mini_command", metavar="COMMAND", required=True)
    corpus = sub.add_parser("corpus", help="synthesize the English speech / en-de-fr text corpus with espeak-ng",
                            description="Synthesize the parallel speech corpus (espeak-ng, offline).")
    corpus.add_argument("--out", required=True, help="output folder (dataset/, {split}.jsonl, audio/)")
    corpus.add_argument("--train", type=int, default=4000, help="training utterances")
    corpus.add_argument("--dev", type=int, default=200, help="development utterances")
    corpus.add_argument("--test", type=int, default=200, help="test utterances")
    corpus.add_argument("--test-accents", type=int, default=0,
                        help="utterances of the test_accents split (English accents no other split uses)")
    corpus.add_argument("--seed", type=int, default=0, help="seed of sentences, speakers and held-out pairs")
    corpus.add_argument("--workers", type=int, default=None, help="synthesis processes (default: up to 2)")
    corpus.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True, help="show the progress bar")


def run(args: argparse.Namespace) -> int:
    """Run the chosen `spire mini` command; returns the exit code."""
    if args.mini_command == "corpus":
        import time

        from spire.mini.corpus import build_corpus

        start = time.perf_counter()
        corpus = build_corpus(args.out, args.train, args.dev, args.test, args.seed,
                              num_workers=args.workers, progress=args.progress, n_test_accents=args.test_accents)
        wall_s = time.perf_counter() - start
        audio_s = sum(sum(corpus[split]["duration_s"]) for split in corpus)
        sizes = ", ".join(f"{split} {len(corpus[split])}" for split in corpus)
        print(f"wrote {args.out}: {sizes}; {audio_s / 3600:.2f} h of audio in {wall_s:.1f} s "
              f"({audio_s / wall_s:.0f}x real time)")
        return 0
    return 2
