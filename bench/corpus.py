"""python bench/corpus.py --utterances 400 --workers 2

Speed of the synthetic corpus: audio seconds produced per wall-clock second by `build_corpus`
(espeak-ng synthesis, resampling to 16 kHz, FLAC encoding, dataset and manifest writing), next
to the speed of the per-utterance work (synthesize + FLAC) in this process, per wall second and
per CPU second of one core. On a shared machine the wall-clock ratio falls with the load
average (printed); audio per CPU second does not. The target is >= 200x real time on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time

from spire.mini.corpus import _encode_flac, build_corpus
from spire.mini.grammar import realize
from spire.mini.grammar_sampler import sample_sentence
from spire.mini.tts import SAMPLE_RATE, synthesize


def bare_synthesis(n: int, seed: int = 0) -> tuple[float, float, float]:
    """Audio seconds, wall seconds and CPU seconds of synthesize + FLAC for `n` sentences."""
    rng = random.Random(seed)
    texts = [realize(sample_sentence(rng)).en for _ in range(n)]
    synthesize("warm up")
    start, cpu_start = time.perf_counter(), time.process_time()
    samples = sum(_encode_flac(synthesize(text))[1] for text in texts)
    return samples / SAMPLE_RATE, time.perf_counter() - start, time.process_time() - cpu_start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--utterances", type=int, default=400)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    audio_s, wall_s, cpu_s = bare_synthesis(min(args.utterances, 200))
    print(f"synthesize + FLAC, 1 process:  {audio_s:8.1f} audio s in {wall_s:6.2f} s wall = {audio_s / wall_s:5.0f}x"
          f" real time; per CPU second {audio_s / cpu_s:5.0f}x")
    n_test = max(2, args.utterances // 10)
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        corpus = build_corpus(out, args.utterances - 2 * n_test, n_test, n_test, seed=0, num_workers=args.workers)
        wall_s = time.perf_counter() - start
    audio_s = sum(sum(corpus[split]["duration_s"]) for split in corpus)
    print(f"build_corpus, {args.workers} workers, end to end: {audio_s:8.1f} audio s in {wall_s:6.2f} s wall = "
          f"{audio_s / wall_s:5.0f}x real time")
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
